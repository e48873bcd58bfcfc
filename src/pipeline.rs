//! One fetch cycle: fetch → parse → normalise → store, for every source, with bounded
//! concurrency (`fetch.concurrency` overall, `fetch.per_host` per host).
//!
//! `roundup fetch` / `run --once` call [`refresh_all`]; the daemon calls
//! [`refresh_source`] per source on its schedule and only adds timing. A failing source is
//! logged in its own span, recorded in its fetch state, and never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
/// blocking threads. Parsed fetches are queued with `SharedStore::submit`; whoever
/// holds the store when it is released writes everything queued, up to [`GROUP_MAX`]
/// fetches per transaction (group commit: one WAL write and one full-text flush for all
/// of them; a failing feed makes the group fall back to one transaction per feed).
/// Nobody waits on a thread for the lock to write: a feed queued while another thread
/// writes is written by that thread.
#[derive(Debug, Clone)]
pub struct SharedStore(Arc<SharedInner>);

#[derive(Debug)]
struct SharedInner {
    store: Mutex<Store>,
    pending: Mutex<Vec<PendingWrite>>,
    /// Feeds parsed at once: one per core. Parsing is CPU work; more at once only adds
    /// parse trees (and allocator arenas) in memory.
    parsers: Arc<tokio::sync::Semaphore>,
    /// Feeds parsed (or being parsed) and not yet taken by a writer: at most
    /// [`QUEUE_MAX`]. When the database is the bottleneck (a cold cycle), further
    /// fetched feeds wait as raw bytes, a third of the size of their parsed items. A
    /// writer gives the places back when it takes a group, so parsing goes on while
    /// the group is written.
    queued: Arc<tokio::sync::Semaphore>,
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

/// Most fetches written in one transaction (bounds how long one writer holds the lock).
pub const GROUP_MAX: usize = 32;

/// Most feeds parsed ahead of the database writer (see `SharedInner::queued`). Measured
/// on the 1 000-feed cold cycle (BENCHMARKS.md): 8 cost 0.3 s, 16 saved 0.1 s for
/// 4 MiB more peak memory, unbounded peaked at up to 66 MiB.
pub const QUEUE_MAX: usize = 12;

/// The locked store. Releasing it writes the fetches queued meanwhile.
#[derive(Debug)]
pub struct StoreGuard<'a> {
    guard: Option<std::sync::MutexGuard<'a, Store>>,
    shared: &'a SharedStore,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        // Some until drop.
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            self.shared.drain();
        }
    }
}

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: Store) -> SharedStore {
        SharedStore(Arc::new(SharedInner {
            store: Mutex::new(store),
            pending: Mutex::new(Vec::new()),
            parsers: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            queued: Arc::new(tokio::sync::Semaphore::new(QUEUE_MAX)),
        }))
    }

    /// Locks the store (blocking; call from blocking threads only). A lock poisoned by
    /// a panic is taken anyway: every write is a transaction, so the store is consistent.
    pub fn lock(&self) -> StoreGuard<'_> {
        StoreGuard {
            guard: Some(
                self.0
                    .store
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            shared: self,
        }
    }

    /// Queues a parsed fetch and writes the queue if the store is free (blocking).
    fn submit(&self, write: PendingWrite) {
        self.pending().push(write);
        self.drain();
    }

    /// Writes queued fetches while the store is free. The queue is checked again after
    /// releasing the store, so a fetch queued by a thread that found the store busy is
    /// never left behind.
    fn drain(&self) {
        loop {
            let mut store = match self.0.store.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            loop {
                let mut batch: Vec<PendingWrite> = {
                    let mut pending = self.pending();
                    let n = pending.len().min(GROUP_MAX);
                    pending.drain(..n).collect()
                };
                // More feeds may be parsed while these are written.
                for p in &mut batch {
                    p.queued = None;
                }
                let Some(policy) = batch.first().map(|p| p.policy) else {
                    break;
                };
                write_batch(&mut store, batch, policy);
            }
            drop(store);
            if self.pending().is_empty() {
                return;
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<PendingWrite>> {
        self.0
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// Runs a closure on the store from a blocking thread.
///
/// # Errors
/// The closure's error, or [`StoreError`] when the blocking task could not run.
pub async fn with_store<T, F>(store: &SharedStore, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&mut store.lock()))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
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
    sources: &[Source],
    store: &SharedStore,
    fetcher: &Fetcher,
) -> Result<RefreshReport, StoreError> {
    let all = config.sources.clone();
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
    let mut reports: Vec<SourceReport> = futures_util::stream::iter(sources)
        .map(|source| {
            let state = states.get(&source.id).cloned().unwrap_or_default();
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
    let shared = store.clone();
    // The semaphores are never closed, so acquiring cannot fail.
    let queued = Arc::clone(&store.0.queued).acquire_owned().await.ok();
    let permit = Arc::clone(&store.0.parsers).acquire_owned().await.ok();
    let joined = tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let meta = fetched.meta;
        let feed =
            match parse_feed_noted(&fetched.body, &meta.final_url, meta.content_type.as_deref()) {
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
        drop(permit);
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
        Err(e) => {
            let error = format!("parser task failed: {e}");
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
