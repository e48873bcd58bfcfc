//! `roundup run` as a process: fetches on a seconds-level schedule against a local
//! server, SIGHUP reloads (and survives a broken config), a stalled source delays
//! neither others nor the digest, SIGTERM exits 0 quickly with the database intact.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{fixture, source};

async fn hits(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(path: &Path, sources: &[String]) {
    let text = format!(
        "database = \"roundup.db\"\n[fetch]\nschedule = \"* * * * * *\"\ntimeout = \"4s\"\n\
         [digest]\nschedule = \"*/2 * * * * *\"\noutput_dir = \"digests\"\nformats = [\"markdown\", \"json\"]\n\n{}",
        sources.concat()
    );
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_fetches_reloads_and_stops_cleanly() {
    let server = MockServer::start().await;
    // Fixtures without <ttl>, so the seconds-level schedule is not stretched.
    let amu = std::fs::read(fixture("feeds/amu.xml")).unwrap();
    let kabulnow = std::fs::read(fixture("feeds/kabulnow.atom")).unwrap();
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(amu))
        .mount(&server)
        .await;
    Mock::given(path("/b"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(kabulnow))
        .mount(&server)
        .await;
    Mock::given(path("/stall"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120)))
        .mount(&server)
        .await;
    let uri = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    let a = source("a", &format!("{uri}/a"));
    let stall = source("stall", &format!("{uri}/stall"));
    write(&config, &[a.clone(), stall.clone()]);
    // A valid copy for `roundup status` once the live config has been broken.
    write(&dir.path().join("status.toml"), &[a.clone(), stall.clone()]);
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roundup"))
        .args(["--config", config.to_str().unwrap(), "-v", "run"])
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    // Fetches happen on the seconds-level schedule while /stall hangs.
    let server_ref = &server;
    wait_for("two fetches of a", Duration::from_secs(15), || async move {
        hits(server_ref, "/a").await >= 2
    })
    .await;
    // The digest is written on schedule although a fetch is stalled.
    let digests = dir.path().join("digests");
    wait_for("a digest", Duration::from_secs(10), || {
        let d = digests.clone();
        async move {
            std::fs::read_dir(&d)
                .map(|r| r.count() >= 2)
                .unwrap_or(false)
        }
    })
    .await;
    // On a loaded machine the stalled source's first request can come after the
    // digest: wait for it, then check that no second one was started beside it.
    wait_for(
        "the stalled source requested",
        Duration::from_secs(15),
        || async move { hits(server_ref, "/stall").await >= 1 },
    )
    .await;
    assert_eq!(
        hits(&server, "/stall").await,
        1,
        "a stalled source is never fetched twice at once"
    );

    // SIGHUP after adding a source: it is fetched.
    write(
        &config,
        &[a.clone(), stall.clone(), source("b", &format!("{uri}/b"))],
    );
    signal(&child, "-HUP");
    wait_for(
        "b fetched after reload",
        Duration::from_secs(10),
        || async move { hits(server_ref, "/b").await >= 1 },
    )
    .await;

    // SIGHUP with a broken config: rejected, the daemon keeps running and fetching.
    std::fs::write(&config, "[fetch]\nschedule = \"not cron\"\n").unwrap();
    signal(&child, "-HUP");
    let before = hits(&server, "/a").await;
    wait_for("fetching continues", Duration::from_secs(10), || {
        let server = &server;
        async move { hits(server, "/a").await >= before + 2 }
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "daemon still running");

    // The stalled source ends in its own timeout error, visible to `roundup status`
    // while the daemon runs (WAL: readers don't block the writer).
    wait_for(
        "the stalled source to time out",
        Duration::from_secs(10),
        || {
            let db = dir.path().join("roundup.db");
            async move {
                let store = roundup::store::Store::open(&db).unwrap();
                let statuses = store.source_statuses().unwrap();
                statuses.iter().any(|s| {
                    s.id == "stall" && s.last_error.as_deref() == Some("timed out after 4s")
                })
            }
        },
    )
    .await;
    let status = Command::new(env!("CARGO_BIN_EXE_roundup"))
        .args([
            "--config",
            dir.path().join("status.toml").to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{table}");
    assert!(table.contains("timed out after 4s"), "{table}");

    // Stalled, then failed: never requested twice at once, then backing off (1 h).
    assert_eq!(hits(&server, "/stall").await, 1);

    // SIGTERM: exit 0 within 5 s.
    signal(&child, "-TERM");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "daemon did not stop within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("config reload rejected"), "{log}");
    assert!(
        log.contains("fetch.schedule"),
        "the rejection names the problem:\n{log}"
    );

    let store = roundup::store::Store::open(&dir.path().join("roundup.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.entry_count("a").unwrap(), 2);
    assert_eq!(store.entry_count("b").unwrap(), 2);
}

/// Starts `roundup run` on `config`, its stderr in `log`.
fn daemon(config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_roundup"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until `pid_file` names `child`.
async fn wait_for_pid(pid_file: &Path, child: &Child) {
    let want = child.id().to_string();
    wait_for("the pid file", Duration::from_secs(10), || {
        let got = std::fs::read_to_string(pid_file).unwrap_or_default();
        let want = want.clone();
        async move { got.trim() == want }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_refuses_to_start() {
    let server = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(std::fs::read(fixture("feeds/amu.xml")).unwrap()),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roundup.toml");
    // The database's folder does not exist yet: the first start makes it, pid file too.
    let text = format!(
        "database = \"data/roundup.db\"\n[fetch]\nschedule = \"* * * * * *\"\n\n{}",
        source("a", &format!("{}/a", server.uri()))
    );
    std::fs::write(&config, text).unwrap();
    let pid_file = dir.path().join("data/roundup.pid");

    let mut first = daemon(&config, &dir.path().join("first.log"));
    wait_for_pid(&pid_file, &first).await;

    let second_log = dir.path().join("second.log");
    let mut second = daemon(&config, &second_log);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            for child in [&mut second, &mut first] {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!("a second daemon started on the same database");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stderr = std::fs::read_to_string(&second_log).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another roundup daemon (pid {}) is already running on",
            first.id()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        first.id().to_string(),
        "the refused daemon leaves the running one's pid file alone"
    );
    assert!(first.try_wait().unwrap().is_none(), "the first still runs");

    // A daemon killed outright leaves its pid file but no lock: the next one starts.
    signal(&first, "-KILL");
    first.wait().unwrap();
    assert!(pid_file.exists());
    let mut third = daemon(&config, &dir.path().join("third.log"));
    wait_for_pid(&pid_file, &third).await;
    signal(&third, "-TERM");
    let status = third.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!pid_file.exists(), "the pid file is removed on exit");
}
