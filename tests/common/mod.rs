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
        let store = SharedStore::new(Store::open(&config.database).unwrap()).unwrap();
        let fetcher = Fetcher::new(&config.fetch).unwrap();
        Harness {
            dir,
            config,
            store,
            fetcher,
        }
    }

    pub async fn cycle(&self) -> RefreshReport {
        let sources: Vec<_> = self.config.enabled_sources().collect();
        pipeline::refresh_all(&self.config, &sources, &self.store, &self.fetcher)
            .await
            .unwrap()
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store.lock())
    }
}

/// A one-connection-at-a-time proxy on 127.0.0.1 that answers every request itself with
/// `feed`, and records the first line of each: an HTTP proxy (`GET http://host/path`)
/// or, with `socks`, a SOCKS5 proxy (the CONNECT's host name, then the plain request
/// that follows it). Feed hosts end in `.invalid`, which roundup never resolves itself:
/// a fetch that succeeds went through the proxy.
pub async fn proxy(
    socks: bool,
    feed: Vec<u8>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            if socks {
                // Greeting: version 5, methods; answer "no authentication".
                let mut head = [0u8; 2];
                socket.read_exact(&mut head).await.unwrap();
                let mut methods = vec![0u8; usize::from(head[1])];
                socket.read_exact(&mut methods).await.unwrap();
                socket.write_all(&[5, 0]).await.unwrap();
                // CONNECT to a domain name (socks5h), then its port.
                let mut request = [0u8; 5];
                socket.read_exact(&mut request).await.unwrap();
                assert_eq!(&request[..4], &[5, 1, 0, 3], "CONNECT by host name");
                let mut host = vec![0u8; usize::from(request[4])];
                socket.read_exact(&mut host).await.unwrap();
                let mut port = [0u8; 2];
                socket.read_exact(&mut port).await.unwrap();
                log.lock().unwrap().push(format!(
                    "CONNECT {}:{}",
                    String::from_utf8_lossy(&host),
                    u16::from_be_bytes(port)
                ));
                socket
                    .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80])
                    .await
                    .unwrap();
            }
            let request = read_request_head(&mut socket).await;
            let text = String::from_utf8_lossy(&request);
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("").to_owned());
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                feed.len()
            )
            .into_bytes();
            reply.extend_from_slice(&feed);
            let _ = socket.write_all(&reply).await;
            let _ = socket.shutdown().await;
        }
    });
    (addr.to_string(), seen)
}

/// An HTTP request's head as a test server reads it, up to the blank line: read whole,
/// so that closing the connection leaves nothing unread (which would make it a reset).
pub async fn read_request_head(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    request
}
