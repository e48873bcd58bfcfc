//! The email outbox: digests queued for sending, kept until the SMTP server accepts them.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Result, Store, to_ts};

/// A queued email digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmail {
    /// Outbox row id.
    pub id: i64,
    /// The digest's date (`YYYY-MM-DD`).
    pub digest_date: String,
    /// Subject line.
    pub subject: String,
    /// text/plain part (Markdown).
    pub text_body: String,
    /// text/html part.
    pub html_body: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

impl Store {
    /// Queues a digest email. Re-queuing the same date replaces the unsent copy.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn queue_email(
        &mut self,
        date: &str,
        subject: &str,
        text: &str,
        html: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM email_outbox WHERE digest_date = ?1", [date])?;
        tx.execute(
            "INSERT INTO email_outbox (digest_date, subject, text_body, html_body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![date, subject, text, html, to_ts(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Emails waiting to be sent, oldest first.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn queued_emails(&self) -> Result<Vec<QueuedEmail>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, digest_date, subject, text_body, html_body, attempts FROM email_outbox ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QueuedEmail {
                id: r.get(0)?,
                digest_date: r.get(1)?,
                subject: r.get(2)?,
                text_body: r.get(3)?,
                html_body: r.get(4)?,
                attempts: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a sent email from the outbox.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn email_sent(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM email_outbox WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Records a failed attempt; the email stays queued.
    ///
    /// # Errors
    /// On any SQLite failure.
    pub fn email_failed(&mut self, id: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE email_outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }
}
