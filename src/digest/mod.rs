//! Digests: build one model of the stories in a window from the store, then render it
//! with one [`Renderer`] per format (lychee's formatter shape). Renderers are pure: they
//! never touch the store, the network or the clock. Files are written atomically.

pub mod archive;
mod atom;
pub mod email;
mod html;
mod json;
mod markdown;
pub mod sanitize;
mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

pub use atom::AtomRenderer;
pub use html::HtmlRenderer;
pub use json::JsonRenderer;
pub use markdown::MarkdownRenderer;
pub use view::text_direction;

use crate::config::{Config, Format};
use crate::dedup::canonical::without_tracking;
use crate::dedup::{OUTLET_MAX_WORDS, Representative};
use crate::store::{DigestEntry, Store, StoreError};

/// Most words of a story's summary shown in a digest.
pub const SUMMARY_WORDS: usize = 60;

/// Why a digest could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Reading the stories failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing a digest file failed (nothing half-written is left behind).
    #[error("cannot write digest {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// The span of time a digest covers, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// The local date the digest is filed under (`YYYY-MM-DD.*`).
    pub date: NaiveDate,
}

impl Window {
    /// The `length` before `end`, filed under `end`'s local date in `tz`.
    pub fn ending(end: DateTime<Utc>, length: std::time::Duration, tz: Tz) -> Window {
        let length = ChronoDuration::from_std(length).unwrap_or(ChronoDuration::days(1));
        Window {
            start: end - length,
            end,
            date: end.with_timezone(&tz).date_naive(),
        }
    }

    /// Local midnight to midnight of `date` in `tz`.
    pub fn for_date(date: NaiveDate, tz: Tz) -> Window {
        let local_midnight = |d: NaiveDate| {
            let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&naive)
                .earliest()
                .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
        };
        let next = date.succ_opt().unwrap_or(date);
        Window {
            start: local_midnight(date),
            end: local_midnight(next),
            date,
        }
    }
}

/// A digest: the stories of a window grouped by region, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// When it was built.
    pub generated_at: DateTime<Utc>,
    /// The window covered.
    pub window: Window,
    /// Zone for displayed times.
    pub timezone: Tz,
    /// Regions in the configured order, each with its stories newest first.
    pub regions: Vec<RegionGroup>,
    /// Sources whose last fetch in the window failed: (id, error).
    pub failing_sources: Vec<(String, String)>,
}

/// The stories of one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionGroup {
    /// Region name.
    pub region: String,
    /// Stories, newest first.
    pub stories: Vec<Story>,
}

/// One story, shown once, with the other outlets that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Story id.
    pub id: i64,
    /// Title of the representative (earliest) report.
    pub title: String,
    /// Link of the representative report.
    pub url: Option<String>,
    /// Source id of the representative report.
    pub source: String,
    /// Outlet name of the representative report.
    pub source_name: String,
    /// Region of the representative outlet.
    pub region: String,
    /// Publication time of the representative report.
    pub published: Option<DateTime<Utc>>,
    /// When the story was first seen.
    pub first_seen: DateTime<Utc>,
    /// Plain-text summary, at most [`SUMMARY_WORDS`] words.
    pub summary: String,
    /// Other outlets that carried the story, one entry per outlet.
    pub also_reported_by: Vec<AlsoReported>,
    /// Reports of the story in the digest, the representative's included: more than
    /// one plus `also_reported_by` when some are not another outlet's (a second feed of
    /// the same outlet, an aggregator's listing of the representative's article).
    pub reports: usize,
}

impl Story {
    /// The time the story is sorted and shown by.
    pub fn time(&self) -> DateTime<Utc> {
        self.published.unwrap_or(self.first_seen)
    }
}

/// Another outlet's report of a story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlsoReported {
    /// Source id.
    pub source: String,
    /// Outlet name.
    pub source_name: String,
    /// That outlet's link.
    pub url: Option<String>,
}

impl Digest {
    /// Every story, in display order.
    pub fn stories(&self) -> impl Iterator<Item = &Story> {
        self.regions.iter().flat_map(|r| r.stories.iter())
    }

    /// Number of stories.
    pub fn story_count(&self) -> usize {
        self.regions.iter().map(|r| r.stories.len()).sum()
    }

    /// Distinct outlets with a report in the digest, by the name shown: the outlets an
    /// aggregator's listings name count one each ("Reuters via Google News").
    pub fn outlet_count(&self) -> usize {
        let mut ids: Vec<&str> = self
            .stories()
            .flat_map(|s| {
                std::iter::once(s.source_name.as_str())
                    .chain(s.also_reported_by.iter().map(|a| a.source_name.as_str()))
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Reports folded into a story another report represents.
    pub fn folded_count(&self) -> usize {
        self.stories().map(|s| s.reports.saturating_sub(1)).sum()
    }

    /// Whether the digest is worth an email: it has a story, or a source is failing
    /// (a reader whose every source fails is told so). A quiet day with every source
    /// healthy mails nothing; the files are written all the same.
    pub fn worth_mailing(&self) -> bool {
        self.story_count() > 0 || !self.failing_sources.is_empty()
    }
}

/// Renders a digest in one format. Pure.
pub trait Renderer {
    /// The rendered document.
    fn render(&self, digest: &Digest) -> String;
}

/// The renderer for `format`.
pub fn renderer(format: Format) -> Box<dyn Renderer> {
    match format {
        Format::Markdown => Box::new(MarkdownRenderer),
        Format::Html => Box::new(HtmlRenderer),
        Format::Atom => Box::new(AtomRenderer),
        Format::Json => Box::new(JsonRenderer),
    }
}

/// Builds the digest of `window` from the store.
///
/// # Errors
/// [`StoreError`] when the stories cannot be read.
pub fn build(
    store: &Store,
    config: &Config,
    window: Window,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    let entries = store.digest_entries(window.start, window.end)?;
    let failing_sources = store.failing_sources(window.start)?;
    let layout = Layout {
        region_order: config.region_order(),
        source_order: config.sources.iter().map(|s| s.id.clone()).collect(),
        representative: config.dedup.representative,
    };
    Ok(assemble(
        entries,
        &layout,
        window,
        config.fetch.timezone,
        now,
        failing_sources,
    ))
}

/// How stories are laid out: region order, and which report represents a story.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Regions in display order; others follow alphabetically.
    pub region_order: Vec<String>,
    /// Source ids in config order (for [`Representative::ConfigOrder`]).
    pub source_order: Vec<String>,
    /// Which report represents a story.
    pub representative: Representative,
}

/// Whether a report is a news aggregator's listing of an article
/// ([`crate::dedup::aggregator_listing`]).
fn listing(e: &DigestEntry) -> bool {
    crate::dedup::aggregator_listing(&e.title, &e.summary)
}

/// The outlet an aggregator's listing names, and its headline without the name: the
/// title ends in the name after a separator and the summary ends in it too, after the
/// headline (Google News: "Headline - Reuters" over "Headline  Reuters"). A feed that
/// repeats its title as the summary ("… - Photos" twice) names no outlet: there the
/// name follows a separator in the summary as well.
fn listed_outlet(e: &DigestEntry) -> Option<(&str, &str)> {
    let (head, outlet) = crate::dedup::outlet_cut(&e.title)?;
    let (head, outlet) = (head.trim(), outlet.trim());
    let before = e.summary.trim_end().strip_suffix(outlet)?.trim_end();
    let after_separator = before.ends_with(['-', '|', '\u{2014}', '\u{2013}']);
    (listing(e) && !head.is_empty() && !before.is_empty() && !after_separator)
        .then_some((head, outlet))
}

/// The outlet a report is from: the one an aggregator's listing names, else its source.
fn outlet_of(e: &DigestEntry) -> &str {
    listed_outlet(e).map_or(&e.source_name, |(_, outlet)| outlet)
}

/// Whether two outlet names are one outlet's: "REUTERS" is "Reuters".
fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// How a report's outlet is shown: "Reuters via Google News" for a listing.
fn shown_outlet(e: &DigestEntry) -> String {
    match listed_outlet(e) {
        Some((_, outlet)) if !same_name(outlet, &e.source_name) => {
            format!("{outlet} via {}", e.source_name)
        }
        _ => e.source_name.clone(),
    }
}

/// `one` for 1, else `many`: "1 story", "2 stories".
pub(crate) fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// A report's summary as a digest shows it: footers dropped, at most [`SUMMARY_WORDS`]
/// words.
fn shown_summary(e: &DigestEntry) -> String {
    first_words(&without_footer(&e.summary), SUMMARY_WORDS)
}

/// How many words of a report's summary are not in its headline, counted up to one more
/// than [`OUTLET_MAX_WORDS`] (an aggregator adds the outlet's name to the headline; a
/// summary may be a whole article). Words are compared lower-cased, without the
/// punctuation around them.
fn words_beyond_headline(e: &DigestEntry) -> usize {
    fn trimmed(w: &str) -> &str {
        w.trim_matches(|c: char| !c.is_alphanumeric())
    }
    let title = e.title.to_lowercase();
    let headline: Vec<&str> = title.split_whitespace().map(trimmed).collect();
    e.summary
        .split_whitespace()
        .map(|w| {
            let w = trimmed(w);
            if w.chars().any(char::is_uppercase) {
                std::borrow::Cow::Owned(w.to_lowercase())
            } else {
                std::borrow::Cow::Borrowed(w)
            }
        })
        .filter(|w| !w.is_empty() && !headline.contains(&w.as_ref()))
        .take(OUTLET_MAX_WORDS + 1)
        .count()
}

/// Groups entries (ordered by story, earliest report first) into a digest. Pure.
pub fn assemble(
    entries: Vec<DigestEntry>,
    layout: &Layout,
    window: Window,
    timezone: Tz,
    now: DateTime<Utc>,
    failing_sources: Vec<(String, String)>,
) -> Digest {
    let mut groups: Vec<Vec<DigestEntry>> = Vec::new();
    for e in entries {
        match groups.last_mut() {
            Some(g) if g[0].story_id == e.story_id => g.push(e),
            _ => groups.push(vec![e]),
        }
    }
    let rank = |source: &str| {
        layout
            .source_order
            .iter()
            .position(|s| s == source)
            .unwrap_or(usize::MAX)
    };
    let mut by_region: HashMap<String, Vec<Story>> = HashMap::new();
    for mut group in groups {
        // An aggregator's listing represents its story only when no other report can.
        let rep = match layout.representative {
            Representative::Earliest => (0..group.len())
                .min_by_key(|&i| listing(&group[i]))
                .unwrap_or(0),
            Representative::ConfigOrder => (0..group.len())
                .min_by_key(|&i| (listing(&group[i]), rank(&group[i].source_id)))
                .unwrap_or(0),
        };
        let first = group.remove(rep);
        // The representative's summary, unless it only repeats its headline (a feed that
        // puts the title in the description, or none): then another report's that tells
        // more, earliest first.
        let beyond = words_beyond_headline(&first);
        let listed = listed_outlet(&first).map(|(head, _)| head.to_owned());
        let summary = if beyond > OUTLET_MAX_WORDS {
            shown_summary(&first)
        } else if let Some(other) = group
            .iter()
            .find(|e| words_beyond_headline(e) > OUTLET_MAX_WORDS)
        {
            shown_summary(other)
        } else if beyond == 0 || listed.is_some() {
            // A listing's summary is its headline and the outlet, both shown already.
            String::new()
        } else {
            shown_summary(&first)
        };
        // One line per other outlet: another feed of the same outlet (its id, or its
        // name) is not another outlet, and neither is an aggregator's listing of it; two
        // listings of one aggregator are when they name other outlets.
        let same_outlet = |a: &DigestEntry, b: &DigestEntry| {
            same_name(outlet_of(a), outlet_of(b))
                || (a.source_id == b.source_id
                    && listed_outlet(a).is_none()
                    && listed_outlet(b).is_none())
        };
        let reports = 1 + group.len();
        let mut shown: Vec<DigestEntry> = Vec::new();
        let mut also: Vec<AlsoReported> = Vec::new();
        for e in group {
            if !same_outlet(&e, &first) && !shown.iter().any(|s| same_outlet(&e, s)) {
                also.push(AlsoReported {
                    source: e.source_id.clone(),
                    source_name: shown_outlet(&e),
                    url: e.link.as_deref().map(without_tracking),
                });
                shown.push(e);
            }
        }
        let source_name = shown_outlet(&first);
        let story = Story {
            id: first.story_id,
            summary,
            title: listed.unwrap_or(first.title),
            url: first.link.as_deref().map(without_tracking),
            source: first.source_id,
            source_name,
            region: first.region,
            published: first.published,
            first_seen: first.story_first_seen,
            also_reported_by: also,
            reports,
        };
        by_region
            .entry(story.region.clone())
            .or_default()
            .push(story);
    }
    let region_order = &layout.region_order;
    let mut order: Vec<String> = region_order
        .iter()
        .filter(|r| by_region.contains_key(*r))
        .cloned()
        .collect();
    let mut rest: Vec<String> = by_region
        .keys()
        .filter(|r| !region_order.contains(r))
        .cloned()
        .collect();
    rest.sort();
    order.extend(rest);
    let regions = order
        .into_iter()
        .filter_map(|region| {
            let mut stories = by_region.remove(&region)?;
            stories.sort_by(|a, b| b.time().cmp(&a.time()).then(a.id.cmp(&b.id)));
            Some(RegionGroup { region, stories })
        })
        .collect();
    Digest {
        generated_at: now,
        window,
        timezone,
        regions,
        failing_sources,
    }
}

/// Footers feeds append to every excerpt, as (what starts one, what follows the post's
/// title, what ends it after the site's name): WordPress with Yoast SEO ends each item
/// with "The post <title> appeared first on <site>." in the site's language.
const FOOTERS: &[(&str, &str, &str)] = &[
    ("The post ", " appeared first on ", ""),
    ("Сообщение ", " появились сначала на ", ""),
    ("Запись ", " впервые появилась на ", ""),
    ("نوشته ", " اولین بار در ", "پدیدار شد"),
];

/// Whether `footer` (the text after a [`FOOTERS`] lead) is the rest of that footer: a
/// title, the middle, a site name of a few words, the ending, and nothing after.
fn is_footer(footer: &str, middle: &str, end: &str) -> bool {
    let Some(at) = footer.rfind(middle) else {
        return false;
    };
    let site = footer[at + middle.len()..].trim_end_matches(['.', ' ']);
    let Some(site) = site.strip_suffix(end) else {
        return false;
    };
    footer[..at].chars().count() <= 300 && site.trim().chars().count() <= 60
}

/// Links to the rest of the article that end many excerpts (compared case-insensitively,
/// with any arrows, dots and brackets after them).
const READ_MORE: &[&str] = &[
    "read more",
    "continue reading",
    "read the full story",
    "read the full article",
    "читать далее",
    "ادامه مطلب",
    "بیشتر بخوانید",
];

/// `text` without the footers and "read more" links that feeds append to an excerpt
/// (see [`FOOTERS`], [`READ_MORE`]): they are not the story, and in a five-minute digest
/// they would take a summary's last words. WordPress's "[…]" becomes "…". Display only:
/// stored text and matching keep them.
fn without_footer(text: &str) -> std::borrow::Cow<'_, str> {
    const TRAILING: &[char] = &['→', '»', '›', '…', '.', '[', ']', '(', ')', ':', '-', '>'];
    let mut rest = text.trim_end();
    loop {
        let before = rest.len();
        for (lead, middle, end) in FOOTERS {
            if let Some(at) = rest.rfind(lead)
                && is_footer(&rest[at + lead.len()..], middle, end)
            {
                rest = rest[..at].trim_end();
            }
        }
        let trimmed = rest.trim_end_matches(|c: char| c.is_whitespace() || TRAILING.contains(&c));
        let lower = trimmed.to_lowercase();
        for phrase in READ_MORE {
            // `to_lowercase` keeps these scripts' byte lengths, so the cut is at a
            // character boundary of `trimmed` too; checked, not assumed.
            if lower.ends_with(phrase) && lower.len() == trimmed.len() {
                let cut = trimmed.len() - phrase.len();
                let word_starts = trimmed.is_char_boundary(cut)
                    && trimmed[..cut]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !c.is_alphanumeric());
                if word_starts {
                    rest = trimmed[..cut].trim_end();
                }
            }
        }
        if rest.len() == before {
            break;
        }
    }
    match rest
        .strip_suffix("[…]")
        .or_else(|| rest.strip_suffix("[...]"))
    {
        Some(cut) => std::borrow::Cow::Owned(format!("{}…", cut.trim_end())),
        None => std::borrow::Cow::Borrowed(rest),
    }
}

/// At most `n` words of `text`, with an ellipsis when cut.
fn first_words(text: &str, n: usize) -> String {
    let mut words = text.split_whitespace();
    let head: Vec<&str> = words.by_ref().take(n).collect();
    let mut out = head.join(" ");
    if words.next().is_some() {
        out.push('…');
    }
    out
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, synced,
/// then renamed over the target. A reader never sees half a file; a failure leaves the
/// previous file (if any) in place.
///
/// # Errors
/// [`DigestError::Write`] naming the file.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), DigestError> {
    let err = |source| DigestError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, contents.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Writes `YYYY-MM-DD.<ext>` in every configured format into `digest.output_dir`
/// (JSON always: the archive is built from it), then rebuilds `index.html` and the
/// rolling `digests.atom`. Every file is written atomically. Returns the written paths.
///
/// # Errors
/// [`DigestError::Write`] on the first file that cannot be written.
pub fn write_files(config: &Config, digest: &Digest) -> Result<Vec<PathBuf>, DigestError> {
    let dir = &config.digest.output_dir;
    let mut formats = config.digest.formats.clone();
    if !formats.contains(&Format::Json) {
        formats.push(Format::Json);
    }
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(format!(
            "{}.{}",
            digest.window.date.format("%Y-%m-%d"),
            format.extension()
        ));
        write_atomic(&path, &renderer(format).render(digest))?;
        written.push(path);
    }
    written.extend(archive::rebuild(dir)?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_footers_and_read_more_links_are_not_summary() {
        let cases = [
            (
                "Officials met in Kabul on Monday. […] The post Russia Wants Taliban To Participate In SCO Meetings appeared first on KabulNow.",
                "Officials met in Kabul on Monday.…",
            ),
            (
                "Officials met in Kabul. Read More »",
                "Officials met in Kabul.",
            ),
            (
                "Officials met in Kabul. Continue reading → The post Talks appeared first on Amu TV.",
                "Officials met in Kabul.",
            ),
            (
                "Шойгу прибыл в Кабул. Читать далее... Сообщение Шойгу в Кабуле появились сначала на Фергана.",
                "Шойгу прибыл в Кабул.",
            ),
            (
                "شویگو به کابل رسید. ادامه مطلب نوشته شویگو در کابل اولین بار در آمو پدیدار شد.",
                "شویگو به کابل رسید.",
            ),
            // Text that only resembles a footer is kept.
            (
                "روزنامه نوشته است که این رویداد اولین بار در کابل رخ داد.",
                "روزنامه نوشته است که این رویداد اولین بار در کابل رخ داد.",
            ),
            (
                "The post was first published in 2019 and appeared first on the front page of every paper that covered the long negotiations in Doha between the parties.",
                "The post was first published in 2019 and appeared first on the front page of every paper that covered the long negotiations in Doha between the parties.",
            ),
            (
                "The post office reopened, and people can spread more",
                "The post office reopened, and people can spread more",
            ),
            ("Nothing to drop here.", "Nothing to drop here."),
        ];
        for (text, want) in cases {
            assert_eq!(without_footer(text), want, "{text}");
        }
    }

    fn entry(story: i64, source: &str, region: &str, published_h: u32) -> DigestEntry {
        let t = Utc
            .with_ymd_and_hms(2024, 11, 26, published_h, 0, 0)
            .unwrap();
        DigestEntry {
            story_id: story,
            story_first_seen: t,
            source_id: source.into(),
            source_name: source.to_uppercase(),
            region: region.into(),
            title: format!("story {story} via {source}"),
            link: Some(format!("https://{source}.example/{story}")),
            published: Some(t),
            summary: "word ".repeat(100),
            first_seen: t,
        }
    }

    /// `entries` assembled under `layout` for the day before 27 Nov 2024 (UTC).
    fn assembled(entries: Vec<DigestEntry>, layout: &Layout) -> Digest {
        let now = Utc.with_ymd_and_hms(2024, 11, 27, 0, 0, 0).unwrap();
        let window = Window::ending(now, std::time::Duration::from_secs(86400), chrono_tz::UTC);
        assemble(entries, layout, window, chrono_tz::UTC, now, vec![])
    }

    #[test]
    fn stories_appear_once_grouped_by_region_newest_first() {
        let entries = vec![
            entry(1, "afintl", "Afghanistan", 8),
            entry(1, "kabulnow", "Afghanistan", 9),
            entry(1, "kabulnow", "Afghanistan", 10),
            entry(1, "wire", "Wire", 11),
            entry(2, "amu", "Afghanistan", 12),
            entry(3, "meduza", "Russia", 7),
        ];
        let mut layout = Layout {
            region_order: vec!["Russia".to_owned(), "Afghanistan".to_owned()],
            source_order: vec!["wire".to_owned(), "afintl".to_owned()],
            representative: Representative::Earliest,
        };
        let d = assembled(entries.clone(), &layout);
        let names: Vec<_> = d.regions.iter().map(|r| r.region.as_str()).collect();
        assert_eq!(names, ["Russia", "Afghanistan"]);
        let afg: Vec<i64> = d.regions[1].stories.iter().map(|s| s.id).collect();
        assert_eq!(afg, [2, 1], "newest first");
        let seed = &d.regions[1].stories[1];
        assert_eq!(seed.source, "afintl");
        let also: Vec<_> = seed
            .also_reported_by
            .iter()
            .map(|a| a.source.as_str())
            .collect();
        assert_eq!(also, ["kabulnow", "wire"], "one entry per other outlet");
        assert_eq!(seed.summary.split_whitespace().count(), SUMMARY_WORDS);
        assert!(seed.summary.ends_with('…'));
        // Folded: both of KabulNow's reports and the wire's (one "also reported by"
        // line for KabulNow).
        assert_eq!(
            (d.story_count(), d.outlet_count(), d.folded_count()),
            (3, 5, 3)
        );
        // "config_order": the first-listed source represents the story.
        layout.representative = Representative::ConfigOrder;
        let d = assembled(entries, &layout);
        let seed = d.stories().find(|s| s.id == 1).unwrap();
        assert_eq!(seed.source, "wire");
        let also: Vec<_> = seed
            .also_reported_by
            .iter()
            .map(|a| a.source.as_str())
            .collect();
        assert_eq!(also, ["afintl", "kabulnow"]);
    }

    #[test]
    fn a_summary_that_only_repeats_the_headline_gives_way_to_another_report_s() {
        let layout = Layout {
            region_order: vec![],
            source_order: vec![],
            representative: Representative::Earliest,
        };
        // The earliest report's feed puts the headline in the description.
        let mut echo = entry(1, "tolo", "Afghanistan", 8);
        echo.title = "Torkham Crossing Reopens After Four-Day Closure".into();
        echo.summary = "Torkham crossing reopens after four-day closure.".into();
        let mut full = entry(1, "amu", "Afghanistan", 9);
        full.summary = "Pakistan and the Taliban reopened the Torkham crossing on Friday after \
                        talks between border officials."
            .into();
        // Alone, such a report shows no summary rather than its headline twice.
        let mut alone = echo.clone();
        alone.story_id = 2;
        // A summary of its own, however short, is kept.
        let mut short = entry(3, "tolo", "Afghanistan", 10);
        short.summary = "Officials confirmed it.".into();
        let d = assembled(vec![echo, full, alone, short.clone()], &layout);
        let story = |id| d.stories().find(|s| s.id == id).unwrap();
        assert_eq!(story(1).source, "tolo");
        assert_eq!(
            story(1).summary,
            "Pakistan and the Taliban reopened the Torkham crossing on Friday after talks \
             between border officials."
        );
        assert_eq!(story(2).summary, "");
        assert_eq!(story(3).summary, short.summary);
    }

    #[test]
    fn an_aggregator_listing_represents_its_story_only_when_nothing_else_can() {
        let mut listing = entry(1, "news-search", "World", 8);
        listing.title = "Russia wants Taliban at SCO meetings - Afghanistan International".into();
        listing.summary = "Russia wants Taliban at SCO meetings  Afghanistan International".into();
        let article = entry(1, "afintl", "Afghanistan", 9);
        let mut alone = entry(2, "news-search", "World", 10);
        alone.title = "Torkham crossing reopens after four-day closure - Dawn".into();
        alone.summary = String::new();
        // A feed without summaries is no aggregator: its earliest report represents.
        let mut bare = entry(3, "tolo", "Afghanistan", 8);
        bare.summary = String::new();
        let full = entry(3, "amu", "Afghanistan", 9);
        for representative in [Representative::Earliest, Representative::ConfigOrder] {
            let layout = Layout {
                region_order: vec![],
                source_order: vec!["news-search".to_owned(), "afintl".to_owned()],
                representative,
            };
            let d = assembled(
                vec![
                    listing.clone(),
                    article.clone(),
                    alone.clone(),
                    bare.clone(),
                    full.clone(),
                ],
                &layout,
            );
            let seed = d.stories().find(|s| s.id == 1).unwrap();
            assert_eq!(seed.source, "afintl", "{representative:?}");
            assert_eq!(seed.also_reported_by[0].source, "news-search");
            assert_eq!(
                d.stories().find(|s| s.id == 2).unwrap().source,
                "news-search"
            );
            if representative == Representative::Earliest {
                assert_eq!(d.stories().find(|s| s.id == 3).unwrap().source, "tolo");
            }
        }
    }

    #[test]
    fn an_aggregator_listing_shows_the_outlet_it_lists() {
        let listing = |story: i64, h: u32, outlet: &str| {
            let mut e = entry(story, "gnews", "World", h);
            e.title = format!("Taliban delegation attends SCO talks in Moscow - {outlet}");
            e.summary = format!("Taliban delegation attends SCO talks in Moscow\u{a0} {outlet}");
            e
        };
        // Alone: the outlet it names, by way of the aggregator; the headline without it.
        let alone = listing(1, 8, "Reuters");
        // The outlet's own report, and the aggregator's listing of it: one outlet.
        let own = entry(2, "reuters", "World", 8);
        let of_own = listing(2, 9, "Reuters");
        // Two listings of one aggregator naming two outlets: two outlets.
        let (first, second) = (listing(3, 8, "Reuters"), listing(3, 9, "Associated Press"));
        // A feed that repeats its title as its summary names no outlet.
        let mut echo = entry(4, "tolo", "World", 8);
        echo.title = "Kabul airport reopens to flights - Photos".into();
        echo.summary = "Kabul airport reopens to flights - Photos".into();
        let layout = Layout {
            region_order: vec![],
            source_order: vec![],
            representative: Representative::Earliest,
        };
        let d = assembled(vec![alone, own, of_own, first, second, echo], &layout);
        let story = |id| d.stories().find(|s| s.id == id).unwrap();
        let also = |id| -> Vec<String> {
            story(id)
                .also_reported_by
                .iter()
                .map(|a| a.source_name.clone())
                .collect()
        };
        assert_eq!(
            story(1).title,
            "Taliban delegation attends SCO talks in Moscow"
        );
        assert_eq!(story(1).source_name, "Reuters via GNEWS");
        assert_eq!(story(1).source, "gnews");
        assert_eq!(story(1).summary, "", "the headline is not shown twice");
        assert_eq!(story(2).source_name, "REUTERS");
        assert!(also(2).is_empty(), "{:?}", also(2));
        // Not another outlet, but a report folded all the same.
        assert_eq!(story(2).reports, 2);
        assert_eq!(story(3).source_name, "Reuters via GNEWS");
        assert_eq!(also(3), ["Associated Press via GNEWS"]);
        // "Reuters via GNEWS" (twice), REUTERS, "Associated Press via GNEWS", TOLO.
        assert_eq!(d.outlet_count(), 4);
        // Story 2's listing and story 3's second listing.
        assert_eq!(d.folded_count(), 2);
        assert_eq!(story(4).title, "Kabul airport reopens to flights - Photos");
        assert_eq!(story(4).source_name, "TOLO");
    }

    #[test]
    fn links_are_shown_without_tracking_parameters() {
        let mut first = entry(1, "afintl", "Afghanistan", 8);
        first.link = Some("https://afintl.example/1?utm_source=rss&utm_medium=feed".into());
        let mut wire = entry(1, "wire", "Wire", 9);
        wire.link = Some("https://wire.example/a?id=1&fbclid=xyz".into());
        let layout = Layout {
            region_order: vec![],
            source_order: vec![],
            representative: Representative::Earliest,
        };
        let d = assembled(vec![first, wire], &layout);
        let story = &d.regions[0].stories[0];
        assert_eq!(story.url.as_deref(), Some("https://afintl.example/1"));
        assert_eq!(
            story.also_reported_by[0].url.as_deref(),
            Some("https://wire.example/a?id=1")
        );
    }

    #[test]
    fn another_feed_of_the_same_outlet_is_not_also_reported_by() {
        let mut section = entry(1, "afintl-afghanistan", "Afghanistan", 9);
        section.source_name = "AFINTL".into();
        let mut second = entry(1, "kabulnow-2", "Afghanistan", 11);
        second.source_name = "KABULNOW".into();
        let entries = vec![
            entry(1, "afintl", "Afghanistan", 8),
            section,
            entry(1, "kabulnow", "Afghanistan", 10),
            second,
        ];
        let layout = Layout {
            region_order: vec![],
            source_order: vec![],
            representative: Representative::Earliest,
        };
        let d = assembled(entries, &layout);
        let story = d.stories().next().unwrap();
        assert_eq!(story.source, "afintl");
        let also: Vec<_> = story
            .also_reported_by
            .iter()
            .map(|a| a.source_name.as_str())
            .collect();
        assert_eq!(also, ["KABULNOW"]);
    }

    #[test]
    fn date_window_is_local_midnight_to_midnight() {
        let w = Window::for_date(
            NaiveDate::from_ymd_opt(2024, 11, 26).unwrap(),
            chrono_tz::Asia::Kabul,
        );
        assert_eq!(
            w.start,
            Utc.with_ymd_and_hms(2024, 11, 25, 19, 30, 0).unwrap()
        );
        assert_eq!(
            w.end,
            Utc.with_ymd_and_hms(2024, 11, 26, 19, 30, 0).unwrap()
        );
    }
}
