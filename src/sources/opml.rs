//! OPML 2.0 subscription lists: read the shapes Miniflux, FreshRSS, newsboat and other
//! readers write (nested folders, `text` without `title`, no `htmlUrl`, `category`
//! attributes), and write one that they read back.
//!
//! Mapping (chosen where OPML and roundup differ):
//! * a folder outline (one without `xmlUrl`) is the region of the feeds inside it (the
//!   innermost folder when nested); a feed outside any folder gets the default region;
//! * the `category` attribute (comma-separated, slash-delimited paths) becomes tags;
//! * `language` is OPML 2.0's own attribute; roundup's id, schedule, `enabled` and proxy travel
//!   as `roundup:` attributes, so `export` then `import` gives back the same sources.
//!
//! quick-xml does not expand DTD entities, so entity bombs and external entities in an
//! OPML file are errors, not work.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::{Reader, Writer};

/// Namespace of the `roundup:` attributes.
const ROUNDUP_NS: &str = "https://github.com/roundup-news/roundup/opml";

/// One feed outline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `title`, else `text`.
    pub title: Option<String>,
    /// `xmlUrl`.
    pub xml_url: String,
    /// `htmlUrl`.
    pub html_url: Option<String>,
    /// `language`.
    pub language: Option<String>,
    /// Innermost enclosing folder's title or text.
    pub folder: Option<String>,
    /// From the `category` attribute.
    pub categories: Vec<String>,
    /// `roundup:id`.
    pub id: Option<String>,
    /// `roundup:schedule`.
    pub schedule: Option<String>,
    /// `roundup:enabled="false"`.
    pub disabled: bool,
    /// `roundup:proxy`.
    pub proxy: Option<String>,
}

/// Reads the feed outlines of an OPML document, in document order.
///
/// # Errors
/// One line (with the byte offset for malformed XML) when the text is not OPML.
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut feeds = Vec::new();
    // One entry per open <outline>: the folder name it opens (None for a feed outline).
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut seen_root = false;
    let mut seen_body = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed OPML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name();
                let name: &str = name.as_ref();
                if !seen_root {
                    if !name.eq_ignore_ascii_case("opml") {
                        return Err(format!("not an OPML file: the root element is <{}>", name));
                    }
                    seen_root = true;
                    continue;
                }
                if name.eq_ignore_ascii_case("body") {
                    seen_body = true;
                }
                if !name.eq_ignore_ascii_case("outline") {
                    continue;
                }
                let attrs = attributes(e)?;
                let get = |key: &str| {
                    attrs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.trim().to_owned())
                        .filter(|v| !v.is_empty())
                };
                let label = get("title").or_else(|| get("text"));
                let opened = match get("xmlUrl") {
                    Some(xml_url) => {
                        feeds.push(OpmlFeed {
                            title: label,
                            xml_url,
                            html_url: get("htmlUrl"),
                            language: get("language"),
                            folder: stack.iter().rev().flatten().next().cloned(),
                            categories: get("category").map(|c| categories(&c)).unwrap_or_default(),
                            id: get("roundup:id"),
                            schedule: get("roundup:schedule"),
                            disabled: get("roundup:enabled").is_some_and(|v| v == "false"),
                            proxy: get("roundup:proxy"),
                        });
                        None
                    }
                    None => label,
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(opened);
                }
            }
            Event::End(ref e) if is_outline(e.local_name().as_ref()) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err("not an OPML file: no <opml> element".to_owned());
    }
    if !seen_body {
        return Err("not an OPML file: no <body> element".to_owned());
    }
    Ok(feeds)
}

fn is_outline(name: &str) -> bool {
    name.eq_ignore_ascii_case("outline")
}

fn attributes(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, String> {
    e.attributes()
        .map(|a| {
            let a = a.map_err(|e| format!("malformed OPML attribute: {e}"))?;
            let key: &str = a.key.as_ref();
            let key = key.to_owned();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| format!("malformed OPML attribute {key}: {e}"))?;
            Ok((key, value.into_owned()))
        })
        .collect()
}

/// `"/News/World, tech"` → `["News", "World", "tech"]`.
fn categories(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',').flat_map(|p| p.split('/')) {
        let part = part.trim();
        if !part.is_empty() && !out.iter().any(|o| o == part) {
            out.push(part.to_owned());
        }
    }
    out
}

/// One feed to export.
#[derive(Debug, Clone)]
pub struct ExportFeed<'a> {
    /// Source id.
    pub id: &'a str,
    /// Name.
    pub title: &'a str,
    /// Feed URL.
    pub xml_url: &'a str,
    /// Site URL.
    pub html_url: Option<&'a str>,
    /// Region (the folder).
    pub region: &'a str,
    /// Language.
    pub language: Option<&'a str>,
    /// Tags (the `category` attribute).
    pub tags: &'a [String],
    /// Own schedule.
    pub schedule: Option<&'a str>,
    /// Enabled.
    pub enabled: bool,
    /// The source's own proxy.
    pub proxy: Option<&'a str>,
}

/// Writes an OPML 2.0 document: one folder outline per region (in first-seen order),
/// feed outlines inside with `type="rss"`, `text`, `title`, `xmlUrl`, `htmlUrl`,
/// `language`, `category` and the `roundup:` attributes.
///
/// # Errors
/// Only if writing to memory fails.
pub fn write(title: &str, feeds: &[ExportFeed<'_>]) -> std::io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("opml")
        .with_attributes([("version", "2.0"), ("xmlns:roundup", ROUNDUP_NS)])
        .write_inner_content(|w| {
            w.create_element("head").write_inner_content(|w| {
                w.create_element("title")
                    .write_text_content(quick_xml::events::BytesText::new(title))?;
                Ok(())
            })?;
            w.create_element("body").write_inner_content(|w| {
                let mut regions: Vec<&str> = Vec::new();
                for f in feeds {
                    if !regions.contains(&f.region) {
                        regions.push(f.region);
                    }
                }
                for region in regions {
                    w.create_element("outline")
                        .with_attributes([("text", region), ("title", region)])
                        .write_inner_content(|w| {
                            for f in feeds.iter().filter(|f| f.region == region) {
                                write_feed(w, f)?;
                            }
                            Ok(())
                        })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    let mut text = String::from_utf8_lossy(&w.into_inner()).into_owned();
    text.push('\n');
    Ok(text)
}

fn write_feed(w: &mut Writer<Vec<u8>>, f: &ExportFeed<'_>) -> std::io::Result<()> {
    let tags = f.tags.join(",");
    let mut attrs: Vec<(&str, &str)> = vec![
        ("type", "rss"),
        ("text", f.title),
        ("title", f.title),
        ("xmlUrl", f.xml_url),
    ];
    if let Some(h) = f.html_url {
        attrs.push(("htmlUrl", h));
    }
    if let Some(l) = f.language {
        attrs.push(("language", l));
    }
    if !tags.is_empty() {
        attrs.push(("category", &tags));
    }
    attrs.push(("roundup:id", f.id));
    if let Some(s) = f.schedule {
        attrs.push(("roundup:schedule", s));
    }
    if !f.enabled {
        attrs.push(("roundup:enabled", "false"));
    }
    if let Some(p) = f.proxy {
        attrs.push(("roundup:proxy", p));
    }
    w.create_element("outline")
        .with_attributes(attrs)
        .write_empty()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_folders_text_only_and_categories() {
        let text = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="News">
    <outline text="Asia">
      <outline type="rss" text="Afghanistan International" xmlUrl="https://www.afintl.com/en/rss"/>
    </outline>
    <outline type="rss" title="Meduza" text="ignored" xmlUrl="https://meduza.io/rss/en/all" htmlUrl="https://meduza.io/en" category="/Russia/Politics,exile"/>
  </outline>
  <outline type="rss" text="Loose &amp; free" xmlUrl="https://example.org/feed?a=1&amp;b=2"/>
</body></opml>"#;
        let feeds = parse(text).unwrap();
        assert_eq!(feeds.len(), 3);
        assert_eq!(feeds[0].title.as_deref(), Some("Afghanistan International"));
        assert_eq!(feeds[0].folder.as_deref(), Some("Asia"));
        assert_eq!(feeds[1].title.as_deref(), Some("Meduza"));
        assert_eq!(feeds[1].folder.as_deref(), Some("News"));
        assert_eq!(feeds[1].categories, ["Russia", "Politics", "exile"]);
        assert_eq!(feeds[1].html_url.as_deref(), Some("https://meduza.io/en"));
        assert_eq!(feeds[2].folder, None);
        assert_eq!(feeds[2].title.as_deref(), Some("Loose & free"));
        assert_eq!(feeds[2].xml_url, "https://example.org/feed?a=1&b=2");
    }

    #[test]
    fn malformed_and_foreign_documents_are_errors() {
        let err = parse("<opml><body><outline text='a'></body></opml>").unwrap_err();
        assert!(err.starts_with("malformed OPML at byte"), "{err}");
        let err = parse("<rss version='2.0'><channel/></rss>").unwrap_err();
        assert!(err.contains("root element is <rss>"), "{err}");
        assert!(parse("").unwrap_err().contains("no <opml>"));
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/"/></body></opml>"#;
        assert!(parse(bomb).is_err());
    }

    #[test]
    fn write_then_parse_round_trips() {
        let tags = vec!["politics".to_owned(), "a&b".to_owned()];
        let feeds = [
            ExportFeed {
                id: "afintl",
                title: "Afghanistan \"International\"",
                xml_url: "https://www.afintl.com/en/rss?x=1&y=2",
                html_url: Some("https://www.afintl.com/en"),
                region: "Afghanistan",
                language: Some("en"),
                tags: &tags,
                schedule: Some("*/15 * * * *"),
                enabled: false,
                proxy: Some("socks5h://127.0.0.1:9050"),
            },
            ExportFeed {
                id: "meduza",
                title: "Медуза",
                xml_url: "https://meduza.io/rss/all",
                html_url: None,
                region: "Russia",
                language: None,
                tags: &[],
                schedule: None,
                enabled: true,
                proxy: None,
            },
        ];
        let text = write("roundup sources", &feeds).unwrap();
        assert!(text.contains("<opml version=\"2.0\""), "{text}");
        let back = parse(&text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0].title.as_deref(),
            Some("Afghanistan \"International\"")
        );
        assert_eq!(back[0].xml_url, "https://www.afintl.com/en/rss?x=1&y=2");
        assert_eq!(back[0].folder.as_deref(), Some("Afghanistan"));
        assert_eq!(back[0].categories, ["politics", "a&b"]);
        assert_eq!(back[0].schedule.as_deref(), Some("*/15 * * * *"));
        assert!(back[0].disabled);
        assert_eq!(back[0].proxy.as_deref(), Some("socks5h://127.0.0.1:9050"));
        assert_eq!(back[1].proxy, None);
        assert_eq!(back[1].id.as_deref(), Some("meduza"));
        assert_eq!(back[1].title.as_deref(), Some("Медуза"));
        assert!(!back[1].disabled);
    }
}
