//! Story identity: the keys under which an entry is matched to an existing story.
//!
//! Level one (here): the canonical URL, and a fingerprint of the normalised title and
//! text. Both are exact keys stored in `story_keys`; a near-duplicate level plugs in as
//! further key kinds (LSH bands) with a verification step. Pure; no IO, no SQL.

pub mod canonical;

use unicode_normalization::UnicodeNormalization;

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

/// Normalises text for matching: NFKC, case folded, quotes and dashes folded, every run
/// of non-alphanumeric characters collapsed to one space.
pub fn normalize_for_matching(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.nfkc().flat_map(char::to_lowercase) {
        let ch = fold_char(ch);
        if ch.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(ch);
        } else {
            pending_space = true;
        }
    }
    out
}

/// Folds characters that vary between copies of the same text.
fn fold_char(ch: char) -> char {
    match ch {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        'ё' => 'е',
        _ => ch,
    }
}

/// Fingerprint of the normalised title and text, or `None` when there are too few words
/// for the fingerprint to identify a story.
pub fn text_fingerprint(title: &str, text: &str) -> Option<String> {
    let t = normalize_for_matching(title);
    let b = normalize_for_matching(text);
    let words = t
        .split(' ')
        .chain(b.split(' '))
        .filter(|w| !w.is_empty())
        .count();
    if words < MIN_FINGERPRINT_WORDS {
        return None;
    }
    let mut h = blake3::Hasher::new();
    h.update(t.as_bytes());
    h.update(b"\n");
    h.update(b.as_bytes());
    Some(h.finalize().to_hex()[..32].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_dashes_case_and_space_fold() {
        assert_eq!(
            normalize_for_matching(
                "The Taliban\u{2019}s  \u{201C}meaningful presence\u{201D} \u{2014} SCO"
            ),
            normalize_for_matching("the taliban's \"meaningful presence\" - sco")
        );
        assert_eq!(normalize_for_matching("Ёлка  ЕЛКА"), "елка елка");
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
    }
}
