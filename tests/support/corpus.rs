//! The real-world parsing corpus in `tests/fixtures/hostile/` (written by its
//! `make_corpus.py`): feeds feed-rs alone cannot read, with what roundup must get out of
//! them. Shared by `tests/hostile.rs` and `examples/parse_rate.rs`.

#![allow(dead_code)]

use std::path::PathBuf;

/// (file, Content-Type the server sends, a title substring that proves it decoded).
pub const READABLE: &[(&str, &str, &str)] = &[
    ("cp1251.xml", "application/rss+xml", "Власти Киргизии"),
    ("koi8r.xml", "application/rss+xml", "Власти Киргизии"),
    (
        "koi8r-http-charset.xml",
        "application/rss+xml; charset=koi8-r",
        "Власти Киргизии",
    ),
    ("utf16-bom.xml", "application/rss+xml", "نشست وزیران اکو"),
    (
        "json-feed-1.0.json",
        "application/feed+json",
        "grain export quota",
    ),
    ("json-feed-http.json", "application/json", "new border post"),
    ("atom03.xml", "application/atom+xml", "Notes from Dushanbe"),
    (
        "rss-no-version.xml",
        "application/rss+xml",
        "Kabul traders protest",
    ),
    (
        "html-entities.xml",
        "application/rss+xml",
        "Talks\u{a0}resume in «Doha» — officials",
    ),
    (
        "stray-markup.xml",
        "application/rss+xml",
        "Tashkent & Astana sign water deal: quotas < 2023 levels",
    ),
    (
        "raw-html.xml",
        "application/rss+xml",
        "Kabul traders <b>protest</b> new customs duties",
    ),
    (
        "php-warning.xml",
        "application/rss+xml",
        "Herat airport reopens after runway repairs",
    ),
    ("cut-off.xml", "application/rss+xml", "Власти Киргизии"),
    (
        "json-feed-loose.json",
        "application/feed+json",
        "Dushanbe and Kabul agree on electricity prices",
    ),
];

/// Files that must each become one clear error.
pub const UNREADABLE: &[(&str, &str, &str)] = &[
    (
        "truncated.xml",
        "application/rss+xml",
        "the body ends before the feed does (no </rss>), with no item whole",
    ),
    ("empty.xml", "application/rss+xml", "empty response"),
    ("garbage.bin", "application/rss+xml", "not a feed"),
    (
        "html-page.xml",
        "application/rss+xml",
        "not a feed: the server returned an HTML page",
    ),
];

pub fn path(file: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(file)
}

fn has_title(feed: &feed_rs::model::Feed, want: &str) -> bool {
    feed.entries
        .iter()
        .any(|e| e.title.as_ref().is_some_and(|t| t.content.contains(want)))
}

/// Does feed-rs alone read `file` correctly?
pub fn feed_rs_alone(file: &str, want: &str) -> bool {
    let body = std::fs::read(path(file)).unwrap();
    feed_rs::parser::parse(body.as_slice()).is_ok_and(|f| has_title(&f, want))
}

/// Does roundup's parser read `file` correctly (with the server's Content-Type)?
pub fn roundup(file: &str, content_type: &str, want: &str) -> bool {
    let body = std::fs::read(path(file)).unwrap();
    let url = url::Url::parse("https://example.net/feed").unwrap();
    roundup::parse::parse_feed_typed(&body, &url, Some(content_type))
        .is_ok_and(|f| has_title(&f, want))
}
