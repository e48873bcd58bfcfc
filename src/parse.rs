//! Raw bytes → `feed_rs` model. Detects bodies that are not feeds (HTML pages, empty
//! responses) so the error says so. Pure; no IO.
//!
//! Bytes go to feed-rs untouched (never through a `String`), so the encoding declared in
//! the XML prolog decodes. Ids are *not* generated here: an entry without guid/id gets an
//! empty id, and [`crate::normalize`] builds a stable key instead of feed-rs's title-based
//! or random ones.

mod dates;
pub mod repair;

use feed_rs::model::Feed;
use url::Url;

/// Why a body could not be read as a feed. `Display` is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body was empty or whitespace.
    #[error("empty response, not a feed")]
    Empty,
    /// The body is a web page, not a feed; `feed` is the first feed it links to
    /// (`<link rel="alternate">`), if any, which is likely what the source meant.
    #[error(
        "not a feed: the server returned an HTML page{}",
        .feed.as_ref().map_or(String::new(), |f| format!(
            " that links to the feed {f} (make that the source's url)"
        ))
    )]
    Html {
        /// The feed the page links to, absolute.
        feed: Option<Url>,
    },
    /// The body is not RSS, Atom or JSON Feed.
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// Parses a feed body fetched from `url` (used to resolve relative links).
///
/// # Errors
/// [`ParseError`] when the body is empty, an HTML page, or not a feed feed-rs can read.
pub fn parse_feed(body: &[u8], url: &Url) -> Result<Feed, ParseError> {
    parse_feed_typed(body, url, None)
}

/// [`parse_feed`] with the response's `Content-Type` (its charset decodes the body).
///
/// # Errors
/// As [`parse_feed`].
pub fn parse_feed_typed(
    body: &[u8],
    url: &Url,
    content_type: Option<&str>,
) -> Result<Feed, ParseError> {
    parse_feed_noted(body, url, content_type).map(|parsed| parsed.feed)
}

/// A feed read from a body, and what the reader should know about how.
#[derive(Debug)]
pub struct Parsed {
    /// The feed.
    pub feed: Feed,
    /// The body ended in the middle of the feed: only the items or entries that arrived
    /// whole were read (see [`repair::Repaired::cut_off`]).
    pub cut_off: bool,
}

/// [`parse_feed_typed`], saying whether the feed had been cut off.
///
/// # Errors
/// As [`parse_feed`].
pub fn parse_feed_noted(
    body: &[u8],
    url: &Url,
    content_type: Option<&str>,
) -> Result<Parsed, ParseError> {
    let body = repair::decode_to_utf8(body, repair::charset(content_type));
    let head = sniff_head(body.as_bytes());
    if head.is_empty() {
        return Err(ParseError::Empty);
    }
    if looks_like_html(&head) {
        return Err(html_page(body.as_bytes(), url));
    }
    // HTML entities (`&nbsp;`) either fail the parse or survive as literal text; map
    // them up front. Atom 0.3 parses "successfully" as an empty feed; upgrade it first.
    // Raw HTML in an RSS description is dropped by feed-rs, or fails the whole parse;
    // wrap it in CDATA first.
    let prepared: Option<String> = {
        let t: &str = &body;
        let mut current: Option<String> = repair::drop_inner_declarations(t);
        if let Some(mapped) = repair::map_html_entities(current.as_deref().unwrap_or(t)) {
            current = Some(mapped);
        }
        if let Some(upgraded) = repair::upgrade_atom03(current.as_deref().unwrap_or(t)) {
            current = Some(upgraded);
        }
        if let Some(wrapped) = repair::wrap_raw_markup(current.as_deref().unwrap_or(t)) {
            current = Some(wrapped);
        }
        current
    };
    let text: &str = prepared.as_deref().unwrap_or(&body);
    let body: &[u8] = text.as_bytes();
    match parse_guarded(url, body) {
        Ok(feed) => Ok(Parsed {
            feed,
            cut_off: false,
        }),
        Err(first) => {
            if let Some(parsed) = repair::repair(text).and_then(|fixed| {
                let feed = parse_guarded(url, fixed.text.as_bytes()).ok()?;
                Some(Parsed {
                    feed,
                    cut_off: fixed.cut_off,
                })
            }) {
                return Ok(parsed);
            }
            let lower = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
            if lower.contains("<html") || lower.contains("<body") {
                Err(html_page(body, url))
            } else if let Some(end_tag) = repair::missing_end_tag(text) {
                Err(ParseError::Invalid(format!(
                    "the body ends before the feed does (no {end_tag}), with no item whole: \
                     the server or the connection cut it off"
                )))
            } else {
                Err(first)
            }
        }
    }
}

/// [`ParseError::Html`] for a page fetched from `url`, with the feed it links to.
fn html_page(body: &[u8], url: &Url) -> ParseError {
    ParseError::Html {
        feed: crate::sources::discover::linked_feeds(body, url)
            .into_iter()
            .next()
            .map(|c| c.url),
    }
}

/// feed-rs with a guard: a panic inside the XML reader (a bug in a dependency, as the
/// fuzzer found once) becomes a parse error for this feed instead of a crashed task.
/// Each attempt gets a fresh parser: feed-rs keeps Media RSS state in the parser, and a
/// parser reused after a failed parse trips an assertion (found by fuzzing).
///
/// Relative links resolve against an http(s) feed URL, as against any document's. A
/// feed read from a file (a script's output, a fixture) has no web address of its own:
/// its relative links are left to [`crate::normalize`], which resolves them against the
/// site link the feed gives.
fn parse_guarded(url: &Url, body: &[u8]) -> Result<Feed, ParseError> {
    let base = matches!(url.scheme(), "http" | "https").then_some(url.as_str());
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base)
        .sanitize_content(false)
        .id_generator(|_links, _title, _base| String::new())
        .timestamp_parser(dates::parse_timestamp)
        .build();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ))) => Err(ParseError::Invalid(no_feed_root(body))),
        Ok(Err(e)) => Err(ParseError::Invalid(e.to_string())),
        Err(_) => Err(ParseError::Invalid(
            "the XML reader failed on this document".into(),
        )),
    }
}

/// Why feed-rs found no feed root in `body`: what the root element is when it is XML
/// of another kind (a sitemap's `<urlset>`, an API's `<response>`), so that the error
/// says what the URL serves.
fn no_feed_root(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    match repair::root_element(&text) {
        Some(name) if !matches!(name, "rss" | "feed" | "rdf:RDF" | "RDF") => {
            let name: String = name.chars().take(40).collect();
            format!(
                "the document is XML with the root element <{name}>, not RSS, Atom or JSON Feed"
            )
        }
        Some(name) => format!("<{name}> holds no channel or entries"),
        None => "the body is neither XML nor JSON".to_owned(),
    }
}

/// The first bytes after any BOM and whitespace, lower-cased, for sniffing.
fn sniff_head(body: &[u8]) -> String {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let end = (start + 512).min(body.len());
    String::from_utf8_lossy(&body[start..end]).to_ascii_lowercase()
}

fn looks_like_html(head: &str) -> bool {
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://example.com/feed").unwrap()
    }

    #[test]
    fn html_page_is_not_a_feed() {
        let err = parse_feed(b"<!DOCTYPE html><html><body>Hi</body></html>", &url()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a feed: the server returned an HTML page"
        );
        let err =
            parse_feed(b"\n  <html><head><title>x</title></head></html>", &url()).unwrap_err();
        assert!(matches!(err, ParseError::Html { feed: None }));
    }

    #[test]
    fn xml_that_is_not_a_feed_is_named_by_its_root_element() {
        let sitemap = "<?xml version=\"1.0\"?>\n<!-- generated -->\n<urlset \
                       xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><url><loc>https://example.com/</loc></url></urlset>";
        assert_eq!(
            parse_feed(sitemap.as_bytes(), &url())
                .unwrap_err()
                .to_string(),
            "not a feed: the document is XML with the root element <urlset>, not RSS, Atom or JSON Feed"
        );
        assert_eq!(
            parse_feed(b"GIF89a\x01\x00garbage", &url())
                .unwrap_err()
                .to_string(),
            "not a feed: the body is neither XML nor JSON"
        );
    }

    #[test]
    fn raw_html_in_an_rss_description_is_read_as_html() {
        // Well-formed raw markup (feed-rs alone keeps no text of it) and markup that is
        // not well-formed XML (feed-rs alone rejects the whole feed).
        let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>
            <item><title>One</title><link>https://example.com/1</link>
            <description><p>گروه تماس روسیه اعلام کرد</p></description></item>
            <item><title>Two</title><link>https://example.com/2</link>
            <description><p>Shops closed<br>on Monday</p></description></item>
            </channel></rss>";
        let parsed = parse_feed(feed.as_bytes(), &url()).unwrap();
        let summaries: Vec<String> = parsed
            .entries
            .iter()
            .map(|e| {
                e.summary
                    .as_ref()
                    .map(|s| s.content.clone())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            summaries,
            [
                "<p>گروه تماس روسیه اعلام کرد</p>",
                "<p>Shops closed<br>on Monday</p>"
            ]
        );
    }

    #[test]
    fn dates_in_russian_or_without_a_zone_are_read() {
        let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>
            <item><title>A</title><link>https://t.example/a</link>
              <pubDate>Пн, 25 ноя 2024 10:00:00 +0300</pubDate></item>
            <item><title>B</title><link>https://t.example/b</link>
              <pubDate>2024-11-25 10:00</pubDate></item>
            <item><title>C</title><link>https://t.example/c</link>
              <pubDate>Tue, 26 Nov 2024 08:30:00 GMT</pubDate></item>
            </channel></rss>";
        let feed = parse_feed(feed.as_bytes(), &url()).unwrap();
        let dates: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.published.map(|t| t.to_rfc3339()).unwrap_or_default())
            .collect();
        assert_eq!(
            dates,
            [
                "2024-11-25T07:00:00+00:00",
                "2024-11-25T10:00:00+00:00",
                "2024-11-26T08:30:00+00:00"
            ]
        );
    }

    #[test]
    fn an_html_page_that_links_its_feed_names_it() {
        let page = br#"<!doctype html><html><head><title>Outlet</title>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="News" href="/rss/news.xml">
            </head><body>News</body></html>"#;
        let err = parse_feed(page, &Url::parse("https://outlet.example/en/").unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "not a feed: the server returned an HTML page that links to the feed \
             https://outlet.example/rss/news.xml (make that the source's url)"
        );
    }

    fn titles(feed: &Feed) -> Vec<String> {
        feed.entries
            .iter()
            .map(|e| {
                e.title
                    .as_ref()
                    .map(|t| t.content.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn a_php_warning_printed_before_the_feed_is_skipped() {
        let body = "\n<br />\n<b>Warning</b>:  Undefined variable $x in <b>/var/www/feed.php</b> \
                    on line <b>12</b><br />\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                    <rss version=\"2.0\"><channel><title>T</title><item><title>Herat airport \
                    reopens</title><link>https://t.example/h</link></item></channel></rss>";
        let parsed = parse_feed_noted(body.as_bytes(), &url(), None).unwrap();
        assert_eq!(titles(&parsed.feed), ["Herat airport reopens"]);
        assert!(!parsed.cut_off);
    }

    #[test]
    fn a_feed_cut_off_mid_item_keeps_the_items_that_arrived_whole() {
        let rss = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>\
                   <item><title>One &amp; whole</title><link>https://t.example/1</link></item>\
                   <item><title>Two</title><link>https://t.example/2</link></item>\
                   <item><title>Cut off ite";
        let parsed = parse_feed_noted(rss.as_bytes(), &url(), None).unwrap();
        assert_eq!(titles(&parsed.feed), ["One & whole", "Two"]);
        assert!(parsed.cut_off);
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title>\
                    <entry><id>urn:1</id><title>Whole</title><updated>2026-11-30T10:00:00Z</updated></entry>\
                    <entry><id>urn:2</id><title>Cut";
        let parsed = parse_feed_noted(atom.as_bytes(), &url(), None).unwrap();
        assert_eq!(titles(&parsed.feed), ["Whole"]);
        assert!(parsed.cut_off);
        // Nothing arrived whole: an error that says what happened.
        let err = parse_feed(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item><title>O",
            &url(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a feed: the body ends before the feed does (no </rss>), with no item whole: \
             the server or the connection cut it off"
        );
    }

    #[test]
    fn empty_and_garbage() {
        assert!(matches!(
            parse_feed(b"  \n", &url()),
            Err(ParseError::Empty)
        ));
        assert!(matches!(
            parse_feed(b"\x00\x01binary", &url()),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn entries_without_guid_get_no_generated_id() {
        let xml = br#"<rss version="2.0"><channel><title>t</title>
<item><title>A</title><link>https://example.com/a</link></item></channel></rss>"#;
        let feed = parse_feed(xml, &url()).unwrap();
        assert_eq!(feed.entries[0].id, "");
    }
}
