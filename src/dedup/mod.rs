//! Story identity: the keys under which an entry is matched to an existing story.
//!
//! Two levels. Exact keys ([`KeyKind`]): the canonical URL and a fingerprint of the
//! normalised title and text. Near-duplicates ([`minhash`]): LSH band keys over word
//! shingles, verified exactly before any merge. The store persists both and does the
//! lookups; everything here is pure: no IO, no SQL.

pub mod canonical;
pub mod minhash;
pub mod text;

use std::time::Duration;

pub use text::normalize_for_matching;

/// The kind of a story key, as stored in `story_keys.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Canonical URL of the entry's link.
    Url,
    /// Fingerprint of normalised title + text.
    Text,
}

impl KeyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Url => "url",
            KeyKind::Text => "text",
        }
    }
}

/// Entries with fewer normalised words than this get no text fingerprint: short items
/// ("Live updates", "Photos of the day") collide across unrelated stories.
const MIN_FINGERPRINT_WORDS: usize = 12;

/// Fingerprint of the normalised title and text (boilerplate dropped), or `None` when
/// there are too few words for the fingerprint to identify a story.
pub fn text_fingerprint(title: &str, text: &str) -> Option<String> {
    fingerprint_of(&text::tokens(title), &text::tokens(text))
}

fn fingerprint_of(title: &[String], text: &[String]) -> Option<String> {
    if title.len() + text.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    let mut h = blake3::Hasher::new();
    h.update(title.join(" ").as_bytes());
    h.update(b"\n");
    h.update(text.join(" ").as_bytes());
    Some(h.finalize().to_hex()[..32].to_owned())
}

/// The shingle set of an entry's title and text, for near-duplicate matching.
pub fn entry_shingles(title: &str, text: &str) -> Vec<u64> {
    let mut tokens = text::tokens(title);
    tokens.extend(text::tokens(text));
    minhash::shingles(&tokens)
}

/// The LSH band keys of an entry's title and text (empty when the text is too short).
pub fn entry_bands(title: &str, text: &str) -> Vec<i64> {
    minhash::signature(&entry_shingles(title, text))
        .map(|s| minhash::band_keys(&s))
        .unwrap_or_default()
}

/// [`text_fingerprint`] and [`entry_shingles`] together, normalising the text once.
pub fn text_keys(title: &str, text: &str) -> (Option<String>, Vec<u64>) {
    let mut tokens = text::tokens(title);
    let body = text::tokens(text);
    let fingerprint = fingerprint_of(&tokens, &body);
    tokens.extend(body);
    (fingerprint, minhash::shingles(&tokens))
}

/// Which entry represents a story (its title and link in digests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representative {
    /// The earliest report by publication time (default).
    Earliest,
    /// The report from the source listed first in the config; earliest among equals.
    ConfigOrder,
}

/// How entries are matched to stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchPolicy {
    /// Only stories first seen within this window before the entry are near-duplicate
    /// candidates (exact keys match at any age).
    pub window: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_is_fingerprint_and_shingles_at_once() {
        let title = "Russia Wants Taliban To Participate In SCO Meetings";
        let text = "By Staff | Russia wants the Taliban to take part in meetings of the \
                    Shanghai Cooperation Organisation, a group of exiles said. Read more";
        assert_eq!(
            text_keys(title, text),
            (text_fingerprint(title, text), entry_shingles(title, text))
        );
        assert!(text_keys(title, text).0.is_some());
    }

    #[test]
    fn fingerprint_matches_copies_and_skips_short_text() {
        let body = "Sergei Shoigu met the Taliban's deputy prime minister in Kabul on Monday and discussed the SCO.";
        let a = text_fingerprint("Russia Wants Taliban To Participate In SCO Meetings", body);
        let b = text_fingerprint(
            "russia wants taliban to participate in sco meetings",
            &body.replace('\'', "\u{2019}"),
        );
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(
            a,
            text_fingerprint("Russia Wants Taliban To Join ECO Meetings", body)
        );
        assert_eq!(text_fingerprint("Live updates", ""), None);
        assert_eq!(
            text_fingerprint(
                "Russia Wants Taliban To Participate In SCO Meetings",
                &format!("{body} More News")
            ),
            a,
            "boilerplate does not change the fingerprint"
        );
    }
}
