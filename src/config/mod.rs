//! Configuration: the TOML file (`roundup.toml`) parsed into validated types.
//!
//! Loading is two-level (ripgrep's low/high args): `raw` mirrors the file with spans,
//! `validate` turns it into [`Config`], collecting *every* problem with its line so a
//! user fixes a broken config in one pass. Nothing here touches the network or the DB.

mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use url::Url;

pub(crate) use validate::is_slug;
pub use validate::parse_str;

/// The starter config written by `roundup init` (also the commented reference).
pub const STARTER_CONFIG: &str = include_str!("../../config/roundup.toml");

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this config was read from.
    pub path: PathBuf,
    /// SQLite database path (resolved against the config's folder).
    pub database: PathBuf,
    /// `[fetch]`.
    pub fetch: FetchConfig,
    /// `[digest]`.
    pub digest: DigestConfig,
    /// `[dedup]`.
    pub dedup: DedupConfig,
    /// `[[sources]]`, in file order. Shared, so that a fetch cycle hands them to the
    /// writer thread without a copy: two copies per cycle took 19 MB of heap at 10 000
    /// sources (~730 bytes a source before its strings); sharing them took 5.8 MiB off
    /// the cold cycle's peak RSS there and 6.7 MiB off the warm one's (BENCHMARKS.md).
    pub sources: std::sync::Arc<[Source]>,
}

/// `[fetch]`: how and when feeds are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Default schedule for every source.
    pub schedule: Schedule,
    /// Zone for every schedule and for `--date`.
    pub timezone: Tz,
    /// Sources fetched at once.
    pub concurrency: usize,
    /// Requests at once to one host.
    pub per_host: usize,
    /// Whole-request deadline (headers and body).
    pub timeout: Duration,
    /// Largest accepted body, after decompression.
    pub max_body: u64,
    /// The User-Agent header (`VERSION` replaced by the crate version).
    pub user_agent: String,
    /// `fetch.proxy`: the proxy every source is fetched through (`http://`, `https://`,
    /// `socks5://`, `socks5h://`) unless it names its own; `None`: the environment's
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), if any.
    pub proxy: Option<Url>,
}

/// A proxy URL as `fetch.proxy`, `sources.proxy` and `sources add --proxy` take it:
/// `http://`, `https://`, `socks5://` or `socks5h://`, with a host.
pub fn parse_proxy(text: &str) -> Option<Url> {
    Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h"))
        .filter(|u| u.host_str().is_some())
}

/// What a proxy URL must be, for error messages.
pub const PROXY_FORMS: &str =
    "http://, https://, socks5:// or socks5h:// with a host, e.g. socks5h://127.0.0.1:9050";

/// `[digest]`: what the daily digest covers and where it goes.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// When the daemon writes a digest.
    pub schedule: Schedule,
    /// Stories first seen within this window are included.
    pub window: Duration,
    /// Where `YYYY-MM-DD.*` files are written.
    pub output_dir: PathBuf,
    /// Formats written by `run`.
    pub formats: Vec<Format>,
    /// `[digest.email]`: mail each scheduled digest, when configured.
    pub email: Option<EmailConfig>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS on a plain connection (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on localhost.
    None,
}

/// Where the SMTP password comes from; the password itself is read at send time and
/// never kept in the config (so it never reaches a log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// No authentication.
    None,
    /// From this environment variable.
    Env(String),
    /// From this file (first line).
    File(PathBuf),
}

/// `[digest.email]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// SMTP server.
    pub host: String,
    /// SMTP port (default 587 for STARTTLS, 465 for TLS, 25 for none).
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// SMTP user, when the server wants authentication.
    pub username: Option<String>,
    /// Where the password comes from.
    pub password: Password,
    /// Sender mailbox, e.g. `roundup <digest@example.org>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// `[dedup]`: how stories are matched across outlets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupConfig {
    /// Near-duplicate candidates are stories first seen within this window.
    pub window: Duration,
    /// Which report represents a story.
    pub representative: crate::dedup::Representative,
}

impl DedupConfig {
    /// The matching policy the store applies.
    pub fn policy(&self) -> crate::dedup::MatchPolicy {
        crate::dedup::MatchPolicy {
            window: self.window,
        }
    }
}

/// A digest output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Markdown (`.md`).
    Markdown,
    /// Self-contained HTML (`.html`).
    Html,
    /// Atom 1.0 (`.atom`).
    Atom,
    /// JSON for scripts (`.json`).
    Json,
}

impl Format {
    /// Every format, in the order the config lists them by default.
    pub const ALL: [Format; 4] = [Format::Markdown, Format::Html, Format::Atom, Format::Json];

    /// The name used in the config and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// File extension of the archived digest.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// Parses a format name as written in the config or on the command line.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One configured outlet.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Unique slug, used on the command line and in output.
    pub id: String,
    /// Display name of the outlet.
    pub name: String,
    /// Feed URL: `http`, `https` or `file` (relative file paths already resolved).
    pub url: Url,
    /// The outlet's web site (`site`), when known: OPML `htmlUrl`, digest links.
    pub site: Option<Url>,
    /// Region the outlet covers (digest grouping).
    pub region: String,
    /// Language code, e.g. `en`, `fa`, `ru`.
    pub language: Option<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Source-specific schedule, overriding `fetch.schedule`.
    pub schedule: Option<Schedule>,
    /// Disabled sources are kept in the config but never fetched.
    pub enabled: bool,
    /// The proxy this source is fetched through, overriding `fetch.proxy` (an outlet
    /// blocked where roundup runs, through Tor's or another local SOCKS proxy).
    pub proxy: Option<Url>,
}

/// A parsed cron expression (5 fields, or 6 with seconds) with its original text.
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a standard 5-field cron expression, or 6 fields with seconds.
    ///
    /// # Errors
    /// Returns croner's description of what is wrong with the expression.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        let cron = parser.parse(expr).map_err(|e| e.to_string())?;
        Ok(Schedule {
            expr: expr.to_owned(),
            cron,
        })
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first time strictly after `after` that matches, evaluated in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = tz.from_utc_datetime(&after.naive_utc());
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&self.expr).finish()
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Config {
    /// The schedule a source is fetched on.
    pub fn schedule_for<'a>(&'a self, source: &'a Source) -> &'a Schedule {
        source.schedule.as_ref().unwrap_or(&self.fetch.schedule)
    }

    /// Sources that are enabled, in file order.
    pub fn enabled_sources(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.enabled)
    }

    /// Where the daemon writes its process id (`roundup.pid` beside the database), for
    /// `sources … --reload`.
    pub fn pid_file(&self) -> PathBuf {
        self.database.with_extension("pid")
    }

    /// Regions in the order they first appear among the sources (digest grouping order).
    pub fn region_order(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.sources.iter() {
            if !out.contains(&s.region) {
                out.push(s.region.clone());
            }
        }
        out
    }
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when the problem can be placed.
    pub line: Option<usize>,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// A config file that could not be read or is invalid; lists every problem.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file in question.
    pub path: PathBuf,
    /// Every problem found, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.line {
                Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, p.message)?,
                None => write!(f, "{}: {}", self.path.display(), p.message)?,
            }
        }
        Ok(())
    }
}

/// Reads and validates the config file at `path`.
///
/// # Errors
/// [`ConfigError`] listing every problem (or the read error) with file:line.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_owned(),
        problems: vec![Problem {
            line: None,
            message: format!("cannot read config file: {e}"),
        }],
    })?;
    parse_str(&text, path)
}

/// Finds the config file: `--config`, then `$ROUNDUP_CONFIG` (both given as `explicit`
/// by clap), then `./roundup.toml`, `$XDG_CONFIG_HOME/roundup/roundup.toml` and
/// `/etc/roundup/roundup.toml`. Falls back to `./roundup.toml` when none exists, so the
/// error names the first place looked.
pub fn locate(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_owned();
    }
    let mut candidates = vec![PathBuf::from("roundup.toml")];
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME") {
        candidates.push(PathBuf::from(xdg).join("roundup/roundup.toml"));
    } else if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".config/roundup/roundup.toml"));
    }
    candidates.push(PathBuf::from("/etc/roundup/roundup.toml"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("roundup.toml"))
}
