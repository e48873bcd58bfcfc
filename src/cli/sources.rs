//! `roundup sources …`: list, add (with discovery), remove, enable, disable, import and
//! export OPML. Every editing command changes the config file through
//! [`crate::sources::edit::ConfigFile`] (validated, atomic, comments kept), then prints
//! how to make a running daemon reload it, or does so with `--reload`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use url::Url;

use super::{Exit, OutputFormat, UsageError, say, truncate, write_stdout};
use crate::config::{Config, Schedule};
use crate::fetch::Fetcher;
use crate::sources::discover::{self, Discovery};
use crate::sources::edit::ConfigFile;
use crate::sources::{self, SourceSpec, SourcesError, opml};

/// `roundup sources` subcommands.
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Table of id, name, region, language, schedule, enabled and URL.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Add a feed, or the feed a web page links to; fetched once to check it.
    Add {
        /// Feed URL, or a web page that links its feed.
        url: String,
        /// What to write in the block.
        #[command(flatten)]
        options: AddOptions,
        /// `--reload`.
        #[command(flatten)]
        reload: Reload,
    },
    /// Remove a source from the config (its stored entries stay unless --purge).
    Remove {
        /// Source id.
        id: String,
        /// Also delete its stored entries and the stories only it reported.
        #[arg(long)]
        purge: bool,
        /// `--reload`.
        #[command(flatten)]
        reload: Reload,
    },
    /// Enable a source.
    Enable {
        /// Source id.
        id: String,
        /// `--reload`.
        #[command(flatten)]
        reload: Reload,
    },
    /// Disable a source (kept in the config, never fetched).
    Disable {
        /// Source id.
        id: String,
        /// `--reload`.
        #[command(flatten)]
        reload: Reload,
    },
    /// Add the feeds of an OPML file (folders become regions, categories tags);
    /// duplicates are skipped and reported.
    Import {
        /// OPML file (`-` for stdin).
        file: PathBuf,
        /// `--reload`.
        #[command(flatten)]
        reload: Reload,
    },
    /// Write the sources as OPML 2.0 (stdout by default).
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `--reload`: signal the running daemon instead of printing the hint.
#[derive(Debug, Clone, Copy, Args)]
pub struct Reload {
    /// Send SIGHUP to the running daemon (pid file beside the database) after the edit.
    #[arg(long)]
    reload: bool,
}

/// Runs a `sources` subcommand against the config file at `path`.
///
/// # Errors
/// Bad input as [`UsageError`] (exit 2, file unchanged); others as they come.
pub async fn run(path: &Path, command: SourcesCommand) -> anyhow::Result<Exit> {
    match command {
        SourcesCommand::List { format } => list(&crate::config::load(path)?, format),
        SourcesCommand::Export { output } => export(&crate::config::load(path)?, output),
        SourcesCommand::Add {
            url,
            options,
            reload,
        } => {
            let file = open(path)?;
            let config = file.validate().map_err(usage)?;
            add(file, &config, &url, options, reload).await
        }
        SourcesCommand::Remove { id, purge, reload } => {
            let mut file = open(path)?;
            file.remove(&id).map_err(usage)?;
            let config = file.save().map_err(usage)?;
            say(&format!("removed {id} from {}", path.display()))?;
            if purge {
                let mut store = crate::store::Store::open(&config.database)?;
                let n = store.purge_source(&id)?;
                say(&format!("purged {n} stored entries of {id}"))?;
            } else {
                say("its stored entries stay (use --purge to delete them)")?;
            }
            after_edit(&config, reload)
        }
        SourcesCommand::Enable { id, reload } => toggle(path, &id, true, reload),
        SourcesCommand::Disable { id, reload } => toggle(path, &id, false, reload),
        SourcesCommand::Import { file, reload } => import(path, &file, reload),
    }
}

fn usage(e: SourcesError) -> anyhow::Error {
    UsageError(e.0).into()
}

fn open(path: &Path) -> anyhow::Result<ConfigFile> {
    ConfigFile::open(path).map_err(usage)
}

fn toggle(path: &Path, id: &str, enabled: bool, reload: Reload) -> anyhow::Result<Exit> {
    let mut file = open(path)?;
    let changed = file.set_enabled(id, enabled).map_err(usage)?;
    let word = if enabled { "enabled" } else { "disabled" };
    if !changed {
        say(&format!(
            "{id} is already {word}; {} unchanged",
            path.display()
        ))?;
        return Ok(Exit::Success);
    }
    let config = file.save().map_err(usage)?;
    say(&format!("{word} {id} in {}", path.display()))?;
    after_edit(&config, reload)
}

/// `sources add` options beyond the URL.
#[derive(Debug, Args)]
pub struct AddOptions {
    /// Id (slug) [default: from the name].
    #[arg(long)]
    id: Option<String>,
    /// Display name [default: the feed's title].
    #[arg(long)]
    name: Option<String>,
    /// Region (digest grouping).
    #[arg(long)]
    region: Option<String>,
    /// Language code, e.g. en, fa, ru [default: the feed's].
    #[arg(long)]
    language: Option<String>,
    /// Tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Cron schedule overriding fetch.schedule.
    #[arg(long)]
    schedule: Option<String>,
    /// Which of several feeds a page links (1-based, as listed).
    #[arg(long, value_name = "N")]
    pick: Option<usize>,
    /// Fetch this source through its own proxy (written as its `proxy`), e.g.
    /// socks5h://127.0.0.1:9050 for Tor; the check fetch goes through it too.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
}

/// The URL to fetch for what the user typed: a scheme is added when missing, and
/// `file://relative` is resolved against the config's folder as in the config itself.
fn parse_url(text: &str, config_dir: &Path) -> Result<Url, SourcesError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("file://")
        && !rest.starts_with('/')
    {
        let path = std::path::absolute(config_dir.join(rest))
            .map_err(|e| SourcesError::new(format!("{text}: {e}")))?;
        return Url::from_file_path(&path)
            .map_err(|()| SourcesError::new(format!("{text}: not a usable file path")));
    }
    // "example.org/news" and "localhost:8080/feed" get https; "javascript:…" or
    // "mailto:…" keep their scheme, to be refused by name below.
    let has_scheme = text.contains("://")
        || text.split_once(':').is_some_and(|(scheme, rest)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-'))
                && !rest.starts_with(|c: char| c.is_ascii_digit())
        });
    // The old `feed:` scheme that browsers and some OPML exports still write:
    // `feed://host/path` is `http://host/path` by convention, and
    // `feed:https://host/path` wraps the URL itself.
    let unfed = text
        .strip_prefix("feed:")
        .filter(|rest| rest.starts_with("http://") || rest.starts_with("https://"))
        .map(str::to_owned)
        .or_else(|| {
            text.strip_prefix("feed://")
                .map(|rest| format!("http://{rest}"))
        });
    let with_scheme = if let Some(unfed) = unfed {
        unfed
    } else if has_scheme {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    match Url::parse(&with_scheme) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => Ok(u),
        Ok(u) => Err(SourcesError::new(format!(
            "{text}: scheme {:?} is not supported (use http, https or file)",
            u.scheme()
        ))),
        Err(e) => Err(SourcesError::new(format!("{text}: invalid URL: {e}"))),
    }
}

async fn add(
    mut file: ConfigFile,
    config: &Config,
    url_text: &str,
    options: AddOptions,
    reload: Reload,
) -> anyhow::Result<Exit> {
    let dir = file
        .path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let url = parse_url(url_text, &dir).map_err(usage)?;
    if let Some(schedule) = &options.schedule {
        Schedule::parse(schedule)
            .map_err(|e| UsageError(format!("--schedule {schedule:?}: {e}")))?;
    }
    if let Some(existing) = sources::duplicate_of(config, options.id.as_deref(), &url) {
        bail!(UsageError(duplicate_message(
            config,
            &existing,
            options.id.as_deref(),
            &url
        )));
    }
    let mut fetch = config.fetch.clone();
    if let Some(proxy) = &options.proxy {
        let parsed = crate::config::parse_proxy(proxy).ok_or_else(|| {
            UsageError(format!(
                "--proxy {proxy:?}: not a proxy URL ({})",
                crate::config::PROXY_FORMS
            ))
        })?;
        fetch.proxy = Some(parsed);
    }
    let fetcher = Fetcher::new(&fetch).context("cannot build the HTTP client")?;
    let found = match discover::discover(&fetcher, &url, options.pick)
        .await
        .map_err(usage)?
    {
        Discovery::Feed(found) => found,
        Discovery::Choices(candidates) => {
            let mut out = format!("{url} links {} feeds:\n", candidates.len());
            for (i, c) in candidates.iter().enumerate() {
                out.push_str(&format!(
                    "  {}. {}  {} ({})\n",
                    i + 1,
                    c.title.as_deref().unwrap_or("(untitled)"),
                    c.url,
                    c.kind
                ));
            }
            write_stdout(&out)?;
            bail!(UsageError(format!(
                "{url}: several feeds; run again with --pick N to choose one"
            )));
        }
    };
    if let Some(existing) = sources::duplicate_of(config, None, &found.url) {
        bail!(UsageError(format!(
            "{}: already configured as source {existing:?}",
            found.url
        )));
    }
    let host = found.url.host_str().unwrap_or("feed").to_owned();
    let name = options
        .name
        .clone()
        .or_else(|| found.title.clone())
        .unwrap_or_else(|| host.clone());
    let id = match options.id.clone() {
        Some(id) => id,
        None => {
            let base = sources::slugify(if name.is_ascii() { &name } else { &host });
            sources::unique_id(&base, |id| config.sources.iter().any(|s| s.id == id))
        }
    };
    // The URL as the user wrote it when it was the feed (keeps `file://relative`).
    let written = if found.url == url && url_text.contains("://") {
        url_text.trim().to_owned()
    } else {
        found.url.to_string()
    };
    let spec = SourceSpec {
        id: id.clone(),
        name: name.clone(),
        url: written,
        site: found.site.as_ref().map(Url::to_string),
        region: options.region,
        language: options.language.or(found.language),
        tags: options.tags,
        schedule: options.schedule,
        enabled: true,
        proxy: options.proxy.map(|p| p.trim().to_owned()),
    };
    file.append(&spec);
    let config = file.save().map_err(usage)?;
    say(&format!("added {id}: {name} <{}>", found.url))?;
    for other in &found.passed_over {
        say(&format!(
            "  not added: the page's comment feed {}<{}>",
            other
                .title
                .as_deref()
                .map_or(String::new(), |t| format!("{t:?} ")),
            other.url
        ))?;
    }
    after_edit(&config, reload)
}

fn duplicate_message(config: &Config, existing: &str, id: Option<&str>, url: &Url) -> String {
    match id {
        Some(id) if id == existing => format!("source id {id:?} is already configured"),
        _ => {
            let configured = config
                .sources
                .iter()
                .find(|s| s.id == existing)
                .map_or_else(String::new, |s| s.url.to_string());
            format!("{url}: already configured as source {existing:?} ({configured})")
        }
    }
}

fn import(path: &Path, opml_path: &Path, reload: Reload) -> anyhow::Result<Exit> {
    let text = if opml_path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| UsageError(format!("stdin: cannot read: {e}")))?
    } else {
        std::fs::read_to_string(opml_path)
            .map_err(|e| UsageError(format!("{}: cannot read: {e}", opml_path.display())))?
    };
    let feeds =
        opml::parse(&text).map_err(|e| UsageError(format!("{}: {e}", opml_path.display())))?;
    let mut file = open(path)?;
    let config = file.validate().map_err(usage)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut taken_ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let mut taken_urls: Vec<(String, String)> = config
        .sources
        .iter()
        .map(|s| (sources::canonical_key(&s.url), s.id.clone()))
        .collect();
    let (mut added, mut skipped) = (0usize, 0usize);
    let mut report = String::new();
    for feed in feeds {
        let label = feed.title.clone().unwrap_or_else(|| feed.xml_url.clone());
        let url = match parse_url(&feed.xml_url, &dir) {
            Ok(u) => u,
            Err(e) => {
                skipped += 1;
                report.push_str(&format!("skipped {label}: {e}\n"));
                continue;
            }
        };
        let key = sources::canonical_key(&url);
        if let Some((_, id)) = taken_urls.iter().find(|(k, _)| *k == key) {
            skipped += 1;
            report.push_str(&format!(
                "skipped {label} <{url}>: duplicate of source {id:?}\n"
            ));
            continue;
        }
        let host = url.host_str().unwrap_or("feed").to_owned();
        let name = feed.title.clone().unwrap_or_else(|| host.clone());
        let base = feed
            .id
            .clone()
            .filter(|id| crate::config::is_slug(id))
            .unwrap_or_else(|| sources::slugify(if name.is_ascii() { &name } else { &host }));
        let id = sources::unique_id(&base, |id| taken_ids.iter().any(|t| t == id));
        let schedule = feed.schedule.filter(|s| match Schedule::parse(s) {
            Ok(_) => true,
            Err(e) => {
                report.push_str(&format!(
                    "note: {label}: roundup:schedule {s:?} ignored ({e}); fetch.schedule applies\n"
                ));
                false
            }
        });
        let site = feed
            .html_url
            .filter(|h| Url::parse(h).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
        let proxy = feed.proxy.filter(|p| {
            let usable = crate::config::parse_proxy(p).is_some();
            if !usable {
                report.push_str(&format!(
                    "note: {label}: roundup:proxy {p:?} ignored (not {})\n",
                    crate::config::PROXY_FORMS
                ));
            }
            usable
        });
        file.append(&SourceSpec {
            id: id.clone(),
            name,
            // As read (`feed://`, no scheme: what the config accepts); a file path as
            // written, relative to the config file.
            url: if matches!(url.scheme(), "http" | "https") {
                url.as_str().to_owned()
            } else {
                feed.xml_url.trim().to_owned()
            },
            site,
            region: feed.folder,
            language: feed.language,
            tags: feed.categories,
            schedule,
            enabled: !feed.disabled,
            proxy,
        });
        taken_ids.push(id);
        taken_urls.push((key, taken_ids.last().cloned().unwrap_or_default()));
        added += 1;
    }
    write_stdout(&report)?;
    if added == 0 {
        say(&format!(
            "imported 0 sources ({skipped} skipped); {} unchanged",
            path.display()
        ))?;
        return Ok(Exit::Success);
    }
    let config = file.save().map_err(usage)?;
    say(&format!(
        "imported {added} sources into {} ({skipped} skipped)",
        path.display()
    ))?;
    after_edit(&config, reload)
}

fn export(config: &Config, output: Option<PathBuf>) -> anyhow::Result<Exit> {
    let urls: Vec<String> = config.sources.iter().map(|s| s.url.to_string()).collect();
    let sites: Vec<Option<String>> = config
        .sources
        .iter()
        .map(|s| s.site.as_ref().map(Url::to_string))
        .collect();
    let feeds: Vec<opml::ExportFeed<'_>> = config
        .sources
        .iter()
        .zip(urls.iter().zip(&sites))
        .map(|(s, (url, site))| opml::ExportFeed {
            id: &s.id,
            title: &s.name,
            xml_url: url,
            html_url: site.as_deref(),
            region: &s.region,
            language: s.language.as_deref(),
            tags: &s.tags,
            schedule: s.schedule.as_ref().map(Schedule::expr),
            enabled: s.enabled,
            proxy: s.proxy.as_ref().map(Url::as_str),
        })
        .collect();
    let text = opml::write("roundup sources", &feeds)?;
    match output {
        Some(path) if path != Path::new("-") => {
            crate::digest::write_atomic(&path, &text)?;
            eprintln!("wrote {} sources to {}", feeds.len(), path.display());
        }
        _ => write_stdout(&text)?,
    }
    Ok(Exit::Success)
}

/// A source as `sources list --format json` prints it.
#[derive(Debug, serde::Serialize)]
struct ListedSource<'a> {
    id: &'a str,
    name: &'a str,
    url: String,
    site: Option<String>,
    region: &'a str,
    language: Option<&'a str>,
    tags: &'a [String],
    schedule: &'a str,
    enabled: bool,
    /// The source's own proxy (`proxy`), as written.
    proxy: Option<&'a str>,
}

fn list(config: &Config, format: OutputFormat) -> anyhow::Result<Exit> {
    let rows: Vec<ListedSource<'_>> = config
        .sources
        .iter()
        .map(|s| ListedSource {
            id: &s.id,
            name: &s.name,
            url: s.url.to_string(),
            site: s.site.as_ref().map(Url::to_string),
            region: &s.region,
            language: s.language.as_deref(),
            tags: &s.tags,
            schedule: config.schedule_for(s).expr(),
            enabled: s.enabled,
            proxy: s.proxy.as_ref().map(Url::as_str),
        })
        .collect();
    let text = match format {
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Text => list_table(&rows),
    };
    write_stdout(&text)?;
    Ok(Exit::Success)
}

/// The text table of `sources list`: one line per source, columns aligned however long
/// an id is.
fn list_table(rows: &[ListedSource<'_>]) -> String {
    let w = super::id_width(rows.iter().map(|r| r.id));
    let mut out = format!(
        "{:<w$} {:<28} {:<14} {:<5} {:<16} {:<7} {}\n",
        "ID", "NAME", "REGION", "LANG", "SCHEDULE", "ENABLED", "URL"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<w$} {:<28} {:<14} {:<5} {:<16} {:<7} {}\n",
            r.id,
            truncate(r.name, 28),
            truncate(r.region, 14),
            r.language.unwrap_or("-"),
            r.schedule,
            if r.enabled { "yes" } else { "no" },
            r.url
        ));
    }
    out
}

/// After a saved edit: signal the daemon (`--reload`) or print the one-line hint.
fn after_edit(config: &Config, reload: Reload) -> anyhow::Result<Exit> {
    let pid_file = config.pid_file();
    if !reload.reload {
        say(&format!(
            "a running daemon applies this on reload: `systemctl reload roundup`, \
             `kill -HUP $(cat {})`, or add --reload",
            pid_file.display()
        ))?;
        return Ok(Exit::Success);
    }
    match signal_daemon(&pid_file) {
        Ok(pid) => {
            say(&format!("sent SIGHUP to the running daemon (pid {pid})"))?;
            Ok(Exit::Success)
        }
        Err(e) => {
            eprintln!("roundup: the config is saved, but the daemon was not reloaded: {e}");
            Ok(Exit::SourcesFailed)
        }
    }
}

/// Sends SIGHUP to the process named in `pid_file`, after checking it is a roundup.
fn signal_daemon(pid_file: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("{}: {e} (is `roundup run` running?)", pid_file.display()))?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{}: not a process id", pid_file.display()))?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !String::from_utf8_lossy(&cmdline).contains("roundup") {
        return Err(format!(
            "{}: process {pid} is not running roundup (stale pid file)",
            pid_file.display()
        ));
    }
    let target = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| format!("{}: bad process id {pid}", pid_file.display()))?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .map_err(|e| format!("cannot signal process {pid}: {e}"))?;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_typed_by_users() {
        let dir = Path::new("/etc/roundup");
        assert_eq!(
            parse_url("example.org/news", dir).unwrap().as_str(),
            "https://example.org/news"
        );
        assert_eq!(
            parse_url("file://feeds/a.xml", dir).unwrap().as_str(),
            "file:///etc/roundup/feeds/a.xml"
        );
        assert_eq!(
            parse_url("localhost:8080/feed", dir).unwrap().as_str(),
            "https://localhost:8080/feed"
        );
        assert_eq!(
            parse_url("feed://example.org/rss", dir).unwrap().as_str(),
            "http://example.org/rss"
        );
        assert_eq!(
            parse_url("feed:https://example.org/rss", dir)
                .unwrap()
                .as_str(),
            "https://example.org/rss"
        );
        assert!(parse_url("ftp://example.org/x", dir).is_err());
        assert!(parse_url("http://exa mple.org/", dir).is_err());
        let err = parse_url("javascript:alert(1)", dir)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scheme \"javascript\" is not supported"),
            "{err}"
        );
    }

    #[test]
    fn the_list_stays_aligned_with_a_long_id() {
        let tags = Vec::new();
        let row = |id| ListedSource {
            id,
            name: "Name",
            url: "https://example.org/feed".to_owned(),
            site: None,
            region: "Central Asia",
            language: None,
            tags: &tags,
            schedule: "*/30 * * * *",
            enabled: true,
            proxy: None,
        };
        let table = list_table(&[row("a"), row("rus-azattyk-org-news")]);
        let name_at: Vec<usize> = table
            .lines()
            .map(|l| l.find("Name").or(l.find("NAME")).unwrap())
            .collect();
        assert_eq!(name_at, [21, 21, 21], "{table}");
    }
}
