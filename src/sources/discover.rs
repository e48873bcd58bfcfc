//! Finds the feed behind a URL the user gives to `sources add`, as Miniflux's
//! subscription finder does: the URL itself when it is a feed; otherwise the page's
//! `<link rel="alternate" type="application/rss+xml|atom+xml|feed+json">` links; and when
//! a page has none, the usual feed paths of its site (`/feed`, `/rss.xml`, …). Every
//! request goes through the normal [`Fetcher`] (limits, redirects, timeouts).

use scraper::{Html, Selector};
use url::Url;

use super::SourcesError;
use crate::fetch::{FetchOutcome, Fetcher};
use crate::model::FetchState;

/// Feed MIME types accepted in `<link rel="alternate">`.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
];

/// Paths tried on a site whose page links no feed (the ones Miniflux tries).
const WELL_KNOWN: &[&str] = &[
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.atom",
    "/index.rss",
];

/// A feed that was fetched and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFeed {
    /// The feed's URL (after redirects).
    pub url: Url,
    /// The feed's title.
    pub title: Option<String>,
    /// The site the feed belongs to (its `<link>`, or the page it was found on).
    pub site: Option<Url>,
    /// The feed's declared language.
    pub language: Option<String>,
    /// Comment feeds the page also links, passed over for this one (see [`discover`]).
    pub passed_over: Vec<Candidate>,
}

/// A feed linked from a page, not fetched yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Absolute feed URL.
    pub url: Url,
    /// The link's `title` attribute.
    pub title: Option<String>,
    /// The link's `type`.
    pub kind: String,
}

/// What a URL turned out to be.
#[derive(Debug)]
pub enum Discovery {
    /// A feed (the URL itself, the page's only feed, or the one picked).
    Feed(Box<FoundFeed>),
    /// A page linking several feeds and no `--pick`: the user chooses.
    Choices(Vec<Candidate>),
}

/// Resolves `url` to a feed. `pick` (1-based) chooses among several linked feeds.
///
/// # Errors
/// One line naming the URL when it cannot be fetched, is neither a feed nor a page that
/// links to one, or `pick` is out of range.
pub async fn discover(
    fetcher: &Fetcher,
    url: &Url,
    pick: Option<usize>,
) -> Result<Discovery, SourcesError> {
    let page = get(fetcher, url).await?;
    if let Ok(feed) = page.feed() {
        return Ok(Discovery::Feed(Box::new(page.found(feed, None))));
    }
    let mut candidates = linked_feeds(&page.body, &page.url);
    if candidates.is_empty()
        && matches!(page.url.scheme(), "http" | "https")
        && let Some(found) = guess(fetcher, &page.url).await
    {
        return Ok(Discovery::Feed(Box::new(found)));
    }
    let chosen = match (candidates.len(), pick) {
        (0, _) => {
            return Err(SourcesError::new(format!(
                "{url}: neither a feed nor a page that links to one"
            )));
        }
        (n, Some(p)) if p == 0 || p > n => {
            return Err(SourcesError::new(format!(
                "{url}: --pick {p} is out of range: the page links {n} feed(s)"
            )));
        }
        (_, Some(p)) => candidates.swap_remove(p - 1),
        (1, None) => candidates.swap_remove(0),
        (_, None) => {
            let mut main = (0..candidates.len()).filter(|&i| !is_comments_feed(&candidates[i]));
            match (main.next(), main.next()) {
                (Some(only), None) => candidates.remove(only),
                _ => return Ok(Discovery::Choices(candidates)),
            }
        }
    };
    let linked = get(fetcher, &chosen.url).await?;
    match linked.feed() {
        Ok(feed) => Ok(Discovery::Feed(Box::new(FoundFeed {
            passed_over: candidates,
            ..linked.found(feed, Some(&page.url))
        }))),
        Err(e) => Err(SourcesError::new(format!(
            "{url}: the page links {} but it is {e}",
            chosen.url
        ))),
    }
}

/// Whether a linked feed is one of comments: WordPress links its "Comments Feed"
/// (`/comments/feed/`) beside the site's feed on every page, and an article page adds
/// the article's own ("… Comments Feed"), in the site's language.
fn is_comments_feed(candidate: &Candidate) -> bool {
    let path = candidate.url.path().to_lowercase();
    let title = candidate.title.as_deref().unwrap_or("").to_lowercase();
    path.split('/').any(|segment| segment == "comments")
        || ["comments", "комментари", "دیدگاه", "نظرات"]
            .iter()
            .any(|word| title.contains(word))
}

/// A fetched body and where it came from.
struct Page {
    url: Url,
    body: Vec<u8>,
    content_type: Option<String>,
}

impl Page {
    fn feed(&self) -> Result<feed_rs::model::Feed, crate::parse::ParseError> {
        crate::parse::parse_feed_typed(&self.body, &self.url, self.content_type.as_deref())
    }

    fn found(&self, feed: feed_rs::model::Feed, page: Option<&Url>) -> FoundFeed {
        let site = feed
            .links
            .iter()
            .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .filter_map(|l| self.url.join(&l.href).ok())
            .find(|u| matches!(u.scheme(), "http" | "https") && u != &self.url)
            .or_else(|| {
                page.filter(|p| matches!(p.scheme(), "http" | "https"))
                    .cloned()
            });
        FoundFeed {
            url: self.url.clone(),
            title: feed
                .title
                .map(|t| crate::normalize::to_plain_text(&t.content))
                .filter(|t| !t.is_empty()),
            site,
            language: feed.language.filter(|l| !l.trim().is_empty()),
            passed_over: Vec::new(),
        }
    }
}

async fn get(fetcher: &Fetcher, url: &Url) -> Result<Page, SourcesError> {
    match fetcher.fetch(url, &FetchState::default()).await {
        Ok(FetchOutcome::Fetched(f)) => Ok(Page {
            url: f.meta.final_url,
            content_type: f.meta.content_type,
            body: f.body,
        }),
        Ok(FetchOutcome::NotModified(_)) => Err(SourcesError::new(format!(
            "{url}: the server answered 304 to an unconditional request"
        ))),
        Err(e) => Err(SourcesError::new(format!("{url}: cannot fetch: {e}"))),
    }
}

/// The first well-known feed path of `page`'s site that serves a feed.
async fn guess(fetcher: &Fetcher, page: &Url) -> Option<FoundFeed> {
    for path in WELL_KNOWN {
        let Ok(url) = page.join(path) else { continue };
        if let Ok(p) = get(fetcher, &url).await
            && let Ok(feed) = p.feed()
        {
            return Some(p.found(feed, Some(page)));
        }
    }
    None
}

/// The feeds a page links with `<link rel="alternate" type=…>`, absolute, in page
/// order, without repeats.
pub fn linked_feeds(body: &[u8], page: &Url) -> Vec<Candidate> {
    let text = String::from_utf8_lossy(body);
    let html = Html::parse_document(&text);
    let (Ok(links), Ok(base)) = (Selector::parse("link[href]"), Selector::parse("base[href]"))
    else {
        return Vec::new();
    };
    let base = html
        .select(&base)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page.join(h.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let mut out: Vec<Candidate> = Vec::new();
    for link in html.select(&links) {
        let el = link.value();
        let alternate = el.attr("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case("alternate"))
        });
        let kind = el
            .attr("type")
            .map(|t| t.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let kind = kind.split(';').next().unwrap_or("").trim().to_owned();
        if !alternate || !FEED_TYPES.contains(&kind.as_str()) {
            continue;
        }
        let Some(url) = el
            .attr("href")
            .and_then(|h| base.join(h.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https" | "file"))
        else {
            continue;
        };
        if out.iter().any(|c| c.url == url) {
            continue;
        }
        out.push(Candidate {
            url,
            title: el
                .attr("title")
                .map(crate::normalize::to_plain_text)
                .filter(|t| !t.is_empty()),
            kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_alternate_feed_links_resolved_against_base() {
        let page = Url::parse("https://news.example/world/index.html").unwrap();
        let html = br#"<!doctype html><html><head>
            <base href="https://cdn.example/site/">
            <link rel="stylesheet" href="s.css" type="text/css">
            <link rel="alternate" type="application/rss+xml" title="All news" href="rss.xml">
            <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="/atom">
            <link rel="alternate" type="application/rss+xml" href="rss.xml">
            <link rel="alternate" type="text/html" hreflang="fa" href="/fa/">
            <link rel="alternate" type="application/feed+json" href="javascript:alert(1)">
            </head><body><a href="/feed">feed</a></body></html>"#;
        let found = linked_feeds(html, &page);
        let urls: Vec<&str> = found.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://cdn.example/site/rss.xml",
                "https://cdn.example/atom"
            ]
        );
        assert_eq!(found[0].title.as_deref(), Some("All news"));
        assert_eq!(found[1].kind, "application/atom+xml");
    }

    #[test]
    fn a_page_without_feed_links_has_no_candidates() {
        let page = Url::parse("https://news.example/").unwrap();
        assert!(linked_feeds(b"<html><body>hello</body></html>", &page).is_empty());
        assert!(linked_feeds(b"\xff\xfe garbage", &page).is_empty());
    }
}
