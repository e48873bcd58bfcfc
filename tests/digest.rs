//! Digests over a fixture database: golden files for every format, sanitising of
//! hostile feed HTML, Atom that parses back, the archive, and the email digest through
//! a local SMTP sink.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use roundup::config::{self, Config, Format};
use roundup::digest::{self, Window};
use roundup::fetch::ResponseMeta;
use roundup::store::Store;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::fixture;

/// The demo's outlets plus one that sends hostile HTML.
fn feeds() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut feeds = crate::common::DEMO_FEEDS.to_vec();
    feeds.push((
        "hostile",
        "Hostile Outlet",
        "Afghanistan",
        "feeds/hostile.xml",
    ));
    feeds
}

fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 11, 26, 18, 0, 0).unwrap()
}

fn config(dir: &Path, extra: &str) -> Config {
    let mut text = format!(
        "database = \"roundup.db\"\n[fetch]\ntimezone = \"Asia/Kabul\"\n[digest]\noutput_dir = \"digests\"\n{extra}\n"
    );
    text.push_str(&crate::common::named_sources(&feeds()));
    let path = dir.join("roundup.toml");
    std::fs::write(&path, text).unwrap();
    config::load(&path).unwrap()
}

/// The fixture database: every fixture feed stored as fetched at a fixed time.
fn fixture_store(config: &Config) -> Store {
    let mut store = Store::open(&config.database).unwrap();
    store.sync_sources(&config.sources, fetched_at()).unwrap();
    for source in config.sources.iter() {
        let body = std::fs::read(source.url.to_file_path().unwrap()).unwrap();
        let feed = roundup::parse::parse_feed(&body, &source.url).unwrap();
        let items = roundup::normalize::normalize_feed(&feed, &source.url, fetched_at());
        let meta = ResponseMeta {
            status: 200,
            etag: None,
            last_modified: None,
            content_type: None,
            final_url: source.url.clone(),
            max_age: None,
            permanent_redirect: None,
        };
        store
            .store_fetch(
                &source.id,
                &meta,
                None,
                &items,
                config.dedup.policy(),
                fetched_at(),
            )
            .unwrap();
    }
    store
}

fn fixture_digest(config: &Config, store: &Store) -> digest::Digest {
    let now = fetched_at() + chrono::Duration::hours(1);
    let window = Window::ending(
        now,
        std::time::Duration::from_secs(86_400),
        config.fetch.timezone,
    );
    digest::build(store, config, window, now).unwrap()
}

#[test]
fn golden_files_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let store = fixture_store(&config);
    let d = fixture_digest(&config, &store);
    let seed = d
        .stories()
        .find(|s| s.title.starts_with("Russia Wants Taliban"))
        .unwrap();
    assert_eq!(
        seed.also_reported_by.len(),
        2,
        "the seed story with two other outlets"
    );
    for (format, file) in [
        (Format::Markdown, "digest.md"),
        (Format::Html, "digest.html"),
        (Format::Atom, "digest.atom"),
        (Format::Json, "digest.json"),
    ] {
        let got = digest::renderer(format).render(&d);
        let golden = fixture("expected").join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap();
        assert!(
            got == want,
            "{file} differs from the golden file; rerun with UPDATE_GOLDEN=1 and review the diff"
        );
    }
}

#[test]
fn hostile_feed_html_never_reaches_the_html_digest() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let store = fixture_store(&config);
    let html = digest::renderer(Format::Html).render(&fixture_digest(&config, &store));
    assert!(
        html.contains("Provincial officials met traders in Herat"),
        "the text survives"
    );
    assert!(
        html.contains("Officials meet in Herat"),
        "the title survives as text"
    );
    for hostile in [
        "alert(",
        "evil.example",
        "steal()",
        "document.cookie",
        "display: none }",
        "<iframe",
        "javascript:",
        "onerror",
        "onclick",
    ] {
        assert!(!html.contains(hostile), "{hostile} reached the HTML digest");
    }
    // The page's only <script>-free guarantee: a CSP that forbids scripts.
    assert!(html.contains("default-src 'none'"));
    assert_eq!(html.matches("<script").count(), 0);
}

#[test]
fn atom_digest_parses_back_with_the_required_elements() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let store = fixture_store(&config);
    let d = fixture_digest(&config, &store);
    let atom = digest::renderer(Format::Atom).render(&d);
    let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert!(feed.id.starts_with("urn:roundup:digest:"));
    assert!(feed.title.is_some() && feed.updated.is_some());
    assert_eq!(feed.entries.len(), d.story_count());
    for (entry, story) in feed.entries.iter().zip(d.stories()) {
        assert!(!entry.id.is_empty());
        assert_eq!(entry.title.as_ref().unwrap().content, story.title);
        assert!(entry.updated.is_some());
        assert!(
            entry
                .links
                .iter()
                .any(|l| l.rel.as_deref() == Some("alternate")),
            "a link per entry"
        );
    }
    // The Persian story keeps its script.
    assert!(
        feed.entries
            .iter()
            .any(|e| e.title.as_ref().unwrap().content.contains("هیرمند"))
    );
}

#[test]
fn archive_lists_digests_newest_first_and_rolls_the_atom_feed() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "formats = [\"markdown\", \"html\", \"atom\", \"json\"]",
    );
    let store = fixture_store(&config);
    let mut d = fixture_digest(&config, &store);
    for day in [25, 26, 24] {
        d.window.date = chrono::NaiveDate::from_ymd_opt(2024, 11, day).unwrap();
        let written = digest::write_files(&config, &d).unwrap();
        assert_eq!(
            written.len(),
            6,
            "four formats, index.html and digests.atom"
        );
    }
    // Re-running a date replaces its files.
    digest::write_files(&config, &d).unwrap();
    let out = &config.digest.output_dir;
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let pos = |s: &str| index.find(s).unwrap();
    assert!(
        pos("2024-11-26.html") < pos("2024-11-25.html")
            && pos("2024-11-25.html") < pos("2024-11-24.html")
    );
    let rolling =
        feed_rs::parser::parse(std::fs::read(out.join("digests.atom")).unwrap().as_slice())
            .unwrap();
    assert_eq!(rolling.entries.len(), 3);
    assert!(rolling.entries[0].id.ends_with("2024-11-26"));
    let leftovers: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.') || n.contains("tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

/// A minimal SMTP server: accepts one session per connection and hands back the DATA.
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap()).unwrap();
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn email_digest_arrives_with_both_parts_and_failed_sends_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    // First, a server that is not there: the digest stays queued.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let email = |port: u16| {
        format!(
            "[digest.email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"roundup <digest@example.org>\"\nto = [\"reader@example.org\"]\n"
        )
    };
    let config_down = config(dir.path(), &email(closed));
    let store = roundup::pipeline::SharedStore::new(fixture_store(&config_down)).unwrap();
    let mut d = fixture_digest(&config_down, &store.lock());
    let sent = digest::email::deliver(config_down.digest.email.as_ref().unwrap(), &store, &d).await;
    assert_eq!(sent, 0);
    let queued = store.lock().queued_emails().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].attempts, 1);

    // Next digest, server up: the old digest and the new one both arrive, oldest first.
    let (port, mut inbox) = smtp_sink().await;
    let config_up = config(dir.path(), &email(port));
    d.window.date = d.window.date.succ_opt().unwrap();
    let sent = digest::email::deliver(config_up.digest.email.as_ref().unwrap(), &store, &d).await;
    assert_eq!(sent, 2);
    assert!(store.lock().queued_emails().unwrap().is_empty());
    let first = inbox.recv().await.unwrap();
    let second = inbox.recv().await.unwrap();
    for msg in [&first, &second] {
        assert!(msg.contains("multipart/alternative"), "{msg}");
        assert!(msg.contains("Content-Type: text/plain"), "{msg}");
        assert!(msg.contains("Content-Type: text/html"), "{msg}");
        assert!(msg.contains("To: reader@example.org"));
        let id = msg
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or_else(|| panic!("no Message-ID: {msg}"));
        assert!(
            id.starts_with("<roundup.") && id.ends_with("@example.org>"),
            "{id}"
        );
    }
    let ids: Vec<&str> = [&first, &second]
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Message-ID: ")))
        .collect();
    assert_ne!(ids[0], ids[1], "each message has its own id");
    assert!(
        first.contains("Tue 26 Nov 2024"),
        "the failed digest goes first"
    );
    assert!(second.contains("Wed 27 Nov 2024"));
}

#[tokio::test]
async fn a_quiet_day_is_not_mailed_but_a_failing_source_is() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mut inbox) = smtp_sink().await;
    let config = config(
        dir.path(),
        &format!(
            "[digest.email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"roundup <digest@example.org>\"\nto = [\"reader@example.org\"]\n"
        ),
    );
    let store = roundup::pipeline::SharedStore::new(fixture_store(&config)).unwrap();
    // A month after the fixtures were fetched: nothing new, every source healthy.
    let later = fetched_at() + chrono::Duration::days(30);
    let window = Window::ending(
        later,
        std::time::Duration::from_secs(86_400),
        config.fetch.timezone,
    );
    let mut d = digest::build(&store.lock(), &config, window, later).unwrap();
    assert_eq!(d.story_count(), 0);
    let email = config.digest.email.as_ref().unwrap();
    assert_eq!(digest::email::deliver(email, &store, &d).await, 0);
    assert!(store.lock().queued_emails().unwrap().is_empty());
    // No stories because a source fails: that is news to the reader.
    d.failing_sources = vec![(
        "afintl".to_owned(),
        "HTTP 410 Gone: the server says the feed is gone for good".to_owned(),
    )];
    assert!(
        digest::email::subject(&d).ends_with(": 0 stories, 1 source failing"),
        "{}",
        digest::email::subject(&d)
    );
    assert_eq!(digest::email::deliver(email, &store, &d).await, 1);
    let msg = inbox.recv().await.unwrap();
    assert!(
        msg.contains("afintl") && msg.contains("HTTP 410 Gone"),
        "{msg}"
    );
}
