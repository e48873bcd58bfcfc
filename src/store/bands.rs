//! The LSH band index: which stories have a given band key (near-duplicate candidates).
//!
//! Persisted in two tables, laid out as a small log-structured index (migration 0012):
//! - `lsh_pending`: new keys, appended without an index, one row per text stored (its
//!   story and its keys, packed in a blob).
//! - `lsh_blocks`: when `lsh_pending` holds [`RECENT_BANDS_MAX`] keys, they are written
//!   out as one *run*: sorted by key and packed [`BLOCK_KEYS`] `(band, story)` pairs to
//!   a row (one row per page). A row's id is its run number in the high 32 bits and
//!   its block number in the low ones, so a run is appended at the end of the table
//!   (each page written once, full, and no older page changes) and deleted as one id
//!   range. One insert writes hundreds of keys: before migration 0012 each key was a
//!   row of its own, and writing them cost as much as the rest of an entry's write.
//!
//! A connection keeps a [`BandCache`] beside them, loaded from the tables on first use:
//! the pending keys in memory behind a coarse filter (so a lookup there costs no seek,
//! and usually one filter test), and for each run a
//! Bloom filter of its keys (about 1.4 bytes per key), the first key of each block, and
//! its newest story. A lookup reads a block of a run only for a key the run's filter
//! may hold: nearly every key of a new story is in no run, and each run costs a few bit
//! tests instead of a seek that at a million stored stories mostly went to disk. A
//! coarse filter over all runs is tested first, so a key in no run costs one test
//! however many runs there are. A run is deleted whole once all its stories have left
//! the matching window.
//!
//! The tables are the source of truth: the cache is reloaded from them when another
//! connection has written (`PRAGMA data_version`) and after a failed transaction, and a
//! false positive of a filter only costs one block read.

use std::collections::BTreeSet;

use fastbloom::BloomFilter;
use rusqlite::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::{Result, StoreError};
use crate::dedup::minhash;

/// Band keys held in `lsh_pending` before they are written out as a run (about 2 000
/// entries' worth). Larger means fewer runs to test per lookup, but more keys held in
/// memory.
pub(super) const RECENT_BANDS_MAX: usize = 48_000;

/// `(band, story)` pairs per row of `lsh_blocks`: 3 840 bytes, so that one row fills
/// most of a 4 KiB page without spilling to an overflow page.
const BLOCK_KEYS: usize = 320;
/// Bytes of one pair in a block: the band key (31 bits, as a big-endian u32), then the
/// story id (big-endian i64).
const PAIR_BYTES: usize = 12;
/// Bytes of one band key in a `lsh_pending` blob (big-endian u32).
const BAND_BYTES: usize = 4;

/// False-positive rate of each run's filter (a false positive costs one block read
/// that finds nothing).
const FILTER_FALSE_POSITIVES: f64 = 0.005;

/// Fewest keys the filters over all runs and over the pending keys are sized for.
const ANY_MIN_KEYS: usize = 100_000;
/// False-positive rate of the filter over all runs: a false positive only sends the key
/// on to the runs' own filters, so it can be coarse (~0.8 bytes per key).
const ANY_FALSE_POSITIVES: f64 = 0.05;

/// The id of block `block` of run `run` in `lsh_blocks`.
fn block_id(run: i64, block: usize) -> i64 {
    (run << 32) | (block as i64 & 0xffff_ffff)
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

fn be_i64(bytes: &[u8]) -> i64 {
    bytes
        .iter()
        .take(8)
        .fold(0, |acc, &b| (acc << 8) | i64::from(b))
}

/// Column `i` of `row`, a blob.
fn blob<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    row.get_ref(i)?.as_blob().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// The `(band, story)` pairs of a block, in order.
fn pairs(block: &[u8]) -> impl Iterator<Item = (u32, i64)> + '_ {
    block
        .chunks_exact(PAIR_BYTES)
        .map(|p| (be_u32(p), be_i64(&p[4..])))
}

/// Pushes `(band, story)` for each story of `band` from `window` on held in `block`.
fn find_in_block(block: &[u8], band: u32, window: i64, found: &mut Vec<(i64, i64)>) {
    let n = block.len() / PAIR_BYTES;
    let band_at = |i: usize| be_u32(&block[i * PAIR_BYTES..]);
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if band_at(mid) < band {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (b, story) in pairs(&block[lo * PAIR_BYTES..]) {
        if b != band {
            break;
        }
        if story >= window {
            found.push((i64::from(band), story));
        }
    }
}

/// A coarse Bloom filter over many keys, sized for twice the keys it was built with
/// and rebuilt when more have been added, so that it does not fill up. Two are kept:
/// - over the keys of every run, tested before the runs' own filters: nearly every key
///   of a new story is in no run, and one test then replaces one per run, however many
///   runs the window holds. Rebuilt from `lsh_blocks` (one scan), also after a prune;
/// - over the pending keys (see [`CoarseFilter::over_pending`]).
struct CoarseFilter {
    filter: BloomFilter,
    capacity: usize,
    inserted: usize,
}

impl CoarseFilter {
    fn with_capacity(keys: usize) -> CoarseFilter {
        let capacity = (2 * keys).max(ANY_MIN_KEYS);
        CoarseFilter {
            filter: BloomFilter::with_false_pos(ANY_FALSE_POSITIVES).expected_items(capacity),
            capacity,
            inserted: 0,
        }
    }

    /// A filter over the pending keys, which a lookup tests before searching them:
    /// most keys of a new story are not pending, and a filter test is one memory read
    /// where the search is several.
    fn over_pending(recent: &BTreeSet<(i64, i64)>) -> CoarseFilter {
        let mut filter = CoarseFilter::with_capacity(recent.len().max(RECENT_BANDS_MAX));
        for &(band, _) in recent {
            if let Ok(band) = u32::try_from(band) {
                filter.insert(filter_hash(band));
            }
        }
        filter
    }

    fn full(&self) -> bool {
        self.inserted > self.capacity
    }

    fn insert(&mut self, hash: u64) {
        self.filter.insert_hash(hash);
        self.inserted += 1;
    }

    /// A filter holding every key of `lsh_blocks`.
    fn build(tx: &Connection) -> Result<CoarseFilter> {
        let mut any = CoarseFilter::with_capacity(stored_run_keys(tx)?);
        let mut blocks = tx.prepare("SELECT pairs FROM lsh_blocks")?;
        let mut rows = blocks.query([])?;
        while let Some(row) = rows.next()? {
            for (band, _) in pairs(blob(row, 0)?) {
                any.insert(filter_hash(band));
            }
        }
        Ok(any)
    }
}

/// Keys held in `lsh_blocks` (reads the rows' lengths only).
fn stored_run_keys(tx: &Connection) -> Result<usize> {
    let bytes: i64 = tx.query_row(
        "SELECT COALESCE(sum(length(pairs)), 0) FROM lsh_blocks",
        [],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(bytes).unwrap_or(0) / PAIR_BYTES)
}

/// One run of `lsh_blocks`, in memory.
struct Run {
    id: i64,
    /// Keys in the run.
    len: usize,
    /// Newest story with a key in the run: once it leaves the window, so does the run.
    newest_story: i64,
    /// The first band key of each block, in block order.
    fences: Vec<u32>,
    filter: BloomFilter,
}

impl Run {
    /// The blocks that may hold `band`: the last one starting before it, and every one
    /// starting with it.
    fn blocks_for(&self, band: u32) -> impl Iterator<Item = usize> + '_ {
        let start = self.fences.partition_point(|&f| f < band);
        let same = self.fences[start..]
            .iter()
            .take_while(move |&&f| f == band)
            .count();
        start.saturating_sub(1)..start + same
    }
}

/// The in-memory side of the band index for one connection (see the module docs).
pub(super) struct BandCache {
    /// `PRAGMA data_version` when loaded: it changes when another connection commits.
    data_version: i64,
    /// Every `(band, story_id)` pair of `lsh_pending`.
    recent: BTreeSet<(i64, i64)>,
    /// Every run of `lsh_blocks`, oldest first.
    runs: Vec<Run>,
    /// Every key of every run.
    any: CoarseFilter,
    /// Every pending key (and, after a prune, some that were).
    pending: CoarseFilter,
}

impl std::fmt::Debug for BandCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BandCache")
            .field("data_version", &self.data_version)
            .field("recent", &self.recent.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

/// The hash a band key is filtered by.
fn filter_hash(band: u32) -> u64 {
    xxh3_64(&band.to_be_bytes())
}

impl BandCache {
    /// The cache in `slot`, (re)loaded from the tables when missing or when another
    /// connection has committed since it was loaded. Call inside the transaction that
    /// will use it, after its first read, so that the version read is that of the
    /// transaction's snapshot.
    pub(super) fn current<'c>(
        slot: &'c mut Option<BandCache>,
        tx: &Connection,
    ) -> Result<&'c mut BandCache> {
        let version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if slot.as_ref().is_none_or(|c| c.data_version != version) {
            *slot = None;
            *slot = Some(BandCache::load(tx, version)?);
        }
        slot.as_mut()
            .ok_or_else(|| StoreError::Task("band cache not loaded".to_owned()))
    }

    fn load(tx: &Connection, data_version: i64) -> Result<BandCache> {
        let mut recent = BTreeSet::new();
        {
            let mut pending = tx.prepare("SELECT story_id, bands FROM lsh_pending")?;
            let mut rows = pending.query([])?;
            while let Some(row) = rows.next()? {
                let story: i64 = row.get(0)?;
                for band in blob(row, 1)?.chunks_exact(BAND_BYTES) {
                    recent.insert((i64::from(be_u32(band)), story));
                }
            }
        }
        // Each run's size first (the rows' lengths only), to size the filters.
        let sizes: Vec<(i64, usize)> = tx
            .prepare("SELECT id >> 32, sum(length(pairs)) FROM lsh_blocks GROUP BY 1 ORDER BY 1")?
            .query_map([], |r| {
                let bytes = usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                Ok((r.get(0)?, bytes / PAIR_BYTES))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut any = CoarseFilter::with_capacity(sizes.iter().map(|&(_, keys)| keys).sum());
        let mut runs: Vec<Run> = sizes
            .into_iter()
            .map(|(id, keys)| Run {
                id,
                len: 0,
                newest_story: i64::MIN,
                fences: Vec::new(),
                filter: BloomFilter::with_false_pos(FILTER_FALSE_POSITIVES)
                    .expected_items(keys.max(1)),
            })
            .collect();
        let mut blocks = tx.prepare("SELECT id, pairs FROM lsh_blocks ORDER BY id")?;
        let mut rows = blocks.query([])?;
        let mut at = 0;
        while let Some(row) = rows.next()? {
            let run_id = row.get::<_, i64>(0)? >> 32;
            while runs.get(at).is_some_and(|r| r.id < run_id) {
                at += 1;
            }
            let Some(run) = runs.get_mut(at).filter(|r| r.id == run_id) else {
                continue;
            };
            let block = blob(row, 1)?;
            if let Some((first, _)) = pairs(block).next() {
                run.fences.push(first);
            }
            for (band, story) in pairs(block) {
                let hash = filter_hash(band);
                run.filter.insert_hash(hash);
                any.insert(hash);
                run.newest_story = run.newest_story.max(story);
                run.len += 1;
            }
        }
        Ok(BandCache {
            data_version,
            pending: CoarseFilter::over_pending(&recent),
            recent,
            runs,
            any,
        })
    }

    /// Keys held in `lsh_pending`.
    #[cfg(test)]
    pub(super) fn recent_len(&self) -> usize {
        self.recent.len()
    }

    /// Runs in `lsh_blocks`.
    #[cfg(test)]
    pub(super) fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Adds one text's band keys to `story` (one row of `lsh_pending`), except those the
    /// story already has: `held` when the caller knows them from its lookup, else looked
    /// up here, so that a story reported many times does not put the same key in many
    /// runs. Texts without a full set of keys (too short) add none.
    pub(super) fn add(
        &mut self,
        tx: &Connection,
        bands: &[i64],
        story: i64,
        held: Option<&[i64]>,
    ) -> Result<()> {
        if bands.len() != minhash::BANDS {
            return Ok(());
        }
        let looked_up: Vec<i64>;
        let held = match held {
            Some(held) => held,
            None => {
                looked_up = self
                    .candidates(tx, bands, story)?
                    .into_iter()
                    .filter(|&(_, s)| s == story)
                    .map(|(band, _)| band)
                    .collect();
                &looked_up
            }
        };
        let mut packed = Vec::with_capacity(BAND_BYTES * bands.len());
        for &band in bands {
            // Band keys are 31 bits (minhash::band_keys); no other value can be stored.
            let Ok(key) = u32::try_from(band) else {
                continue;
            };
            if !held.contains(&band) && self.recent.insert((band, story)) {
                packed.extend_from_slice(&key.to_be_bytes());
                self.pending.insert(filter_hash(key));
            }
        }
        if self.pending.full() {
            self.pending = CoarseFilter::over_pending(&self.recent);
        }
        if !packed.is_empty() {
            tx.prepare_cached("INSERT INTO lsh_pending (story_id, bands) VALUES (?1, ?2)")?
                .execute(params![story, packed])?;
        }
        Ok(())
    }

    /// `(band, story)` for each story from `window` on (a story id, from `window_start`)
    /// holding one of `bands`, unordered and possibly repeated. Pending keys are looked
    /// up in memory; a run's block is read only for keys its filter may hold.
    pub(super) fn candidates(
        &self,
        tx: &Connection,
        bands: &[i64],
        window: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let mut found = Vec::new();
        let mut read = tx.prepare_cached("SELECT pairs FROM lsh_blocks WHERE id = ?1")?;
        for &band in bands {
            let Ok(key) = u32::try_from(band) else {
                continue;
            };
            let hash = filter_hash(key);
            if self.pending.filter.contains_hash(hash) {
                found.extend(
                    self.recent
                        .range((band, window)..=(band, i64::MAX))
                        .copied(),
                );
            }
            if !self.any.filter.contains_hash(hash) {
                continue;
            }
            for run in &self.runs {
                if run.newest_story < window || !run.filter.contains_hash(hash) {
                    continue;
                }
                for block in run.blocks_for(key) {
                    let mut rows = read.query([block_id(run.id, block)])?;
                    if let Some(row) = rows.next()? {
                        find_in_block(blob(row, 0)?, key, window, &mut found);
                    }
                }
            }
        }
        Ok(found)
    }

    /// When `lsh_pending` holds at least `max` keys, writes those still in the window
    /// out as a new run (in key order, appended at the end of `lsh_blocks`) and empties
    /// it.
    pub(super) fn fold(&mut self, tx: &Connection, window: i64, max: usize) -> Result<bool> {
        if self.recent.len() < max || self.recent.is_empty() {
            return Ok(false);
        }
        let id = self.runs.last().map_or(1, |r| r.id + 1);
        let kept = self
            .recent
            .iter()
            .filter(|&&(_, story)| story >= window)
            .filter_map(|&(band, story)| Some((u32::try_from(band).ok()?, story)));
        let mut run = Run {
            id,
            len: 0,
            newest_story: i64::MIN,
            fences: Vec::new(),
            filter: BloomFilter::with_false_pos(FILTER_FALSE_POSITIVES)
                .expected_items(self.recent.len()),
        };
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO lsh_blocks (id, pairs) VALUES (?1, ?2)")?;
            let mut block = Vec::with_capacity(BLOCK_KEYS * PAIR_BYTES);
            let mut write = |block: &mut Vec<u8>, run: &mut Run| -> Result<()> {
                if !block.is_empty() {
                    insert.execute(params![block_id(id, run.fences.len()), &block[..]])?;
                    run.fences.push(be_u32(block));
                    block.clear();
                }
                Ok(())
            };
            for (band, story) in kept {
                block.extend_from_slice(&band.to_be_bytes());
                block.extend_from_slice(&story.to_be_bytes());
                let hash = filter_hash(band);
                run.filter.insert_hash(hash);
                self.any.insert(hash);
                run.newest_story = run.newest_story.max(story);
                run.len += 1;
                if block.len() == BLOCK_KEYS * PAIR_BYTES {
                    write(&mut block, &mut run)?;
                }
            }
            write(&mut block, &mut run)?;
        }
        tx.prepare_cached("DELETE FROM lsh_pending")?.execute([])?;
        self.recent.clear();
        self.pending = CoarseFilter::over_pending(&self.recent);
        if run.len > 0 {
            self.runs.push(run);
        }
        if self.any.inserted > self.any.capacity {
            self.any = CoarseFilter::build(tx)?;
        }
        Ok(true)
    }

    /// Drops the band keys of stories before the matching window (`window`): whole runs
    /// whose stories have all left it, and such keys of `lsh_pending`. They can no
    /// longer be candidates, and keeping the index to about one window's worth of
    /// stories keeps it small however many stories are stored. Returns the number of
    /// keys deleted.
    pub(super) fn prune(&mut self, tx: &Connection, window: i64) -> Result<usize> {
        let mut pruned = 0;
        let mut drop_run =
            tx.prepare_cached("DELETE FROM lsh_blocks WHERE id >= ?1 AND id < ?2")?;
        for run in self.runs.iter().filter(|r| r.newest_story < window) {
            drop_run.execute([block_id(run.id, 0), block_id(run.id + 1, 0)])?;
            pruned += run.len;
        }
        self.runs.retain(|r| r.newest_story >= window);
        if pruned > 0 {
            self.any = CoarseFilter::build(tx)?;
        }
        let before = self.recent.len();
        self.recent.retain(|&(_, story)| story >= window);
        if self.recent.len() < before {
            tx.prepare_cached("DELETE FROM lsh_pending WHERE story_id < ?1")?
                .execute([window])?;
            pruned += before - self.recent.len();
        }
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// 24 band keys for story `s`: key 7 is shared by every story (a run of it spans
    /// many blocks), key 5 by every other one, the rest by no other story.
    fn keys_of(s: i64) -> Vec<i64> {
        (0..minhash::BANDS as i64)
            .map(|k| match k {
                0 => 7,
                1 => 5 + (s % 2) * 1_000_000,
                _ => 10 + s * 100 + k,
            })
            .collect()
    }

    fn found(cache: &BandCache, tx: &Connection, band: i64, window: i64) -> Vec<i64> {
        let mut stories: Vec<i64> = cache
            .candidates(tx, &[band; minhash::BANDS], window)
            .unwrap()
            .into_iter()
            .inspect(|&(b, _)| assert_eq!(b, band))
            .map(|(_, s)| s)
            .collect();
        stories.sort_unstable();
        stories.dedup();
        stories
    }

    #[test]
    fn runs_span_blocks_and_every_key_is_found_in_memory_and_after_a_reload() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::migrations()
            .to_latest(&mut conn)
            .unwrap();
        let mut slot = None;
        let mut expected: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        // Three runs of 300 stories each (7 200 keys, 23 blocks), then some pending.
        for s in 1..=1_000 {
            let keys = keys_of(s);
            cache.add(&tx, &keys, s, Some(&[])).unwrap();
            for k in keys {
                expected.entry(k).or_default().push(s);
            }
            if s % 300 == 0 {
                assert!(cache.fold(&tx, 0, 1).unwrap());
            }
        }
        assert_eq!((cache.run_count(), cache.recent_len()), (3, 100 * 24));
        tx.commit().unwrap();
        let blocks: i64 = conn
            .query_row("SELECT count(*) FROM lsh_blocks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blocks, 3 * (300 * 24usize).div_ceil(BLOCK_KEYS) as i64);
        for reload in [false, true] {
            if reload {
                slot = None;
            }
            let tx = conn.transaction().unwrap();
            let cache = BandCache::current(&mut slot, &tx).unwrap();
            for (&band, stories) in &expected {
                assert_eq!(&found(cache, &tx, band, 0), stories, "band {band}");
                let window = 450;
                let after: Vec<i64> = stories.iter().copied().filter(|&s| s >= window).collect();
                assert_eq!(
                    found(cache, &tx, band, window),
                    after,
                    "band {band} from {window}"
                );
            }
            // Keys no story has.
            for band in [0, 6, 8, 4_000_000, (1 << 31) - 1] {
                assert!(found(cache, &tx, band, 0).is_empty(), "band {band}");
            }
        }
        // Pruning from story 601 on drops the first two runs whole and no pending key.
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        assert_eq!(cache.prune(&tx, 601).unwrap(), 2 * 300 * 24);
        assert_eq!(found(cache, &tx, 7, 0), (601..=1_000).collect::<Vec<_>>());
        tx.commit().unwrap();
        let left: i64 = conn
            .query_row("SELECT sum(length(pairs)) / 12 FROM lsh_blocks", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 300 * 24);
    }
}
