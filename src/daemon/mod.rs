//! The daemon (`roundup run`): one scheduler for every source's cron schedule and the
//! digest schedule, signals, and systemd notification. It only adds timing: fetches go
//! through [`crate::pipeline::refresh_source`], digests through [`crate::digest`].

pub mod schedule;
pub mod scheduler;
mod signal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use self::schedule::FetchResult;
use self::scheduler::{Options, Runner, Scheduler, SystemClock};
use crate::config::{self, Config, Source};
use crate::digest::{self, Window};
use crate::fetch::Fetcher;
use crate::pipeline::{self, HostLimits, SharedStore, SourceOutcome, with_store};
use crate::store::{Store, StoreError};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[from] std::io::Error),
    /// Another daemon holds the lock on the pid file beside the database.
    #[error(
        "another roundup daemon{} is already running on {}: stop it first \
         (`systemctl stop roundup`), or reload it with SIGHUP",
        .pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default(),
        .database.display()
    )]
    AlreadyRunning {
        /// The other daemon's pid, as its pid file says.
        pid: Option<String>,
        /// The database both were started on.
        database: PathBuf,
    },
}

/// The runner the daemon uses: the real pipeline and digest writer.
pub struct PipelineRunner {
    store: SharedStore,
    config: RwLock<Arc<Config>>,
    fetcher: RwLock<Arc<Fetcher>>,
    limits: RwLock<Arc<HostLimits>>,
}

impl PipelineRunner {
    /// A runner over an open store.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: Config, store: SharedStore) -> Result<PipelineRunner, DaemonError> {
        Ok(PipelineRunner {
            store,
            fetcher: RwLock::new(Arc::new(Fetcher::new(&config.fetch)?)),
            limits: RwLock::new(Arc::new(HostLimits::new(config.fetch.per_host))),
            config: RwLock::new(Arc::new(config)),
        })
    }

    fn current<T: ?Sized>(lock: &RwLock<Arc<T>>) -> Arc<T> {
        Arc::clone(
            &lock
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

fn replace<T: ?Sized>(lock: &RwLock<Arc<T>>, value: Arc<T>) {
    *lock
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
}

impl Runner for PipelineRunner {
    async fn fetch(self: Arc<Self>, source: Source, cancel: CancellationToken) -> FetchResult {
        let id = source.id.clone();
        let state = match with_store(&self.store, move |s| s.fetch_state(&id)).await {
            Ok(state) => state,
            Err(e) => {
                error!(source_id = %source.id, "cannot read fetch state: {e}");
                return FetchResult::Failed {
                    failures: 1,
                    retry_after: None,
                };
            }
        };
        let fetcher = Self::current(&self.fetcher);
        let limits = Self::current(&self.limits);
        let policy = Self::current(&self.config).dedup.policy();
        let deps = pipeline::Deps {
            store: &self.store,
            fetcher: &fetcher,
            limits: &limits,
            policy,
            cancel: &cancel,
        };
        let report = pipeline::refresh_source(&source, state, deps).await;
        if matches!(report.outcome, SourceOutcome::Stored { report, .. } if report.new > 0) {
            // Storing leaves the search index behind (migration 0009); the daemon brings
            // it up to date at once, so `roundup search` is current even for a user who
            // can only read the database.
            let indexed =
                pipeline::with_store(&self.store, |s| s.update_search_index().map(|_| ())).await;
            if let Err(e) = indexed {
                warn!(source_id = %source.id, "cannot update the search index: {e}");
            }
        }
        match report.outcome {
            SourceOutcome::NotModified { min_interval }
            | SourceOutcome::SameBody { min_interval, .. }
            | SourceOutcome::Stored { min_interval, .. } => FetchResult::Ok { min_interval },
            SourceOutcome::Failed {
                failures,
                retry_after,
                ..
            } => FetchResult::Failed {
                failures,
                retry_after,
            },
            SourceOutcome::Deferred { until } => FetchResult::Deferred { until },
            SourceOutcome::Cancelled => FetchResult::Cancelled,
            SourceOutcome::StoreFailed(_) => FetchResult::Failed {
                failures: 1,
                retry_after: None,
            },
        }
    }

    async fn digest(self: Arc<Self>, end: DateTime<Utc>) {
        let config = Self::current(&self.config);
        let cfg = Arc::clone(&config);
        // A separate read connection: the digest never waits for the fetch writer.
        let written = tokio::task::spawn_blocking(
            move || -> anyhow::Result<(Vec<PathBuf>, digest::Digest)> {
                let store = Store::open(&cfg.database)?;
                let window = Window::ending(end, cfg.digest.window, cfg.fetch.timezone);
                let built = digest::build(&store, &cfg, window, Utc::now())?;
                Ok((digest::write_files(&cfg, &built)?, built))
            },
        )
        .await;
        match written {
            Ok(Ok((paths, built))) => {
                for p in paths {
                    info!(path = %p.display(), "digest written");
                }
                if let Some(email) = &config.digest.email {
                    digest::email::deliver(email, &self.store, &built).await;
                }
            }
            Ok(Err(e)) => error!("digest failed: {e:#}"),
            Err(e) => error!("digest task failed: {e}"),
        }
    }

    fn scheduled(&self, source_id: &str, due: DateTime<Utc>) {
        let store = self.store.clone();
        let id = source_id.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock();
            if let Err(e) = guard.set_next_fetch(&id, Some(due)) {
                warn!(source_id = %id, "cannot record the next fetch time: {e}");
            }
        });
    }

    fn reload(&self, config: &Config) {
        let now = Utc::now();
        // Synchronous on purpose: added sources need their rows before their first fetch
        // is scheduled. Reloads are rare and this is one short transaction.
        {
            let mut guard = self.store.lock();
            if let Err(e) = guard.sync_sources(&config.sources, now) {
                error!("cannot record the reloaded sources: {e}");
            }
        }
        match Fetcher::new(&config.fetch) {
            Ok(f) => replace(&self.fetcher, Arc::new(f)),
            Err(e) => error!("keeping the old HTTP client: {e}"),
        }
        replace(
            &self.limits,
            Arc::new(HostLimits::new(config.fetch.per_host)),
        );
        replace(&self.config, Arc::new(config.clone()));
    }

    fn heartbeat(&self, status: Option<&str>) {
        // Both are no-ops outside systemd (no NOTIFY_SOCKET).
        let _ = sd_notify::notify(&[NotifyState::Watchdog]);
        if let Some(s) = status {
            let _ = sd_notify::notify(&[NotifyState::Status(s)]);
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT. SIGHUP reloads `config.path`; a config that
/// fails validation is logged and the running one kept.
///
/// # Errors
/// [`DaemonError`] when start-up fails (database, HTTP client, signals).
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let _pid_file = PidFile::acquire(config.pid_file(), &config.database)?;
    let shutdown = CancellationToken::new();
    let (hup_tx, hup_rx) = mpsc::channel(1);
    signal::install(shutdown.clone(), hup_tx)?;
    run_with(config, shutdown, hup_rx, options()).await
}

/// The daemon's process id in a file beside the database, for `sources … --reload`;
/// removed when the daemon stops. The daemon holds an exclusive lock on it while it
/// runs, so that a second daemon on the same database (a manual `roundup run` beside
/// the service) refuses to start instead of fetching every source twice; the lock goes
/// with the process, so a daemon that crashed leaves none behind. A file that cannot be
/// written, or a file system without locks, is logged, not fatal.
struct PidFile {
    path: Option<PathBuf>,
    /// Open, so that the lock is held until the daemon stops.
    _file: Option<std::fs::File>,
}

impl PidFile {
    fn acquire(path: PathBuf, database: &std::path::Path) -> Result<PidFile, DaemonError> {
        use std::io::Write as _;
        use std::os::unix::fs::MetadataExt as _;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The store would create it; the pid file goes there first.
            let _ = std::fs::create_dir_all(dir);
        }
        let unwritable = |e: &dyn std::fmt::Display| {
            warn!("cannot write pid file {}: {e}", path.display());
            PidFile {
                path: None,
                _file: None,
            }
        };
        // A daemon stopping meanwhile removes the file it held, so the lock taken must
        // be on the file still at `path`.
        for _ in 0..3 {
            let mut file = match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) => return Ok(unwritable(&e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let pid = std::fs::read_to_string(&path)
                        .ok()
                        .map(|t| t.trim().to_owned())
                        .filter(|p| !p.is_empty());
                    return Err(DaemonError::AlreadyRunning {
                        pid,
                        database: database.to_owned(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    warn!(
                        "cannot lock pid file {}: {e}; a second daemon on this database \
                         would not be refused",
                        path.display()
                    );
                }
            }
            let held = file.metadata().map(|m| (m.dev(), m.ino())).ok();
            let current = std::fs::metadata(&path).map(|m| (m.dev(), m.ino())).ok();
            if held.is_none() || held != current {
                continue;
            }
            let written = file
                .set_len(0)
                .and_then(|()| writeln!(file, "{}", std::process::id()));
            if let Err(e) = written {
                return Ok(unwritable(&e));
            }
            return Ok(PidFile {
                path: Some(path),
                _file: Some(file),
            });
        }
        Ok(unwritable(&"it was replaced while being locked"))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Removed while the lock is held: a daemon starting now finds no file, or
        // finds the one it locked gone and opens a new one.
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Scheduler options; the watchdog interval, when systemd sets one, bounds the nap.
fn options() -> Options {
    let mut options = Options::default();
    if let Some(wd) = sd_notify::watchdog_enabled() {
        options.max_nap = options.max_nap.min(wd / 3);
    }
    options
}

/// [`run`] with the shutdown trigger and reload requests passed in (tests supply their
/// own, as mini-redis and atuin do).
///
/// # Errors
/// [`DaemonError`] when start-up fails.
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    mut hup: mpsc::Receiver<()>,
    options: Options,
) -> Result<(), DaemonError> {
    let mut store = Store::open(&config.database)?;
    store.sync_sources(&config.sources, Utc::now())?;
    let stored_next: HashMap<String, DateTime<Utc>> = store
        .source_statuses()?
        .into_iter()
        .filter_map(|s| Some((s.id, s.next_fetch_at?)))
        .collect();
    let store = SharedStore::new(store)?;
    let runner = Arc::new(PipelineRunner::new(config.clone(), store)?);
    let (reload_tx, reload_rx) = mpsc::channel(1);
    let path = config.path.clone();
    let stop_reloads = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop_reloads.cancelled() => break,
                Some(()) = hup.recv() => match config::load(&path) {
                    Ok(new) => { let _ = reload_tx.send(new).await; }
                    Err(e) => error!("config reload rejected, keeping the running config:\n{e}"),
                },
                else => break,
            }
        }
    });
    let scheduler = Scheduler::new(runner, SystemClock, config, &stored_next, options);
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status("started")]);
    scheduler.run(reload_rx, shutdown).await;
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
    info!("stopped");
    Ok(())
}
