//! Plain data shared by the pipeline stages. No IO, no async, no SQL.

use chrono::{DateTime, Utc};

/// One normalised item from one source's feed, ready to be stored.
///
/// Produced by [`crate::normalize`], consumed by [`crate::store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Stable identity of the entry within its source: the feed's guid/id, else the
    /// canonical link, else a hash of title and date.
    pub entry_key: String,
    /// Plain-text title (HTML stripped, whitespace collapsed).
    pub title: String,
    /// Absolute link to the article, if the feed gave one.
    pub link: Option<String>,
    /// Canonical form of `link` (see [`crate::dedup::canonical`]), a story key; `None`
    /// when entries of other titles in the feed share the link (a home page).
    pub canonical_url: Option<String>,
    /// Publication time; clamped to the fetch time when it lies in the future.
    pub published: Option<DateTime<Utc>>,
    /// Last update time given by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// Plain-text summary (whole text, not yet cut to digest length).
    pub summary: String,
    /// Fingerprint of the normalised title and text, when there is enough text to be
    /// meaningful (see [`crate::dedup::text_fingerprint`]).
    pub text_fingerprint: Option<String>,
    /// Hash over every stored field, used to tell an edited entry from an unchanged one.
    pub content_hash: String,
    /// Shingle hashes of title + text in text order, repeats kept (near-duplicate
    /// verification makes them a set, [`crate::dedup::minhash::into_set`], only for an
    /// entry that has candidates).
    pub shingles: Vec<u64>,
    /// Near-duplicate candidate keys: the LSH band keys of the shingles' MinHash
    /// signature, then the text's lead key when it has one
    /// ([`crate::dedup::candidate_keys`]); empty for very short text.
    pub bands: Vec<i64>,
}

/// Conditional-GET validators and bookkeeping kept per source between fetches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchState {
    /// `ETag` of the last 200 response.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 response.
    pub last_modified: Option<String>,
    /// Consecutive failed fetches (reset on success).
    pub consecutive_failures: u32,
    /// No request before this time (the server's `Retry-After`).
    pub retry_after_until: Option<DateTime<Utc>>,
    /// The configured URL a permanent redirect was seen from.
    pub moved_from: Option<String>,
    /// Where the permanent redirect pointed.
    pub moved_to: Option<String>,
    /// Consecutive fetches of `moved_from` that ended in the same permanent redirect.
    pub moved_seen: u32,
    /// The last body parsed and stored, when known: a 200 with the same body is not
    /// parsed again.
    pub parsed: Option<ParsedBody>,
}

/// What is kept of the last body parsed for a source (migrations 0013 and 0014).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBody {
    /// BLAKE3 of the body's bytes ([`ParsedBody::hash_of`]).
    pub hash: [u8; 32],
    /// The feed's `<ttl>` in minutes, which a fetch that skips the parse cannot read.
    pub ttl: Option<u32>,
    /// The fingerprints of its entries that gave items, sorted
    /// ([`crate::normalize::entry_fingerprint`]): the next parse does not normalise
    /// them again.
    pub entries: Vec<crate::normalize::EntryFingerprint>,
}

impl ParsedBody {
    /// The hash kept of `body`, with the version of normalising that stored its items
    /// ([`crate::normalize::FINGERPRINT_VERSION`]): a roundup that normalises
    /// differently parses the same body again.
    pub fn hash_of(body: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&[crate::normalize::FINGERPRINT_VERSION]);
        h.update(body);
        *h.finalize().as_bytes()
    }
}

/// Consecutive identical permanent redirects after which the new URL is fetched directly.
pub const MOVED_AFTER: u32 = 3;

impl FetchState {
    /// The URL to request for a source configured at `configured`: the permanent
    /// redirect target once it has been seen [`MOVED_AFTER`] times in a row, else the
    /// configured URL. Editing the configured URL discards the old redirect.
    pub fn effective_url(&self, configured: &url::Url) -> url::Url {
        let moved = self.moved_seen >= MOVED_AFTER
            && self.moved_from.as_deref() == Some(configured.as_str());
        moved
            .then(|| {
                self.moved_to
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
            })
            .flatten()
            .unwrap_or_else(|| configured.clone())
    }
}
