//! One fetch cycle: fetch → parse → normalise → store, for every source, with bounded
//! concurrency (`fetch.concurrency` overall, `fetch.per_host` per host).
//!
//! Both `roundup fetch` / `run --once` and the daemon call [`refresh_all`]; the daemon
//! only adds timing. A failing source is logged in its own span, recorded in its fetch
//! state, and never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{Config, Source};
use crate::fetch::{FetchOutcome, Fetched, Fetcher};
use crate::model::FetchState;
use crate::normalize::normalize_feed;
use crate::parse::parse_feed;
use crate::store::{Store, StoreError, StoreReport};

/// The database shared by the tasks of a cycle. Locked only inside `spawn_blocking`.
pub type SharedStore = Arc<Mutex<Store>>;

/// How one source's refresh ended.
#[derive(Debug)]
pub enum SourceOutcome {
    /// 304: nothing changed.
    NotModified,
    /// A body was parsed and stored.
    Stored {
        /// HTTP status (200 for file://).
        status: u16,
        /// What the write changed.
        report: StoreReport,
    },
    /// Fetching or parsing failed; the source's stored entries are untouched.
    Failed {
        /// HTTP status, when the failure was one.
        status: Option<u16>,
        /// One-line reason.
        error: String,
    },
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

    /// Entries stored for the first time, over all sources.
    pub fn new_entries(&self) -> usize {
        self.sources
            .iter()
            .map(|s| match &s.outcome {
                SourceOutcome::Stored { report, .. } => report.new,
                _ => 0,
            })
            .sum()
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
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
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
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let jobs: Vec<_> = sources
        .iter()
        .map(|source| {
            let host = source.url.host_str().unwrap_or("").to_owned();
            let permit = Arc::clone(
                hosts
                    .entry(host)
                    .or_insert_with(|| Arc::new(Semaphore::new(config.fetch.per_host))),
            );
            let state = states.get(&source.id).cloned().unwrap_or_default();
            (source, state, permit)
        })
        .collect();
    let mut reports: Vec<SourceReport> = futures_util::stream::iter(jobs)
        .map(|(source, state, permit)| refresh_source(source, state, permit, store, fetcher))
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
/// what happened, and failures are recorded in the source's fetch state.
pub async fn refresh_source(
    source: &Source,
    state: FetchState,
    host_permit: Arc<Semaphore>,
    store: &SharedStore,
    fetcher: &Fetcher,
) -> SourceReport {
    let span = info_span!("refresh", source_id = %source.id, source_url = %source.url);
    async move {
        let started = Instant::now();
        let fetched = {
            // The semaphore is never closed, so acquire cannot fail; fall through if it did.
            let _permit = host_permit.acquire().await.ok();
            fetcher.fetch(&source.url, &state).await
        };
        let outcome = match fetched {
            Ok(FetchOutcome::NotModified) => {
                let id = source.id.clone();
                match with_store(store, move |s| s.record_not_modified(&id, Utc::now())).await {
                    Ok(()) => SourceOutcome::NotModified,
                    Err(e) => SourceOutcome::StoreFailed(e.to_string()),
                }
            }
            Ok(FetchOutcome::Fetched(body)) => ingest(source, body, store).await,
            Err(e) => {
                let (status, error) = (e.status(), e.to_string());
                record_failure(source, status, error, store).await
            }
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

/// Parses, normalises and stores a fetched body on a blocking thread (parsing is CPU
/// work and must stay off the async workers).
async fn ingest(source: &Source, fetched: Fetched, store: &SharedStore) -> SourceOutcome {
    let id = source.id.clone();
    let url = source.url.clone();
    let shared = Arc::clone(store);
    let joined = tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let feed = match parse_feed(&fetched.body, &fetched.final_url) {
            Ok(feed) => feed,
            Err(e) => return Err((Some(fetched.status), e.to_string())),
        };
        let items = normalize_feed(&feed, &url, now);
        let mut guard = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.store_fetch(&id, &fetched, &items, now) {
            Ok(report) => Ok(SourceOutcome::Stored {
                status: fetched.status,
                report,
            }),
            Err(e) => Ok(SourceOutcome::StoreFailed(e.to_string())),
        }
    })
    .await;
    match joined {
        Ok(Ok(outcome)) => outcome,
        Ok(Err((status, error))) => record_failure(source, status, error, store).await,
        Err(e) => SourceOutcome::Failed {
            status: None,
            error: format!("parser task failed: {e}"),
        },
    }
}

async fn record_failure(
    source: &Source,
    status: Option<u16>,
    error: String,
    store: &SharedStore,
) -> SourceOutcome {
    let id = source.id.clone();
    let msg = error.clone();
    match with_store(store, move |s| {
        s.record_failure(&id, status, &msg, Utc::now())
    })
    .await
    {
        Ok(()) => SourceOutcome::Failed { status, error },
        Err(e) => SourceOutcome::StoreFailed(e.to_string()),
    }
}

fn log_outcome(outcome: &SourceOutcome, started: Instant) {
    let elapsed_ms = started.elapsed().as_millis();
    match outcome {
        SourceOutcome::NotModified => info!(status = 304, elapsed_ms, "not modified"),
        SourceOutcome::Stored { status, report } => info!(
            status,
            new = report.new,
            updated = report.updated,
            unchanged = report.unchanged,
            merged = report.merged,
            elapsed_ms,
            "stored"
        ),
        SourceOutcome::Failed { status, error } => {
            warn!(?status, elapsed_ms, "fetch failed: {error}")
        }
        SourceOutcome::StoreFailed(error) => warn!(elapsed_ms, "storage failed: {error}"),
    }
}
