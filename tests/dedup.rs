//! Dedup quality on the labelled development set: floors on pairwise precision and
//! recall, above the title-trigram baseline. The figures themselves are printed by
//! `cargo run --release --example dedup_eval` and recorded in BENCHMARKS.md.

use std::path::Path;

#[path = "support/dedup_eval.rs"]
mod eval;

#[test]
fn near_duplicate_clustering_meets_its_floors() {
    let docs =
        eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/set.json"));
    let clusters: std::collections::HashSet<usize> = docs.iter().map(|d| d.cluster).collect();
    assert!(clusters.len() >= 40, "at least 40 labelled clusters");
    let (ours, baseline, wrong) = eval::evaluate(&docs);
    let all = ours["all"];
    assert!(
        all.precision() >= 0.99,
        "precision {:.3}; wrong pairs:\n{}",
        all.precision(),
        wrong.join("\n")
    );
    assert!(
        all.recall() >= 0.95,
        "recall {:.3}; wrong pairs:\n{}",
        all.recall(),
        wrong.join("\n")
    );
    for lang in ["en", "ru", "fa"] {
        assert!(
            ours[lang].precision() >= 0.99,
            "{lang} precision {:.3}",
            ours[lang].precision()
        );
        assert!(
            ours[lang].recall() >= 0.9,
            "{lang} recall {:.3}\n{}",
            ours[lang].recall(),
            wrong.join("\n")
        );
    }
    assert!(
        all.f1() > baseline["all"].f1() + 0.1,
        "clearly above the title-trigram baseline"
    );
}

#[test]
fn hard_negatives_stay_apart() {
    let docs =
        eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/set.json"));
    let stories = eval::cluster_with_roundup(&docs);
    let story_of = |needle: &str| {
        let i = docs.iter().position(|d| d.title.contains(needle)).unwrap();
        stories[i]
    };
    let seed = story_of("Russia Wants Taliban To Participate In SCO Meetings, Claims Group");
    for other in [
        "Not Invited To ECO Meeting In Mashhad",
        "Shoigu Meets Kim Jong Un",
        "SCO Leaders Gather In Astana",
    ] {
        assert_ne!(story_of(other), seed, "{other} is a different story");
    }
    assert_ne!(
        story_of("Taliban Delegation Attends Kazan Forum"),
        seed,
        "a shared paragraph is not a copy"
    );
    assert_ne!(
        story_of("Министры обороны стран ШОС"),
        story_of("Россия хочет участия талибов"),
        "a shared paragraph is not a copy"
    );
    assert_ne!(
        story_of("Flash Floods Kill Seven"),
        story_of("Floods Kill Twelve In Baghlan")
    );
    assert_ne!(
        story_of("повысил ключевую ставку до 21%"),
        story_of("неожиданно сохранил")
    );
    assert_ne!(story_of("وزارت مهاجرین طالبان"), story_of("دشت برچی"));
    // The seed family is one story: original, syndicated, wire, corrected, republished.
    let family: Vec<i64> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.cluster == 0)
        .map(|(i, _)| stories[i])
        .collect();
    assert_eq!(family.len(), 5);
    assert!(family.iter().all(|s| *s == seed), "{family:?}");
    // Reports from one template with other figures (digits or number words) stay apart.
    for (a, b) in [
        (
            "Taliban Say 12 Killed In Helmand",
            "Taliban Say 9 Killed In Kandahar",
        ),
        (
            "Taliban Publicly Flog Two People",
            "Taliban Publicly Flog Three People",
        ),
        (
            "Курс доллара в Бишкеке на 26",
            "Курс доллара в Бишкеке на 27",
        ),
        ("طالبان دو نفر", "طالبان سه نفر"),
        // ... or other names where their headlines have them.
        (
            "Taliban Appoint Abdul Rahman Haqqani",
            "Taliban Appoint Ahmad Shah Din Dost",
        ),
        (
            "Taliban name new Takhar governor",
            "Taliban Appoint Ahmad Shah",
        ),
        ("Талибы назначили Абдурахмана", "Талибы назначили Ахмадшаха"),
        ("طالبان عبدالرحمن حقانی", "طالبان احمدشاه"),
    ] {
        assert_ne!(story_of(a), story_of(b), "{a} / {b}");
    }
    // A wire copy of one of them under its own headline still joins it.
    assert_eq!(
        story_of("Taliban name new Takhar governor"),
        story_of("Taliban Appoint Abdul Rahman Haqqani")
    );
    assert_eq!(
        story_of("والي جديد تخار"),
        story_of("طالبان عبدالرحمن حقانی")
    );
    // A news aggregator's listing (headline - outlet) joins the article it lists, and a
    // listing of the day's rates joins that day's report, not the day before's.
    let listing = |title: &str| {
        let i = docs
            .iter()
            .position(|d| d.title.starts_with(title) && d.title.contains(" - "))
            .unwrap();
        stories[i]
    };
    assert_eq!(
        listing("Iran Says Taliban Foreign Minister"),
        story_of("Iran Says Taliban Foreign Minister Not Invited")
    );
    assert_ne!(listing("Iran Says Taliban Foreign Minister"), seed);
    let rates = |needle: &str| {
        let i = docs
            .iter()
            .position(|d| d.title.starts_with("Afghani gains") && d.link.contains(needle))
            .unwrap();
        stories[i]
    };
    assert_eq!(listing("Afghani gains value"), rates("/27/"));
    assert_ne!(listing("Afghani gains value"), rates("/26/"));
    // A teaser (the first paragraph only) joins the whole article it opens.
    let torkham: Vec<i64> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.title.starts_with("Torkham"))
        .map(|(i, _)| stories[i])
        .collect();
    assert_eq!(torkham.len(), 4);
    assert!(torkham.iter().all(|s| *s == torkham[0]), "{torkham:?}");
}

#[test]
fn only_stories_within_the_window_are_near_duplicate_candidates() {
    let docs =
        eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/set.json"));
    // The Torkham original and its trimmed, re-headlined Dawn copy (a near-duplicate, no
    // shared link or fingerprint).
    let original = docs
        .iter()
        .find(|d| d.title == "Torkham Crossing Reopens After Four-Day Closure")
        .unwrap();
    let copy = docs
        .iter()
        .find(|d| d.title == "Torkham border reopens for trade after clashes")
        .unwrap();
    let policy = roundup::dedup::MatchPolicy {
        window: std::time::Duration::from_secs(7 * 86_400),
    };
    for (days_later, same) in [(2, true), (8, false)] {
        let mut store = eval::store_for(&docs);
        let t0 = original.published;
        let a = eval::ingest(&mut store, original, policy, t0);
        let b = eval::ingest(
            &mut store,
            copy,
            policy,
            t0 + chrono::Duration::days(days_later),
        );
        let sa = store.story_of(&original.source, &a).unwrap();
        let sb = store.story_of(&copy.source, &b).unwrap();
        assert_eq!(sa == sb, same, "{days_later} days later");
    }
}
