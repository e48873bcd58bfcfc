//! Raw bytes → `feed_rs` model. Detects bodies that are not feeds (HTML pages, empty
//! responses) so the error says so. Pure; no IO.
//!
//! Bytes go to feed-rs untouched (never through a `String`), so the encoding declared in
//! the XML prolog decodes. Ids are *not* generated here: an entry without guid/id gets an
//! empty id, and [`crate::normalize`] builds a stable key instead of feed-rs's title-based
//! or random ones.

use feed_rs::model::Feed;
use url::Url;

/// Why a body could not be read as a feed. `Display` is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body was empty or whitespace.
    #[error("empty response, not a feed")]
    Empty,
    /// The body is a web page, not a feed.
    #[error("not a feed: the server returned an HTML page")]
    Html,
    /// The body is not RSS, Atom or JSON Feed.
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// Parses a feed body fetched from `url` (used to resolve relative links).
///
/// # Errors
/// [`ParseError`] when the body is empty, an HTML page, or not a feed feed-rs can read.
pub fn parse_feed(body: &[u8], url: &Url) -> Result<Feed, ParseError> {
    let head = sniff_head(body);
    if head.is_empty() {
        return Err(ParseError::Empty);
    }
    if looks_like_html(&head) {
        return Err(ParseError::Html);
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(url.as_str()))
        .sanitize_content(false)
        .id_generator(|_links, _title, _base| String::new())
        .build();
    parser.parse(body).map_err(|e| {
        let lower = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
        if lower.contains("<html") || lower.contains("<body") {
            ParseError::Html
        } else {
            ParseError::Invalid(e.to_string())
        }
    })
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
        assert!(matches!(err, ParseError::Html));
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
