//! Crash safety and concurrency: `kill -9` at random points during ingest never
//! corrupts or half-writes anything; CLI readers run beside a writer without "database
//! is locked"; storage failures exit 3 without half-written digests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const FEEDS: usize = 60;
const ITEMS: usize = 30;

/// `FEEDS` distinct feeds of `ITEMS` distinct stories each, and a config over them.
fn corpus(dir: &Path) -> PathBuf {
    // Distinct texts: random words, so no two stories are near-duplicates.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut words = |n: usize| {
        (0..n)
            .map(|_| format!("w{}", rng.u32(0..100_000)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut config = String::from(
        "database = \"roundup.db\"\n[digest]\noutput_dir = \"digests\"\nformats = [\"markdown\", \"json\"]\n",
    );
    for f in 0..FEEDS {
        let mut xml = format!(
            "<rss version=\"2.0\"><channel><title>Feed {f}</title><link>https://feed{f}.example/</link>"
        );
        for i in 0..ITEMS {
            xml.push_str(&format!(
                "<item><title>{}</title><link>https://feed{f}.example/{i}</link><guid>f{f}-{i}</guid>\
                 <description>&lt;p&gt;{}&lt;/p&gt;</description></item>",
                words(8),
                words(40)
            ));
        }
        xml.push_str("</channel></rss>");
        let path = dir.join(format!("feed{f}.xml"));
        std::fs::write(&path, xml).unwrap();
        config.push_str(&format!(
            "[[sources]]\nid = \"feed{f}\"\nurl = \"{}\"\n",
            url::Url::from_file_path(&path).unwrap()
        ));
    }
    let path = dir.join("roundup.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn roundup() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundup"));
    cmd.env_remove("RUST_LOG").env_remove("ROUNDUP_CONFIG");
    cmd
}

/// Checks the invariants after any crash: integrity, every feed all-or-nothing (one
/// transaction per fetch), one story per entry (these stories are all distinct), and
/// every feed a finished fetch reported as stored still there.
fn check(db: &Path, reported: &std::collections::HashSet<String>) {
    let store = roundup::store::Store::open(db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    for f in 0..FEEDS {
        let id = format!("feed{f}");
        let n = store.entry_count(&id).unwrap();
        assert!(
            n == 0 || n == ITEMS as i64,
            "{id} half-written: {n} entries"
        );
        if reported.contains(&id) {
            assert_eq!(n, ITEMS as i64, "{id} was reported stored but is gone");
        }
    }
    let (stories, entries) = store.counts().unwrap();
    assert_eq!(stories, entries, "no duplicate or lost stories");
}

#[test]
fn kill_9_during_ingest_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = corpus(dir.path());
    let db = dir.path().join("roundup.db");
    let mut reported = std::collections::HashSet::new();
    let mut rng = fastrand::Rng::with_seed(20_261_130);
    for round in 0..20 {
        let log = dir.path().join(format!("fetch-{round}.log"));
        let mut child = roundup()
            .args(["--config", config.to_str().unwrap(), "-v", "fetch"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(5..400)));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        // Fetches that finished said so in the log before the kill.
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            if let Some(id) = line
                .contains(": stored")
                .then(|| line.split("source_id=").nth(1))
                .flatten()
                .and_then(|r| r.split_whitespace().next())
            {
                reported.insert(id.to_owned());
            }
        }
        check(&db, &reported);
    }
    // A fetch after all those crashes completes the set, with nothing doubled.
    let out = roundup()
        .args(["--config", config.to_str().unwrap(), "fetch"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: std::collections::HashSet<String> = (0..FEEDS).map(|f| format!("feed{f}")).collect();
    check(&db, &all);
}

#[test]
fn readers_never_see_database_is_locked_beside_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let config = corpus(dir.path());
    let config = config.to_str().unwrap().to_owned();
    roundup()
        .args(["--config", &config, "fetch"])
        .output()
        .unwrap();
    let writer_config = config.clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..4 {
            // Editing the feeds is not needed: each cycle rewrites every source's state.
            let out = roundup()
                .args(["--config", &writer_config, "fetch"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    let mut runs = 0;
    while !writer.is_finished() || runs < 6 {
        for args in [
            &["status"][..],
            &["digest", "--format", "json"][..],
            &["digest"][..],
        ] {
            let out = roundup()
                .args(["--config", &config])
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && !stderr.contains("locked"),
                "{args:?}: {stderr}"
            );
        }
        runs += 1;
    }
    writer.join().unwrap();
}

#[test]
fn storage_failures_exit_3_without_half_written_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = corpus(dir.path());
    // The digest folder cannot be created: a file is in the way.
    std::fs::write(dir.path().join("digests"), "not a folder").unwrap();
    let out = roundup()
        .args(["--config", config.to_str().unwrap(), "run", "--once"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write digest") && stderr.contains("digests"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("digests")).unwrap(),
        "not a folder"
    );
    // The fetch itself was stored before the digest failed.
    let store = roundup::store::Store::open(&dir.path().join("roundup.db")).unwrap();
    assert_eq!(store.counts().unwrap().1, (FEEDS * ITEMS) as i64);

    // The database path is a folder: exit 3, with the path in the message.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = corpus(dir2.path());
    std::fs::create_dir(dir2.path().join("roundup.db")).unwrap();
    let out = roundup()
        .args(["--config", config2.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("roundup.db"));
}
