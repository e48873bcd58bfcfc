//! The archive in `digest.output_dir`: `index.html` linking every digest newest first,
//! and `digests.atom`, a rolling feed of the last [`ROLLING`] daily digests. Both are
//! rebuilt from the `YYYY-MM-DD.json` files after each digest, so they always match
//! what is on disk.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::view::render;
use super::{DigestError, write_atomic};

/// Digests in the rolling Atom feed.
pub const ROLLING: usize = 30;
/// Stories listed per digest in the rolling feed.
const TOP: usize = 15;

#[derive(Deserialize)]
struct JsonDigest {
    generated_at: String,
    stories: Vec<JsonStory>,
}

#[derive(Deserialize, Serialize)]
struct JsonStory {
    title: String,
    url: Option<String>,
    source_name: String,
}

#[derive(Serialize)]
struct Entry {
    date: String,
    heading: String,
    href: String,
    generated: String,
    stories: usize,
    top: Vec<JsonStory>,
}

#[derive(Serialize)]
struct ArchiveView {
    version: &'static str,
    updated: String,
    digests: Vec<Entry>,
}

/// Dates (`YYYY-MM-DD`) with a digest file of `ext` in `dir`, newest first.
fn dates(dir: &Path, ext: &str) -> Vec<chrono::NaiveDate> {
    let mut out: Vec<chrono::NaiveDate> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(&format!(".{ext}"))?;
            chrono::NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
        })
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out
}

fn entry(dir: &Path, date: chrono::NaiveDate) -> Option<Entry> {
    let name = date.format("%Y-%m-%d").to_string();
    let json: JsonDigest =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).ok()?).ok()?;
    let href = if dir.join(format!("{name}.html")).exists() {
        format!("{name}.html")
    } else {
        format!("{name}.md")
    };
    Some(Entry {
        heading: date.format("%A, %-d %B %Y").to_string(),
        href,
        generated: json.generated_at,
        stories: json.stories.len(),
        top: json.stories.into_iter().take(TOP).collect(),
        date: name,
    })
}

/// Rewrites `index.html` and `digests.atom` in `dir`. Returns the written paths.
///
/// # Errors
/// [`DigestError::Write`] when a file cannot be written.
pub fn rebuild(dir: &Path) -> Result<Vec<PathBuf>, DigestError> {
    let all: Vec<Entry> = dates(dir, "json")
        .into_iter()
        .filter_map(|d| entry(dir, d))
        .collect();
    let updated = all.first().map_or_else(
        || super::view::rfc3339(chrono::Utc::now()),
        |e| e.generated.clone(),
    );
    let index = ArchiveView {
        version: crate::VERSION,
        updated: updated.clone(),
        digests: all,
    };
    let index_path = dir.join("index.html");
    write_atomic(&index_path, &render("index.html", &index))?;
    let rolling = ArchiveView {
        digests: index.digests.into_iter().take(ROLLING).collect(),
        ..index
    };
    let atom_path = dir.join("digests.atom");
    write_atomic(&atom_path, &render("digests.atom.xml", &rolling))?;
    Ok(vec![index_path, atom_path])
}
