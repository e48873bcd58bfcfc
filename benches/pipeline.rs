//! The hot stages of a fetch cycle, one criterion group each (issue: fast at scale):
//!
//! * `parse_normalize`: feed bytes → feed-rs → roundup items (plain text, keys,
//!   shingles, LSH bands), reported in MB/s over RSS and Atom feeds of ~84 KB;
//! * `minhash_signature`: the MinHash signatures of those feeds' items;
//! * `store_write`: one feed (40 items) written with `store_fetch`, and a group of 32
//!   feeds written in one transaction with `store_fetches` (what the pipeline does), into
//!   a database already holding ~10k stories; every measured item is new;
//! * `digest_10k`: building the digest model of 10 000 stories from the database, and
//!   rendering it as markdown, html, atom and json (target: < 1 s).
//!
//! `cargo bench --bench pipeline` (feeds from `benches/support/feeds.rs`, the same
//! generator as `examples/e2e_bench.rs`).

#[path = "support/feeds.rs"]
mod feeds;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use roundup::config::{Config, Format};
use roundup::dedup::{self, minhash};
use roundup::digest::{self, Window};
use roundup::fetch::ResponseMeta;
use roundup::model::Item;
use roundup::store::{FetchWrite, Store};
use url::Url;

/// Outlets in the prefilled database (40 items each: ~10k stories).
const PREFILL: usize = 290;
/// Feeds written per group commit (the pipeline's `GROUP_MAX`).
const GROUP: usize = roundup::pipeline::GROUP_MAX;

fn feed_url(i: usize) -> Url {
    Url::parse(&format!("https://outlet{i}.example/feed")).unwrap()
}

fn config(dir: &Path, outlets: usize) -> Config {
    let sources: String = (0..outlets)
        .map(|i| {
            format!(
                "[[sources]]\nid = \"o{i}\"\nname = \"Outlet {i}\"\nregion = \"R{}\"\nurl = \"{}\"\n",
                i % 5,
                feed_url(i)
            )
        })
        .collect();
    roundup::config::parse_str(
        &format!("database = \"bench.db\"\n\n{sources}"),
        &dir.join("roundup.toml"),
    )
    .unwrap()
}

fn meta(i: usize) -> ResponseMeta {
    ResponseMeta {
        status: 200,
        etag: Some(format!("\"{i}\"")),
        last_modified: None,
        content_type: Some("application/xml".to_owned()),
        final_url: feed_url(i),
        max_age: None,
        permanent_redirect: None,
    }
}

fn items(body: &[u8], i: usize, now: DateTime<Utc>) -> Vec<Item> {
    let url = feed_url(i);
    let feed = roundup::parse::parse_feed(body, &url).unwrap();
    roundup::normalize::normalize_feed(&feed, &url, now)
}

/// `items` made new: other keys, links and words (so they start new stories).
fn fresh(items: &[Item], round: usize) -> Vec<Item> {
    items
        .iter()
        .map(|it| {
            let mut it = it.clone();
            it.entry_key = format!("{}-r{round}", it.entry_key);
            it.link = it.link.map(|l| format!("{l}?r={round}"));
            it.canonical_url = it.canonical_url.map(|l| format!("{l}?r={round}"));
            it.summary = it
                .summary
                .split_whitespace()
                .map(|w| format!("{w}{round}"))
                .collect::<Vec<_>>()
                .join(" ");
            let (fingerprint, shingles) = dedup::text_keys(&it.title, &it.summary);
            it.bands = minhash::signature(&shingles)
                .map(|s| minhash::band_keys(&s))
                .unwrap_or_default();
            it.text_fingerprint = fingerprint;
            it.shingles = shingles;
            it.content_hash = format!("{}-r{round}", it.content_hash);
            it
        })
        .collect()
}

fn prefilled(dir: &Path, bodies: &[Vec<u8>], now: DateTime<Utc>) -> (Config, Store) {
    let config = config(dir, PREFILL);
    let mut store = Store::open(&config.database).unwrap();
    store.sync_sources(&config.sources, now).unwrap();
    let parsed: Vec<(usize, Vec<Item>)> = (0..PREFILL)
        .map(|i| (i, items(&bodies[i], i, now)))
        .collect();
    let metas: Vec<ResponseMeta> = (0..PREFILL).map(meta).collect();
    let ids: Vec<String> = (0..PREFILL).map(|i| format!("o{i}")).collect();
    for chunk in parsed.chunks(GROUP) {
        let writes: Vec<FetchWrite<'_>> = chunk
            .iter()
            .map(|(i, items)| FetchWrite {
                source_id: &ids[*i],
                meta: &metas[*i],
                redirect: None,
                items,
                now,
                parsed: None,
            })
            .collect();
        for r in store.store_fetches(&writes, config.dedup.policy()).unwrap() {
            r.unwrap();
        }
    }
    (config, store)
}

fn parse_normalize(c: &mut Criterion) {
    let bodies = feeds::generate(8);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let now = Utc::now();
    let mut group = c.benchmark_group("parse_normalize");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("8_feeds_rss_and_atom", |b| {
        b.iter(|| {
            bodies
                .iter()
                .enumerate()
                .map(|(i, body)| items(body, i, now).len())
                .sum::<usize>()
        });
    });
    group.finish();
}

/// The MinHash signatures of the items of 8 feeds (their shingle sets made beforehand;
/// one-permutation signatures since migration 0018).
fn minhash_signature(c: &mut Criterion) {
    let now = Utc::now();
    let sets: Vec<Vec<u64>> = feeds::generate(8)
        .iter()
        .enumerate()
        .flat_map(|(i, body)| items(body, i, now))
        .map(|item| item.shingles)
        .filter(|s| s.len() >= minhash::MIN_SHINGLES)
        .collect();
    let mut group = c.benchmark_group("minhash_signature");
    group.throughput(Throughput::Elements(sets.len() as u64));
    group.bench_function("one_permutation", |b| {
        b.iter(|| {
            sets.iter()
                .filter_map(|s| minhash::signature(s))
                .map(|sig| sig[0])
                .fold(0, u64::wrapping_add)
        });
    });
    group.finish();
}

fn store_write(c: &mut Criterion) {
    let bodies = feeds::generate(PREFILL);
    let now = Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let (config, mut store) = prefilled(dir.path(), &bodies, now);
    let policy = config.dedup.policy();
    let templates: Vec<Vec<Item>> = (0..GROUP).map(|i| items(&bodies[i], i, now)).collect();
    let metas: Vec<ResponseMeta> = (0..GROUP).map(meta).collect();
    let ids: Vec<String> = (0..GROUP).map(|i| format!("o{i}")).collect();
    let mut round = 0;
    let mut group = c.benchmark_group("store_write");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(templates[0].len() as u64));
    group.bench_function("one_feed_one_transaction", |b| {
        b.iter_batched(
            || {
                round += 1;
                fresh(&templates[round % GROUP], round)
            },
            |items| {
                store
                    .store_fetch(&ids[0], &metas[0], None, &items, policy, now)
                    .unwrap()
            },
            BatchSize::PerIteration,
        );
    });
    let per_group: usize = templates.iter().map(Vec::len).sum();
    group.throughput(Throughput::Elements(per_group as u64));
    group.bench_function("32_feeds_group_commit", |b| {
        b.iter_batched(
            || {
                round += 1;
                templates
                    .iter()
                    .map(|t| fresh(t, round))
                    .collect::<Vec<_>>()
            },
            |batch| {
                let writes: Vec<FetchWrite<'_>> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, items)| FetchWrite {
                        source_id: &ids[i],
                        meta: &metas[i],
                        redirect: None,
                        items,
                        now,
                        parsed: None,
                    })
                    .collect();
                store.store_fetches(&writes, policy).unwrap()
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn digest_10k(c: &mut Criterion) {
    let bodies = feeds::generate(PREFILL);
    let now = Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let (config, store) = prefilled(dir.path(), &bodies, now);
    let window = Window::ending(
        now + chrono::Duration::minutes(1),
        Duration::from_secs(86_400),
        config.fetch.timezone,
    );
    let built = digest::build(&store, &config, window, now).unwrap();
    eprintln!("digest_10k: {} stories", built.story_count());
    let mut group = c.benchmark_group("digest_10k");
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter(|| digest::build(&store, &config, window, now).unwrap());
    });
    for format in [Format::Markdown, Format::Html, Format::Atom, Format::Json] {
        let renderer = digest::renderer(format);
        group.bench_function(format!("render_{}", format.name()), |b| {
            b.iter(|| renderer.render(&built).len());
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    parse_normalize,
    minhash_signature,
    store_write,
    digest_10k
);
criterion_main!(benches);
