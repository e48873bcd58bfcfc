//! Hostile and real-world feeds: each problem is one clear error for that source only,
//! the others are stored, and what roundup can read, it reads.

use std::time::Duration;

use roundup::pipeline::SourceOutcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Harness, fixture, source};

#[path = "support/corpus.rs"]
mod corpus;

fn outcome<'a>(report: &'a roundup::pipeline::RefreshReport, id: &str) -> &'a SourceOutcome {
    &report
        .sources
        .iter()
        .find(|s| s.source_id == id)
        .unwrap()
        .outcome
}

#[test]
fn real_world_feeds_that_feed_rs_alone_rejects_are_read() {
    for (file, content_type, want) in corpus::READABLE {
        assert!(
            corpus::roundup(file, content_type, want),
            "{file}: expected a title containing {want:?}"
        );
    }
}

#[tokio::test]
async fn hostile_bodies_fail_alone_and_the_rest_is_stored() {
    let server = MockServer::start().await;
    let mut sources = Vec::new();
    for (file, content_type, _) in corpus::READABLE.iter().chain(corpus::UNREADABLE) {
        let id = file.replace('.', "-");
        Mock::given(path(format!("/{file}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", *content_type)
                    .set_body_bytes(std::fs::read(corpus::path(file)).unwrap()),
            )
            .mount(&server)
            .await;
        sources.push(source(&id, &format!("{}/{file}", server.uri())));
    }
    for file in ["billion-laughs.xml", "xxe.xml"] {
        Mock::given(path(format!("/{file}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_bytes(std::fs::read(corpus::path(file)).unwrap()),
            )
            .mount(&server)
            .await;
        sources.push(source(
            &file.replace('.', "-"),
            &format!("{}/{file}", server.uri()),
        ));
    }
    let h = Harness::new("", &sources);
    let report = h.cycle().await;
    for (file, _, want) in corpus::READABLE {
        let id = file.replace('.', "-");
        assert!(
            matches!(outcome(&report, &id), SourceOutcome::Stored { report, .. } if report.new >= 1),
            "{file}: {report:?}"
        );
        let _ = want;
    }
    for (file, _, want) in corpus::UNREADABLE {
        match outcome(&report, &file.replace('.', "-")) {
            SourceOutcome::Failed { error, .. } => {
                assert!(error.contains(want), "{file}: {error}");
                assert!(!error.contains('\n'), "{file}: one line: {error}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    // Entity bomb and external entity: never expanded, never resolved.
    let texts = h.with_store(|s| {
        let now = chrono::Utc::now() + chrono::Duration::seconds(5);
        s.digest_entries(now - chrono::Duration::days(1), now)
            .unwrap()
    });
    for e in &texts {
        assert!(
            e.title.len() < 10_000 && e.summary.len() < 10_000,
            "an entity was expanded: {}",
            e.title.len()
        );
        assert!(
            !e.summary.contains("root:") && !e.title.contains("root:"),
            "external entity resolved"
        );
    }
}

#[tokio::test]
async fn a_trickling_server_hits_the_whole_request_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                if request.starts_with("GET /cut ") {
                    // 20 bytes of 100 000, then the connection closes.
                    let cut = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss version=\"2.0\"> ";
                    let _ = sock.write_all(cut.as_bytes()).await;
                    return;
                }
                if request.starts_with("GET /badgzip ") {
                    let bad = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n<rss version=\"2.0\"> ";
                    let _ = sock.write_all(bad.as_bytes()).await;
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss version=\"2.0\">";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // One byte every 300 ms: each read succeeds, only the total deadline stops it.
                loop {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if sock.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = Harness::new(
        "timeout = \"2s\"",
        &[
            source("trickle", &format!("http://{addr}/feed")),
            source("cut", &format!("http://{addr}/cut")),
            source("badgzip", &format!("http://{addr}/badgzip")),
            source("refused", &format!("http://127.0.0.1:{closed}/feed")),
            // A name that cannot resolve (reserved TLD: the lookup fails locally).
            source("nxdomain", "http://feeds.roundup-test.invalid/feed"),
            source("good", &crate::common::fixture_url("feeds/amu.xml")),
        ],
    );
    let report = h.cycle().await;
    match outcome(&report, "trickle") {
        SourceOutcome::Failed { error, .. } => assert_eq!(error, "timed out after 2s"),
        other => panic!("{other:?}"),
    }
    for (id, want) in [
        (
            "cut",
            "request failed: the server closed the connection before the whole body arrived",
        ),
        (
            "badgzip",
            "request failed: the body is not in the compression its Content-Encoding names (Invalid gzip header)",
        ),
    ] {
        match outcome(&report, id) {
            SourceOutcome::Failed { error, .. } => assert_eq!(error, want),
            other => panic!("{other:?}"),
        }
    }
    match outcome(&report, "refused") {
        SourceOutcome::Failed { error, .. } => assert!(
            error.starts_with(
                "connection failed: nothing accepts connections at this address and port \
                 (Connection refused"
            ),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(&report, "good"),
        SourceOutcome::Stored { .. }
    ));
}

#[tokio::test]
async fn missing_unparseable_and_future_dates() {
    let h = Harness::new(
        "",
        &[source(
            "dates",
            &crate::common::fixture_url("hostile/dates.xml"),
        )],
    );
    let before = chrono::Utc::now();
    let report = h.cycle().await;
    assert_eq!(report.failed(), 0, "{report:?}");
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let entries = h.with_store(|s| {
        s.digest_entries(now - chrono::Duration::days(1), now)
            .unwrap()
    });
    let by_title = |t: &str| entries.iter().find(|e| e.title == t).unwrap().published;
    assert_eq!(by_title("No date at all"), None);
    assert_eq!(by_title("Unparseable date"), None);
    let future = by_title("From the future").expect("clamped, not dropped");
    assert!(
        future >= before - chrono::Duration::seconds(1) && future <= now,
        "clamped to the fetch time: {future}"
    );
    let _ = fixture("feeds/amu.xml");
}

/// Regressions found by fuzzing: a malformed XML declaration and a second declaration
/// naming another encoding (both made the XML reader panic), a feed-rs parser reused after
/// a failed parse (an assertion in its Media RSS state), and a multi-byte character where
/// the declaration's quote belongs. Each must be an error or a feed, never a panic, and
/// never need the panic guard.
#[test]
fn fuzz_crashes_are_errors_not_panics() {
    let url = url::Url::parse("https://fuzz.example/feed").unwrap();
    for file in [
        "fuzz-crash-xml-declaration.bin",
        "fuzz-crash-parser-reuse.bin",
        "fuzz-crash-inner-declaration.bin",
        "fuzz-crash-declaration-quote.bin",
        "fuzz-crash-declaration-bytes.bin",
        "fuzz-crash-bom-declaration.bin",
    ] {
        let body = std::fs::read(corpus::path(file)).unwrap();
        let result = std::panic::catch_unwind(|| {
            roundup::parse::parse_feed(&body, &url).map(|f| f.entries.len())
        });
        match result {
            Ok(Err(e)) => assert_ne!(
                e.to_string(),
                "not a feed: the XML reader failed on this document",
                "{file} hit the panic guard"
            ),
            Ok(Ok(_)) => {}
            Err(_) => panic!("{file}: parse_feed panicked"),
        }
    }
}
