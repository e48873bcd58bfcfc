//! Edits the config file in place with `toml_edit`, the way a careful person would:
//! a new `[[sources]]` block is appended after everything else, a removed block takes
//! only its own lines (and the comment lines directly above its header), and a
//! disabled source gets `enabled = false` in its block. Every other byte of the file is
//! kept. The edited text is validated as a whole config before it replaces the file
//! (atomically, keeping the file's permissions), so a failed edit leaves the file as it
//! was.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use super::{SourceSpec, SourcesError};
use crate::config::{self, Config};

/// The config file being edited: its path, the parsed document, and
/// the blocks appended to it (as text, so they land after any trailing comment).
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
    appended: String,
}

/// Written at the top of a config file that `sources add` or `sources import` creates.
const NEW_FILE_HEADER: &str =
    "# roundup configuration (see `roundup init` for a commented starter).\n";

impl ConfigFile {
    /// Reads `path`. A missing file is an empty config (`add` and `import` create it).
    ///
    /// # Errors
    /// When the file cannot be read or is not TOML.
    pub fn open(path: &Path) -> Result<ConfigFile, SourcesError> {
        let original = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(SourcesError::new(format!(
                    "{}: cannot read config file: {e}",
                    path.display()
                )));
            }
        };
        let doc = original.parse::<DocumentMut>().map_err(|e| {
            SourcesError::new(format!(
                "{}: not valid TOML: {}",
                path.display(),
                e.message()
            ))
        })?;
        Ok(ConfigFile {
            path: path.to_owned(),
            doc,
            appended: String::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The config as it stands after the edits so far, validated.
    ///
    /// # Errors
    /// Every problem of the edited text, with file:line.
    pub fn validate(&self) -> Result<Config, SourcesError> {
        config::parse_str(&self.text(), &self.path)
            .map_err(|e| SourcesError::new(e.to_string().replace('\n', "; ")))
    }

    /// The edited text.
    pub fn text(&self) -> String {
        let mut text = self.doc.to_string();
        if !self.appended.is_empty() {
            // One blank line between blocks, as the starter config has them.
            if text.is_empty() {
                text.push_str(NEW_FILE_HEADER);
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.ends_with("\n\n") {
                text.push('\n');
            }
            text.push_str(&self.appended);
        }
        text
    }

    /// Appends a `[[sources]]` block for `spec` after everything else in the file.
    pub fn append(&mut self, spec: &SourceSpec) {
        let mut table = Table::new();
        table["id"] = value(&spec.id);
        table["name"] = value(&spec.name);
        table["url"] = value(&spec.url);
        if let Some(site) = &spec.site {
            table["site"] = value(site);
        }
        if let Some(region) = &spec.region {
            table["region"] = value(region);
        }
        if let Some(language) = &spec.language {
            table["language"] = value(language);
        }
        if !spec.tags.is_empty() {
            let tags: toml_edit::Array = spec.tags.iter().map(String::as_str).collect();
            table["tags"] = value(tags);
        }
        if let Some(schedule) = &spec.schedule {
            table["schedule"] = value(schedule);
        }
        if !spec.enabled {
            table["enabled"] = value(false);
        }
        if let Some(proxy) = &spec.proxy {
            table["proxy"] = value(proxy);
        }
        let mut block = DocumentMut::new();
        let mut array = toml_edit::ArrayOfTables::new();
        array.push(table);
        block.insert("sources", Item::ArrayOfTables(array));
        if !self.appended.is_empty() {
            self.appended.push('\n');
        }
        self.appended.push_str(&block.to_string());
    }

    /// Removes the block of source `id`. Comment lines directly above its header (no
    /// blank line between) go with it; anything above a blank line stays.
    ///
    /// # Errors
    /// When no block has that id.
    pub fn remove(&mut self, id: &str) -> Result<(), SourcesError> {
        let index = self.index_of(id)?;
        let Some(Item::ArrayOfTables(array)) = self.doc.get_mut("sources") else {
            return Err(self.unknown(id));
        };
        let removed = array.remove(index);
        let kept = kept_prefix(
            removed
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or(""),
        );
        if array.is_empty() {
            self.doc.remove("sources");
        }
        if !kept.is_empty() {
            let next = removed
                .position()
                .and_then(|p| next_position(self.doc.as_table(), p));
            match next.and_then(|n| table_at(self.doc.as_table_mut(), n)) {
                Some(table) => {
                    let old = table
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .to_owned();
                    table.decor_mut().set_prefix(join_blank(&kept, &old));
                }
                None => {
                    let old = self.doc.trailing().as_str().unwrap_or("").to_owned();
                    // At the end of the file, the blank lines that separated the block
                    // from what is above go with it.
                    let kept = if old.trim().is_empty() {
                        let mut lines: Vec<&str> = kept.split_inclusive('\n').collect();
                        while lines.last().is_some_and(|l| l.trim().is_empty()) {
                            lines.pop();
                        }
                        lines.concat()
                    } else {
                        kept
                    };
                    self.doc.set_trailing(join_blank(&kept, &old));
                }
            }
        }
        Ok(())
    }

    /// Sets `enabled` of source `id`: `enabled = false` to disable; enabling removes a
    /// `false` (enabled is the default) unless the key carries a comment, which is kept.
    ///
    /// Returns whether anything changed.
    ///
    /// # Errors
    /// When no block has that id.
    pub fn set_enabled(&mut self, id: &str, enabled: bool) -> Result<bool, SourcesError> {
        let index = self.index_of(id)?;
        let Some(table) = self
            .doc
            .get_mut("sources")
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|a| a.get_mut(index))
        else {
            return Err(self.unknown(id));
        };
        let current = table.get("enabled").and_then(Item::as_bool).unwrap_or(true);
        if current == enabled {
            return Ok(false);
        }
        match table.get_mut("enabled").and_then(Item::as_value_mut) {
            Some(v) => {
                let decor = v.decor().clone();
                *v = toml_edit::Value::from(enabled);
                *v.decor_mut() = decor;
            }
            None => table["enabled"] = value(enabled),
        }
        Ok(true)
    }

    /// Validates the edited text and replaces the file with it, atomically and with the
    /// old file's permissions.
    ///
    /// # Errors
    /// When the edited config is invalid (nothing written) or cannot be written.
    pub fn save(&self) -> Result<Config, SourcesError> {
        let config = self.validate()?;
        let text = self.text();
        let write_err = |e: std::io::Error| {
            SourcesError::new(format!("{}: cannot write: {e}", self.path.display()))
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(write_err)?;
        if let Ok(meta) = std::fs::metadata(&self.path) {
            std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(write_err)?;
        }
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&self.path).map_err(|e| write_err(e.error))?;
        Ok(config)
    }

    fn index_of(&self, id: &str) -> Result<usize, SourcesError> {
        self.doc
            .get("sources")
            .and_then(Item::as_array_of_tables)
            .and_then(|a| {
                a.iter()
                    .position(|t| t.get("id").and_then(Item::as_str) == Some(id))
            })
            .ok_or_else(|| self.unknown(id))
    }

    fn unknown(&self, id: &str) -> SourcesError {
        SourcesError::new(format!(
            "{}: no source with id {id:?} (see `roundup sources list`)",
            self.path.display()
        ))
    }
}

/// The part of a removed block's prefix that belongs to what is above it: everything up
/// to and including the last blank line. The comment lines right above the header
/// describe the removed source and go with it.
fn kept_prefix(prefix: &str) -> String {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let last_blank = lines.iter().rposition(|l| l.trim().is_empty());
    match last_blank {
        Some(i) => lines[..=i].concat(),
        None => String::new(),
    }
}

/// `kept` then `next`, with one blank line where both would bring one.
fn join_blank(kept: &str, next: &str) -> String {
    let next_starts_blank = next
        .split_inclusive('\n')
        .next()
        .is_some_and(|l| l.trim().is_empty());
    if next_starts_blank && kept.ends_with("\n\n") {
        format!("{}{next}", &kept[..kept.len() - 1])
    } else if next_starts_blank && kept == "\n" {
        next.to_owned()
    } else {
        format!("{kept}{next}")
    }
}

/// The smallest table position after `after` anywhere in the document.
fn next_position(table: &Table, after: isize) -> Option<isize> {
    let mut best: Option<isize> = None;
    let mut consider = |p: Option<isize>| {
        if let Some(p) = p.filter(|&p| p > after) {
            best = Some(best.map_or(p, |b: isize| b.min(p)));
        }
    };
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => {
                consider(t.position());
                if let Some(p) = next_position(t, after) {
                    consider(Some(p));
                }
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    consider(t.position());
                    if let Some(p) = next_position(t, after) {
                        consider(Some(p));
                    }
                }
            }
            _ => {}
        }
    }
    best
}

/// The table at document position `position`.
fn table_at(table: &mut Table, position: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => {
                if t.position() == Some(position) {
                    return Some(t);
                }
                if let Some(found) = table_at(t, position) {
                    return Some(found);
                }
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    if t.position() == Some(position) {
                        return Some(t);
                    }
                    if let Some(found) = table_at(t, position) {
                        return Some(found);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# My feeds. Keep this comment.
database = "r.db"   # trailing comment

[fetch]
schedule = "*/30 * * * *"

# --- Afghanistan ---

# The outlet I read first.
[[sources]]
id = "afintl"          # slug
url = "https://www.afintl.com/en/rss"
region = "Afghanistan"

# Another one.
[[sources]]
id = "tolo"
url = "https://tolonews.com/rss"   # keep me
enabled = false   # broken since May

[digest]
window = "24h"
# end of file
"#;

    fn file(text: &str) -> (tempfile::TempDir, ConfigFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roundup.toml");
        std::fs::write(&path, text).unwrap();
        let f = ConfigFile::open(&path).unwrap();
        (dir, f)
    }

    fn spec(id: &str, url: &str) -> SourceSpec {
        SourceSpec {
            id: id.to_owned(),
            name: "Name \"quoted\"".to_owned(),
            url: url.to_owned(),
            site: None,
            region: Some("Iran".to_owned()),
            language: Some("fa".to_owned()),
            tags: vec!["a".to_owned(), "b".to_owned()],
            schedule: None,
            enabled: true,
            proxy: None,
        }
    }

    #[test]
    fn append_keeps_every_existing_byte() {
        let (_d, mut f) = file(CONFIG);
        f.append(&spec("bbcfa", "https://feeds.bbci.co.uk/persian/rss.xml"));
        let text = f.text();
        assert!(text.starts_with(CONFIG), "{text}");
        let added = &text[CONFIG.len()..];
        assert!(
            added.starts_with("\n[[sources]]\nid = \"bbcfa\"\n"),
            "{added}"
        );
        let config = f.validate().unwrap();
        assert_eq!(config.sources.len(), 3);
        assert_eq!(config.sources[2].name, "Name \"quoted\"");
        assert_eq!(config.sources[2].tags, ["a", "b"]);
    }

    #[test]
    fn remove_takes_only_its_block_and_the_comment_right_above() {
        let (_d, mut f) = file(CONFIG);
        f.remove("afintl").unwrap();
        let expected = CONFIG.replace(
            "# The outlet I read first.\n[[sources]]\nid = \"afintl\"          # slug\nurl = \"https://www.afintl.com/en/rss\"\nregion = \"Afghanistan\"\n\n",
            "",
        );
        assert_ne!(expected, CONFIG);
        assert_eq!(f.text(), expected);
        f.remove("tolo").unwrap();
        let expected = expected.replace(
            "# Another one.\n[[sources]]\nid = \"tolo\"\nurl = \"https://tolonews.com/rss\"   # keep me\nenabled = false   # broken since May\n\n",
            "",
        );
        assert_eq!(f.text(), expected);
        assert!(f.validate().unwrap().sources.is_empty());
    }

    #[test]
    fn enable_and_disable_touch_one_value() {
        let (_d, mut f) = file(CONFIG);
        assert!(f.set_enabled("tolo", true).unwrap());
        assert_eq!(
            f.text(),
            CONFIG.replace("enabled = false   # broken", "enabled = true   # broken")
        );
        assert!(!f.set_enabled("tolo", true).unwrap());
        assert!(f.set_enabled("afintl", false).unwrap());
        let config = f.validate().unwrap();
        assert!(!config.sources[0].enabled);
        assert!(config.sources[1].enabled);
        assert!(
            f.text()
                .contains("region = \"Afghanistan\"\nenabled = false\n")
        );
    }

    #[test]
    fn unknown_id_is_an_error_naming_it() {
        let (_d, mut f) = file(CONFIG);
        let err = f.remove("nope").unwrap_err().to_string();
        assert!(err.contains("\"nope\""), "{err}");
        assert!(f.set_enabled("nope", false).is_err());
        assert_eq!(f.text(), CONFIG);
    }

    #[test]
    fn invalid_edit_is_not_saved() {
        let (d, mut f) = file(CONFIG);
        f.append(&spec("tolo", "https://example.org/other.xml"));
        let err = f.save().unwrap_err().to_string();
        assert!(err.contains("duplicate id"), "{err}");
        let on_disk = std::fs::read_to_string(d.path().join("roundup.toml")).unwrap();
        assert_eq!(on_disk, CONFIG);
    }

    #[test]
    fn a_missing_file_becomes_a_new_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.toml");
        let mut f = ConfigFile::open(&path).unwrap();
        f.append(&spec("x", "https://example.org/feed"));
        f.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(NEW_FILE_HEADER), "{text}");
        assert_eq!(config::load(&path).unwrap().sources.len(), 1);
    }
}
