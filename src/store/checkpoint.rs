//! WAL checkpoints on a thread of their own.
//!
//! A checkpoint copies the pages committed to the write-ahead log into the database
//! file and syncs both. Run by the writing connection (SQLite's autocheckpoint), the
//! writer stops for those syncs, and in a cold fetch cycle everything queued behind it
//! waits too (about 0.4 s of the 1 000-feed cycle, BENCHMARKS.md). Here a second
//! connection does it, woken after each write transaction and at most once per
//! [`INTERVAL`], in PASSIVE mode: it never blocks the writer or readers, and copies what
//! it can. The writer keeps an autocheckpoint at a larger size as a fallback, which
//! also lets the log start over from its beginning when writes never pause.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Shortest time between two background checkpoints.
const INTERVAL: Duration = Duration::from_millis(1000);

/// The checkpointing thread of one database (see the module docs). Dropping it stops
/// the thread and waits for a checkpoint in progress to finish.
#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> std::result::Result<Checkpointer, String> {
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.busy_timeout(super::BUSY_TIMEOUT)
            .map_err(|e| e.to_string())?;
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let done = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&done);
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("roundup-checkpoint".to_owned())
            .spawn(move || run(&conn, &woken, &counter, &shown))
            .map_err(|e| e.to_string())?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            done,
        })
    }

    /// Asks for a checkpoint soon (never blocks; wakes already pending are merged).
    pub(super) fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }

    /// Checkpoints completed so far (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn completed(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for a wake, checkpoints, then lets [`INTERVAL`] pass, merging the wakes that
/// arrive meanwhile into the next checkpoint. Returns when the store is dropped.
fn run(conn: &Connection, woken: &Receiver<()>, done: &AtomicU64, path: &str) {
    let mut pending = woken.recv().is_ok();
    while pending {
        let started = Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => {
                done.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => tracing::warn!(database = path, error = %e, "WAL checkpoint failed"),
        }
        pending = false;
        loop {
            let left = INTERVAL.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match woken.recv_timeout(left) {
                Ok(()) => pending = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if !pending {
            pending = woken.recv().is_ok();
        }
    }
}
