//! Storage: SQLite through rusqlite. The only module that contains SQL.
//!
//! [`Store`] owns one connection in WAL mode with a busy timeout, so CLI commands can read
//! (and write) while the daemon runs. rusqlite blocks: async callers use it from a
//! thread that may block (the pipeline's writer thread through `pipeline::with_store`,
//! or `spawn_blocking`) and never hold its lock across an `.await`.

mod bands;
mod checkpoint;
mod entries;
mod migrate;
mod outbox;
mod search;
mod sources;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

pub use entries::{DigestEntry, FetchWrite, StoreReport};
pub use migrate::SCHEMA_VERSION;
pub use outbox::QueuedEmail;
pub use search::{SearchHit, SearchQuery, fts_query};
pub use sources::{RedirectSeen, SourceStatus};

/// How long a writer waits for another connection's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite page cache per connection, in KiB. Since band keys are looked up in memory
/// first (src/store/bands.rs), 10 MiB fetches the 1 000-feed cold cycle as fast as 14
/// MiB did and peaks ~4 MiB lower (BENCHMARKS.md).
const CACHE_KIB: i64 = 10 * 1024;
/// Page size of a database this build creates (an existing database keeps its own:
/// SQLite changes it only by rewriting the file). An entry row is 2–3 KB with its
/// summary, and 4 KiB pages held one such row each with a third of the page unused;
/// 8 KiB pages hold three, so the entries take a fifth fewer pages and WAL frames. The
/// 1 000-feed cold cycle: database 124 → 105 MiB, WAL written 215 → 185 MiB, CPU ~5 %
/// less (BENCHMARKS.md).
const PAGE_SIZE: i64 = 8192;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;
/// WAL bytes between automatic checkpoints by the writing connection itself (10 000
/// pages of 4 KiB; SQLite counts pages, [`wal_pages`]).
const WAL_CHECKPOINT_BYTES: i64 = 10_000 * 4096;
/// The same when a checkpoint thread does them (src/store/checkpoint.rs): a fallback,
/// and what lets the log start over when writes never pause. In a 5 000-feed cold cycle
/// the writer outpaces the thread's checkpoints (one a second); at 20 000 pages of 4 KiB
/// (80 MiB) the writer then spent ~17 % of its time checkpointing, and the cycle took
/// ~9 % longer than at 60 000 (BENCHMARKS.md). The WAL file can then reach ~240 MiB
/// during such a burst; it is removed when the last connection closes. (Cutting it back with
/// `journal_size_limit` whenever the log starts over cost the gain back: the file was
/// regrown in the same cycle.)
const WAL_FALLBACK_CHECKPOINT_BYTES: i64 = 60_000 * 4096;

/// `bytes` of WAL in pages of the database's size, for `wal_autocheckpoint`.
fn wal_pages(conn: &Connection, bytes: i64) -> rusqlite::Result<i64> {
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    Ok(bytes / page_size.max(512))
}

/// A storage failure. Maps to exit code 3.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database folder could not be created.
    #[error("cannot create database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The database has migrations this build does not know: a newer roundup wrote it
    /// (after an upgrade was rolled back, or two versions sharing one file).
    #[error(
        "database {path} was written by a newer roundup (schema {version}; this build knows \
         {known}): run the newer roundup, or set `database` to another file"
    )]
    Newer {
        /// The database path.
        path: PathBuf,
        /// Its schema version (`PRAGMA user_version`).
        version: i64,
        /// The newest schema version this build knows.
        known: usize,
    },
    /// Applying the schema migrations failed.
    #[error("cannot migrate database {path}: {source}")]
    Migrate {
        /// The database path.
        path: PathBuf,
        /// The migration error.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// Any query failed. Said once (`sqlite_message`): rusqlite's error repeats
    /// SQLite's words in its source, which the error chain would print again.
    #[error("{}", sqlite_message(.0))]
    Sqlite(rusqlite::Error),
    /// The blocking task that ran the query panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// A SQLite error in one line. A database another process kept locked past
/// [`BUSY_TIMEOUT`] says so, and what usually holds it.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            format!(
                "the database is locked: another process kept it busy for more than {} s \
                 (a `roundup run` in the middle of a long write, or a stuck process)",
                BUSY_TIMEOUT.as_secs()
            )
        }
        _ => format!("database error: {e}"),
    }
}

/// Result alias for storage operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The database.
#[derive(Debug)]
pub struct Store {
    /// Declared first so that it stops (and closes its connection) before `conn`
    /// closes, which then checkpoints what is left as the last connection.
    checkpointer: Option<checkpoint::Checkpointer>,
    conn: Connection,
    /// When LSH bands outside the matching window were last pruned (fetch-time clock).
    last_prune: Option<DateTime<Utc>>,
    /// The in-memory side of the LSH band index, loaded on first use.
    bands: Option<bands::BandCache>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened, is not a database, or cannot be
    /// migrated.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        Self::set_page_size(&conn).map_err(open_err)?;
        Self::configure(&conn).map_err(open_err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        if usize::try_from(version).is_ok_and(|v| v > migrate::SCHEMA_VERSION) {
            return Err(StoreError::Newer {
                path: path.to_owned(),
                version,
                known: migrate::SCHEMA_VERSION,
            });
        }
        migrate::migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate {
                path: path.to_owned(),
                source,
            })?;
        let checkpointer = match checkpoint::Checkpointer::start(path) {
            Ok(c) => {
                let pages = wal_pages(&conn, WAL_FALLBACK_CHECKPOINT_BYTES).map_err(open_err)?;
                conn.pragma_update(None, "wal_autocheckpoint", pages)
                    .map_err(open_err)?;
                Some(c)
            }
            Err(e) => {
                tracing::warn!(database = %path.display(), error = %e,
                    "no checkpoint thread; the writer checkpoints the WAL itself");
                None
            }
        };
        Ok(Store {
            checkpointer,
            conn,
            last_prune: None,
            bands: None,
        })
    }

    /// An in-memory database (tests and benchmarks).
    ///
    /// # Errors
    /// When SQLite cannot allocate or migrate the database.
    pub fn open_in_memory() -> Result<Store> {
        let mut conn = Connection::open_in_memory()?;
        Self::set_page_size(&conn)?;
        Self::configure(&conn)?;
        migrate::migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate {
                path: PathBuf::from(":memory:"),
                source,
            })?;
        Ok(Store {
            checkpointer: None,
            conn,
            last_prune: None,
            bands: None,
        })
    }

    /// [`PAGE_SIZE`] for a database not yet written; before `journal_mode`, which fixes
    /// the page size of a new file. SQLite ignores it for an existing database.
    fn set_page_size(conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "page_size", PAGE_SIZE)
    }

    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement on the write path is prepared once; the default cache of 16
        // is smaller than that set and would re-prepare statements per entry.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // WAL lets readers (status, digest) run beside the daemon's writer.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A page cache large enough for the hot indexes (story keys, LSH bands) of a
        // large database; the default 2 MiB sends every lookup through pread().
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint the WAL every ~40 MiB instead of every 4 MiB: a large fetch cycle
        // then costs a few checkpoints (each an fsync and random writes), not one per feed.
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            wal_pages(conn, WAL_CHECKPOINT_BYTES)?,
        )?;
        migrate::register_functions(conn)?;
        Ok(())
    }

    /// `PRAGMA integrity_check` result, then the full-text index checked against the
    /// entries it indexes (`"ok"` when both are healthy).
    ///
    /// # Errors
    /// When the pragma cannot run.
    pub fn integrity_check(&self) -> Result<String> {
        let pages: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if pages != "ok" {
            return Ok(pages);
        }
        // With rank 1, FTS5 also compares the index with the external content table,
        // which must then be fully indexed.
        self.update_search_index()?;
        Ok(
            match self.conn.execute(
                "INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', 1)",
                [],
            ) {
                Ok(_) => pages,
                Err(e) => format!("search index: {e}"),
            },
        )
    }
}

impl Store {
    /// Wakes the checkpoint thread after a write transaction.
    fn wrote(&self) {
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
    }
}

pub(crate) fn to_ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage error with its causes (`{:#}`; `roundup` prints the chain through
    /// `one_line` in main.rs, which drops repeats too): SQLite's words once, and a
    /// database held locked by another process in words.
    #[test]
    fn a_locked_database_is_said_once_and_in_words() {
        let failure = |code, msg: &str| {
            let e = StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                Some(msg.to_owned()),
            ));
            format!("{:#}", anyhow::Error::from(e))
        };
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_BUSY, "database is locked"),
            "the database is locked: another process kept it busy for more than 10 s (a \
             `roundup run` in the middle of a long write, or a stuck process)"
        );
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_FULL, "database or disk is full"),
            "database error: database or disk is full"
        );
    }

    #[test]
    fn a_new_database_gets_the_larger_page_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |store: &Store| -> i64 {
            store
                .conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        // The writer's own checkpoints come after as many WAL bytes either way.
        let autocheckpoint_bytes = |store: &Store| -> i64 {
            let pages: i64 = store
                .conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .unwrap();
            pages * page_size(store)
        };
        let new = dir.path().join("new.db");
        let store = Store::open(&new).unwrap();
        assert_eq!(page_size(&store), PAGE_SIZE);
        assert_eq!(autocheckpoint_bytes(&store), WAL_FALLBACK_CHECKPOINT_BYTES);
        // A database written before (4 KiB pages, SQLite's default) opens, migrates and
        // takes writes as it is.
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE kept (x);
                 INSERT INTO kept VALUES (1);",
            )
            .unwrap();
        }
        let store = Store::open(&old).unwrap();
        assert_eq!(page_size(&store), 4096);
        assert_eq!(autocheckpoint_bytes(&store), WAL_FALLBACK_CHECKPOINT_BYTES);
        store
            .conn
            .execute("INSERT INTO stories (first_seen) VALUES (1)", [])
            .unwrap();
        drop(store);
        let store = Store::open(&old).unwrap();
        assert_eq!(page_size(&store), 4096);
        let rows: i64 = store
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM kept) + (SELECT count(*) FROM stories)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, 2);
        assert_eq!(
            store.integrity_check().unwrap(),
            "ok",
            "the old database is sound"
        );
    }

    #[test]
    fn a_thread_copies_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roundup.db");
        let store = Store::open(&path).unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        // About 4 MiB committed: far below the writer's own checkpoint size, so only the
        // thread can copy it into the database file while the store is open.
        store
            .conn
            .execute_batch(
                "CREATE TABLE filler (data BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
                 INSERT INTO filler SELECT randomblob(4000) FROM n;",
            )
            .unwrap();
        assert_eq!(size(), before, "committed pages wait in the WAL");
        store.wrote();
        let checkpointer = store.checkpointer.as_ref().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while checkpointer.completed() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(checkpointer.completed() >= 1);
        assert!(size() >= before + 4_000_000, "{} -> {}", before, size());
        drop(store);
        let reopened = Store::open(&path).unwrap();
        let rows: i64 = reopened
            .conn
            .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1000);
    }
}
