//! The dedup evaluation over `tests/fixtures/dedup/set.json`, shared by the test that
//! asserts floors (`tests/dedup.rs`) and the example that prints the figures
//! (`cargo run --release --example dedup_eval`).
//!
//! Every document goes through the real path: an RSS item → parse → normalise → the
//! store's matching, in publication order, one fetch per document. Pairwise precision
//! and recall compare the resulting stories with the labelled clusters. The baseline is
//! title-trigram similarity ≥ 0.75 (pg_trgm-style, what Tiny Tiny RSS's plugin does).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use roundup::dedup::MatchPolicy;
use roundup::fetch::ResponseMeta;
use roundup::store::Store;

#[derive(Debug, Clone)]
pub struct Doc {
    pub cluster: usize,
    pub lang: String,
    pub source: String,
    pub title: String,
    pub text: String,
    pub link: String,
    pub guid: Option<String>,
    pub published: DateTime<Utc>,
}

pub fn load(path: &Path) -> Vec<Doc> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let base = Utc.with_ymd_and_hms(2024, 11, 26, 6, 0, 0).unwrap();
    let mut docs = Vec::new();
    for (ci, c) in v["clusters"].as_array().unwrap().iter().enumerate() {
        for d in c["docs"].as_array().unwrap() {
            docs.push(Doc {
                cluster: ci,
                lang: c["lang"].as_str().unwrap().to_owned(),
                source: d["source"].as_str().unwrap().to_owned(),
                title: d["title"].as_str().unwrap().to_owned(),
                text: d["text"].as_str().unwrap().to_owned(),
                link: d["link"].as_str().unwrap().to_owned(),
                guid: d["guid"].as_str().map(str::to_owned),
                published: base + Duration::minutes(d["published_offset_min"].as_i64().unwrap()),
            });
        }
    }
    docs
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The document as its outlet's RSS would carry it.
pub fn rss(doc: &Doc) -> String {
    let html: String = doc
        .text
        .split("\n\n")
        .map(|p| format!("<p>{p}</p>"))
        .collect();
    let guid = doc
        .guid
        .as_deref()
        .map(|g| format!("<guid isPermaLink=\"false\">{}</guid>", xml_escape(g)))
        .unwrap_or_default();
    format!(
        "<rss version=\"2.0\"><channel><title>{src}</title><link>https://{src}.example/</link><item><title>{}</title><link>{}</link>{guid}<pubDate>{}</pubDate><description>{}</description></item></channel></rss>",
        xml_escape(&doc.title),
        xml_escape(&doc.link),
        doc.published.to_rfc2822(),
        xml_escape(&html),
        src = doc.source,
    )
}

/// Runs every document through parse → normalise → store; returns each doc's story.
pub fn cluster_with_roundup(docs: &[Doc]) -> Vec<i64> {
    let mut store = store_for(docs);
    let policy = MatchPolicy {
        window: std::time::Duration::from_secs(7 * 86_400),
    };
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by_key(|&i| (docs[i].published, i));
    let mut keys = vec![String::new(); docs.len()];
    for i in order {
        keys[i] = ingest(&mut store, &docs[i], policy, docs[i].published);
    }
    docs.iter()
        .zip(&keys)
        .map(|(d, k)| store.story_of(&d.source, k).unwrap().unwrap())
        .collect()
}

/// Stores one document as its outlet's fetch at `now`; returns its entry key.
pub fn ingest(store: &mut Store, doc: &Doc, policy: MatchPolicy, now: DateTime<Utc>) -> String {
    let url = url::Url::parse(&format!("https://{}.example/feed", doc.source)).unwrap();
    let feed = roundup::parse::parse_feed(rss(doc).as_bytes(), &url).unwrap();
    let items = roundup::normalize::normalize_feed(&feed, &url, now + Duration::minutes(1));
    assert_eq!(items.len(), 1);
    let meta = ResponseMeta {
        status: 200,
        etag: None,
        last_modified: None,
        content_type: None,
        final_url: url,
        max_age: None,
        permanent_redirect: None,
    };
    store
        .store_fetch(&doc.source, &meta, None, &items, policy, now)
        .unwrap();
    items[0].entry_key.clone()
}

/// A store with one source per distinct `doc.source`.
pub fn store_for(docs: &[Doc]) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let sources: Vec<String> = docs
        .iter()
        .map(|d| d.source.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let config_text: String = sources
        .iter()
        .map(|s| format!("[[sources]]\nid = \"{s}\"\nurl = \"https://{s}.example/feed\"\n"))
        .collect();
    let config = roundup::config::parse_str(&config_text, Path::new("/eval/roundup.toml")).unwrap();
    store.sync_sources(&config.sources, Utc::now()).unwrap();
    store
}

/// pg_trgm-style trigrams of a title: lower-cased words padded with two spaces in front
/// and one behind.
fn trigrams(title: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for word in title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let padded: Vec<char> = format!("  {word} ").chars().collect();
        for w in padded.windows(3) {
            out.insert(w.iter().collect());
        }
    }
    out
}

pub fn title_similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    let common = ta.intersection(&tb).count() as f64;
    let union = (ta.len() + tb.len()) as f64 - common;
    if union == 0.0 { 0.0 } else { common / union }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Scores {
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Pairwise scores per language ("all" for the whole set) of a same-story predicate.
pub fn score(docs: &[Doc], same: impl Fn(usize, usize) -> bool) -> BTreeMap<String, Scores> {
    let mut out: BTreeMap<String, Scores> = BTreeMap::new();
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            let gold = docs[i].cluster == docs[j].cluster;
            let pred = same(i, j);
            let mut langs = vec!["all".to_owned()];
            if docs[i].lang == docs[j].lang {
                langs.push(docs[i].lang.clone());
            }
            for lang in langs {
                let s = out.entry(lang).or_default();
                match (gold, pred) {
                    (true, true) => s.tp += 1,
                    (false, true) => s.fp += 1,
                    (true, false) => s.fn_ += 1,
                    (false, false) => {}
                }
            }
        }
    }
    out
}

/// Roundup's and the baseline's scores, with the list of wrong pairs for diagnosis.
pub fn evaluate(
    docs: &[Doc],
) -> (
    BTreeMap<String, Scores>,
    BTreeMap<String, Scores>,
    Vec<String>,
) {
    let stories = cluster_with_roundup(docs);
    let ours = score(docs, |i, j| stories[i] == stories[j]);
    let baseline = score(docs, |i, j| {
        title_similarity(&docs[i].title, &docs[j].title) >= 0.75
    });
    let mut wrong = Vec::new();
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            let gold = docs[i].cluster == docs[j].cluster;
            let pred = stories[i] == stories[j];
            if gold != pred {
                wrong.push(format!(
                    "{} {:?} / {:?}",
                    if pred { "false merge:" } else { "missed:" },
                    docs[i].title,
                    docs[j].title
                ));
            }
        }
    }
    (ours, baseline, wrong)
}
