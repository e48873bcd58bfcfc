//! Raw config → [`Config`]: parse cron, zones, URLs, durations and sizes, resolve paths,
//! and collect every problem with its line instead of stopping at the first.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use url::Url;

use super::raw::{RawDedup, RawDigest, RawEmail, RawFetch, RawSource};
use super::{
    Config, ConfigError, DedupConfig, DigestConfig, EmailConfig, FetchConfig, Format, Password,
    Problem, Schedule, SmtpSecurity, Source,
};
use crate::dedup::Representative;

/// Defaults, shown in `config/roundup.toml`.
const DEFAULT_DATABASE: &str = "roundup.db";
const DEFAULT_SCHEDULE: &str = "*/30 * * * *";
const DEFAULT_DIGEST_SCHEDULE: &str = "0 7 * * *";
const DEFAULT_CONCURRENCY: i64 = 32;
const DEFAULT_PER_HOST: i64 = 2;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_BODY: u64 = 8 * 1024 * 1024;
const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_OUTPUT_DIR: &str = "digests";
const DEFAULT_REGION: &str = "Other";
const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// The default User-Agent; `VERSION` is replaced by the crate version.
pub const DEFAULT_USER_AGENT: &str =
    concat!("roundup/VERSION (+", env!("CARGO_PKG_REPOSITORY"), ")");

/// Parses and validates config text read from `path` (used for messages and to resolve
/// relative paths).
///
/// # Errors
/// [`ConfigError`] with every problem found, each with its line.
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        text,
        base_dir: path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        problems: Vec::new(),
    };
    let config = v.config(path);
    match config {
        Some(c) if v.problems.is_empty() => Ok(c),
        _ => {
            v.problems.sort_by_key(|p| p.line.unwrap_or(0));
            Err(ConfigError {
                path: path.to_owned(),
                problems: v.problems,
            })
        }
    }
}

struct Validator<'t> {
    text: &'t str,
    base_dir: PathBuf,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn problem(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let line = span.map(|s| self.line(&s));
        self.problems.push(Problem {
            line,
            message: message.into(),
        });
    }

    fn de<'i, T: Deserialize<'i>>(
        &mut self,
        value: &Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().or_else(|| Some(value.span()));
                self.problem(span, format!("{what}: {}", e.message()));
                None
            }
        }
    }

    fn config(&mut self, path: &Path) -> Option<Config> {
        let doc = match DeTable::parse(self.text) {
            Ok(doc) => doc,
            Err(e) => {
                self.problem(e.span(), format!("invalid TOML: {}", e.message()));
                return None;
            }
        };
        let mut database: Option<Spanned<String>> = None;
        let mut fetch = RawFetch::default();
        let mut digest = RawDigest::default();
        let mut dedup = RawDedup::default();
        let mut sources: Vec<RawSource> = Vec::new();
        let mut sources_ok = true;
        for (key, value) in doc.get_ref().iter() {
            match key.get_ref().as_ref() {
                "database" => database = self.de(value, "database"),
                "fetch" => fetch = self.de(value, "[fetch]").unwrap_or_default(),
                "digest" => digest = self.de(value, "[digest]").unwrap_or_default(),
                "dedup" => dedup = self.de(value, "[dedup]").unwrap_or_default(),
                "sources" => match value.get_ref() {
                    DeValue::Array(items) => {
                        for item in items.iter() {
                            match self.de::<RawSource>(item, "[[sources]]") {
                                Some(s) => sources.push(s),
                                None => sources_ok = false,
                            }
                        }
                    }
                    _ => self.problem(
                        Some(value.span()),
                        "`sources` must be an array of tables ([[sources]])",
                    ),
                },
                other => self.problem(
                    Some(key.span()),
                    format!(
                        "unknown key `{other}`, expected one of `database`, `fetch`, `digest`, `dedup`, `sources`"
                    ),
                ),
            }
        }
        let database = match database {
            Some(d) => self.path(&d),
            None => clean_path(&self.base_dir.join(DEFAULT_DATABASE)),
        };
        let fetch = self.fetch(fetch);
        let digest = self.digest(digest);
        let dedup = self.dedup(dedup);
        let sources = self.sources(sources);
        Some(Config {
            path: path.to_owned(),
            database,
            fetch: fetch?,
            digest: digest?,
            dedup: dedup?,
            sources: if sources_ok {
                sources.into()
            } else {
                return None;
            },
        })
    }

    fn path(&self, value: &Spanned<String>) -> PathBuf {
        clean_path(&self.base_dir.join(value.get_ref()))
    }

    fn schedule(
        &mut self,
        value: Option<&Spanned<String>>,
        default: &str,
        key: &str,
    ) -> Option<Schedule> {
        let (text, span) = match value {
            Some(v) => (v.get_ref().as_str(), Some(v.span())),
            None => (default, None),
        };
        match Schedule::parse(text) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(
                    span,
                    format!("{key}: invalid cron expression {text:?}: {e}"),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        value: Option<&Spanned<String>>,
        default: Duration,
        key: &str,
    ) -> Option<Duration> {
        let Some(v) = value else { return Some(default) };
        match humantime::parse_duration(v.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.problem(Some(v.span()), format!("{key}: must be longer than zero"));
                None
            }
            Err(e) => {
                self.problem(
                    Some(v.span()),
                    format!(
                        "{key}: invalid duration {:?} ({e}); write e.g. \"30s\", \"15m\", \"24h\"",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn positive(&mut self, value: Option<&Spanned<i64>>, default: i64, key: &str) -> Option<usize> {
        let Some(v) = value else {
            return usize::try_from(default).ok();
        };
        match usize::try_from(*v.get_ref()) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                self.problem(
                    Some(v.span()),
                    format!("{key}: must be at least 1, got {}", v.get_ref()),
                );
                None
            }
        }
    }

    fn fetch(&mut self, raw: RawFetch) -> Option<FetchConfig> {
        let schedule = self.schedule(raw.schedule.as_ref(), DEFAULT_SCHEDULE, "fetch.schedule");
        let timezone = match &raw.timezone {
            None => Some(chrono_tz::UTC),
            Some(tz) => match tz.get_ref().parse::<chrono_tz::Tz>() {
                Ok(z) => Some(z),
                Err(_) => {
                    self.problem(
                        Some(tz.span()),
                        format!(
                            "fetch.timezone: unknown IANA time zone {:?}{}",
                            tz.get_ref(),
                            zone_named(tz.get_ref())
                                .map_or(String::new(), |z| format!(" (did you mean {z:?}?)"))
                        ),
                    );
                    None
                }
            },
        };
        let concurrency = self.positive(
            raw.concurrency.as_ref(),
            DEFAULT_CONCURRENCY,
            "fetch.concurrency",
        );
        let per_host = self.positive(raw.per_host.as_ref(), DEFAULT_PER_HOST, "fetch.per_host");
        let timeout = self.duration(raw.timeout.as_ref(), DEFAULT_TIMEOUT, "fetch.timeout");
        let max_body = match &raw.max_body {
            None => Some(DEFAULT_MAX_BODY),
            Some(v) => match v.get_ref().parse::<bytesize::ByteSize>() {
                Ok(b) if b.as_u64() > 0 => Some(b.as_u64()),
                _ => {
                    self.problem(
                        Some(v.span()),
                        format!(
                            "fetch.max_body: invalid size {:?}; write e.g. \"8 MiB\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let user_agent = raw
            .user_agent
            .as_ref()
            .map_or(DEFAULT_USER_AGENT, |u| u.get_ref().as_str())
            .replace("VERSION", crate::VERSION);
        let proxy = self.proxy(raw.proxy.as_ref(), "fetch.proxy");
        Some(FetchConfig {
            schedule: schedule?,
            timezone: timezone?,
            concurrency: concurrency?,
            per_host: per_host?,
            timeout: timeout?,
            max_body: max_body?,
            user_agent,
            proxy: proxy?,
        })
    }

    fn digest(&mut self, raw: RawDigest) -> Option<DigestConfig> {
        let schedule = self.schedule(
            raw.schedule.as_ref(),
            DEFAULT_DIGEST_SCHEDULE,
            "digest.schedule",
        );
        let window = self.duration(raw.window.as_ref(), DEFAULT_WINDOW, "digest.window");
        let output_dir = raw.output_dir.as_ref().map_or_else(
            || clean_path(&self.base_dir.join(DEFAULT_OUTPUT_DIR)),
            |d| self.path(d),
        );
        let formats = match &raw.formats {
            None => Some(Format::ALL.to_vec()),
            Some(list) => {
                let mut out = Vec::new();
                let mut ok = true;
                for f in list.get_ref() {
                    match Format::from_name(f.get_ref()) {
                        Some(fmt) if !out.contains(&fmt) => out.push(fmt),
                        Some(_) => {}
                        None => {
                            ok = false;
                            self.problem(
                                Some(f.span()),
                                format!(
                                    "digest.formats: unknown format {:?}, expected markdown, html, atom or json",
                                    f.get_ref()
                                ),
                            );
                        }
                    }
                }
                if ok && out.is_empty() {
                    self.problem(
                        Some(list.span()),
                        "digest.formats: list at least one format",
                    );
                    ok = false;
                }
                ok.then_some(out)
            }
        };
        let email = match raw.email {
            None => Some(None),
            Some(e) => self.email(e.into_inner()).map(Some),
        };
        Some(DigestConfig {
            schedule: schedule?,
            window: window?,
            output_dir,
            formats: formats?,
            email: email?,
        })
    }

    fn email(&mut self, raw: RawEmail) -> Option<EmailConfig> {
        let security = match raw.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("starttls") => Some(SmtpSecurity::StartTls),
            Some("tls") => Some(SmtpSecurity::Tls),
            Some("none") => Some(SmtpSecurity::None),
            Some(other) => {
                let span = raw.security.as_ref().map(Spanned::span);
                self.problem(
                    span,
                    format!("digest.email.security: {other:?} is not one of \"starttls\", \"tls\", \"none\""),
                );
                None
            }
        };
        let default_port = match security {
            Some(SmtpSecurity::Tls) => 465,
            Some(SmtpSecurity::None) => 25,
            _ => 587,
        };
        let port = match &raw.port {
            None => Some(default_port),
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.problem(
                        Some(p.span()),
                        format!("digest.email.port: {} is not a port", p.get_ref()),
                    );
                    None
                }
            },
        };
        let mut mailbox = |v: &Spanned<String>, key: &str| match v
            .get_ref()
            .parse::<lettre::message::Mailbox>()
        {
            Ok(_) => Some(v.get_ref().clone()),
            Err(e) => {
                self.problem(
                    Some(v.span()),
                    format!(
                        "digest.email.{key}: {:?} is not a mail address: {e}",
                        v.get_ref()
                    ),
                );
                None
            }
        };
        let from = mailbox(&raw.from, "from");
        let to: Vec<Option<String>> = raw.to.get_ref().iter().map(|t| mailbox(t, "to")).collect();
        if to.is_empty() {
            self.problem(
                Some(raw.to.span()),
                "digest.email.to: list at least one recipient",
            );
        }
        let password = match (&raw.password_env, &raw.password_file) {
            (Some(env), None) => Some(Password::Env(env.get_ref().clone())),
            (None, Some(file)) => Some(Password::File(self.path(file))),
            (None, None) => Some(Password::None),
            (Some(_), Some(file)) => {
                self.problem(
                    Some(file.span()),
                    "digest.email: give password_env or password_file, not both",
                );
                None
            }
        };
        let to: Option<Vec<String>> = to.into_iter().collect();
        Some(EmailConfig {
            host: raw.host.into_inner(),
            port: port?,
            security: security?,
            username: raw.username.map(Spanned::into_inner),
            password: password?,
            from: from?,
            to: to.filter(|t| !t.is_empty())?,
        })
    }

    fn dedup(&mut self, raw: RawDedup) -> Option<DedupConfig> {
        let window = self.duration(raw.window.as_ref(), DEFAULT_DEDUP_WINDOW, "dedup.window");
        let representative = match &raw.representative {
            None => Some(Representative::Earliest),
            Some(r) => match r.get_ref().as_str() {
                "earliest" => Some(Representative::Earliest),
                "config_order" => Some(Representative::ConfigOrder),
                other => {
                    self.problem(
                        Some(r.span()),
                        format!("dedup.representative: {other:?} is not one of \"earliest\", \"config_order\""),
                    );
                    None
                }
            },
        };
        Some(DedupConfig {
            window: window?,
            representative: representative?,
        })
    }

    fn sources(&mut self, raw: Vec<RawSource>) -> Vec<Source> {
        let mut out = Vec::new();
        let mut ids: HashMap<String, Range<usize>> = HashMap::new();
        let mut urls: HashMap<String, (String, Range<usize>)> = HashMap::new();
        for r in raw {
            let id = r.id.get_ref().clone();
            // Lines are counted only for messages: counting per source is quadratic.
            let span = r.id.span();
            if !is_slug(&id) {
                self.problem(
                    Some(r.id.span()),
                    format!(
                        "sources.id: {id:?} must be a slug of a-z, 0-9, '-' and '_' (at most 64)"
                    ),
                );
            } else if let Some(first) = ids.insert(id.clone(), span.clone()) {
                let first = self.line(&first);
                self.problem(
                    Some(r.id.span()),
                    format!("sources.id: duplicate id {id:?} (first on line {first})"),
                );
            }
            let url = self.source_url(&r.url);
            if let Some(u) = &url {
                let key = crate::dedup::canonical::canonicalize(u).to_string();
                if let Some((other, at)) = urls.insert(key, (id.clone(), r.url.span())) {
                    let line = self.line(&at);
                    self.problem(
                        Some(r.url.span()),
                        format!(
                            "sources.url: source {id:?} has the same feed URL as source \
                             {other:?} (line {line})"
                        ),
                    );
                }
            }
            let schedule = match &r.schedule {
                Some(s) => self
                    .schedule(Some(s), "", &format!("source {id:?} schedule"))
                    .map(Some),
                None => Some(None),
            };
            let non_empty = |v: &Option<Spanned<String>>| {
                v.as_ref()
                    .map(|s| s.get_ref().trim().to_owned())
                    .filter(|s| !s.is_empty())
            };
            let site = match &r.site {
                Some(raw) => match Url::parse(raw.get_ref().trim()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(Some(u)),
                    _ => {
                        self.problem(
                            Some(raw.span()),
                            format!("sources.site: {:?} is not an http(s) URL", raw.get_ref()),
                        );
                        None
                    }
                },
                None => Some(None),
            };
            let proxy = self.proxy(r.proxy.as_ref(), "sources.proxy");
            let (Some(url), Some(schedule), Some(site), Some(proxy)) = (url, schedule, site, proxy)
            else {
                continue;
            };
            out.push(Source {
                proxy,
                name: non_empty(&r.name).unwrap_or_else(|| id.clone()),
                region: non_empty(&r.region).unwrap_or_else(|| DEFAULT_REGION.to_owned()),
                language: non_empty(&r.language),
                tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
                enabled: r.enabled.as_ref().is_none_or(|e| *e.get_ref()),
                id,
                url,
                site,
                schedule,
            });
        }
        out
    }

    /// A proxy URL (`key` names it in problems): `Some(None)` when not given, `None` after
    /// a problem.
    fn proxy(&mut self, raw: Option<&Spanned<String>>, key: &str) -> Option<Option<Url>> {
        let Some(raw) = raw else {
            return Some(None);
        };
        match super::parse_proxy(raw.get_ref()) {
            Some(u) => Some(Some(u)),
            None => {
                self.problem(
                    Some(raw.span()),
                    format!(
                        "{key}: {:?} is not a proxy URL ({})",
                        raw.get_ref(),
                        super::PROXY_FORMS
                    ),
                );
                None
            }
        }
    }

    /// `http(s)://…` as is; `file:///abs/path` as is; `file://rel/path` resolved against
    /// the config's folder (the demo config uses this).
    fn source_url(&mut self, raw: &Spanned<String>) -> Option<Url> {
        let text = raw.get_ref().trim();
        if let Some(rest) = text.strip_prefix("file://")
            && !rest.starts_with('/')
        {
            {
                let path = self.base_dir.join(rest);
                let abs = clean_path(&std::path::absolute(&path).unwrap_or(path));
                return match Url::from_file_path(&abs) {
                    Ok(u) => Some(u),
                    Err(()) => {
                        self.problem(
                            Some(raw.span()),
                            format!("sources.url: bad file path {text:?}"),
                        );
                        None
                    }
                };
            }
        }
        match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => Some(u),
            Ok(u) => {
                self.problem(
                    Some(raw.span()),
                    format!(
                        "sources.url: scheme {:?} is not supported (use http, https or file)",
                        u.scheme()
                    ),
                );
                None
            }
            Err(url::ParseError::RelativeUrlWithoutBase) if !text.contains("://") => {
                self.problem(
                    Some(raw.span()),
                    format!(
                        "sources.url: {text:?} has no scheme (did you mean \"https://{}\"?)",
                        text.trim()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(
                    Some(raw.span()),
                    format!("sources.url: invalid URL {text:?}: {e}"),
                );
                None
            }
        }
    }
}

/// Folds `.` and `dir/..` lexically so paths print the way users wrote them
/// (`config/../demo` becomes `demo`). Symlinks are not resolved.
fn clean_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

pub(crate) fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The IANA zone a bare city or zone name stands for ("Kabul" → "Asia/Kabul",
/// "tashkent" → "Asia/Tashkent"), when exactly one zone ends with it.
fn zone_named(name: &str) -> Option<&'static str> {
    let wanted = name.trim().replace(' ', "_").to_lowercase();
    let mut found = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|z| {
        z.rsplit('/')
            .next()
            .is_some_and(|city| city.to_lowercase() == wanted)
            || z.to_lowercase() == wanted
    });
    match (found.next(), found.next()) {
        (Some(zone), None) => Some(zone),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_str(text, Path::new("/etc/roundup/roundup.toml"))
    }

    #[test]
    fn starter_and_demo_configs_parse() {
        let starter = parse(crate::config::STARTER_CONFIG).unwrap();
        assert!(starter.sources.len() >= 12, "starter lists real outlets");
        assert!(
            starter
                .sources
                .iter()
                .all(|s| s.language.is_some() && s.region != DEFAULT_REGION)
        );
        let demo_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
        let demo = crate::config::load(&demo_path).unwrap();
        assert!(demo.sources.iter().all(|s| s.url.scheme() == "file"));
    }

    #[test]
    fn defaults_apply() {
        let c = parse("[[sources]]\nid = \"a\"\nurl = \"https://example.com/feed\"\n").unwrap();
        assert_eq!(c.database, PathBuf::from("/etc/roundup/roundup.db"));
        assert_eq!(c.fetch.concurrency, 32);
        assert_eq!(c.fetch.max_body, 8 * 1024 * 1024);
        assert_eq!(c.fetch.timeout, Duration::from_secs(30));
        assert!(
            c.fetch
                .user_agent
                .starts_with(&format!("roundup/{}", crate::VERSION))
        );
        assert_eq!(c.sources[0].name, "a");
        assert!(c.sources[0].enabled);
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let text = r#"database = "x.db"
colour = "blue"

[fetch]
schedule = "not cron"
timeout = "soon"
max_body = "lots"

[digest]
formats = ["markdown", "pdf"]

[[sources]]
id = "a"
url = "ftp://example.com/feed"

[[sources]]
id = "a"
url = "https://example.com/feed"
homepage = "https://example.com"
"#;
        let err = parse(text).unwrap_err();
        let lines: Vec<_> = err.problems.iter().map(|p| p.line).collect();
        let all = err.to_string();
        assert!(
            all.contains("/etc/roundup/roundup.toml:2: unknown key `colour`"),
            "{all}"
        );
        assert!(all.contains(":5: fetch.schedule"), "{all}");
        assert!(all.contains(":6: fetch.timeout"), "{all}");
        assert!(all.contains(":7: fetch.max_body"), "{all}");
        assert!(
            all.contains(":10: digest.formats: unknown format \"pdf\""),
            "{all}"
        );
        assert!(all.contains(":14: sources.url: scheme \"ftp\""), "{all}");
        assert!(all.contains("homepage"), "{all}");
        assert!(lines.iter().all(Option::is_some), "{all}");
    }

    #[test]
    fn duplicate_ids_and_urls_are_errors() {
        let text = "[[sources]]\nid = \"a\"\nurl = \"https://Example.com/feed?utm_source=x\"\n\n[[sources]]\nid = \"a\"\nurl = \"https://example.com/feed\"\n";
        let all = parse(text).unwrap_err().to_string();
        assert!(
            all.contains(":6: sources.id: duplicate id \"a\" (first on line 2)"),
            "{all}"
        );
        assert!(
            all.contains(
                ":7: sources.url: source \"a\" has the same feed URL as source \"a\" (line 3)"
            ),
            "{all}"
        );
    }

    #[test]
    fn proxies_are_http_or_socks_urls() {
        let c = parse(
            "[fetch]\nproxy = \"http://10.0.0.1:3128\"\n\n[[sources]]\nid = \"a\"\nurl = \"https://a.example/rss\"\nproxy = \"socks5h://127.0.0.1:9050\"\n\n[[sources]]\nid = \"b\"\nurl = \"https://b.example/rss\"\n",
        )
        .unwrap();
        assert_eq!(
            c.fetch.proxy.as_ref().map(Url::as_str),
            Some("http://10.0.0.1:3128/")
        );
        assert_eq!(
            c.sources[0].proxy.as_ref().map(Url::as_str),
            Some("socks5h://127.0.0.1:9050")
        );
        assert_eq!(c.sources[1].proxy, None);
        let all = parse(
            "[fetch]\nproxy = \"127.0.0.1:9050\"\n\n[[sources]]\nid = \"a\"\nurl = \"https://a.example/rss\"\nproxy = \"ftp://p.example\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            all.contains(":2: fetch.proxy: \"127.0.0.1:9050\" is not a proxy URL"),
            "{all}"
        );
        assert!(
            all.contains(":7: sources.proxy: \"ftp://p.example\" is not a proxy URL"),
            "{all}"
        );
    }

    #[test]
    fn a_bare_city_or_a_url_without_scheme_is_answered_with_what_was_meant() {
        let text = "[fetch]\ntimezone = \"kabul\"\n\n[[sources]]\nid = \"tolo\"\nurl = \"tolonews.com/rss\"\n";
        let all = parse(text).unwrap_err().to_string();
        assert!(
            all.contains(
                ":2: fetch.timezone: unknown IANA time zone \"kabul\" (did you mean \"Asia/Kabul\"?)"
            ),
            "{all}"
        );
        assert!(
            all.contains(
                ":6: sources.url: \"tolonews.com/rss\" has no scheme (did you mean \"https://tolonews.com/rss\"?)"
            ),
            "{all}"
        );
        // No guess when no zone fits; a whole zone name in other letter case is found.
        assert_eq!(zone_named("Atlantis"), None);
        assert_eq!(zone_named("asia/tashkent"), Some("Asia/Tashkent"));
    }

    #[test]
    fn relative_file_urls_resolve_against_the_config_folder() {
        let c = parse("[[sources]]\nid = \"a\"\nurl = \"file://feeds/a.xml\"\n").unwrap();
        assert_eq!(c.sources[0].url.as_str(), "file:///etc/roundup/feeds/a.xml");
    }

    #[test]
    fn six_field_cron_is_accepted() {
        let c =
            parse("[fetch]\nschedule = \"*/5 * * * * *\"\ntimezone = \"Asia/Kabul\"\n").unwrap();
        assert_eq!(c.fetch.schedule.expr(), "*/5 * * * * *");
        assert_eq!(c.fetch.timezone, chrono_tz::Asia::Kabul);
    }
}
