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
    with_words(title, text, |words, _| minhash::shingles(words))
}

/// Calls `f` with the normalised words of title then text (boilerplate dropped), and
/// where the text's words start: every key of an entry is made from these.
fn with_words<T>(title: &str, text: &str, f: impl FnOnce(&[&str], usize) -> T) -> T {
    let (title, text) = (text::Normalized::new(title), text::Normalized::new(text));
    let mut words = title.words();
    let body_start = words.len();
    words.extend(text.words());
    f(&words, body_start)
}

/// [`entry_shingles`] and [`Figures`] of an entry, normalising the text once (the
/// verification of a candidate needs both).
pub fn entry_shingles_and_figures(title: &str, text: &str) -> (Vec<u64>, Figures) {
    with_words(title, text, |words, _| {
        (minhash::shingles(words), Figures::of(words))
    })
}

/// The [`Figures`] of an entry's title and text.
pub fn entry_figures(title: &str, text: &str) -> Figures {
    with_words(title, text, |words, _| Figures::of(words))
}

/// The figures of a text in their places: each run of words of digits ("68 50" from
/// "68.50"; Persian and Arabic digits are folded to ASCII), with the two words before
/// and the two after it, hashed.
///
/// Wire copies, syndicated and trimmed versions of one report keep its figures where
/// they were: "12 killed", "68.50 afghanis", "26 November". Reports made from one
/// template do not: the daily exchange rates, "Taliban say 12 killed in Helmand clash"
/// and "… 9 killed in Kandahar clash". Their shingles can be as alike as a copy's,
/// so a near-duplicate whose figures conflict with the entry's ([`Figures::conflict`])
/// is not merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures(Vec<(u64, u64)>);

/// Number words (normalised: lower case, `ё` → `е`, Persian letters) and their value, so
/// that "two people" and "three people" are figures too, and "two" and "2" the same.
/// Persian نه ("nine", also "not") is left out.
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("eight", "8"),
    ("eighteen", "18"),
    ("eighty", "80"),
    ("eleven", "11"),
    ("fifteen", "15"),
    ("fifty", "50"),
    ("five", "5"),
    ("forty", "40"),
    ("four", "4"),
    ("fourteen", "14"),
    ("hundred", "100"),
    ("million", "1000000"),
    ("nine", "9"),
    ("nineteen", "19"),
    ("ninety", "90"),
    ("seven", "7"),
    ("seventeen", "17"),
    ("seventy", "70"),
    ("six", "6"),
    ("sixteen", "16"),
    ("sixty", "60"),
    ("ten", "10"),
    ("thirteen", "13"),
    ("thirty", "30"),
    ("thousand", "1000"),
    ("three", "3"),
    ("twelve", "12"),
    ("twenty", "20"),
    ("two", "2"),
    ("восемь", "8"),
    ("восьми", "8"),
    ("два", "2"),
    ("двадцати", "20"),
    ("двадцать", "20"),
    ("две", "2"),
    ("двенадцати", "12"),
    ("двенадцать", "12"),
    ("двое", "2"),
    ("двоих", "2"),
    ("двух", "2"),
    ("девяти", "9"),
    ("девять", "9"),
    ("десяти", "10"),
    ("десять", "10"),
    ("миллион", "1000000"),
    ("миллиона", "1000000"),
    ("миллионов", "1000000"),
    ("одиннадцать", "11"),
    ("пятеро", "5"),
    ("пяти", "5"),
    ("пять", "5"),
    ("пятьдесят", "50"),
    ("семи", "7"),
    ("семь", "7"),
    ("сорок", "40"),
    ("сто", "100"),
    ("трех", "3"),
    ("три", "3"),
    ("тридцать", "30"),
    ("трое", "3"),
    ("троих", "3"),
    ("тысяч", "1000"),
    ("тысяча", "1000"),
    ("тысячи", "1000"),
    ("четыре", "4"),
    ("четырех", "4"),
    ("шести", "6"),
    ("шесть", "6"),
    ("بیست", "20"),
    ("ده", "10"),
    ("دو", "2"),
    ("دوازده", "12"),
    ("سه", "3"),
    ("شش", "6"),
    ("صد", "100"),
    ("میلیون", "1000000"),
    ("هزار", "1000"),
    ("هشت", "8"),
    ("هفت", "7"),
    ("پنج", "5"),
    ("چهار", "4"),
    ("یازده", "11"),
];

/// The value of a figure word: a run of ASCII digits (Persian and Arabic digits are
/// folded before), or a number word of [`NUMBER_WORDS`].
fn figure_value(word: &str) -> Option<&str> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return Some(word);
    }
    // Every word of every text comes here: a bit test rules out nearly all of them
    // before the search (the search alone was 15 % of the cold cycle's CPU).
    let bit = sieve_bit(word);
    if NUMBER_SIEVE[bit / 64] & (1 << (bit % 64)) == 0 {
        return None;
    }
    NUMBER_WORDS
        .binary_search_by(|(w, _)| (*w).cmp(word))
        .ok()
        .map(|i| NUMBER_WORDS[i].1)
}

/// A bit of [`NUMBER_SIEVE`] for `word`, from its length and first and last bytes.
fn sieve_bit(word: &str) -> usize {
    let b = word.as_bytes();
    let (first, last) = (
        b.first().copied().unwrap_or(0),
        b.last().copied().unwrap_or(0),
    );
    ((b.len() * 31 + usize::from(first)) * 31 + usize::from(last)) % 4096
}

/// The [`sieve_bit`]s of [`NUMBER_WORDS`]: a word whose bit is clear is not one.
static NUMBER_SIEVE: std::sync::LazyLock<[u64; 64]> = std::sync::LazyLock::new(|| {
    let mut sieve = [0u64; 64];
    for (w, _) in NUMBER_WORDS {
        let bit = sieve_bit(w);
        sieve[bit / 64] |= 1 << (bit % 64);
    }
    sieve
});

/// Words on each side of a figure that make its place.
const FIGURE_CONTEXT: usize = 2;

impl Figures {
    /// The figures of a normalised word sequence.
    pub fn of(words: &[&str]) -> Figures {
        let is_figure = |w: &str| figure_value(w).is_some();
        let mut figures = Vec::new();
        let mut i = 0;
        while i < words.len() {
            if !is_figure(words[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < words.len() && is_figure(words[i]) {
                i += 1;
            }
            let before = &words[start.saturating_sub(FIGURE_CONTEXT)..start];
            let after = &words[i..(i + FIGURE_CONTEXT).min(words.len())];
            let place = format!("{}\u{0}{}", before.join(" "), after.join(" "));
            figures.push((
                xxhash_rust::xxh3::xxh3_64(place.as_bytes()),
                xxhash_rust::xxh3::xxh3_64(
                    words[start..i]
                        .iter()
                        .filter_map(|w| figure_value(w))
                        .collect::<Vec<_>>()
                        .join(" ")
                        .as_bytes(),
                ),
            ));
        }
        figures.sort_unstable();
        figures.dedup();
        Figures(figures)
    }

    /// Whether the two texts give different figures in the same place: some place (the
    /// same words before and after) holds figures in both, none of them shared. A copy
    /// that drops or adds figures does not conflict; one that changes a figure does.
    pub fn conflict(&self, other: &Figures) -> bool {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let place = a[i].0;
            match place.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let ends = |v: &[(u64, u64)], from: usize| {
                        from + v[from..].iter().take_while(|f| f.0 == place).count()
                    };
                    let (i_end, j_end) = (ends(a, i), ends(b, j));
                    let shared = a[i..i_end]
                        .iter()
                        .any(|f| b[j..j_end].binary_search(f).is_ok());
                    if !shared {
                        return true;
                    }
                    (i, j) = (i_end, j_end);
                }
            }
        }
        false
    }
}

/// The near-duplicate candidate keys of an entry's title and text: its LSH band keys
/// and, when its text is long enough, its [`lead_key`] (none at all when the text is too
/// short for a signature).
pub fn entry_bands(title: &str, text: &str) -> Vec<i64> {
    with_words(title, text, |words, body| {
        candidate_keys(&minhash::shingles(words), lead_key(&words[body..]))
    })
}

/// The LSH band keys of `shingles`' signature, then `lead` (nothing when the shingles
/// are too few for a signature).
pub fn candidate_keys(shingles: &[u64], lead: Option<i64>) -> Vec<i64> {
    match minhash::signature(shingles) {
        Some(sig) => {
            let mut keys = minhash::band_keys(&sig);
            keys.extend(lead);
            keys
        }
        None => Vec::new(),
    }
}

/// Words of the text (not the title) that make its [`lead_key`].
pub const LEAD_WORDS: usize = 12;

/// A candidate key for the opening words of a text: its first [`LEAD_WORDS`]
/// normalised words, hashed to 31 bits like a band key (and stored with them). A feed
/// that carries a teaser (the article's first sentence) and one that carries the whole
/// article share few shingles, so MinHash bands almost never bring one to the other;
/// they share their opening. The candidate is verified like any other (containment of
/// the teaser in the article, figures). `None` for shorter texts.
pub fn lead_key(body: &[&str]) -> Option<i64> {
    let lead = body.get(..LEAD_WORDS)?;
    let mut bytes = b"lead\0".to_vec();
    push_joined(&mut bytes, lead);
    Some((xxhash_rust::xxh3::xxh3_64(&bytes) >> 33) as i64)
}

/// [`text_fingerprint`], [`entry_shingles`] and [`lead_key`] together, normalising the
/// text once.
pub fn text_keys(title: &str, text: &str) -> (Option<String>, Vec<u64>) {
    let keys = entry_text_keys(title, text);
    (keys.fingerprint, keys.shingles)
}

/// Everything an entry is matched by, from one normalisation of its title and text.
#[derive(Debug, Clone, Default)]
pub struct TextKeys {
    /// [`text_fingerprint`].
    pub fingerprint: Option<String>,
    /// [`entry_shingles`].
    pub shingles: Vec<u64>,
    /// [`lead_key`] of the text.
    pub lead: Option<i64>,
    /// [`Figures`] of title and text.
    pub figures: Figures,
}

/// The [`TextKeys`] of an entry's title and text.
pub fn entry_text_keys(title: &str, text: &str) -> TextKeys {
    with_words(title, text, |words, body| TextKeys {
        fingerprint: fingerprint_of(&words[..body], &words[body..]),
        shingles: minhash::shingles(words),
        lead: lead_key(&words[body..]),
        figures: Figures::of(words),
    })
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
    fn number_words_are_sorted_for_binary_search() {
        assert!(NUMBER_WORDS.windows(2).all(|w| w[0].0 < w[1].0));
        for (w, _) in NUMBER_WORDS {
            assert_eq!(normalize_for_matching(w), *w, "{w} is stored normalised");
            assert!(figure_value(w).is_some(), "{w} passes the sieve");
        }
    }

    #[test]
    fn figures_changed_in_place_conflict_and_dropped_ones_do_not() {
        let rates = |day: &str, usd: &str, eur: &str| {
            entry_figures(
                "Afghani gains value against US dollar",
                &format!(
                    "The afghani gained on {day} November. One US dollar was exchanged for \
                     {usd} afghanis and one euro for {eur} afghanis, money changers said."
                ),
            )
        };
        let monday = rates("25", "68.50", "71.20");
        assert!(
            monday.conflict(&rates("26", "68.75", "71.45")),
            "next day's rates"
        );
        assert!(
            monday.conflict(&rates("25", "68.75", "71.20")),
            "one figure changed"
        );
        assert!(
            !monday.conflict(&rates("25", "68.50", "71.20")),
            "the same report"
        );
        assert!(
            entry_figures("Taliban say 12 killed in Helmand clash", "")
                .conflict(&entry_figures("Taliban say 9 killed in Kandahar clash", "")),
        );
        // A trimmed copy drops figures, a re-edited one adds some: no conflict.
        let full = entry_figures(
            "Taliban say 12 killed in Helmand clash",
            "Twelve people died on 26 November. Five were arrested. Talks began in 2021.",
        );
        let trimmed = entry_figures(
            "taliban say 12 killed in helmand clash",
            "Twelve people died on 26 November, officials told reporters in 2024.",
        );
        assert!(!full.conflict(&trimmed) && !trimmed.conflict(&full));
        // Persian digits are the same figures.
        assert!(
            !entry_figures("۱۲ کشته در هلمند", "").conflict(&entry_figures("12 کشته در هلمند", ""))
        );
        assert!(
            entry_figures("۱۲ کشته در هلمند", "").conflict(&entry_figures("۹ کشته در هلمند", ""))
        );
        assert!(!Figures::default().conflict(&monday));
        // Number words are figures, and the same as digits.
        let flogged = |n: &str, place: &str| {
            entry_figures(
                "Taliban flog people in public",
                &format!(
                    "The Taliban publicly flogged {n} people, including a woman, in {place} province on Tuesday."
                ),
            )
        };
        assert!(flogged("two", "Takhar").conflict(&flogged("three", "Ghor")));
        assert!(!flogged("two", "Takhar").conflict(&flogged("2", "Takhar")));
        assert!(
            entry_figures(
                "",
                "Талибы публично наказали двух человек в провинции Тахар"
            )
            .conflict(&entry_figures(
                "",
                "Талибы публично наказали трех человек в провинции Гор"
            ))
        );
        assert!(
            entry_figures("", "طالبان دو نفر را در ولایت تخار شلاق زدند")
                .conflict(&entry_figures("", "طالبان سه نفر را در ولایت غور شلاق زدند"))
        );
    }

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
