//! Text normalisation for matching, for Latin, Cyrillic and Perso-Arabic scripts.
//!
//! NFKC, case folding, quote and dash folding, Arabic-script letter variants (ي/ی, ك/ک,
//! ى, hamza seats), ZWNJ, tatweel and diacritics, Persian/Arabic digits, Cyrillic ё/е;
//! then boilerplate ("More News", "Read more", bylines, "Читайте также", "بیشتر بخوانید")
//! is dropped and the text split into word tokens. Pure: no IO.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Boilerplate phrases (already normalised) that feeds append or prepend to articles.
/// Removed wherever they end the text, and as leading labels.
const TAIL_BOILERPLATE: &[&str] = &[
    "more news",
    "read more",
    "read the full story",
    "read the full article",
    "continue reading",
    "related news",
    "related articles",
    "share this article",
    "follow us on telegram",
    "follow us on twitter",
    "the post appeared first on",
    "читайте также",
    "читать далее",
    "подписывайтесь на наш канал",
    "подписывайтесь на наш telegram канал",
    "новости по теме",
    "بیشتر بخوانید",
    "اخبار بیشتر",
    "ادامه مطلب",
    "اخبار مرتبط",
    "ما را در تلگرام دنبال کنید",
];

/// Folds one character; `None` drops it.
fn fold_char(ch: char) -> Option<char> {
    Some(match ch {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        'ё' => 'е',
        // Arabic-script letter variants: Arabic yeh/kaf/alef maksura → Persian forms.
        'ي' | 'ى' | 'ئ' => 'ی',
        'ك' => 'ک',
        'أ' | 'إ' | 'ٱ' | 'آ' => 'ا',
        'ؤ' => 'و',
        'ۀ' | 'ة' => 'ه',
        // Persian and Arabic-Indic digits → ASCII.
        '۰'..='۹' => char::from_u32(ch as u32 - '۰' as u32 + '0' as u32).unwrap_or(ch),
        '٠'..='٩' => char::from_u32(ch as u32 - '٠' as u32 + '0' as u32).unwrap_or(ch),
        // ZWNJ separates parts of one Persian word; writers use it, a space or nothing.
        '\u{200C}' => ' ',
        // Tatweel, other zero-width marks, Arabic diacritics (harakat, superscript alef).
        '\u{0640}'
        | '\u{200B}'
        | '\u{200D}'
        | '\u{FEFF}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}' => return None,
        _ => ch,
    })
}

/// Normalises text for matching: NFKC, case folded, variants folded, every run of
/// characters that are not letters or digits collapsed to one space.
pub fn normalize_for_matching(text: &str) -> String {
    normalize_words(text, &mut Vec::new())
}

/// [`normalize_for_matching`], pushing onto `starts` the byte offset where each word
/// of the result starts (a word ends at the space before the next one, or at the end).
fn normalize_words(text: &str, starts: &mut Vec<usize>) -> String {
    if text.is_ascii() {
        // ASCII is already NFKC, lower-cases by byte, and folds to itself (the only
        // ASCII character `fold_char` maps, '`', is a separator either way).
        // One table lookup a byte: its lower-case letter or digit, or a space for a
        // separator.
        const MAPPED: [u8; 128] = {
            let mut table = [b' '; 128];
            let mut b = 0;
            while b < 128 {
                let c = b as u8;
                if c.is_ascii_alphanumeric() {
                    table[b] = c.to_ascii_lowercase();
                }
                b += 1;
            }
            table
        };
        // Without a branch on the byte: words and separators alternate every few
        // bytes, and a branch on which one a byte is was mispredicted at most word
        // boundaries. Every byte is written at `len`, which moves on after a letter or
        // digit and after the first separator following one, so that a run of
        // separators leaves one space, overwritten by the next word's first letter
        // when it was not the first. Where each word starts is written at
        // `starts[words]` every byte, and `words` counts on at a word's first letter.
        // Neither buffer is outgrown: at most a byte out per byte in, and a word per two.
        let text = text.as_bytes();
        let mut bytes = vec![0u8; text.len() + 1];
        starts.clear();
        starts.resize(text.len() / 2 + 2, 0);
        let (mut len, mut words) = (0, 0);
        let mut in_word = false;
        for &b in text {
            let m = MAPPED[usize::from(b & 0x7f)];
            let is_word = m != b' ';
            if let Some(slot) = bytes.get_mut(len) {
                *slot = m;
            }
            if let Some(slot) = starts.get_mut(words) {
                *slot = len;
            }
            words += usize::from(is_word & !in_word);
            len += usize::from(is_word | in_word);
            in_word = is_word;
        }
        // A separator kept after the last word.
        if !in_word && len > 0 {
            len -= 1;
        }
        bytes.truncate(len);
        starts.truncate(words);
        // ASCII in, ASCII out.
        return String::from_utf8(bytes).unwrap_or_default();
    }
    let mut out = String::with_capacity(text.len());
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        push_words(
            &mut out,
            starts,
            text.chars()
                .flat_map(char::to_lowercase)
                .filter_map(fold_char),
        );
    } else {
        push_words(
            &mut out,
            starts,
            text.nfkc()
                .flat_map(char::to_lowercase)
                .filter_map(fold_char),
        );
    }
    out
}

/// Appends the letter/digit runs of `chars` to `out`, one space between runs, and
/// where each run starts to `starts`.
fn push_words(out: &mut String, starts: &mut Vec<usize>, chars: impl Iterator<Item = char>) {
    let mut in_word = false;
    for ch in chars {
        if ch.is_alphanumeric() {
            if !in_word {
                if !out.is_empty() {
                    out.push(' ');
                }
                starts.push(out.len());
                in_word = true;
            }
            out.push(ch);
        } else {
            in_word = false;
        }
    }
}

/// Word tokens of `text` for matching, with boilerplate removed: a leading byline
/// ("By Jane Doe |") and trailing or leading boilerplate phrases.
pub fn tokens(text: &str) -> Vec<String> {
    Normalized::new(text)
        .words()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// [`TAIL_BOILERPLATE`], each phrase split into words once.
static BOILERPLATE_WORDS: std::sync::LazyLock<Vec<Vec<&'static str>>> =
    std::sync::LazyLock::new(|| {
        TAIL_BOILERPLATE
            .iter()
            .map(|p| p.split(' ').collect())
            .collect()
    });

/// A text normalised for matching; [`Normalized::words`] borrows its tokens from it, so
/// tokenising allocates one string per text rather than one per word.
#[derive(Debug, Clone)]
pub struct Normalized {
    text: String,
    /// Where each word of `text` starts (normalising finds them: no second pass).
    starts: Vec<usize>,
}

impl Normalized {
    /// Normalises `text` (byline dropped, see [`normalize_for_matching`]).
    pub fn new(text: &str) -> Normalized {
        let text = strip_byline(text);
        // About one word in six bytes of Latin text, fewer in others.
        let mut starts = Vec::with_capacity(text.len() / 6 + 1);
        let text = normalize_words(text, &mut starts);
        Normalized { text, starts }
    }

    /// The word tokens, boilerplate phrases removed from both ends (the same words as
    /// [`tokens`]).
    pub fn words(&self) -> Vec<&str> {
        // The text is words with one space between them (`normalize_words`), each
        // starting at its recorded offset.
        let mut words: Vec<&str> = Vec::with_capacity(self.starts.len());
        let mut starts = self.starts.iter().copied().peekable();
        while let Some(start) = starts.next() {
            let end = starts
                .peek()
                .map_or(self.text.len(), |&next| next.saturating_sub(1));
            words.extend(self.text.get(start..end));
        }
        loop {
            let before = words.len();
            for p in BOILERPLATE_WORDS.iter() {
                if words.ends_with(p) {
                    words.truncate(words.len() - p.len());
                }
                if words.starts_with(p) {
                    words.drain(..p.len());
                }
            }
            if words.len() == before {
                break;
            }
        }
        words
    }

    /// `words`, consecutive words of this text as [`Normalized::words`] gives them,
    /// joined by single spaces: borrowed from the text (they already are, there), or
    /// joined anew for any other words.
    pub fn joined<'a>(&'a self, words: &[&'a str]) -> std::borrow::Cow<'a, str> {
        let base = self.text.as_ptr() as usize;
        let borrowed = match (words.first(), words.last()) {
            (Some(first), Some(last)) => (first.as_ptr() as usize)
                .checked_sub(base)
                .and_then(|start| {
                    let end = (last.as_ptr() as usize).checked_sub(base)? + last.len();
                    self.text.get(start..end)
                })
                // Same first and last word, and as long as the words with one space
                // between each: the words are the whole span, in order, since words
                // hold no spaces and the text has no other separator.
                .filter(|span| span.len() + 1 == words.iter().map(|w| w.len() + 1).sum::<usize>()),
            _ => Some(""),
        };
        match borrowed {
            Some(span) => {
                debug_assert_eq!(span, words.join(" "), "words not a run of this text");
                std::borrow::Cow::Borrowed(span)
            }
            None => std::borrow::Cow::Owned(words.join(" ")),
        }
    }
}

/// Drops a byline at the very start: "By Jane Doe", "By Jane Doe |", "Jane Doe, Reuters —"
/// are too varied to list; only the unambiguous `By <Name> <Name>[ <Name>]` followed by a
/// separator or a line break is removed.
fn strip_byline(text: &str) -> &str {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix("By ") else {
        return text;
    };
    let mut names = 0;
    let mut offset = 3;
    for word in rest.split(' ') {
        let is_name = word.chars().next().is_some_and(char::is_uppercase)
            && word
                .chars()
                .skip(1)
                .all(|c| c.is_alphabetic() || c == '.' || c == '-' || c == '\'');
        if is_name && names < 3 {
            names += 1;
            offset += word.len() + 1;
            continue;
        }
        let separator = matches!(word, "|" | "-" | "–" | "—" | "/");
        if names >= 2 && separator {
            return &trimmed[(offset + word.len()).min(trimmed.len())..];
        }
        break;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general path (NFKC, lower-case, fold) for any text.
    fn slow(text: &str) -> String {
        let mut out = String::new();
        push_words(
            &mut out,
            &mut Vec::new(),
            text.nfkc()
                .flat_map(char::to_lowercase)
                .filter_map(fold_char),
        );
        out
    }

    #[test]
    fn fast_paths_match_the_general_path() {
        for text in [
            "Russia Wants Taliban To Participate In SCO Meetings, Claims Group",
            "  `quoted' -- dash_under\tTAB 42nd ",
            "Кремль: «Шойгу» встретился — в Кабуле",
            "روسیه می‌خواهد طالبان در نشست‌های سازمان شانگهای شرکت کند",
            "ﬁne ligature and full-width ＡＢＣ１２３",
            "ASCII only: it's 42 (\"quoted\") -- a_b\x0bc\x7f ~end~",
            "",
        ] {
            assert_eq!(normalize_for_matching(text), slow(text), "{text:?}");
        }
        // Every ASCII character, between, before and after words.
        for b in 0..0x80u8 {
            let c = char::from(b);
            for text in [format!("Ab{c}9z"), format!("{c}{c}Ab {c}"), format!("x{c}")] {
                assert_eq!(normalize_for_matching(&text), slow(&text), "{c:?}");
                let expected = slow(&text);
                let words: Vec<&str> = expected.split_whitespace().collect();
                assert_eq!(Normalized::new(&text).words(), words, "{c:?}");
            }
        }
        // Long random ASCII texts: runs of separators of every length, at the start,
        // between words and at the end; the words and where each starts.
        let mut rng = fastrand::Rng::with_seed(73);
        for _ in 0..2_000 {
            let text: String = (0..rng.usize(0..300))
                .map(|_| match rng.u8(..4) {
                    0 => char::from(rng.u8(..0x80)),
                    1 => ' ',
                    _ => rng.alphanumeric(),
                })
                .collect();
            let expected = slow(&text);
            let mut starts = Vec::new();
            assert_eq!(normalize_words(&text, &mut starts), expected, "{text:?}");
            let mut at = 0;
            let wanted: Vec<usize> = expected
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let start = at;
                    at += w.len() + 1;
                    start
                })
                .collect();
            assert_eq!(starts, wanted, "{text:?}");
        }
    }

    #[test]
    fn latin_quotes_dashes_case() {
        assert_eq!(
            normalize_for_matching(
                "The Taliban\u{2019}s  \u{201C}meaningful presence\u{201D} \u{2014} SCO"
            ),
            normalize_for_matching("the taliban's \"meaningful presence\" - sco")
        );
    }

    #[test]
    fn cyrillic_yo() {
        assert_eq!(normalize_for_matching("Ёлка  ЕЛКА, всё"), "елка елка все");
    }

    #[test]
    fn arabic_script_variants_fold_to_persian() {
        // Arabic yeh and kaf, tatweel, diacritics, ZWNJ, Persian digits.
        let arabic = "كابل، رييس‌جمهور ـــ مذاكرهٔ ۱۴۰۳";
        let persian = "کابل، رییس جمهور مذاکره 1403";
        assert_eq!(
            normalize_for_matching(arabic),
            normalize_for_matching(persian)
        );
        assert_eq!(normalize_for_matching("مُحَمَّد"), "محمد");
    }

    #[test]
    fn boilerplate_and_bylines_are_dropped() {
        assert_eq!(
            tokens("By Jane Doe | Kabul talks resume. Read more"),
            ["kabul", "talks", "resume"]
        );
        assert_eq!(
            tokens("Kabul talks resume.\n\nMore News"),
            ["kabul", "talks", "resume"]
        );
        assert_eq!(
            tokens("Переговоры возобновились. Читайте также"),
            ["переговоры", "возобновились"]
        );
        assert_eq!(
            tokens("گفتگوها از سر گرفته شد. بیشتر بخوانید"),
            ["گفتگوها", "از", "سر", "گرفته", "شد"]
        );
        assert_eq!(
            tokens("By Monday, talks resumed"),
            ["by", "monday", "talks", "resumed"],
            "not a byline"
        );
    }
}
