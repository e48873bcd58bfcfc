//! JSON digest for scripts, in exactly the shape PRODUCT.md documents (`version: 1`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{Digest, Renderer};

/// Renders a digest as JSON.
#[derive(Debug, Clone, Copy)]
pub struct JsonRenderer;

#[derive(Serialize)]
struct JsonDigest<'a> {
    version: u32,
    generated_at: String,
    window: JsonWindow,
    stories: Vec<JsonStory<'a>>,
}

#[derive(Serialize)]
struct JsonWindow {
    start: String,
    end: String,
}

#[derive(Serialize)]
struct JsonStory<'a> {
    id: i64,
    title: &'a str,
    url: Option<&'a str>,
    source: &'a str,
    source_name: &'a str,
    region: &'a str,
    published: Option<String>,
    first_seen: String,
    summary: &'a str,
    also_reported_by: Vec<JsonAlso<'a>>,
}

#[derive(Serialize)]
struct JsonAlso<'a> {
    source: &'a str,
    source_name: &'a str,
    url: Option<&'a str>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Renderer for JsonRenderer {
    fn render(&self, d: &Digest) -> String {
        let doc = JsonDigest {
            version: 1,
            generated_at: rfc3339(d.generated_at),
            window: JsonWindow {
                start: rfc3339(d.window.start),
                end: rfc3339(d.window.end),
            },
            stories: d
                .stories()
                .map(|s| JsonStory {
                    id: s.id,
                    title: &s.title,
                    url: s.url.as_deref(),
                    source: &s.source,
                    source_name: &s.source_name,
                    region: &s.region,
                    published: s.published.map(rfc3339),
                    first_seen: rfc3339(s.first_seen),
                    summary: &s.summary,
                    also_reported_by: s
                        .also_reported_by
                        .iter()
                        .map(|a| JsonAlso {
                            source: &a.source,
                            source_name: &a.source_name,
                            url: a.url.as_deref(),
                        })
                        .collect(),
                })
                .collect(),
        };
        // Serialising plain strings and numbers cannot fail.
        let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
        out
    }
}
