//! The whole cycle over the seed fixtures: each story stored once, updates in place.

use roundup::digest::{self, Window};
use roundup::pipeline::SourceOutcome;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Harness, demo_sources, fixture, source};

const SEED_TITLE: &str = "Russia Wants Taliban To Participate In SCO Meetings, Claims Group";
const ECO_TITLE: &str = "Iran Says Taliban Foreign Minister Not Invited To ECO Meeting In Mashhad";

/// The demo sources' config and a fresh database with them, for tests that call the
/// store directly.
struct StoreFixture {
    config: roundup::config::Config,
    store: roundup::store::Store,
    now: chrono::DateTime<chrono::Utc>,
}

impl StoreFixture {
    fn new(dir: &std::path::Path) -> StoreFixture {
        let config_path = crate::common::write_config(dir, "", &demo_sources());
        let config = roundup::config::load(&config_path).unwrap();
        let mut store = roundup::store::Store::open(&config.database).unwrap();
        let now = chrono::Utc::now();
        store.sync_sources(&config.sources, now).unwrap();
        StoreFixture { config, store, now }
    }
}

/// A fixture feed parsed and normalised as a fetch at `now` would.
fn fixture_items(file: &str, now: chrono::DateTime<chrono::Utc>) -> Vec<roundup::model::Item> {
    let url = url::Url::from_file_path(fixture(file)).unwrap();
    let feed = roundup::parse::parse_feed(&std::fs::read(fixture(file)).unwrap(), &url).unwrap();
    roundup::normalize::normalize_feed(&feed, &url, now)
}

/// A 200 response's metadata.
fn response_meta(etag: Option<&str>) -> roundup::fetch::ResponseMeta {
    roundup::fetch::ResponseMeta {
        status: 200,
        etag: etag.map(str::to_owned),
        last_modified: None,
        content_type: None,
        final_url: url::Url::parse("https://example.org/feed").unwrap(),
        max_age: None,
        permanent_redirect: None,
    }
}

fn build_digest(h: &Harness) -> digest::Digest {
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let window = Window::ending(now, std::time::Duration::from_secs(86_400), chrono_tz::UTC);
    h.with_store(|s| digest::build(s, &h.config, window, now).unwrap())
}

#[tokio::test]
async fn seed_story_is_one_story_across_three_outlets_and_eco_stays_apart() {
    let h = Harness::new("", &demo_sources());
    let report = h.cycle().await;
    assert_eq!(report.failed(), 0, "{report:?}");
    let d = build_digest(&h);
    let seed: Vec<_> = d
        .stories()
        .filter(|s| s.title.to_lowercase().contains("sco meetings"))
        .collect();
    assert_eq!(seed.len(), 1, "seed story appears once");
    let seed = seed[0];
    assert_eq!(
        seed.title, SEED_TITLE,
        "the outlet's own report represents the story"
    );
    assert_eq!(seed.source, "afintl");
    let mut also: Vec<_> = seed
        .also_reported_by
        .iter()
        .map(|a| a.source.as_str())
        .collect();
    also.sort_unstable();
    assert_eq!(also, ["kabulnow", "wire"]);
    let eco: Vec<_> = d.stories().filter(|s| s.title == ECO_TITLE).collect();
    assert_eq!(eco.len(), 1);
    assert!(eco[0].also_reported_by.is_empty());
    assert_ne!(eco[0].id, seed.id);
    // 3 + 2 + 2 + 2 entries; the seed's three reports are one story.
    assert_eq!(h.with_store(|s| s.counts().unwrap()), (7, 9));
}

#[tokio::test]
async fn digest_summaries_leave_out_wordpress_footers() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("wp.xml");
    std::fs::write(
        &feed,
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>KabulNow</title><link>https://kabulnow.example/</link>
<item><title>Herat traders protest new customs levy</title><link>https://kabulnow.example/herat-levy</link><guid>kn-1</guid>
<description><![CDATA[<p>Traders in Herat closed their shops on Sunday to protest a new customs levy on imports from Iran [&#8230;]</p>
<p>The post <a rel="nofollow" href="https://kabulnow.example/herat-levy">Herat traders protest new customs levy</a> appeared first on <a rel="nofollow" href="https://kabulnow.example">KabulNow</a>.</p>]]></description></item>
</channel></rss>"#,
    )
    .unwrap();
    let url = url::Url::from_file_path(&feed).unwrap();
    let h = Harness::new("", &[source("kabulnow", url.as_str())]);
    assert_eq!(h.cycle().await.failed(), 0);
    let d = build_digest(&h);
    let story = d.stories().next().unwrap();
    assert_eq!(
        story.summary,
        "Traders in Herat closed their shops on Sunday to protest a new customs levy on imports from Iran…"
    );
}

#[tokio::test]
async fn stories_that_share_only_the_feeds_footer_stay_apart() {
    // Short excerpts with a long copyright footer: the footer is most of each text.
    let footer = "Copyright (c) 2024. RFE/RL, Inc. Reprinted with the permission of Radio Free \
                  Europe/Radio Liberty, 1201 Connecticut Ave NW, Ste 400, Washington DC 20036.";
    let stories = [
        (
            "Uzbekistan to build second nuclear plant with Rosatom",
            "Uzbekistan signed an agreement with Rosatom on Monday to build a small nuclear plant in Jizzakh region by 2029.",
        ),
        (
            "Kyrgyz court jails journalist for calls to mass unrest",
            "A court in Bishkek sentenced a journalist to six years in prison on Tuesday.",
        ),
        (
            "Tajik president visits hydropower station",
            "Emomali Rahmon inspected the Nurek station.",
        ),
        (
            "Kazakh parliament approves nuclear referendum date",
            "Lawmakers set the vote for October.",
        ),
    ];
    let items: String = stories
        .iter()
        .enumerate()
        .map(|(i, (title, text))| {
            format!(
                "<item><title>{title}</title><link>https://agg.example/{i}</link><guid>a{i}</guid>\
                 <description>{text} {footer}</description></item>"
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("agg.xml");
    std::fs::write(
        &feed,
        format!("<rss version=\"2.0\"><channel><title>Agg</title>{items}</channel></rss>"),
    )
    .unwrap();
    let url = url::Url::from_file_path(&feed).unwrap();
    let h = Harness::new("", &[source("agg", url.as_str())]);
    assert_eq!(h.cycle().await.failed(), 0);
    let d = build_digest(&h);
    assert_eq!(
        d.stories().count(),
        4,
        "four stories, not merged by their footer"
    );
    assert!(d.stories().all(|s| !s.summary.contains("Copyright")));
}

#[tokio::test]
async fn entries_that_share_one_guid_or_the_home_page_link_are_all_kept() {
    // Some CMSs give every entry the same guid, or link every entry to the home page.
    let stories = [
        (
            "Floods kill seven in Baghlan",
            "Flash floods killed seven people in Baghlan province on Monday and destroyed dozens of homes in Nahrin district, officials said.",
        ),
        (
            "Torkham crossing reopens",
            "The Torkham border crossing between Afghanistan and Pakistan reopened on Tuesday after a four-day closure that stranded hundreds of trucks.",
        ),
        (
            "Kazakhstan raises base rate",
            "The National Bank of Kazakhstan raised its base rate on Friday, citing inflation expectations and the weaker tenge against the dollar.",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut sources = Vec::new();
    for (id, entry) in [
        (
            "one-guid",
            "<link>https://cms.example/news/{i}</link><guid>https://cms.example/</guid>",
        ),
        ("home-link", "<link>https://home.example/</link>"),
    ] {
        let items: String = stories
            .iter()
            .enumerate()
            .map(|(i, (title, text))| {
                let entry = entry.replace("{i}", &i.to_string());
                format!(
                    "<item><title>{title}</title>{entry}<description>{text}</description>\
                     <pubDate>Tue, 26 Nov 2024 0{i}:00:00 GMT</pubDate></item>"
                )
            })
            .collect();
        let feed = dir.path().join(format!("{id}.xml"));
        std::fs::write(
            &feed,
            format!("<rss version=\"2.0\"><channel><title>{id}</title>{items}</channel></rss>"),
        )
        .unwrap();
        sources.push(source(
            id,
            url::Url::from_file_path(&feed).unwrap().as_str(),
        ));
    }
    let h = Harness::new("", &sources);
    let report = h.cycle().await;
    assert_eq!(report.failed(), 0);
    let (stored_stories, stored_entries) = h.with_store(|s| s.counts().unwrap());
    assert_eq!(
        (stored_stories, stored_entries),
        (3, 6),
        "every entry stored"
    );
    let d = build_digest(&h);
    // Each story once, carried by both outlets; none lost, none merged by the shared link.
    assert_eq!(d.stories().count(), 3);
    for (title, _) in stories {
        let story = d.stories().find(|s| s.title == title).unwrap();
        assert_eq!(story.also_reported_by.len(), 1, "{title}");
    }
}

#[tokio::test]
async fn an_entry_under_a_new_guid_at_every_fetch_is_stored_once() {
    // A feed that puts a timestamp in every guid: the same three entries at each fetch.
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("rotating.xml");
    let write = |fetch: u32| {
        let items: String = [
            "Floods kill seven in Baghlan",
            "Torkham crossing reopens",
            "Kazakhstan raises base rate",
        ]
        .iter()
        .enumerate()
        .map(|(i, title)| {
            format!(
                "<item><title>{title}</title><link>https://cms.example/news/{i}</link>\
                 <guid>https://cms.example/news/{i}?t={fetch}</guid>\
                 <description>{title}: the whole report, as the outlet wrote it.</description></item>"
            )
        })
        .collect();
        std::fs::write(
            &feed,
            format!("<rss version=\"2.0\"><channel><title>R</title>{items}</channel></rss>"),
        )
        .unwrap();
    };
    write(1);
    let url = url::Url::from_file_path(&feed).unwrap();
    let h = Harness::new("", &[source("rotating", url.as_str())]);
    h.cycle().await;
    write(2);
    let report = h.cycle().await;
    assert!(
        matches!(report.sources[0].outcome, SourceOutcome::Stored { report, .. } if report.new == 0 && report.updated == 0 && report.unchanged == 3),
        "{report:?}"
    );
    assert_eq!(h.with_store(|s| s.counts().unwrap()), (3, 3));
    // The next fetch finds them under their new guids; a corrected title is an update.
    std::fs::write(
        &feed,
        std::fs::read_to_string(&feed)
            .unwrap()
            .replace("Floods kill seven", "Floods kill eight"),
    )
    .unwrap();
    let report = h.cycle().await;
    assert!(
        matches!(report.sources[0].outcome, SourceOutcome::Stored { report, .. } if report.new == 0 && report.updated == 1 && report.unchanged == 2),
        "{report:?}"
    );
    assert_eq!(h.with_store(|s| s.counts().unwrap()), (3, 3));
}

#[tokio::test]
async fn refetching_is_idempotent() {
    let h = Harness::new("", &demo_sources());
    h.cycle().await;
    let counts = h.with_store(|s| s.counts().unwrap());
    // The same files again: the same bytes, not parsed a second time.
    let again = h.cycle().await;
    for s in &again.sources {
        assert!(
            matches!(s.outcome, SourceOutcome::SameBody { status: 200, .. }),
            "{s:?}"
        );
    }
    assert_eq!(h.with_store(|s| s.counts().unwrap()), counts);
}

#[test]
fn items_stored_again_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let StoreFixture {
        config,
        mut store,
        now,
    } = StoreFixture::new(dir.path());
    let policy = config.dedup.policy();
    let meta = response_meta(None);
    let mut counts = None;
    for _ in 0..2 {
        for (id, file) in [("afintl", "feeds/afintl.xml"), ("amu", "feeds/amu.xml")] {
            let items = fixture_items(file, now);
            let report = store
                .store_fetch(id, &meta, None, &items, policy, now)
                .unwrap();
            if counts.is_some() {
                assert_eq!(
                    (report.new, report.updated, report.unchanged),
                    (0, 0, items.len())
                );
            }
        }
        let now_counts = store.counts().unwrap();
        assert!(counts.is_none_or(|c| c == now_counts));
        counts = Some(now_counts);
    }
}

#[tokio::test]
async fn corrected_headline_updates_the_entry_and_keeps_first_seen() {
    let server = MockServer::start().await;
    let original = std::fs::read(fixture("feeds/afintl.xml")).unwrap();
    let corrected = std::fs::read(fixture("feeds/afintl-corrected.xml")).unwrap();
    Mock::given(path("/rss"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(original))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/rss"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(corrected))
        .with_priority(2)
        .mount(&server)
        .await;
    let h = Harness::new("", &[source("afintl", &format!("{}/rss", server.uri()))]);
    h.cycle().await;
    let search = |words: &str| {
        h.with_store(|s| {
            s.search(&roundup::store::SearchQuery {
                text: words,
                since: None,
                sources: &[],
                limit: 10,
            })
            .unwrap()
        })
    };
    // Indexes the first version (search brings the index up to date).
    assert_eq!(search("claims*").len(), 1);
    let before = build_digest(&h);
    let first_seen = before
        .stories()
        .find(|s| s.title == SEED_TITLE)
        .unwrap()
        .first_seen;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = h.cycle().await;
    assert!(
        matches!(report.sources[0].outcome, SourceOutcome::Stored { report, .. } if report.new == 0 && report.updated == 1 && report.unchanged == 2),
        "{report:?}"
    );
    let after = build_digest(&h);
    assert_eq!(after.story_count(), before.story_count());
    let story = after
        .stories()
        .find(|s| s.title.ends_with("Taliban Claim"))
        .expect("corrected headline shown");
    assert_eq!(story.first_seen, first_seen);
    assert_eq!(h.with_store(|s| s.entry_count("afintl").unwrap()), 3);
    // The search index follows the edit of an indexed entry: the new headline's word is
    // found, the old one's is gone, and the index agrees with the stored entries.
    // ("claims*": an explicit prefix, searched as typed; "claims" alone is also searched
    // by its stem "claim", which the new headline holds.)
    assert_eq!(search("claim").len(), 1);
    assert!(search("claims*").is_empty());
    assert_eq!(h.with_store(|s| s.integrity_check().unwrap()), "ok");
}

#[test]
fn a_group_commit_keeps_each_feed_all_or_nothing() {
    use roundup::store::FetchWrite;
    let dir = tempfile::tempdir().unwrap();
    let StoreFixture {
        config,
        mut store,
        now,
    } = StoreFixture::new(dir.path());
    let items = |file: &str| fixture_items(file, now);
    let meta = response_meta(Some("\"v1\""));
    let (a, amu) = (items("feeds/afintl.xml"), items("feeds/amu.xml"));
    let write = |source_id, items| FetchWrite {
        source_id,
        meta: &meta,
        redirect: None,
        items,
        now,
        parsed: None,
    };
    // The middle feed belongs to no configured source: its entries violate a foreign
    // key half-way through, and only it is rolled back.
    let results = store
        .store_fetches(
            &[
                write("afintl", &a),
                write("ghost", &amu),
                write("amu", &amu),
            ],
            config.dedup.policy(),
        )
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().new, a.len());
    assert!(results[1].is_err());
    assert_eq!(results[2].as_ref().unwrap().new, amu.len());
    assert_eq!(store.entry_count("afintl").unwrap() as usize, a.len());
    assert_eq!(store.entry_count("ghost").unwrap(), 0);
    assert_eq!(store.entry_count("amu").unwrap() as usize, amu.len());
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let states = store.fetch_states().unwrap();
    assert_eq!(states["amu"].etag.as_deref(), Some("\"v1\""));
}

#[test]
fn matching_stories_finds_the_story_a_copy_would_join_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let StoreFixture {
        config,
        mut store,
        now,
    } = StoreFixture::new(dir.path());
    let items = |file: &str| fixture_items(file, now);
    let meta = response_meta(None);
    let original = items("feeds/afintl.xml");
    store
        .store_fetch("afintl", &meta, None, &original, config.dedup.policy(), now)
        .unwrap();
    let seed_story = store
        .story_of("afintl", &original[0].entry_key)
        .unwrap()
        .unwrap();
    let before = store.counts().unwrap();
    // KabulNow's syndicated copy (new headline, trimmed) and Amu's ECO story.
    let copy = items("feeds/kabulnow.atom");
    let eco = items("feeds/amu.xml");
    let found = store
        .matching_stories(
            &[copy[0].clone(), eco[0].clone()],
            config.dedup.policy(),
            now,
        )
        .unwrap();
    assert_eq!(found, [Some(seed_story), None]);
    assert_eq!(store.counts().unwrap(), before, "nothing written");
    // The copy links to the original; without its exact keys it is found as a near
    // duplicate, but only within the matching window.
    let mut near = copy[0].clone();
    near.canonical_url = None;
    near.text_fingerprint = None;
    let near = [near];
    let policy = config.dedup.policy();
    assert_eq!(
        store.matching_stories(&near, policy, now).unwrap(),
        [Some(seed_story)]
    );
    let later = now + chrono::Duration::days(30);
    assert_eq!(
        store.matching_stories(&near, policy, later).unwrap(),
        [None]
    );
}

#[test]
fn near_duplicates_are_found_across_connections_and_after_a_rolled_back_group() {
    use roundup::store::{FetchWrite, Store};
    let dir = tempfile::tempdir().unwrap();
    let StoreFixture {
        config,
        mut store,
        now,
    } = StoreFixture::new(dir.path());
    let policy = config.dedup.policy();
    let items = |file: &str| fixture_items(file, now);
    let meta = response_meta(None);
    // A copy of an outlet's first item without its exact keys: only the band index
    // can find its story.
    let near = |file: &str| {
        let mut item = items(file)[0].clone();
        item.canonical_url = None;
        item.text_fingerprint = None;
        [item]
    };
    // This connection loads its view of the band index while nothing is stored.
    assert_eq!(
        store
            .matching_stories(&near("feeds/afintl.xml"), policy, now)
            .unwrap(),
        [None]
    );
    // Another connection (a CLI fetch beside the daemon) stores the seed story, and
    // this one finds it.
    let original = items("feeds/afintl.xml");
    let mut other = Store::open(&config.database).unwrap();
    other
        .store_fetch("afintl", &meta, None, &original, policy, now)
        .unwrap();
    let seed = other.story_of("afintl", &original[0].entry_key).unwrap();
    assert!(seed.is_some());
    assert_eq!(
        store
            .matching_stories(&near("feeds/afintl.xml"), policy, now)
            .unwrap(),
        [seed]
    );
    // A group that fails is rolled back and each feed written again: the good feed's
    // band keys are stored, as a fresh connection sees.
    let amu = items("feeds/amu.xml");
    let write = |source_id, items| FetchWrite {
        source_id,
        meta: &meta,
        redirect: None,
        items,
        now,
        parsed: None,
    };
    let results = store
        .store_fetches(&[write("amu", &amu), write("ghost", &amu)], policy)
        .unwrap();
    assert!(results[0].is_ok() && results[1].is_err());
    let eco = store.story_of("amu", &amu[0].entry_key).unwrap();
    assert!(eco.is_some());
    let mut fresh = Store::open(&config.database).unwrap();
    assert_eq!(
        fresh
            .matching_stories(&near("feeds/amu.xml"), policy, now)
            .unwrap(),
        [eco]
    );
}

#[test]
fn the_search_index_catches_up_and_survives_purges_and_reused_ids() {
    use roundup::store::{SearchQuery, Store};
    let dir = tempfile::tempdir().unwrap();
    let StoreFixture {
        config,
        mut store,
        now,
    } = StoreFixture::new(dir.path());
    let items = |file: &str| fixture_items(file, now);
    let meta = response_meta(None);
    let policy = config.dedup.policy();
    let (amu, afintl) = (items("feeds/amu.xml"), items("feeds/afintl.xml"));
    store
        .store_fetch("amu", &meta, None, &amu, policy, now)
        .unwrap();
    store
        .store_fetch("afintl", &meta, None, &afintl, policy, now)
        .unwrap();
    let hits = |store: &Store, words: &str| {
        store
            .search(&SearchQuery {
                text: words,
                since: None,
                sources: &[],
                limit: 10,
            })
            .unwrap()
            .len()
    };
    // Storing left the index behind; the first search catches up with every entry.
    assert_eq!(
        store.update_search_index().unwrap(),
        amu.len() + afintl.len()
    );
    assert_eq!(store.update_search_index().unwrap(), 0);
    assert_eq!(hits(&store, "Badakhshan"), 1);
    // Purging the newest entries frees their ids; stored again, the entries reuse ids
    // the index already covers, so they are indexed in their own transaction.
    store.purge_source("afintl").unwrap();
    assert_eq!(hits(&store, "Badakhshan"), 0);
    store.sync_sources(&config.sources, now).unwrap();
    store
        .store_fetch("afintl", &meta, None, &afintl, policy, now)
        .unwrap();
    assert_eq!(store.update_search_index().unwrap(), 0);
    assert_eq!(hits(&store, "Badakhshan"), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    // Purging entries the index never covered leaves it consistent too.
    store
        .store_fetch(
            "kabulnow",
            &meta,
            None,
            &items("feeds/kabulnow.atom"),
            policy,
            now,
        )
        .unwrap();
    store.purge_source("kabulnow").unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
