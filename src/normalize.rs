//! `feed_rs` model → [`Item`]s: plain-text title and summary, absolute link and its
//! canonical form, dates (future dates clamped to the fetch time), and the entry key.
//! Pure: no IO, no clock (the fetch time is passed in).

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

use crate::dedup::{self, canonical};
use crate::model::Item;

/// Longest plain-text summary kept per entry (characters); enough for matching.
const MAX_SUMMARY_CHARS: usize = 20_000;
/// Feed HTML beyond this many bytes is not read for text (see [`to_plain_text`]).
const MAX_HTML_BYTES: usize = 32 * 1024;

/// Turns a parsed feed into items. Entries with neither title, link nor text are dropped.
pub fn normalize_feed(feed: &Feed, feed_url: &Url, fetched_at: DateTime<Utc>) -> Vec<Item> {
    normalize_changed(feed, feed_url, fetched_at, &[]).items
}

/// A feed's items, without those unchanged since its last parse (see
/// [`normalize_changed`]).
#[derive(Debug, Default)]
pub struct FeedItems {
    /// Items of the entries not in `known`.
    pub items: Vec<Item>,
    /// The [`entry_fingerprint`] of every entry that gives an item, unchanged ones
    /// included, sorted.
    pub fingerprints: Vec<EntryFingerprint>,
    /// Entries skipped because their fingerprint is in `known`.
    pub unchanged: usize,
}

/// See [`entry_fingerprint`].
pub type EntryFingerprint = [u8; 16];

/// Bumped whenever `normalize_entry` would turn the same entry into another item, so
/// that fingerprints and body hashes ([`crate::model::ParsedBody`]) taken by an older
/// roundup no longer match and its items are normalised again. 2: summaries no longer
/// keep the text inside `noscript`, `svg`, `object`, `select` and the like (it came
/// through the ammonia pass that ran before the text walk). 3: a footer every entry of
/// the feed ends with is left out of the summary (`feed_footer`). 4: entries that share
/// a guid or link with entries of other titles are keyed otherwise (`key_sources`), and
/// an entry without a link takes its guid as one when it is an absolute URL. 5: a feed
/// read from a file resolves relative links against its site link (`parse_guarded`).
/// 6: an entry without a link links to its first media file, an entry without a title
/// takes its media title, and media are part of the fingerprint (a video's edited
/// description went unseen).
pub const FINGERPRINT_VERSION: u8 = 6;

/// [`normalize_feed`], except for entries whose fingerprint is in `known` (sorted): the
/// fingerprints of the entries that gave items at the feed's last parse and store. Such
/// an entry would normalise to the item stored then, so it is counted as unchanged and
/// not normalised again: a feed with one new item costs one item's normalising.
pub fn normalize_changed(
    feed: &Feed,
    feed_url: &Url,
    fetched_at: DateTime<Utc>,
    known: &[EntryFingerprint],
) -> FeedItems {
    let feed_base = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| feed_url.join(&l.href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| feed_url.clone());
    let mut out = FeedItems::default();
    let footer = feed_footer(feed);
    let key_from = key_sources(feed, &feed_base);
    for (i, entry) in feed.entries.iter().enumerate() {
        let fingerprint = entry_fingerprint(entry, &feed_base);
        let from = key_from.get(i).copied().unwrap_or(KeyFrom::Id);
        if known.binary_search(&fingerprint).is_ok() {
            out.unchanged += 1;
        } else if let Some(item) = normalize_entry(entry, &feed_base, fetched_at, footer, from) {
            out.items.push(item);
        } else {
            continue;
        }
        out.fingerprints.push(fingerprint);
    }
    out.fingerprints.sort_unstable();
    out.fingerprints.dedup();
    out
}

/// 128 bits of xxh3 over everything `normalize_entry` reads of `entry`, the base
/// URL it resolves links against, and [`FINGERPRINT_VERSION`]. The fetch time, which
/// clamps future dates, is the one input left out: an entry dated in the future keeps
/// the date it was first stored with. Not a cryptographic hash (BLAKE3 cost 3 % of
/// parsing and normalising): a collision could only let a feed hide an edit of its own.
pub fn entry_fingerprint(entry: &Entry, feed_base: &Url) -> EntryFingerprint {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&[FINGERPRINT_VERSION]);
    field(feed_base.as_str().as_bytes());
    field(entry.id.as_bytes());
    field(entry.base.as_deref().unwrap_or("\0").as_bytes());
    field(
        entry
            .title
            .as_ref()
            .map_or("\0", |t| t.content.as_str())
            .as_bytes(),
    );
    field(
        entry
            .summary
            .as_ref()
            .map_or("\0", |t| t.content.as_str())
            .as_bytes(),
    );
    field(
        entry
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or("\0")
            .as_bytes(),
    );
    field(&(entry.links.len() as u64).to_le_bytes());
    for link in &entry.links {
        field(link.href.as_bytes());
        field(link.rel.as_deref().unwrap_or("\0").as_bytes());
    }
    // Media: a video's description can be its summary, a media file its link, and a
    // media title its title.
    field(&(entry.media.len() as u64).to_le_bytes());
    for media in &entry.media {
        for text in [&media.title, &media.description] {
            field(
                text.as_ref()
                    .map_or("\0", |t| t.content.as_str())
                    .as_bytes(),
            );
        }
        field(&(media.content.len() as u64).to_le_bytes());
        for content in &media.content {
            field(content.url.as_ref().map_or("\0", Url::as_str).as_bytes());
        }
    }
    for date in [entry.published, entry.updated] {
        field(
            &date
                .map_or(i64::MIN, |d| d.timestamp_micros())
                .to_le_bytes(),
        );
    }
    h.digest128().to_le_bytes()
}

/// What an entry's key is made from ([`entry_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyFrom {
    /// Its id (guid), else its link, else its title and date.
    Id,
    /// Its link, else its title and date.
    Link,
    /// Its title and date.
    TitleAndDate,
}

/// What each entry's key is made from: its id, unless another entry of the feed has the
/// same id and another link or title (some CMSs give every entry the site's address, or
/// "0", as guid); then its link, unless another entry has that link and another title
/// (every entry linking to the home page); then its title and date. Keyed by the shared
/// id, each entry would overwrite the one before, and all but the last would be lost.
/// Empty when every entry has an id of its own, as in nearly every feed (one sort of
/// the ids tells).
fn key_sources(feed: &Feed, feed_base: &Url) -> Vec<KeyFrom> {
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.trim()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    if sorted.first().is_none_or(|id| !id.is_empty()) && sorted.windows(2).all(|w| w[0] != w[1]) {
        return Vec::new();
    }
    let links: Vec<Option<String>> = feed
        .entries
        .iter()
        .map(|e| {
            entry_link(e, &entry_base(e, feed_base))
                .as_deref()
                .and_then(canonical::canonicalize_str)
        })
        .collect();
    let titles: Vec<&str> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().map_or("", |t| t.content.trim()))
        .collect();
    let mut from = vec![KeyFrom::Id; feed.entries.len()];
    demote(
        &mut from,
        KeyFrom::Id,
        KeyFrom::Link,
        |i| (!ids[i].is_empty()).then_some(ids[i]),
        |i| (links[i].as_deref(), titles[i]),
    );
    // Entries keyed by their link: those without an id, and those just moved on.
    for (i, f) in from.iter_mut().enumerate() {
        if *f == KeyFrom::Id && ids[i].is_empty() {
            *f = KeyFrom::Link;
        }
    }
    demote(
        &mut from,
        KeyFrom::Link,
        KeyFrom::TitleAndDate,
        |i| links[i].as_deref(),
        |i| (None, titles[i]),
    );
    from
}

/// Moves the entries at `level` whose `key` is shared with an entry of another
/// `identity` (link, title) on to `next`.
fn demote<'a>(
    from: &mut [KeyFrom],
    level: KeyFrom,
    next: KeyFrom,
    key: impl Fn(usize) -> Option<&'a str>,
    identity: impl Fn(usize) -> (Option<&'a str>, &'a str),
) {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in from.iter().enumerate() {
        if *f == level
            && let Some(k) = key(i)
        {
            groups.entry(k).or_default().push(i);
        }
    }
    for members in groups.values() {
        let first = identity(members[0]);
        if members.iter().any(|&i| identity(i) != first) {
            for &i in members {
                from[i] = next;
            }
        }
    }
}

/// The base URL an entry's relative links resolve against: its own `xml:base` (itself
/// relative to the feed's), else the feed's.
fn entry_base(entry: &Entry, feed_base: &Url) -> Url {
    entry
        .base
        .as_deref()
        .and_then(|b| feed_base.join(b).ok())
        .unwrap_or_else(|| feed_base.clone())
}

/// Entries that must share a footer before it counts as the feed's.
const FOOTER_MIN_ENTRIES: usize = 3;
/// Words a footer must have: shorter common endings ("Read more", a closing tag) are
/// left to the digest, and cost matching little.
const FOOTER_MIN_WORDS: usize = 8;

/// The raw text (HTML or plain) that every entry's summary ends with, when the feed has
/// at least [`FOOTER_MIN_ENTRIES`] entries and that ending holds at least
/// [`FOOTER_MIN_WORDS`] words: a template's footer ("Copyright (c) 2024 RFE/RL, Inc.
/// Reprinted with the permission of …", "Follow us on Telegram …"). It is not the
/// story: in a short excerpt it can be most of the text, so that two different stories
/// of the feed look like copies of each other; and a digest should not show it.
/// Starts at a word or tag, never inside one.
fn feed_footer(feed: &Feed) -> Option<&str> {
    let raws: Vec<&str> = feed.entries.iter().filter_map(raw_summary).collect();
    if raws.len() < FOOTER_MIN_ENTRIES || raws.len() < feed.entries.len() {
        return None;
    }
    let first = raws[0];
    let mut len = first.len();
    for raw in &raws[1..] {
        let common = first
            .bytes()
            .rev()
            .zip(raw.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        len = len.min(common);
    }
    let mut start = first.len() - len;
    while !first.is_char_boundary(start) {
        start += 1;
    }
    // Not inside a word or a tag: unless it starts one, the footer starts after the
    // first space or '>' in it.
    let starts_clean = first[start..].starts_with(['<', ' ', '\n', '\t'])
        || first[..start].ends_with(|c: char| c.is_whitespace() || c == '>');
    if !starts_clean {
        start += first[start..].find(|c: char| c.is_whitespace() || c == '>')? + 1;
    }
    let footer = &first[start..];
    (to_plain_text(footer).split_whitespace().count() >= FOOTER_MIN_WORDS).then_some(footer)
}

/// The raw text an entry's summary is made from: its summary, else its content, else
/// its media description.
fn raw_summary(entry: &Entry) -> Option<&str> {
    entry
        .summary
        .as_ref()
        .map(|s| s.content.as_str())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| entry.content.as_ref().and_then(|c| c.body.as_deref()))
        .filter(|s| !s.trim().is_empty())
        .or_else(|| media_description(entry))
}

/// The first non-empty description of the entry's media (`<media:description>`, as
/// video channels' feeds carry their text; iTunes summaries), for entries with no
/// summary or content of their own.
fn media_description(entry: &Entry) -> Option<&str> {
    entry
        .media
        .iter()
        .filter_map(|m| m.description.as_ref())
        .map(|d| d.content.as_str())
        .find(|d| !d.trim().is_empty())
}

fn normalize_entry(
    entry: &Entry,
    feed_base: &Url,
    fetched_at: DateTime<Utc>,
    footer: Option<&str>,
    key_from: KeyFrom,
) -> Option<Item> {
    let base = entry_base(entry, feed_base);
    let link = entry_link(entry, &base);
    // A link that entries of other titles share (the home page) names none of them: not
    // a story key either.
    let canonical_url = link
        .as_deref()
        .and_then(canonical::canonicalize_str)
        .filter(|_| key_from <= KeyFrom::Link);
    // The feed's content HTML is read for the summary and the content hash, and not
    // stored: nothing reads it, and the summary keeps its whole text.
    let content_html = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .filter(|b| !b.trim().is_empty());
    let without_footer = |raw: &'_ str| -> String {
        to_plain_text(footer.and_then(|f| raw.strip_suffix(f)).unwrap_or(raw))
    };
    let summary = entry
        .summary
        .as_ref()
        .map(|s| without_footer(&s.content))
        .filter(|s| !s.is_empty())
        .or_else(|| content_html.map(without_footer))
        .or_else(|| media_description(entry).map(without_footer))
        .filter(|s| !s.is_empty())
        .map(|s| truncate_chars(s, MAX_SUMMARY_CHARS))
        .unwrap_or_default();
    let mut title = entry
        .title
        .as_ref()
        .map(|t| to_plain_text(&t.content))
        .unwrap_or_default();
    if title.is_empty() {
        if summary.is_empty() && link.is_none() {
            return None;
        }
        title = media_title(entry)
            .or_else(|| first_words(&summary, 12))
            .unwrap_or_else(|| "(untitled)".to_owned());
    }
    let published = entry.published.or(entry.updated).map(|t| t.min(fetched_at));
    let updated = entry.updated.map(|t| t.min(fetched_at));
    let entry_key = entry_key(
        if key_from == KeyFrom::Id {
            &entry.id
        } else {
            ""
        },
        canonical_url.as_deref(),
        &title,
        published,
    );
    let dedup::TextKeys {
        fingerprint: text_fingerprint,
        shingles,
        lead,
        headline,
    } = dedup::entry_text_keys(&title, &summary);
    let bands = dedup::candidate_keys(&shingles, lead, &headline);
    let content_hash = content_hash(&[
        &title,
        link.as_deref().unwrap_or(""),
        &published.map(|t| t.to_rfc3339()).unwrap_or_default(),
        &updated.map(|t| t.to_rfc3339()).unwrap_or_default(),
        &summary,
        content_html.unwrap_or(""),
    ]);
    Some(Item {
        entry_key,
        title,
        link,
        canonical_url,
        published,
        updated,
        summary,
        text_fingerprint,
        content_hash,
        shingles,
        bands,
    })
}

/// The article link: the first `alternate` (or rel-less) link, else the first link,
/// resolved against the entry's base; without any, the guid when it is an absolute URL
/// (an RSS guid is the item's permalink unless `isPermaLink="false"`, and some feeds
/// give no `<link>`); without that either, its first media file (an `<enclosure>` or
/// `<media:content>`: a podcast episode's audio). Only http(s) links are kept.
fn entry_link(entry: &Entry, base: &Url) -> Option<String> {
    let web = |url: &Url| matches!(url.scheme(), "http" | "https");
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first());
    let url = match link {
        Some(link) => base.join(link.href.trim()).ok().filter(web),
        None => Url::parse(entry.id.trim()).ok().filter(web).or_else(|| {
            entry
                .media
                .iter()
                .flat_map(|m| &m.content)
                .filter_map(|c| c.url.as_ref())
                .find(|u| web(u))
                .cloned()
        }),
    }?;
    Some(url.to_string())
}

/// The first non-empty title of the entry's media (`<media:title>`), for an entry with
/// no title of its own.
fn media_title(entry: &Entry) -> Option<String> {
    entry
        .media
        .iter()
        .filter_map(|m| m.title.as_ref())
        .map(|t| to_plain_text(&t.content))
        .find(|t| !t.is_empty())
}

/// The entry key: guid/id when the feed gives one, else the canonical link, else a hash
/// of title and date. Prefixed so the three kinds never collide.
pub fn entry_key(
    id: &str,
    canonical_url: Option<&str>,
    title: &str,
    published: Option<DateTime<Utc>>,
) -> String {
    let id = id.trim();
    if !id.is_empty() {
        return format!("id:{id}");
    }
    if let Some(url) = canonical_url {
        return format!("url:{url}");
    }
    let date = published.map(|t| t.to_rfc3339()).unwrap_or_default();
    let mut h = blake3::Hasher::new();
    for p in [title, &date] {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("hash:{}", &h.finalize().to_hex()[..32])
}

/// What an entry's stored content is compared by at its next parse, to tell an edit
/// from a refetch: XXH3-128 of `parts`, each after its length. Not a cryptographic hash
/// (BLAKE3, before, took ~2.5 % of the cold cycle's CPU): a collision could only let a
/// feed hide an edit of its own. A row stored with a BLAKE3 hash is counted as updated
/// at the one parse that compares it (its raw entry changed, or the feed is parsed
/// again whole), and stores the new hash then.
fn content_hash(parts: &[&str]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// Feed text (HTML or plain) → plain text on one line: html5ever's tokenizer (no tree
/// is built), the text in order, a space at every block element's start and end tag,
/// nothing from `script`, `style` and the like. Entities are decoded by the tokenizer,
/// which also switches to raw text inside `script`, `style`, `title` and the like, as a
/// browser does. Nothing nests on the stack, so hostile nesting depth costs nothing.
pub fn to_plain_text(text: &str) -> String {
    if !text.contains('<') && !text.contains('&') {
        return collapse_whitespace(text);
    }
    // The text kept is cut at MAX_SUMMARY_CHARS anyway, and a hostile body costs no
    // more than this much.
    let text = &text[..text.floor_char_boundary(MAX_HTML_BYTES)];
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(text));
    let tokenizer = Tokenizer::new(
        TextSink {
            out: RefCell::new(Collapsed::with_capacity(text.len())),
            open: RefCell::new(Open::new()),
        },
        TokenizerOpts::default(),
    );
    // The sink never asks for a script to run, so one feed reads the whole input.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.out.into_inner().text
}

/// The text of an HTML fragment's tokens, for [`to_plain_text`], following what the
/// HTML tree builder would make of them where it decides what text shows:
/// - an end tag counts only for an element open at the time: a stray `</div>` does not
///   split a word, and a stray `</svg>` does not end a hidden `<template>`;
/// - an HTML block or phrase tag inside `<svg>` or `<math>` ends them (an unclosed
///   `<svg>` icon does not hide the rest of the text);
/// - `<select>` inside `<select>` closes it.
struct TextSink {
    out: RefCell<Collapsed>,
    open: RefCell<Open>,
}

/// The elements open in a [`TextSink`] that decide what text shows.
struct Open {
    /// The [`HIDDEN`] elements open, innermost last: their text is not kept.
    hidden: Vec<&'static str>,
    /// How many of each of [`BLOCKS`] are open.
    blocks: [u32; BLOCKS.len()],
    /// `svg` and `math` elements open, and how many hidden elements were open when the
    /// outermost of them started.
    foreign: u32,
    hidden_before_foreign: usize,
}

/// HTML start tags that end foreign content (`svg`, `math`) where they appear in it (as
/// do the end tags `</p>` and `</br>`).
const FOREIGN_BREAKOUT: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
];

impl Open {
    fn new() -> Open {
        Open {
            hidden: Vec::new(),
            blocks: [0; BLOCKS.len()],
            foreign: 0,
            hidden_before_foreign: 0,
        }
    }

    /// Updates the open elements for a tag; whether the tag is a word boundary.
    fn tag(&mut self, name: &str, start: bool, self_closing: bool) -> bool {
        let breakout = || {
            if start {
                FOREIGN_BREAKOUT.contains(&name)
            } else {
                name == "p" || name == "br"
            }
        };
        if self.foreign > 0 && breakout() {
            self.hidden.truncate(self.hidden_before_foreign);
            self.foreign = 0;
        }
        if name == "svg" || name == "math" {
            if start && !self_closing {
                if self.foreign == 0 {
                    self.hidden_before_foreign = self.hidden.len();
                }
                self.foreign += 1;
            } else if !start && self.foreign > 0 {
                self.foreign -= 1;
            }
        }
        if let Some(&hidden) = HIDDEN.iter().find(|&&h| h == name) {
            // A void element (`embed`) and a self-closed `svg` hold nothing; `head` in a
            // fragment is ignored.
            let empty = name == "embed" || (name == "svg" && self_closing);
            let reopened = name == "select" && self.hidden.last() == Some(&"select");
            if name == "head" || (start && empty) {
                return false;
            }
            if start && !reopened {
                self.hidden.push(hidden);
            } else if let Some(at) = self.hidden.iter().rposition(|&h| h == name) {
                self.hidden.truncate(at);
            }
            return false;
        }
        let Some(count) = BLOCKS
            .iter()
            .position(|&b| b == name)
            .and_then(|i| self.blocks.get_mut(i))
        else {
            return false;
        };
        if start {
            *count = count.saturating_add(1);
            return true;
        }
        // `</p>` and `</br>` stand for an element even when none is open.
        let boundary = *count > 0 || name == "p" || name == "br";
        *count = count.saturating_sub(1);
        boundary
    }
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(text) if self.open.borrow().hidden.is_empty() => {
                self.out.borrow_mut().push(&text);
            }
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                let mut open = self.open.borrow_mut();
                if open.tag(name, start, tag.self_closing) {
                    self.out.borrow_mut().space();
                }
                if start && open.foreign == 0 {
                    // The tokenizer states the HTML tree builder would switch to (with
                    // scripting on, as for a browser).
                    let raw = match name {
                        "script" => Some(RawKind::ScriptData),
                        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                            Some(RawKind::Rawtext)
                        }
                        "title" | "textarea" => Some(RawKind::Rcdata),
                        "plaintext" => return TokenSinkResult::Plaintext,
                        _ => None,
                    };
                    if let Some(kind) = raw {
                        return TokenSinkResult::RawData(kind);
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }

    /// In `svg` and `math`, `<![CDATA[…]]>` is text (elsewhere a comment).
    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.open.borrow().foreign > 0
    }
}

/// Elements whose text is not article text.
const HIDDEN: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "select", "head", "title",
];

/// Elements that separate words (a space goes in at their start and end).
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Characters XML 1.0 does not allow, which feeds carry all the same (a `\x1A` or
/// `\x0B` pasted from a word processor, a stray `U+FFFF`): C0 and C1 controls other
/// than tab and line breaks, and the noncharacters U+FFFE and U+FFFF. One such character
/// in a stored title made the whole Atom digest unreadable to feed readers; they are
/// dropped from feed text, and again by the renderers (text stored before).
pub fn is_stray_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = Collapsed::with_capacity(text.len());
    out.push(text);
    out.text
}

/// Text on one line as it is built: each run of whitespace (`char::is_whitespace`, as
/// `str::split_whitespace` splits) becomes one space, none at either end. One pass, no
/// list of words.
struct Collapsed {
    text: String,
    /// A space goes in before the next word.
    space_before: bool,
}

impl Collapsed {
    fn with_capacity(n: usize) -> Collapsed {
        Collapsed {
            text: String::with_capacity(n),
            space_before: false,
        }
    }

    /// A word boundary: a space before the next text, if any follows.
    fn space(&mut self) {
        self.space_before = !self.text.is_empty();
    }

    fn push(&mut self, text: &str) {
        let mut at = 0;
        while at < text.len() {
            let run_start = skip_whitespace(text, at);
            if run_start > at {
                self.space();
            }
            if run_start == text.len() {
                break;
            }
            // A run of words with one ASCII space between them goes in as it is, in one
            // copy; word by word only when it may hold a stray control.
            let (run_end, maybe_stray) = run_end(text, run_start);
            let run = text.get(run_start..run_end).unwrap_or_default();
            at = run_end;
            if maybe_stray {
                for (i, word) in run.split(' ').enumerate() {
                    if i > 0 {
                        self.space();
                    }
                    self.push_word(word);
                }
            } else {
                self.push_clean(run);
            }
        }
    }

    /// Appends `text`, which holds no whitespace but single spaces inside it and no
    /// stray control.
    fn push_clean(&mut self, text: &str) {
        if self.space_before {
            self.text.push(' ');
            self.space_before = false;
        }
        self.text.push_str(text);
    }

    /// Appends one word (no whitespace), without its stray controls.
    fn push_word(&mut self, word: &str) {
        if !word.contains(is_stray_control) {
            self.push_clean(word);
        } else if !word.chars().all(is_stray_control) {
            let kept: String = word.chars().filter(|&c| !is_stray_control(c)).collect();
            self.push_clean(&kept);
        }
    }
}

/// The whitespace test of the character that starts at byte `i` of `text`, and its
/// length in bytes; `None` at the end. Byte by byte for ASCII: decoding every character
/// to ask `char::is_whitespace` took 9 % of a cold fetch cycle's instructions.
fn whitespace_at(text: &str, i: usize) -> Option<(bool, usize)> {
    let b = *text.as_bytes().get(i)?;
    Some(match b {
        0..=0x7f => (matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '), 1),
        // Only these lead bytes begin a non-ASCII whitespace character (U+0085, U+00A0,
        // U+1680, U+2000–U+205F, U+3000).
        0xc2 | 0xe1 | 0xe2 | 0xe3 => {
            let c = text.get(i..).and_then(|s| s.chars().next());
            (
                c.is_some_and(char::is_whitespace),
                c.map_or(1, char::len_utf8),
            )
        }
        0xc0..=0xdf => (false, 2),
        0xe0..=0xef => (false, 3),
        _ => (false, 4),
    })
}

/// The first byte at or after `from` that begins a character that is not whitespace.
fn skip_whitespace(text: &str, mut from: usize) -> usize {
    while let Some((true, len)) = whitespace_at(text, from) {
        from += len;
    }
    from.min(text.len())
}

/// Where the run of words that starts at `from` ends: at whitespace other than one
/// ASCII space between two words, or at the text's end. And whether the run may hold a
/// stray control: a byte that begins every such character in UTF-8 (C0 controls and
/// DEL, C1's lead byte, U+FFFE/U+FFFF's), a quick test before the exact one.
fn run_end(text: &str, mut from: usize) -> (usize, bool) {
    let bytes = text.as_bytes();
    let mut maybe_stray = false;
    loop {
        from = skip_plain_chunks(bytes, from);
        // Printable ASCII, the bulk of most feeds' text, a byte at a time.
        from += bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .position(|b| !(0x21..0x7f).contains(b))
            .unwrap_or(bytes.len().saturating_sub(from));
        let Some(&b) = bytes.get(from) else {
            return (bytes.len(), maybe_stray);
        };
        if b == b' ' {
            // One space with a word after it stays in the run.
            match whitespace_at(text, from + 1) {
                Some((false, _)) => from += 1,
                _ => return (from, maybe_stray),
            }
            continue;
        }
        match whitespace_at(text, from) {
            Some((false, len)) => {
                maybe_stray |= b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xef;
                from += len;
            }
            _ => return (from, maybe_stray),
        }
    }
}

/// Bytes per chunk of [`skip_plain_chunks`].
const PLAIN_CHUNK: usize = 16;

/// Skips, from `from` (where the byte before, if any, is not a space), whole chunks of
/// [`PLAIN_CHUNK`] bytes that [`run_end`] would take into a run a byte at a time:
/// printable ASCII and single spaces, the last byte not a space (so every space has a
/// word after it, and the next chunk starts after a byte that is not a space). Testing
/// a chunk at once, branch-free, costs less than a branch per byte and a look ahead at
/// every space.
fn skip_plain_chunks(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes
        .get(from..from + PLAIN_CHUNK)
        .and_then(|c| <&[u8; PLAIN_CHUNK]>::try_from(c).ok())
    {
        let printable = chunk
            .iter()
            .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b));
        let doubled = chunk.windows(2).fold(false, |found, pair| {
            found | (pair[0] == b' ' && pair[1] == b' ')
        });
        if !printable || doubled || chunk[PLAIN_CHUNK - 1] == b' ' {
            break;
        }
        from += PLAIN_CHUNK;
    }
    from
}

/// `s` cut to its first `max` characters.
fn truncate_chars(s: String, max: usize) -> String {
    if s.len() <= max {
        // No more characters than bytes: nothing to cut, and nothing to decode (walking
        // every summary's characters was 1.6 % of a cold cycle's CPU samples).
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

fn first_words(text: &str, n: usize) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().take(n + 1).collect();
    match words.len() {
        0 => None,
        l if l > n => Some(format!("{}…", words[..n].join(" "))),
        _ => Some(words.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn summaries_are_cut_at_a_number_of_characters_not_bytes() {
        let cut = |s: &str, max| truncate_chars(s.to_owned(), max);
        assert_eq!(cut("Taliban", 7), "Taliban");
        assert_eq!(cut("Taliban", 3), "Tal");
        assert_eq!(cut("", 0), "");
        // Persian and Cyrillic: more bytes than characters. Six characters, twelve
        // bytes: kept whole at six, cut on a character boundary below.
        assert_eq!(cut("طالبان", 6), "طالبان");
        assert_eq!(cut("طالبان", 11), "طالبان");
        assert_eq!(cut("طالبان", 2), "طا");
        assert_eq!(cut("Шойгу в Кабуле", 5), "Шойгу");
    }

    #[test]
    fn plain_text_from_feed_html() {
        assert_eq!(
            to_plain_text("<p>Russia <b>wants</b> the Taliban</p><p>at the SCO&nbsp;table</p>"),
            "Russia wants the Taliban at the SCO table"
        );
        assert_eq!(
            to_plain_text("wo<i>rd</i>s<br>next<li>item"),
            "words next item"
        );
        assert_eq!(
            to_plain_text(
                "a<script>alert('x')</script><style>p{}</style>b &amp; c &laquo;d&raquo;"
            ),
            "ab & c «d»"
        );
        assert_eq!(to_plain_text("  plain\n  text  "), "plain text");
        assert_eq!(to_plain_text("روسیه &amp; طالبان"), "روسیه & طالبان");
        // Hostile nesting: only the first 32 KiB are parsed, so this stays quick.
        let deep = format!(
            "lead {}deep{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(to_plain_text(&deep), "lead");
    }

    #[test]
    fn malformed_markup_shows_the_text_a_browser_shows() {
        // A stray end tag closes nothing: it neither splits a word nor ends a hidden
        // element of another name; `</p>` stands for an empty paragraph.
        assert_eq!(to_plain_text("Ka</div>bul</td> talks"), "Kabul talks");
        assert_eq!(to_plain_text("Ka</p>bul"), "Ka bul");
        assert_eq!(
            to_plain_text("<template>draft</svg></title> copy</template>Kabul talks"),
            "Kabul talks"
        );
        // An unclosed inline icon ends where the article's markup goes on.
        assert_eq!(
            to_plain_text(r#"<svg viewBox="0 0 8 8"><path d="M0"/>icon<p>Kabul <b>talks</b></p>"#),
            "Kabul talks"
        );
        assert_eq!(to_plain_text("<math><mi>x</mi></p>Kabul"), "x Kabul");
        // Void and self-closed elements hold nothing.
        assert_eq!(
            to_plain_text("<embed src=x.swf>Kabul <svg/>talks"),
            "Kabul talks"
        );
        // Raw text: markup inside `script` and `title` is not markup.
        assert_eq!(
            to_plain_text("<script>if (a<b) { x = '</p>'; }</script><title><b>t</b></title>Kabul"),
            "Kabul"
        );
        // In MathML, CDATA is text.
        assert_eq!(to_plain_text("<math><![CDATA[x+1]]></math> = 2"), "x+1 = 2");
        // A select inside a select closes it.
        assert_eq!(to_plain_text("<select>menu<select>Kabul"), "Kabul");
    }

    #[test]
    fn active_content_gives_no_text() {
        let hostile = r#"<p onclick="steal()">Kabul <b>talks</b></p><script>alert('xss')</script>
<style>body{display:none}</style><iframe src="https://evil.example/frame">frame text</iframe>
<noscript><img src="https://track.example/p.gif">enable javascript</noscript>
<a href="javascript:alert(1)">click</a><svg><title>icon</title><text>svg</text></svg>
<object data="x.swf">flash</object><select><option>menu</option></select>"#;
        assert_eq!(to_plain_text(hostile), "Kabul talks click");
    }

    #[test]
    fn whitespace_collapses_as_split_whitespace_does() {
        for text in [
            "",
            "   ",
            " lead  and\ttrail \n",
            "a\u{a0}b\u{2003}c\u{0b}d\u{0c}e\r\nf",
            "روسیه\u{200c}ای  و\u{3000}طالبان ",
            "Шойгу\u{85}в Кабуле",
        ] {
            let expected = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse_whitespace(text), expected, "{text:?}");
        }
        // Every character, around and inside words: whitespace splits as
        // `split_whitespace` does, stray controls go, all else is kept.
        let reference = |text: &str| {
            text.split_whitespace()
                .map(|w| {
                    w.chars()
                        .filter(|&c| !is_stray_control(c))
                        .collect::<String>()
                })
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        for c in ('\0'..='\u{3100}').chain(['\u{FEFF}', '\u{FFFD}', '\u{FFFE}', '\u{FFFF}']) {
            for text in [format!("a{c}b"), format!("{c}ab {c}{c}"), format!("ab{c}")] {
                assert_eq!(collapse_whitespace(&text), reference(&text), "{c:?}");
            }
        }
        // Long texts, whose runs of printable ASCII and single spaces are taken 16 bytes
        // at a time, with every kind of break at every offset of a chunk.
        let pieces = [
            "word",
            "Kabul,",
            "x",
            "a-b",
            " ",
            " ",
            " ",
            "  ",
            "\t",
            "\n",
            " \n",
            "\u{a0}",
            "\u{1a}",
            "\u{7f}",
            "\u{9f}",
            "Шойгу",
            "طالبان",
            "\u{2003}",
            "~!",
            "\u{feff}",
        ];
        let mut rng = fastrand::Rng::with_seed(16);
        for _ in 0..5_000 {
            let text: String = (0..rng.usize(0..60))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            assert_eq!(collapse_whitespace(&text), reference(&text), "{text:?}");
        }
        // Pieces pushed one after another join without a space unless one is there.
        let mut out = Collapsed::with_capacity(0);
        for piece in [" wo", "rd ", " next", "", "  ", "last"] {
            out.push(piece);
        }
        out.space();
        assert_eq!(out.text, "word next last");
    }

    #[test]
    fn control_characters_feeds_carry_are_dropped() {
        let got = items(
            "<rss version=\"2.0\"><channel><title>t</title><item>\
             <title>AT&amp;T\u{1a} deal\u{0b} in Kabul \u{1a}\u{7f}</title>\
             <link>https://news.example.com/a</link>\
             <description>Signed on Monday\u{1a}, \u{1b} the companies said\u{9f}.</description>\
             </item></channel></rss>",
        );
        assert_eq!(got[0].title, "AT&T deal in Kabul");
        assert_eq!(got[0].summary, "Signed on Monday, the companies said.");
    }

    fn items(xml: &str) -> Vec<Item> {
        let url = Url::parse("https://news.example.com/feed.xml").unwrap();
        let feed = crate::parse::parse_feed(xml.as_bytes(), &url).unwrap();
        normalize_feed(
            &feed,
            &url,
            Utc.with_ymd_and_hms(2024, 11, 27, 0, 0, 0).unwrap(),
        )
    }

    /// Parses `xml` as fetched from `url` and normalises it, skipping `known` entries.
    fn changed(xml: &str, url: &str, known: &[EntryFingerprint]) -> FeedItems {
        let url = Url::parse(url).unwrap();
        let feed = crate::parse::parse_feed(xml.as_bytes(), &url).unwrap();
        let at = Utc.with_ymd_and_hms(2024, 11, 27, 0, 0, 0).unwrap();
        normalize_changed(&feed, &url, at, known)
    }

    fn rss(items: &[(&str, &str, &str)]) -> String {
        let items: String = items
            .iter()
            .map(|(guid, title, link)| {
                format!(
                    "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
                     <description>Body of {title}.</description></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>")
    }

    /// An RSS feed of `(title, description)` items.
    fn described(items: &[(&str, &str)]) -> String {
        let items: String = items
            .iter()
            .enumerate()
            .map(|(i, (title, description))| {
                format!(
                    "<item><guid>g{i}</guid><title>{title}</title>\
                     <description><![CDATA[{description}]]></description></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>")
    }

    #[test]
    fn a_footer_every_entry_ends_with_is_not_summary() {
        const FOOTER: &str = "<p>Copyright (c) 2024. RFE/RL, Inc. Reprinted with the \
                              permission of Radio Free Europe/Radio Liberty.</p>";
        let stories = [
            (
                "Uzbekistan signs nuclear deal",
                "<p>Uzbekistan signed a deal on Monday.</p>",
            ),
            (
                "Kyrgyz court jails journalist",
                "<p>A court in Bishkek ruled on Monday.</p>",
            ),
            (
                "Tajik president visits Nurek",
                "Emomali Rahmon inspected the station",
            ),
        ];
        let with_footer: Vec<(&str, String)> = stories
            .iter()
            .map(|(t, d)| (*t, format!("{d} {FOOTER}")))
            .collect();
        let refs: Vec<(&str, &str)> = with_footer.iter().map(|(t, d)| (*t, d.as_str())).collect();
        let summaries: Vec<String> = items(&described(&refs))
            .into_iter()
            .map(|i| i.summary)
            .collect();
        assert_eq!(
            summaries,
            [
                "Uzbekistan signed a deal on Monday.",
                "A court in Bishkek ruled on Monday.",
                "Emomali Rahmon inspected the station"
            ]
        );
        // Two entries are not a template; a short common ending is not a footer.
        let two = items(&described(&refs[..2]));
        assert!(
            two[0].summary.ends_with("Radio Liberty."),
            "{}",
            two[0].summary
        );
        let short: Vec<(&str, String)> = stories
            .iter()
            .map(|(t, d)| (*t, format!("{d} <p>Follow us on Telegram.</p>")))
            .collect();
        let short: Vec<(&str, &str)> = short.iter().map(|(t, d)| (*t, d.as_str())).collect();
        assert!(items(&described(&short))[0].summary.ends_with("Telegram."));
        // A common ending inside a word ("…day. Copyright") starts at the next word.
        let mid_word = [
            (
                "A",
                "Talks resumed on Monday. Copyright 2024 Outlet, all rights reserved, reprinted by permission.",
            ),
            (
                "B",
                "Rains fell on Sunday. Copyright 2024 Outlet, all rights reserved, reprinted by permission.",
            ),
            (
                "C",
                "Prices rose on Friday. Copyright 2024 Outlet, all rights reserved, reprinted by permission.",
            ),
        ];
        let out = items(&described(&mid_word));
        assert_eq!(out[0].summary, "Talks resumed on Monday.");
        assert_eq!(out[2].summary, "Prices rose on Friday.");
    }

    #[test]
    fn entries_unchanged_since_the_last_parse_are_not_normalised_again() {
        let feed = "https://news.example.com/feed.xml";
        let first = rss(&[("a", "One", "/1"), ("b", "Two", "/2"), ("c", "Three", "/3")]);
        let all = changed(&first, feed, &[]);
        assert_eq!((all.items.len(), all.unchanged), (3, 0));
        assert_eq!(all.fingerprints.len(), 3);
        assert!(all.fingerprints.is_sorted());
        // The same entries again: nothing to normalise, the same fingerprints.
        let again = changed(&first, feed, &all.fingerprints);
        assert_eq!((again.items.len(), again.unchanged), (0, 3));
        assert_eq!(again.fingerprints, all.fingerprints);
        // One new entry and one edited title: only those two are normalised.
        let next = rss(&[
            ("d", "Four", "/4"),
            ("a", "One", "/1"),
            ("b", "Two, corrected", "/2"),
            ("c", "Three", "/3"),
        ]);
        let some = changed(&next, feed, &all.fingerprints);
        let titles: Vec<&str> = some.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Four", "Two, corrected"]);
        assert_eq!((some.unchanged, some.fingerprints.len()), (2, 4));
        // The same entry under another base URL resolves its links elsewhere: changed.
        let moved = changed(
            &first,
            "https://mirror.example.org/feed.xml",
            &all.fingerprints,
        );
        assert_eq!((moved.items.len(), moved.unchanged), (3, 0));
    }

    #[test]
    fn a_guid_or_link_that_entries_of_other_titles_share_keys_none_of_them() {
        let feed = |entries: &[(&str, &str, &str)]| {
            let entries: String = entries
                .iter()
                .map(|(title, link, guid)| {
                    format!(
                        "<item><title>{title}</title><link>{link}</link>{guid}\
                         <description>{title}, the whole report.</description></item>"
                    )
                })
                .collect();
            items(&format!(
                "<rss version=\"2.0\"><channel><title>T</title>{entries}</channel></rss>"
            ))
        };
        let keys =
            |items: &[Item]| -> Vec<String> { items.iter().map(|i| i.entry_key.clone()).collect() };
        // One guid for every entry: each is keyed by its link.
        let one_guid = feed(&[
            (
                "Floods",
                "https://a.example/1",
                "<guid>https://a.example/</guid>",
            ),
            (
                "Torkham",
                "https://a.example/2",
                "<guid>https://a.example/</guid>",
            ),
        ]);
        assert_eq!(
            keys(&one_guid),
            ["url:https://a.example/1", "url:https://a.example/2"]
        );
        // Every entry linking to the home page (no guid): keyed by title and date, and
        // the link is no story key.
        let home = feed(&[
            ("Floods", "https://a.example/", ""),
            ("Torkham", "https://a.example/", ""),
        ]);
        let home_keys = keys(&home);
        assert!(
            home_keys.iter().all(|k| k.starts_with("hash:")),
            "{home_keys:?}"
        );
        assert_ne!(home_keys[0], home_keys[1]);
        assert!(home.iter().all(|i| i.canonical_url.is_none()));
        assert!(
            home.iter()
                .all(|i| i.link.as_deref() == Some("https://a.example/"))
        );
        // The same entry listed twice is one entry; other entries keep their guids.
        let twice = feed(&[
            ("Floods", "https://a.example/1", "<guid>g1</guid>"),
            ("Floods", "https://a.example/1", "<guid>g1</guid>"),
            ("Torkham", "https://a.example/2", "<guid>g2</guid>"),
        ]);
        assert_eq!(keys(&twice), ["id:g1", "id:g1", "id:g2"]);
    }

    #[test]
    fn an_entry_without_a_link_takes_a_guid_that_is_a_url() {
        let got = items(
            "<rss version=\"2.0\"><channel><title>T</title>\
             <item><title>Floods</title><guid>https://a.example/news/floods?utm_source=rss</guid>\
             <description>Floods in Baghlan.</description></item>\
             <item><title>Torkham</title><guid isPermaLink=\"false\">torkham-1234</guid>\
             <description>Torkham reopens.</description></item>\
             <item><title>Rates</title><link>https://a.example/rates</link>\
             <guid>https://a.example/?p=9</guid><description>Rates.</description></item>\
             </channel></rss>",
        );
        let links: Vec<Option<&str>> = got.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [
                Some("https://a.example/news/floods?utm_source=rss"),
                None,
                Some("https://a.example/rates"),
            ]
        );
        assert_eq!(
            got[0].canonical_url.as_deref(),
            Some("https://a.example/news/floods")
        );
    }

    #[test]
    fn relative_links_resolve_against_the_feed_url_or_a_file_feed_s_site_link() {
        let xml = "<rss version=\"2.0\"><channel><title>T</title><link>https://site.example/</link>\
                   <item><guid>a</guid><title>Rail</title><link>/news/rail</link></item>\
                   <item><guid>b</guid><title>Border</title><link>news/border</link></item>\
                   </channel></rss>";
        let links = |url: &str| -> Vec<Option<String>> {
            changed(xml, url, &[])
                .items
                .into_iter()
                .map(|i| i.link)
                .collect()
        };
        assert_eq!(
            links("https://feeds.site.example/rss/all.xml"),
            [
                Some("https://feeds.site.example/news/rail".to_owned()),
                Some("https://feeds.site.example/rss/news/border".to_owned()),
            ]
        );
        // A feed read from a file has no web address: its site link is the base.
        assert_eq!(
            links("file:///srv/feeds/site.xml"),
            [
                Some("https://site.example/news/rail".to_owned()),
                Some("https://site.example/news/border".to_owned()),
            ]
        );
    }

    #[test]
    fn entry_keys_prefer_guid_then_canonical_link_then_hash() {
        let t = Utc.with_ymd_and_hms(2024, 11, 26, 0, 0, 0).unwrap();
        assert_eq!(
            entry_key(" g-1 ", Some("https://a/x"), "T", Some(t)),
            "id:g-1"
        );
        assert_eq!(
            entry_key("", Some("https://a/x"), "T", Some(t)),
            "url:https://a/x"
        );
        let h1 = entry_key("", None, "T", Some(t));
        // Pinned: the key identifies the stored row, so it must never change (it did
        // not when the content hash moved from BLAKE3 to XXH3).
        assert_eq!(h1, "hash:eff9c1212cbe3236bf5cce264bd2804c");
        assert_eq!(h1, entry_key("", None, "T", Some(t)), "stable across runs");
        assert_ne!(h1, entry_key("", None, "T2", Some(t)));
    }

    #[test]
    fn rss_item_is_normalised() {
        let got = items(
            r#"<rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>
<item><title>A &amp; B</title><link>/en/a?utm_source=rss#top</link>
<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Tue, 26 Nov 2024 10:30:00 GMT</pubDate></item>
<item><title>Future</title><link>https://news.example.com/f</link><pubDate>Tue, 26 Nov 2030 10:30:00 GMT</pubDate></item>
</channel></rss>"#,
        );
        assert_eq!(got.len(), 2);
        let a = &got[0];
        assert_eq!(a.title, "A & B");
        assert_eq!(
            a.link.as_deref(),
            Some("https://news.example.com/en/a?utm_source=rss#top")
        );
        assert_eq!(
            a.canonical_url.as_deref(),
            Some("https://news.example.com/en/a")
        );
        assert_eq!(a.entry_key, "url:https://news.example.com/en/a");
        assert_eq!(a.summary, "Hello world");
        assert_eq!(
            a.published,
            Some(Utc.with_ymd_and_hms(2024, 11, 26, 10, 30, 0).unwrap())
        );
        assert_eq!(
            got[1].published,
            Some(Utc.with_ymd_and_hms(2024, 11, 27, 0, 0, 0).unwrap()),
            "future date clamped"
        );
    }

    #[test]
    fn atom_xml_base_resolves_links() {
        let got = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example.org/news/">
<title>t</title><id>urn:t</id><updated>2024-11-26T10:00:00Z</updated>
<entry><id>urn:e1</id><title>E</title><updated>2024-11-26T10:00:00Z</updated><link href="story/1"/></entry>
</feed>"#,
        );
        assert_eq!(
            got[0].link.as_deref(),
            Some("https://other.example.org/news/story/1")
        );
        assert_eq!(got[0].entry_key, "id:urn:e1");
    }

    #[test]
    fn a_podcast_episode_without_a_link_links_to_its_audio() {
        let got = items(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Azattyk podcast</title>
<item><title>Episode 12</title><guid isPermaLink="false">ep12</guid>
<enclosure url="https://media.example.com/ep12.mp3" length="123" type="audio/mpeg"/></item>
<item><guid isPermaLink="false">ep13</guid>
<media:content url="https://media.example.com/ep13.mp3" type="audio/mpeg"><media:title>Episode 13: grain prices</media:title></media:content></item>
<item><title>Episode 14</title><guid isPermaLink="false">ep14</guid><link>https://podcast.example.com/14</link>
<enclosure url="https://media.example.com/ep14.mp3" length="123" type="audio/mpeg"/></item>
</channel></rss>"#,
        );
        let links: Vec<_> = got
            .iter()
            .map(|i| (i.title.as_str(), i.link.as_deref()))
            .collect();
        assert_eq!(
            links,
            [
                ("Episode 12", Some("https://media.example.com/ep12.mp3")),
                (
                    "Episode 13: grain prices",
                    Some("https://media.example.com/ep13.mp3")
                ),
                // A link of its own wins over the audio.
                ("Episode 14", Some("https://podcast.example.com/14")),
            ]
        );
    }

    /// A video channel's Atom feed (YouTube's shape): one entry whose only text is its
    /// media description, `description`.
    fn video_feed(description: &str) -> String {
        format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>TOLOnews</title><id>yt:channel:UC1</id><updated>2024-11-26T10:00:00Z</updated>
<entry><id>yt:video:abc</id><title>6pm News</title><updated>2024-11-26T10:00:00Z</updated>
<link rel="alternate" href="https://www.youtube.com/watch?v=abc"/>
<media:group><media:title>6pm News</media:title>
<media:content url="https://www.youtube.com/v/abc?version=3" type="application/x-shockwave-flash"/>
<media:description>{description}</media:description></media:group></entry></feed>"#
        )
    }

    #[test]
    fn an_edited_media_description_is_a_changed_entry() {
        let url = "https://www.youtube.com/feeds/videos.xml?channel_id=UC1";
        let first = changed(
            &video_feed("Flash floods in Badakhshan kill seven."),
            url,
            &[],
        );
        let edited = changed(
            &video_feed("Flash floods in Badakhshan kill nine."),
            url,
            &first.fingerprints,
        );
        assert_eq!(edited.unchanged, 0);
        assert_eq!(
            edited.items[0].summary,
            "Flash floods in Badakhshan kill nine."
        );
    }

    #[test]
    fn a_video_feed_s_media_description_is_the_summary() {
        let got = items(&video_feed(
            "In tonight's bulletin: flash floods in Badakhshan kill seven.",
        ));
        assert_eq!(
            got[0].summary,
            "In tonight's bulletin: flash floods in Badakhshan kill seven."
        );
    }
}
