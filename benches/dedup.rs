//! Candidate lookup + merge latency per entry with 10k, 100k and 1M stored stories.
//!
//! `cargo bench --bench dedup` (set ROUNDUP_BENCH_SIZES=10000,100000 to skip 1M,
//! ROUNDUP_BENCH_BATCH=1000 for 1 000-entry transactions, and ROUNDUP_BENCH_NO_LSH=1 for
//! entries without LSH band keys, to see the near-duplicate share of the ingest).
//! ROUNDUP_BENCH_MERGE_LOOP=600 times 600 batches of copies in a loop instead (the
//! merge alone, one figure per size), and ROUNDUP_BENCH_PERF_CTL=<ctl>,<ack> enables
//! `perf record -D -1 --control fifo:<ctl>,<ack>` around each timed batch only.
//!
//! Three measurements per size, each on fresh batches of 100 entries: new stories
//! (lookup finds nothing, a story is created) and near-duplicates of one of the last
//! day's stories (new headline, last ten words dropped, one word changed: lookup, exact
//! verification, merge).
//! - `dedup_lookup_per_entry`: finding the story an entry joins (exact keys, LSH
//!   candidates, exact verification), without writing; half new stories, half copies.
//! - `dedup_merge_per_entry`: the store write of a batch of copies only, in one
//!   transaction (lookup, verification, the merge, the commit). Each timed batch
//!   follows an untimed batch of as many new stories, so that the window moves on as in
//!   the ingest.
//! - `dedup_ingest_per_entry`: the whole store write of a batch in one transaction (the
//!   entry, its story or its merge, exact keys, band keys, the commit; half new stories,
//!   half copies), about as many entries as 2–3 feeds bring (a fetch cycle groups up
//!   to 32 feeds per transaction, so this is the conservative case).
//!
//! Each store is an on-disk SQLite database (WAL) filled with synthetic stories of about
//! 60 words drawn from a 50 000-word vocabulary, with their exact keys and 24 LSH band
//! keys, arriving at 5 000 stories a day (a heavy user: ~1 000 busy feeds), so 10k
//! stories span 2 days, 100k span 20 and 1M span 200. The ingest goes on at that rate
//! (each batch is stored at its newest story's arrival time), and bands older than the
//! 7-day window are pruned as in production, so the band index holds about one window.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use roundup::dedup::{self, MatchPolicy};
use roundup::fetch::ResponseMeta;
use roundup::model::Item;
use roundup::store::Store;

const VOCAB: u64 = 50_000;
const WORDS: usize = 60;
/// Entries per measured transaction (ROUNDUP_BENCH_BATCH, default 100).
fn batch_size() -> usize {
    std::env::var("ROUNDUP_BENCH_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}
const PER_DAY: u64 = 5_000;

fn words(seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..WORDS)
        .map(|_| format!("w{}", rng.u64(0..VOCAB)))
        .collect()
}

fn item(key: &str, title: &str, text: &str) -> Item {
    let shingles = dedup::entry_shingles(title, text);
    // ROUNDUP_BENCH_NO_LSH: items without band keys (no near-duplicate lookup, no band
    // index writes), to measure what the rest of an entry's write costs.
    let bands = if std::env::var_os("ROUNDUP_BENCH_NO_LSH").is_some() {
        Vec::new()
    } else {
        // As normalize makes them: the 24 band keys, then the lead key.
        dedup::entry_bands(title, text)
    };
    Item {
        entry_key: key.to_owned(),
        title: title.to_owned(),
        link: Some(format!("https://bench.example/{key}")),
        canonical_url: Some(format!("https://bench.example/{key}")),
        published: None,
        updated: None,
        summary: text.to_owned(),
        text_fingerprint: dedup::text_fingerprint(title, text),
        content_hash: key.to_owned(),
        shingles,
        bands,
    }
}

fn story_item(n: u64) -> Item {
    let w = words(n);
    item(&format!("s{n}"), &w[..8].join(" "), &w[8..].join(" "))
}

/// A copy of story `n`: new headline, last ten words dropped, one word changed.
fn copy_item(n: u64, tag: u64) -> Item {
    let mut w = words(n);
    w.truncate(WORDS - 10);
    w[20] = "changed".to_owned();
    item(
        &format!("c{n}-{tag}"),
        &format!("copy {tag} of story {n}"),
        &w[8..].join(" "),
    )
}

fn meta() -> ResponseMeta {
    ResponseMeta {
        status: 200,
        etag: None,
        last_modified: None,
        content_type: None,
        final_url: url::Url::parse("https://bench.example/feed").unwrap(),
        max_age: None,
        permanent_redirect: None,
    }
}

fn policy() -> MatchPolicy {
    MatchPolicy {
        window: Duration::from_secs(7 * 86_400),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Arrival time of the `i`-th story.
fn at(i: u64) -> chrono::DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    start + chrono::Duration::seconds((i * 86_400 / PER_DAY) as i64)
}

/// The measured batches: new stories numbered from `next`, and copies of one of the
/// last day's stories before `stored`.
struct Workload {
    next: u64,
    /// Stories `0..stored` are in the database.
    stored: u64,
    tag: u64,
    len: usize,
}

impl Workload {
    /// A batch, and the arrival time of its newest story. `stores`: the batch will be
    /// stored, so later copies may be of its stories.
    fn batch(&mut self, stores: bool) -> (Vec<Item>, chrono::DateTime<Utc>) {
        self.made_of(stores, None)
    }

    /// A batch of new stories only, to be stored.
    fn stories(&mut self) -> (Vec<Item>, chrono::DateTime<Utc>) {
        self.made_of(true, Some(false))
    }

    /// A batch of copies only: every entry is a copy of a stored story.
    fn copies(&mut self) -> (Vec<Item>, chrono::DateTime<Utc>) {
        self.made_of(false, Some(true))
    }

    /// `only`: `Some(true)` for copies only, `Some(false)` for new stories only, `None`
    /// for half and half.
    fn made_of(&mut self, stores: bool, only: Option<bool>) -> (Vec<Item>, chrono::DateTime<Utc>) {
        let stored = self.stored;
        let mut batch = Vec::with_capacity(self.len);
        for k in 0..self.len as u64 {
            let new_story = only.map_or_else(
                || k % 2 == 0 || std::env::var_os("ROUNDUP_BENCH_NO_COPIES").is_some(),
                |copies| !copies,
            );
            if new_story {
                batch.push(story_item(self.next));
                self.next += 1;
            } else {
                self.tag += 1;
                let recent = PER_DAY.min(stored);
                batch.push(copy_item(
                    stored - 1 - (self.tag * 7_919) % recent,
                    self.tag,
                ));
            }
        }
        if stores {
            self.stored = self.next;
        }
        (batch, at(self.next))
    }
}

fn build(dir: &std::path::Path, n: u64) -> Store {
    let mut store = Store::open(&dir.join("bench.db")).unwrap();
    let config = roundup::config::parse_str(
        "[[sources]]\nid = \"bench\"\nurl = \"https://bench.example/feed\"\n",
        std::path::Path::new("/bench/roundup.toml"),
    )
    .unwrap();
    store.sync_sources(&config.sources, Utc::now()).unwrap();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let batch: Vec<Item> = (i..(i + 1_000).min(n)).map(story_item).collect();
        store
            .store_fetch("bench", &meta(), None, &batch, policy(), at(i))
            .unwrap();
        i += batch.len() as u64;
    }
    let size = std::fs::metadata(dir.join("bench.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.join("bench.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    eprintln!(
        "built {n} stories in {:.1?}: database {:.0} MiB, peak RSS so far {} MiB",
        started.elapsed(),
        size as f64 / 1_048_576.0,
        rss_kib() / 1024
    );
    store
}

/// ROUNDUP_BENCH_MERGE_LOOP: batches of copies to time in a plain loop instead of the
/// criterion groups (more batches than criterion's samples, and one figure to compare).
fn merge_loop_rounds() -> Option<usize> {
    std::env::var("ROUNDUP_BENCH_MERGE_LOOP")
        .ok()
        .and_then(|s| s.parse().ok())
}

/// Stores a batch of new stories (not timed), then times the store write of a batch of
/// copies of the last day's stories (lookup, verification, the merge, the commit).
/// Returns the time and how many copies joined their story.
fn timed_merge(
    store: &mut Store,
    workload: &mut Workload,
    perf: &mut Option<PerfControl>,
) -> (Duration, usize) {
    let (stories, now) = workload.stories();
    store
        .store_fetch("bench", &meta(), None, &stories, policy(), now)
        .unwrap();
    let (batch, _) = workload.copies();
    if let Some(ctl) = perf.as_mut() {
        ctl.send(b"enable\n");
    }
    let started = Instant::now();
    let report = store
        .store_fetch("bench", &meta(), None, &batch, policy(), now)
        .unwrap();
    let took = started.elapsed();
    if let Some(ctl) = perf.as_mut() {
        ctl.send(b"disable\n");
    }
    (took, report.merged)
}

/// ROUNDUP_BENCH_PERF_CTL: the FIFOs of `perf record --control fifo:<ctl>,<ack>`. perf
/// reads the control FIFO on its own time; without waiting for its acknowledgement, a
/// profile at 100k held about a fifth of its samples from the untimed work after a
/// batch (making the next batches).
struct PerfControl {
    ctl: std::fs::File,
    ack: std::fs::File,
}

impl PerfControl {
    fn from_env() -> Option<PerfControl> {
        let var = std::env::var("ROUNDUP_BENCH_PERF_CTL").ok()?;
        let (ctl, ack) = var
            .split_once(',')
            .expect("ROUNDUP_BENCH_PERF_CTL=<ctl fifo>,<ack fifo>");
        Some(PerfControl {
            ctl: std::fs::OpenOptions::new().write(true).open(ctl).unwrap(),
            ack: std::fs::File::open(ack).unwrap(),
        })
    }

    /// Sends `command` and waits until perf has carried it out (its "ack" line).
    fn send(&mut self, command: &[u8]) {
        use std::io::{Read, Write};
        self.ctl.write_all(command).unwrap();
        let mut byte = [0u8; 1];
        loop {
            self.ack.read_exact(&mut byte).unwrap();
            if byte[0] == b'\n' {
                break;
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let sizes: Vec<u64> = std::env::var("ROUNDUP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let batch_len = batch_size();
    let mut perf = PerfControl::from_env();
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        drop(build(dir.path(), n));
        // A process that opens the database loads the band index's in-memory side (recent
        // keys, run filters) at its first lookup or write: one scan of the window's keys.
        let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
        let started = Instant::now();
        store
            .matching_stories(&[story_item(n + 1_000_000_000)], policy(), at(n))
            .unwrap();
        eprintln!(
            "first lookup after opening, at {n}: {:.1?} (loads the band index's memory side)",
            started.elapsed()
        );
        // Half new stories, half copies of one of the last day's stories, arriving at
        // PER_DAY stories a day: each batch is stored at the arrival time of its newest
        // story, so that the window (and the band index) keeps one window's worth of
        // stories during the ingest too, as in production.
        let mut workload = Workload {
            next: n,
            stored: n,
            tag: 0,
            len: batch_len,
        };
        if let Some(rounds) = merge_loop_rounds() {
            let (mut timed, mut merged) = (Duration::ZERO, 0);
            for _ in 0..rounds {
                let (took, merges) = timed_merge(&mut store, &mut workload, &mut perf);
                timed += took;
                merged += merges;
            }
            let copies = rounds * batch_len;
            eprintln!(
                "merge loop at {n}: {:.1} µs a copy ({copies} copies in {rounds} transactions, \
                 {merged} merged into their story), peak RSS {} MiB",
                timed.as_secs_f64() * 1e6 / copies.max(1) as f64,
                rss_kib() / 1024
            );
            continue;
        }
        let mut group = c.benchmark_group("dedup_lookup_per_entry");
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(batch_len as u64));
        let (mut looked, mut found) = (0usize, 0usize);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // A fresh batch per iteration: copies of other stories, new stories never
            // seen. Repeating one batch would time lookups whose band blocks are already
            // in SQLite's page cache and whose filter words are in the CPU's caches.
            b.iter_batched(
                || workload.batch(false),
                |(lookups, _)| {
                    let stories = store.matching_stories(&lookups, policy(), at(n)).unwrap();
                    looked += stories.len() / 2;
                    found += stories.iter().filter(|s| s.is_some()).count();
                },
                criterion::BatchSize::PerIteration,
            );
        });
        group.finish();
        // Nothing was stored: the ingest stores new stories from `n` on.
        workload.next = n;
        eprintln!(
            "lookup at {n}: copies that found their story {found}/{looked} ({:.2} %)",
            100.0 * found as f64 / looked.max(1) as f64
        );

        // Merges alone: each iteration stores a batch of new stories (not timed), then
        // times a batch of copies of the last day's stories (lookup, verification, the
        // merge, the commit). Stories and copies arrive at the same rate as in the ingest
        // below, so the window and the band index stay at one window's worth.
        let mut group = c.benchmark_group("dedup_merge_per_entry");
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(10));
        group.throughput(Throughput::Elements(batch_len as u64));
        let (mut copies, mut merged) = (0usize, 0usize);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let (took, merges) = timed_merge(&mut store, &mut workload, &mut perf);
                    timed += took;
                    copies += batch_len;
                    merged += merges;
                }
                timed
            });
        });
        group.finish();
        eprintln!(
            "merge at {n}: copies merged into their story {merged}/{copies} ({:.2} %)",
            100.0 * merged as f64 / copies.max(1) as f64
        );

        let mut group = c.benchmark_group("dedup_ingest_per_entry");
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(10));
        group.throughput(Throughput::Elements(batch_len as u64));
        let (mut copies, mut merged) = (0usize, 0usize);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // Building items (tokenising, hashing) happens in normalize, off the database
            // lock, and is benchmarked with parsing; only the store's work is timed here.
            b.iter_batched(
                || workload.batch(true),
                |(batch, now)| {
                    let report = store
                        .store_fetch("bench", &meta(), None, &batch, policy(), now)
                        .unwrap();
                    copies += batch_len / 2;
                    merged += report.merged;
                },
                criterion::BatchSize::PerIteration,
            );
        });
        group.finish();
        eprintln!(
            "after {n}: peak RSS {} MiB; copies merged into their story: {merged}/{copies} ({:.2} %)",
            rss_kib() / 1024,
            100.0 * merged as f64 / copies.max(1) as f64
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
