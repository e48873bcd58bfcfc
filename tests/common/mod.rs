//! Shared helpers: fixture paths, temporary configs, and a store/fetcher pair.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use roundup::config::{self, Config};
use roundup::fetch::Fetcher;
use roundup::pipeline::{self, RefreshReport, SharedStore};
use roundup::store::Store;

/// Absolute path of a file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// `file://` URL of a feed fixture.
pub fn fixture_url(rel: &str) -> String {
    url::Url::from_file_path(fixture(rel)).unwrap().to_string()
}

/// The demo's six fixture outlets: (id, name, region, fixture file).
pub const DEMO_FEEDS: &[(&str, &str, &str, &str)] = &[
    (
        "afintl",
        "Afghanistan International",
        "Afghanistan",
        "feeds/afintl.xml",
    ),
    ("kabulnow", "KabulNow", "Afghanistan", "feeds/kabulnow.atom"),
    ("wire", "Regional Wire", "Central Asia", "feeds/wire.json"),
    ("amu", "Amu TV", "Afghanistan", "feeds/amu.xml"),
    ("meduza", "Meduza", "Russia", "feeds/meduza.xml"),
    ("bbcpersian", "BBC Persian", "Iran", "feeds/bbcpersian.xml"),
];

/// `[[sources]]` blocks with names and regions for `feeds`.
pub fn named_sources(feeds: &[(&str, &str, &str, &str)]) -> String {
    feeds
        .iter()
        .map(|(id, name, region, file)| {
            format!("[[sources]]\nid = \"{id}\"\nname = \"{name}\"\nregion = \"{region}\"\nurl = \"{}\"\n", fixture_url(file))
        })
        .collect()
}

/// One `[[sources]]` block.
pub fn source(id: &str, url: &str) -> String {
    format!(
        "[[sources]]\nid = \"{id}\"\nname = \"{}\"\nurl = \"{url}\"\nregion = \"Afghanistan\"\n\n",
        id.to_uppercase()
    )
}

/// A config in `dir` (database and digests inside it) with `fetch_extra` lines in
/// `[fetch]` and the given sources; written to `dir/roundup.toml`.
pub fn write_config(dir: &Path, fetch_extra: &str, sources: &[String]) -> PathBuf {
    let text = format!(
        "database = \"roundup.db\"\n\n[fetch]\n{fetch_extra}\n\n[digest]\noutput_dir = \"digests\"\nformats = [\"markdown\", \"json\"]\n\n{}",
        sources.concat()
    );
    let path = dir.join("roundup.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The demo's four fixture feeds, by absolute file:// URL.
pub fn demo_sources() -> Vec<String> {
    vec![
        source("afintl", &fixture_url("feeds/afintl.xml")),
        source("kabulnow", &fixture_url("feeds/kabulnow.atom")),
        source("wire", &fixture_url("feeds/wire.json")),
        source("amu", &fixture_url("feeds/amu.xml")),
    ]
}

/// A loaded config plus its store and fetcher.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: SharedStore,
    pub fetcher: Fetcher,
}

impl Harness {
    pub fn new(fetch_extra: &str, sources: &[String]) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), fetch_extra, sources);
        let config = config::load(&path).unwrap();
        let store = SharedStore::new(Store::open(&config.database).unwrap());
        let fetcher = Fetcher::new(&config.fetch).unwrap();
        Harness {
            dir,
            config,
            store,
            fetcher,
        }
    }

    pub async fn cycle(&self) -> RefreshReport {
        let sources: Vec<_> = self.config.enabled_sources().cloned().collect();
        pipeline::refresh_all(&self.config, &sources, &self.store, &self.fetcher)
            .await
            .unwrap()
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store.lock())
    }
}
