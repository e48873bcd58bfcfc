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
    /// Canonical form of `link` (see [`crate::dedup::canonical`]).
    pub canonical_url: Option<String>,
    /// Publication time; clamped to the fetch time when it lies in the future.
    pub published: Option<DateTime<Utc>>,
    /// Last update time given by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// Plain-text summary (whole text, not yet cut to digest length).
    pub summary: String,
    /// The content HTML exactly as the feed gave it (sanitised only when rendered).
    pub content_html: Option<String>,
    /// Fingerprint of the normalised title and text, when there is enough text to be
    /// meaningful (see [`crate::dedup::text_fingerprint`]).
    pub text_fingerprint: Option<String>,
    /// Hash over every stored field, used to tell an edited entry from an unchanged one.
    pub content_hash: String,
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
}
