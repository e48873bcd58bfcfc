//! Fetching against a local HTTP server: conditional GET, errors, caps, timeouts,
//! "not a feed", compression.

use std::io::Write as _;

use roundup::pipeline::SourceOutcome;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Harness, fixture, proxy, source};

fn rss() -> Vec<u8> {
    std::fs::read(fixture("feeds/afintl.xml")).unwrap()
}

fn outcome<'a>(report: &'a roundup::pipeline::RefreshReport, id: &str) -> &'a SourceOutcome {
    &report
        .sources
        .iter()
        .find(|s| s.source_id == id)
        .unwrap()
        .outcome
}

/// Snapshot of everything a fetch could write to entries and stories.
fn snapshot(h: &Harness) -> (i64, i64, String) {
    h.with_store(|s| {
        let (stories, entries) = s.counts().unwrap();
        let statuses = format!(
            "{:?}",
            s.source_statuses()
                .unwrap()
                .iter()
                .map(|x| x.entries)
                .collect::<Vec<_>>()
        );
        (stories, entries, statuses)
    })
}

#[tokio::test]
async fn etag_200_then_304_writes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_bytes(rss()),
        )
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("afintl", &format!("{}/feed", server.uri()))]);
    let first = h.cycle().await;
    assert!(
        matches!(outcome(&first, "afintl"), SourceOutcome::Stored { status: 200, report, .. } if report.new == 3)
    );
    let before = snapshot(&h);
    let second = h.cycle().await;
    assert!(
        matches!(
            outcome(&second, "afintl"),
            SourceOutcome::NotModified { .. }
        ),
        "{second:?}"
    );
    assert_eq!(snapshot(&h), before, "a 304 adds or changes no entries");
    let status = h.with_store(|s| s.source_statuses().unwrap().remove(0));
    assert_eq!(status.last_status, Some(304));
}

#[tokio::test]
async fn the_same_body_again_is_not_parsed_and_keeps_its_ttl() {
    let server = MockServer::start().await;
    let body = String::from_utf8(rss())
        .unwrap()
        .replacen("<ttl>15</ttl>", "<ttl>90</ttl>", 1);
    let edited = body.replacen("Flash Floods Kill Seven", "Flash Floods Kill Nine", 1);
    // Third request: the validator sent with the unchanged body is used; the feed has
    // changed since.
    Mock::given(method("GET"))
        .and(path("/feed"))
        .and(header("if-none-match", "\"v2\""))
        .respond_with(ResponseTemplate::new(200).set_body_string(edited))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    // First request: no validators at all.
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    // Second: the same bytes, now with an ETag.
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v2\"")
                .set_body_string(body),
        )
        .with_priority(3)
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("afintl", &format!("{}/feed", server.uri()))]);
    let first = h.cycle().await;
    assert!(
        matches!(outcome(&first, "afintl"), SourceOutcome::Stored { status: 200, report, .. } if report.new == 3),
        "{first:?}"
    );
    let before = snapshot(&h);
    let second = h.cycle().await;
    let ninety_minutes = Some(std::time::Duration::from_secs(90 * 60));
    assert!(
        matches!(
            outcome(&second, "afintl"),
            SourceOutcome::SameBody { status: 200, min_interval } if *min_interval == ninety_minutes
        ),
        "{second:?}"
    );
    assert_eq!(snapshot(&h), before);
    let status = h.with_store(|s| s.source_statuses().unwrap().remove(0));
    assert_eq!(status.last_status, Some(200));
    let third = h.cycle().await;
    assert!(
        matches!(
            outcome(&third, "afintl"),
            SourceOutcome::Stored { status: 200, report, .. }
                if (report.new, report.updated, report.unchanged) == (0, 1, 2)
        ),
        "{third:?}"
    );
}

#[tokio::test]
async fn last_modified_200_then_304() {
    let server = MockServer::start().await;
    let lm = "Tue, 26 Nov 2024 09:12:00 GMT";
    Mock::given(method("GET"))
        // wiremock's header() splits values on commas, which HTTP dates contain.
        .and(move |req: &wiremock::Request| {
            req.headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                == Some(lm)
        })
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("last-modified", lm)
                .set_body_bytes(rss()),
        )
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("afintl", &format!("{}/feed", server.uri()))]);
    h.cycle().await;
    let before = snapshot(&h);
    let second = h.cycle().await;
    assert!(matches!(
        outcome(&second, "afintl"),
        SourceOutcome::NotModified { .. }
    ));
    assert_eq!(snapshot(&h), before);
}

#[tokio::test]
async fn http_errors_stay_with_their_source() {
    let server = MockServer::start().await;
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(rss()))
        .mount(&server)
        .await;
    for (route, status) in [
        ("/missing", 404),
        ("/broken", 500),
        ("/retired", 410),
        ("/members", 401),
    ] {
        Mock::given(path(route))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
    }
    let uri = server.uri();
    let h = Harness::new(
        "",
        &[
            source("missing", &format!("{uri}/missing")),
            source("good", &format!("{uri}/ok")),
            source("broken", &format!("{uri}/broken")),
            source("retired", &format!("{uri}/retired")),
            source("members", &format!("{uri}/members")),
        ],
    );
    let report = h.cycle().await;
    assert_eq!(report.failed(), 4);
    // Where the user has something to do, the line says what.
    match outcome(&report, "missing") {
        SourceOutcome::Failed { status, error, .. } => {
            assert_eq!(*status, Some(404));
            assert!(
                error.starts_with("HTTP 404 Not Found: nothing at this address")
                    && error.contains("roundup sources add"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    match outcome(&report, "retired") {
        SourceOutcome::Failed { error, .. } => assert_eq!(
            error,
            "HTTP 410 Gone: the server says the feed is gone for good; remove the source \
             or give it a new URL"
        ),
        other => panic!("{other:?}"),
    }
    match outcome(&report, "members") {
        SourceOutcome::Failed { error, .. } => {
            assert!(
                error.contains("asks for a login (a feed URL of the form https://user:password@"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(&report, "broken"),
        SourceOutcome::Failed {
            status: Some(500),
            ..
        }
    ));
    assert_eq!(h.with_store(|s| s.entry_count("good").unwrap()), 3);
    let statuses = h.with_store(|s| s.source_statuses().unwrap());
    let broken = statuses.iter().find(|s| s.id == "broken").unwrap();
    assert_eq!(broken.consecutive_failures, 1);
    assert_eq!(
        broken.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
}

#[tokio::test]
async fn a_bot_check_in_front_of_a_site_is_named() {
    let server = MockServer::start().await;
    let page = "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>";
    for (route, status, header, value) in [
        ("/challenge", 403, "cf-mitigated", "challenge"),
        ("/guard", 503, "server", "ddos-guard"),
        ("/arvan", 403, "server", "ArvanCloud"),
        ("/plain", 403, "server", "nginx"),
    ] {
        Mock::given(path(route))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header(header, value)
                    .set_body_raw(page, "text/html"),
            )
            .mount(&server)
            .await;
    }
    let uri = server.uri();
    let ids = ["challenge", "guard", "arvan", "plain"];
    let sources: Vec<String> = ids
        .iter()
        .map(|id| source(id, &format!("{uri}/{id}")))
        .collect();
    let h = Harness::new("", &sources);
    let report = h.cycle().await;
    let error = |id: &str| match outcome(&report, id) {
        SourceOutcome::Failed { error, .. } => error.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        error("challenge").starts_with(
            "HTTP 403 Forbidden: Cloudflare's bot check (a JavaScript challenge) stops \
             roundup, as it stops most feed readers"
        ),
        "{}",
        error("challenge")
    );
    assert!(
        error("guard").starts_with("HTTP 503 Service Unavailable: DDoS-Guard's bot check stops"),
        "{}",
        error("guard")
    );
    assert!(
        error("arvan").contains("ArvanCloud's bot check") && error("arvan").contains("`proxy`"),
        "{}",
        error("arvan")
    );
    assert!(
        error("plain").starts_with("HTTP 403 Forbidden: the server refuses roundup"),
        "{}",
        error("plain")
    );
}

#[tokio::test]
async fn a_failure_keeps_what_was_stored() {
    let server = MockServer::start().await;
    Mock::given(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(rss()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/feed"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(2)
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("afintl", &format!("{}/feed", server.uri()))]);
    h.cycle().await;
    let before = snapshot(&h);
    let report = h.cycle().await;
    assert_eq!(report.failed(), 1);
    assert_eq!(snapshot(&h), before);
}

#[tokio::test]
async fn body_over_max_body_is_cut_off() {
    let server = MockServer::start().await;
    let big = format!(
        "<rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
        "x".repeat(64 * 1024)
    );
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&server)
        .await;
    let h = Harness::new(
        "max_body = \"16 KiB\"",
        &[source("big", &format!("{}/big", server.uri()))],
    );
    let report = h.cycle().await;
    match outcome(&report, "big") {
        SourceOutcome::Failed { error, .. } => assert!(
            error.contains("larger than the 16384-byte limit"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn gzip_bomb_is_cut_off_after_decompression() {
    let server = MockServer::start().await;
    // 8 MiB of spaces compress to a few KiB; the cap must apply to the decoded bytes.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"<rss version=\"2.0\"><channel><title>")
        .unwrap();
    enc.write_all(&vec![b' '; 8 * 1024 * 1024]).unwrap();
    let body = enc.finish().unwrap();
    assert!(body.len() < 64 * 1024);
    Mock::given(path("/bomb"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_bytes(body),
        )
        .mount(&server)
        .await;
    let h = Harness::new(
        "max_body = \"1 MiB\"",
        &[source("bomb", &format!("{}/bomb", server.uri()))],
    );
    let report = h.cycle().await;
    assert!(
        matches!(outcome(&report, "bomb"), SourceOutcome::Failed { error, .. } if error.contains("max_body")),
        "{report:?}"
    );
}

#[tokio::test]
async fn gzip_encoded_feed_parses() {
    let server = MockServer::start().await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&rss()).unwrap();
    Mock::given(path("/gz"))
        .and(|req: &wiremock::Request| {
            let accepted = req
                .headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            ["gzip", "br", "deflate"]
                .iter()
                .all(|enc| accepted.contains(enc))
        })
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_bytes(enc.finish().unwrap()),
        )
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("gz", &format!("{}/gz", server.uri()))]);
    let report = h.cycle().await;
    assert!(
        matches!(outcome(&report, "gz"), SourceOutcome::Stored { report, .. } if report.new == 3),
        "{report:?}"
    );
}

#[tokio::test]
async fn stalled_server_hits_the_timeout_and_others_complete() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(rss())
                .set_delay(std::time::Duration::from_secs(10)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/fast"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(rss()))
        .mount(&server)
        .await;
    let uri = server.uri();
    let h = Harness::new(
        "timeout = \"1s\"",
        &[
            source("slow", &format!("{uri}/slow")),
            source("fast", &format!("{uri}/fast")),
        ],
    );
    let report = h.cycle().await;
    match outcome(&report, "slow") {
        SourceOutcome::Failed { error, .. } => assert_eq!(error, "timed out after 1s"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(&report, "fast"),
        SourceOutcome::Stored { .. }
    ));
}

#[tokio::test]
async fn html_page_is_reported_as_not_a_feed() {
    let server = MockServer::start().await;
    Mock::given(path("/page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string("<!DOCTYPE html><html><head><title>Home</title></head><body>Welcome</body></html>"),
        )
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("page", &format!("{}/page", server.uri()))]);
    let report = h.cycle().await;
    match outcome(&report, "page") {
        SourceOutcome::Failed { error, .. } => {
            assert_eq!(error, "not a feed: the server returned an HTML page")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn user_agent_is_sent_and_redirect_to_file_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/ua"))
        .and(header("user-agent", "roundup-test/1"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(rss()))
        .mount(&server)
        .await;
    Mock::given(path("/to-file"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "file:///etc/passwd"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let h = Harness::new(
        "user_agent = \"roundup-test/1\"",
        &[
            source("ua", &format!("{uri}/ua")),
            source("tofile", &format!("{uri}/to-file")),
        ],
    );
    let report = h.cycle().await;
    assert!(
        matches!(outcome(&report, "ua"), SourceOutcome::Stored { .. }),
        "{report:?}"
    );
    match outcome(&report, "tofile") {
        SourceOutcome::Failed { error, .. } => {
            assert!(error.contains("only http and https"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn retry_after_defers_the_next_request() {
    let server = MockServer::start().await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/down"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "Fri, 31 Dec 2100 23:59:59 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let h = Harness::new(
        "",
        &[
            source("busy", &format!("{uri}/busy")),
            source("down", &format!("{uri}/down")),
        ],
    );
    let first = h.cycle().await;
    let now = chrono::Utc::now();
    match outcome(&first, "busy") {
        SourceOutcome::Failed {
            status,
            retry_after,
            error,
            ..
        } => {
            assert_eq!(*status, Some(429));
            let wait = (retry_after.unwrap() - now).num_seconds();
            assert!((115..=120).contains(&wait), "{wait}");
            assert!(error.contains("Retry-After"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    match outcome(&first, "down") {
        SourceOutcome::Failed { retry_after, .. } => {
            let wait = retry_after.unwrap() - now;
            assert!(
                wait <= chrono::Duration::hours(24),
                "a far Retry-After is capped at 24 h"
            );
        }
        other => panic!("{other:?}"),
    }
    // Within the Retry-After period no request is sent (expect(1) above checks it).
    let second = h.cycle().await;
    assert!(
        matches!(outcome(&second, "busy"), SourceOutcome::Deferred { .. }),
        "{second:?}"
    );
    assert!(matches!(
        outcome(&second, "down"),
        SourceOutcome::Deferred { .. }
    ));
}

#[tokio::test]
async fn permanent_redirects_are_remembered_after_three_sightings_temporary_never() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(path("/old"))
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", format!("{uri}/new").as_str()),
        )
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(path("/tmp"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/new"))
        .expect(5)
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(rss()))
        .mount(&server)
        .await;
    let h = Harness::new(
        "",
        &[
            source("moved", &format!("{uri}/old")),
            source("temp", &format!("{uri}/tmp")),
        ],
    );
    for _ in 0..5 {
        let report = h.cycle().await;
        assert_eq!(report.failed(), 0, "{report:?}");
    }
    // /old was requested three times, then /new directly; /tmp every time.
    let state = h.with_store(|s| s.fetch_state("moved").unwrap());
    assert_eq!(
        state.moved_to.as_deref(),
        Some(format!("{uri}/new").as_str())
    );
    assert_eq!(
        h.with_store(|s| s.fetch_state("temp").unwrap()).moved_seen,
        0
    );
}

#[tokio::test]
async fn redirect_loops_and_long_chains_are_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/loop1"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop2"))
        .mount(&server)
        .await;
    Mock::given(path("/loop2"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop1"))
        .mount(&server)
        .await;
    for i in 0..10 {
        Mock::given(path(format!("/hop{i}")))
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("location", format!("/hop{}", i + 1).as_str()),
            )
            .mount(&server)
            .await;
    }
    let uri = server.uri();
    let h = Harness::new(
        "",
        &[
            source("loop", &format!("{uri}/loop1")),
            source("chain", &format!("{uri}/hop0")),
        ],
    );
    let report = h.cycle().await;
    match outcome(&report, "loop") {
        SourceOutcome::Failed { error, .. } => assert!(
            error.starts_with("redirect refused: redirect loop"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    match outcome(&report, "chain") {
        SourceOutcome::Failed { error, .. } => {
            assert_eq!(error, "redirect refused: more than 5 redirects")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_said_in_words() {
    let server = MockServer::start().await;
    let url = server.uri().replacen("http://", "https://", 1) + "/feed";
    let h = Harness::new("", &[source("tls", &url)]);
    let report = h.cycle().await;
    match outcome(&report, "tls") {
        SourceOutcome::Failed { error, .. } => assert_eq!(
            error,
            "connection failed: the server does not answer in TLS at this address (a \
             plain-HTTP port? try http://)"
        ),
        other => panic!("{other:?}"),
    }
}

/// A URL whose port runs another service (an SSH server's banner instead of an HTTP
/// reply), and one whose server closes the connection in the middle of a chunked body.
#[tokio::test]
async fn a_reply_that_is_not_http_or_is_cut_off_is_said_in_words() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let request = crate::common::read_request_head(&mut socket).await;
            let reply: &[u8] = if String::from_utf8_lossy(&request).contains("/ssh") {
                b"SSH-2.0-OpenSSH_9.2\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                  Transfer-Encoding: chunked\r\n\r\n20\r\n<?xml version=\"1.0\"?><rss versio\r\n"
            };
            let _ = socket.write_all(reply).await;
            let _ = socket.shutdown().await;
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let h = Harness::new(
        "",
        &[
            source("ssh", &format!("{base}/ssh")),
            source("chunked", &format!("{base}/chunked")),
        ],
    );
    let report = h.cycle().await;
    match outcome(&report, "ssh") {
        SourceOutcome::Failed { error, .. } => assert!(
            error.starts_with(
                "request failed: the server's reply is not HTTP (another service on this port?)"
            ),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    match outcome(&report, "chunked") {
        SourceOutcome::Failed { error, .. } => assert_eq!(
            error,
            "request failed: the server closed the connection before the whole body arrived"
        ),
        other => panic!("{other:?}"),
    }
    server.abort();
}

/// `fetch.proxy` takes every source through an HTTP proxy; a source's own `proxy` (a
/// local SOCKS5 proxy, as Tor gives) overrides it for that source alone.
#[tokio::test]
async fn sources_are_fetched_through_the_configured_proxies() {
    let feed = std::fs::read(fixture("feeds/afintl.xml")).unwrap();
    let (http_proxy, via_http) = proxy(false, feed.clone()).await;
    let (socks_proxy, via_socks) = proxy(true, feed).await;
    let own = format!(
        "{}\nproxy = \"socks5h://{socks_proxy}\"\n\n",
        source("blocked", "http://blocked.invalid/rss").trim_end()
    );
    // A proxy that is not running (a port nothing listens on).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = format!(
        "{}\nproxy = \"socks5h://{closed}\"\n\n",
        source("down", "http://down.invalid/rss").trim_end()
    );
    let h = Harness::new(
        &format!("proxy = \"http://{http_proxy}\""),
        &[source("open", "http://open.invalid/feed"), own, down],
    );
    let report = h.cycle().await;
    for id in ["open", "blocked"] {
        assert!(
            matches!(outcome(&report, id), SourceOutcome::Stored { report, .. } if report.new == 3),
            "{id}: {:?}",
            outcome(&report, id)
        );
    }
    assert_eq!(
        *via_http.lock().unwrap(),
        ["GET http://open.invalid/feed HTTP/1.1"]
    );
    assert_eq!(
        *via_socks.lock().unwrap(),
        ["CONNECT blocked.invalid:80", "GET /rss HTTP/1.1"]
    );
    match outcome(&report, "down") {
        SourceOutcome::Failed { error, .. } => assert_eq!(
            error,
            &format!(
                "connection failed: the proxy socks5h://{closed} does not accept connections \
                 (is it running?)"
            )
        ),
        other => panic!("{other:?}"),
    }
}
