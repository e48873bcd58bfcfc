//! The command-line front end: clap definitions and one small function per command.
//! With `main.rs`, the only code that prints to stdout. `sources` subcommands live in
//! [`sources`].

pub mod sources;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, Format};
use crate::digest::{self, Window};
use crate::fetch::Fetcher;
use crate::pipeline::{self, RefreshReport, SharedStore, SourceOutcome};
use crate::store::Store;

/// roundup: your region's news feeds as one deduplicated daily digest.
#[derive(Debug, Parser)]
#[command(name = "roundup", version, about, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $ROUNDUP_CONFIG, ./roundup.toml,
    /// $XDG_CONFIG_HOME/roundup/roundup.toml, /etc/roundup/roundup.toml]
    #[arg(long, global = true, env = "ROUNDUP_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config with real regional outlets (never overwrites).
    Init {
        /// Where to write it [default: --config, else ./roundup.toml].
        path: Option<PathBuf>,
    },
    /// Validate the config and list each source with its next fetch time.
    Check,
    /// Run the fetch/digest loop; with --once, one cycle and one digest, then exit.
    Run {
        /// One fetch cycle, write the digest files, exit.
        #[arg(long)]
        once: bool,
    },
    /// One fetch cycle over all (or the named) sources; one summary line per source.
    Fetch {
        /// Only this source (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
    },
    /// Render a digest (default: markdown on stdout, window = digest.window).
    Digest {
        /// Stories first seen within this long before now, e.g. 24h, 7d.
        #[arg(long, conflicts_with = "date", value_parser = humantime::parse_duration)]
        window: Option<std::time::Duration>,
        /// One local calendar day (fetch.timezone), YYYY-MM-DD.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Markdown)]
        format: FormatArg,
        /// Write to this file (atomically) instead of stdout; `-` is stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Per source: last fetch, HTTP status, entries, failures, last error, next fetch.
    Status {
        /// Output format (json for monitoring scripts).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Manage sources by editing the config file in place (comments kept).
    Sources {
        /// What to do.
        #[command(subcommand)]
        command: sources::SourcesCommand,
    },
    /// Full-text search over stored stories (best match first, one line per story).
    Search {
        /// Words to find (all of them; `word*` for a prefix, `OR` between alternatives).
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Only stories published since: a duration (7d, 24h), a date (YYYY-MM-DD) or
        /// an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only this source (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
        /// At most this many stories.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

/// Plain text for people or JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable table or list.
    Text,
    /// JSON.
    Json,
}

/// Digest formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Markdown.
    Markdown,
    /// Self-contained HTML.
    Html,
    /// Atom 1.0.
    Atom,
    /// JSON.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Atom => Format::Atom,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Process exit codes (PRODUCT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: some sources failed; the rest were processed and stored.
    SourcesFailed = 1,
    /// 2: usage or config error; nothing fetched.
    Usage = 2,
    /// 3: storage error (database unreadable, disk full).
    Storage = 3,
}

/// A usage error detected after argument parsing (unknown source id, file exists…).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command.
///
/// # Errors
/// Any failure, for `main` to print once and map to an [`Exit`] code.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Init { ref path } => init(path.as_deref().or(cli.config.as_deref())),
        Command::Check => check(&load(&cli)?),
        Command::Run { once: true } => run_once(&load(&cli)?).await,
        Command::Run { once: false } => {
            crate::daemon::run(load(&cli)?).await?;
            Ok(Exit::Success)
        }
        Command::Fetch { ref sources } => fetch(&load(&cli)?, sources).await,
        Command::Digest {
            window,
            date,
            format,
            ref output,
        } => digest_cmd(&load(&cli)?, window, date, format.into(), output.as_deref()),
        Command::Status { format } => status(&load(&cli)?, format),
        Command::Sources { command } => {
            sources::run(&config::locate(cli.config.as_deref()), command).await
        }
        Command::Search {
            ref query,
            ref since,
            ref sources,
            limit,
            format,
        } => search(
            &load(&cli)?,
            &query.join(" "),
            since.as_deref(),
            sources,
            limit,
            format,
        ),
    }
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    Ok(config::load(&config::locate(cli.config.as_deref()))?)
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.database)?)
}

fn init(path: Option<&Path>) -> anyhow::Result<Exit> {
    let path = path.unwrap_or(Path::new("roundup.toml"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(UsageError(format!(
                "{}: already exists; refusing to overwrite it",
                path.display()
            )))
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(config::STARTER_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    say(&format!(
        "wrote {}; edit it, then run `roundup --config {} check`",
        path.display(),
        path.display()
    ))?;
    Ok(Exit::Success)
}

fn check(config: &Config) -> anyhow::Result<Exit> {
    let now = Utc::now();
    let tz = config.fetch.timezone;
    say(&format!(
        "{}: ok, {} sources ({} enabled), database {}",
        config.path.display(),
        config.sources.len(),
        config.enabled_sources().count(),
        config.database.display()
    ))?;
    let w = id_width(config.sources.iter().map(|s| s.id.as_str()));
    for s in config.sources.iter() {
        let schedule = config.schedule_for(s);
        let next = match (s.enabled, schedule.next_after(now, tz)) {
            (false, _) => "disabled".to_owned(),
            (true, Some(t)) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
            (true, None) => "never".to_owned(),
        };
        say(&format!(
            "{:<w$} {:<28} {:<14} {:<16} next {:<22} {}",
            s.id,
            truncate(&s.name, 28),
            truncate(&s.region, 14),
            schedule.expr(),
            next,
            s.url
        ))?;
    }
    Ok(Exit::Success)
}

async fn cycle(config: &Config, only: &[String]) -> anyhow::Result<RefreshReport> {
    for id in only {
        if !config.sources.iter().any(|s| &s.id == id) {
            bail!(UsageError(format!(
                "unknown source id {id:?} (see `roundup check`)"
            )));
        }
    }
    let sources: Vec<_> = config
        .sources
        .iter()
        .filter(|s| {
            if only.is_empty() {
                s.enabled
            } else {
                only.contains(&s.id)
            }
        })
        .collect();
    let store = SharedStore::new(open_store(config)?)?;
    let fetcher = Fetcher::new(&config.fetch).context("cannot build the HTTP client")?;
    Ok(pipeline::refresh_all(config, &sources, &store, &fetcher).await?)
}

fn print_report(report: &RefreshReport) -> anyhow::Result<()> {
    let width = report
        .sources
        .iter()
        .map(|s| s.source_id.len())
        .max()
        .unwrap_or(0);
    for s in &report.sources {
        let line = match &s.outcome {
            SourceOutcome::NotModified { .. } => "ok    304  not modified".to_owned(),
            SourceOutcome::SameBody { status, .. } => {
                format!("ok    {status}  same body as last fetch, not parsed")
            }
            SourceOutcome::Stored { status, report, .. } => format!(
                "ok    {status}  new {}  updated {}  unchanged {}",
                report.new, report.updated, report.unchanged
            ),
            SourceOutcome::Failed { status, error, .. } => format!(
                "error {}  {error}",
                status.map_or_else(|| "---".to_owned(), |c| c.to_string())
            ),
            SourceOutcome::Deferred { until } => format!(
                "skip  ---  server asked to wait until {} (Retry-After)",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            SourceOutcome::Cancelled => "skip  ---  cancelled".to_owned(),
            SourceOutcome::StoreFailed(error) => format!("error ---  {error}"),
        };
        say(&format!("{:<width$}  {line}", s.source_id))?;
    }
    if let Some(hint) = offline_hint(report) {
        eprintln!("roundup: {hint}");
    }
    Ok(())
}

/// When every source (two or more) failed to connect, what that says about this
/// machine: a first run on a host without a network or DNS shows a screen of identical
/// errors that each name one outlet.
fn offline_hint(report: &RefreshReport) -> Option<String> {
    let n = report.sources.len();
    let errors: Vec<&str> = report
        .sources
        .iter()
        .filter_map(|s| match &s.outcome {
            SourceOutcome::Failed {
                status: None,
                error,
                ..
            } if error.starts_with("connection failed:") => Some(error.as_str()),
            _ => None,
        })
        .collect();
    // A refusal comes from a host that answered; a proxy's failure is said on each line.
    let refused = |e: &&str| e.contains("nothing accepts connections");
    if n < 2
        || errors.len() < n
        || errors.iter().all(refused)
        || errors.iter().any(|e| e.contains("the proxy "))
    {
        return None;
    }
    Some(
        if errors
            .iter()
            .all(|e| e.contains("host name does not resolve"))
        {
            format!(
                "no source's host name resolves ({n} of {n}): this machine is offline or \
                 has no working DNS"
            )
        } else {
            format!("no source could be reached ({n} of {n}): is this machine online?")
        },
    )
}

fn exit_for(report: &RefreshReport) -> anyhow::Result<Exit> {
    if let Some(e) = report.storage_error() {
        bail!(crate::store::StoreError::Task(e.to_owned()));
    }
    Ok(if report.failed() > 0 {
        Exit::SourcesFailed
    } else {
        Exit::Success
    })
}

async fn fetch(config: &Config, only: &[String]) -> anyhow::Result<Exit> {
    let report = cycle(config, only).await?;
    print_report(&report)?;
    exit_for(&report)
}

async fn run_once(config: &Config) -> anyhow::Result<Exit> {
    let report = cycle(config, &[]).await?;
    print_report(&report)?;
    let now = Utc::now();
    let store = open_store(config)?;
    let window = Window::ending(now, config.digest.window, config.fetch.timezone);
    let built = digest::build(&store, config, window, now)?;
    for path in digest::write_files(config, &built)? {
        say(&format!("wrote {}", path.display()))?;
    }
    if let Some(email) = &config.digest.email {
        let shared = SharedStore::new(store)?;
        let sent = digest::email::deliver(email, &shared, &built).await;
        if !built.worth_mailing() {
            say("no stories and no failing source: the digest is not mailed")?;
        }
        if sent > 0 {
            say(&format!(
                "emailed {sent} {} to {}",
                digest::plural(sent, "digest", "digests"),
                email.to.join(", ")
            ))?;
        }
        let left = pipeline::with_store(&shared, |s| s.queued_emails())
            .await
            .map_or(0, |q| q.len());
        if left > 0 {
            say(&format!(
                "{left} {} not sent, kept to send with the next digest (the warning \
                 above says why)",
                digest::plural(left, "digest email", "digest emails"),
            ))?;
        }
    }
    let (stories, outlets, folded) = (
        built.story_count(),
        built.outlet_count(),
        built.folded_count(),
    );
    say(&format!(
        "{stories} {} from {outlets} {} ({folded} duplicate {} folded)",
        digest::plural(stories, "story", "stories"),
        digest::plural(outlets, "outlet", "outlets"),
        digest::plural(folded, "report", "reports"),
    ))?;
    exit_for(&report)
}

fn digest_cmd(
    config: &Config,
    window: Option<std::time::Duration>,
    date: Option<NaiveDate>,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<Exit> {
    let now = Utc::now();
    let tz = config.fetch.timezone;
    let window = match date {
        Some(d) => Window::for_date(d, tz),
        None => Window::ending(now, window.unwrap_or(config.digest.window), tz),
    };
    let renderer = digest::renderer(format);
    let store = open_store(config)?;
    let built = digest::build(&store, config, window, now)?;
    if built.regions.is_empty()
        && store
            .source_statuses()?
            .iter()
            .all(|s| s.last_fetch_at.is_none())
    {
        // A new user's first `digest`, right after `init`: say why it is empty.
        eprintln!(
            "roundup: no source has been fetched yet; `roundup fetch` (or `roundup run \
             --once`) fetches them first"
        );
    }
    let text = renderer.render(&built);
    match output {
        Some(path) if path != Path::new("-") => {
            digest::write_atomic(path, &text)?;
            eprintln!("wrote {}", path.display());
        }
        _ => write_stdout(&text)?,
    }
    Ok(Exit::Success)
}

/// One source as `status --format json` prints it.
#[derive(Debug, serde::Serialize)]
struct StatusRow {
    id: String,
    name: Option<String>,
    url: String,
    configured: bool,
    enabled: bool,
    last_fetch: Option<chrono::DateTime<Utc>>,
    last_status: Option<u16>,
    entries: i64,
    consecutive_failures: u32,
    last_error: Option<String>,
    next_fetch: Option<chrono::DateTime<Utc>>,
}

/// Configured sources in config order (never fetched ones too), then sources that are
/// stored but no longer configured.
fn status_rows(config: &Config, store: &Store) -> anyhow::Result<Vec<StatusRow>> {
    let now = Utc::now();
    let mut stored = store.source_statuses()?;
    let mut rows = Vec::new();
    for c in config.sources.iter() {
        let s = stored
            .iter()
            .position(|s| s.id == c.id)
            .map(|i| stored.swap_remove(i));
        // As the daemon scheduled it, while that is still ahead (a fetch since, by
        // `roundup fetch`, may have made it stale); else the next cron tick. Never before
        // the server's Retry-After, which every fetch honours.
        let next = if c.enabled {
            s.as_ref()
                .and_then(|s| s.next_fetch_at)
                .filter(|&t| t > now)
                .or_else(|| {
                    config
                        .schedule_for(c)
                        .next_after(now, config.fetch.timezone)
                })
                .map(|t| {
                    s.as_ref()
                        .and_then(|s| s.retry_after_until)
                        .map_or(t, |until| t.max(until))
                })
        } else {
            None
        };
        rows.push(StatusRow {
            id: c.id.clone(),
            name: Some(c.name.clone()),
            url: c.url.to_string(),
            configured: true,
            enabled: c.enabled,
            last_fetch: s.as_ref().and_then(|s| s.last_fetch_at),
            last_status: s.as_ref().and_then(|s| s.last_status),
            entries: s.as_ref().map_or(0, |s| s.entries),
            consecutive_failures: s.as_ref().map_or(0, |s| s.consecutive_failures),
            last_error: s.as_ref().and_then(|s| s.last_error.clone()),
            next_fetch: next,
        });
    }
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    for s in stored {
        rows.push(StatusRow {
            id: s.id,
            name: None,
            url: s.url,
            configured: false,
            enabled: false,
            last_fetch: s.last_fetch_at,
            last_status: s.last_status,
            entries: s.entries,
            consecutive_failures: s.consecutive_failures,
            last_error: s.last_error,
            next_fetch: None,
        });
    }
    Ok(rows)
}

fn status(config: &Config, format: OutputFormat) -> anyhow::Result<Exit> {
    let store = open_store(config)?;
    let rows = status_rows(config, &store)?;
    if format == OutputFormat::Json {
        write_stdout(&format!("{}\n", serde_json::to_string_pretty(&rows)?))?;
        return Ok(Exit::Success);
    }
    let tz = config.fetch.timezone;
    let fmt_time = |t: Option<chrono::DateTime<Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let w = id_width(rows.iter().map(|r| r.id.as_str()));
    let mut out = format!(
        "{:<w$} {:<16} {:>6} {:>8} {:>8} {:<16} {}\n",
        "SOURCE", "LAST FETCH", "STATUS", "ENTRIES", "FAILURES", "NEXT FETCH", "LAST ERROR"
    );
    for r in rows {
        let next = match (r.configured, r.enabled) {
            (false, _) => "not configured".to_owned(),
            (true, false) => "disabled".to_owned(),
            (true, true) => fmt_time(r.next_fetch),
        };
        out.push_str(&format!(
            "{:<w$} {:<16} {:>6} {:>8} {:>8} {:<16} {}\n",
            r.id,
            fmt_time(r.last_fetch),
            r.last_status
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            r.entries,
            r.consecutive_failures,
            next,
            r.last_error.unwrap_or_default()
        ));
    }
    write_stdout(&out)?;
    Ok(Exit::Success)
}

/// `--since`: a duration back from now, a local date, or an RFC 3339 time.
fn parse_since(text: &str, tz: chrono_tz::Tz) -> anyhow::Result<chrono::DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = humantime::parse_duration(text) {
        let d = chrono::Duration::from_std(d)
            .map_err(|_| UsageError(format!("--since {text}: too long")))?;
        return Ok(Utc::now() - d);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Window::for_date(date, tz).start);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    bail!(UsageError(format!(
        "--since {text:?}: expected a duration (7d, 24h), a date (YYYY-MM-DD) or an RFC 3339 time"
    )))
}

/// What `search --format json` prints.
#[derive(Debug, serde::Serialize)]
struct SearchOutput<'a> {
    query: &'a str,
    results: Vec<crate::store::SearchHit>,
}

fn search(
    config: &Config,
    query: &str,
    since: Option<&str>,
    only: &[String],
    limit: usize,
    format: OutputFormat,
) -> anyhow::Result<Exit> {
    if crate::store::fts_query(query).is_none() {
        bail!(UsageError(format!(
            "search: {query:?} has no words to search for"
        )));
    }
    let since = since
        .map(|s| parse_since(s, config.fetch.timezone))
        .transpose()?;
    let store = open_store(config)?;
    let hits = store.search(&crate::store::SearchQuery {
        text: query,
        since,
        sources: only,
        limit,
    })?;
    let text = match format {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&SearchOutput {
                query,
                results: hits,
            })?
        ),
        OutputFormat::Text => {
            let tz = config.fetch.timezone;
            // Stored text from before feed text was cleaned of control characters must
            // not act on the terminal (see `normalize::is_stray_control`).
            let shown = |text: &str| -> String {
                text.chars()
                    .filter(|&c| !crate::normalize::is_stray_control(c))
                    .collect()
            };
            let mut out = String::new();
            for (i, h) in hits.iter().enumerate() {
                let when = h.published.unwrap_or(h.first_seen);
                let also = match h.also_reported_by {
                    0 => String::new(),
                    n => format!(", +{n} other outlet{}", if n == 1 { "" } else { "s" }),
                };
                out.push_str(&format!(
                    "{}. {}\n   {} · {}{also}\n   {}\n   {}\n",
                    i + 1,
                    shown(&h.title),
                    shown(&h.source_name),
                    when.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                    shown(&h.snippet.split_whitespace().collect::<Vec<_>>().join(" ")),
                    h.url.as_deref().unwrap_or("")
                ));
            }
            if hits.is_empty() {
                out.push_str(&format!("no stored story matches {query:?}\n"));
            }
            out
        }
    };
    write_stdout(&text)?;
    Ok(Exit::Success)
}

/// Writes one line to stdout; a closed pipe is not an error (see [`write_stdout`]).
fn say(line: &str) -> anyhow::Result<()> {
    write_stdout(&format!("{line}\n"))
}

/// Writes to stdout; a closed pipe (`roundup digest | head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Width of a table's id column: the longest id (ids are never cut), at least 14.
fn id_width<'a>(ids: impl Iterator<Item = &'a str>) -> usize {
    ids.map(|id| id.chars().count()).max().unwrap_or(0).max(14)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::SourceReport;

    fn failed(id: &str, status: Option<u16>, error: &str) -> SourceReport {
        SourceReport {
            source_id: id.to_owned(),
            outcome: SourceOutcome::Failed {
                status,
                error: error.to_owned(),
                failures: 1,
                retry_after: None,
            },
        }
    }

    #[test]
    fn every_source_failing_to_connect_says_what_it_says_about_this_machine() {
        let dns = "connection failed: the host name does not resolve (Name or service not known)";
        let refused = "connection failed: nothing accepts connections at this address and port \
                       (Connection refused (os error 111))";
        let report = |sources| RefreshReport { sources };
        assert_eq!(
            offline_hint(&report(vec![
                failed("a", None, dns),
                failed("b", None, dns)
            ]))
            .as_deref(),
            Some(
                "no source's host name resolves (2 of 2): this machine is offline or has no \
                 working DNS"
            )
        );
        assert_eq!(
            offline_hint(&report(vec![
                failed("a", None, dns),
                failed("b", None, refused)
            ]))
            .as_deref(),
            Some("no source could be reached (2 of 2): is this machine online?")
        );
        // One source that answered, even with an error, or a single source: no hint.
        // Nor when every host refused (they answered: a local server not running), or
        // when sources go through a proxy that failed (each line says so).
        let proxy = "connection failed: the proxy socks5h://127.0.0.1:9050 does not accept \
                     connections (is it running?)";
        for sources in [
            vec![failed("a", None, dns), failed("b", Some(404), "HTTP 404")],
            vec![failed("a", None, dns)],
            vec![failed("a", None, refused), failed("b", None, refused)],
            vec![failed("a", None, proxy), failed("b", None, proxy)],
        ] {
            assert_eq!(offline_hint(&report(sources)), None);
        }
    }
}
