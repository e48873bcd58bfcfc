//! What tells apart two reports made from one template, whose shingles are as alike as
//! a copy's: the figures they give and the names their headlines are about, each in its
//! place in the text ([`Particulars`]). Pure, like the rest of [`crate::dedup`].

/// The particulars of a report that a copy keeps: its [`Figures`] and its [`Names`].
/// Two texts whose particulars conflict are two reports, however alike their shingles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Particulars {
    figures: Figures,
    names: Names,
    headline_only: bool,
    /// The shingles of the text's lead ([`LEAD_COMPARE_WORDS`]), sorted; empty when
    /// the text is shorter than [`LEAD_MIN_TEXT_WORDS`].
    lead: Vec<u64>,
}

/// Words of a text's opening compared by [`Particulars::leads_apart`]: about its first
/// sentence or two, what a report is about.
pub const LEAD_COMPARE_WORDS: usize = 25;
/// Shortest text (in words, after the title) whose lead is compared: in a shorter one,
/// the lead is most of the text, and a teaser is all lead.
pub const LEAD_MIN_TEXT_WORDS: usize = 2 * LEAD_COMPARE_WORDS;
/// Share of a lead's shingles found in the other text below which the lead is not in
/// it. A copy keeps nearly all of them (a word changed costs three); two leads written
/// apart share only stock phrases ("the taliban said", "on monday the").
pub const LEAD_KEPT: f64 = 0.25;

impl Particulars {
    /// The particulars of a normalised word sequence: the title's words, then the
    /// text's from `body` on.
    pub fn of(words: &[&str], body: usize) -> Particulars {
        let body = body.min(words.len());
        let (title, text) = words.split_at(body);
        Particulars {
            figures: Figures::of(words),
            names: Names::of(title, text),
            headline_only: text
                .iter()
                .filter(|w| !title.contains(w))
                .nth(super::OUTLET_MAX_WORDS)
                .is_none(),
            lead: if text.len() >= LEAD_MIN_TEXT_WORDS {
                super::minhash::shingles(&text[..LEAD_COMPARE_WORDS])
            } else {
                Vec::new()
            },
        }
    }

    /// Whether two reports share only what follows their leads: neither text keeps
    /// the other's lead ([`LEAD_KEPT`]). `mine` and `theirs` are each text's whole
    /// shingle set (title and text). Outlets reuse background paragraphs from one
    /// report to the next ("The Trans-Afghan railway would run 760 km…" under a deal
    /// signed in Tashkent, then under a pledge made in Astana), and two or three of them
    /// make the shingles verify. A copy keeps its report's lead, even under a new
    /// headline or with a line added above it, and a teaser is its article's lead; a
    /// follow-up written anew on top of the old background ("death toll rises to 15")
    /// is news of its own, and stays a story of its own too. `false` when either text
    /// is too short to tell ([`LEAD_MIN_TEXT_WORDS`]).
    pub fn leads_apart(&self, mine: &[u64], other: &Particulars, theirs: &[u64]) -> bool {
        let kept = |lead: &[u64], text: &[u64]| {
            let found = lead
                .iter()
                .filter(|s| text.binary_search(s).is_ok())
                .count();
            found as f64 >= LEAD_KEPT * lead.len() as f64
        };
        !self.lead.is_empty()
            && !other.lead.is_empty()
            && !kept(&self.lead, theirs)
            && !kept(&other.lead, mine)
    }

    /// Whether the report is only its headline: its text adds at most
    /// [`super::OUTLET_MAX_WORDS`] words to the headline's (an aggregator's "headline +
    /// outlet name", or no summary at all). Such a report and one of another source
    /// published within hours under the same headline ([`super::headline_keys`]) are
    /// one story; two such reports a day apart are two, however alike.
    pub fn headline_only(&self) -> bool {
        self.headline_only
    }

    /// Whether the two texts are two reports: their figures or their names conflict.
    pub fn conflict(&self, other: &Particulars) -> bool {
        self.figures.conflict(&other.figures) || self.names.conflict(&other.names)
    }
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
        any_shared_place(&self.0, &other.0, |mine, theirs| {
            !mine.iter().any(|f| theirs.binary_search(f).is_ok())
        })
    }
}

/// The names a report's headline is about, in their places in its text.
///
/// One outlet's notices from a template ("Taliban appoint Abdul Rahman Haqqani as new
/// governor of Takhar" / "… Ahmad Shah Din Dost as new governor of Ghor") are the same
/// sentences with other names, and no figure tells them apart. Two texts conflict when
/// one place in them (the same two words before, or the same two after) holds a word of
/// each one's own headline, the two words differ, and neither text has the other's word
/// anywhere. A copy under a new headline keeps its text's words; a copy that changes a
/// word of the text leaves the original word elsewhere or out of the other headline;
/// an outlet that respells a name ("Shoigu", "Shoygu") makes a near spelling
/// (`near_spelling`), which is not a conflict either.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The headline's distinct words, figures and words under [`MIN_NAME_CHARS`] left
    /// out.
    headline: Vec<String>,
    /// Each place in the text where a headline word stands: a hash of the two words
    /// before it (or of the two after it), and the word's index in `headline`; sorted.
    places: Vec<(u64, u16)>,
    /// Hashes of every word of text and headline, in text order (empty when `places`
    /// is, as nothing then asks). Only a place both texts share asks, which is rare
    /// (most reports compared are copies, whose places hold the same words): a search
    /// through them then costs less than sorting them for every report.
    words: Vec<u32>,
}

/// Words on one side of a headline word that make its place in the text.
const NAME_CONTEXT: usize = 2;

/// Letters of the shortest headline word taken for a name: shorter ones are mostly
/// function words ("of", "in", "در", "на"), in every place of every text.
const MIN_NAME_CHARS: usize = 3;

impl Names {
    /// The names of a headline's and its text's normalised words.
    pub fn of(title: &[&str], text: &[&str]) -> Names {
        // Every word is hashed once; headline words are found by their hash, and places
        // are hashed from their words' hashes.
        let mut headline: Vec<String> = Vec::new();
        let mut headline_hashes: Vec<u64> = Vec::new();
        for w in title {
            let hash = word_hash(w);
            if w.chars().nth(MIN_NAME_CHARS - 1).is_some()
                && figure_value(w).is_none()
                && !headline_hashes.contains(&hash)
                && headline.len() < usize::from(u16::MAX)
            {
                headline.push((*w).to_owned());
                headline_hashes.push(hash);
            }
        }
        if headline.is_empty() {
            return Names::default();
        }
        let text_hashes: Vec<u64> = text.iter().map(|w| word_hash(w)).collect();
        let mut places = Vec::new();
        for (i, hash) in text_hashes.iter().enumerate() {
            let Some(k) = headline_hashes.iter().position(|h| h == hash) else {
                continue;
            };
            if headline[k] != text[i] {
                continue;
            }
            let k = u16::try_from(k).unwrap_or(u16::MAX);
            if let Some(start) = i.checked_sub(NAME_CONTEXT) {
                places.push((place_hash(b'<', &text_hashes[start..i]), k));
            }
            if let Some(after) = text_hashes.get(i + 1..i + 1 + NAME_CONTEXT) {
                places.push((place_hash(b'>', after), k));
            }
        }
        if places.is_empty() {
            return Names::default();
        }
        places.sort_unstable();
        places.dedup();
        let words: Vec<u32> = text_hashes
            .iter()
            .chain(&headline_hashes)
            .map(|&h| short_hash(h))
            .collect();
        Names {
            headline,
            places,
            words,
        }
    }

    /// Whether some place in both texts holds a headline word of each, different, far
    /// from a respelling, and found nowhere in the other text (see [`Names`]).
    pub fn conflict(&self, other: &Names) -> bool {
        any_shared_place(&self.places, &other.places, |mine, theirs| {
            let mine = || mine.iter().map(|&(_, k)| self.word(k));
            let theirs = || theirs.iter().map(|&(_, k)| other.word(k));
            !mine().any(|x| theirs().any(|y| x == y))
                && mine().any(|x| {
                    theirs().any(|y| !other.has(x) && !self.has(y) && !near_spelling(x, y))
                })
        })
    }

    fn word(&self, k: u16) -> &str {
        self.headline.get(usize::from(k)).map_or("", String::as_str)
    }

    /// Whether the headline or text has `word`.
    fn has(&self, word: &str) -> bool {
        self.words.contains(&short_hash(word_hash(word)))
    }
}

/// Whether `conflict` holds for some place in both sorted `(place, what)` lists: it is
/// given what each list holds at that place.
fn any_shared_place<T>(
    a: &[(u64, T)],
    b: &[(u64, T)],
    conflict: impl Fn(&[(u64, T)], &[(u64, T)]) -> bool,
) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let place = a[i].0;
        match place.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let end = |v: &[(u64, T)], from: usize| {
                    from + v[from..].iter().take_while(|p| p.0 == place).count()
                };
                let (i_end, j_end) = (end(a, i), end(b, j));
                if conflict(&a[i..i_end], &b[j..j_end]) {
                    return true;
                }
                (i, j) = (i_end, j_end);
            }
        }
    }
    false
}

/// Whether two words are one name spelled two ways (transliterations: "Shoigu" and
/// "Shoygu", "Mujahid" and "Mojahed", "Zabihullah" and "Zabiullah", "Kandahar" and
/// "Qandahar"): they have the same [`consonants`], and more than half of the longer
/// one's letters stay under the edit distance. Transliterations differ in vowels,
/// silent letters and doubled ones; names that differ in a consonant are two names
/// however close their spellings ("Paktia" and "Paktika", "Iran" and "Iraq", "Namangan"
/// and "Samangan"), as are "Takhar" and "Ghor", "Ahmad" and "Hamid".
fn near_spelling(a: &str, b: &str) -> bool {
    strsim::normalized_levenshtein(a, b) > 0.5 && consonants(a).eq(consonants(b))
}

/// Letters left out of [`consonants`]: Latin vowels (with the Turkic and accented ones),
/// `y` and `h`; Cyrillic vowels (with the Kazakh, Kyrgyz, Tajik and Ukrainian ones), `й`,
/// `ь` and `ъ`; Perso-Arabic and Pashto alef, vav, ye, he and hamza forms.
const WEAK_LETTERS: &str = "aeiouyhıöüáàâäéèêëíìîïóòôúùûýÿ\
                            аеёиоуыэюяйьъәөүұіїєӣӯ\
                            اآأإءئؤوىیيهةۀېۍێ";

/// A normalised word's consonants as transliterations keep them: vowels and the letters
/// that spell vowels or nothing ([`WEAK_LETTERS`]) left out, `q` read as `k`, `w` as
/// `v`, Central Asian Cyrillic `қ`, `ғ`, `ҳ` as `к`, `г`, `х`, and a letter repeated
/// counted once.
fn consonants(word: &str) -> impl Iterator<Item = char> + '_ {
    let mut last = None;
    word.chars()
        .filter(|c| !WEAK_LETTERS.contains(*c))
        .map(|c| match c {
            'q' => 'k',
            'w' => 'v',
            'қ' => 'к',
            'ғ' => 'г',
            'ҳ' => 'х',
            c => c,
        })
        .filter(move |&c| last.replace(c) != Some(c))
}

/// The hash of a place: its side and its words' [`word_hash`]es.
fn place_hash(side: u8, words: &[u64]) -> u64 {
    let mut bytes = [0u8; 1 + 8 * NAME_CONTEXT];
    bytes[0] = side;
    for (chunk, w) in bytes[1..].chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

fn word_hash(word: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(word.as_bytes())
}

/// A word's hash in [`Names::words`].
fn short_hash(hash: u64) -> u32 {
    (hash >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::{entry_particulars, normalize_for_matching};

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
            entry_particulars(
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
            entry_particulars("Taliban say 12 killed in Helmand clash", "").conflict(
                &entry_particulars("Taliban say 9 killed in Kandahar clash", "")
            ),
        );
        // A trimmed copy drops figures, a re-edited one adds some: no conflict.
        let full = entry_particulars(
            "Taliban say 12 killed in Helmand clash",
            "Twelve people died on 26 November. Five were arrested. Talks began in 2021.",
        );
        let trimmed = entry_particulars(
            "taliban say 12 killed in helmand clash",
            "Twelve people died on 26 November, officials told reporters in 2024.",
        );
        assert!(!full.conflict(&trimmed) && !trimmed.conflict(&full));
        // Persian digits are the same figures.
        assert!(
            !entry_particulars("۱۲ کشته در هلمند", "")
                .conflict(&entry_particulars("12 کشته در هلمند", ""))
        );
        assert!(
            entry_particulars("۱۲ کشته در هلمند", "")
                .conflict(&entry_particulars("۹ کشته در هلمند", ""))
        );
        assert!(!Particulars::default().conflict(&monday));
        // Number words are figures, and the same as digits.
        let flogged = |n: &str, place: &str| {
            entry_particulars(
                "Taliban flog people in public",
                &format!(
                    "The Taliban publicly flogged {n} people, including a woman, in {place} province on Tuesday."
                ),
            )
        };
        assert!(flogged("two", "Takhar").conflict(&flogged("three", "Ghor")));
        assert!(!flogged("two", "Takhar").conflict(&flogged("2", "Takhar")));
        assert!(
            entry_particulars(
                "",
                "Талибы публично наказали двух человек в провинции Тахар"
            )
            .conflict(&entry_particulars(
                "",
                "Талибы публично наказали трех человек в провинции Гор"
            ))
        );
        assert!(
            entry_particulars("", "طالبان دو نفر را در ولایت تخار شلاق زدند").conflict(
                &entry_particulars("", "طالبان سه نفر را در ولایت غور شلاق زدند")
            )
        );
    }

    #[test]
    fn names_changed_in_place_conflict_and_copies_do_not() {
        let governor = |person: &str, place: &str| {
            (
                format!("Taliban Appoint {person} As New Governor Of {place}"),
                format!(
                    "The Taliban have appointed Mawlawi {person} as the new governor of \
                     {place} province, the group's spokesman said on Wednesday. {person} \
                     replaces an official moved to the ministry of interior in Kabul."
                ),
            )
        };
        let of = |(title, text): &(String, String)| entry_particulars(title, text);
        let takhar = governor("Abdul Rahman Haqqani", "Takhar");
        let ghor = governor("Ahmad Shah Din Dost", "Ghor");
        assert!(of(&takhar).conflict(&of(&ghor)) && of(&ghor).conflict(&of(&takhar)));
        // Only the province differs, in the headline and in the text.
        assert!(of(&governor("Abdul Rahman Haqqani", "Ghor")).conflict(&of(&takhar)));
        // A wire copy under its own headline, last sentence dropped.
        let wire = (
            "Taliban name new Takhar governor in provincial reshuffle".to_owned(),
            takhar.1.split(". ").take(1).collect::<String>(),
        );
        assert!(!of(&wire).conflict(&of(&takhar)) && !of(&takhar).conflict(&of(&wire)));
        // ... which still tells the other province's notice apart.
        assert!(of(&wire).conflict(&of(&ghor)));
        // A corrected headline over the same text.
        let corrected = (
            takhar.0.replace("New Governor", "Governor"),
            takhar.1.clone(),
        );
        assert!(!of(&corrected).conflict(&of(&takhar)));
        // An outlet that respells a name throughout makes a near spelling.
        let shoigu = (
            "Shoigu Visits Kabul For Talks".to_owned(),
            "Russian security chief Sergei Shoigu arrived in Kabul on Monday, where \
             Shoigu met Taliban officials."
                .to_owned(),
        );
        let shoygu = (
            shoigu.0.replace("Shoigu", "Shoygu"),
            shoigu.1.replace("Shoigu", "Shoygu"),
        );
        assert!(!of(&shoigu).conflict(&of(&shoygu)));
        // Names spelled alike that differ in a consonant are two names.
        let province = |place: &str| {
            of(&(
                format!("Explosion Kills Two Taliban Members In {place}"),
                format!(
                    "A roadside bomb killed two Taliban members in {place} province on \
                     Thursday, local sources said."
                ),
            ))
        };
        assert!(province("Paktia").conflict(&province("Paktika")));
        assert!(province("Namangan").conflict(&province("Samangan")));
        assert!(!province("Paktia").conflict(&province("Paktiya")));
        assert!(province("Paktika").conflict(&province("Paktiya")));
        assert!(!province("Kandahar").conflict(&province("Qandahar")));
        let ru = |place: &str| {
            entry_particulars(
                &format!("Взрыв в провинции {place} унёс жизни двух талибов"),
                &format!(
                    "В четверг в провинции {place} в результате взрыва придорожной бомбы \
                     погибли два члена движения «Талибан»."
                ),
            )
        };
        assert!(ru("Пактия").conflict(&ru("Пактика")));
        let fa = |place: &str| {
            entry_particulars(
                &format!("انفجار در {place} دو عضو طالبان را کشت"),
                &format!(
                    "منابع محلی گفتند که روز پنجشنبه انفجار ماین کنار جاده در ولایت {place} دو عضو طالبان را کشت."
                ),
            )
        };
        assert!(fa("پکتیا").conflict(&fa("پکتیکا")));
        // A copy that puts its headline's word in one place of the text, the original
        // word staying elsewhere.
        let russia = (
            "Russia Wants Taliban At SCO Meetings".to_owned(),
            "Russia wants the Taliban to attend SCO meetings, a group said. Russia has \
             hosted Taliban delegations before."
                .to_owned(),
        );
        let moscow = (
            "Moscow Wants Taliban At SCO Meetings".to_owned(),
            russia.1.replacen("Russia wants", "Moscow wants", 1),
        );
        assert!(!of(&russia).conflict(&of(&moscow)) && !of(&moscow).conflict(&of(&russia)));
        // Cyrillic and Persian notices.
        let ru = |person: &str, place: &str| {
            entry_particulars(
                &format!("Талибы назначили {person} губернатором провинции {place}"),
                &format!(
                    "Движение «Талибан» назначило {person} новым губернатором провинции \
                     {place}, сообщил официальный представитель талибов."
                ),
            )
        };
        assert!(ru("Абдурахмана Хаккани", "Тахар").conflict(&ru("Ахмадшаха Диндоста", "Гор")));
        let fa = |person: &str, place: &str| {
            entry_particulars(
                &format!("طالبان {person} را والی جدید {place} تعیین کردند"),
                &format!(
                    "سخنگوی طالبان گفت که {person} به عنوان والی جدید ولایت {place} تعیین شده است."
                ),
            )
        };
        assert!(fa("عبدالرحمن حقانی", "تخار").conflict(&fa("احمدشاه دین‌دوست", "غور")));
        assert!(!fa("عبدالرحمن حقانی", "تخار").conflict(&fa("عبدالرحمن حقانی", "تخار")));
    }

    #[test]
    fn respellings_are_near_and_names_a_consonant_apart_are_not() {
        for (a, b) in [
            ("shoigu", "shoygu"),
            ("mujahid", "mojahed"),
            ("zabihullah", "zabiullah"),
            ("muhammad", "mohammed"),
            ("haqqani", "haqani"),
            ("kandahar", "qandahar"),
            ("tashkent", "toshkent"),
            ("шойгу", "шоигу"),
            ("мухаммад", "мохаммед"),
            ("тоқаев", "токаев"),
            ("ҳамид", "хамид"),
            ("کابل", "کابول"),
            ("مجاهد", "مجاهید"),
        ] {
            assert!(near_spelling(a, b), "{a} / {b}");
        }
        for (a, b) in [
            ("paktia", "paktika"),
            ("iran", "iraq"),
            ("namangan", "samangan"),
            ("ahmad", "hamid"),
            ("kunar", "kunduz"),
            ("takhar", "ghor"),
            ("tuesday", "thursday"),
            ("пактия", "пактика"),
            ("иран", "ирак"),
            ("پکتیا", "پکتیکا"),
        ] {
            assert!(!near_spelling(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn a_report_that_adds_an_outlet_name_at_most_is_only_its_headline() {
        let title = "Russia Wants Taliban To Participate In SCO Meetings";
        assert!(entry_particulars(title, "").headline_only());
        assert!(
            entry_particulars(title, &format!("{title}  Afghanistan International"))
                .headline_only()
        );
        assert!(
            !entry_particulars(
                title,
                "The Taliban on Monday claimed that Sergei Shoigu said Russia wants them at SCO meetings."
            )
            .headline_only()
        );
    }

    #[test]
    fn reports_sharing_only_what_follows_their_leads_are_apart() {
        let background = "The Trans-Afghan railway would run 760 kilometres from Termez on the \
            Uzbek border through Mazar-i-Sharif and Kabul to Peshawar, giving the landlocked \
            countries of Central Asia their shortest route to the sea. The project is estimated \
            to cost about 4.8 billion dollars, and financing has not been found.";
        let deal = format!(
            "Uzbekistan and the Taliban signed an agreement in Tashkent on Monday to begin \
             building the first section of the railway between Termez and Mazar-i-Sharif next \
             spring, Uzbek officials said. {background}"
        );
        let pledge = format!(
            "Kazakhstan will invest in a railway line from Torghundi to Herat, its foreign \
             ministry said on Tuesday after talks with a visiting Taliban delegation in \
             Astana. {background}"
        );
        let introduced = format!("This report first appeared on a partner wire service. {deal}");
        let teaser = "Uzbekistan and the Taliban signed an agreement in Tashkent on Monday.";
        let report = |title: &str, text: &str| {
            (
                entry_particulars(title, text),
                crate::dedup::entry_shingles(title, text),
            )
        };
        let (a, a_sh) = report("Uzbekistan and Taliban sign railway deal", &deal);
        let (b, b_sh) = report("Kazakhstan pledges funds for Herat railway", &pledge);
        let (c, c_sh) = report("Railway deal signed in Tashkent", &introduced);
        let (d, d_sh) = report("Uzbekistan and Taliban sign railway deal", teaser);
        assert!(a.leads_apart(&a_sh, &b, &b_sh) && b.leads_apart(&b_sh, &a, &a_sh));
        // A line added above the lead, or a teaser: the lead is kept.
        assert!(!a.leads_apart(&a_sh, &c, &c_sh) && !c.leads_apart(&c_sh, &a, &a_sh));
        assert!(!a.leads_apart(&a_sh, &d, &d_sh));
    }
}
