//! `roundup sources …`, `status --format json` and `search`, run as the binary: config
//! edits that keep every other byte, discovery from a page served on 127.0.0.1, OPML in
//! the shapes other readers write, bad input (exit 2, config unchanged), and `--reload`
//! against a running daemon.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{DEMO_FEEDS, fixture, fixture_url, named_sources};

fn roundup() -> Command {
    let mut cmd = Command::cargo_bin("roundup").unwrap();
    cmd.env_remove("ROUNDUP_CONFIG").env_remove("RUST_LOG");
    cmd
}

/// A hand-written config with comments everywhere.
const COMMENTED: &str = r#"# roundup config for the Afghanistan desk.
# Edited by hand; keep these notes.
database = "roundup.db"   # next to this file

[fetch]
schedule = "*/30 * * * *"   # every half hour
timeout = "5s"

# ---------------------------------------------------------------
# Afghanistan
# ---------------------------------------------------------------

[[sources]]
id = "afintl"           # the seed outlet
name = "Afghanistan International"
url = "FEED_A"
region = "Afghanistan"
language = "en"

# Amu is slow on Fridays.
[[sources]]
id = "amu"
name = "Amu TV"
url = "FEED_B"
region = "Afghanistan"

[digest]
output_dir = "digests"
# formats = ["markdown"]   # commented-out setting, keep it
"#;

fn commented_config(dir: &Path) -> (PathBuf, String) {
    let text = COMMENTED
        .replace("FEED_A", &fixture_url("feeds/afintl.xml"))
        .replace("FEED_B", &fixture_url("feeds/amu.xml"));
    let path = dir.join("roundup.toml");
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

fn run(config: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    roundup().arg("--config").arg(config).args(args).assert()
}

fn list_json(config: &Path) -> serde_json::Value {
    let out = run(config, &["sources", "list", "--format", "json"]).success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

async fn serve(server: &MockServer, at: &str, body: Vec<u8>, content_type: &str) {
    Mock::given(path(at))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", content_type)
                .set_body_bytes(body),
        )
        .mount(server)
        .await;
}

fn page_linking(feeds: &[(&str, &str, &str)]) -> Vec<u8> {
    let links: String = feeds
        .iter()
        .map(|(kind, title, href)| {
            format!("<link rel=\"alternate\" type=\"{kind}\" title=\"{title}\" href=\"{href}\">\n")
        })
        .collect();
    format!(
        "<!doctype html><html><head><title>News</title>\n\
         <link rel=\"stylesheet\" href=\"/s.css\">\n{links}</head><body><p>Front page</p></body></html>"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_then_remove_keeps_every_other_byte_of_a_commented_config() {
    let server = MockServer::start().await;
    let feed = std::fs::read(fixture("feeds/kabulnow.atom")).unwrap();
    serve(&server, "/feed.atom", feed, "application/atom+xml").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, original) = commented_config(dir.path());

    let url = format!("{}/feed.atom", server.uri());
    run(
        &config,
        &[
            "sources",
            "add",
            &url,
            "--region",
            "Afghanistan",
            "--tag",
            "syndication",
        ],
    )
    .success()
    .stdout(predicate::str::contains("added kabulnow: KabulNow"))
    .stdout(predicate::str::contains("kill -HUP"));
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(
        edited.starts_with(&original),
        "everything before the new block is unchanged:\n{edited}"
    );
    let block = &edited[original.len()..];
    assert!(
        block.contains("[[sources]]\nid = \"kabulnow\"\nname = \"KabulNow\"\n"),
        "{block}"
    );
    assert!(block.contains(&format!("url = \"{url}\"")), "{block}");
    assert!(block.contains("tags = [\"syndication\"]"), "{block}");
    let listed = list_json(&config);
    assert_eq!(listed[2]["id"], "kabulnow");

    run(&config, &["sources", "remove", "kabulnow"])
        .success()
        .stdout(predicate::str::contains("removed kabulnow"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);

    // Removing a block in the middle takes its own lines and the comment right above it.
    run(&config, &["sources", "remove", "amu"]).success();
    let edited = std::fs::read_to_string(&config).unwrap();
    let expected = original.replace(
        &format!(
            "# Amu is slow on Fridays.\n[[sources]]\nid = \"amu\"\nname = \"Amu TV\"\nurl = \"{}\"\nregion = \"Afghanistan\"\n\n",
            fixture_url("feeds/amu.xml")
        ),
        "",
    );
    assert_ne!(expected, original);
    assert_eq!(edited, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_discovers_the_feed_of_a_web_page() {
    let server = MockServer::start().await;
    let feed = std::fs::read(fixture("feeds/afintl.xml")).unwrap();
    serve(&server, "/en/rss", feed, "application/rss+xml").await;
    serve(
        &server,
        "/en",
        page_linking(&[("application/rss+xml", "All stories", "/en/rss")]),
        "text/html; charset=utf-8",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, "# empty for now\n").unwrap();

    run(
        &config,
        &["sources", "add", &format!("{}/en", server.uri())],
    )
    .success()
    .stdout(predicate::str::contains(format!(
        "<{}/en/rss>",
        server.uri()
    )));
    let listed = list_json(&config);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let s = &listed[0];
    assert_eq!(s["url"], format!("{}/en/rss", server.uri()));
    assert_eq!(
        s["name"], "Afghanistan International",
        "name from the feed title"
    );
    assert_eq!(s["id"], "afghanistan-international");
    assert_eq!(s["language"], "en", "language taken from the feed");
    assert!(s["site"].as_str().unwrap().starts_with("http"), "{s}");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .starts_with("# empty for now\n")
    );
    // The same feed again, through the page or with tracking parameters: refused.
    for again in [
        format!("{}/en", server.uri()),
        format!("{}/en/rss?utm_source=x", server.uri()),
    ] {
        let before = std::fs::read_to_string(&config).unwrap();
        run(&config, &["sources", "add", &again])
            .code(2)
            .stderr(predicate::str::contains("already configured"));
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_several_feeds_lists_them_and_pick_chooses() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/",
        page_linking(&[
            ("application/rss+xml", "English", "/en.xml"),
            ("application/atom+xml", "Persian", "/fa.atom"),
        ]),
        "text/html",
    )
    .await;
    serve(
        &server,
        "/en.xml",
        std::fs::read(fixture("feeds/afintl.xml")).unwrap(),
        "application/rss+xml",
    )
    .await;
    serve(
        &server,
        "/fa.atom",
        std::fs::read(fixture("feeds/bbcpersian.xml")).unwrap(),
        "application/xml",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (config, original) = commented_config(dir.path());
    let page = format!("{}/", server.uri());

    run(&config, &["sources", "add", &page])
        .code(2)
        .stdout(predicate::str::contains("1. English"))
        .stdout(predicate::str::contains("2. Persian"))
        .stderr(predicate::str::contains("--pick N"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);

    run(&config, &["sources", "add", &page, "--pick", "3"]).code(2);
    run(
        &config,
        &[
            "sources", "add", &page, "--pick", "2", "--id", "bbcfa", "--region", "Iran",
        ],
    )
    .success();
    let listed = list_json(&config);
    assert_eq!(listed[2]["id"], "bbcfa");
    assert_eq!(listed[2]["url"], format!("{}/fa.atom", server.uri()));
    assert_eq!(listed[2]["region"], "Iran");
}

/// A WordPress page links the site's feed and its comment feeds (the site's and the
/// article's): `add` takes the site's feed and says which it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_linking_its_feed_and_comment_feeds_adds_the_feed() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/2024/11/26/sco/",
        page_linking(&[
            ("application/rss+xml", "Khaama Press » Feed", "/feed/"),
            (
                "application/rss+xml",
                "Khaama Press » Comments Feed",
                "/comments/feed/",
            ),
            (
                "application/rss+xml",
                "Khaama Press » Russia wants the Taliban at SCO meetings Comments Feed",
                "/2024/11/26/sco/feed/",
            ),
        ]),
        "text/html",
    )
    .await;
    serve(
        &server,
        "/feed/",
        std::fs::read(fixture("feeds/afintl.xml")).unwrap(),
        "application/rss+xml",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, "").unwrap();
    run(
        &config,
        &[
            "sources",
            "add",
            &format!("{}/2024/11/26/sco/", server.uri()),
        ],
    )
    .success()
    .stdout(predicate::str::contains(format!(
        "not added: the page's comment feed \"Khaama Press » Comments Feed\" <{}/comments/feed/>",
        server.uri()
    )));
    let listed = list_json(&config);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["url"], format!("{}/feed/", server.uri()));
}

/// An outlet blocked where roundup runs: `add --proxy` checks it through the proxy and
/// writes the proxy into its block, so that every fetch of it goes that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_with_a_proxy_checks_through_it_and_writes_it() {
    let feed = std::fs::read(fixture("feeds/afintl.xml")).unwrap();
    let (socks, seen) = crate::common::proxy(true, feed).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, "").unwrap();
    let proxy = format!("socks5h://{socks}");
    run(
        &config,
        &[
            "sources",
            "add",
            "http://blocked.invalid/rss",
            "--proxy",
            &proxy,
        ],
    )
    .success();
    assert_eq!(
        seen.lock().unwrap()[0],
        "CONNECT blocked.invalid:80",
        "the check went through the proxy"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("proxy = \"{proxy}\"")), "{text}");
    assert_eq!(list_json(&config)[0]["proxy"], proxy.as_str());
    // The block it wrote is fetched through the proxy too.
    run(&config, &["fetch"]).success();
    assert_eq!(seen.lock().unwrap().len(), 4, "{:?}", seen.lock().unwrap());
    run(
        &config,
        &[
            "sources",
            "add",
            "http://x.invalid/rss",
            "--proxy",
            "127.0.0.1:9050",
        ],
    )
    .code(2)
    .stderr(predicate::str::contains(
        "--proxy \"127.0.0.1:9050\": not a proxy URL",
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_exit_2_and_leaves_the_config_alone() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/about",
        b"<html><head><title>About</title></head><body>no feeds here</body></html>".to_vec(),
        "text/html",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (config, original) = commented_config(dir.path());
    let bad_opml = dir.path().join("bad.opml");
    std::fs::write(
        &bad_opml,
        "<opml version=\"2.0\"><body><outline text=\"x\"></body>",
    )
    .unwrap();
    let not_opml = dir.path().join("feed.opml");
    std::fs::copy(fixture("feeds/afintl.xml"), &not_opml).unwrap();
    let about = format!("{}/about", server.uri());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sources", "add", &about], "neither a feed nor a page"),
        (
            vec!["sources", "add", "gopher://example.org/"],
            "not supported",
        ),
        (
            vec!["sources", "add", &about, "--schedule", "hourly"],
            "--schedule",
        ),
        (
            vec!["sources", "remove", "nope"],
            "no source with id \"nope\"",
        ),
        (
            vec!["sources", "enable", "nope"],
            "no source with id \"nope\"",
        ),
        (
            vec!["sources", "disable", "nope"],
            "no source with id \"nope\"",
        ),
        (
            vec!["sources", "import", bad_opml.to_str().unwrap()],
            "malformed OPML",
        ),
        (
            vec!["sources", "import", not_opml.to_str().unwrap()],
            "not an OPML file",
        ),
        (
            vec!["sources", "import", "/nonexistent.opml"],
            "cannot read",
        ),
    ];
    for (args, message) in cases {
        let out = run(&config, &args).code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            original,
            "{args:?} changed the config"
        );
    }
}

#[test]
fn enable_disable_and_remove_with_and_without_purge() {
    let dir = tempfile::tempdir().unwrap();
    let (config, original) = commented_config(dir.path());
    run(&config, &["fetch"]).success();

    run(&config, &["sources", "disable", "amu"])
        .success()
        .stdout(predicate::str::contains("disabled amu"));
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(
        edited.contains("region = \"Afghanistan\"\nenabled = false\n"),
        "{edited}"
    );
    assert_eq!(list_json(&config)[1]["enabled"], false);
    run(&config, &["sources", "disable", "amu"])
        .success()
        .stdout(predicate::str::contains("already disabled"));
    run(&config, &["sources", "enable", "amu"]).success();
    assert_eq!(list_json(&config)[1]["enabled"], true);

    let db = dir.path().join("roundup.db");
    let entries = |id: &str| {
        roundup::store::Store::open(&db)
            .unwrap()
            .entry_count(id)
            .unwrap()
    };
    assert!(entries("afintl") > 0 && entries("amu") > 0);
    run(&config, &["sources", "remove", "afintl"])
        .success()
        .stdout(predicate::str::contains("stored entries stay"));
    assert!(entries("afintl") > 0, "entries of a removed source stay");
    let sql = |q: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(q, [], |r| r.get(0))
            .unwrap()
    };
    let stories_before = sql("SELECT count(*) FROM stories");
    // `fetch` leaves the search index behind; `search` brings it up to date first.
    assert_eq!(
        sql("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'Muttaqi'"),
        0
    );
    run(&config, &["search", "Muttaqi"])
        .success()
        .stdout(predicate::str::contains("Muttaqi"));
    assert!(sql("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'Muttaqi'") > 0);
    run(&config, &["sources", "remove", "amu", "--purge"])
        .success()
        .stdout(predicate::str::contains("purged"));
    assert_eq!(entries("amu"), 0);
    assert!(entries("afintl") > 0, "other sources' entries stay");
    assert!(
        sql("SELECT count(*) FROM stories") < stories_before,
        "stories only amu reported are gone"
    );
    assert_eq!(
        sql("SELECT count(*) FROM stories WHERE id NOT IN (SELECT story_id FROM entries)"),
        0,
        "no story is left without a report"
    );
    assert_eq!(
        sql("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'Muttaqi'"),
        0,
        "the search index forgets purged entries"
    );
    let store = roundup::store::Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    // Both blocks gone; the comments at the top and in [digest] are still there.
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(edited.starts_with(&original[..original.find("[[sources]]").unwrap()]));
    assert!(edited.ends_with("# formats = [\"markdown\"]   # commented-out setting, keep it\n"));
}

#[test]
fn opml_export_then_import_into_an_empty_config_gives_the_same_sources() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = named_sources(DEMO_FEEDS);
    sources = sources.replacen(
        "region = \"Afghanistan\"\n",
        "region = \"Afghanistan\"\nlanguage = \"en\"\ntags = [\"politics\", \"seed\"]\nschedule = \"*/15 * * * *\"\nsite = \"https://www.afintl.com/en\"\nenabled = false\nproxy = \"socks5h://127.0.0.1:9050\"\n",
        1,
    );
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, format!("database = \"a.db\"\n\n{sources}")).unwrap();
    let opml = dir.path().join("out.opml");
    run(
        &config,
        &["sources", "export", "--output", opml.to_str().unwrap()],
    )
    .success();
    let text = std::fs::read_to_string(&opml).unwrap();
    assert!(text.contains("<opml version=\"2.0\""), "{text}");
    assert!(text.contains("xmlUrl=\"file://"), "{text}");
    assert!(
        text.contains("htmlUrl=\"https://www.afintl.com/en\""),
        "{text}"
    );
    assert!(text.contains("category=\"politics,seed\""), "{text}");
    // The export is XML that a feed library reads back as OPML (it is well-formed).
    assert!(roundup::sources::opml::parse(&text).unwrap().len() == DEMO_FEEDS.len());

    let empty = dir.path().join("new/roundup.toml");
    std::fs::create_dir_all(empty.parent().unwrap()).unwrap();
    run(&empty, &["sources", "import", opml.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains(format!(
            "imported {} sources",
            DEMO_FEEDS.len()
        )));
    // The same sources; OPML groups them by region (folders, in first-seen order), so
    // the file order within the config may differ, never the digest's region order.
    let sorted = |v: serde_json::Value| {
        let mut v = v.as_array().unwrap().clone();
        v.sort_by_key(|s| s["id"].as_str().unwrap().to_owned());
        v
    };
    assert_eq!(sorted(list_json(&empty)), sorted(list_json(&config)));
    let regions = |path: &Path| roundup::config::load(path).unwrap().region_order();
    assert_eq!(regions(&empty), regions(&config));
    // A source's own proxy travels too (as `roundup:proxy`).
    let proxies = |path: &Path| {
        let mut p: Vec<(String, Option<String>)> = roundup::config::load(path)
            .unwrap()
            .sources
            .iter()
            .map(|s| (s.id.clone(), s.proxy.as_ref().map(ToString::to_string)))
            .collect();
        p.sort();
        p
    };
    assert_eq!(proxies(&empty), proxies(&config));
    assert!(
        proxies(&config)
            .iter()
            .any(|(_, p)| p.as_deref() == Some("socks5h://127.0.0.1:9050"))
    );
    // Importing again: every feed is a duplicate, skipped and reported.
    let before = std::fs::read_to_string(&empty).unwrap();
    run(&empty, &["sources", "import", opml.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains("skipped Meduza"))
        .stdout(predicate::str::contains("imported 0 sources (6 skipped)"));
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), before);
}

/// OPML as Miniflux (categories as folders with `text` and `title`), FreshRSS (folders,
/// `description`, `xmlUrl` before `text`) and newsboat (flat, `text` only, no `htmlUrl`)
/// write it, plus a feed listed twice.
const MINIFLUX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
    <head>
        <title>Miniflux</title>
        <dateCreated>Mon, 25 Nov 2024 10:00:00 UTC</dateCreated>
    </head>
    <body>
        <outline text="Afghanistan" title="Afghanistan">
            <outline title="Afghanistan International" text="Afghanistan International" xmlUrl="https://www.afintl.com/en/rss" htmlUrl="https://www.afintl.com/en" description=""></outline>
            <outline title="TOLOnews" text="TOLOnews" xmlUrl="https://tolonews.com/rss.xml" htmlUrl="https://tolonews.com"></outline>
        </outline>
        <outline text="Russia" title="Russia">
            <outline title="Медуза" text="Медуза" xmlUrl="https://meduza.io/rss/all" htmlUrl="https://meduza.io"></outline>
        </outline>
    </body>
</opml>
"#;

const FRESHRSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
	<head>
		<title>FreshRSS</title>
	</head>
	<body>
		<outline text="Iran">
			<outline type="rss" xmlUrl="https://feeds.bbci.co.uk/persian/rss.xml" htmlUrl="https://www.bbc.com/persian" text="BBC News فارسی" description="BBC Persian" category="world,persian"/>
			<outline type="rss" xmlUrl="https://www.afintl.com/en/rss?utm_source=freshrss" text="AFINTL copy"/>
		</outline>
	</body>
</opml>
"#;

const NEWSBOAT: &str = r#"<?xml version="1.0"?>
<opml version="1.0">
  <head>
    <title>newsboat - Exported Feeds</title>
  </head>
  <body>
    <outline type="rss" xmlUrl="https://rus.azattyq.org/api/zrqiteuuir" htmlUrl="" title="Азаттык"/>
    <outline type="rss" xmlUrl="https://kun.uz/en/news/rss" text="Kun.uz"/>
    <outline type="rss" xmlUrl="feed://pajhwok.com/en/feed/" text="Pajhwok"/>
    <outline type="rss" xmlUrl="www.eurasianet.org/feed" text="Eurasianet"/>
  </body>
</opml>
"#;

#[test]
fn import_reads_opml_the_way_other_readers_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(&config, "# imported feeds\n").unwrap();
    for (name, text) in [
        ("miniflux.opml", MINIFLUX),
        ("freshrss.opml", FRESHRSS),
        ("newsboat.opml", NEWSBOAT),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = run(&config, &["sources", "import", file.to_str().unwrap()]).success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        if name == "freshrss.opml" {
            assert!(
                stdout.contains("skipped AFINTL copy") && stdout.contains("(1 skipped)"),
                "the same feed with a tracking parameter is a duplicate: {stdout}"
            );
        }
    }
    let listed = list_json(&config);
    let by_id = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {listed}"))
            .clone()
    };
    assert_eq!(listed.as_array().unwrap().len(), 8, "{listed}");
    let afintl = by_id("afghanistan-international");
    assert_eq!(afintl["region"], "Afghanistan", "folder → region");
    assert_eq!(afintl["site"], "https://www.afintl.com/en");
    let meduza = by_id("meduza-io");
    assert_eq!(
        meduza["name"], "Медуза",
        "non-Latin title kept, id from the host"
    );
    assert_eq!(meduza["region"], "Russia");
    let bbc = by_id("feeds-bbci-co-uk");
    assert_eq!(bbc["name"], "BBC News فارسی");
    assert_eq!(bbc["tags"], serde_json::json!(["world", "persian"]));
    let azattyk = by_id("rus-azattyq-org");
    assert_eq!(azattyk["name"], "Азаттык", "title without text");
    assert_eq!(
        azattyk["site"],
        serde_json::Value::Null,
        "empty htmlUrl dropped"
    );
    let kun = by_id("kun-uz");
    assert_eq!(kun["region"], "Other", "no folder: the default region");
    assert_eq!(
        by_id("pajhwok")["url"],
        "http://pajhwok.com/en/feed/",
        "feed:// is http://"
    );
    assert_eq!(
        by_id("eurasianet")["url"],
        "https://www.eurasianet.org/feed",
        "no scheme: https"
    );
    roundup()
        .args(["--config", config.to_str().unwrap(), "check"])
        .assert()
        .success();
}

#[test]
fn status_json_has_the_fields_monitoring_scripts_read() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = commented_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[[sources]]\nid = \"gone\"\nurl = \"{}\"\n",
            fixture_url("feeds/does-not-exist.xml")
        ),
    )
    .unwrap();
    run(&config, &["fetch"]).code(1);
    let out = run(&config, &["status", "--format", "json"]).success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        for field in [
            "id",
            "url",
            "last_fetch",
            "last_status",
            "entries",
            "consecutive_failures",
            "last_error",
            "next_fetch",
        ] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
    }
    assert_eq!(rows[0]["id"], "afintl");
    assert_eq!(rows[0]["last_status"], 200);
    assert!(rows[0]["entries"].as_i64().unwrap() > 0);
    assert_eq!(rows[0]["consecutive_failures"], 0);
    assert!(rows[0]["last_fetch"].as_str().unwrap().contains('T'));
    assert_eq!(rows[2]["id"], "gone");
    assert_eq!(rows[2]["consecutive_failures"], 1);
    assert!(
        rows[2]["last_error"]
            .as_str()
            .unwrap()
            .contains("does-not-exist")
    );
    // The plain form stays a table.
    run(&config, &["status"])
        .success()
        .stdout(predicate::str::starts_with("SOURCE").and(predicate::str::contains("gone")));
}

#[test]
fn search_finds_english_russian_and_persian_words() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(
        &config,
        format!("database = \"roundup.db\"\n\n{}", named_sources(DEMO_FEEDS)),
    )
    .unwrap();
    run(&config, &["fetch"]).success();

    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["search", "--format", "json"];
        all.extend_from_slice(args);
        let out = run(&config, &all).success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    };
    // English: the seed story, once although three outlets carry it.
    let found = json(&["Taliban", "SCO"]);
    let results = found["results"].as_array().unwrap();
    let seed: Vec<_> = results
        .iter()
        .filter(|r| r["title"].as_str().unwrap().to_lowercase().contains("sco"))
        .collect();
    assert_eq!(seed.len(), 1, "{found}");
    assert_eq!(seed[0]["also_reported_by"], 2, "{found}");
    // KabulNow's link to the original carries utm_* parameters; links shown do not.
    let url = seed[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://") && !url.contains("utm_"),
        "{found}"
    );
    assert!(
        seed[0]["snippet"].as_str().unwrap().contains("**"),
        "{found}"
    );
    // Case folding in Cyrillic and words in Persian.
    let ru = json(&["КЛЮЧЕВУЮ", "ставку"]);
    assert_eq!(ru["results"][0]["source"], "meduza", "{ru}");
    // Other forms of the words: Meduza wrote "ключевую ставку", the reader types the
    // dictionary form; the seed story says "participate", the reader "participation".
    let inflected = json(&["ключевая", "ставка"]);
    assert_eq!(inflected["results"][0]["source"], "meduza", "{inflected}");
    let english = json(&["participation", "Taliban"]);
    assert!(
        english["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["title"].as_str().unwrap().to_lowercase().contains("sco")),
        "{english}"
    );
    let fa = json(&["هیرمند"]);
    assert_eq!(fa["results"][0]["source"], "bbcpersian", "{fa}");
    // Typed on an Arabic keyboard layout: Arabic yeh and kaf ("هيرمند", "كامل").
    let arabic_letters = json(&["هيرمند", "كامل"]);
    assert_eq!(
        arabic_letters["results"][0]["source"], "bbcpersian",
        "{arabic_letters}"
    );
    // Typed without the ZWNJ the outlet wrote ("سه‌شنبه", "می‌دانند").
    let no_zwnj = json(&["سهشنبه", "میدانند"]);
    assert_eq!(no_zwnj["results"][0]["source"], "bbcpersian", "{no_zwnj}");
    // The 1351 treaty, written "۱۳۵۱" by the outlet, found in ASCII digits.
    let year = json(&["1351"]);
    assert_eq!(year["results"][0]["source"], "bbcpersian", "{year}");
    // A title stored before feed text was cleaned of control characters: its terminal
    // escape sequence does not reach the terminal.
    let db = rusqlite::Connection::open(dir.path().join("roundup.db")).unwrap();
    db.execute(
        "UPDATE entries SET title = 'Банк' || char(27) || '[2J России' WHERE source_id = 'meduza'",
        [],
    )
    .unwrap();
    drop(db);
    let out = run(&config, &["search", "ставку"]).success();
    let shown = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        shown.contains("Банк[2J России") && !shown.contains('\u{1b}'),
        "{shown:?}"
    );
    // Filters.
    assert_eq!(
        json(&["Taliban", "--source", "meduza"])["results"],
        serde_json::json!([])
    );
    assert_eq!(
        json(&["Taliban", "--since", "2999-01-01"])["results"],
        serde_json::json!([])
    );
    // Text form, and what a user may type without knowing FTS5 syntax.
    run(&config, &["search", "Shanghai", "Cooperation"])
        .success()
        .stdout(predicate::str::contains("1. "));
    run(
        &config,
        &["search", "--", "\"unbalanced", "AND", "-x:y", "OR"],
    )
    .success();
    run(&config, &["search", "--since", "yesterday-ish", "x"]).code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_signals_the_running_daemon_which_picks_up_the_new_source() {
    let server = MockServer::start().await;
    let amu = std::fs::read(fixture("feeds/amu.xml")).unwrap();
    let kabulnow = std::fs::read(fixture("feeds/kabulnow.atom")).unwrap();
    serve(&server, "/a", amu, "application/rss+xml").await;
    serve(&server, "/b", kabulnow, "application/atom+xml").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"roundup.db\"\n[fetch]\nschedule = \"* * * * * *\"\n\n[[sources]]\nid = \"a\"\nurl = \"{}/a\"\n",
            server.uri()
        ),
    )
    .unwrap();
    // Without a daemon, --reload saves the edit and says why nothing was signalled.
    run(&config, &["sources", "disable", "a", "--reload"])
        .code(1)
        .stderr(predicate::str::contains("is `roundup run` running?"));
    run(&config, &["sources", "enable", "a"]).success();

    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_roundup"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = dir.path().join("roundup.pid");
    let start = Instant::now();
    while !pid_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "no pid file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = format!("{}/b", server.uri());
    run(&config, &["sources", "add", &b, "--reload"])
        .success()
        .stdout(predicate::str::contains(format!(
            "sent SIGHUP to the running daemon (pid {})",
            child.id()
        )));
    let fetched_b = || async {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/b")
            .count()
    };
    // One request by `add` itself (the validation fetch), then the daemon's.
    let start = Instant::now();
    while fetched_b().await < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the daemon did not fetch the added source"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = StdCommand::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!pid_file.exists(), "the pid file is removed on exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_without_feed_links_falls_back_to_the_sites_usual_feed_path() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/blog/post-1",
        b"<html><head><title>Post</title></head><body>text</body></html>".to_vec(),
        "text/html",
    )
    .await;
    serve(
        &server,
        "/rss.xml",
        std::fs::read(fixture("feeds/amu.xml")).unwrap(),
        "application/rss+xml",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    run(
        &config,
        &["sources", "add", &format!("{}/blog/post-1", server.uri())],
    )
    .success();
    let listed = list_json(&config);
    assert_eq!(listed[0]["url"], format!("{}/rss.xml", server.uri()));
    assert_eq!(
        listed[0]["site"], "https://amu.tv/",
        "the feed's own link: {listed}"
    );
}
