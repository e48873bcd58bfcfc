//! Deterministic synthetic news feeds, shared by `examples/e2e_bench.rs` and
//! `benches/pipeline.rs`: N outlets of 40 items each, HTML bodies of 1–3 KB, RSS 2.0 and
//! Atom alternating, about 15 % of items syndicated from another outlet under a new URL
//! and a changed headline.

#![allow(dead_code)]

const ITEMS: usize = 40;

fn words(rng: &mut fastrand::Rng, n: usize) -> String {
    const VOCAB: &[&str] = &[
        "Kabul",
        "Taliban",
        "officials",
        "said",
        "on",
        "Monday",
        "the",
        "ministry",
        "border",
        "trade",
        "council",
        "province",
        "Herat",
        "Kandahar",
        "delegation",
        "talks",
        "regional",
        "security",
        "economic",
        "water",
        "Tashkent",
        "Dushanbe",
        "Moscow",
        "Tehran",
        "Islamabad",
        "agreement",
        "railway",
        "transit",
        "prices",
        "flour",
        "schools",
        "women",
        "aid",
        "agencies",
        "reported",
        "according",
        "sources",
        "week",
        "meeting",
        "foreign",
        "minister",
        "deputy",
        "governor",
        "district",
        "residents",
        "traders",
        "government",
        "new",
    ];
    let extra = extra_vocabulary();
    (0..n)
        .map(|_| {
            let w = match extra {
                Some(extra) if rng.bool() => extra[rng.usize(..extra.len())].as_str(),
                _ => VOCAB[rng.usize(..VOCAB.len())],
            };
            if rng.u8(..10) == 0 {
                format!("{w}{}", rng.u32(..1000))
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ROUNDUP_BENCH_VOCAB=N`: half the words are drawn from N more synthetic words
/// (syllable strings), for text whose unrelated stories share fewer shingles than the
/// default 48-word vocabulary gives them.
fn extra_vocabulary() -> Option<&'static [String]> {
    static EXTRA: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    EXTRA
        .get_or_init(|| {
            let n: usize = std::env::var("ROUNDUP_BENCH_VOCAB").ok()?.parse().ok()?;
            const SYLLABLES: &[&str] = &[
                "ka", "bul", "ta", "li", "ban", "mo", "sko", "teh", "ran", "is", "la", "ma", "bad",
                "her", "at", "dush", "an", "be", "ri", "zo",
            ];
            Some(
                (0..n)
                    .map(|mut k| {
                        let mut w = String::new();
                        loop {
                            w.push_str(SYLLABLES[k % SYLLABLES.len()]);
                            k /= SYLLABLES.len();
                            if k == 0 {
                                break w;
                            }
                        }
                    })
                    .collect(),
            )
        })
        .as_deref()
}

/// Words per paragraph: 30–59, so that a feed is ~84 KB. `ROUNDUP_BENCH_FEED_KB=N`
/// scales them so that a feed is about N KB (issue 7's reference figures were taken on
/// feeds of ~120 KB).
fn paragraph_words() -> std::ops::Range<usize> {
    let scale = std::env::var("ROUNDUP_BENCH_FEED_KB")
        .ok()
        .and_then(|kb| kb.parse::<f64>().ok())
        .filter(|kb| *kb > 0.0)
        .map_or(1.0, |kb| kb / 84.0);
    let at = |words: f64| ((words * scale).round() as usize).max(1);
    at(30.0)..at(60.0).max(at(30.0) + 1)
}

struct Story {
    title: String,
    paragraphs: Vec<String>,
}

pub fn generate(n: usize) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(42);
    let per_paragraph = paragraph_words();
    let stories: Vec<Vec<Story>> = (0..n)
        .map(|_| {
            (0..ITEMS)
                .map(|_| Story {
                    title: words(&mut rng, 9),
                    paragraphs: (0..rng.usize(3..8))
                        .map(|_| {
                            let len = rng.usize(per_paragraph.clone());
                            words(&mut rng, len)
                        })
                        .collect(),
                })
                .collect()
        })
        .collect();
    (0..n)
        .map(|f| {
            let atom = f % 2 == 1;
            let mut out = String::new();
            if atom {
                out.push_str(&format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Outlet {f}</title><id>urn:outlet:{f}</id><updated>2026-11-29T00:00:00Z</updated><link href=\"https://outlet{f}.example/\"/>"));
            } else {
                out.push_str(&format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Outlet {f}</title><link>https://outlet{f}.example/</link><description>News</description>"));
            }
            for (i, own) in stories[f].iter().enumerate() {
                // ~15 % of items are syndicated copies of another outlet's story.
                let syndicated = rng.u8(..100) < 15 && n > 1;
                let (story, title) = if syndicated {
                    let other = (f + 1 + rng.usize(..n - 1)) % n;
                    let s = &stories[other][i];
                    (s, format!("{} (via outlet {other})", s.title.to_lowercase()))
                } else {
                    (own, own.title.clone())
                };
                let html: String = story.paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
                let link = format!("https://outlet{f}.example/{i}-{}", rng.u32(..100_000));
                let minutes = rng.u32(..1440);
                if atom {
                    out.push_str(&format!("<entry><id>urn:outlet:{f}:{i}</id><title>{title}</title><link href=\"{link}\"/><updated>2026-11-28T{:02}:{:02}:00Z</updated><content type=\"html\">{}</content></entry>", minutes / 60, minutes % 60, html.replace('<', "&lt;")));
                } else {
                    out.push_str(&format!("<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">outlet{f}-{i}</guid><pubDate>Sat, 28 Nov 2026 {:02}:{:02}:00 GMT</pubDate><description><![CDATA[{html}]]></description></item>", minutes / 60, minutes % 60));
                }
            }
            out.push_str(if atom { "</feed>" } else { "</channel></rss>" });
            out.into_bytes()
        })
        .collect()
}
