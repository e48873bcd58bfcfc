//! The one scheduler that drives every source's cron schedule and the digest schedule.
//!
//! It owns timing only: *what* a fetch or a digest does is the [`Runner`]'s business,
//! so the loop is tested with tokio's paused clock and a fake runner. Invariants:
//! a source is never fetched twice at once; a slow fetch never delays other sources or
//! the digest (each runs in its own task); missed ticks run once.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::schedule::{FetchResult, initial_due, next_due, startup_jitter};
use crate::config::{Config, Schedule, Source};

/// Wall-clock time, injectable so tests can use tokio's paused clock.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What the scheduler runs. The daemon's runner fetches through the pipeline and
/// writes digest files; tests use fakes.
pub trait Runner: Send + Sync + 'static {
    /// Fetches one source; `cancel` fires on shutdown.
    fn fetch(
        self: Arc<Self>,
        source: Source,
        cancel: CancellationToken,
    ) -> impl Future<Output = FetchResult> + Send + 'static;
    /// Writes the digest whose window ends at `end`.
    fn digest(self: Arc<Self>, end: DateTime<Utc>) -> impl Future<Output = ()> + Send + 'static;
    /// Records when a source is next due (shown by `roundup status`).
    fn scheduled(&self, source_id: &str, due: DateTime<Utc>);
    /// Applies a reloaded config (sources, fetch settings).
    fn reload(&self, config: &Config);
    /// Reports a one-line status (systemd STATUS) and pings the watchdog.
    fn heartbeat(&self, status: Option<&str>);
}

/// Knobs that tests turn off.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Spread first fetches over up to half an interval (≤ 30 s).
    pub startup_jitter: bool,
    /// ±10 % jitter on failure backoff.
    pub backoff_jitter: bool,
    /// Longest sleep between wall-clock checks (catches suspend/resume and clock jumps);
    /// also the watchdog ping interval.
    pub max_nap: Duration,
    /// How long shutdown waits for in-flight work (database writes) to finish.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            startup_jitter: true,
            backoff_jitter: true,
            max_nap: Duration::from_secs(30),
            grace: Duration::from_secs(10),
        }
    }
}

struct Slot {
    source: Source,
    schedule: Schedule,
    due: DateTime<Utc>,
}

struct Done {
    id: String,
    tick: DateTime<Utc>,
    result: FetchResult,
}

/// The scheduler state.
pub struct Scheduler<R: Runner, C: Clock> {
    runner: Arc<R>,
    clock: C,
    options: Options,
    config: Config,
    slots: HashMap<String, Slot>,
    running: HashSet<String>,
    failing: HashSet<String>,
    digest_due: Option<DateTime<Utc>>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
}

impl<R: Runner, C: Clock> Scheduler<R, C> {
    /// A scheduler for `config`; `stored_next` holds each source's persisted next fetch.
    pub fn new(
        runner: Arc<R>,
        clock: C,
        config: Config,
        stored_next: &HashMap<String, DateTime<Utc>>,
        options: Options,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let now = clock.now();
        let mut s = Scheduler {
            runner,
            clock,
            options,
            permits: Arc::new(Semaphore::new(config.fetch.concurrency)),
            digest_due: config
                .digest
                .schedule
                .next_after(now, config.fetch.timezone),
            config,
            slots: HashMap::new(),
            running: HashSet::new(),
            failing: HashSet::new(),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            done_tx,
            done_rx,
        };
        let sources: Vec<Source> = s.config.enabled_sources().cloned().collect();
        for source in sources {
            let stored = stored_next.get(&source.id).copied();
            s.add_slot(source, stored, now);
        }
        s
    }

    fn add_slot(&mut self, source: Source, stored_next: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let tz = self.config.fetch.timezone;
        let schedule = self.config.schedule_for(&source).clone();
        let max_jitter = if self.options.startup_jitter {
            startup_jitter(&schedule, tz, now)
        } else {
            Duration::ZERO
        };
        let due = initial_due(stored_next, now, max_jitter, fastrand::f64());
        self.runner.scheduled(&source.id, due);
        self.slots.insert(
            source.id.clone(),
            Slot {
                source,
                schedule,
                due,
            },
        );
    }

    /// Runs until `shutdown` fires, applying configs received on `reloads`. Then stops
    /// starting work, cancels in-flight requests, and waits up to `grace` for in-flight
    /// database writes.
    pub async fn run(mut self, mut reloads: mpsc::Receiver<Config>, shutdown: CancellationToken) {
        info!(sources = self.slots.len(), "scheduler started");
        loop {
            let now = self.clock.now();
            self.start_due(now);
            self.runner.heartbeat(None);
            let nap = self.nap(now);
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(config) = reloads.recv() => self.apply(config),
                Some(done) = self.done_rx.recv() => self.finish(done),
                () = tokio::time::sleep(nap) => {}
            }
        }
        info!(in_flight = self.running.len(), "shutting down");
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(self.options.grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                "in-flight work did not finish within {:?}",
                self.options.grace
            );
        }
    }

    /// Time until the earliest due idle source or digest, at most `max_nap`.
    fn nap(&self, now: DateTime<Utc>) -> Duration {
        self.slots
            .values()
            .filter(|s| !self.running.contains(&s.source.id))
            .map(|s| s.due)
            .chain(self.digest_due)
            .min()
            .map_or(self.options.max_nap, |due| {
                (due - now).to_std().unwrap_or(Duration::ZERO)
            })
            .min(self.options.max_nap)
    }

    fn start_due(&mut self, now: DateTime<Utc>) {
        let due: Vec<String> = self
            .slots
            .values()
            .filter(|s| s.due <= now && !self.running.contains(&s.source.id))
            .map(|s| s.source.id.clone())
            .collect();
        for id in due {
            let Some(slot) = self.slots.get(&id) else {
                continue;
            };
            // The fetch serves every tick up to now: ticks missed while the machine slept
            // or a previous fetch ran are folded into this one run.
            let (source, tick) = (slot.source.clone(), now);
            debug!(source_id = %id, "due");
            self.running.insert(id.clone());
            let runner = Arc::clone(&self.runner);
            let permits = Arc::clone(&self.permits);
            let cancel = self.cancel.child_token();
            let done = self.done_tx.clone();
            self.tracker.spawn(async move {
                // The semaphore is never closed; if it were, fetch anyway.
                let _permit = permits.acquire_owned().await.ok();
                let result = runner.fetch(source, cancel).await;
                let _ = done.send(Done { id, tick, result });
            });
        }
        if let Some(due) = self.digest_due.filter(|d| *d <= now) {
            let runner = Arc::clone(&self.runner);
            self.tracker.spawn(runner.digest(due));
            let tz = self.config.fetch.timezone;
            // Missed digest ticks (sleep, clock jump) collapse into the one just started.
            self.digest_due = self.config.digest.schedule.next_after(now.max(due), tz);
        }
    }

    fn finish(&mut self, done: Done) {
        self.running.remove(&done.id);
        match &done.result {
            FetchResult::Failed { .. } => {
                self.failing.insert(done.id.clone());
            }
            FetchResult::Ok { .. } => {
                self.failing.remove(&done.id);
            }
            _ => {}
        }
        let now = self.clock.now();
        let tz = self.config.fetch.timezone;
        let jitter = if self.options.backoff_jitter {
            fastrand::f64() * 2.0 - 1.0
        } else {
            0.0
        };
        if let Some(slot) = self.slots.get_mut(&done.id) {
            slot.due = next_due(&slot.schedule, tz, done.tick, now, &done.result, jitter);
            self.runner.scheduled(&done.id, slot.due);
        }
        let status = format!(
            "{} sources, {} failing, {} fetching; next digest {}",
            self.slots.len(),
            self.failing.len(),
            self.running.len(),
            self.digest_due.map_or_else(
                || "never".to_owned(),
                |d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
            )
        );
        self.runner.heartbeat(Some(&status));
    }

    /// Applies a reloaded config: added sources start, removed or disabled ones stop,
    /// changed schedules apply from now. A fetch in flight finishes first.
    fn apply(&mut self, config: Config) {
        let now = self.clock.now();
        self.runner.reload(&config);
        if config.fetch.concurrency != self.config.fetch.concurrency {
            self.permits = Arc::new(Semaphore::new(config.fetch.concurrency));
        }
        let old = std::mem::replace(&mut self.config, config);
        let wanted: HashMap<String, Source> = self
            .config
            .enabled_sources()
            .map(|s| (s.id.clone(), s.clone()))
            .collect();
        let before = self.slots.len();
        self.slots.retain(|id, _| wanted.contains_key(id));
        self.failing.retain(|id| wanted.contains_key(id));
        let removed = before - self.slots.len();
        let (mut added, mut changed) = (0, 0);
        let tz = self.config.fetch.timezone;
        for (id, source) in wanted {
            let schedule = self.config.schedule_for(&source).clone();
            match self.slots.get_mut(&id) {
                None => {
                    added += 1;
                    self.add_slot(source, None, now);
                }
                Some(slot) => {
                    if slot.schedule != schedule || old.fetch.timezone != tz {
                        slot.due = schedule.next_after(now, tz).unwrap_or(slot.due);
                        self.runner.scheduled(&id, slot.due);
                        changed += 1;
                    }
                    if slot.source != source {
                        changed += 1;
                    }
                    slot.schedule = schedule;
                    slot.source = source;
                }
            }
        }
        if old.digest.schedule != self.config.digest.schedule || old.fetch.timezone != tz {
            self.digest_due = self.config.digest.schedule.next_after(now, tz);
        }
        info!(added, removed, changed, "config reloaded");
        self.runner.heartbeat(Some(&format!(
            "reloaded: {added} added, {removed} removed, {changed} changed"
        )));
    }
}
