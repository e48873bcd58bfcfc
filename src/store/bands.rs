//! The LSH band index: which stories have a given band key (near-duplicate candidates).
//!
//! Persisted in two tables, laid out as a small log-structured index:
//! - `lsh_recent` (migrations 0010, 0011): new keys, appended without an index.
//! - `lsh_runs` (migration 0011): when `lsh_recent` holds [`RECENT_BANDS_MAX`] keys,
//!   they are written out as one *run*, sorted by key, under a new run number. The
//!   primary key is (run, band, story), so writing a run appends at the end of the
//!   index: each page is written once, full, and no older page changes.
//!
//! A connection keeps a [`BandCache`] beside them, loaded from the tables on first use:
//! the recent keys in memory (so a lookup there costs no seek), and for each run a Bloom
//! filter of its keys (about 1.4 bytes per key) and its newest story. A lookup seeks a
//! run only for a key its filter may hold: nearly every key of a new story is in no run,
//! and each run costs a few bit tests instead of a seek that at a million stored stories
//! mostly went to disk. A coarse filter over all runs is tested first, so a key in no
//! run costs one test however many runs there are. A run is deleted whole once all its
//! stories have left the matching window.
//!
//! The tables are the source of truth: the cache is reloaded from them when another
//! connection has written (`PRAGMA data_version`) and after a failed transaction, and a
//! false positive of a filter only costs a seek.

use std::collections::BTreeSet;

use fastbloom::BloomFilter;
use rusqlite::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::{Result, StoreError};
use crate::dedup::minhash;

/// Band keys held in `lsh_recent` before they are written out as a run (about 2 000
/// entries' worth). Larger means fewer runs to test per lookup, but more keys held in
/// memory.
pub(super) const RECENT_BANDS_MAX: usize = 48_000;

/// False-positive rate of each run's filter (a false positive costs one index seek
/// that finds nothing).
const FILTER_FALSE_POSITIVES: f64 = 0.005;

/// Fewest keys the filter over all runs is sized for.
const ANY_MIN_KEYS: usize = 100_000;
/// False-positive rate of the filter over all runs: a false positive only sends the key
/// on to the runs' own filters, so it can be coarse (~0.8 bytes per key).
const ANY_FALSE_POSITIVES: f64 = 0.05;

/// A Bloom filter over the keys of every run, tested before the runs' own filters:
/// nearly every key of a new story is in no run, and one test then replaces one per
/// run, however many runs the window holds. Sized for twice the keys it was built with;
/// rebuilt from `lsh_runs` (one scan) when more have been added, and after a prune, so
/// that it does not fill up.
struct AnyRun {
    filter: BloomFilter,
    capacity: usize,
    inserted: usize,
}

impl AnyRun {
    fn with_capacity(keys: usize) -> AnyRun {
        let capacity = (2 * keys).max(ANY_MIN_KEYS);
        AnyRun {
            filter: BloomFilter::with_false_pos(ANY_FALSE_POSITIVES).expected_items(capacity),
            capacity,
            inserted: 0,
        }
    }

    fn insert(&mut self, hash: u64) {
        self.filter.insert_hash(hash);
        self.inserted += 1;
    }

    /// A filter holding every key of `lsh_runs`.
    fn build(tx: &Connection) -> Result<AnyRun> {
        let held: i64 = tx.query_row("SELECT count(*) FROM lsh_runs", [], |r| r.get(0))?;
        let mut any = AnyRun::with_capacity(usize::try_from(held).unwrap_or(0));
        let mut keys = tx.prepare("SELECT band FROM lsh_runs")?;
        let mut rows = keys.query([])?;
        while let Some(row) = rows.next()? {
            any.insert(filter_hash(row.get(0)?));
        }
        Ok(any)
    }
}

/// One run of `lsh_runs`, in memory.
struct Run {
    id: i64,
    /// Newest story with a key in the run: once it leaves the window, so does the run.
    newest_story: i64,
    filter: BloomFilter,
}

/// The in-memory side of the band index for one connection (see the module docs).
pub(super) struct BandCache {
    /// `PRAGMA data_version` when loaded: it changes when another connection commits.
    data_version: i64,
    /// Every `(band, story_id)` row of `lsh_recent`.
    recent: BTreeSet<(i64, i64)>,
    /// Every run of `lsh_runs`, oldest first.
    runs: Vec<Run>,
    /// Every key of every run.
    any: AnyRun,
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
fn filter_hash(band: i64) -> u64 {
    xxh3_64(&band.to_le_bytes())
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
        let recent = tx
            .prepare("SELECT band, story_id FROM lsh_recent")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<BTreeSet<(i64, i64)>>>()?;
        let sizes: Vec<(i64, usize, i64)> = tx
            .prepare("SELECT run, count(*), max(story_id) FROM lsh_runs GROUP BY run ORDER BY run")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as usize, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut runs = Vec::with_capacity(sizes.len());
        let mut any = AnyRun::with_capacity(sizes.iter().map(|&(_, len, _)| len).sum());
        let mut keys = tx.prepare("SELECT band FROM lsh_runs WHERE run = ?1")?;
        for (id, len, newest_story) in sizes {
            let mut filter =
                BloomFilter::with_false_pos(FILTER_FALSE_POSITIVES).expected_items(len);
            let mut rows = keys.query([id])?;
            while let Some(row) = rows.next()? {
                let hash = filter_hash(row.get(0)?);
                filter.insert_hash(hash);
                any.insert(hash);
            }
            runs.push(Run {
                id,
                newest_story,
                filter,
            });
        }
        Ok(BandCache {
            data_version,
            recent,
            runs,
            any,
        })
    }

    /// Keys held in `lsh_recent`.
    #[cfg(test)]
    pub(super) fn recent_len(&self) -> usize {
        self.recent.len()
    }

    /// Runs in `lsh_runs`.
    #[cfg(test)]
    pub(super) fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Adds one text's band keys to `story` (in `lsh_recent`), except those the story
    /// already has: `held` when the caller knows them from its lookup, else looked up
    /// here, so that a story reported many times does not put the same key in many
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
        let mut insert =
            tx.prepare_cached("INSERT INTO lsh_recent (band, story_id) VALUES (?1, ?2)")?;
        for &band in bands {
            if !held.contains(&band) && self.recent.insert((band, story)) {
                insert.execute(params![band, story])?;
            }
        }
        Ok(())
    }

    /// `(band, story)` for each story from `window` on (a story id, from `window_start`)
    /// holding one of `bands`, unordered and possibly repeated. Recent keys are looked
    /// up in memory; a run is sought only for keys its filter may hold.
    pub(super) fn candidates(
        &self,
        tx: &Connection,
        bands: &[i64],
        window: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let mut found = Vec::new();
        let mut seek = tx.prepare_cached(
            "SELECT story_id FROM lsh_runs WHERE run = ?1 AND band = ?2 AND story_id >= ?3",
        )?;
        for &band in bands {
            found.extend(
                self.recent
                    .range((band, window)..=(band, i64::MAX))
                    .copied(),
            );
            let hash = filter_hash(band);
            if !self.any.filter.contains_hash(hash) {
                continue;
            }
            for run in &self.runs {
                if run.newest_story >= window && run.filter.contains_hash(hash) {
                    for story in seek.query_map(params![run.id, band, window], |r| r.get(0))? {
                        found.push((band, story?));
                    }
                }
            }
        }
        Ok(found)
    }

    /// When `lsh_recent` holds at least `max` keys, writes those still in the window out
    /// as a new run (in key order, appended at the end of `lsh_runs`) and empties it.
    pub(super) fn fold(&mut self, tx: &Connection, window: i64, max: usize) -> Result<bool> {
        if self.recent.len() < max || self.recent.is_empty() {
            return Ok(false);
        }
        let id = self.runs.last().map_or(1, |r| r.id + 1);
        let kept = self.recent.iter().filter(|&&(_, story)| story >= window);
        let len = kept.clone().count();
        let mut filter = BloomFilter::with_false_pos(FILTER_FALSE_POSITIVES).expected_items(len);
        let mut newest_story = i64::MIN;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO lsh_runs (run, band, story_id) VALUES (?1, ?2, ?3)")?;
            for &(band, story) in kept {
                insert.execute(params![id, band, story])?;
                let hash = filter_hash(band);
                filter.insert_hash(hash);
                self.any.insert(hash);
                newest_story = newest_story.max(story);
            }
        }
        tx.prepare_cached("DELETE FROM lsh_recent")?.execute([])?;
        self.recent.clear();
        if len > 0 {
            self.runs.push(Run {
                id,
                newest_story,
                filter,
            });
        }
        if self.any.inserted > self.any.capacity {
            self.any = AnyRun::build(tx)?;
        }
        Ok(true)
    }

    /// Drops the band keys of stories before the matching window (`window`): whole runs
    /// whose stories have all left it, and such keys of `lsh_recent`. They can no longer
    /// be candidates, and keeping the index to about one window's worth of stories keeps
    /// it small however many stories are stored. Returns the number of keys deleted.
    pub(super) fn prune(&mut self, tx: &Connection, window: i64) -> Result<usize> {
        let mut pruned = 0;
        let mut drop_run = tx.prepare_cached("DELETE FROM lsh_runs WHERE run = ?1")?;
        for run in self.runs.iter().filter(|r| r.newest_story < window) {
            pruned += drop_run.execute([run.id])?;
        }
        self.runs.retain(|r| r.newest_story >= window);
        if pruned > 0 {
            self.any = AnyRun::build(tx)?;
        }
        pruned += tx
            .prepare_cached("DELETE FROM lsh_recent WHERE story_id < ?1")?
            .execute([window])?;
        self.recent.retain(|&(_, story)| story >= window);
        Ok(pruned)
    }
}
