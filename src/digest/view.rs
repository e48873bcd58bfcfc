//! The template view of a digest, shared by the HTML and Atom renderers: times
//! formatted in the digest's zone, text direction per story, region anchors. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::Environment;
use serde::Serialize;

use super::{Digest, Story};

/// The embedded templates (auto-escaping by name: `.html` and `.xml` escape HTML).
pub(super) fn environment() -> &'static Environment<'static> {
    static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // minijinja's HTML escaping also escapes `/` (`https:&#x2f;&#x2f;…`): valid but
        // noisy in links and feed ids. Escape exactly what HTML and XML need instead.
        env.set_formatter(|out, state, value| {
            let escape =
                matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe();
            if escape && !value.is_none() && !value.is_undefined() {
                let text = value.to_string();
                let mut escaped = String::with_capacity(text.len());
                for ch in text.chars() {
                    match ch {
                        '&' => escaped.push_str("&amp;"),
                        '<' => escaped.push_str("&lt;"),
                        '>' => escaped.push_str("&gt;"),
                        '"' => escaped.push_str("&quot;"),
                        '\'' => escaped.push_str("&#39;"),
                        c if crate::normalize::is_stray_control(c) => {}
                        c => escaped.push(c),
                    }
                }
                out.write_str(&escaped).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                })
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, source) in [
            ("digest.html", include_str!("../../templates/digest.html")),
            (
                "digest.atom.xml",
                include_str!("../../templates/digest.atom.xml"),
            ),
            (
                "digests.atom.xml",
                include_str!("../../templates/digests.atom.xml"),
            ),
            ("index.html", include_str!("../../templates/index.html")),
        ] {
            // The templates are compiled into the binary and covered by the golden
            // tests; a syntax error cannot reach a release.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!("template {name}: {e}");
            }
        }
        env
    });
    &ENV
}

/// Renders an embedded template; errors (impossible with the shipped templates) are
/// rendered as a one-line message rather than panicking.
pub(super) fn render<S: Serialize>(name: &str, view: &S) -> String {
    let result = environment()
        .get_template(name)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))));
    result.unwrap_or_else(|e| format!("roundup: cannot render {name}: {e}\n"))
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Serialize)]
pub(super) struct DigestView<'a> {
    pub version: &'static str,
    pub date: String,
    pub title: String,
    pub heading: String,
    pub window_text: String,
    pub stories: usize,
    pub outlets: usize,
    pub folded: usize,
    pub failing: Vec<FailView<'a>>,
    pub regions: Vec<RegionView<'a>>,
    pub generated: String,
    pub timezone: &'static str,
}

#[derive(Serialize)]
pub(super) struct FailView<'a> {
    pub source: &'a str,
    pub error: &'a str,
}

#[derive(Serialize)]
pub(super) struct RegionView<'a> {
    pub name: &'a str,
    pub anchor: String,
    pub stories: Vec<StoryView<'a>>,
}

#[derive(Serialize)]
pub(super) struct StoryView<'a> {
    pub atom_id: String,
    pub dir: &'static str,
    pub url: Option<&'a str>,
    pub title: &'a str,
    pub source_name: &'a str,
    pub time_iso: String,
    pub time_local: String,
    pub summary: &'a str,
    pub also: Vec<AlsoView<'a>>,
}

#[derive(Serialize)]
pub(super) struct AlsoView<'a> {
    pub source_name: &'a str,
    pub url: Option<&'a str>,
}

/// "rtl" when the first strong letter of `text` is Arabic-script or Hebrew.
pub fn text_direction(text: &str) -> &'static str {
    for ch in text.chars() {
        let c = ch as u32;
        let rtl = matches!(c, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF);
        if rtl {
            return "rtl";
        }
        if ch.is_alphabetic() {
            return "ltr";
        }
    }
    "auto"
}

fn anchor(region: &str) -> String {
    let slug: String = region
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("region-{}", slug.trim_matches('-'))
}

fn story_view<'a>(s: &'a Story, d: &Digest) -> StoryView<'a> {
    let t = s.time();
    StoryView {
        atom_id: s
            .url
            .clone()
            .unwrap_or_else(|| format!("urn:roundup:story:{}", s.id)),
        dir: text_direction(&s.title),
        url: s.url.as_deref(),
        title: &s.title,
        source_name: &s.source_name,
        time_iso: rfc3339(t),
        time_local: t
            .with_timezone(&d.timezone)
            .format("%-d %b %Y, %H:%M")
            .to_string(),
        summary: &s.summary,
        also: s
            .also_reported_by
            .iter()
            .map(|a| AlsoView {
                source_name: &a.source_name,
                url: a.url.as_deref(),
            })
            .collect(),
    }
}

/// The view of a whole digest.
pub(super) fn digest_view(d: &Digest) -> DigestView<'_> {
    let tz = d.timezone;
    let fmt = "%-d %b %Y, %H:%M";
    DigestView {
        version: crate::VERSION,
        date: d.window.date.format("%Y-%m-%d").to_string(),
        title: format!("roundup — {}", d.window.date.format("%Y-%m-%d")),
        heading: d.window.date.format("%A, %-d %B %Y").to_string(),
        window_text: format!(
            "{} → {} ({})",
            d.window.start.with_timezone(&tz).format(fmt),
            d.window.end.with_timezone(&tz).format(fmt),
            tz.name()
        ),
        stories: d.story_count(),
        outlets: d.outlet_count(),
        folded: d.folded_count(),
        failing: d
            .failing_sources
            .iter()
            .map(|(source, error)| FailView { source, error })
            .collect(),
        regions: d
            .regions
            .iter()
            .map(|r| RegionView {
                name: &r.region,
                anchor: anchor(&r.region),
                stories: r.stories.iter().map(|s| story_view(s, d)).collect(),
            })
            .collect(),
        generated: rfc3339(d.generated_at),
        timezone: tz.name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_never_reach_a_page_or_feed() {
        // Text stored before feed text was cleaned of them (see
        // `normalize::is_stray_control`) must not make a digest unreadable.
        for name in ["digest.atom.xml", "digest.html"] {
            let out = environment()
                .render_named_str(
                    name,
                    "{{ t }}",
                    minijinja::context! { t => "AT&T\u{1a} deal\u{ffff}" },
                )
                .unwrap();
            assert_eq!(out, "AT&amp;T deal", "{name}");
        }
    }

    #[test]
    fn direction_follows_the_first_strong_letter() {
        assert_eq!(text_direction("روسیه خواهان مشارکت طالبان"), "rtl");
        assert_eq!(text_direction("«روسیه» 2024"), "rtl");
        assert_eq!(text_direction("Russia wants"), "ltr");
        assert_eq!(text_direction("Банк России"), "ltr");
        assert_eq!(text_direction("2024 — 11"), "auto");
    }
}
