//! Entries and stories: the per-fetch write (one transaction) and the digest query.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::bands::{BandCache, RECENT_BANDS_MAX};
use super::sources::RedirectSeen;
use super::{Result, Store, from_ts, to_ts};
use crate::dedup::{self, KeyKind, MatchPolicy, minhash};
use crate::fetch::ResponseMeta;
use crate::model::{Item, ParsedBody};

/// What one fetch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// Entries stored for the first time.
    pub new: usize,
    /// Known entries whose title, body or dates changed.
    pub updated: usize,
    /// Known entries that were unchanged.
    pub unchanged: usize,
    /// New entries that joined an existing story (reported by another outlet or
    /// republished).
    pub merged: usize,
}

/// One entry of a story in the digest window, with its outlet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    /// Story id.
    pub story_id: i64,
    /// When the story was first seen.
    pub story_first_seen: DateTime<Utc>,
    /// Source id.
    pub source_id: String,
    /// Outlet name.
    pub source_name: String,
    /// Outlet region.
    pub region: String,
    /// Entry title.
    pub title: String,
    /// Entry link.
    pub link: Option<String>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Plain-text summary.
    pub summary: String,
    /// When this entry was first seen.
    pub first_seen: DateTime<Utc>,
}

/// One successful fetch to write (see [`Store::store_fetches`]).
#[derive(Debug, Clone, Copy)]
pub struct FetchWrite<'a> {
    /// The source.
    pub source_id: &'a str,
    /// Status and validators of the response.
    pub meta: &'a ResponseMeta,
    /// The redirect seen for the configured URL, if any.
    pub redirect: Option<&'a RedirectSeen>,
    /// The feed's items.
    pub items: &'a [Item],
    /// When it was fetched.
    pub now: DateTime<Utc>,
    /// The body the items were parsed from; `None` forgets the one stored, so that the
    /// next fetch is parsed whatever it brings.
    pub parsed: Option<&'a ParsedBody>,
}

impl Store {
    /// Writes one successful fetch in a single transaction: new entries join or start
    /// stories, edited entries are updated in place (first-seen kept), and the source's
    /// validators and health are updated.
    ///
    /// # Errors
    /// On any SQLite failure; the transaction is rolled back, nothing is half-written.
    pub fn store_fetch(
        &mut self,
        source_id: &str,
        meta: &ResponseMeta,
        redirect: Option<&RedirectSeen>,
        items: &[Item],
        policy: MatchPolicy,
        now: DateTime<Utc>,
    ) -> Result<StoreReport> {
        let write = FetchWrite {
            source_id,
            meta,
            redirect,
            items,
            now,
            parsed: None,
        };
        let mut results = self.store_fetches(&[write], policy)?;
        results
            .pop()
            .unwrap_or(Err(super::StoreError::Task("no result".to_owned())))
    }

    /// Writes several fetches in one transaction (group commit: one WAL write and one
    /// full-text index flush for all of them). If any of them fails, that transaction
    /// is rolled back and each fetch is written again in a transaction of its own, so
    /// each feed stays all-or-nothing and only the failing one gets an error. (Savepoints
    /// per feed would do the same in one pass, but FTS5 flushes its pending index at
    /// every savepoint, which cost more than the whole group commit saved.) Returns one
    /// result per write, in order.
    ///
    /// # Errors
    /// When a transaction cannot begin; then nothing is written.
    pub fn store_fetches(
        &mut self,
        writes: &[FetchWrite<'_>],
        policy: MatchPolicy,
    ) -> Result<Vec<Result<StoreReport>>> {
        match self.write_in_one_transaction(writes, policy) {
            Ok(reports) => Ok(reports.into_iter().map(Ok).collect()),
            Err(e) if writes.len() <= 1 => Ok(vec![Err(e)]),
            Err(_) => Ok(writes
                .iter()
                .map(|w| {
                    self.write_in_one_transaction(std::slice::from_ref(w), policy)
                        .map(|mut r| r.pop().unwrap_or_default())
                })
                .collect()),
        }
    }

    fn write_in_one_transaction(
        &mut self,
        writes: &[FetchWrite<'_>],
        policy: MatchPolicy,
    ) -> Result<Vec<StoreReport>> {
        let (Some(now), Some(earliest)) = (
            writes.iter().map(|w| w.now).max(),
            writes.iter().map(|w| w.now).min(),
        ) else {
            return Ok(Vec::new());
        };
        let prune = self
            .last_prune
            .is_none_or(|t| now - t >= chrono::Duration::hours(1) || now < t);
        // The band cache is put back only when the transaction commits: after an error
        // or a panic it may hold keys of the rolled-back transaction, and the next write
        // loads it again from the database.
        let mut bands = self.bands.take();
        let reports =
            write_transaction(&mut self.conn, &mut bands, writes, policy, earliest, prune)?;
        self.bands = bands;
        if prune {
            self.last_prune = Some(now);
        }
        self.wrote();
        Ok(reports)
    }

    /// Every entry of every story first seen in `[start, end)`, grouped by story and
    /// ordered within a story by publication (earliest report first).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn digest_entries(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<DigestEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.first_seen, e.source_id, src.name, src.region, e.title, e.link,
                    e.published, e.summary, e.first_seen
             FROM stories s
             JOIN entries e ON e.story_id = s.id
             JOIN sources src ON src.id = e.source_id
             WHERE s.first_seen >= ?1 AND s.first_seen < ?2
             ORDER BY s.id, COALESCE(e.published, e.first_seen), e.id",
        )?;
        // Stored times are whole seconds: round the exclusive end up so that an entry
        // stored earlier in the same second as `end` is inside the window.
        let end_ts = to_ts(end) + i64::from(end.timestamp_subsec_nanos() > 0);
        let rows = stmt.query_map(params![to_ts(start), end_ts], |r| {
            Ok(DigestEntry {
                story_id: r.get(0)?,
                story_first_seen: from_ts(r.get(1)?),
                source_id: r.get(2)?,
                source_name: r.get(3)?,
                region: r.get(4)?,
                title: r.get(5)?,
                link: r.get(6)?,
                published: r.get::<_, Option<i64>>(7)?.map(from_ts),
                summary: r.get(8)?,
                first_seen: from_ts(r.get(9)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The story each item would join if it were stored now, without writing anything:
    /// the same exact-key and near-duplicate matching as a fetch (`None`: a new story).
    /// All items are looked up in one read transaction (benchmarks and diagnostics).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn matching_stories(
        &mut self,
        items: &[Item],
        policy: MatchPolicy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<i64>>> {
        let tx = self.conn.transaction()?;
        let window = window_start(&tx, policy, now)?;
        let lsh = Lsh {
            cache: BandCache::current(&mut self.bands, &tx)?,
            window,
        };
        let mut story_of_key = tx.prepare_cached(STORY_OF_KEY)?;
        let mut reports = tx.prepare_cached(&reports_sql())?;
        let found = items
            .iter()
            .map(|item| {
                match find_stories(&tx, &mut story_of_key, lsh.cache, item)?
                    .stories
                    .first()
                {
                    Some(&id) => Ok(Some(id)),
                    None => Ok(
                        find_near_duplicate(&tx, &mut reports, item, "", to_ts(now), &lsh)?
                            .map(|(story, _)| story),
                    ),
                }
            })
            .collect();
        drop((story_of_key, reports));
        tx.finish()?;
        found
    }

    /// The story an entry belongs to (evaluation and tests).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn story_of(&self, source_id: &str, entry_key: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT story_id FROM entries WHERE source_id = ?1 AND entry_key = ?2",
                params![source_id, entry_key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Total number of stories and entries (tests and reports).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn counts(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM entries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

/// The band index inside one write transaction: the connection's cache and the first
/// story id of the matching window (from [`window_start`]).
struct Lsh<'c> {
    cache: &'c mut BandCache,
    window: i64,
}

/// One write transaction for `writes` (see [`Store::store_fetches`]). On error the
/// transaction is rolled back and `bands` may hold keys it added: the caller drops it.
fn write_transaction(
    conn: &mut Connection,
    bands: &mut Option<BandCache>,
    writes: &[FetchWrite<'_>],
    policy: MatchPolicy,
    earliest: DateTime<Utc>,
    prune: bool,
) -> Result<Vec<StoreReport>> {
    let tx = conn.transaction()?;
    let window = window_start(&tx, policy, earliest)?;
    let cache = BandCache::current(bands, &tx)?;
    if prune {
        cache.prune(&tx, window)?;
    }
    cache.fold(&tx, window, RECENT_BANDS_MAX)?;
    fold_recent_keys(&tx, KEYS_RECENT_MAX)?;
    let mut lsh = Lsh { cache, window };
    let mut fts = FtsChanges::load(&tx)?;
    let mut statements = EntryStatements::prepare(&tx)?;
    let reports = writes
        .iter()
        .map(|w| {
            let report = write_fetch(&tx, &mut statements, w, &mut lsh, &mut fts)?;
            // After each feed, so that runs are about RECENT_BANDS_MAX keys each (one
            // column) whatever the size of the group.
            lsh.cache.fold(&tx, lsh.window, RECENT_BANDS_MAX)?;
            Ok(report)
        })
        .collect::<Result<Vec<_>>>()?;
    drop(statements);
    fts.apply(&tx)?;
    tx.commit()?;
    Ok(reports)
}

/// `SELECT` of the story holding an exact key ([`find_stories`]): a key is in
/// `story_key_recent` until [`fold_recent_keys`] moves it to `story_key_hashes`
/// (migration 0017), in one of the two, never both.
const STORY_OF_KEY: &str = "SELECT story_id FROM story_key_recent WHERE hash = ?1
     UNION ALL SELECT story_id FROM story_key_hashes WHERE hash = ?1 LIMIT 1";

/// The tables holding exact keys: a key is in one of them (see [`STORY_OF_KEY`]).
pub(super) const EXACT_KEY_TABLES: [&str; 2] = ["story_key_hashes", "story_key_recent"];

/// Rows of `story_key_recent` at which a write transaction moves them into
/// `story_key_hashes` ([`fold_recent_keys`]). Each key added to the large table lands
/// on a random leaf page, and each page a transaction changes is one page written to
/// the WAL; the small table's few dozen pages are rewritten by every transaction
/// anyway, and a fold writes each of the large table's leaf pages once for all the keys
/// it moves. By estimate, 32 768 keys (~70 pages of 8 KiB) make the two costs about
/// equal in the 10 000-feed cold cycle (~800 keys a transaction, ~1 600 leaf pages),
/// where a key cost about a page before (BENCHMARKS.md).
const KEYS_RECENT_MAX: i64 = 32_768;

/// Moves the exact keys of `story_key_recent` into `story_key_hashes` when it holds
/// `max` or more (in hash order: one pass over the large table's leaves).
fn fold_recent_keys(tx: &Connection, max: i64) -> Result<bool> {
    let held: i64 = tx
        .prepare_cached("SELECT count(*) FROM story_key_recent")?
        .query_row([], |r| r.get(0))?;
    if held < max {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT OR IGNORE INTO story_key_hashes (hash, story_id)
         SELECT hash, story_id FROM story_key_recent ORDER BY hash",
    )?
    .execute([])?;
    tx.prepare_cached("DELETE FROM story_key_recent")?
        .execute([])?;
    Ok(true)
}

/// The statements every entry's write runs, taken from the connection's statement cache
/// once per transaction: taking one for each use copies its SQL and hashes it twice,
/// which for the few statements run for every entry of a cold cycle came to about 2 %
/// of its CPU samples (BENCHMARKS.md).
struct EntryStatements<'c> {
    /// The entry stored under a source and key.
    existing: rusqlite::CachedStatement<'c>,
    /// [`STORY_OF_KEY`].
    story_of_key: rusqlite::CachedStatement<'c>,
    new_story: rusqlite::CachedStatement<'c>,
    new_entry: rusqlite::CachedStatement<'c>,
    /// A new exact key of a story (into `story_key_recent`).
    add_key: rusqlite::CachedStatement<'c>,
    /// [`reports_sql`].
    reports: rusqlite::CachedStatement<'c>,
    /// [`super::bands::PENDING_INSERT`].
    pending_keys: rusqlite::CachedStatement<'c>,
}

impl<'c> EntryStatements<'c> {
    fn prepare(tx: &'c Connection) -> Result<EntryStatements<'c>> {
        Ok(EntryStatements {
            existing: tx.prepare_cached(
                "SELECT id, story_id, content_hash FROM entries WHERE source_id = ?1 AND entry_key = ?2",
            )?,
            story_of_key: tx.prepare_cached(STORY_OF_KEY)?,
            new_story: tx.prepare_cached("INSERT INTO stories (first_seen) VALUES (?1)")?,
            new_entry: tx.prepare_cached(
                "INSERT INTO entries (source_id, entry_key, story_id, title, link, canonical_url,
                     published, updated, summary, content_hash, first_seen, last_changed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            )?,
            add_key: tx.prepare_cached(
                "INSERT INTO story_key_recent (hash, story_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?,
            reports: tx.prepare_cached(&reports_sql())?,
            pending_keys: tx.prepare_cached(super::bands::PENDING_INSERT)?,
        })
    }
}

/// Entries with ids up to this are in the search index (migration 0009).
pub(super) fn indexed_upto(tx: &Connection) -> Result<i64> {
    Ok(tx
        .prepare_cached("SELECT indexed_upto FROM search_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// One fetch's entries and fetch state, inside the caller's transaction.
fn write_fetch<'a>(
    tx: &Connection,
    statements: &mut EntryStatements<'_>,
    w: &FetchWrite<'a>,
    lsh: &mut Lsh<'_>,
    fts: &mut FtsChanges<'a>,
) -> Result<StoreReport> {
    let mut report = StoreReport::default();
    for item in w.items {
        upsert_entry(tx, statements, w, item, lsh, &mut report, fts)?;
    }
    tx.prepare_cached(
        "UPDATE fetch_state SET etag = ?2, last_modified = ?3, last_fetch_at = ?4,
             last_success_at = ?4, last_status = ?5, last_error = NULL,
             consecutive_failures = 0, retry_after_until = NULL, body_hash = ?6,
             feed_ttl = ?7, entry_hashes = ?8
         WHERE source_id = ?1",
    )?
    .execute(params![
        w.source_id,
        w.meta.etag,
        w.meta.last_modified,
        to_ts(w.now),
        w.meta.status,
        w.parsed.map(|p| p.hash),
        w.parsed.and_then(|p| p.ttl),
        w.parsed.map(|p| p.entries.concat())
    ])?;
    super::sources::record_redirect(tx, w.source_id, w.redirect)?;
    Ok(report)
}

/// Full-text index changes of one write transaction, applied in rowid order just before
/// it commits. FTS5 flushes its pending postings to a new segment whenever a statement
/// journal opens or rowids go backwards, so writing them row by row (as triggers did
/// before migration 0007) made one segment per entry.
///
/// Only entries the index already covers (ids up to `search_state.indexed_upto`,
/// migration 0009) are changed here: an edit replaces their postings, and a new entry
/// that reuses a covered id (after a purge freed it) is indexed at once. Newer entries
/// are indexed later, as stored then, by [`Store::update_search_index`].
struct FtsChanges<'a> {
    indexed_upto: i64,
    by_entry: BTreeMap<i64, FtsChange<'a>>,
}

#[derive(Default)]
struct FtsChange<'a> {
    /// Title and summary indexed before this transaction, to remove (edited entries).
    old: Option<(String, String)>,
    /// Title and summary to index now.
    new: Option<(&'a str, &'a str)>,
}

impl<'a> FtsChanges<'a> {
    fn load(tx: &Connection) -> Result<Self> {
        Ok(FtsChanges {
            indexed_upto: indexed_upto(tx)?,
            by_entry: BTreeMap::new(),
        })
    }

    /// Whether the index covers `entry` (its postings must follow its edits).
    fn covers(&self, entry: i64) -> bool {
        entry <= self.indexed_upto
    }

    /// Whether `entry` is untouched so far in this transaction, so that its indexed
    /// text is still the stored one.
    fn untouched(&self, entry: i64) -> bool {
        !self.by_entry.contains_key(&entry)
    }

    /// Index `item`'s text for `entry`, replacing `old` (the text indexed before this
    /// transaction, if any and not already recorded).
    fn index(&mut self, entry: i64, old: Option<(String, String)>, item: &'a Item) {
        let change = self.by_entry.entry(entry).or_default();
        if old.is_some() {
            change.old = old;
        }
        change.new = Some((&item.title, &item.summary));
    }

    fn apply(self, tx: &Connection) -> Result<()> {
        let mut remove = tx.prepare_cached(
            "INSERT INTO entries_fts (entries_fts, rowid, title, summary)
             VALUES ('delete', ?1, ?2, ?3)",
        )?;
        let mut add = tx.prepare_cached(
            "INSERT INTO entries_fts (rowid, title, summary) VALUES (?1, ?2, ?3)",
        )?;
        for (id, change) in self.by_entry {
            if let Some((title, summary)) = change.old {
                remove.execute(params![id, title, summary])?;
            }
            if let Some((title, summary)) = change.new {
                add.execute(params![id, title, summary])?;
            }
        }
        Ok(())
    }
}

/// Writes `item` of fetch `w` (its source, its time).
fn upsert_entry<'a>(
    tx: &Connection,
    statements: &mut EntryStatements<'_>,
    w: &FetchWrite<'_>,
    item: &'a Item,
    lsh: &mut Lsh<'_>,
    report: &mut StoreReport,
    fts: &mut FtsChanges<'a>,
) -> Result<()> {
    let (source_id, now) = (w.source_id, w.now);
    let mut existing: Option<(i64, i64, String)> = statements
        .existing
        .query_row(params![source_id, item.entry_key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if existing
        .as_ref()
        .is_some_and(|(_, _, hash)| *hash == item.content_hash)
    {
        // Refetched unchanged (the fetch path skips most such entries before they get
        // here, by their fingerprint): nothing to look up or write.
        report.unchanged += 1;
        return Ok(());
    }
    let exact = find_stories(tx, &mut statements.story_of_key, lsh.cache, item)?;
    let matches = &exact.stories;
    if existing.is_none() {
        existing = rekeyed_entry(tx, source_id, item, matches)?;
        if existing
            .as_ref()
            .is_some_and(|(_, _, hash)| *hash == item.content_hash)
        {
            report.unchanged += 1;
            return Ok(());
        }
    }
    // Band keys the entry's story already has, when known from the lookup.
    let mut held = None;
    let story_id = match existing {
        Some((entry_id, story_id, _)) => {
            if fts.covers(entry_id) {
                let old = if fts.untouched(entry_id) {
                    Some(
                        tx.prepare_cached("SELECT title, summary FROM entries WHERE id = ?1")?
                            .query_row([entry_id], |r| Ok((r.get(0)?, r.get(1)?)))?,
                    )
                } else {
                    None
                };
                fts.index(entry_id, old, item);
            }
            tx.prepare_cached(
                "UPDATE entries SET title = ?2, link = ?3, canonical_url = ?4, published = ?5,
                     updated = ?6, summary = ?7, content_html = NULL, content_hash = ?8,
                     last_changed = ?9
                 WHERE id = ?1",
            )?
            .execute(params![
                entry_id,
                item.title,
                item.link,
                item.canonical_url,
                item.published.map(to_ts),
                item.updated.map(to_ts),
                item.summary,
                item.content_hash,
                to_ts(now)
            ])?;
            report.updated += 1;
            merge_stories(tx, lsh, story_id, matches)?
        }
        None => {
            let found = match matches.first() {
                Some(&first) if matches.len() == 1 && exact.by_text == Some(first) => {
                    // A report of the same words: the story has its text's keys.
                    held = Some(keys_held_by_text_match(tx, lsh, item, first)?);
                    Some(first)
                }
                Some(&first) => Some(merge_stories(tx, lsh, first, &matches[1..])?),
                None => find_near_duplicate(
                    tx,
                    &mut statements.reports,
                    item,
                    source_id,
                    to_ts(now),
                    lsh,
                )?
                .map(|(story, bands)| {
                    held = Some(bands);
                    story
                }),
            };
            let story_id = match found {
                Some(id) => {
                    report.merged += 1;
                    id
                }
                None => {
                    held = Some(Vec::new());
                    statements.new_story.execute([to_ts(now)])?;
                    tx.last_insert_rowid()
                }
            };
            statements.new_entry.execute(params![
                source_id,
                item.entry_key,
                story_id,
                item.title,
                item.link,
                item.canonical_url,
                item.published.map(to_ts),
                item.updated.map(to_ts),
                item.summary,
                item.content_hash,
                to_ts(now)
            ])?;
            let entry_id = tx.last_insert_rowid();
            if fts.covers(entry_id) {
                fts.index(entry_id, None, item);
            }
            report.new += 1;
            story_id
        }
    };
    // A key found is held already, by this story now (the stories found were merged).
    for (_, hash) in story_keys(item).filter(|(_, hash)| !exact.found.contains(hash)) {
        statements.add_key.execute(params![hash, story_id])?;
        lsh.cache.add_exact(tx, hash)?;
    }
    lsh.cache.add_with(
        tx,
        &mut statements.pending_keys,
        &item.bands,
        story_id,
        held.as_deref(),
    )
}

/// The entry `item` is under another key, if any: one of the same source in a story it
/// matches by exact key, with the same title and canonical link. Some feeds give an
/// entry a new guid at every fetch (a timestamp or session in it); each fetch would
/// otherwise add the whole feed again as new entries. The entry takes the new key, so
/// the next fetch finds it directly. An article republished under a new guid with another
/// title stays a second entry of its story.
fn rekeyed_entry(
    tx: &Connection,
    source_id: &str,
    item: &Item,
    matches: &[i64],
) -> Result<Option<(i64, i64, String)>> {
    if matches.is_empty() {
        // Most new entries: nothing to look for, and no statement to take.
        return Ok(None);
    }
    let mut same = tx.prepare_cached(
        "SELECT id, content_hash FROM entries
         WHERE story_id = ?1 AND source_id = ?2 AND title = ?3 AND canonical_url IS ?4
         LIMIT 1",
    )?;
    for &story in matches {
        let found: Option<(i64, String)> = same
            .query_row(
                params![story, source_id, item.title, item.canonical_url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, hash)) = found {
            tx.prepare_cached("UPDATE entries SET entry_key = ?2 WHERE id = ?1")?
                .execute(params![id, item.entry_key])?;
            return Ok(Some((id, story, hash)));
        }
    }
    Ok(None)
}

/// Most seconds between the publication of two reports that a shared headline alone
/// makes one story (see [`find_near_duplicate`]): an aggregator lists an article within
/// hours; one outlet's daily notices under one headline are a day apart.
const HEADLINE_MATCH_SECS: u64 = 12 * 3600;

/// Most candidate stories verified per entry (newest first); bounds the worst case.
const MAX_CANDIDATES: usize = 32;
/// Entries of a candidate story compared with the new one.
const MAX_ENTRIES_COMPARED: usize = 8;

/// The first story id inside the near-duplicate matching window before `now`: the story
/// first seen earliest within the window (one seek on `stories(first_seen)`), or the
/// next id when none is. Story ids grow with first-seen time (a story merged into an
/// older one keeps the older id and time), so the window is this id and every later one.
fn window_start(tx: &Connection, policy: MatchPolicy, now: DateTime<Utc>) -> Result<i64> {
    let window = i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX);
    let cutoff = to_ts(now).saturating_sub(window);
    Ok(tx
        .prepare_cached(
            "SELECT COALESCE(
                 (SELECT id FROM stories WHERE first_seen >= ?1 ORDER BY first_seen, id LIMIT 1),
                 (SELECT COALESCE(max(id), 0) + 1 FROM stories))",
        )?
        .query_row([cutoff], |r| r.get(0))?)
}

/// Jaccard similarity at which a verified candidate is taken without reading more band
/// blocks. Any other candidate at least as similar to the entry is then within Jaccard
/// distance 2 × (1 − this) = 1 − [`minhash::JACCARD_THRESHOLD`] of the one taken (the
/// Jaccard distance is a metric), so the two would verify as one story themselves.
const SURE_JACCARD: f64 = 1.0 - (1.0 - minhash::JACCARD_THRESHOLD) / 2.0;

/// Later reports of a verified candidate story compared for a Jaccard of
/// [`SURE_JACCARD`] (each costs a normalisation of its text, about as much as two or
/// three band blocks read).
const MORE_REPORTS_FOR_SURE: usize = 3;

/// The `SELECT` of a story's first reports that [`find_near_duplicate`] compares (its
/// `texts`).
fn reports_sql() -> String {
    format!(
        "SELECT title, summary, source_id, COALESCE(published, first_seen) FROM entries
         WHERE story_id = ?1 ORDER BY id LIMIT {MAX_ENTRIES_COMPARED}"
    )
}

/// The story `item` is a verified near-duplicate of, if any: LSH candidates within the
/// window, each verified on exact shingle similarity against its reports; the most
/// similar wins. A shared band alone never merges.
///
/// Candidates are verified as they are found: first those of pending keys (no read),
/// then those of each block read, newest run first. A syndicated copy shares most of
/// its band keys with its story, in as many blocks; the first story with a report
/// that verifies at [`SURE_JACCARD`] ends the lookup (a story that verifies less closely
/// has [`MORE_REPORTS_FOR_SURE`] more of its reports compared, since the third outlet
/// running one wire text is closer to the second than to the original), and the blocks
/// left unread are taken to hold the story's keys (they are not stored again).
///
/// A candidate found by its headline ([`dedup::headline_keys`]) whose shingles do not
/// verify is taken when the two reports come from two sources, were published within
/// [`HEADLINE_MATCH_SECS`] of each other, share a headline key, and one of them is only
/// its headline ([`dedup::Particulars::headline_only`]), with the least score that
/// verifies.
/// `source_id` is the entry's source, `now` when it was fetched (its time without a date),
/// `texts` the statement of [`reports_sql`].
fn find_near_duplicate(
    tx: &Connection,
    texts: &mut rusqlite::Statement<'_>,
    item: &Item,
    source_id: &str,
    now: i64,
    lsh: &Lsh<'_>,
) -> Result<Option<(i64, Vec<i64>)>> {
    if item.bands.is_empty() {
        return Ok(None);
    }
    let mut lookup = lsh.cache.lookup(&item.bands, lsh.window);
    let at = item.published.map_or(now, to_ts);
    // The entry's headline keys, made at its first candidate from another source
    // published about when it was.
    let mut headline: Option<Vec<i64>> = None;
    let mut seen: Vec<i64> = Vec::new();
    let mut best: Option<(i64, f64)> = None;
    // The entry's particulars, made when a first candidate's shingles verify (most
    // entries have none, and this normalises the text again).
    let mut particulars = None;
    // The entry's shingle set, made at its first candidate (`item.shingles` are in text
    // order, repeats kept: most entries have no candidate to compare them with).
    let mut shingle_set: Option<Vec<u64>> = None;
    let (mut checked, mut sure) = (0, false);
    loop {
        // Stories found since the last pass, newest first.
        let mut fresh: Vec<i64> = lookup.found[checked..]
            .iter()
            .map(|&(_, story)| story)
            .filter(|s| !seen.contains(s))
            .collect();
        checked = lookup.found.len();
        fresh.sort_unstable_by(|a, b| b.cmp(a));
        fresh.dedup();
        for story in fresh.into_iter().take(MAX_CANDIDATES - seen.len()) {
            seen.push(story);
            let rows = texts.query_map([story], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            // One verified report is enough to score a story: its earliest reports are
            // compared first. Once one verifies (not closely), up to
            // [`MORE_REPORTS_FOR_SURE`] later ones are compared for Jaccard alone.
            let mut scored = 0;
            for row in rows {
                let (title, summary, their_source, their_at) = row?;
                let shingles: &[u64] =
                    shingle_set.get_or_insert_with(|| minhash::into_set(item.shingles.clone()));
                if scored > 0 {
                    // The story verified, but not at SURE_JACCARD. Another of its reports
                    // as close as that (a copy of the same wire text an outlet ran
                    // earlier) ends the lookup just as well: SURE_JACCARD's bound holds
                    // for whichever report was compared.
                    let jaccard = dedup::report_jaccard(shingles, &title, &summary);
                    if jaccard >= SURE_JACCARD {
                        if best.is_none_or(|(_, b)| jaccard > b) {
                            best = Some((story, jaccard));
                        }
                        sure = true;
                        break;
                    }
                    scored += 1;
                    if scored > MORE_REPORTS_FOR_SURE {
                        break;
                    }
                    continue;
                }
                let within_hours = at.abs_diff(their_at) <= HEADLINE_MATCH_SECS;
                // (score, Jaccard, their particulars, found by the headline alone)
                let verified = match dedup::similar_report(shingles, &title, &summary) {
                    Some(report) => {
                        let (score, jaccard) = report.similar;
                        let mine = particulars.get_or_insert_with(|| {
                            dedup::entry_particulars(&item.title, &item.summary)
                        });
                        if mine.leads_apart(shingles, &report.particulars, &report.shingles) {
                            // Only what follows the two leads is shared: background
                            // paragraphs an outlet reuses under new reports.
                            continue;
                        }
                        Some((score, jaccard, report.particulars, false))
                    }
                    None if their_source != source_id && within_hours => {
                        let keys =
                            headline.get_or_insert_with(|| dedup::headline_keys(&item.title));
                        dedup::headline_keys(&title)
                            .iter()
                            .any(|k| keys.contains(k))
                            .then(|| {
                                (
                                    minhash::JACCARD_THRESHOLD,
                                    0.0,
                                    dedup::entry_particulars(&title, &summary),
                                    true,
                                )
                            })
                    }
                    None => None,
                };
                if let Some((score, jaccard, their_particulars, by_headline)) = verified {
                    let mine = particulars.get_or_insert_with(|| {
                        dedup::entry_particulars(&item.title, &item.summary)
                    });
                    if mine.conflict(&their_particulars) {
                        // Another report from the same template (other figures or names in the
                        // same places): not this story, whatever its shingles say.
                        continue;
                    }
                    let headlines = (mine.headline_only(), their_particulars.headline_only());
                    if by_headline && headlines == (false, false) {
                        // Found by a shared headline, but neither is only its headline:
                        // two articles under one headline are left to their texts.
                        continue;
                    }
                    if headlines == (true, true) && !within_hours {
                        // Two headlines alone, a day or more apart (an aggregator's
                        // listings of one outlet's daily notices): two reports.
                        continue;
                    }
                    if best.is_none_or(|(_, b)| score > b) {
                        best = Some((story, score));
                    }
                    sure = jaccard >= SURE_JACCARD;
                    if sure {
                        break;
                    }
                    scored = 1;
                }
            }
            if sure {
                break;
            }
        }
        if sure || seen.len() >= MAX_CANDIDATES || !lookup.read_next(tx, lsh.window)? {
            break;
        }
    }
    // The band keys the chosen story already has, so that they are not stored again.
    Ok(best.map(|(story, _)| {
        let held = lookup
            .found
            .iter()
            .filter(|&&(_, s)| s == story)
            .map(|&(band, _)| band)
            .chain(lookup.unread())
            .collect();
        (story, held)
    }))
}

/// The hashes of `item`'s exact keys, as stored in `story_key_hashes` (migration 0015).
fn story_keys(item: &Item) -> impl Iterator<Item = (KeyKind, i64)> {
    let url = item.canonical_url.as_deref().map(|k| (KeyKind::Url, k));
    let text = item.text_fingerprint.as_deref().map(|k| (KeyKind::Text, k));
    url.into_iter()
        .chain(text)
        .map(|(kind, key)| (kind, dedup::key_hash(kind.as_str(), key)))
}

/// Every story sharing an exact key with `item`, oldest first (`story_of_key` is the
/// statement of [`STORY_OF_KEY`]). A key that `cache`'s filter says is not stored is
/// not looked up.
fn find_stories(
    tx: &Connection,
    story_of_key: &mut rusqlite::Statement<'_>,
    cache: &mut BandCache,
    item: &Item,
) -> Result<ExactMatches> {
    let mut found = ExactMatches::default();
    for (kind, hash) in story_keys(item) {
        if !cache.may_hold_exact(tx, hash)? {
            continue;
        }
        if let Some(id) = story_of_key
            .query_row([hash], |r| r.get::<_, i64>(0))
            .optional()?
        {
            found.stories.push(id);
            found.found.push(hash);
            if kind == KeyKind::Text {
                found.by_text = Some(id);
            }
        }
    }
    found.stories.sort_unstable();
    found.stories.dedup();
    Ok(found)
}

/// The stories an entry shares an exact key with ([`find_stories`]).
#[derive(Debug, Default)]
struct ExactMatches {
    /// Every such story, oldest first.
    stories: Vec<i64>,
    /// The story of the entry's text fingerprint: it has a report of the same
    /// normalised title and text.
    by_text: Option<i64>,
    /// The hashes of the entry's keys that were found.
    found: Vec<i64>,
}

/// The band keys of `item` that `story` already holds, when `story` has a report of
/// the same normalised title and text (its text fingerprint): the LSH band keys and
/// the lead key are made from those words alone, so the story has them all; only the
/// headline keys, which also follow the title's separators (" | ", " - "), are looked
/// up. Looking up every key read each block holding one (all of them, for a copy),
/// about 1 % of a cold fetch cycle's CPU.
fn keys_held_by_text_match(
    tx: &Connection,
    lsh: &Lsh<'_>,
    item: &Item,
    story: i64,
) -> Result<Vec<i64>> {
    let headline = dedup::headline_keys(&item.title);
    let (headline, mut held): (Vec<i64>, Vec<i64>) =
        item.bands.iter().partition(|k| headline.contains(k));
    held.extend(
        lsh.cache
            .candidates(tx, &headline, story)?
            .into_iter()
            .filter(|&(_, s)| s == story)
            .map(|(key, _)| key),
    );
    Ok(held)
}

/// Exact keys are transitive: when an entry shares a key with several stories (the
/// outlet's link with one, the wire copy's text with another), they are one story.
/// Folds every story in `others` into the oldest of them and `target`, keeping the
/// earliest first-seen time. Returns the surviving story id.
fn merge_stories(tx: &Connection, lsh: &mut Lsh<'_>, target: i64, others: &[i64]) -> Result<i64> {
    let survivor = others.iter().copied().fold(target, i64::min);
    for &old in others.iter().chain(std::iter::once(&target)) {
        if old == survivor {
            continue;
        }
        // The band index has no story_id index to re-point rows by (migration 0008):
        // the survivor gets the band keys of the entries it takes over, and the old
        // story's rows age out of the window (a key of a deleted story verifies nothing).
        let moved: Vec<(String, String)> = tx
            .prepare_cached(&format!(
                "SELECT title, summary FROM entries WHERE story_id = ?1 ORDER BY id
                 LIMIT {MAX_ENTRIES_COMPARED}"
            ))?
            .query_map([old], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (title, summary) in moved {
            lsh.cache
                .add(tx, &dedup::entry_bands(&title, &summary), survivor, None)?;
        }
        tx.prepare_cached("UPDATE entries SET story_id = ?1 WHERE story_id = ?2")?
            .execute(params![survivor, old])?;
        // One scan of each table: the hashed keys have no story_id index (migration
        // 0015), which a copy's write would pay for on every entry to serve this rare
        // fold.
        for table in EXACT_KEY_TABLES {
            tx.prepare_cached(&format!(
                "UPDATE {table} SET story_id = ?1 WHERE story_id = ?2"
            ))?
            .execute(params![survivor, old])?;
        }
        tx.prepare_cached(
            "UPDATE stories SET first_seen = min(first_seen, (SELECT first_seen FROM stories WHERE id = ?2))
             WHERE id = ?1",
        )?
        .execute(params![survivor, old])?;
        tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
            .execute([old])?;
    }
    Ok(survivor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::ResponseMeta;
    use rusqlite::StatementStatus;

    fn item(key: &str, title: &str, text: &str) -> Item {
        let shingles = dedup::entry_shingles(title, text);
        Item {
            entry_key: key.to_owned(),
            title: title.to_owned(),
            link: None,
            canonical_url: None,
            published: None,
            updated: None,
            summary: text.to_owned(),
            text_fingerprint: None,
            content_hash: key.to_owned(),
            bands: dedup::entry_bands(title, text),
            shingles,
        }
    }

    /// Band keys stored (pending, in runs).
    fn band_keys(store: &Store) -> (i64, i64) {
        store
            .conn
            .query_row(
                "SELECT (SELECT COALESCE(sum(length(bands)), 0) / 4 FROM lsh_pending),
                        (SELECT COALESCE(sum(length(pairs)), 0) / 12 FROM lsh_blocks)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    const SCO: &str = "The Taliban on Monday claimed that Sergei Shoigu, secretary of the \
        Russian Security Council, wants Afghanistan to return as an observer member of the \
        Shanghai Cooperation Organisation, and called for a meaningful presence in regional \
        meetings although the group had not been invited.";
    const ECO: &str = "Iran, which holds the presidency of the Economic Cooperation \
        Organisation, said on Tuesday that the Taliban foreign minister has not been invited \
        to the organisation's ministerial meeting in Mashhad next week, where transit \
        corridors and energy will be discussed.";

    #[test]
    fn a_copy_of_the_same_words_adds_only_the_headline_keys_its_story_lacks() {
        let mut store = Store::open_in_memory().unwrap();
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n\
             [[sources]]\nid = \"b\"\nurl = \"https://b.example/feed\"\n\
             [[sources]]\nid = \"c\"\nurl = \"https://c.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let now = Utc::now();
        store.sync_sources(&config.sources, now).unwrap();
        let policy = config.dedup.policy();
        let with_keys = |key: &str, title: &str| {
            let mut it = item(key, title, SCO);
            let (fingerprint, _) = dedup::text_keys(title, SCO);
            it.text_fingerprint = fingerprint;
            it.canonical_url = Some(format!("https://{key}.example/sco"));
            it
        };
        let comma = "Russia wants Taliban to take part in SCO meetings, group says";
        let piped = "Russia wants Taliban to take part in SCO meetings | group says";
        let (a, b, c) = (
            with_keys("a", comma),
            with_keys("b", comma),
            with_keys("c", piped),
        );
        // The same normalised words: one text fingerprint.
        assert_eq!(a.text_fingerprint, c.text_fingerprint);
        assert!(a.text_fingerprint.is_some());
        let mut stored = |source: &str, it: &Item| {
            let report = store
                .store_fetch(source, &meta(), None, std::slice::from_ref(it), policy, now)
                .unwrap();
            (report, band_keys(&store))
        };
        let (_, after_a) = stored("a", &a);
        assert_eq!(after_a.0, a.bands.len() as i64);
        // The same title and text from another outlet: it joins by its fingerprint, and
        // its keys are all the story's already.
        let (report, after_b) = stored("b", &b);
        assert_eq!(report.merged, 1);
        assert_eq!(after_b, after_a);
        // The same words under a title split by " | ": one more headline key (the part
        // before the separator), which the story now holds too.
        let (report, after_c) = stored("c", &c);
        assert_eq!(report.merged, 1);
        let extra: Vec<i64> = dedup::headline_keys(piped)
            .into_iter()
            .filter(|k| !dedup::headline_keys(comma).contains(k))
            .collect();
        assert_eq!(extra.len(), 1, "{extra:?}");
        assert_eq!(after_c.0, after_b.0 + 1);
        let story = store.story_of("a", "a").unwrap();
        assert_eq!(store.story_of("c", "c").unwrap(), story);
        // A listing of the headline with another outlet's name shares only that key.
        let listing = "Russia wants Taliban to take part in SCO meetings - Amu TV";
        assert!(
            dedup::headline_keys(listing)
                .iter()
                .all(|k| !dedup::headline_keys(comma).contains(k))
        );
        let found = store
            .matching_stories(&[item("d", listing, "")], policy, now)
            .unwrap();
        assert_eq!(found, vec![story], "found by the new headline key");
    }

    /// An in-memory store with source "a", the default policy, and a function that
    /// stores one item from it.
    #[test]
    fn a_headline_only_listing_joins_the_article_of_another_source_published_about_then() {
        let mut store = Store::open_in_memory().unwrap();
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"outlet\"\nurl = \"https://a.example/feed\"\n\
             [[sources]]\nid = \"news-search\"\nurl = \"https://b.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let t0 = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 11, 26, 8, 0, 0).unwrap();
        store.sync_sources(&config.sources, t0).unwrap();
        let policy = config.dedup.policy();
        let mut store_at = |source: &str, it: Item, hours: i64| {
            let key = it.entry_key.clone();
            let now = t0 + chrono::Duration::hours(hours);
            store
                .store_fetch(source, &meta(), None, &[it], policy, now)
                .unwrap();
            store.story_of(source, &key).unwrap().unwrap()
        };
        let title = "Russia Wants Taliban To Participate In SCO Meetings, Claims Group";
        let article = store_at("outlet", item("article", title, SCO), 0);
        let listed = |key: &str| {
            item(
                key,
                &format!("{title} - Afghanistan International"),
                &format!("{title}  Afghanistan International"),
            )
        };
        assert_eq!(store_at("news-search", listed("listing"), 2), article);
        // Twenty hours later the same headline is taken for another report.
        assert_ne!(store_at("news-search", listed("next-day"), 20), article);
        // Nor is the headline alone from the article's own source, a day later (an
        // outlet's daily notices share one).
        assert_ne!(store_at("outlet", item("bare", title, ""), 22), article);
        // A headline shorter than HEADLINE_MIN_WORDS is no key.
        let short = store_at("outlet", item("short", "Exchange rates today", SCO), 3);
        assert_ne!(
            store_at(
                "news-search",
                item("short-listing", "Exchange rates today", ""),
                3
            ),
            short
        );
    }

    fn meta() -> ResponseMeta {
        ResponseMeta::local(&url::Url::parse("https://a.example/feed").unwrap())
    }

    fn store_with_source() -> (Store, MatchPolicy, impl Fn(&mut Store, Item)) {
        let mut store = Store::open_in_memory().unwrap();
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let now = Utc::now();
        store.sync_sources(&config.sources, now).unwrap();
        let policy = config.dedup.policy();
        let meta = meta();
        let store_item = move |store: &mut Store, it: Item| {
            store
                .store_fetch("a", &meta, None, &[it], policy, now)
                .unwrap();
        };
        (store, policy, store_item)
    }

    /// An entry with exact keys only (no text to match on).
    fn keyed(key: &str, url: Option<&str>, fingerprint: Option<&str>) -> Item {
        Item {
            canonical_url: url.map(str::to_owned),
            text_fingerprint: fingerprint.map(str::to_owned),
            ..item(key, key, "")
        }
    }

    #[test]
    fn migration_0018_recomputes_the_band_keys_of_the_stories_the_index_held() {
        // A database as migration 0017 left it: band keys made by the signatures before
        // (here, keys no text has), the SCO story's in a run, the ECO story's pending,
        // and a third story's keys already pruned (out of the window).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roundup.db");
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n\
             [[sources]]\nid = \"b\"\nurl = \"https://b.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let (now, policy) = (Utc::now(), config.dedup.policy());
        let old = "Kazakhstan's parliament approved a law on Monday that raises the \
            retirement age for women by three years, phased in from next January, after \
            a debate in which opposition deputies called for a referendum instead.";
        let (sco, eco, pruned) = {
            let mut store = Store::open(&path).unwrap();
            store.sync_sources(&config.sources, now).unwrap();
            let items = [
                item(
                    "sco",
                    "Russia Wants Taliban To Participate In SCO Meetings",
                    SCO,
                ),
                item("eco", "Taliban not invited to ECO meeting in Mashhad", ECO),
                item("old", "Kazakhstan raises the retirement age", old),
            ];
            store
                .store_fetch("a", &meta(), None, &items, policy, now)
                .unwrap();
            let story = |key| store.story_of("a", key).unwrap().unwrap();
            let stories = (story("sco"), story("eco"), story("old"));
            let mut pair = vec![1, 2, 3, 4, 0, 1];
            pair.extend_from_slice(&stories.0.to_be_bytes()[2..]);
            store
                .conn
                .execute_batch(&format!(
                    "DELETE FROM lsh_blocks; DELETE FROM lsh_pending;
                     INSERT INTO lsh_blocks (id, pairs) VALUES ({}, x'{}');
                     INSERT INTO lsh_pending (story_id, bands, checks)
                         VALUES ({}, x'05060708', x'0001');
                     PRAGMA user_version = 17;",
                    1i64 << 32,
                    pair.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    stories.1
                ))
                .unwrap();
            stories
        };
        let mut store = Store::open(&path).unwrap();
        let pending: Vec<(i64, Vec<u8>)> = store
            .conn
            .prepare("SELECT story_id, bands FROM lsh_pending ORDER BY story_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(band_keys(&store).1, 0, "the old runs are gone");
        let stories: Vec<i64> = pending.iter().map(|(s, _)| *s).collect();
        assert_eq!(stories, [sco, eco], "not {pruned}, whose keys were pruned");
        // Each story's keys are its text's, as a new entry of that text would store them.
        for ((_, bands), (title, text)) in pending.iter().zip([
            ("Russia Wants Taliban To Participate In SCO Meetings", SCO),
            ("Taliban not invited to ECO meeting in Mashhad", ECO),
        ]) {
            let expected: Vec<u8> = dedup::entry_bands(title, text)
                .iter()
                .flat_map(|k| u32::try_from(k >> 16).unwrap().to_be_bytes())
                .collect();
            assert_eq!(bands, &expected);
        }
        // A syndicated copy (another outlet, a lower-cased headline, the last clause
        // dropped; no exact key in common) now joins the SCO story by its band keys.
        let copy = item(
            "copy",
            "russia wants taliban to participate in sco meetings",
            SCO.rsplit_once(", and called").unwrap().0,
        );
        let report = store
            .store_fetch("b", &meta(), None, &[copy], policy, now)
            .unwrap();
        assert_eq!(report.merged, 1);
        assert_eq!(store.story_of("b", "copy").unwrap(), Some(sco));
    }

    #[test]
    fn an_entry_sharing_exact_keys_with_two_stories_makes_them_one() {
        let (mut store, _, store_item) = store_with_source();
        store_item(
            &mut store,
            keyed("a", Some("https://a.example/1"), Some("f1")),
        );
        store_item(
            &mut store,
            keyed("b", Some("https://b.example/2"), Some("f2")),
        );
        let a = store.story_of("a", "a").unwrap().unwrap();
        assert_ne!(store.story_of("a", "b").unwrap(), Some(a));
        // The outlet's link of story a, the text of story b: one story, the older id.
        store_item(
            &mut store,
            keyed("c", Some("https://a.example/1"), Some("f2")),
        );
        assert_eq!(store.story_of("a", "c").unwrap(), Some(a));
        assert_eq!(store.story_of("a", "b").unwrap(), Some(a));
        assert_eq!(store.counts().unwrap(), (1, 3));
        // Story b's keys moved with it.
        store_item(&mut store, keyed("d", Some("https://b.example/2"), None));
        store_item(&mut store, keyed("e", Some("https://c.example/3"), None));
        assert_eq!(store.story_of("a", "d").unwrap(), Some(a));
        assert_ne!(store.story_of("a", "e").unwrap(), Some(a));
        assert_eq!(store.counts().unwrap(), (2, 5));
    }

    #[test]
    fn exact_keys_match_before_and_after_they_move_to_the_large_table() {
        let (mut store, _, store_item) = store_with_source();
        // (keys in story_key_recent, keys in story_key_hashes)
        let rows = |store: &Store| -> (i64, i64) {
            store
                .conn
                .query_row(
                    "SELECT (SELECT count(*) FROM story_key_recent),
                            (SELECT count(*) FROM story_key_hashes)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap()
        };
        let fold = |store: &mut Store, max: i64| -> bool {
            let tx = store.conn.transaction().unwrap();
            let folded = fold_recent_keys(&tx, max).unwrap();
            tx.commit().unwrap();
            folded
        };
        store_item(
            &mut store,
            keyed("a", Some("https://a.example/1"), Some("f1")),
        );
        let a = store.story_of("a", "a").unwrap().unwrap();
        assert_eq!(rows(&store), (2, 0));
        store_item(&mut store, keyed("b", Some("https://a.example/1"), None));
        assert_eq!(store.story_of("a", "b").unwrap(), Some(a));
        assert_eq!(rows(&store), (2, 0), "a key found is not stored again");
        assert!(!fold(&mut store, 3), "below the limit");
        assert!(fold(&mut store, 2));
        assert_eq!(rows(&store), (0, 2));
        // Found in the large table now.
        store_item(&mut store, keyed("c", None, Some("f1")));
        assert_eq!(store.story_of("a", "c").unwrap(), Some(a));
        store_item(&mut store, keyed("d", Some("https://d.example/4"), None));
        let d = store.story_of("a", "d").unwrap().unwrap();
        assert_ne!(d, a);
        assert_eq!(rows(&store), (1, 2));
        // A key in each table, of two stories: one story, every key re-pointed.
        store_item(
            &mut store,
            keyed("e", Some("https://d.example/4"), Some("f1")),
        );
        assert_eq!(store.story_of("a", "d").unwrap(), Some(a));
        assert_eq!(store.counts().unwrap(), (1, 5));
        let elsewhere: i64 = store
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM story_key_recent WHERE story_id != ?1)
                      + (SELECT count(*) FROM story_key_hashes WHERE story_id != ?1)",
                [a],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(elsewhere, 0);
        assert!(fold(&mut store, 1));
        assert_eq!(rows(&store), (0, 3));
        store_item(&mut store, keyed("f", Some("https://d.example/4"), None));
        assert_eq!(store.story_of("a", "f").unwrap(), Some(a));
    }

    #[test]
    fn an_entry_fetched_again_unchanged_looks_up_no_key() {
        let (mut store, _, store_item) = store_with_source();
        let lookups = |store: &Store| {
            store
                .conn
                .prepare_cached(STORY_OF_KEY)
                .unwrap()
                .get_status(StatementStatus::Run)
        };
        let it = keyed("a", Some("https://a.example/1"), Some("f1"));
        store_item(&mut store, it.clone());
        assert_eq!(lookups(&store), 0, "keys the filter does not hold are new");
        // A server without validators sends the same item again.
        store_item(&mut store, it.clone());
        assert_eq!(lookups(&store), 0);
        // An edited body is an update: its keys, stored now, are looked up.
        store_item(
            &mut store,
            Item {
                content_hash: "edited".to_owned(),
                ..it
            },
        );
        assert_eq!(lookups(&store), 2);
        assert_eq!(store.counts().unwrap(), (1, 1));
    }

    #[test]
    fn an_exact_key_another_connection_stored_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roundup.db");
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let now = Utc::now();
        let policy = config.dedup.policy();
        let mut first = Store::open(&path).unwrap();
        first.sync_sources(&config.sources, now).unwrap();
        let mut second = Store::open(&path).unwrap();
        let store_item = |store: &mut Store, it: Item| {
            store
                .store_fetch("a", &meta(), None, &[it], policy, now)
                .unwrap();
        };
        // Both load their filters, from a database without keys.
        store_item(&mut first, keyed("a", Some("https://a.example/1"), None));
        store_item(&mut second, keyed("b", Some("https://b.example/2"), None));
        // Each finds the other's key.
        store_item(&mut first, keyed("c", Some("https://b.example/2"), None));
        store_item(&mut second, keyed("d", Some("https://a.example/1"), None));
        let a = first.story_of("a", "a").unwrap();
        let b = first.story_of("a", "b").unwrap();
        assert_ne!(a, b);
        assert_eq!(first.story_of("a", "c").unwrap(), b);
        assert_eq!(first.story_of("a", "d").unwrap(), a);
        // After a failed write, the keys the filter holds are those stored.
        assert!(
            first
                .store_fetch(
                    "missing",
                    &meta(),
                    None,
                    &[keyed("e", Some("https://e.example/5"), None)],
                    policy,
                    now
                )
                .is_err()
        );
        store_item(&mut second, keyed("f", Some("https://e.example/5"), None));
        store_item(&mut first, keyed("g", Some("https://e.example/5"), None));
        assert_eq!(
            first.story_of("a", "g").unwrap(),
            first.story_of("a", "f").unwrap()
        );
    }

    #[test]
    fn keys_of_a_purged_story_match_nothing() {
        let (mut store, _, store_item) = store_with_source();
        store_item(
            &mut store,
            keyed("a", Some("https://a.example/1"), Some("f1")),
        );
        assert_eq!(store.purge_source("a").unwrap(), 1);
        assert_eq!(store.counts().unwrap(), (0, 0));
        // The source again, and the same link and text: a new story.
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        store.sync_sources(&config.sources, Utc::now()).unwrap();
        store_item(
            &mut store,
            keyed("a2", Some("https://a.example/1"), Some("f1")),
        );
        assert_eq!(store.counts().unwrap(), (1, 1));
    }

    /// The story `item` would join, and the band blocks read to find it.
    fn match_counting_reads(
        store: &mut Store,
        item: Item,
        policy: MatchPolicy,
    ) -> (Option<i64>, i32) {
        let read = "SELECT pairs FROM lsh_blocks WHERE id = ?1";
        store
            .conn
            .prepare_cached(read)
            .unwrap()
            .reset_status(StatementStatus::Run);
        let found = store.matching_stories(&[item], policy, Utc::now()).unwrap();
        let reads = store
            .conn
            .prepare_cached(read)
            .unwrap()
            .get_status(StatementStatus::Run);
        (found[0], reads)
    }

    /// Writes the pending band keys out as a run.
    fn fold_bands(store: &mut Store) {
        let tx = store.conn.transaction().unwrap();
        let cache = BandCache::current(&mut store.bands, &tx).unwrap();
        assert!(cache.fold(&tx, 0, 1).unwrap());
        tx.commit().unwrap();
    }

    /// Stores 40 unrelated stories of 60 words each.
    fn store_fillers(store: &mut Store, store_item: &impl Fn(&mut Store, Item)) {
        for i in 0..40 {
            let text: Vec<String> = (0..60).map(|k| format!("w{i}x{k}")).collect();
            store_item(
                store,
                item(&format!("f{i}"), &format!("filler {i}"), &text.join(" ")),
            );
        }
    }

    /// How many blocks of the stored runs a lookup of `bands` would read, all of them.
    fn blocks_holding(store: &mut Store, bands: &[i64]) -> usize {
        let tx = store.conn.transaction().unwrap();
        let cache = BandCache::current(&mut store.bands, &tx).unwrap();
        let mut lookup = cache.lookup(bands, 0);
        let mut blocks = 0;
        while lookup.read_next(&tx, 0).unwrap() {
            blocks += 1;
        }
        blocks
    }

    /// `copy`, whose keys are in at least 3 blocks, joins `story` after reading one.
    fn decided_in_one_read(store: &mut Store, copy: Item, policy: MatchPolicy, story: i64) {
        let blocks = blocks_holding(store, &copy.bands);
        assert!(blocks >= 3, "the copy's keys are in {blocks} blocks");
        let (found, reads) = match_counting_reads(store, copy, policy);
        assert_eq!(found, Some(story));
        assert_eq!(reads, 1);
    }

    #[test]
    fn a_copy_that_verifies_closely_is_decided_without_reading_its_other_blocks() {
        let (mut store, policy, store_item) = store_with_source();
        // 40 unrelated stories and the SCO one, written out as one run: the SCO story's
        // 24 keys land in several of its blocks.
        store_fillers(&mut store, &store_item);
        store_item(&mut store, item("sco", "Russia wants Taliban at SCO", SCO));
        let sco = store.story_of("a", "sco").unwrap().unwrap();
        let copy = item(
            "sco2",
            "Russia wants Taliban at SCO",
            &SCO.replace("Monday", "Sunday"),
        );
        fold_bands(&mut store);
        decided_in_one_read(&mut store, copy, policy, sco);
    }

    #[test]
    fn a_copy_close_to_a_later_report_of_its_story_is_decided_without_reading_its_other_blocks() {
        let (mut store, policy, store_item) = store_with_source();
        store_fillers(&mut store, &store_item);
        let more = " The deputy prime minister told the visiting delegation in Kabul \
            that transit through the northern provinces would be opened to Russian cargo \
            by spring, and that the energy ministry had agreed to a study of a power line \
            from Turkmenistan passing through Herat and Kandahar before the end of the year.";
        let original = format!("{SCO}{more}");
        store_item(
            &mut store,
            item("sco", "Russia wants Taliban at SCO", &original),
        );
        let sco = store.story_of("a", "sco").unwrap().unwrap();
        // A wire version that keeps the first paragraph: it joins the story (contained in
        // the original), and a second outlet runs the same wire text.
        store_item(
            &mut store,
            item("wire", "Shoigu: Taliban should attend SCO", SCO),
        );
        assert_eq!(store.story_of("a", "wire").unwrap(), Some(sco));
        fold_bands(&mut store);
        let copy = item(
            "wire2",
            "Shoigu: Taliban should attend SCO",
            &SCO.replace("Monday", "Sunday"),
        );
        // Loose against the original (as stored, with its headline), close to the wire.
        let to_original =
            dedup::report_jaccard(&copy.shingles, "Russia wants Taliban at SCO", &original);
        assert!(to_original < SURE_JACCARD, "{to_original}");
        let to_wire =
            dedup::report_jaccard(&copy.shingles, "Shoigu: Taliban should attend SCO", SCO);
        assert!(to_wire >= SURE_JACCARD, "{to_wire}");
        decided_in_one_read(&mut store, copy, policy, sco);
    }

    #[test]
    fn a_copy_reads_its_story_s_run_before_a_newer_run_sharing_one_key() {
        let (mut store, policy, store_item) = store_with_source();
        store_item(&mut store, item("sco", "Russia wants Taliban at SCO", SCO));
        let sco = store.story_of("a", "sco").unwrap().unwrap();
        fold_bands(&mut store);
        let copy = item(
            "sco2",
            "Russia wants Taliban at SCO",
            &SCO.replace("Monday", "Sunday"),
        );
        // A newer run holds another story that shares one of the copy's band keys.
        let filler: Vec<String> = (0..60).map(|k| format!("w{k}")).collect();
        let mut other = item("other", "filler", &filler.join(" "));
        other.bands[0] = copy.bands[0];
        store_item(&mut store, other);
        fold_bands(&mut store);
        let (found, reads) = match_counting_reads(&mut store, copy, policy);
        assert_eq!(found, Some(sco));
        assert_eq!(reads, 1, "the newer run's block was read first");
    }

    #[test]
    fn band_keys_are_written_out_as_runs_found_in_either_and_pruned_whole() {
        let (mut store, policy, store_item) = store_with_source();
        // The story's band keys, its lead key and its headline key.
        let keys = minhash::BANDS as i64 + 2;
        assert_eq!(
            item("sco", "Russia wants Taliban at SCO", SCO).bands.len() as i64,
            keys
        );
        let now = Utc::now();
        store_item(&mut store, item("sco", "Russia wants Taliban at SCO", SCO));
        let sco = store.story_of("a", "sco").unwrap().unwrap();
        assert_eq!(band_keys(&store), (keys, 0));
        {
            let tx = store.conn.transaction().unwrap();
            let cache = BandCache::current(&mut store.bands, &tx).unwrap();
            assert!(!cache.fold(&tx, 0, 1_000).unwrap(), "below the limit");
            assert!(cache.fold(&tx, 0, 1).unwrap());
            assert_eq!((cache.recent_len(), cache.run_count()), (0, 1));
            tx.commit().unwrap();
        }
        assert_eq!(band_keys(&store), (0, keys));
        store_item(
            &mut store,
            item("eco", "ECO ministers meet in Mashhad", ECO),
        );
        let eco = store.story_of("a", "eco").unwrap().unwrap();
        // Trimmed copies under new headlines: one found in the run, one in the recent
        // keys, each its own story.
        let trim = |t: &str| t.rsplit_once(',').unwrap().0.to_owned();
        let copies = [
            item("sco2", "Shoigu in Kabul", &trim(SCO)),
            item("eco2", "Taliban not invited", &trim(ECO)),
        ];
        assert_eq!(
            store.matching_stories(&copies, policy, now).unwrap(),
            [Some(sco), Some(eco)]
        );
        // A window starting at the ECO story drops the whole run of the older SCO story
        // and keeps the recent ECO keys; one after it drops those too.
        for (window, pruned, left) in [(eco, 1, 1), (eco + 1, 1, 0)] {
            let tx = store.conn.transaction().unwrap();
            let cache = BandCache::current(&mut store.bands, &tx).unwrap();
            assert_eq!(cache.prune(&tx, window).unwrap(), pruned * keys as usize);
            assert_eq!(cache.run_count(), 0);
            tx.commit().unwrap();
            let (pending, in_runs) = band_keys(&store);
            assert_eq!(pending + in_runs, left * keys);
            assert_eq!(
                store.matching_stories(&copies, policy, now).unwrap(),
                [None, Some(eco).filter(|_| left > 0)]
            );
        }
    }
}
