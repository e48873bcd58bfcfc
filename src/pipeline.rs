//! One fetch cycle: fetch → parse → normalise → store, for every source, with bounded
//! concurrency (`fetch.concurrency` overall, `fetch.per_host` per host).
//!
//! `roundup fetch` / `run --once` call [`refresh_all`]; the daemon calls
//! [`refresh_source`] per source on its schedule and only adds timing. A failing source is
//! logged in its own span, recorded in its fetch state, and never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn, warn_span};

use crate::config::{Config, Source};
use crate::dedup::MatchPolicy;
use crate::fetch::{FetchOutcome, Fetched, Fetcher, retry};
use crate::model::{FetchState, ParsedBody};
use crate::normalize::{EntryFingerprint, FeedItems, normalize_changed};
use crate::parse::parse_feed_noted;
use crate::store::{RedirectSeen, Store, StoreError, StoreReport};

/// The database shared by the tasks of a cycle (and the daemon's). Locked only on
/// threads that may block. Parsed fetches are queued and written by one thread of the
/// store's own, up to [`GROUP_MAX`] fetches per transaction (group commit: one WAL
/// write and one full-text flush for all of them; a failing feed makes the group fall
/// back to one transaction per feed), and [`with_store`] closures run on that thread
/// between two groups. A parser never writes: it queues its feed and is free for the
/// next one.
///
/// Feeds are parsed on threads of the store's own too, one per core. Why fixed threads:
/// on tokio's blocking pool a dozen threads took turns parsing and writing, each with
/// its own malloc arena, and each arena kept its share of SQLite's page cache, the band
/// index and parse buffers. The 1 000-feed cold cycle on ~120 KB feeds peaked at
/// 60.5–63.9 MiB that way, against 54.3–57.9 MiB (BENCHMARKS.md).
#[derive(Debug, Clone)]
pub struct SharedStore {
    inner: Arc<SharedInner>,
    /// Stops the parser and writer threads when the last clone is dropped.
    _threads: Arc<Threads>,
}

#[derive(Debug)]
struct SharedInner {
    store: Mutex<Store>,
    pending: Mutex<Queue>,
    /// Signalled when a write is queued or the queue is closed.
    wake: Condvar,
    /// Parse jobs for the parser threads (one per core: parsing is CPU work, and more
    /// at once only adds parse trees and allocator arenas in memory). `None` once the
    /// threads are stopped.
    parse_jobs: Mutex<Option<std::sync::mpsc::Sender<ParseJob>>>,
    /// Feeds parsed (or being parsed) and not yet taken by the writer: at most
    /// [`QUEUE_MAX`]. When the database is the bottleneck (a cold cycle), further
    /// fetched feeds wait as raw bytes, a third of the size of their parsed items. The
    /// writer gives the places back when it takes a group, so parsing goes on while
    /// the group is written.
    queued: Arc<tokio::sync::Semaphore>,
}

/// Parsed fetches and store jobs waiting for the writer.
#[derive(Default)]
struct Queue {
    writes: Vec<PendingWrite>,
    jobs: Vec<StoreJob>,
    /// No more writes will come: the writer writes what is queued and ends.
    closed: bool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("writes", &self.writes)
            .field("jobs", &self.jobs.len())
            .field("closed", &self.closed)
            .finish()
    }
}

/// Other store work for the writer thread ([`with_store`]). A job sends its own result.
type StoreJob = Box<dyn FnOnce(&mut Store) + Send>;

/// A feed to parse and normalise, then queue for the writer.
type ParseJob = Box<dyn FnOnce() + Send>;

/// The parser and writer threads. Dropped with the last [`SharedStore`]: stops the
/// parsers (after the jobs already given), then closes the write queue and waits until
/// everything queued is written.
#[derive(Debug)]
struct Threads {
    inner: Arc<SharedInner>,
    parsers: Vec<std::thread::JoinHandle<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Panics in jobs are caught in the thread (`parse_loop`), and one in a write was
        // already reported to its submitters (their replies were dropped): nothing is
        // left to do with a join error here.
        self.inner.parse_jobs().take();
        for thread in self.parsers.drain(..) {
            let _ = thread.join();
        }
        self.inner.queue().closed = true;
        self.inner.wake.notify_all();
        if let Some(thread) = self.writer.take() {
            let _ = thread.join();
        }
    }
}

/// A parsed fetch waiting for a writer, and where its result goes.
#[derive(Debug)]
struct PendingWrite {
    source_id: String,
    meta: crate::fetch::ResponseMeta,
    redirect: Option<RedirectSeen>,
    items: Vec<crate::model::Item>,
    now: DateTime<Utc>,
    policy: MatchPolicy,
    parsed: ParsedBody,
    reply: tokio::sync::oneshot::Sender<Result<StoreReport, StoreError>>,
    /// Its place in the parse-ahead queue, given back when a writer takes it.
    queued: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Most fetches written in one transaction (bounds how long the writer holds the lock).
pub const GROUP_MAX: usize = 32;

/// Most feeds parsed ahead of the database writer (see `SharedInner::queued`). Measured
/// on the 1 000-feed cold cycle (BENCHMARKS.md): 8 cost 0.3 s, 16 saved 0.1 s for
/// 4 MiB more peak memory, unbounded peaked at up to 66 MiB.
pub const QUEUE_MAX: usize = 12;

impl SharedStore {
    /// Shares `store`, and starts its parser and writer threads.
    ///
    /// # Errors
    /// [`StoreError::Task`] when a thread cannot be started.
    pub fn new(store: Store) -> Result<SharedStore, StoreError> {
        let (jobs, job_queue) = std::sync::mpsc::channel::<ParseJob>();
        let inner = Arc::new(SharedInner {
            store: Mutex::new(store),
            pending: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            parse_jobs: Mutex::new(Some(jobs)),
            queued: Arc::new(tokio::sync::Semaphore::new(QUEUE_MAX)),
        });
        // Built first, so that an error below stops the threads already started.
        let mut threads = Threads {
            inner: Arc::clone(&inner),
            parsers: Vec::new(),
            writer: None,
        };
        let failed = |e: std::io::Error| StoreError::Task(format!("cannot start a thread: {e}"));
        let writes = Arc::clone(&inner);
        threads.writer = Some(
            std::thread::Builder::new()
                .name("roundup-writer".to_owned())
                .spawn(move || writes.write_queued(write_batch))
                .map_err(failed)?,
        );
        let job_queue = Arc::new(Mutex::new(job_queue));
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        for _ in 0..cores {
            let job_queue = Arc::clone(&job_queue);
            threads.parsers.push(
                std::thread::Builder::new()
                    .name("roundup-parser".to_owned())
                    .spawn(move || parse_loop(&job_queue))
                    .map_err(failed)?,
            );
        }
        Ok(SharedStore {
            _threads: Arc::new(threads),
            inner,
        })
    }

    /// Locks the store (blocking; call from blocking threads only). A lock poisoned by
    /// a panic is taken anyway: every write is a transaction, so the store is consistent.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.inner.lock()
    }

    /// Runs `job` on a parser thread; the receiver gets its result, or an error when the
    /// job panicked or the threads are stopped.
    fn parse<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        if let Some(jobs) = self.inner.parse_jobs().as_ref() {
            // A send fails only when every parser thread is gone; `result` then says so.
            let _ = jobs.send(Box::new(move || {
                let _ = reply.send(job());
            }));
        }
        result
    }
}

/// A parser thread: runs jobs until the sender is dropped. A job that panics drops its
/// reply (its caller sees the failure) and the thread goes on.
fn parse_loop(jobs: &Mutex<std::sync::mpsc::Receiver<ParseJob>>) {
    loop {
        let job = match jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv()
        {
            Ok(job) => job,
            Err(_) => return,
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

impl SharedInner {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a parsed fetch for the writer thread (never blocks on the store).
    fn submit(&self, write: PendingWrite) {
        self.queue().writes.push(write);
        self.wake.notify_one();
    }

    /// Queues a [`with_store`] closure for the writer thread.
    fn submit_job(&self, job: StoreJob) {
        self.queue().jobs.push(job);
        self.wake.notify_one();
    }

    fn parse_jobs(&self) -> MutexGuard<'_, Option<std::sync::mpsc::Sender<ParseJob>>> {
        self.parse_jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The writer thread: runs the queued [`with_store`] closures, then takes up to
    /// [`GROUP_MAX`] queued fetches and writes them in one transaction with `write`
    /// ([`write_batch`]), until the queue is closed and empty. A closure or a write that
    /// panics fails its own callers (a closure's caller gets [`StoreError::Task`], a
    /// group's submitters "the write was dropped"), and the thread goes on: were it to
    /// end, every later caller would wait for ever.
    fn write_queued(&self, write: fn(&mut Store, Vec<PendingWrite>, MatchPolicy)) {
        loop {
            let (mut batch, jobs, closed): (Vec<PendingWrite>, Vec<StoreJob>, bool) = {
                let mut queue = self.queue();
                while queue.writes.is_empty() && queue.jobs.is_empty() && !queue.closed {
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                let n = queue.writes.len().min(GROUP_MAX);
                (
                    queue.writes.drain(..n).collect(),
                    std::mem::take(&mut queue.jobs),
                    queue.closed,
                )
            };
            let finished = closed && batch.is_empty() && jobs.is_empty();
            if !jobs.is_empty() {
                let mut store = self.lock();
                for job in jobs {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        job(&mut store);
                    }));
                }
            }
            // More feeds may be parsed while these are written.
            for p in &mut batch {
                p.queued = None;
            }
            if finished {
                // Closed, and nothing left.
                return;
            }
            let Some(policy) = batch.first().map(|p| p.policy) else {
                continue;
            };
            let mut store = self.lock();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                write(&mut store, batch, policy);
            }));
        }
    }
}

/// One transaction for `batch`; each fetch's result goes to its submitter.
fn write_batch(store: &mut Store, batch: Vec<PendingWrite>, policy: MatchPolicy) {
    let writes: Vec<crate::store::FetchWrite<'_>> = batch
        .iter()
        .map(|p| crate::store::FetchWrite {
            source_id: &p.source_id,
            meta: &p.meta,
            redirect: p.redirect.as_ref(),
            items: &p.items,
            now: p.now,
            parsed: Some(&p.parsed),
        })
        .collect();
    let results = store.store_fetches(&writes, policy);
    drop(writes);
    match results {
        Ok(results) => {
            for (p, r) in batch.into_iter().zip(results) {
                let _ = p.reply.send(r);
            }
        }
        Err(e) => {
            for p in batch {
                let _ = p.reply.send(Err(StoreError::Task(e.to_string())));
            }
        }
    }
}

/// How one source's refresh ended.
#[derive(Debug)]
pub enum SourceOutcome {
    /// 304: nothing changed.
    NotModified {
        /// Shortest interval the server asked for (`max-age`).
        min_interval: Option<Duration>,
    },
    /// A body byte for byte the same as the last one parsed: not parsed again, nothing
    /// changed.
    SameBody {
        /// HTTP status (200 for file://).
        status: u16,
        /// Shortest interval the feed (`<ttl>`, as last parsed) or server (`max-age`)
        /// asked for.
        min_interval: Option<Duration>,
    },
    /// A body was parsed and stored.
    Stored {
        /// HTTP status (200 for file://).
        status: u16,
        /// What the write changed.
        report: StoreReport,
        /// Shortest interval the feed (`<ttl>`) or server (`max-age`) asked for.
        min_interval: Option<Duration>,
    },
    /// Fetching or parsing failed; the source's stored entries are untouched.
    Failed {
        /// HTTP status, when the failure was one.
        status: Option<u16>,
        /// One-line reason.
        error: String,
        /// Consecutive failures, this one included.
        failures: u32,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<DateTime<Utc>>,
    },
    /// Not requested: the server's `Retry-After` from an earlier answer still holds.
    Deferred {
        /// When the server allows the next request.
        until: DateTime<Utc>,
    },
    /// Shutdown began before the request finished; nothing was written.
    Cancelled,
    /// The database write failed (exit code 3).
    StoreFailed(String),
}

/// The result for one source.
#[derive(Debug)]
pub struct SourceReport {
    /// Source id.
    pub source_id: String,
    /// What happened.
    pub outcome: SourceOutcome,
}

/// The result of a cycle, in config order.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// One report per source refreshed.
    pub sources: Vec<SourceReport>,
}

impl RefreshReport {
    /// Sources whose refresh failed (fetch, parse or store).
    pub fn failed(&self) -> usize {
        self.sources
            .iter()
            .filter(|s| {
                matches!(
                    s.outcome,
                    SourceOutcome::Failed { .. } | SourceOutcome::StoreFailed(_)
                )
            })
            .count()
    }

    /// The first storage failure, if any source hit one.
    pub fn storage_error(&self) -> Option<&str> {
        self.sources.iter().find_map(|s| match &s.outcome {
            SourceOutcome::StoreFailed(e) => Some(e.as_str()),
            _ => None,
        })
    }
}

/// Runs a closure on the store, on its writer thread (between two groups of fetches).
/// A cycle's bookkeeping (a 304, a body parsed before, a failure: one short
/// transaction each) once ran on tokio's blocking pool, one thread per answer waiting
/// for the store's lock; on the writer thread the 1 000-feed warm cycle takes 0.05 s of
/// wall time instead of 0.07, and the 10 000-feed one 0.39 s instead of 0.55–0.67
/// (BENCHMARKS.md).
///
/// # Errors
/// The closure's error, or [`StoreError::Task`] when it panicked.
pub async fn with_store<T, F>(store: &SharedStore, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, result) = tokio::sync::oneshot::channel();
    store.inner.submit_job(Box::new(move |s: &mut Store| {
        let _ = reply.send(f(s));
    }));
    result
        .await
        .map_err(|_| StoreError::Task("the store task failed (it panicked: a bug)".to_owned()))?
}

/// Per-host request limits (`fetch.per_host`), shared by every fetch.
#[derive(Debug)]
pub struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimits {
    /// At most `per_host` requests at once to one host.
    pub fn new(per_host: usize) -> HostLimits {
        HostLimits {
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The semaphore for `url`'s host.
    pub fn for_url(&self, url: &url::Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or("").to_owned();
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }
}

/// What a refresh needs besides the source: shared for a whole cycle (or, in the
/// daemon, for one fetch).
#[derive(Debug, Clone, Copy)]
pub struct Deps<'a> {
    /// The database.
    pub store: &'a SharedStore,
    /// The HTTP client.
    pub fetcher: &'a Fetcher,
    /// Per-host request limits.
    pub limits: &'a HostLimits,
    /// How entries are matched to stories.
    pub policy: MatchPolicy,
    /// Fires on shutdown; stops the network part of a refresh.
    pub cancel: &'a CancellationToken,
}

/// Refreshes `sources` (normally every enabled source) once.
///
/// # Errors
/// [`StoreError`] when the sources or their state cannot be read; per-source failures are
/// in the report instead.
pub async fn refresh_all(
    config: &Config,
    sources: &[&Source],
    store: &SharedStore,
    fetcher: &Fetcher,
) -> Result<RefreshReport, StoreError> {
    let all = Arc::clone(&config.sources);
    let now = Utc::now();
    let states = with_store(store, move |s| {
        s.sync_sources(&all, now)?;
        s.fetch_states()
    })
    .await?;
    let limits = HostLimits::new(config.fetch.per_host);
    let never = CancellationToken::new();
    let deps = Deps {
        store,
        fetcher,
        limits: &limits,
        policy: config.dedup.policy(),
        cancel: &never,
    };
    // Each state is moved out to its refresh (and freed with it), not copied.
    let mut states = states;
    let mut reports: Vec<SourceReport> = futures_util::stream::iter(sources.iter().copied())
        .map(|source| {
            let state = states.remove(&source.id).unwrap_or_default();
            refresh_source(source, state, deps)
        })
        .buffer_unordered(config.fetch.concurrency)
        .collect()
        .await;
    let order: HashMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    reports.sort_by_key(|r| {
        order
            .get(r.source_id.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    Ok(RefreshReport { sources: reports })
}

/// Fetch → parse → normalise → store for one source. Never fails: the outcome says
/// what happened, and failures are recorded in the source's fetch state. `deps.cancel`
/// stops the network part; a database write that has started always completes.
pub async fn refresh_source(source: &Source, state: FetchState, deps: Deps<'_>) -> SourceReport {
    let url = state.effective_url(&source.url);
    // At warn level, so that a failure's warning names its source when only warnings
    // are shown (`fetch`, `run --once`): a span below the filter's level is disabled,
    // and its fields with it.
    let span = warn_span!("refresh", source_id = %source.id,
        source_url = %crate::fetch::redacted(&url));
    async move {
        let started = Instant::now();
        let outcome = match state.retry_after_until.filter(|t| *t > Utc::now()) {
            Some(until) => SourceOutcome::Deferred { until },
            None => fetch_and_store(source, &url, state, deps).await,
        };
        log_outcome(&outcome, started);
        SourceReport {
            source_id: source.id.clone(),
            outcome,
        }
    }
    .instrument(span)
    .await
}

async fn fetch_and_store(
    source: &Source,
    url: &url::Url,
    state: FetchState,
    deps: Deps<'_>,
) -> SourceOutcome {
    let Deps {
        store,
        fetcher,
        cancel,
        ..
    } = deps;
    let permit = deps.limits.for_url(url);
    let fetched = tokio::select! {
        // The semaphore is never closed, so acquire cannot fail.
        r = async { let _p = permit.acquire().await.ok(); fetcher.fetch_via(url, &state, source.proxy.as_ref()).await } => r,
        () = cancel.cancelled() => return SourceOutcome::Cancelled,
    };
    // Redirect bookkeeping only applies to requests of the configured URL.
    let redirect = (url == &source.url).then(|| RedirectSeen {
        from: source.url.to_string(),
        permanent_to: None,
    });
    match fetched {
        Ok(FetchOutcome::NotModified(meta)) => {
            let id = source.id.clone();
            let redirect = with_redirect_of(redirect, &meta);
            match with_store(store, move |s| {
                s.record_not_modified(&id, redirect.as_ref(), Utc::now())
            })
            .await
            {
                Ok(()) => SourceOutcome::NotModified {
                    min_interval: retry::min_interval(None, meta.max_age),
                },
                Err(e) => SourceOutcome::StoreFailed(e.to_string()),
            }
        }
        Ok(FetchOutcome::Fetched(body)) => {
            // Hashing 100 KB takes tens of microseconds; parsing it, milliseconds.
            let hash = ParsedBody::hash_of(&body.body);
            match state.parsed {
                Some(last) if last.hash == hash => {
                    same_body(source, &body.meta, redirect, last.ttl, store).await
                }
                last => {
                    let known = last.map(|p| p.entries).unwrap_or_default();
                    ingest(source, body, hash, known, redirect, deps).await
                }
            }
        }
        Err(e) => record_failure(source, e.status(), e.to_string(), e.retry_after(), store).await,
    }
}

/// `redirect` (a request of the configured URL) with where the response's chain of
/// permanent redirects ended.
fn with_redirect_of(
    redirect: Option<RedirectSeen>,
    meta: &crate::fetch::ResponseMeta,
) -> Option<RedirectSeen> {
    redirect.map(|r| RedirectSeen {
        permanent_to: meta.permanent_redirect.as_ref().map(ToString::to_string),
        ..r
    })
}

/// Records a body that is the one parsed last time (see [`SourceOutcome::SameBody`]).
async fn same_body(
    source: &Source,
    meta: &crate::fetch::ResponseMeta,
    redirect: Option<RedirectSeen>,
    ttl: Option<u32>,
    store: &SharedStore,
) -> SourceOutcome {
    let id = source.id.clone();
    let redirect = with_redirect_of(redirect, meta);
    let (status, max_age) = (meta.status, meta.max_age);
    let recorded = meta.clone();
    match with_store(store, move |s| {
        s.record_same_body(&id, &recorded, redirect.as_ref(), Utc::now())
    })
    .await
    {
        Ok(()) => SourceOutcome::SameBody {
            status,
            min_interval: retry::min_interval(ttl, max_age),
        },
        Err(e) => SourceOutcome::StoreFailed(e.to_string()),
    }
}

/// Parses, normalises and stores a fetched body on a blocking thread (parsing is CPU
/// work and must stay off the async workers). Entries whose fingerprint is in `known`
/// (the last parse's, sorted) are unchanged and not normalised again.
async fn ingest(
    source: &Source,
    fetched: Fetched,
    hash: [u8; 32],
    known: Vec<EntryFingerprint>,
    redirect: Option<RedirectSeen>,
    deps: Deps<'_>,
) -> SourceOutcome {
    let (store, policy) = (deps.store, deps.policy);
    let id = source.id.clone();
    let url = source.url.clone();
    let shared = Arc::clone(&store.inner);
    // The semaphore is never closed, so acquiring cannot fail.
    let queued = Arc::clone(&store.inner.queued).acquire_owned().await.ok();
    let joined = store
        .parse(move || {
            let now = Utc::now();
            let meta = fetched.meta;
            let feed = match parse_feed_noted(
                &fetched.body,
                &meta.final_url,
                meta.content_type.as_deref(),
            ) {
                Ok(parsed) => {
                    if parsed.cut_off {
                        tracing::warn!(
                            source_id = %id,
                            entries = parsed.feed.entries.len(),
                            "the feed ends in the middle of an item: read the items before it"
                        );
                    }
                    parsed.feed
                }
                Err(e) => return Err((Some(meta.status), e.to_string())),
            };
            let FeedItems {
                items,
                fingerprints,
                unchanged,
            } = normalize_changed(&feed, &url, now, &known);
            let redirect = with_redirect_of(redirect, &meta);
            let status = meta.status;
            let min_interval = retry::min_interval(feed.ttl, meta.max_age);
            let parsed = ParsedBody {
                hash,
                ttl: feed.ttl,
                entries: fingerprints,
            };
            drop(feed);
            let (reply, result) = tokio::sync::oneshot::channel();
            shared.submit(PendingWrite {
                source_id: id,
                meta,
                redirect,
                items,
                now,
                policy,
                parsed,
                reply,
                queued,
            });
            Ok((status, min_interval, unchanged, result))
        })
        .await;
    let (status, min_interval, skipped, result) = match joined {
        Ok(Ok(parsed)) => parsed,
        Ok(Err((status, error))) => {
            return record_failure(source, status, error, None, store).await;
        }
        Err(_) => {
            let error = "the parser failed (it panicked: a bug, please report it)".to_owned();
            return record_failure(source, None, error, None, store).await;
        }
    };
    match result.await {
        Ok(Ok(report)) => SourceOutcome::Stored {
            status,
            // Entries skipped as unchanged were not sent to the store.
            report: StoreReport {
                unchanged: report.unchanged + skipped,
                ..report
            },
            min_interval,
        },
        Ok(Err(e)) => SourceOutcome::StoreFailed(e.to_string()),
        Err(_) => SourceOutcome::StoreFailed("the write was dropped".to_owned()),
    }
}

async fn record_failure(
    source: &Source,
    status: Option<u16>,
    error: String,
    retry_after: Option<DateTime<Utc>>,
    store: &SharedStore,
) -> SourceOutcome {
    let id = source.id.clone();
    let msg = error.clone();
    match with_store(store, move |s| {
        s.record_failure(&id, status, &msg, retry_after, Utc::now())
    })
    .await
    {
        Ok(failures) => SourceOutcome::Failed {
            status,
            error,
            failures,
            retry_after,
        },
        Err(e) => SourceOutcome::StoreFailed(e.to_string()),
    }
}

fn log_outcome(outcome: &SourceOutcome, started: Instant) {
    let elapsed_ms = started.elapsed().as_millis();
    match outcome {
        SourceOutcome::NotModified { .. } => info!(status = 304, elapsed_ms, "not modified"),
        SourceOutcome::SameBody { status, .. } => {
            info!(
                status,
                elapsed_ms, "same body as the last one parsed: not parsed"
            );
        }
        SourceOutcome::Stored { status, report, .. } => info!(
            status,
            new = report.new,
            updated = report.updated,
            unchanged = report.unchanged,
            merged = report.merged,
            elapsed_ms,
            "stored"
        ),
        SourceOutcome::Failed {
            status,
            error,
            failures,
            ..
        } => warn!(?status, failures, elapsed_ms, "fetch failed: {error}"),
        SourceOutcome::Deferred { until } => info!(%until, "deferred: Retry-After still in force"),
        SourceOutcome::Cancelled => info!(elapsed_ms, "cancelled by shutdown"),
        SourceOutcome::StoreFailed(error) => warn!(elapsed_ms, "storage failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u32) -> crate::model::Item {
        let (title, text) = (
            format!("Story {n} headline"),
            format!("body of story {n} with words of its own {}", n * 7),
        );
        crate::model::Item {
            entry_key: format!("e{n}"),
            title: title.clone(),
            link: Some(format!("https://a.example/{n}")),
            canonical_url: Some(format!("https://a.example/{n}")),
            published: None,
            updated: None,
            summary: text.clone(),
            text_fingerprint: crate::dedup::text_fingerprint(&title, &text),
            content_hash: format!("h{n}"),
            shingles: crate::dedup::entry_shingles(&title, &text),
            bands: crate::dedup::entry_bands(&title, &text),
        }
    }

    #[test]
    fn a_panicking_parse_fails_its_own_feed_and_the_parsers_go_on() {
        let shared = SharedStore::new(Store::open_in_memory().unwrap()).unwrap();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        // More panics than parser threads: a thread that died with its job would leave
        // none for the feeds after.
        for _ in 0..=cores {
            let failed = shared
                .parse(|| -> u32 { panic!("a parser bug (expected by this test)") })
                .blocking_recv();
            assert!(failed.is_err(), "a panicked parse must not give a result");
        }
        assert_eq!(shared.parse(|| 7).blocking_recv().ok(), Some(7));
    }

    #[test]
    fn a_panicking_write_fails_its_own_group_and_the_writer_goes_on() {
        let inner = Arc::new(SharedInner {
            store: Mutex::new(Store::open_in_memory().unwrap()),
            pending: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            parse_jobs: Mutex::new(None),
            queued: Arc::new(tokio::sync::Semaphore::new(QUEUE_MAX)),
        });
        let writes = Arc::clone(&inner);
        let writer = std::thread::spawn(move || {
            writes.write_queued(|_, _, _| panic!("a store bug (expected by this test)"));
        });
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        let meta =
            crate::fetch::ResponseMeta::local(&url::Url::parse("https://a.example/feed").unwrap());
        let (first, first_result) = pending_write(&meta, 0, config.dedup.policy());
        inner.submit(first);
        assert!(first_result.blocking_recv().is_err());
        // Queued after the first write panicked: a writer that ended with it would
        // leave this one waiting for ever.
        let (second, second_result) = pending_write(&meta, 1, config.dedup.policy());
        inner.submit(second);
        inner.queue().closed = true;
        inner.wake.notify_all();
        assert!(
            writer.join().is_ok(),
            "the writer thread must outlive a write's panic"
        );
        assert!(
            inner.queue().writes.is_empty(),
            "the second write was taken"
        );
        assert!(second_result.blocking_recv().is_err());
    }

    fn pending_write(
        meta: &crate::fetch::ResponseMeta,
        n: u32,
        policy: MatchPolicy,
    ) -> (
        PendingWrite,
        tokio::sync::oneshot::Receiver<Result<StoreReport, StoreError>>,
    ) {
        let (reply, result) = tokio::sync::oneshot::channel();
        let write = PendingWrite {
            source_id: "a".to_owned(),
            meta: meta.clone(),
            redirect: None,
            items: vec![item(n)],
            now: Utc::now(),
            policy,
            parsed: ParsedBody {
                hash: [n as u8; 32],
                ttl: None,
                entries: Vec::new(),
            },
            reply,
            queued: None,
        };
        (write, result)
    }

    #[tokio::test]
    async fn a_panicking_store_job_fails_its_caller_and_the_writer_goes_on() {
        let shared = SharedStore::new(Store::open_in_memory().unwrap()).unwrap();
        let failed = with_store(&shared, |_| -> Result<(), StoreError> {
            panic!("a store bug (expected by this test)")
        })
        .await;
        assert!(matches!(failed, Err(StoreError::Task(_))));
        let counted =
            tokio::time::timeout(Duration::from_secs(10), with_store(&shared, |s| s.counts()))
                .await
                .expect("the writer thread must outlive a job's panic");
        assert_eq!(counted.unwrap(), (0, 0));
    }

    #[test]
    fn writes_queued_when_the_last_handle_is_dropped_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roundup.db");
        let mut store = Store::open(&path).unwrap();
        let config = crate::config::parse_str(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n",
            std::path::Path::new("/t/roundup.toml"),
        )
        .unwrap();
        store.sync_sources(&config.sources, Utc::now()).unwrap();
        let shared = SharedStore::new(store).unwrap();
        let meta =
            crate::fetch::ResponseMeta::local(&url::Url::parse("https://a.example/feed").unwrap());
        let mut results = Vec::new();
        {
            // The writer waits for the store while these are queued.
            let _held = shared.lock();
            for n in 0..3 {
                let (write, result) = pending_write(&meta, n, config.dedup.policy());
                shared.inner.submit(write);
                results.push(result);
            }
        }
        drop(shared);
        for result in results {
            let report = result.blocking_recv().unwrap().unwrap();
            assert_eq!(report.new, 1);
        }
        assert_eq!(Store::open(&path).unwrap().entry_count("a").unwrap(), 3);
    }
}
