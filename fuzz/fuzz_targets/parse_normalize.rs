//! Any bytes through roundup's parse → normalise → fingerprint path: never a panic,
//! never unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = url::Url::parse("https://fuzz.example/feed").unwrap();
    for content_type in [None, Some("application/rss+xml; charset=windows-1251")] {
        if let Ok(feed) = roundup::parse::parse_feed_typed(data, &url, content_type) {
            let items = roundup::normalize::normalize_feed(&feed, &url, chrono::Utc::now());
            for item in &items {
                assert!(item.published.is_none_or(|t| t <= chrono::Utc::now()));
                let _ = roundup::dedup::text_fingerprint(&item.title, &item.summary);
            }
            // What the store's near-duplicate check runs on two reports' texts (an
            // entry against a stored one), and the digest's listing test.
            if let Some(first) = items.first() {
                let theirs = roundup::dedup::entry_particulars(&first.title, &first.summary);
                for item in &items {
                    let _ = roundup::dedup::similar_report(
                        &item.shingles,
                        &first.title,
                        &first.summary,
                    );
                    let mine = roundup::dedup::entry_particulars(&item.title, &item.summary);
                    let _ = (mine.conflict(&theirs), mine.headline_only());
                    let _ = roundup::dedup::entry_bands(&item.title, &item.summary);
                    let _ = roundup::dedup::aggregator_listing(&item.title, &item.summary);
                }
            }
        }
    }
});
