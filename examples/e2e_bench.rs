//! End-to-end fetch-cycle benchmark: generates N realistic feeds, serves them from a
//! loopback HTTP server with ETag/Last-Modified (answering 304), and runs the release
//! `roundup fetch` cold (empty database) and warm (every feed answers 304), for each N.
//!
//! ```sh
//! cargo build --release && cargo run --release --example e2e_bench            # N = 100, 1000, 5000
//! cargo build --release && cargo run --release --example e2e_bench -- 100 1000
//! cargo build --release && E2E_NO_VALIDATORS=1 cargo run --release --example e2e_bench -- 1000
//! ```
//!
//! With `E2E_NO_VALIDATORS=1` the server sends no ETag or Last-Modified and never a 304,
//! so the warm cycle gets every body again, unchanged; adding `E2E_VOLATILE=1`, each body
//! ends in a comment of its own (new bytes, the same entries).
//!
//! With `E2E_REFERENCE=all` (or a comma-separated list of `sfeed`, `rss2email`,
//! `newsboat`), the readers issue 7's reference figures come from fetch the same feeds
//! from the same server after roundup, cold then warm, and the bench prints roundup's
//! cold speed-up over sfeed and warm speed-up over rss2email (targets 5× and 10×): the
//! machine's speed drifts by a third from one hour to the next, and a ratio taken in one
//! sitting does not. `ROUNDUP_BENCH_FEED_KB=120` makes feeds of ~120 KB, the size the
//! reference figures were taken on, instead of ~84 KB. `E2E_REPEAT=k` runs everything
//! k times (a new database each time) and prints the median of each speed-up.
//!
//! Prints wall time, CPU time (user + system) and peak RSS from `/usr/bin/time -v`, and
//! the entries and stories stored; then the same for the first `roundup search`, which
//! brings the full-text index up to date with everything the cycles stored. Feeds: ~40 items each, HTML bodies of 1–3 KB, RSS 2.0
//! and Atom alternating, about 15 % of stories syndicated from another feed under a new
//! URL and headline. All feeds live on one loopback host, so `fetch.per_host` is set to
//! `fetch.concurrency` here (real feeds are spread over many hosts).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[path = "../benches/support/feeds.rs"]
mod feeds;
use feeds::generate;

/// A small HTTP/1.1 server (keep-alive) serving the feeds with ETag and Last-Modified.
/// E2E_NO_VALIDATORS=1: without them, and never a 304, like a server that ignores
/// conditional GET (the warm cycle then gets every body again, unchanged).
async fn serve(feeds: Arc<Vec<Vec<u8>>>) -> u16 {
    let validators = std::env::var_os("E2E_NO_VALIDATORS").is_none();
    // E2E_VOLATILE=1 (with E2E_NO_VALIDATORS): each answer ends in a comment of its own,
    // like a feed that stamps its build time: never the same bytes, the same entries.
    let volatile = std::env::var_os("E2E_VOLATILE").is_some();
    let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let feeds = Arc::clone(&feeds);
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                loop {
                    let Ok(Some(request)) = lines.next_line().await else {
                        return;
                    };
                    let mut headers: HashMap<String, String> = HashMap::new();
                    while let Ok(Some(h)) = lines.next_line().await {
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let id: Option<usize> = request
                        .split_whitespace()
                        .nth(1)
                        .and_then(|p| p.strip_prefix("/feed/"))
                        .and_then(|p| p.strip_suffix(".xml"))
                        .and_then(|p| p.parse().ok());
                    let response: Vec<u8> = match id.and_then(|i| feeds.get(i).map(|b| (i, b))) {
                        Some((i, body)) => {
                            let etag = format!("\"v1-{i}\"");
                            let lm = "Sat, 28 Nov 2026 12:00:00 GMT";
                            if !validators {
                                let stamp = if volatile {
                                    let n =
                                        served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    format!("\n<!-- answer {n} -->\n")
                                } else {
                                    String::new()
                                };
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                                    body.len() + stamp.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(body);
                                r.extend_from_slice(stamp.as_bytes());
                                r
                            } else if headers.get("if-none-match") == Some(&etag) {
                                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nLast-Modified: {lm}\r\n\r\n").into_bytes()
                            } else {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nETag: {etag}\r\nLast-Modified: {lm}\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(body);
                                r
                            }
                        }
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    };
                    if w.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

struct Measured {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

fn timed(roundup: &Path, config: &Path, run: &str, args: &[&str]) -> Measured {
    // E2E_PERF=prefix records a cpu-clock profile per run (prefix.cold, prefix.warm)
    // instead of timing; otherwise /usr/bin/time -v when installed.
    // E2E_WRAP="strace -f -o /tmp/x" runs each run under any other wrapper command.
    let wrapper: Vec<String> = match std::env::var("E2E_PERF") {
        Err(_) if std::env::var_os("E2E_WRAP").is_some() => std::env::var("E2E_WRAP")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        Ok(prefix) => ["perf", "record", "-F", "999", "-e", "cpu-clock", "-g", "-o"]
            .iter()
            .map(ToString::to_string)
            .chain([format!("{prefix}.{run}")])
            .collect(),
        Err(_) if Path::new("/usr/bin/time").exists() => vec!["/usr/bin/time".into(), "-v".into()],
        Err(_) => Vec::new(),
    };
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(roundup);
            c
        }
        None => Command::new(roundup),
    };
    cmd.arg("--config").arg(config).arg("-q").args(args);
    let (m, out) = measured(&mut cmd);
    let failed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" error "))
        .count();
    if failed > 0 {
        eprintln!("warning: {failed} sources failed");
    }
    m
}

/// Runs `cmd` to its end: wall time, and CPU time (user + system) and peak RSS from
/// `/usr/bin/time -v` when `cmd` runs under it (NaN otherwise). CPU time counts every
/// process the command waited for (sfeed's shells, curl and parser processes); peak RSS
/// is that of its largest single process.
fn measured(cmd: &mut Command) -> (Measured, std::process::Output) {
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let m = Measured {
        wall,
        cpu: field("User time (seconds):") + field("System time (seconds):"),
        rss_mib: field("Maximum resident set size (kbytes):") / 1024.0,
    };
    (m, out)
}

/// Issue 7's targets as speed-ups over a reference reader: (reader, run, at least).
const SPEEDUP_TARGETS: [(&str, &str, u32); 2] = [("sfeed", "cold", 5), ("rss2email", "warm", 10)];

/// The readers issue 7's reference figures were taken with, as Debian packages them
/// (`apt-get install sfeed rss2email newsboat`: sfeed 1.7, rss2email 3.13, newsboat
/// 2.21), set up the way the issue names: sfeed with 16 parallel jobs, newsboat with 8
/// reload threads, rss2email as it comes (one feed at a time, no mail sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reference {
    Sfeed,
    Rss2email,
    Newsboat,
}

impl Reference {
    const ALL: [Reference; 3] = [Reference::Sfeed, Reference::Rss2email, Reference::Newsboat];

    fn name(self) -> &'static str {
        match self {
            Reference::Sfeed => "sfeed",
            Reference::Rss2email => "rss2email",
            Reference::Newsboat => "newsboat",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Reference::Sfeed => "sfeed_update",
            Reference::Rss2email => "r2e",
            Reference::Newsboat => "newsboat",
        }
    }

    /// The readers named by `E2E_REFERENCE` (comma-separated, or `all`) that are
    /// installed; the others are named on stderr and skipped.
    fn wanted() -> Vec<Reference> {
        let Ok(names) = std::env::var("E2E_REFERENCE") else {
            return Vec::new();
        };
        if !Path::new("/usr/bin/time").exists() {
            eprintln!("E2E_REFERENCE needs /usr/bin/time (apt-get install time); skipped");
            return Vec::new();
        }
        let names: Vec<&str> = names.split(',').map(str::trim).collect();
        for unknown in names
            .iter()
            .filter(|n| **n != "all" && Reference::ALL.iter().all(|r| r.name() != **n))
        {
            eprintln!(
                "E2E_REFERENCE: no reader named {unknown:?} (sfeed, rss2email, newsboat, all)"
            );
        }
        Reference::ALL
            .into_iter()
            .filter(|r| names.contains(&"all") || names.contains(&r.name()))
            .filter(|r| {
                let found = std::env::var_os("PATH").is_some_and(|path| {
                    std::env::split_paths(&path).any(|d| d.join(r.program()).is_file())
                });
                if !found {
                    eprintln!(
                        "{}: `{}` is not installed (apt-get install {}); skipped",
                        r.name(),
                        r.program(),
                        r.name()
                    );
                }
                found
            })
            .collect()
    }

    /// Writes the reader's configuration for `n` feeds on `port` into `dir`.
    fn configure(self, dir: &Path, port: u16, n: usize) {
        let url = |i: usize| format!("http://127.0.0.1:{port}/feed/{i}.xml");
        match self {
            Reference::Sfeed => {
                let mut rc = format!(
                    "sfeedpath=\"{}\"\nmaxjobs=16\nfeeds() {{\n",
                    dir.join("feeds").display()
                );
                for i in 0..n {
                    rc.push_str(&format!("\tfeed \"f{i}\" \"{}\"\n", url(i)));
                }
                rc.push_str("}\n");
                std::fs::write(dir.join("sfeedrc"), rc).unwrap();
            }
            Reference::Rss2email => {
                let mut cfg = String::from("[DEFAULT]\nto = bench@localhost\n");
                for i in 0..n {
                    cfg.push_str(&format!("[feed.f{i}]\nurl = {}\n", url(i)));
                }
                std::fs::write(dir.join("r2e.cfg"), cfg).unwrap();
            }
            Reference::Newsboat => {
                let urls: String = (0..n).map(|i| url(i) + "\n").collect();
                std::fs::write(dir.join("urls"), urls).unwrap();
                std::fs::write(dir.join("config"), "reload-threads 8\n").unwrap();
            }
        }
    }

    /// One fetch cycle of the reader configured in `dir`, under `/usr/bin/time -v`.
    fn cycle(self, dir: &Path) -> Command {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-v").current_dir(dir).env("HOME", dir);
        match self {
            Reference::Sfeed => cmd.arg("sfeed_update").arg(dir.join("sfeedrc")),
            Reference::Rss2email => {
                cmd.args(["r2e", "-c", "r2e.cfg", "-d", "r2e.json", "run", "--no-send"])
            }
            Reference::Newsboat => cmd.args([
                "newsboat", "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload",
            ]),
        };
        cmd
    }

    /// Items the reader holds after a cycle, to show that it read every feed.
    fn items(self, dir: &Path) -> usize {
        match self {
            Reference::Sfeed => std::fs::read_dir(dir.join("feeds"))
                .map(|files| {
                    files
                        .flatten()
                        .filter_map(|f| std::fs::read(f.path()).ok())
                        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
                        .sum()
                })
                .unwrap_or(0),
            Reference::Rss2email => std::fs::read_to_string(dir.join("r2e.json"))
                .map(|s| s.matches("\"hash\":").count())
                .unwrap_or(0),
            Reference::Newsboat => rusqlite::Connection::open(dir.join("cache.db"))
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM rss_item", [], |r| r.get::<_, i64>(0))
                })
                .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        }
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000, 5000]
    } else {
        sizes
    };
    let exe = std::env::current_exe().unwrap();
    // E2E_ROUNDUP=path measures another build of roundup (A/B runs in one sitting).
    let roundup: PathBuf = std::env::var_os("E2E_ROUNDUP").map_or_else(
        || exe.parent().and_then(Path::parent).unwrap().join("roundup"),
        PathBuf::from,
    );
    assert!(
        roundup.exists(),
        "build the release binary first: cargo build --release"
    );
    println!(
        "{:>6} {:>16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "feeds", "run", "wall s", "cpu s", "rss MiB", "entries", "stories", "db MiB"
    );
    let references = Reference::wanted();
    for n in sizes {
        let feeds = Arc::new(generate(n));
        let total: usize = feeds.iter().map(Vec::len).sum();
        let port = serve(Arc::clone(&feeds)).await;
        // E2E_REPEAT=k: the whole sequence k times (a new database each time), then the
        // median of each speed-up, since one pair of runs moves with the machine.
        let repeat: usize = std::env::var("E2E_REPEAT")
            .ok()
            .and_then(|k| k.parse().ok())
            .unwrap_or(1)
            .max(1);
        let mut speedups: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
        for _ in 0..repeat {
            let dir = tempfile::tempdir().unwrap();
            let mut config = String::from(
                "database = \"roundup.db\"\n[fetch]\nconcurrency = 32\nper_host = 32\ntimeout = \"60s\"\nmax_body = \"8 MiB\"\n",
            );
            for i in 0..n {
                config.push_str(&format!(
                    "[[sources]]\nid = \"f{i}\"\nurl = \"http://127.0.0.1:{port}/feed/{i}.xml\"\n"
                ));
            }
            let config_path = dir.path().join("roundup.toml");
            std::fs::write(&config_path, config).unwrap();
            // "search": the first `roundup search` after the cycles, which adds every
            // entry stored since to the full-text index (storing leaves that for later).
            let mut ours: HashMap<&str, f64> = HashMap::new();
            for (run, args) in [
                ("cold", &["fetch"][..]),
                ("warm", &["fetch"][..]),
                ("search", &["search", "railway", "transit"][..]),
            ] {
                let cfg = config_path.clone();
                let bin = roundup.clone();
                let m = tokio::task::spawn_blocking(move || timed(&bin, &cfg, run, args))
                    .await
                    .unwrap();
                // The database and its write-ahead log as the run left them.
                let db_mib = ["roundup.db", "roundup.db-wal"]
                    .iter()
                    .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
                    .map(|m| m.len())
                    .sum::<u64>() as f64
                    / 1_048_576.0;
                let store = roundup::store::Store::open(&dir.path().join("roundup.db")).unwrap();
                let (stories, entries) = store.counts().unwrap();
                drop(store);
                // E2E_KEEP=dir keeps a copy of the database after each run, for inspection.
                if let Some(keep) = std::env::var_os("E2E_KEEP") {
                    let to = Path::new(&keep).join(format!("{n}-{run}.db"));
                    std::fs::create_dir_all(&keep).unwrap();
                    std::fs::copy(dir.path().join("roundup.db"), to).unwrap();
                }
                println!(
                    "{n:>6} {run:>16} {:>9.2} {:>9.2} {:>9.1} {entries:>9} {stories:>9} {db_mib:>9.1}",
                    m.wall, m.cpu, m.rss_mib
                );
                ours.insert(run, m.wall);
            }
            // E2E_REFERENCE=all (or sfeed,rss2email,newsboat): the issue's reference
            // readers on the same feeds and server, right after roundup, so that the
            // issue's targets (cold 5× sfeed's, warm 10× rss2email's) can be checked in one
            // sitting however fast the machine is that day. Their "entries" are the items
            // they hold afterwards.
            let mut theirs: HashMap<(&str, &str), f64> = HashMap::new();
            for &reference in &references {
                let dir = tempfile::tempdir().unwrap();
                reference.configure(dir.path(), port, n);
                for run in ["cold", "warm"] {
                    let mut cmd = reference.cycle(dir.path());
                    let (m, out) = tokio::task::spawn_blocking(move || measured(&mut cmd))
                        .await
                        .unwrap();
                    if !out.status.success() {
                        let stderr = String::from_utf8_lossy(&out.stderr);
                        let why = stderr
                            .lines()
                            .find(|l| !l.trim().is_empty() && !l.starts_with('\t'))
                            .unwrap_or("");
                        eprintln!(
                            "warning: {} {run} exited with {}: {why}",
                            reference.name(),
                            out.status
                        );
                    }
                    let label = format!("{} {run}", reference.name());
                    println!(
                        "{n:>6} {label:>16} {:>9.2} {:>9.2} {:>9.1} {:>9} {:>9} {:>9}",
                        m.wall,
                        m.cpu,
                        m.rss_mib,
                        reference.items(dir.path()),
                        "-",
                        "-"
                    );
                    theirs.insert((reference.name(), run), m.wall);
                }
            }
            for (reference, run, target) in SPEEDUP_TARGETS {
                if let (Some(t), Some(o)) = (theirs.get(&(reference, run)), ours.get(run)) {
                    println!(
                        "{n:>6} roundup {run} {:.1}× as fast as {reference} {run} (target {target}×)",
                        t / o
                    );
                    speedups.entry((reference, run)).or_default().push(t / o);
                }
            }
        }
        let mut speedups: Vec<_> = speedups.into_iter().filter(|(_, r)| r.len() > 1).collect();
        speedups.sort_by_key(|&(key, _)| key);
        for ((reference, run), mut ratios) in speedups {
            ratios.sort_by(f64::total_cmp);
            let median = if ratios.len() % 2 == 1 {
                ratios[ratios.len() / 2]
            } else {
                (ratios[ratios.len() / 2 - 1] + ratios[ratios.len() / 2]) / 2.0
            };
            let all: Vec<String> = ratios.iter().map(|r| format!("{r:.1}")).collect();
            let target = SPEEDUP_TARGETS
                .iter()
                .find(|&&(r, w, _)| (r, w) == (reference, run))
                .map_or(0, |&(_, _, t)| t);
            println!(
                "{n:>6} median of {}: roundup {run} {median:.1}× as fast as {reference} {run} ({}; target {target}×)",
                ratios.len(),
                all.join(", ")
            );
        }
        eprintln!("  ({n} feeds, {:.1} MB of XML)", total as f64 / 1e6);
    }
}
