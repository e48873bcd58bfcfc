//! The scheduler on tokio's paused clock with a fake runner: cron ticks fire on time,
//! missed ticks run once, backoff grows and resets, Retry-After is honoured, a slow
//! source delays neither the others nor the digest, reloads add and remove sources.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use roundup::config::{Config, Source, parse_str};
use roundup::daemon::schedule::FetchResult;
use roundup::daemon::scheduler::{Clock, Options, Runner, Scheduler};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Wall clock = base + tokio's (paused) elapsed time + any simulated jump.
#[derive(Clone)]
struct TestClock {
    start: tokio::time::Instant,
    jump: Arc<AtomicI64>,
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        base()
            + chrono::Duration::from_std(self.start.elapsed()).unwrap()
            + chrono::Duration::seconds(self.jump.load(Ordering::SeqCst))
    }
}

type Behaviour = Box<dyn Fn(u32, DateTime<Utc>) -> (Duration, FetchResult) + Send + Sync>;

struct Fake {
    clock: TestClock,
    behaviour: HashMap<String, Behaviour>,
    fetches: Mutex<Vec<(String, i64)>>,
    digests: Mutex<Vec<i64>>,
    in_flight: Mutex<HashMap<String, u32>>,
    max_in_flight: Mutex<u32>,
}

impl Fake {
    fn secs(&self) -> i64 {
        (self.clock.now() - base()).num_seconds()
    }

    fn starts(&self, id: &str) -> Vec<i64> {
        self.fetches
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == id)
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Runner for Fake {
    async fn fetch(self: Arc<Self>, source: Source, _cancel: CancellationToken) -> FetchResult {
        let n = {
            let mut f = self.fetches.lock().unwrap();
            f.push((source.id.clone(), self.secs()));
            f.iter().filter(|(s, _)| *s == source.id).count() as u32
        };
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            let c = in_flight.entry(source.id.clone()).or_default();
            *c += 1;
            let mut max = self.max_in_flight.lock().unwrap();
            *max = (*max).max(*c);
        }
        let (delay, result) = match self.behaviour.get(&source.id) {
            Some(b) => b(n, self.clock.now()),
            None => (Duration::ZERO, FetchResult::Ok { min_interval: None }),
        };
        tokio::time::sleep(delay).await;
        *self.in_flight.lock().unwrap().get_mut(&source.id).unwrap() -= 1;
        result
    }

    async fn digest(self: Arc<Self>, _end: DateTime<Utc>) {
        self.digests.lock().unwrap().push(self.secs());
    }

    fn scheduled(&self, _source_id: &str, _due: DateTime<Utc>) {}
    fn reload(&self, _config: &Config) {}
    fn heartbeat(&self, _status: Option<&str>) {}
}

fn config(schedule: &str, digest: &str, ids: &[&str]) -> Config {
    let mut text =
        format!("[fetch]\nschedule = \"{schedule}\"\n[digest]\nschedule = \"{digest}\"\n");
    for id in ids {
        text.push_str(&format!(
            "[[sources]]\nid = \"{id}\"\nurl = \"https://{id}.example/feed\"\n"
        ));
    }
    parse_str(&text, std::path::Path::new("/tmp/roundup-test.toml")).unwrap()
}

struct Run {
    fake: Arc<Fake>,
    clock: TestClock,
    shutdown: CancellationToken,
    reloads: mpsc::Sender<Config>,
    task: tokio::task::JoinHandle<()>,
}

fn start(config: Config, behaviour: HashMap<String, Behaviour>) -> Run {
    let clock = TestClock {
        start: tokio::time::Instant::now(),
        jump: Arc::new(AtomicI64::new(0)),
    };
    let fake = Arc::new(Fake {
        clock: clock.clone(),
        behaviour,
        fetches: Mutex::default(),
        digests: Mutex::default(),
        in_flight: Mutex::default(),
        max_in_flight: Mutex::new(0),
    });
    let options = Options {
        startup_jitter: false,
        backoff_jitter: false,
        max_nap: Duration::from_secs(1),
        grace: Duration::from_secs(5),
    };
    let scheduler = Scheduler::new(
        Arc::clone(&fake),
        clock.clone(),
        config,
        &HashMap::new(),
        options,
    );
    let shutdown = CancellationToken::new();
    let (reloads, rx) = mpsc::channel(1);
    let task = tokio::spawn(scheduler.run(rx, shutdown.clone()));
    Run {
        fake,
        clock,
        shutdown,
        reloads,
        task,
    }
}

impl Run {
    async fn stop_after(self, secs: u64) -> Arc<Fake> {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        self.shutdown.cancel();
        self.task.await.unwrap();
        self.fake
    }
}

fn behave(
    id: &str,
    f: impl Fn(u32, DateTime<Utc>) -> (Duration, FetchResult) + Send + Sync + 'static,
) -> HashMap<String, Behaviour> {
    HashMap::from([(id.to_owned(), Box::new(f) as Behaviour)])
}

#[tokio::test(start_paused = true)]
async fn cron_ticks_fire_on_time() {
    let fake = start(
        config("*/10 * * * * *", "0 7 * * *", &["a"]),
        HashMap::new(),
    )
    .stop_after(35)
    .await;
    assert_eq!(fake.starts("a"), [0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn a_long_fetch_is_never_doubled_and_missed_ticks_run_once() {
    let b = behave("a", |_, _| {
        (
            Duration::from_secs(25),
            FetchResult::Ok { min_interval: None },
        )
    });
    let fake = start(config("*/10 * * * * *", "0 7 * * *", &["a"]), b)
        .stop_after(60)
        .await;
    assert_eq!(
        fake.starts("a"),
        [0, 25, 50],
        "ticks missed during a fetch run once when it ends"
    );
    assert_eq!(*fake.max_in_flight.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_wall_clock_jump_runs_the_missed_tick_once() {
    let run = start(
        config("*/10 * * * * *", "0 7 * * *", &["a"]),
        HashMap::new(),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The machine "sleeps" for an hour: the wall clock moves, tokio's clock does not.
    run.clock.jump.store(3600, Ordering::SeqCst);
    let fake = run.stop_after(12).await;
    let starts = fake.starts("a");
    assert_eq!(starts[0], 0);
    let after_jump: Vec<i64> = starts.iter().copied().filter(|t| *t > 3600).collect();
    assert_eq!(
        after_jump.len(),
        2,
        "one catch-up run, then the schedule: {starts:?}"
    );
    assert!(
        after_jump[0] <= 3606,
        "caught up within one nap: {starts:?}"
    );
    assert_eq!(after_jump[1], 3610);
    assert_eq!(starts.len(), 3, "not once per missed tick: {starts:?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_and_resets_on_success() {
    let b = behave("a", |n, _| {
        if n <= 3 {
            (
                Duration::ZERO,
                FetchResult::Failed {
                    failures: n,
                    retry_after: None,
                },
            )
        } else {
            (Duration::ZERO, FetchResult::Ok { min_interval: None })
        }
    });
    let fake = start(config("*/10 * * * * *", "0 7 * * *", &["a"]), b)
        .stop_after(25_225)
        .await;
    // 1 h, then 2 h, then 4 h after each failure; on schedule again after the success.
    assert_eq!(fake.starts("a"), [0, 3600, 10_800, 25_200, 25_210, 25_220]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let b = behave("a", |n, now| {
        if n == 1 {
            let until = now + chrono::Duration::seconds(95);
            (
                Duration::ZERO,
                FetchResult::Failed {
                    failures: 1,
                    retry_after: Some(until),
                },
            )
        } else {
            (Duration::ZERO, FetchResult::Ok { min_interval: None })
        }
    });
    let fake = start(config("*/10 * * * * *", "0 7 * * *", &["a"]), b)
        .stop_after(105)
        .await;
    assert_eq!(
        fake.starts("a"),
        [0, 95, 100],
        "not at the 10 s ticks, not after a 1 h backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_source_delays_neither_others_nor_the_digest() {
    let b = behave("slow", |_, _| {
        (
            Duration::from_secs(100),
            FetchResult::Ok { min_interval: None },
        )
    });
    let fake = start(
        config("*/10 * * * * *", "*/30 * * * * *", &["slow", "fast"]),
        b,
    )
    .stop_after(65)
    .await;
    assert_eq!(fake.starts("fast"), [0, 10, 20, 30, 40, 50, 60]);
    assert_eq!(*fake.digests.lock().unwrap(), [30, 60]);
    assert_eq!(fake.starts("slow"), [0]);
}

#[tokio::test(start_paused = true)]
async fn reload_adds_and_removes_sources() {
    let run = start(
        config("*/10 * * * * *", "0 7 * * *", &["a"]),
        HashMap::new(),
    );
    tokio::time::sleep(Duration::from_secs(15)).await;
    run.reloads
        .send(config("*/10 * * * * *", "0 7 * * *", &["b"]))
        .await
        .unwrap();
    let fake = run.stop_after(20).await;
    assert_eq!(fake.starts("a"), [0, 10]);
    assert_eq!(fake.starts("b"), [15, 20, 30]);
}
