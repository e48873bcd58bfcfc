//! Any bytes through roundup's parse → normalise → fingerprint path: never a panic,
//! never unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = url::Url::parse("https://fuzz.example/feed").unwrap();
    for content_type in [None, Some("application/rss+xml; charset=windows-1251")] {
        if let Ok(feed) = roundup::parse::parse_feed_typed(data, &url, content_type) {
            let items = roundup::normalize::normalize_feed(&feed, &url, chrono::Utc::now());
            for item in items {
                assert!(item.published.is_none_or(|t| t <= chrono::Utc::now()));
                let _ = roundup::dedup::text_fingerprint(&item.title, &item.summary);
            }
        }
    }
});
