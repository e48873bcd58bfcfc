//! The email digest: multipart/alternative (Markdown text + the HTML page), sent with
//! lettre over SMTP (STARTTLS, TLS, or plain for a local relay). Digests go through the
//! outbox in the database: queued when written, removed when the server accepts them,
//! retried oldest first with the next digest when sending fails — never lost.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::{info, warn};

use super::{Digest, HtmlRenderer, MarkdownRenderer, Renderer};
use crate::config::{EmailConfig, Password, SmtpSecurity};
use crate::pipeline::{SharedStore, with_store};
use crate::store::QueuedEmail;

/// Whole-conversation timeout for one message.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an email could not be sent. `Display` is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The message could not be built (bad address).
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP password could not be read.
    #[error("cannot read the SMTP password: {0}")]
    Password(String),
    /// The server refused or could not be reached.
    #[error("SMTP {host}:{port}: {message}")]
    Smtp {
        /// Server.
        host: String,
        /// Port.
        port: u16,
        /// What went wrong.
        message: String,
    },
}

/// Subject line for a digest.
pub fn subject(digest: &Digest) -> String {
    let stories = digest.story_count();
    let failing = digest.failing_sources.len();
    let mut subject = format!(
        "roundup — {}: {stories} {}",
        digest.window.date.format("%a %-d %b %Y"),
        super::plural(stories, "story", "stories"),
    );
    // Seen in the inbox without opening the mail: sources that need a look.
    if failing > 0 {
        subject.push_str(&format!(
            ", {failing} {} failing",
            super::plural(failing, "source", "sources")
        ));
    }
    subject
}

fn password(p: &Password) -> Result<Option<String>, EmailError> {
    match p {
        Password::None => Ok(None),
        Password::Env(var) => std::env::var(var)
            .map(Some)
            .map_err(|_| EmailError::Password(format!("environment variable {var} is not set"))),
        Password::File(path) => std::fs::read_to_string(path)
            .map(|s| Some(s.lines().next().unwrap_or("").to_owned()))
            .map_err(|e| EmailError::Password(format!("{}: {e}", path.display()))),
    }
}

/// A `Message-ID` for one attempt to send `mail`: its digest date, its outbox row, and
/// a hash of the time and process (outbox rows are reused once sent), at the sender's
/// domain. Mail services mark or refuse mail without one, and some relays add none.
fn message_id(mail: &QueuedEmail, domain: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let unique = xxhash_rust::xxh3::xxh3_64(
        format!("{nanos}.{}.{}", std::process::id(), mail.id).as_bytes(),
    );
    format!(
        "<roundup.{}.{}.{unique:016x}@{domain}>",
        mail.digest_date, mail.id
    )
}

fn message(config: &EmailConfig, mail: &QueuedEmail) -> Result<Message, EmailError> {
    let bad = |e: &dyn std::fmt::Display| EmailError::Message(e.to_string());
    let from: Mailbox = config.from.parse().map_err(|e| bad(&e))?;
    let message_id = message_id(mail, from.email.domain());
    let mut builder = Message::builder()
        .message_id(Some(message_id))
        .from(from)
        .subject(mail.subject.clone());
    for to in &config.to {
        builder = builder.to(to.parse().map_err(|e| bad(&e))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text_body.clone(),
            mail.html_body.clone(),
        ))
        .map_err(|e| bad(&e))
}

/// Sends one queued email.
///
/// # Errors
/// [`EmailError`] when the message cannot be built or the server does not accept it.
pub async fn send(config: &EmailConfig, mail: &QueuedEmail) -> Result<(), EmailError> {
    send_within(config, mail, SMTP_TIMEOUT).await
}

/// [`send`], giving up after `limit`: lettre's own timeout does not cover waiting for
/// the server's greeting, so a port that accepts and never speaks SMTP (an implicit-TLS
/// port reached without TLS waits for a TLS hello) still held `run --once` after 100 s.
async fn send_within(
    config: &EmailConfig,
    mail: &QueuedEmail,
    limit: Duration,
) -> Result<(), EmailError> {
    let smtp_err = |message: String| EmailError::Smtp {
        host: config.host.clone(),
        port: config.port,
        message,
    };
    let builder = match config.security {
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| smtp_err(e.to_string()))?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
            .map_err(|e| smtp_err(e.to_string()))?,
        SmtpSecurity::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        }
    };
    let mut builder = builder.port(config.port).timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &config.username {
        let pass = password(&config.password)?.unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), pass));
    }
    let transport = builder.build();
    let msg = message(config, mail)?;
    match tokio::time::timeout(limit, transport.send(msg)).await {
        Ok(sent) => sent.map(drop).map_err(|e| smtp_err(e.to_string())),
        Err(_) => Err(smtp_err(format!(
            "no reply within {}{}",
            humantime::format_duration(limit),
            if config.security == SmtpSecurity::Tls {
                " (is it an SMTP server?)"
            } else {
                " (an SMTP server greets at once; a port for TLS from the first byte, \
                 usually 465, needs security = \"tls\")"
            }
        ))),
    }
}

/// Queues `digest` (unless it is not [worth mailing](Digest::worth_mailing)) and then
/// sends everything in the outbox, oldest first. A failure is logged and recorded; the
/// email stays queued for the next digest. Returns how many emails were sent.
pub async fn deliver(config: &EmailConfig, store: &SharedStore, digest: &Digest) -> usize {
    let date = digest.window.date.format("%Y-%m-%d").to_string();
    let mail = digest.worth_mailing().then(|| {
        (
            subject(digest),
            MarkdownRenderer.render(digest),
            HtmlRenderer.render(digest),
        )
    });
    if mail.is_none() {
        info!(digest_date = %date, "no stories and no failing source: the digest is not mailed");
    }
    let queued = with_store(store, move |s| {
        if let Some((subject, text, html)) = mail {
            s.queue_email(&date, &subject, &text, &html, chrono::Utc::now())?;
        }
        s.queued_emails()
    })
    .await;
    let queue = match queued {
        Ok(q) => q,
        Err(e) => {
            warn!("cannot queue the email digest: {e}");
            return 0;
        }
    };
    let mut sent = 0;
    for mail in queue {
        let id = mail.id;
        match send(config, &mail).await {
            Ok(()) => {
                info!(digest_date = %mail.digest_date, recipients = config.to.len(), "email digest sent");
                sent += 1;
                if let Err(e) = with_store(store, move |s| s.email_sent(id)).await {
                    warn!("email sent but not removed from the outbox: {e}");
                }
            }
            Err(e) => {
                warn!(digest_date = %mail.digest_date, attempts = mail.attempts + 1, "email digest not sent, will retry with the next digest: {e}");
                let msg = e.to_string();
                let _ = with_store(store, move |s| s.email_failed(id, &msg)).await;
                break;
            }
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Password;

    #[tokio::test]
    async fn a_server_that_never_greets_is_given_up_on_with_a_hint() {
        // Accepts, then says nothing: what a port 465 does for a client that does not
        // start TLS.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let config = EmailConfig {
            host: "127.0.0.1".to_owned(),
            port,
            security: SmtpSecurity::None,
            username: None,
            password: Password::None,
            from: "roundup <digest@example.org>".to_owned(),
            to: vec!["reader@example.org".to_owned()],
        };
        let mail = QueuedEmail {
            id: 1,
            digest_date: "2024-11-26".to_owned(),
            subject: "roundup".to_owned(),
            text_body: "text".to_owned(),
            html_body: "<p>html</p>".to_owned(),
            attempts: 0,
        };
        let err = tokio::time::timeout(
            Duration::from_secs(10),
            send_within(&config, &mail, Duration::from_millis(300)),
        )
        .await
        .expect("the send gave up in time")
        .unwrap_err()
        .to_string();
        silent.abort();
        assert!(
            err.starts_with(&format!("SMTP 127.0.0.1:{port}: no reply within 300ms")),
            "{err}"
        );
        assert!(err.contains("needs security = \"tls\""), "{err}");
    }
}
