//! Managing sources: the `roundup sources …` commands' logic. The config file stays the
//! single source of truth; these functions edit it (see [`edit`]), find feeds on web
//! pages ([`discover`]) and read and write OPML 2.0 ([`opml`]).

pub mod discover;
pub mod edit;
pub mod opml;

use crate::config::Config;
use crate::dedup::canonical;

/// A bad argument, file or feed for a `sources` command: one line, exit 2, config
/// unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourcesError(pub String);

impl SourcesError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> SourcesError {
        SourcesError(message.into())
    }
}

/// One `[[sources]]` block to be written, as the user (or an OPML file) gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Slug.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Feed URL, as it will be written.
    pub url: String,
    /// The outlet's web site.
    pub site: Option<String>,
    /// Region (digest grouping); unset means the config default.
    pub region: Option<String>,
    /// Language code.
    pub language: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Cron schedule overriding `fetch.schedule`.
    pub schedule: Option<String>,
    /// `enabled = false` is written only for disabled sources.
    pub enabled: bool,
    /// The source's own proxy URL (`proxy`), when it has one.
    pub proxy: Option<String>,
}

/// A slug for `text` (a feed title or host): lower-case ASCII letters and digits joined
/// by `-`, at most 40 characters; `source` when nothing is left (e.g. a Persian title).
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "source".to_owned()
    } else {
        slug
    }
}

/// `base`, or `base-2`, `base-3`… whichever is not yet taken.
pub fn unique_id(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken(id))
        .unwrap_or_else(|| base.to_owned())
}

/// The canonical form of a feed URL, for duplicate checks (tracking parameters,
/// default ports and case do not make a different feed).
pub fn canonical_key(url: &url::Url) -> String {
    canonical::canonicalize(url).to_string()
}

/// The id of the configured source with the same id or the same canonical feed URL.
pub fn duplicate_of(config: &Config, id: Option<&str>, url: &url::Url) -> Option<String> {
    let key = canonical_key(url);
    config
        .sources
        .iter()
        .find(|s| Some(s.id.as_str()) == id || canonical_key(&s.url) == key)
        .map(|s| s.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slugify("Afghanistan International"),
            "afghanistan-international"
        );
        assert_eq!(slugify("  BBC News — Persian!  "), "bbc-news-persian");
        assert_eq!(slugify("بی‌بی‌سی فارسی"), "source");
        assert_eq!(slugify("Медуза"), "source");
        assert!(slugify(&"x".repeat(100)).len() <= 40);
        let taken = ["a", "a-2"];
        assert_eq!(unique_id("a", |id| taken.contains(&id)), "a-3");
        assert_eq!(unique_id("b", |id| taken.contains(&id)), "b");
    }
}
