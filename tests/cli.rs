//! The binary as users and scripts run it: exit codes, error lines, files written.

use assert_cmd::Command;
use predicates::prelude::*;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{demo_sources, fixture, source, write_config};

fn roundup() -> Command {
    let mut cmd = Command::cargo_bin("roundup").unwrap();
    cmd.env_remove("ROUNDUP_CONFIG").env_remove("RUST_LOG");
    cmd
}

/// `roundup fetch` with `config`, where some sources fail (exit 1), off the async
/// runtime (the test's mock servers run on it): its stdout and stderr.
async fn fetch_with_failures(config: &std::path::Path) -> (String, String) {
    let config = config.to_str().unwrap().to_owned();
    let assert = tokio::task::spawn_blocking(move || {
        roundup()
            .args(["--config", &config, "fetch"])
            .assert()
            .code(1)
    })
    .await
    .unwrap();
    let output = assert.get_output();
    (
        String::from_utf8(output.stdout.clone()).unwrap(),
        String::from_utf8(output.stderr.clone()).unwrap(),
    )
}

#[test]
fn check_lists_sources_of_a_valid_config() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    roundup()
        .args(["--config", demo.to_str().unwrap(), "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("6 sources (6 enabled)"))
        .stdout(predicate::str::contains("afintl").and(predicate::str::contains("next ")));
}

#[test]
fn check_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[fetch]\nschedule = \"every hour\"\ntimezone = \"Mars/Olympus\"\nmax_body = \"huge\"\n\n[[sources]]\nid = \"a\"\nurl = \"gopher://x\"\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    roundup()
        .args(["--config", &shown, "check"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{shown}:2: fetch.schedule"
        )))
        .stderr(predicate::str::contains(format!(
            "{shown}:3: fetch.timezone"
        )))
        .stderr(predicate::str::contains(format!(
            "{shown}:4: fetch.max_body"
        )))
        .stderr(predicate::str::contains(format!("{shown}:8: sources.url")));
}

#[test]
fn check_on_a_missing_or_unparsable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    roundup()
        .args(["--config", missing.to_str().unwrap(), "check"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nope.toml: cannot read config file",
        ));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[fetch\nschedule = 1\n").unwrap();
    roundup()
        .args(["--config", bad.to_str().unwrap(), "check"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:1: invalid TOML"));
}

#[test]
fn init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etc/roundup.toml");
    let shown = path.to_str().unwrap();
    roundup().args(["init", shown]).assert().success();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("Afghanistan International") && written.contains("BBC Persian"));
    roundup()
        .args(["--config", shown, "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tolonews"));
    std::fs::write(&path, "# mine\n").unwrap();
    roundup()
        .args(["init", shown])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
}

#[test]
fn run_once_writes_a_digest_with_the_seed_story_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    roundup()
        .args(["--config", config.to_str().unwrap(), "run", "--once"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("wrote")
                .and(predicate::str::contains(".md"))
                .and(predicate::str::contains(
                    "stories from 4 outlets (2 duplicate reports folded)",
                )),
        );
    let digests: Vec<_> = std::fs::read_dir(dir.path().join("digests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let md = digests
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .unwrap();
    let name = md.file_stem().unwrap().to_str().unwrap();
    assert!(
        chrono::NaiveDate::parse_from_str(name, "%Y-%m-%d").is_ok(),
        "{name}"
    );
    let markdown = std::fs::read_to_string(md).unwrap();
    assert_eq!(
        markdown.matches("SCO Meetings, Claims Group").count(),
        1,
        "{markdown}"
    );
    assert_eq!(
        markdown.matches("sco meetings").count(),
        0,
        "the wire copy is folded"
    );
    assert!(
        markdown.contains("Also reported by: [KABULNOW]"),
        "{markdown}"
    );
    assert_eq!(
        markdown
            .matches("Not Invited To ECO Meeting In Mashhad")
            .count(),
        1
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(md.with_extension("json")).unwrap()).unwrap();
    assert_eq!(json["version"], 1);
    let stories = json["stories"].as_array().unwrap();
    let seed: Vec<_> = stories
        .iter()
        .filter(|s| {
            s["title"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("sco meetings")
        })
        .collect();
    assert_eq!(seed.len(), 1);
    assert_eq!(seed[0]["source"], "afintl");
    assert_eq!(seed[0]["also_reported_by"].as_array().unwrap().len(), 2);
    for key in [
        "id",
        "title",
        "url",
        "source",
        "source_name",
        "region",
        "published",
        "first_seen",
        "summary",
    ] {
        assert!(seed[0].get(key).is_some(), "story has {key}");
    }
    for key in ["generated_at", "window"] {
        assert!(json.get(key).is_some());
    }
}

#[test]
fn run_once_says_when_the_email_was_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[digest.email]\nhost = \"127.0.0.1\"\nport = {closed}\nsecurity = \"none\"\n\
         from = \"digest@example.org\"\nto = [\"reader@example.org\"]\n"
    ));
    std::fs::write(&config, text).unwrap();
    roundup()
        .args(["--config", config.to_str().unwrap(), "run", "--once"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("1 digest email not sent, kept to send with the next digest")
                .and(predicate::str::contains("emailed").not()),
        )
        .stderr(predicate::str::contains(format!(
            "email digest not sent, will retry with the next digest: SMTP 127.0.0.1:{closed}"
        )));
}

#[test]
fn run_once_counts_one_story_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("one.xml");
    std::fs::write(
        &feed,
        "<rss version=\"2.0\"><channel><title>One</title><link>https://one.example/</link>\
         <item><guid>1</guid><title>Torkham crossing reopens</title>\
         <link>https://one.example/1</link><description>The crossing reopened on Friday \
         after four days.</description></item></channel></rss>",
    )
    .unwrap();
    let url = format!("file://{}", feed.display());
    let config = write_config(dir.path(), "", &[source("one", &url)]);
    roundup()
        .args(["--config", config.to_str().unwrap(), "run", "--once"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "1 story from 1 outlet (0 duplicate reports folded)",
        ));
}

#[test]
fn digest_prints_markdown_and_json_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    let config = config.to_str().unwrap();
    // Before any fetch: an empty digest, and a line on stderr saying why.
    roundup()
        .args(["--config", config, "digest"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No new stories in this window."))
        .stderr(predicate::str::contains(
            "no source has been fetched yet; `roundup fetch`",
        ));
    roundup()
        .args(["--config", config, "fetch"])
        .assert()
        .success();
    roundup()
        .args(["--config", config, "digest"])
        .assert()
        .success()
        .stdout(
            predicate::str::starts_with("# roundup")
                .and(predicate::str::contains("## Afghanistan")),
        );
    // Fetched, but nothing that day: no such line.
    roundup()
        .args(["--config", config, "digest", "--date", "2001-01-01"])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    let out = roundup()
        .args(["--config", config, "digest", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["stories"].as_array().unwrap().len(), 7);
    roundup()
        .args([
            "--config",
            config,
            "digest",
            "--date",
            "2001-01-01",
            "--format",
            "json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"stories\": []"));
}

#[tokio::test]
async fn fetch_exits_1_when_a_source_fails_and_stores_the_rest() {
    let server = MockServer::start().await;
    Mock::given(path("/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut sources = vec![source("gone", &format!("{}/gone", server.uri()))];
    sources.extend(demo_sources());
    let config = write_config(dir.path(), "", &sources);
    let (out, err) = fetch_with_failures(&config).await;
    assert!(
        out.contains("gone") && out.contains("error 404  HTTP 404 Not Found"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.contains("ok    200")).count() == 4,
        "{out}"
    );
    // The warning on stderr names the source too (its own line, for logs).
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("source_id=gone") && l.contains("404")),
        "{err}"
    );
}

#[tokio::test]
async fn status_shows_no_next_fetch_before_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "7200"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    // Every minute: without the Retry-After the next fetch would be within a minute.
    let config = write_config(
        dir.path(),
        "schedule = \"* * * * *\"\n",
        &[source("busy", &format!("{}/busy", server.uri()))],
    );
    let config = config.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        roundup()
            .args(["--config", &config, "fetch"])
            .assert()
            .code(1);
        roundup()
            .args(["--config", &config, "status", "--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let next = rows[0]["next_fetch"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let ahead = next.signed_duration_since(chrono::Utc::now());
    assert!(
        ahead > chrono::Duration::minutes(110),
        "next fetch {next} is before the server's Retry-After (2 h)"
    );
}

#[test]
fn fetch_with_an_unknown_source_id_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    roundup()
        .args([
            "--config",
            config.to_str().unwrap(),
            "fetch",
            "--source",
            "nosuch",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown source id \"nosuch\""));
    assert!(
        !dir.path().join("roundup.db").exists(),
        "nothing fetched or created"
    );
}

#[test]
fn fetch_single_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    let out = roundup()
        .args([
            "--config",
            config.to_str().unwrap(),
            "fetch",
            "--source",
            "amu",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("amu"));
}

/// A config in `dir` with one source, Amu TV's fixture feed.
fn amu_only(dir: &std::path::Path) -> std::path::PathBuf {
    write_config(
        dir,
        "",
        &[source("amu", &crate::common::fixture_url("feeds/amu.xml"))],
    )
}

#[test]
fn unreadable_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = amu_only(dir.path());
    std::fs::write(dir.path().join("roundup.db"), vec![0x42u8; 8192]).unwrap();
    let assert = roundup()
        .args(["--config", config.to_str().unwrap(), "fetch"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("roundup.db"));
    // One line, SQLite's words once (not "…: file is not a database: Error code 26:
    // file is not a database").
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.trim_end()
            .ends_with("roundup.db: file is not a database"),
        "{err}"
    );
    let _ = fixture("feeds/amu.xml");
}

#[test]
fn a_database_of_a_newer_roundup_is_refused_in_one_line_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let config = amu_only(dir.path());
    let config = config.to_str().unwrap();
    roundup()
        .args(["--config", config, "fetch"])
        .assert()
        .success();
    // What a newer build leaves behind: one migration more than this build knows.
    let db = dir.path().join("roundup.db");
    let newer = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "user_version", version + 1)
            .unwrap();
        version + 1
    };
    for command in ["fetch", "status", "digest"] {
        let assert = roundup()
            .args(["--config", config, command])
            .assert()
            .code(3);
        let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_eq!(err.lines().count(), 1, "{command}: {err}");
        assert!(
            err.contains(&format!(
                "roundup.db was written by a newer roundup (schema {newer}; this build knows {})",
                newer - 1
            )),
            "{command}: {err}"
        );
    }
    // Nothing was written to it: its stories and version are still there.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (version, entries): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), count(*) FROM entries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, newer);
    assert!(entries > 0);
}

#[test]
fn status_shows_each_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &demo_sources());
    let config = config.to_str().unwrap();
    roundup()
        .args(["--config", config, "fetch"])
        .assert()
        .success();
    roundup()
        .args(["--config", config, "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("LAST FETCH"))
        .stdout(predicate::str::is_match(r"(?m)^afintl\s+\S+ \S+\s+200\s+3\s+0 ").unwrap());
}

#[tokio::test]
async fn a_login_in_the_feed_url_is_sent_and_its_password_never_logged() {
    let server = MockServer::start().await;
    // "reader:s3cret" and "reader:wrong", as HTTP Basic sends them.
    Mock::given(path("/private"))
        .and(wiremock::matchers::header(
            "Authorization",
            "Basic cmVhZGVyOnMzY3JldA==",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(std::fs::read(fixture("feeds/afintl.xml")).unwrap()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/private"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let at = |login: &str| server.uri().replacen("://", &format!("://{login}@"), 1) + "/private";
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "",
        &[
            source("member", &at("reader:s3cret")),
            source("typo", &at("reader:wrong")),
            source("anonymous", &format!("{}/private", server.uri())),
        ],
    );
    let (out, err) = fetch_with_failures(&config).await;
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("member").contains("ok    200"), "{out}");
    assert!(
        line("typo").ends_with("refused the user name and password in the source's URL"),
        "{out}"
    );
    assert!(line("anonymous").contains("asks for a login"), "{out}");
    // The journal gets the source's URL without its password.
    assert!(
        err.contains("source_url=http://reader:***@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("wrong") && !err.contains("s3cret"), "{err}");
}
