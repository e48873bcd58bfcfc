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
//! and usually one filter test), and for each run, as one or more [`Column`]s, the
//! first key of each block, its newest story, and a Bloom filter of its keys
//! ([`ColumnFilters`]: interleaved, so that one cache line tests a key against 8 runs).
//! A lookup reads a block of a run only for a key the run's filter may hold: nearly
//! every key of a new story is in no run, and each run costs a bit test instead of a
//! seek that at a million stored stories mostly went to disk. A coarse filter over all
//! runs is tested first, so a key in no run costs one test however many runs there
//! are. Blocks are read one at a time ([`Lookup::read_next`]), so that a caller that
//! has found its story stops. A run is deleted whole once all its stories have left
//! the matching window.
//!
//! The cache also holds a filter over every exact key (`story_key_hashes` and
//! `story_key_recent`), which the store tests before looking a key up; built once the
//! lookups made without it would have paid for its scan ([`ExactKeys`]).
//!
//! The tables are the source of truth: the cache is reloaded from them when another
//! connection has written (`PRAGMA data_version`) and after a failed transaction, and a
//! false positive of a filter only costs one block read.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::{Result, StoreError};

/// Band keys held in `lsh_pending` before they are written out as a run (about 2 000
/// entries' worth). Larger means fewer runs to test per lookup, but more keys held in
/// memory.
pub(super) const RECENT_BANDS_MAX: usize = 48_000;

/// `(band, story)` pairs per row of `lsh_blocks`: 3 840 bytes, so that one row fills
/// most of a 4 KiB page without spilling to an overflow page.
const BLOCK_KEYS: usize = 320;
/// Bytes of one pair in a block, all big-endian: the key's top 31 bits (a u32, its
/// [`Key::band`]), its low 16 bits (its [`Key::check`]), then the story id in 6 bytes.
/// Until migration 0016 a pair was the 31-bit key and the story id in 8 bytes; story
/// ids are far below 2^48, so such a pair reads as its key with a check of 0, which
/// matches any check.
const PAIR_BYTES: usize = 12;
/// Bytes of one key's band in a `lsh_pending` `bands` blob (big-endian u32).
const BAND_BYTES: usize = 4;
/// Bytes of one key's check in a `lsh_pending` `checks` blob (big-endian u16; the
/// column is NULL in rows written before migration 0016, whose checks are all 0).
const CHECK_BYTES: usize = 2;

/// A candidate key ([`crate::dedup::minhash::candidate_key`], 47 bits) as the index
/// holds it: its top 31 bits, which the filters and block fences go by, and its low
/// 16. A check of 0 is a key stored when keys were 31 bits (no key made since has
/// one), and matches every key of its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    band: u32,
    check: u16,
}

impl Key {
    /// `None` for a value no candidate key has.
    fn of(key: i64) -> Option<Key> {
        let band = u32::try_from(key >> 16).ok().filter(|&b| b < 1 << 31)?;
        (key >= 0).then_some(Key {
            band,
            check: (key & 0xffff) as u16,
        })
    }

    fn value(self) -> i64 {
        i64::from(self.band) << 16 | i64::from(self.check)
    }

    /// Whether a stored key `self` matches a looked-up key with `check`.
    fn matches(self, check: u16) -> bool {
        self.check == check || self.check == 0
    }
}

/// The `INSERT` of one text's keys into `lsh_pending` ([`BandCache::add`]).
pub(super) const PENDING_INSERT: &str =
    "INSERT INTO lsh_pending (story_id, bands, checks) VALUES (?1, ?2, ?3)";

/// Keys one column's filter is sized for. A run is split into columns of at most this
/// many keys (by key range, at block boundaries); a run written out after the feed whose
/// write took `lsh_pending` past [`RECENT_BANDS_MAX`] is one column.
const COLUMN_KEYS: usize = 50_000;
/// 64-bit words in one column's filter: 20 bits per key at [`COLUMN_KEYS`], 21 at a
/// usual run's 48 000 keys. A false positive costs one block read that finds nothing,
/// and a key is tested against every column in the window, so the reads grow with the
/// window: in the 10 000-feed cold cycle (~175 columns) 12 bits a key read 258 000
/// blocks for nothing (0.1 % of keys per column), 20 bits 55 000 (0.02 %), for ~3.5 %
/// less wall time and 0.8 MiB more memory at 1 000 feeds (BENCHMARKS.md).
const COLUMN_WORDS: usize = COLUMN_KEYS * 20 / 64;
/// Bits a key sets, all in one word of its column's filter.
const COLUMN_HASHES: u32 = 5;
/// Columns whose filters are interleaved word by word: the words a key tests in 8
/// columns are one cache line.
const GROUP: usize = 8;

/// Fewest keys the filters over all runs and over the pending keys are sized for.
const ANY_MIN_KEYS: usize = 100_000;
/// Bits per key of the coarse filters' capacity ([`CoarseFilter`]). Measured at 0.2-4
/// million keys, a test took 4-9 ns against fastbloom's 13-32 (its filters at 5 % took
/// ~6.2 bits a key). At 8 bits a full filter has 3.3 % false positives, and one half
/// full, as it is built, far fewer. At 6 bits (10 % full, 0.5 % half full, the memory
/// fastbloom's took) the 1 000-feed cold cycle was no faster than with fastbloom, where
/// at 8 bits it was faster in 10 of 11 alternated pairs: in a fetch cycle most keys are
/// new, and each false positive of the filter over all runs is tested against every
/// run's filter, each of the exact keys' filter a lookup (BENCHMARKS.md).
const COARSE_BITS_PER_KEY: usize = 8;

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

fn be_u16(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .take(2)
        .fold(0, |acc, &b| (acc << 8) | u16::from(b))
}

fn be_i48(bytes: &[u8]) -> i64 {
    bytes
        .iter()
        .take(6)
        .fold(0, |acc, &b| (acc << 8) | i64::from(b))
}

/// Column `i` of `row`, a blob.
fn blob<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    row.get_ref(i)?.as_blob().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// Migration 0018: replaces every band key with those `keys_of` makes of the titles and
/// summaries of the entries of the stories the index held, one `lsh_pending` row per
/// story (its entries' keys, each once). Returns the number of keys written.
pub(super) fn recompute_keys(
    tx: &Connection,
    keys_of: impl Fn(&str, &str) -> Vec<i64>,
) -> rusqlite::Result<usize> {
    let mut stories = std::collections::BTreeSet::new();
    {
        let mut pending = tx.prepare("SELECT story_id FROM lsh_pending")?;
        let mut rows = pending.query([])?;
        while let Some(row) = rows.next()? {
            stories.insert(row.get::<_, i64>(0)?);
        }
        let mut blocks = tx.prepare("SELECT pairs FROM lsh_blocks")?;
        let mut rows = blocks.query([])?;
        while let Some(row) = rows.next()? {
            stories.extend(pairs(blob(row, 0)?).map(|(_, story)| story));
        }
    }
    tx.execute_batch("DELETE FROM lsh_blocks; DELETE FROM lsh_pending;")?;
    let mut texts = tx.prepare("SELECT title, summary FROM entries WHERE story_id = ?1")?;
    let mut insert = tx.prepare(PENDING_INSERT)?;
    let mut written = 0;
    for story in stories {
        let mut keys: Vec<Key> = Vec::new();
        let mut rows = texts.query([story])?;
        while let Some(row) = rows.next()? {
            let (title, summary): (String, String) = (row.get(0)?, row.get(1)?);
            for key in keys_of(&title, &summary).into_iter().filter_map(Key::of) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        if keys.is_empty() {
            continue;
        }
        let bands: Vec<u8> = keys.iter().flat_map(|k| k.band.to_be_bytes()).collect();
        let checks: Vec<u8> = keys.iter().flat_map(|k| k.check.to_be_bytes()).collect();
        insert.execute(params![story, bands, checks])?;
        written += keys.len();
    }
    Ok(written)
}

/// The `(key, story)` pairs of a block, in order.
fn pairs(block: &[u8]) -> impl Iterator<Item = (Key, i64)> + '_ {
    block.chunks_exact(PAIR_BYTES).map(|p| {
        let key = Key {
            band: be_u32(p),
            check: be_u16(&p[4..]),
        };
        (key, be_i48(&p[6..]))
    })
}

/// Appends the pair `(key, story)` to a block; nothing for a story id that does not
/// fit 48 bits (SQLite numbers stories from 1; such a pair would only be a candidate
/// missed).
fn push_pair(block: &mut Vec<u8>, key: Key, story: i64) {
    if (0..1 << 48).contains(&story) {
        block.extend_from_slice(&key.band.to_be_bytes());
        block.extend_from_slice(&key.check.to_be_bytes());
        block.extend_from_slice(&story.to_be_bytes()[2..]);
    }
}

/// Pushes `(key, story)` for each story from `window` on whose pair in `block`
/// matches `key` ([`Key::matches`]).
fn find_in_block(block: &[u8], key: i64, window: i64, found: &mut Vec<(i64, i64)>) {
    let Some(wanted) = Key::of(key) else {
        return;
    };
    let n = block.len() / PAIR_BYTES;
    let band_at = |i: usize| be_u32(&block[i * PAIR_BYTES..]);
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if band_at(mid) < wanted.band {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (k, story) in pairs(&block[lo * PAIR_BYTES..]) {
        if k.band != wanted.band {
            break;
        }
        if story >= window && k.matches(wanted.check) {
            found.push((key, story));
        }
    }
}

/// A coarse Bloom filter over many keys, sized for twice the keys it was built with
/// and rebuilt when more have been added, so that it does not fill up. Split-block
/// (sbbf-rs-safe): a key's bits are in one 32-byte block, so a test is one cache miss,
/// where fastbloom's filter (5 %) tested ~4 bits anywhere in megabytes, a miss each,
/// and every key of a syndicated copy passes all of them (the merges at 100k stories
/// took ~8 % less, BENCHMARKS.md). Three are kept:
/// - over the keys of every run, tested before the runs' own filters: nearly every key
///   of a new story is in no run, and one test then replaces one per run, however many
///   runs the window holds. Rebuilt from `lsh_blocks` (one scan). Not after a prune:
///   the keys of runs dropped stay in it until then, as false positives (the runs'
///   own filters answer them), and since every key inserted counts towards its
///   capacity, it does not fill up. A rebuild at every prune that dropped a run scanned
///   the whole window for each run that left it (a tenth of the dedup bench's ingest);
///   now the window is scanned once per window's worth of keys added;
/// - over the pending keys (see [`CoarseFilter::over_pending`]);
/// - over every exact key ([`ExactKeys`]).
struct CoarseFilter {
    filter: sbbf_rs_safe::Filter,
    capacity: usize,
    inserted: usize,
}

impl CoarseFilter {
    fn with_capacity(keys: usize) -> CoarseFilter {
        let capacity = (2 * keys).max(ANY_MIN_KEYS);
        CoarseFilter {
            filter: sbbf_rs_safe::Filter::new(COARSE_BITS_PER_KEY, capacity),
            capacity,
            inserted: 0,
        }
    }

    /// A filter over the pending keys, which a lookup tests before searching them:
    /// most keys of a new story are not pending, and a filter test is one memory read
    /// where the search is several.
    fn over_pending(recent: &PendingKeys) -> CoarseFilter {
        let mut filter = CoarseFilter::with_capacity(recent.len().max(RECENT_BANDS_MAX));
        for (key, _) in recent.iter() {
            if let Some(key) = Key::of(key) {
                filter.insert(filter_hash(key.band));
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

    /// Frees the filter's memory before a rebuild, so that the old and the new one are
    /// not in memory at once. The filter then holds nothing, and says so of every
    /// key: only for the rebuild that follows in the same write, which, should it fail,
    /// fails the write, and the store then drops the whole cache.
    fn release(&mut self) {
        *self = CoarseFilter::with_capacity(0);
    }

    /// Whether the filter may hold `hash` (`false`: it was never inserted).
    fn contains(&self, hash: u64) -> bool {
        self.filter.contains_hash(hash)
    }

    /// A filter holding every exact key hash (one scan of both tables).
    fn over_exact_keys(tx: &Connection) -> Result<CoarseFilter> {
        let keys: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM story_key_hashes)
                  + (SELECT count(*) FROM story_key_recent)",
            [],
            |r| r.get(0),
        )?;
        let mut exact = CoarseFilter::with_capacity(usize::try_from(keys).unwrap_or(0));
        let mut hashes = tx.prepare(
            "SELECT hash FROM story_key_hashes UNION ALL SELECT hash FROM story_key_recent",
        )?;
        let mut rows = hashes.query([])?;
        while let Some(row) = rows.next()? {
            exact.insert(exact_hash(row.get(0)?));
        }
        Ok(exact)
    }

    /// A filter holding every key of `lsh_blocks`.
    fn build(tx: &Connection) -> Result<CoarseFilter> {
        let mut any = CoarseFilter::with_capacity(stored_run_keys(tx)?);
        let mut blocks = tx.prepare("SELECT pairs FROM lsh_blocks")?;
        let mut rows = blocks.query([])?;
        while let Some(row) = rows.next()? {
            for (key, _) in pairs(blob(row, 0)?) {
                any.insert(filter_hash(key.band));
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

/// Part of one run of `lsh_blocks`, in memory: a range of its blocks (a range of its
/// keys) and their filter, one column of [`ColumnFilters`].
struct Column {
    run: i64,
    /// The run's block number of the column's first block.
    first_block: usize,
    /// Keys in the column.
    len: usize,
    /// Newest story with a key in the column: once it leaves the window, so does the
    /// column (and the run once all its columns have).
    newest_story: i64,
    /// The [`Key::band`] of each block's first pair, in block order.
    fences: Vec<u32>,
}

impl Column {
    /// The run's blocks that may hold `band`: the last one starting before it, and every
    /// one starting with it.
    fn blocks_for(&self, band: u32) -> std::ops::Range<usize> {
        let start = self.fences.partition_point(|&f| f < band);
        let same = self.fences[start..]
            .iter()
            .take_while(|&&f| f == band)
            .count();
        self.first_block + start.saturating_sub(1)..self.first_block + start + same
    }
}

/// One Bloom filter per column, in groups of [`GROUP`] interleaved word by word: word
/// `w` of a group's 8 filters are adjacent. A key picks one word (the same in every
/// column) and sets [`COLUMN_HASHES`] bits in it, so testing it against every column
/// reads one cache line per 8 columns, where a filter per run cost a cache miss per
/// run: a key of a syndicated copy, which the filter over all runs lets through, is
/// tested against every run in the window (about 90 at 5 000 feeds in one cycle).
#[derive(Default)]
struct ColumnFilters {
    groups: Vec<Box<[u64]>>,
}

impl ColumnFilters {
    /// The word and the bits `hash` tests.
    fn probe(hash: u64) -> (usize, u64) {
        // A second mix, so that the bits do not follow the coarse filters' own.
        let h = (hash ^ (hash >> 31)).wrapping_mul(0x7fb5_d329_728e_a185);
        let h = h ^ (h >> 27);
        let word = ((h >> 32) * COLUMN_WORDS as u64) >> 32;
        let mask = (0..COLUMN_HASHES).fold(0u64, |m, i| m | 1 << ((h >> (6 * i)) & 63));
        (word as usize, mask)
    }

    fn insert(&mut self, slot: usize, hash: u64) {
        while self.groups.len() <= slot / GROUP {
            self.groups
                .push(vec![0; COLUMN_WORDS * GROUP].into_boxed_slice());
        }
        let (word, mask) = Self::probe(hash);
        if let Some(w) = self.groups[slot / GROUP].get_mut(word * GROUP + slot % GROUP) {
            *w |= mask;
        }
    }

    fn clear(&mut self, slot: usize) {
        if let Some(group) = self.groups.get_mut(slot / GROUP) {
            for line in group.chunks_exact_mut(GROUP) {
                line[slot % GROUP] = 0;
            }
        }
    }

    /// Calls `hit` with each slot whose filter may hold `hash`.
    fn hits(&self, hash: u64, mut hit: impl FnMut(usize)) {
        let (word, mask) = Self::probe(hash);
        for (g, group) in self.groups.iter().enumerate() {
            let line = &group[word * GROUP..(word + 1) * GROUP];
            for (i, &w) in line.iter().enumerate() {
                if w & mask == mask {
                    hit(g * GROUP + i);
                }
            }
        }
    }
}

/// Pairs in [`PendingKeys`]' newest level before it is sorted into the middle one.
const PENDING_TAIL: usize = 1_024;
/// Slots of that level's hash table: twice [`PENDING_TAIL`], a power of two (32 KiB).
const PENDING_TAIL_SLOTS: usize = 2 * PENDING_TAIL;
/// An empty slot of that table (no key is negative, see [`Key::of`]).
const EMPTY_SLOT: (i64, i64) = (-1, -1);
/// Pairs of [`PendingKeys`]' middle level before it is merged into the main one.
const PENDING_MIDDLE: usize = 8_192;

/// The `(key, story)` pairs of `lsh_pending` ([`Key::value`]), a set in three levels:
/// the newest pairs in a small hash table (at most [`PENDING_TAIL`], in 32 KiB that
/// stay in the CPU's cache), a sorted middle level (at most [`PENDING_MIDDLE`]) and the
/// sorted rest. A level goes into the next when full, sorted, in one merge that reads
/// and writes memory in order. In a `BTreeSet`, each insert walked the tree to a random
/// leaf among up to ~48 000 pairs, and that walk's cache misses were about 3 % of a
/// cold fetch cycle's CPU samples.
#[derive(Debug, Default)]
struct PendingKeys {
    main: Vec<(i64, i64)>,
    middle: Vec<(i64, i64)>,
    /// Open addressing, linear probing, by key: [`PENDING_TAIL_SLOTS`] slots once a
    /// pair is added, [`EMPTY_SLOT`] where none is.
    tail: Vec<(i64, i64)>,
    tail_len: usize,
}

/// The slot of `key` in [`PendingKeys`]' tail (keys are hashes, but their low 16 bits
/// are a check that may be 0: mixed, the top bits are used).
fn tail_slot(key: i64) -> usize {
    let mixed = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - PENDING_TAIL_SLOTS.trailing_zeros())) as usize
}

impl PendingKeys {
    /// A set of `pairs`, in any order, repeats dropped.
    fn from_pairs(mut pairs: Vec<(i64, i64)>) -> PendingKeys {
        pairs.sort_unstable();
        pairs.dedup();
        PendingKeys {
            main: pairs,
            ..PendingKeys::default()
        }
    }

    fn len(&self) -> usize {
        self.main.len() + self.middle.len() + self.tail_len
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tail's pairs of `key`: the slots from its own to the first empty one.
    fn tail_run(&self, key: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let start = tail_slot(key);
        let (wrapped, from_start) = self.tail.split_at(start.min(self.tail.len()));
        from_start
            .iter()
            .chain(wrapped)
            .copied()
            .take_while(|&slot| slot != EMPTY_SLOT)
            .filter(move |&(k, _)| k == key)
    }

    fn contains(&self, pair: (i64, i64)) -> bool {
        self.tail_run(pair.0).any(|p| p == pair)
            || self.middle.binary_search(&pair).is_ok()
            || self.main.binary_search(&pair).is_ok()
    }

    /// Adds `pair`, known not to be in the set.
    fn insert_new(&mut self, pair: (i64, i64)) {
        if self.tail.is_empty() {
            self.tail = vec![EMPTY_SLOT; PENDING_TAIL_SLOTS];
        }
        let mut slot = tail_slot(pair.0);
        while self.tail[slot] != EMPTY_SLOT {
            slot = (slot + 1) % PENDING_TAIL_SLOTS;
        }
        self.tail[slot] = pair;
        self.tail_len += 1;
        if self.tail_len >= PENDING_TAIL {
            self.sort_tail();
            if self.middle.len() >= PENDING_MIDDLE {
                merge_into(&mut self.main, &self.middle);
                self.middle.clear();
            }
        }
    }

    /// Sorts the tail's pairs into the middle level and empties it.
    fn sort_tail(&mut self) {
        let mut pairs: Vec<(i64, i64)> = self.tail_pairs().collect();
        pairs.sort_unstable();
        merge_into(&mut self.middle, &pairs);
        self.tail.fill(EMPTY_SLOT);
        self.tail_len = 0;
    }

    fn tail_pairs(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.tail.iter().copied().filter(|&slot| slot != EMPTY_SLOT)
    }

    /// Adds `pair`; whether it was not in the set. `maybe_held`: `false` when the caller
    /// knows it is not (a filter over the set's keys says so), which saves the search.
    fn insert(&mut self, pair: (i64, i64), maybe_held: bool) -> bool {
        if maybe_held && self.contains(pair) {
            return false;
        }
        self.insert_new(pair);
        true
    }

    /// The stories from `window` on with a pair of `key`.
    fn stories_of(&self, key: i64, window: i64) -> impl Iterator<Item = i64> + '_ {
        fn sorted(level: &[(i64, i64)], key: i64, window: i64) -> &[(i64, i64)] {
            let start = level.partition_point(|&p| p < (key, window));
            let end = start + level[start..].partition_point(|&(k, _)| k == key);
            &level[start..end]
        }
        sorted(&self.main, key, window)
            .iter()
            .chain(sorted(&self.middle, key, window))
            .copied()
            .chain(
                self.tail_run(key)
                    .filter(move |&(_, story)| story >= window),
            )
            .map(|(_, story)| story)
    }

    /// Every pair, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.main
            .iter()
            .chain(&self.middle)
            .copied()
            .chain(self.tail_pairs())
    }

    fn retain(&mut self, mut keep: impl FnMut(&(i64, i64)) -> bool) {
        self.sort_tail();
        self.main.retain(&mut keep);
        self.middle.retain(&mut keep);
    }

    /// Every pair, sorted.
    fn into_sorted(mut self) -> Vec<(i64, i64)> {
        self.sort_tail();
        merge_into(&mut self.main, &self.middle);
        self.main
    }
}

/// Merges sorted `new` into sorted `into`, from the back, in place. Which side each
/// pair comes from is a select, not a branch: the sides interleave at random, and a
/// branch was mispredicted about every other pair.
fn merge_into(into: &mut Vec<(i64, i64)>, new: &[(i64, i64)]) {
    let old = into.len();
    into.extend_from_slice(new);
    let (mut i, mut j) = (old, new.len());
    let mut k = into.len();
    while j > 0 && i > 0 {
        k -= 1;
        let (a, b) = (into[i - 1], new[j - 1]);
        let older = a > b;
        into[k] = if older { a } else { b };
        i -= usize::from(older);
        j -= usize::from(!older);
    }
    // What is left of `new` goes first; what is left of `into` is already in place.
    into[..j].copy_from_slice(&new[..j]);
}

/// The in-memory side of the band index for one connection (see the module docs).
pub(super) struct BandCache {
    /// `PRAGMA data_version` when loaded: it changes when another connection commits.
    data_version: i64,
    /// Every `(key, story_id)` pair of `lsh_pending` ([`Key::value`]).
    recent: PendingKeys,
    /// Every run of `lsh_blocks`, as columns by slot (`None`: a free slot).
    columns: Vec<Option<Column>>,
    /// The columns' filters, by slot.
    filters: ColumnFilters,
    /// The id of the next run written out.
    next_run: i64,
    /// Every key of every run.
    any: CoarseFilter,
    /// Every pending key (and, after a prune, some that were).
    pending: CoarseFilter,
    /// The filter over every exact key, once built.
    exact: ExactKeys,
}

/// The filter over every exact key (`story_key_hashes` and `story_key_recent`, and
/// keys of a story folded or purged since it was built): nearly every key of a new
/// entry is new, and a filter test then replaces two B-tree seeks, which in a database
/// larger than the page cache mostly read a page (about 6 % of the 10 000-feed cold
/// cycle's CPU). Exact keys are kept for good, so building it scans the whole history;
/// it is built once a connection has looked up as many keys without it as
/// [`LOOKUPS_PER_KEY_SCANNED`] says the scan costs, so that a process that stores a
/// few entries into a large database (a fetch run by cron) never pays for it, and
/// one that stores many pays at most about twice what it would have with the filter
/// from the start.
enum ExactKeys {
    Unbuilt {
        /// Keys looked up in the tables so far.
        looked_up: usize,
        /// Build the filter past this many.
        build_after: usize,
    },
    Built(CoarseFilter),
}

/// Exact keys scanned (counted, read, added to the filter) in the time of one lookup
/// in the tables, rounded down: a scan reads each key once from pages in order, a
/// lookup seeks two B-trees, often into a page not in the cache. In the dedup bench at
/// a million stories, building the filter over two million keys took ~257 ms (~130 ns
/// a key), and the filter took ~8 µs off a lookup of an entry's two keys (~4 µs a key):
/// about 30 (BENCHMARKS.md).
const LOOKUPS_PER_KEY_SCANNED: usize = 20;

impl std::fmt::Debug for BandCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BandCache")
            .field("data_version", &self.data_version)
            .field("recent", &self.recent.len())
            .field("columns", &self.columns.iter().flatten().count())
            .finish()
    }
}

/// One text's band-key lookup, read block by block (see [`BandCache::lookup`]), so
/// that a caller that has found what it looks for can stop early.
#[derive(Debug, Default)]
pub(super) struct Lookup {
    /// `(key, story)` pairs found so far (the key looked up, which a key stored before
    /// migration 0016 may match without being equal to).
    pub(super) found: Vec<(i64, i64)>,
    /// `(run, block, key)` still to read, the next at the end.
    reads: Vec<(i64, usize, i64)>,
}

impl Lookup {
    /// Reads the next block (see [`BandCache::lookup`] for the order) into
    /// [`Lookup::found`]; `false`
    /// when none is left.
    pub(super) fn read_next(&mut self, tx: &Connection, window: i64) -> Result<bool> {
        let Some((run, block, key)) = self.reads.pop() else {
            return Ok(false);
        };
        let mut read = tx.prepare_cached("SELECT pairs FROM lsh_blocks WHERE id = ?1")?;
        let mut rows = read.query([block_id(run, block)])?;
        if let Some(row) = rows.next()? {
            find_in_block(blob(row, 0)?, key, window, &mut self.found);
        }
        Ok(true)
    }

    /// Band keys of blocks not read: keys a run's filter holds, probably (false
    /// positives aside) in the stories of the blocks read so far.
    pub(super) fn unread(&self) -> impl Iterator<Item = i64> + '_ {
        self.reads.iter().map(|&(_, _, key)| key)
    }
}

/// The hash a band key is filtered by.
fn filter_hash(band: u32) -> u64 {
    xxh3_64(&band.to_be_bytes())
}

/// The hash an exact key ([`crate::dedup::key_hash`], itself a 64-bit hash) is
/// filtered by.
fn exact_hash(key: i64) -> u64 {
    u64::from_ne_bytes(key.to_ne_bytes())
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
        let mut recent = Vec::new();
        {
            let mut pending = tx.prepare("SELECT story_id, bands, checks FROM lsh_pending")?;
            let mut rows = pending.query([])?;
            while let Some(row) = rows.next()? {
                let story: i64 = row.get(0)?;
                let checks = match row.get_ref(2)? {
                    rusqlite::types::ValueRef::Null => &[][..],
                    _ => blob(row, 2)?,
                };
                let mut checks = checks.chunks_exact(CHECK_BYTES).map(be_u16);
                for band in blob(row, 1)?.chunks_exact(BAND_BYTES) {
                    let key = Key {
                        band: be_u32(band),
                        check: checks.next().unwrap_or(0),
                    };
                    recent.push((key.value(), story));
                }
            }
        }
        // Each run's blocks and keys first (the rows' lengths only), to split it into
        // columns and size the coarse filter.
        let sizes: Vec<(i64, usize, usize)> = tx
            .prepare(
                "SELECT id >> 32, count(*), sum(length(pairs)) FROM lsh_blocks
                 GROUP BY 1 ORDER BY 1",
            )?
            .query_map([], |r| {
                let blocks = usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                let bytes = usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0);
                Ok((r.get(0)?, blocks, bytes / PAIR_BYTES))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let recent = PendingKeys::from_pairs(recent);
        let mut cache = BandCache {
            data_version,
            pending: CoarseFilter::over_pending(&recent),
            recent,
            columns: Vec::new(),
            filters: ColumnFilters::default(),
            next_run: sizes.last().map_or(1, |&(run, _, _)| run + 1),
            any: CoarseFilter::with_capacity(sizes.iter().map(|&(_, _, keys)| keys).sum()),
            exact: ExactKeys::Unbuilt {
                looked_up: 0,
                // Two keys a story, at most (a link and a text).
                build_after: 2 * usize::try_from(tx.query_row(
                    "SELECT COALESCE(max(id), 0) FROM stories",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
                .unwrap_or(0)
                    / LOOKUPS_PER_KEY_SCANNED,
            },
        };
        let mut blocks = tx.prepare("SELECT id, pairs FROM lsh_blocks ORDER BY id")?;
        let mut rows = blocks.query([])?;
        let (mut at, mut slot) = (0, None);
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let (run, number) = (id >> 32, usize::try_from(id & 0xffff_ffff).unwrap_or(0));
            while sizes.get(at).is_some_and(|&(r, _, _)| r < run) {
                at += 1;
            }
            let Some(&(_, blocks, keys)) = sizes.get(at).filter(|&&(r, _, _)| r == run) else {
                continue;
            };
            let per_column = blocks.div_ceil(keys.div_ceil(COLUMN_KEYS).max(1));
            cache.push_block(run, number, per_column, &mut slot, blob(row, 1)?);
        }
        Ok(cache)
    }

    /// Adds block `number` of run `run` to the column in `slot`, or to a new one when it
    /// is of another run or full (`per_column` blocks).
    fn push_block(
        &mut self,
        run: i64,
        number: usize,
        per_column: usize,
        slot: &mut Option<usize>,
        block: &[u8],
    ) {
        let fits =
            |c: &Column| c.run == run && number.saturating_sub(c.first_block) < per_column.max(1);
        let current = slot.filter(|&s| {
            self.columns
                .get(s)
                .and_then(Option::as_ref)
                .is_some_and(fits)
        });
        let s = match current {
            Some(s) => s,
            None => {
                let s = match self.columns.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => {
                        self.columns.push(None);
                        self.columns.len() - 1
                    }
                };
                self.columns[s] = Some(Column {
                    run,
                    first_block: number,
                    len: 0,
                    newest_story: i64::MIN,
                    fences: Vec::new(),
                });
                *slot = Some(s);
                s
            }
        };
        let Some(Some(column)) = self.columns.get_mut(s) else {
            return;
        };
        if let Some((first, _)) = pairs(block).next() {
            column.fences.push(first.band);
        }
        for (key, story) in pairs(block) {
            let hash = filter_hash(key.band);
            self.filters.insert(s, hash);
            self.any.insert(hash);
            column.newest_story = column.newest_story.max(story);
            column.len += 1;
        }
    }

    /// Keys held in `lsh_pending`.
    #[cfg(test)]
    pub(super) fn recent_len(&self) -> usize {
        self.recent.len()
    }

    /// Runs in `lsh_blocks`.
    #[cfg(test)]
    pub(super) fn run_count(&self) -> usize {
        let runs: std::collections::BTreeSet<i64> =
            self.columns.iter().flatten().map(|c| c.run).collect();
        runs.len()
    }

    /// Whether an exact key may be stored, so that it must be looked up: `false` means
    /// it is not (the filter has no false negatives: every key stored is added with
    /// [`BandCache::add_exact`], or was in the tables when it was built). Always `true`
    /// until the filter is built ([`ExactKeys`]); builds it when due.
    pub(super) fn may_hold_exact(&mut self, tx: &Connection, key: i64) -> Result<bool> {
        if let ExactKeys::Unbuilt {
            looked_up,
            build_after,
        } = &mut self.exact
        {
            if *looked_up < *build_after {
                *looked_up += 1;
                return Ok(true);
            }
            self.exact = ExactKeys::Built(CoarseFilter::over_exact_keys(tx)?);
        }
        Ok(match &self.exact {
            ExactKeys::Built(filter) => filter.contains(exact_hash(key)),
            ExactKeys::Unbuilt { .. } => true,
        })
    }

    /// Records an exact key just stored, rebuilding the filter from the tables when
    /// it holds more keys than it was sized for.
    pub(super) fn add_exact(&mut self, tx: &Connection, key: i64) -> Result<()> {
        if let ExactKeys::Built(filter) = &mut self.exact {
            filter.insert(exact_hash(key));
            if filter.full() {
                filter.release();
                *filter = CoarseFilter::over_exact_keys(tx)?;
            }
        }
        Ok(())
    }

    /// Adds one text's band keys to `story` (one row of `lsh_pending`), except those the
    /// story already has: `held` when the caller knows them from its lookup, else looked
    /// up here, so that a story reported many times does not put the same key in many
    /// runs.
    pub(super) fn add(
        &mut self,
        tx: &Connection,
        bands: &[i64],
        story: i64,
        held: Option<&[i64]>,
    ) -> Result<()> {
        let mut insert = tx.prepare_cached(PENDING_INSERT)?;
        self.add_with(tx, &mut insert, bands, story, held)
    }

    /// [`BandCache::add`] with the statement of [`PENDING_INSERT`] already prepared
    /// (the store holds it for a whole write transaction).
    pub(super) fn add_with(
        &mut self,
        tx: &Connection,
        insert: &mut rusqlite::Statement<'_>,
        bands: &[i64],
        story: i64,
        held: Option<&[i64]>,
    ) -> Result<()> {
        if bands.is_empty() {
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
        let mut checks = Vec::with_capacity(CHECK_BYTES * bands.len());
        for &band in bands {
            // Keys are candidate keys (minhash::candidate_key); no other value can be
            // stored.
            let Some(key) = Key::of(band) else {
                continue;
            };
            if held.contains(&band) {
                continue;
            }
            // The filter over the pending keys holds every one: when it does not hold
            // this one, the pair is new without a search.
            let hash = filter_hash(key.band);
            let maybe_held = self.pending.contains(hash);
            if self.recent.insert((band, story), maybe_held) {
                packed.extend_from_slice(&key.band.to_be_bytes());
                checks.extend_from_slice(&key.check.to_be_bytes());
                self.pending.insert(hash);
            }
        }
        if self.pending.full() {
            self.pending = CoarseFilter::over_pending(&self.recent);
        }
        if !packed.is_empty() {
            insert.execute(params![story, packed, checks])?;
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
        let mut lookup = self.lookup(bands, window);
        while lookup.read_next(tx, window)? {}
        Ok(lookup.found)
    }

    /// The lookup of `bands` from `window` on, as far as memory answers it: the pairs of
    /// pending keys in [`Lookup::found`], and the blocks of runs whose filters may hold
    /// a key, to read with [`Lookup::read_next`]: first the runs whose filters may hold
    /// the most of `bands`, newest first among equals.
    pub(super) fn lookup(&self, bands: &[i64], window: i64) -> Lookup {
        let mut lookup = Lookup::default();
        let mut slots = Vec::new();
        // (run, how many of `bands` its filter may hold)
        let mut keys_in_run: Vec<(i64, usize)> = Vec::new();
        for &band in bands {
            let Some(key) = Key::of(band) else {
                continue;
            };
            let hash = filter_hash(key.band);
            if self.pending.contains(hash) {
                // The key itself, and its band's key stored before migration 0016.
                let legacy = Key { check: 0, ..key }.value();
                for k in std::iter::once(band).chain((legacy != band).then_some(legacy)) {
                    lookup
                        .found
                        .extend(self.recent.stories_of(k, window).map(|story| (band, story)));
                }
            }
            if !self.any.contains(hash) {
                continue;
            }
            slots.clear();
            self.filters.hits(hash, |slot| slots.push(slot));
            let mut counted = None;
            for &slot in &slots {
                let Some(Some(column)) = self.columns.get(slot) else {
                    continue;
                };
                if column.newest_story >= window {
                    for block in column.blocks_for(key.band) {
                        lookup.reads.push((column.run, block, band));
                    }
                    if counted != Some(column.run) {
                        counted = Some(column.run);
                        match keys_in_run.iter_mut().find(|(run, _)| *run == column.run) {
                            Some((_, n)) => *n += 1,
                            None => keys_in_run.push((column.run, 1)),
                        }
                    }
                }
            }
        }
        // Popped from the end: the runs that most of the keys may be in first, newest
        // first among equals. A copy's story has all its keys in one run, and a false
        // positive of a run's filter is one key: so the story's blocks are read before
        // those of the runs newer than its own, which a false positive would read.
        let keys_of = |run: i64| {
            keys_in_run
                .iter()
                .find(|&&(r, _)| r == run)
                .map_or(0, |&(_, n)| n)
        };
        lookup
            .reads
            .sort_unstable_by_key(|&(run, block, key)| (keys_of(run), run, block, key));
        lookup.reads.dedup();
        lookup
    }

    /// When `lsh_pending` holds at least `max` keys, writes those still in the window
    /// out as a new run (in key order, appended at the end of `lsh_blocks`) and empties
    /// it.
    pub(super) fn fold(&mut self, tx: &Connection, window: i64, max: usize) -> Result<bool> {
        if self.recent.len() < max || self.recent.is_empty() {
            return Ok(false);
        }
        let run = self.next_run;
        self.next_run += 1;
        let recent = std::mem::take(&mut self.recent).into_sorted();
        let kept = recent.iter().filter(|&&(_, story)| story >= window);
        // Columns of equal size, split at block boundaries.
        let keys = kept.clone().count();
        let per_column = keys
            .div_ceil(keys.div_ceil(COLUMN_KEYS).max(1))
            .div_ceil(BLOCK_KEYS);
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO lsh_blocks (id, pairs) VALUES (?1, ?2)")?;
            let mut block = Vec::with_capacity(BLOCK_KEYS * PAIR_BYTES);
            let (mut number, mut slot) = (0, None);
            let mut pairs = kept.filter_map(|&(key, story)| Some((Key::of(key)?, story)));
            loop {
                let next = pairs.next();
                if let Some((key, story)) = next {
                    push_pair(&mut block, key, story);
                }
                let full = block.len() == BLOCK_KEYS * PAIR_BYTES;
                if (full || next.is_none()) && !block.is_empty() {
                    insert.execute(params![block_id(run, number), &block[..]])?;
                    self.push_block(run, number, per_column, &mut slot, &block);
                    number += 1;
                    block.clear();
                }
                if next.is_none() {
                    break;
                }
            }
        }
        tx.prepare_cached("DELETE FROM lsh_pending")?.execute([])?;
        self.pending = CoarseFilter::over_pending(&self.recent);
        if self.any.inserted > self.any.capacity {
            self.any.release();
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
        // A run is dropped once every one of its columns has left the window.
        let mut newest: BTreeMap<i64, i64> = BTreeMap::new();
        for column in self.columns.iter().flatten() {
            let n = newest.entry(column.run).or_insert(i64::MIN);
            *n = (*n).max(column.newest_story);
        }
        for (&run, _) in newest.iter().filter(|&(_, &n)| n < window) {
            drop_run.execute([block_id(run, 0), block_id(run + 1, 0)])?;
        }
        for (slot, column) in self.columns.iter_mut().enumerate() {
            if let Some(c) = column.take_if(|c| newest.get(&c.run).is_some_and(|&n| n < window)) {
                pruned += c.len;
                self.filters.clear(slot);
            }
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
    use crate::dedup::minhash;
    use std::collections::BTreeMap;

    #[test]
    fn pending_keys_are_the_set_a_btree_set_would_hold() {
        // Few keys and stories, so that pairs repeat and keys have many stories; enough
        // inserts that every level fills and merges several times.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut keys = PendingKeys::default();
        let mut model = std::collections::BTreeSet::new();
        for round in 0..40_000 {
            let pair = (rng.i64(0..500), rng.i64(0..200));
            // As the band cache calls it: the search skipped only for a pair not held.
            let maybe_held = model.contains(&pair) || rng.bool();
            assert_eq!(
                keys.insert(pair, maybe_held),
                model.insert(pair),
                "{pair:?}"
            );
            assert_eq!(keys.len(), model.len());
            if round % 997 == 0 {
                let key = rng.i64(0..500);
                let window = rng.i64(0..200);
                let mut found: Vec<i64> = keys.stories_of(key, window).collect();
                found.sort_unstable();
                let wanted: Vec<i64> = model
                    .range((key, window)..=(key, i64::MAX))
                    .map(|&(_, s)| s)
                    .collect();
                assert_eq!(found, wanted, "key {key} from {window}");
                assert!(keys.contains(pair) && !keys.contains((key, 200)));
            }
            if round == 30_000 {
                keys.retain(|&(_, s)| s >= 50);
                model.retain(|&(_, s)| s >= 50);
            }
        }
        assert!(keys.main.len() > PENDING_MIDDLE && keys.tail_len > 0);
        // Loaded from rows in any order, with repeats.
        let mut rows: Vec<(i64, i64)> = keys.iter().collect();
        rows.reverse();
        rows.extend(keys.iter());
        let reloaded = PendingKeys::from_pairs(rows);
        assert_eq!(reloaded.len(), model.len());
        assert_eq!(
            keys.into_sorted(),
            model.iter().copied().collect::<Vec<_>>()
        );
    }

    /// 24 band keys for story `s`: `key(7)` is shared by every story (a run of it spans
    /// many blocks), `key(5)` by every other one, the rest by no other story.
    fn keys_of(s: i64) -> Vec<i64> {
        (0..minhash::BANDS as i64)
            .map(|k| match k {
                0 => key(7),
                1 => key(5 + (s % 2) * 1_000_000),
                _ => key(10 + s * 100 + k),
            })
            .collect()
    }

    /// A candidate key of band `n` of its own, as `minhash::candidate_key` makes them
    /// (keys of one band are all read in the same blocks, and a check of 0 would match
    /// every key of its band).
    fn key(n: i64) -> i64 {
        n << 16 | 1
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

    /// An in-memory database with every migration applied.
    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::register_functions(&conn).unwrap();
        super::super::migrate::migrations()
            .to_latest(&mut conn)
            .unwrap();
        conn
    }

    fn exact_capacity(cache: &BandCache) -> Option<usize> {
        match &cache.exact {
            ExactKeys::Built(filter) => Some(filter.capacity),
            ExactKeys::Unbuilt { .. } => None,
        }
    }

    #[test]
    fn the_exact_key_filter_holds_every_key_stored_past_its_first_size() {
        let mut conn = migrated();
        let tx = conn.transaction().unwrap();
        let mut slot = None;
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        let hash = |i: i64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as i64);
        // No story stored: the filter is built at the first lookup.
        assert!(!cache.may_hold_exact(&tx, hash(-1)).unwrap());
        let first_capacity = exact_capacity(cache).unwrap();
        let mut insert = tx
            .prepare("INSERT INTO story_key_recent (hash, story_id) VALUES (?1, 1)")
            .unwrap();
        let keys = first_capacity as i64 + 10_000;
        for i in 0..keys {
            insert.execute([hash(i)]).unwrap();
            cache.add_exact(&tx, hash(i)).unwrap();
        }
        assert!(
            exact_capacity(cache).unwrap() > first_capacity,
            "rebuilt larger"
        );
        assert!((0..keys).all(|i| cache.may_hold_exact(&tx, hash(i)).unwrap()));
        let strangers = (keys..keys + 10_000)
            .filter(|&i| cache.may_hold_exact(&tx, hash(i)).unwrap())
            .count();
        assert!(strangers < 1_000, "{strangers} false positives in 10 000");
    }

    #[test]
    fn the_exact_key_filter_is_built_once_lookups_would_have_paid_for_its_scan() {
        let mut conn = migrated();
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
             INSERT INTO stories (id, first_seen) SELECT i, 0 FROM n;
             INSERT INTO story_key_hashes (hash, story_id) SELECT id * 2, id FROM stories;
             INSERT INTO story_key_recent (hash, story_id) SELECT id * 2 + 1, id FROM stories;",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        let mut slot = None;
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        // 200 keys at most, scanned in the time of 10 lookups.
        for _ in 0..10 {
            assert!(cache.may_hold_exact(&tx, -7).unwrap(), "looked up");
        }
        assert_eq!(exact_capacity(cache), None);
        assert!(
            !cache.may_hold_exact(&tx, -7).unwrap(),
            "the filter answers"
        );
        assert!(exact_capacity(cache).is_some());
        assert!((2..=201).all(|k| cache.may_hold_exact(&tx, k).unwrap()));
    }

    #[test]
    fn runs_span_blocks_and_every_key_is_found_in_memory_and_after_a_reload() {
        let mut conn = migrated();
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
            for band in [0, 6, 8, 4_000_000, (1 << 31) - 1].map(key) {
                assert!(found(cache, &tx, band, 0).is_empty(), "band {band}");
            }
        }
        // Pruning from story 601 on drops the first two runs whole and no pending key.
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        assert_eq!(cache.prune(&tx, 601).unwrap(), 2 * 300 * 24);
        assert_eq!(
            found(cache, &tx, key(7), 0),
            (601..=1_000).collect::<Vec<_>>()
        );
        tx.commit().unwrap();
        let left: i64 = conn
            .query_row("SELECT sum(length(pairs)) / 12 FROM lsh_blocks", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 300 * 24);
    }

    #[test]
    fn keys_sharing_their_top_31_bits_are_told_apart_and_a_31_bit_key_matches_them_all() {
        let mut conn = migrated();
        let mut slot = None;
        let (a, b) = (12_345 << 16 | 1, 12_345 << 16 | 2);
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        // Story 1 has `a` in a run, story 2 has it pending.
        cache.add(&tx, &[a], 1, Some(&[])).unwrap();
        assert!(cache.fold(&tx, 0, 1).unwrap());
        cache.add(&tx, &[a], 2, Some(&[])).unwrap();
        // Stories 3 and 4 have the 31-bit key 12 345, stored before migration 0016: in a
        // run (a 4-byte key and an 8-byte story id) and pending (no checks).
        let old_pair = [12_345u32.to_be_bytes().as_slice(), &3i64.to_be_bytes()].concat();
        tx.execute(
            "INSERT INTO lsh_blocks (id, pairs) VALUES (?1, ?2)",
            params![block_id(99, 0), old_pair],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO lsh_pending (story_id, bands) VALUES (4, ?1)",
            [12_345u32.to_be_bytes()],
        )
        .unwrap();
        tx.commit().unwrap();
        slot = None;
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        assert_eq!(found(cache, &tx, a, 0), [1, 2, 3, 4]);
        assert_eq!(found(cache, &tx, b, 0), [3, 4]);
        assert!(found(cache, &tx, 12_346 << 16 | 1, 0).is_empty());
    }

    #[test]
    fn a_large_run_is_split_into_columns_and_a_key_across_them_is_found_whole() {
        let mut conn = migrated();
        // 5 000 stories of 24 keys: 22 of their own, `key(1)` shared by all (first in key
        // order), and key `across` shared by all, sorted right after story 1 500's own
        // keys (keys 38 000 to 43 000 of the run): 120 000 keys, three columns of 125
        // blocks, the first split inside `across`.
        // (Candidate keys: a check of 0 would match every key of its band.)
        let own = |s: i64, k: i64| (1_000_000 + s * 100 + k) << 16 | 1;
        let across = own(1_500, 50);
        let mut slot = None;
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        for s in 1..=5_000 {
            let mut keys: Vec<i64> = (0..22).map(|k| own(s, k)).collect();
            keys.extend([key(1), across]);
            cache.add(&tx, &keys, s, Some(&[])).unwrap();
        }
        assert!(cache.fold(&tx, 0, 1).unwrap());
        let columns: Vec<(usize, usize)> = cache
            .columns
            .iter()
            .flatten()
            .map(|c| (c.first_block, c.len))
            .collect();
        assert_eq!(columns, vec![(0, 40_000), (125, 40_000), (250, 40_000)]);
        tx.commit().unwrap();
        let all: Vec<i64> = (1..=5_000).collect();
        for reload in [false, true] {
            if reload {
                slot = None;
            }
            let tx = conn.transaction().unwrap();
            let cache = BandCache::current(&mut slot, &tx).unwrap();
            assert_eq!(cache.columns.iter().flatten().count(), 3);
            assert_eq!(found(cache, &tx, across, 0), all);
            assert_eq!(found(cache, &tx, key(1), 0), all);
            assert_eq!(
                found(cache, &tx, across, 4_990),
                (4_990..=5_000).collect::<Vec<_>>()
            );
            for s in [1, 1_500, 1_501, 5_000] {
                assert_eq!(found(cache, &tx, own(s, 0), 0), vec![s]);
                assert_eq!(found(cache, &tx, own(s, 21), 0), vec![s]);
            }
            assert!(found(cache, &tx, own(1_500, 22), 0).is_empty());
        }
        // Once every story has left the window, the run goes and its slots are reused
        // by the next run, which finds none of the old keys.
        let tx = conn.transaction().unwrap();
        let cache = BandCache::current(&mut slot, &tx).unwrap();
        assert_eq!(cache.prune(&tx, 5_001).unwrap(), 120_000);
        cache
            .add(&tx, &[key(7); minhash::BANDS], 6_000, Some(&[]))
            .unwrap();
        assert!(cache.fold(&tx, 5_001, 1).unwrap());
        assert_eq!(cache.columns.len(), 3);
        assert_eq!(cache.run_count(), 1);
        assert_eq!(found(cache, &tx, key(7), 0), vec![6_000]);
        assert!(found(cache, &tx, across, 0).is_empty());
        assert!(found(cache, &tx, own(1_500, 0), 0).is_empty());
        tx.commit().unwrap();
    }
}
