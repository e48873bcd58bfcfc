//! Full-text search over stored entries (FTS5 index `entries_fts`, migration 0005), and
//! purging a removed source's entries.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Result, Store, from_ts, to_ts};

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchQuery<'a> {
    /// The user's words (see [`fts_query`]).
    pub text: &'a str,
    /// Only entries published (or, without a date, first seen) at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only these sources (all when empty).
    pub sources: &'a [String],
    /// At most this many stories.
    pub limit: usize,
}

/// One story found: its best-ranked entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    /// Story id.
    pub story_id: i64,
    /// Entry id.
    pub entry_id: i64,
    /// Source id of the entry.
    pub source: String,
    /// Outlet name.
    pub source_name: String,
    /// Entry title.
    pub title: String,
    /// Entry link, without tracking parameters.
    pub url: Option<String>,
    /// Publication time, when the feed gave one.
    pub published: Option<DateTime<Utc>>,
    /// When roundup first stored the entry.
    pub first_seen: DateTime<Utc>,
    /// Matching text with the matched words in `**`.
    pub snippet: String,
    /// bm25 rank (lower is better; title words weigh double).
    pub rank: f64,
    /// Other outlets that carried the same story.
    pub also_reported_by: u32,
}

/// Turns what a user types into an FTS5 query that cannot be a syntax error: every word
/// becomes a quoted phrase (so `-`, `:`, `"` and the like are plain text), a trailing `*`
/// keeps prefix search, and a bare `OR` between words stays an OR. Words are ANDed, so
/// a bare `AND` is dropped (not searched for as the word "and").
/// `None` when nothing searchable is left.
///
/// A word is searched in its Persian and its Arabic spelling of yeh and kaf (`ی`/`ي`,
/// `ک`/`ك`, and `ى`) and of digits (`1403`, `۱۴۰۳`, `١٤٠٣`): the index keeps
/// characters as outlets wrote them, and a reader typing on an Arabic keyboard layout,
/// or a year in ASCII digits, would otherwise find no Persian report ("كابل" is
/// "کابل").
pub fn fts_query(text: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        if word == "AND" {
            continue;
        }
        if word == "OR" {
            if parts.last().is_some_and(|p| p != "OR") {
                parts.push("OR".to_owned());
            }
            continue;
        }
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let word = word.trim_matches('"');
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let star = if prefix { "*" } else { "" };
        let mut spellings: Vec<String> = vec![word.to_owned()];
        for spelling in other_spellings(word) {
            if !spellings.contains(&spelling) {
                spellings.push(spelling);
            }
        }
        for split in spellings
            .iter()
            .flat_map(|w| zwnj_splits(w))
            .collect::<Vec<_>>()
        {
            if !spellings.contains(&split) {
                spellings.push(split);
            }
        }
        let mut quoted: Vec<String> = spellings
            .iter()
            .map(|w| format!("\"{}\"{star}", w.replace('"', "\"\"")))
            .collect();
        if let Some(stem) = stem_of(word).filter(|_| !prefix) {
            quoted.push(format!("\"{}\"*", stem.replace('"', "\"\"")));
        }
        parts.push(match quoted.as_slice() {
            [one] => one.clone(),
            many => format!("({})", many.join(" OR ")),
        });
    }
    while parts.last().is_some_and(|p| p == "OR") {
        parts.pop();
    }
    // Words are ANDed by juxtaposition, which FTS5 does not allow next to a bracketed
    // group of spellings: there the AND is written out.
    let mut query = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let before = &parts[i - 1];
            let group = |p: &str| p.starts_with('(');
            let and = before != "OR" && part != "OR" && (group(before) || group(part));
            query.push_str(if and { " AND " } else { " " });
        }
        query.push_str(part);
    }
    (!query.is_empty()).then_some(query)
}

/// Persian affixes written after a zero-width non-joiner (`می‌دانند`, `سال‌های`,
/// `سه‌شنبه`), which the index reads as a word boundary (FTS5's unicode61 tokenizer
/// splits at format characters) but many readers type without it (`میدانند`): the verb
/// prefixes, the plural suffixes and the superlative, and the weekday names' `شنبه`.
const ZWNJ_PREFIXES: [&str; 2] = ["نمی", "می"];
const ZWNJ_SUFFIXES: [&str; 5] = ["هایی", "های", "ها", "ترین", "شنبه"];

/// `word` as the two-word phrases it is indexed as when written with a ZWNJ after a
/// Persian prefix or before a suffix (`میدانند` → `می دانند`), each part at least two
/// letters. Empty for other words.
fn zwnj_splits(word: &str) -> Vec<String> {
    let letters = |s: &str| s.chars().count();
    if word.contains('\u{200C}') || word.contains(' ') {
        return Vec::new();
    }
    let mut splits = Vec::new();
    if let Some((prefix, rest)) = ZWNJ_PREFIXES
        .iter()
        .find_map(|p| word.strip_prefix(p).map(|rest| (p, rest)))
        .filter(|(_, rest)| letters(rest) >= 2)
    {
        splits.push(format!("{prefix} {rest}"));
    }
    if let Some((stem, suffix)) = ZWNJ_SUFFIXES
        .iter()
        .find_map(|s| word.strip_suffix(s).map(|stem| (stem, s)))
        .filter(|(stem, _)| letters(stem) >= 2)
    {
        splits.push(format!("{stem} {suffix}"));
    }
    splits
}

/// Fewest letters a stem must keep to be searched as a prefix: a shorter one ("war",
/// "oil", "мир") would match too many other words.
const MIN_STEM_CHARS: usize = 4;

/// The stem a search word is also searched by, as a prefix: Snowball's Russian stemmer
/// for a word in Cyrillic letters, its English one for a word in Latin letters, so that
/// "ключевая ставка" finds "ключевую ставку" and "talks" finds "talked". The index keeps
/// words as written; the word itself is searched too (an English stem is not always a
/// prefix of its word: "happy" → "happi"). Persian has no stemmer here.
fn stem_of(word: &str) -> Option<String> {
    use rust_stemmers::{Algorithm, Stemmer};
    let lower = word.to_lowercase();
    let algorithm = if lower.chars().all(|c| matches!(c, 'а'..='я' | 'ё')) {
        Algorithm::Russian
    } else if lower.chars().all(|c| c.is_ascii_lowercase()) {
        Algorithm::English
    } else {
        return None;
    };
    let stem = Stemmer::create(algorithm).stem(&lower).into_owned();
    (stem.chars().count() >= MIN_STEM_CHARS).then_some(stem)
}

/// `word` with its digits (ASCII, Persian, Arabic-Indic) as those from `zero` on, and
/// with yeh and kaf (`ي`/`ى`/`ی`, `ك`/`ک`) as `letters`, when given.
fn respelled(word: &str, letters: Option<(char, char)>, zero: char) -> String {
    let digit = |c: char, from: char| {
        char::from_u32(u32::from(zero) + (u32::from(c) - u32::from(from))).unwrap_or(c)
    };
    word.chars()
        .map(|c| match (c, letters) {
            ('\u{064A}' | '\u{0649}' | '\u{06CC}', Some((yeh, _))) => yeh,
            ('\u{0643}' | '\u{06A9}', Some((_, kaf))) => kaf,
            ('0'..='9', _) => digit(c, '0'),
            ('\u{06F0}'..='\u{06F9}', _) => digit(c, '\u{06F0}'),
            ('\u{0660}'..='\u{0669}', _) => digit(c, '\u{0660}'),
            (c, _) => c,
        })
        .collect()
}

/// The spellings a word is searched in besides its own: Persian (`ی`, `ک`, `۱۴۰۳`),
/// Arabic (`ي`, `ك`, `١٤٠٣`), and with ASCII digits (`1403`).
fn other_spellings(word: &str) -> [String; 3] {
    [
        respelled(word, Some(('\u{06CC}', '\u{06A9}')), '\u{06F0}'),
        respelled(word, Some(('\u{064A}', '\u{0643}')), '\u{0660}'),
        respelled(word, None, '0'),
    ]
}

impl Store {
    /// Adds the entries stored since the search index was last brought up to date, in
    /// id order, in one transaction (migration 0009: storing a fetch leaves this for
    /// later). Returns how many were added.
    ///
    /// # Errors
    /// On any SQLite failure (a read-only database, a lock held past the busy timeout);
    /// the index is then unchanged.
    pub fn update_search_index(&self) -> Result<usize> {
        // Read first: when the index is current (the daemon keeps it so), no write lock
        // is taken, so searching a database one may only read works without a warning.
        let behind: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM entries
                            WHERE id > (SELECT indexed_upto FROM search_state WHERE id = 1))",
            [],
            |r| r.get(0),
        )?;
        if !behind {
            return Ok(0);
        }
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let upto = super::entries::indexed_upto(&tx)?;
        let added = tx.execute(
            "INSERT INTO entries_fts (rowid, title, summary)
             SELECT id, title, summary FROM entries WHERE id > ?1 ORDER BY id",
            [upto],
        )?;
        if added > 0 {
            tx.execute(
                "UPDATE search_state
                 SET indexed_upto = max(?1, (SELECT COALESCE(max(id), 0) FROM entries))
                 WHERE id = 1",
                [upto],
            )?;
        }
        tx.commit()?;
        self.wrote();
        Ok(added)
    }

    /// Stories whose entries match `query`, best first (bm25), one hit per story. The
    /// search index is first brought up to date ([`Store::update_search_index`]); if
    /// that fails (a read-only database), the search runs on the index as it is and
    /// says so in a warning.
    ///
    /// # Errors
    /// On any SQLite failure of the search itself.
    pub fn search(&self, query: &SearchQuery<'_>) -> Result<Vec<SearchHit>> {
        if let Err(e) = self.update_search_index() {
            tracing::warn!(error = %e, "search index not brought up to date; recent entries may be missing");
        }
        let Some(fts) = fts_query(query.text) else {
            return Ok(Vec::new());
        };
        let sources = (!query.sources.is_empty())
            .then(|| serde_json::to_string(query.sources).unwrap_or_default());
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.story_id, e.id, e.source_id, s.name, e.title, e.link, e.published,
                    e.first_seen,
                    snippet(entries_fts, -1, '**', '**', '…', 16),
                    bm25(entries_fts, 2.0, 1.0) AS rank,
                    (SELECT count(DISTINCT x.source_id) FROM entries x
                      WHERE x.story_id = e.story_id AND x.source_id <> e.source_id)
             FROM entries_fts
             JOIN entries e ON e.id = entries_fts.rowid
             JOIN sources s ON s.id = e.source_id
             WHERE entries_fts MATCH ?1
               AND COALESCE(e.published, e.first_seen) >= ?2
               AND (?3 IS NULL OR e.source_id IN (SELECT value FROM json_each(?3)))
             ORDER BY rank
             LIMIT ?4",
        )?;
        let since = query.since.map_or(i64::MIN, to_ts);
        // A story's entries can all match: read enough rows to fill `limit` stories.
        let rows = i64::try_from(query.limit.saturating_mul(8)).unwrap_or(i64::MAX);
        let hits = stmt.query_map(params![fts, since, sources, rows], |r| {
            Ok(SearchHit {
                story_id: r.get(0)?,
                entry_id: r.get(1)?,
                source: r.get(2)?,
                source_name: r.get(3)?,
                title: r.get(4)?,
                url: r
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .map(crate::dedup::canonical::without_tracking),
                published: r.get::<_, Option<i64>>(6)?.map(from_ts),
                first_seen: from_ts(r.get(7)?),
                snippet: r.get(8)?,
                rank: r.get(9)?,
                also_reported_by: r.get(10)?,
            })
        })?;
        let mut out: Vec<SearchHit> = Vec::new();
        for hit in hits {
            let hit = hit?;
            if out.len() < query.limit && !out.iter().any(|h| h.story_id == hit.story_id) {
                out.push(hit);
            }
        }
        Ok(out)
    }

    /// Deletes a source's stored entries, the stories left without any entry, its fetch
    /// state and its row (`sources remove --purge`). One transaction. Returns the number
    /// of entries deleted.
    ///
    /// # Errors
    /// On any SQLite failure; nothing is deleted then.
    pub fn purge_source(&mut self, source_id: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let stories: Vec<i64> = tx
            .prepare("SELECT DISTINCT story_id FROM entries WHERE source_id = ?1")?
            .query_map([source_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let deleted = tx.execute("DELETE FROM entries WHERE source_id = ?1", [source_id])?;
        {
            let mut orphan = tx.prepare(
                "DELETE FROM stories WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.story_id = ?1)",
            )?;
            for story in stories {
                orphan.execute([story])?;
            }
        }
        // The deleted stories' exact keys (no cascade: see migration 0015), in one scan
        // of each table.
        for table in super::entries::EXACT_KEY_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE story_id NOT IN (SELECT id FROM stories)"),
                [],
            )?;
        }
        tx.execute("DELETE FROM fetch_state WHERE source_id = ?1", [source_id])?;
        tx.execute("DELETE FROM sources WHERE id = ?1", [source_id])?;
        tx.commit()?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_a_safe_fts_query() {
        // A word in Latin or Cyrillic letters is also searched by its stem, as a
        // prefix, when the stem keeps four letters or more.
        assert_eq!(
            fts_query("Taliban SCO").as_deref(),
            Some("(\"Taliban\" OR \"taliban\"*) AND \"SCO\"")
        );
        assert_eq!(
            fts_query("shoig* OR \"Lavrov\"").as_deref(),
            Some("\"shoig\"* OR (\"Lavrov\" OR \"lavrov\"*)")
        );
        assert_eq!(
            fts_query("war").as_deref(),
            Some("\"war\""),
            "a short stem is not widened"
        );
        assert_eq!(
            fts_query("ключевая ставка talks").as_deref(),
            Some(
                "(\"ключевая\" OR \"ключев\"*) AND (\"ставка\" OR \"ставк\"*) AND \
                 (\"talks\" OR \"talk\"*)"
            )
        );
        assert_eq!(fts_query("a-b:c").as_deref(), Some("\"a-b:c\""));
        assert_eq!(fts_query("say\"what").as_deref(), Some("\"say\"\"what\""));
        assert_eq!(fts_query("OR OR x OR").as_deref(), Some("\"x\""));
        assert_eq!(
            fts_query("Taliban AND SCO and").as_deref(),
            Some("(\"Taliban\" OR \"taliban\"*) AND \"SCO\" \"and\"")
        );
        assert_eq!(fts_query("  -- * "), None);
        assert_eq!(fts_query("طالبان").as_deref(), Some("\"طالبان\""));
        // Persian and Arabic yeh and kaf: either spelling finds both.
        assert_eq!(
            fts_query("كابل ايران*").as_deref(),
            Some("(\"كابل\" OR \"کابل\") AND (\"ايران\"* OR \"ایران\"*)")
        );
        assert_eq!(
            fts_query("1403").as_deref(),
            Some("(\"1403\" OR \"۱۴۰۳\" OR \"١٤٠٣\")")
        );
        assert_eq!(
            fts_query("۱۴۰۳").as_deref(),
            Some("(\"۱۴۰۳\" OR \"١٤٠٣\" OR \"1403\")")
        );
        // Typed without the ZWNJ after a Persian prefix or before a suffix: also
        // searched as the two words the index holds.
        assert_eq!(
            fts_query("میدانند").as_deref(),
            Some("(\"میدانند\" OR \"ميدانند\" OR \"می دانند\")")
        );
        assert_eq!(
            fts_query("سهشنبه سالهای").as_deref(),
            Some("(\"سهشنبه\" OR \"سه شنبه\") AND (\"سالهای\" OR \"سالهاي\" OR \"سال های\")")
        );
        assert_eq!(
            fts_query("می‌دانند").as_deref(),
            Some("(\"می‌دانند\" OR \"مي‌دانند\")"),
            "typed with its ZWNJ: searched as typed"
        );
        assert_eq!(
            fts_query("کابل OR x y").as_deref(),
            Some("(\"کابل\" OR \"كابل\") OR \"x\" \"y\"")
        );
    }
}
