//! Story identity: the keys under which an entry is matched to an existing story.
//!
//! Two levels. Exact keys ([`KeyKind`]): the canonical URL and a fingerprint of the
//! normalised title and text. Near-duplicates ([`minhash`]): LSH band keys over word
//! shingles, verified exactly before any merge. The store persists both and does the
//! lookups; everything here is pure: no IO, no SQL.

pub mod canonical;
pub mod minhash;
pub mod particulars;
pub mod text;

use std::time::Duration;

pub use particulars::{Figures, Names, Particulars};
pub use text::normalize_for_matching;

/// The kind of a story key, hashed with the key into `story_key_hashes.hash`
/// ([`key_hash`]).
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

/// The 64-bit hash under which an exact key is stored (`story_key_hashes.hash`, one
/// rowid B-tree: ~16 bytes a key where the text keys took ~100 twice). The kind's name
/// and a NUL come first, so a URL and a fingerprint never share a hash by construction.
/// Two different keys share one with odds of about n²/2⁶⁵ (10⁻⁷ at 2.5 million keys).
pub fn key_hash(kind: &str, key: &str) -> i64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(kind.as_bytes());
    hasher.update(&[0]);
    hasher.update(key.as_bytes());
    // The stored column is SQLite's signed 64-bit integer; the bits are kept as they are.
    hasher.digest() as i64
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
fn fingerprint_of(words: &Words<'_>) -> Option<String> {
    if words.all.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    // The two runs of words as the normalised texts hold them (no copy), hashed in
    // three calls: fed word by word, BLAKE3 spent more time per call than on the bytes
    // (the bytes, and so the fingerprint, are the same either way).
    let mut hasher = blake3::Hasher::new();
    hasher.update(words.title.as_bytes());
    hasher.update(b"\n");
    hasher.update(words.text.as_bytes());
    Some(hasher.finalize().to_hex()[..32].to_owned())
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
    with_words(title, text, |words| words.shingles())
}

/// The normalised words of an entry's title then text, boilerplate dropped: every key
/// of an entry is made from these.
struct Words<'a> {
    /// The title's words, then the text's.
    all: Vec<&'a str>,
    /// Where the text's words start in `all`.
    body: usize,
    /// The title's words joined by single spaces.
    title: std::borrow::Cow<'a, str>,
    /// The text's words joined by single spaces.
    text: std::borrow::Cow<'a, str>,
}

impl Words<'_> {
    /// The shingle set ([`minhash::shingles`] of `all`), hashed from the words with a
    /// space after each, copied as two runs rather than word by word.
    fn shingles(&self) -> Vec<u64> {
        minhash::into_set(self.shingle_hashes())
    }

    /// [`Words::shingles`] in text order, repeats kept
    /// ([`minhash::shingle_hashes_of_joined`]).
    fn shingle_hashes(&self) -> Vec<u64> {
        let mut joined = Vec::with_capacity(self.title.len() + self.text.len() + 2);
        for run in [&self.title, &self.text] {
            if !run.is_empty() {
                joined.extend_from_slice(run.as_bytes());
                joined.push(b' ');
            }
        }
        minhash::shingle_hashes_of_joined(&joined, self.all.iter().map(|w| w.len()))
    }
}

/// Calls `f` with the normalised words of title then text ([`Words`]).
fn with_words<T>(title: &str, text: &str, f: impl FnOnce(&Words<'_>) -> T) -> T {
    let (title, text) = (text::Normalized::new(title), text::Normalized::new(text));
    let title_words = title.words();
    let text_words = text.words();
    let mut all = Vec::with_capacity(title_words.len() + text_words.len());
    all.extend_from_slice(&title_words);
    all.extend_from_slice(&text_words);
    f(&Words {
        body: title_words.len(),
        title: title.joined(&title_words),
        text: text.joined(&text_words),
        all,
    })
}

/// A stored report that verified against an entry ([`similar_report`]).
#[derive(Debug)]
pub struct SimilarReport {
    /// The score (the larger of Jaccard and containment) and the Jaccard similarity.
    pub similar: (f64, f64),
    /// The report's particulars.
    pub particulars: Particulars,
    /// The report's shingles (for [`Particulars::leads_apart`]).
    pub shingles: Vec<u64>,
}

/// How similar a stored report is to an entry of these `shingles`
/// ([`minhash::similar`]: score and Jaccard), with the report's [`Particulars`] and
/// shingles, when it is similar enough to verify. Normalises the report's text once;
/// particulars are made only for reports that verify.
pub fn similar_report(shingles: &[u64], title: &str, text: &str) -> Option<SimilarReport> {
    with_words(title, text, |words| {
        let theirs = words.shingles();
        let similar = minhash::similar(shingles, &theirs)?;
        Some(SimilarReport {
            similar,
            particulars: Particulars::of(&words.all, words.body),
            shingles: theirs,
        })
    })
}

/// The shingle Jaccard similarity of a stored report to an entry of these `shingles`,
/// without the rest of [`similar_report`]'s work.
pub fn report_jaccard(shingles: &[u64], title: &str, text: &str) -> f64 {
    with_words(title, text, |words| {
        minhash::similarity(shingles, &words.shingles()).0
    })
}

/// The [`Particulars`] of an entry's title and text.
pub fn entry_particulars(title: &str, text: &str) -> Particulars {
    with_words(title, text, |words| Particulars::of(&words.all, words.body))
}

/// The near-duplicate candidate keys of an entry's title and text: its LSH band keys
/// and, when its text is long enough, its [`lead_key`], then its [`headline_keys`].
pub fn entry_bands(title: &str, text: &str) -> Vec<i64> {
    with_words(title, text, |words| {
        let (title_words, body) = words.all.split_at(words.body);
        let headline = headline_keys_of(title, title_words);
        candidate_keys(&words.shingles(), lead_key(body), &headline)
    })
}

/// The LSH band keys of `shingles`' signature and `lead` (neither when the shingles are
/// too few for a signature), then `headline`.
pub fn candidate_keys(shingles: &[u64], lead: Option<i64>, headline: &[i64]) -> Vec<i64> {
    let mut keys = match minhash::signature(shingles) {
        Some(sig) => {
            let mut keys = minhash::band_keys(&sig);
            keys.extend(lead);
            keys
        }
        None => Vec::new(),
    };
    keys.extend_from_slice(headline);
    keys
}

/// Fewest normalised words a headline needs for [`headline_keys`]: shorter ones ("Live
/// updates", "Exchange rates") head many stories.
pub const HEADLINE_MIN_WORDS: usize = 5;

/// Most words of an outlet's name after a headline's last separator (" - ", " | ",
/// " — ", " – "), as aggregators show headlines, and most words a headline-only
/// entry's text may add to its headline ([`Particulars::headline_only`]).
pub const OUTLET_MAX_WORDS: usize = 5;

/// Candidate keys for a headline: its normalised words hashed like a band key
/// (and stored with them), and the same without a trailing outlet name, as news
/// aggregators carry headlines ("… Claims Group - Afghanistan International"). An entry
/// that is only a headline (an aggregator's, or a feed's without summaries) shares
/// nothing else with the article; see [`Particulars::headline_only`] for when such a
/// candidate is taken (the store checks sources and times). Empty for headlines under
/// [`HEADLINE_MIN_WORDS`] words.
pub fn headline_keys(title: &str) -> Vec<i64> {
    headline_keys_of(title, &text::Normalized::new(title).words())
}

/// [`headline_keys`] of a title whose normalised words are `words`.
fn headline_keys_of(title: &str, words: &[&str]) -> Vec<i64> {
    let key = |words: &[&str]| {
        (words.len() >= HEADLINE_MIN_WORDS).then(|| {
            let mut bytes =
                Vec::with_capacity(16 + words.iter().map(|w| w.len() + 1).sum::<usize>());
            bytes.extend_from_slice(b"headline\0");
            push_joined(&mut bytes, words);
            minhash::candidate_key(xxhash_rust::xxh3::xxh3_64(&bytes))
        })
    };
    let mut keys: Vec<i64> = key(words).into_iter().collect();
    if let Some((head, outlet)) = outlet_cut(title) {
        let outlet = text::Normalized::new(outlet);
        let head = text::Normalized::new(head);
        if (1..=OUTLET_MAX_WORDS).contains(&outlet.words().len())
            && let Some(k) = key(&head.words())
            && !keys.contains(&k)
        {
            keys.push(k);
        }
    }
    keys
}

/// A headline split at its last " - ", " | ", " — " or " – ": what may be the headline
/// and what may be an outlet's name.
pub fn outlet_cut(title: &str) -> Option<(&str, &str)> {
    [" - ", " | ", " \u{2014} ", " \u{2013} "]
        .iter()
        .filter_map(|sep| title.rfind(sep).map(|at| (at, sep.len())))
        .max()
        .map(|(at, len)| (&title[..at], &title[at + len..]))
}

/// Whether an entry looks like a news aggregator's listing of an article: a headline
/// ending in an outlet's name after a separator ("… - Afghanistan International", at most
/// [`OUTLET_MAX_WORDS`] words), and a summary that adds at most that many words to the
/// headline. Word counts only, without normalising (the digest asks it of every entry).
pub fn aggregator_listing(title: &str, summary: &str) -> bool {
    let words = |s: &str| s.split_whitespace().count();
    outlet_cut(title).is_some_and(|(_, outlet)| (1..=OUTLET_MAX_WORDS).contains(&words(outlet)))
        && words(summary) <= words(title) + OUTLET_MAX_WORDS
}

/// Words of the text (not the title) that make its [`lead_key`].
pub const LEAD_WORDS: usize = 12;

/// A candidate key for the opening words of a text: its first [`LEAD_WORDS`]
/// normalised words, hashed like a band key (and stored with them). A feed
/// that carries a teaser (the article's first sentence) and one that carries the whole
/// article share few shingles, so MinHash bands almost never bring one to the other;
/// they share their opening. The candidate is verified like any other (containment of
/// the teaser in the article, particulars). `None` for shorter texts.
pub fn lead_key(body: &[&str]) -> Option<i64> {
    let lead = body.get(..LEAD_WORDS)?;
    let mut bytes = Vec::with_capacity(16 + lead.iter().map(|w| w.len() + 1).sum::<usize>());
    bytes.extend_from_slice(b"lead\0");
    push_joined(&mut bytes, lead);
    Some(minhash::candidate_key(xxhash_rust::xxh3::xxh3_64(&bytes)))
}

/// [`text_fingerprint`], [`entry_shingles`] and [`lead_key`] together, normalising the
/// text once.
pub fn text_keys(title: &str, text: &str) -> (Option<String>, Vec<u64>) {
    let keys = entry_text_keys(title, text);
    (keys.fingerprint, minhash::into_set(keys.shingles))
}

/// Everything an entry is matched by, from one normalisation of its title and text.
#[derive(Debug, Clone, Default)]
pub struct TextKeys {
    /// [`text_fingerprint`].
    pub fingerprint: Option<String>,
    /// The hashes of [`entry_shingles`] in text order, repeats kept (made a set by
    /// [`minhash::into_set`] when compared).
    pub shingles: Vec<u64>,
    /// [`lead_key`] of the text.
    pub lead: Option<i64>,
    /// [`headline_keys`] of the title.
    pub headline: Vec<i64>,
}

/// The [`TextKeys`] of an entry's title and text.
pub fn entry_text_keys(title: &str, text: &str) -> TextKeys {
    with_words(title, text, |words| {
        let (title_words, body) = words.all.split_at(words.body);
        TextKeys {
            fingerprint: fingerprint_of(words),
            shingles: words.shingle_hashes(),
            lead: lead_key(body),
            headline: headline_keys_of(title, title_words),
        }
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
    fn a_headline_has_its_key_with_and_without_an_outlet_name_after_it() {
        let article = headline_keys("Russia Wants Taliban To Participate In SCO Meetings");
        assert_eq!(article.len(), 1);
        let listed = headline_keys(
            "Russia wants Taliban to participate in SCO meetings - Afghanistan International",
        );
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&article[0]), "{listed:?} / {article:?}");
        for sep in [" | ", " \u{2014} ", " \u{2013} "] {
            let keys = headline_keys(&format!(
                "Russia Wants Taliban To Participate In SCO Meetings{sep}Amu TV"
            ));
            assert!(keys.contains(&article[0]), "{sep}");
        }
        let fa = headline_keys("انفجار در نزدیکی وزارت مهاجرین طالبان در کابل");
        assert!(
            headline_keys("انفجار در نزدیکی وزارت مهاجرین طالبان در کابل - افغانستان اینترنشنال")
                .contains(&fa[0])
        );
        // A dash inside a headline: the words after it are no outlet name.
        let clash = headline_keys("Taliban - Pakistan talks resume after border clashes in Kurram");
        assert_eq!(clash.len(), 1);
        // Short headlines head many stories: no key.
        assert!(headline_keys("Exchange rates today").is_empty());
        assert!(headline_keys("Live updates - Amu TV").is_empty());
        assert_ne!(
            headline_keys("Taliban Publicly Flog Two People In Takhar"),
            headline_keys("Taliban Publicly Flog Three People In Ghor")
        );
    }

    /// The keys as first defined, word by word: shingles of every word with a space
    /// after each, the fingerprint over the title's and text's words joined by spaces.
    fn keys_word_by_word(title: &str, text: &str) -> (Option<String>, Vec<u64>) {
        let (title, text) = (text::tokens(title), text::tokens(text));
        let all: Vec<String> = title.iter().chain(&text).cloned().collect();
        let fingerprint = (all.len() >= MIN_FINGERPRINT_WORDS).then(|| {
            let joined = format!("{}\n{}", title.join(" "), text.join(" "));
            blake3::hash(joined.as_bytes()).to_hex()[..32].to_owned()
        });
        (fingerprint, minhash::shingles(&all))
    }

    #[test]
    fn keys_from_the_normalised_runs_are_the_word_by_word_keys() {
        let set: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dedup/set.json"
        )))
        .unwrap();
        let mut pairs: Vec<(String, String)> = set["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["docs"].as_array().unwrap())
            .map(|d| {
                let field = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
                (field("title"), field("text"))
            })
            .collect();
        assert!(pairs.len() > 100, "{}", pairs.len());
        for (title, text) in [
            ("", ""),
            (
                "Title only, with enough words to pass for a story of its own",
                "",
            ),
            (
                "",
                "Text only, with no title above it at all, and enough words here",
            ),
            ("One", "two three"),
            ("Read more", "Read more"),
            (
                "By Jane Doe | Kabul talks resume",
                "Kabul talks resume. More News",
            ),
            (
                "  Кремль: «Шойгу» — в Кабуле ",
                "Ёлка\u{200C}всё ۱۴۰۳ ـــ مذاكرهٔ",
            ),
        ] {
            pairs.push((title.to_owned(), text.to_owned()));
        }
        for (title, text) in &pairs {
            let (fingerprint, shingles) = text_keys(title, text);
            assert_eq!(
                (fingerprint, shingles),
                keys_word_by_word(title, text),
                "{title:?}"
            );
        }
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
        // The band keys since migration 0018 (one-permutation signatures), which
        // recomputed every stored one.
        assert_eq!(
            bands[..4],
            [
                89270186485169,
                20573196008216,
                23623893298070,
                38936435686471
            ]
        );
        assert_eq!(shingles, entry_shingles(title, text));
    }
}
