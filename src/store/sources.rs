//! Sources and their fetch state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, from_ts, to_ts};
use crate::config::Source;
use crate::fetch::ResponseMeta;
use crate::model::{FetchState, ParsedBody};
use crate::normalize::EntryFingerprint;

const STATE_COLUMNS: &str = "etag, last_modified, consecutive_failures, retry_after_until, moved_from, moved_to, moved_seen, body_hash, feed_ttl, entry_hashes";

fn state_from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<FetchState> {
    Ok(FetchState {
        etag: r.get(first)?,
        last_modified: r.get(first + 1)?,
        consecutive_failures: r.get(first + 2)?,
        retry_after_until: r.get::<_, Option<i64>>(first + 3)?.map(from_ts),
        moved_from: r.get(first + 4)?,
        moved_to: r.get(first + 5)?,
        moved_seen: r.get(first + 6)?,
        // A hash of another length (none is written) reads as unknown: the body is parsed.
        parsed: r
            .get::<_, Option<Vec<u8>>>(first + 7)?
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .map(|hash| -> rusqlite::Result<ParsedBody> {
                let mut entries: Vec<EntryFingerprint> = r
                    .get::<_, Option<Vec<u8>>>(first + 9)?
                    .unwrap_or_default()
                    .chunks_exact(16)
                    .filter_map(|c| c.try_into().ok())
                    .collect();
                entries.sort_unstable();
                Ok(ParsedBody {
                    hash,
                    ttl: r.get(first + 8)?,
                    entries,
                })
            })
            .transpose()?,
    })
}

/// What a fetch of a source's *configured* URL saw about redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectSeen {
    /// The configured URL that was requested.
    pub from: String,
    /// Where a chain of permanent (301/308) redirects led, if it did.
    pub permanent_to: Option<String>,
}

/// Counts consecutive identical permanent redirects from the configured URL; any other
/// answer (no redirect, a temporary one) resets the count.
pub(super) fn record_redirect(
    tx: &rusqlite::Connection,
    source_id: &str,
    seen: Option<&RedirectSeen>,
) -> Result<()> {
    let Some(seen) = seen else { return Ok(()) };
    tx.prepare_cached(
        "UPDATE fetch_state SET
             moved_seen = CASE WHEN ?3 IS NULL THEN 0
                               WHEN moved_to IS ?3 AND moved_from IS ?2 THEN moved_seen + 1
                               ELSE 1 END,
             moved_from = ?2, moved_to = ?3
         WHERE source_id = ?1",
    )?
    .execute(params![source_id, seen.from, seen.permanent_to])?;
    Ok(())
}

/// One source's health, for `roundup status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Source id.
    pub id: String,
    /// Stored feed URL.
    pub url: String,
    /// Last fetch attempt.
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// HTTP status of the last attempt (200 for file://, 304 when not modified).
    pub last_status: Option<u16>,
    /// Entries stored for the source.
    pub entries: i64,
    /// Consecutive failures.
    pub consecutive_failures: u32,
    /// Last error message, cleared on success.
    pub last_error: Option<String>,
    /// Next planned fetch, when the daemon has scheduled one.
    pub next_fetch_at: Option<DateTime<Utc>>,
    /// The server's last `Retry-After`: no request before then (cleared on success).
    pub retry_after_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Inserts or refreshes the rows of the configured sources (name, URL, region).
    /// Sources no longer configured keep their rows and entries.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn sync_sources(&mut self, sources: &[Source], now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO sources (id, url, name, region, language, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET url = excluded.url, name = excluded.name,
                     region = excluded.region, language = excluded.language
                 WHERE (url, name, region, language) IS NOT
                       (excluded.url, excluded.name, excluded.region, excluded.language)",
            )?;
            let mut state = tx.prepare_cached(
                "INSERT INTO fetch_state (source_id) VALUES (?1) ON CONFLICT(source_id) DO NOTHING",
            )?;
            for s in sources {
                upsert.execute(params![
                    s.id,
                    s.url.as_str(),
                    s.name,
                    s.region,
                    s.language,
                    to_ts(now)
                ])?;
                state.execute(params![s.id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Fetch state of every source, by id.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn fetch_states(&self) -> Result<HashMap<String, FetchState>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT source_id, {STATE_COLUMNS} FROM fetch_state"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, state_from_row(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Fetch state of one source (default when it has none yet).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn fetch_state(&self, source_id: &str) -> Result<FetchState> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM fetch_state WHERE source_id = ?1"
        ))?;
        Ok(stmt
            .query_row([source_id], |r| state_from_row(r, 0))
            .optional()?
            .unwrap_or_default())
    }

    /// Records a 304: only the source's fetch-state row changes, no entry is touched.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn record_not_modified(
        &mut self,
        source_id: &str,
        redirect: Option<&RedirectSeen>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE fetch_state SET last_fetch_at = ?2, last_success_at = ?2, last_status = 304,
                 last_error = NULL, consecutive_failures = 0, retry_after_until = NULL
             WHERE source_id = ?1",
            params![source_id, to_ts(now)],
        )?;
        record_redirect(&tx, source_id, redirect)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a 200 whose body is the one parsed last time: like a 304, no entry is
    /// touched, but the response's validators are kept for the next request.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn record_same_body(
        &mut self,
        source_id: &str,
        meta: &ResponseMeta,
        redirect: Option<&RedirectSeen>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE fetch_state SET etag = ?2, last_modified = ?3, last_fetch_at = ?4,
                 last_success_at = ?4, last_status = ?5, last_error = NULL,
                 consecutive_failures = 0, retry_after_until = NULL
             WHERE source_id = ?1",
            params![
                source_id,
                meta.etag,
                meta.last_modified,
                to_ts(now),
                meta.status
            ],
        )?;
        record_redirect(&tx, source_id, redirect)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed fetch and returns the new count of consecutive failures.
    /// Entries are untouched.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn record_failure(
        &mut self,
        source_id: &str,
        status: Option<u16>,
        error: &str,
        retry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<u32> {
        Ok(self
            .conn
            .query_row(
                "UPDATE fetch_state SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
                     consecutive_failures = consecutive_failures + 1, retry_after_until = ?5
                 WHERE source_id = ?1 RETURNING consecutive_failures",
                params![source_id, to_ts(now), status, error, retry_after.map(to_ts)],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(1))
    }

    /// Stores when the source will next be fetched (shown by `status`).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn set_next_fetch(&mut self, source_id: &str, at: Option<DateTime<Utc>>) -> Result<()> {
        self.conn.execute(
            "UPDATE fetch_state SET next_fetch_at = ?2 WHERE source_id = ?1",
            params![source_id, at.map(to_ts)],
        )?;
        Ok(())
    }

    /// Every known source's status, configured or not, by id.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn source_statuses(&self) -> Result<Vec<SourceStatus>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.url, f.last_fetch_at, f.last_status,
                    (SELECT count(*) FROM entries e WHERE e.source_id = s.id),
                    COALESCE(f.consecutive_failures, 0), f.last_error, f.next_fetch_at,
                    f.retry_after_until
             FROM sources s LEFT JOIN fetch_state f ON f.source_id = s.id ORDER BY s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceStatus {
                id: r.get(0)?,
                url: r.get(1)?,
                last_fetch_at: r.get::<_, Option<i64>>(2)?.map(from_ts),
                last_status: r.get(3)?,
                entries: r.get(4)?,
                consecutive_failures: r.get(5)?,
                last_error: r.get(6)?,
                next_fetch_at: r.get::<_, Option<i64>>(7)?.map(from_ts),
                retry_after_until: r.get::<_, Option<i64>>(8)?.map(from_ts),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sources whose last fetch failed at or after `since` (digest "feed health").
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn failing_sources(&self, since: DateTime<Utc>) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_id, last_error FROM fetch_state
             WHERE last_error IS NOT NULL AND last_fetch_at >= ?1 ORDER BY source_id",
        )?;
        let rows = stmt.query_map([to_ts(since)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stored entry count of one source (tests and status).
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn entry_count(&self, source_id: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT count(*) FROM entries WHERE source_id = ?1",
                [source_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }
}
