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
    text_keys(title, text).0
}

/// BLAKE3 of the title's words joined by spaces, a newline, and the text's words.
fn fingerprint_of(title: &[&str], text: &[&str]) -> Option<String> {
    if title.len() + text.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    // Hashed in one call: fed word by word, BLAKE3 spent more time per call than on the
    // bytes (the bytes, and so the fingerprint, are the same either way).
    let len: usize = title.iter().chain(text).map(|w| w.len() + 1).sum();
    let mut joined = Vec::with_capacity(len + 1);
    push_joined(&mut joined, title);
    joined.push(b'\n');
    push_joined(&mut joined, text);
    Some(blake3::hash(&joined).to_hex()[..32].to_owned())
}

/// Appends `words` joined by single spaces.
fn push_joined(out: &mut Vec<u8>, words: &[&str]) {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w.as_bytes());
    }
}

/// The shingle set of an entry's title and text, for near-duplicate matching.
pub fn entry_shingles(title: &str, text: &str) -> Vec<u64> {
    let (title, text) = (text::Normalized::new(title), text::Normalized::new(text));
    let mut words = title.words();
    words.extend(text.words());
    minhash::shingles(&words)
}

/// The LSH band keys of an entry's title and text (empty when the text is too short).
pub fn entry_bands(title: &str, text: &str) -> Vec<i64> {
    minhash::signature(&entry_shingles(title, text))
        .map(|s| minhash::band_keys(&s))
        .unwrap_or_default()
}

/// [`text_fingerprint`] and [`entry_shingles`] together, normalising the text once.
pub fn text_keys(title: &str, text: &str) -> (Option<String>, Vec<u64>) {
    let (title, text) = (text::Normalized::new(title), text::Normalized::new(text));
    let mut words = title.words();
    let body = text.words();
    let fingerprint = fingerprint_of(&words, &body);
    words.extend(body);
    (fingerprint, minhash::shingles(&words))
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

#[cfg(test)]
mod pinned {
    use super::*;

    /// Stored keys (fingerprints, band keys) must never change between releases: a
    /// change would stop matching against stories stored before it.
    #[test]
    fn keys_of_a_known_text_never_change() {
        let title = "Russia Wants Taliban To Participate In SCO Meetings, Claims Group";
        let text = "By Staff | The Taliban on Monday claimed that Sergei Shoigu, secretary of \
                    the Russian Security Council, wants Afghanistan to return as an observer \
                    member of the Shanghai Cooperation Organisation. Read more";
        let (fingerprint, shingles) = text_keys(title, text);
        let bands = minhash::band_keys(&minhash::signature(&shingles).unwrap());
        assert_eq!(
            fingerprint.as_deref(),
            Some("7072e64f4597d2087d5602896621710e")
        );
        assert_eq!(shingles.len(), 37);
        assert_eq!(
            shingles[..3],
            [290691817523772697, 569805720263898781, 655353917760688842]
        );
        assert_eq!(bands[..4], [1473256303, 1015464927, 1179239196, 2063383256]);
        assert_eq!(shingles, entry_shingles(title, text));
    }
}
