//! Making real-world feeds readable before (and when) feed-rs is too strict.
//!
//! * **Encoding**: bytes are decoded with encoding_rs — the byte-order mark first, then
//!   the HTTP `charset`, then the XML declaration, then chardetng's guess for bytes
//!   that are not UTF-8 — and handed on as UTF-8 with the declaration's encoding
//!   rewritten, so windows-1251, koi8-r and UTF-16 feeds read, labelled or not.
//! * **Up front**: HTML named entities (`&nbsp;`, `&laquo;`…), which XML does not define,
//!   become numeric references; Atom 0.3 (which feed-rs reads as an empty feed) is
//!   rewritten to Atom 1.0.
//! * **Repairs**, tried only when feed-rs rejects a document (so well-formed feeds pay
//!   nothing): `<rss>` without a `version` gets `2.0`; a JSON Feed with a missing or
//!   unknown `version` is labelled 1.1.
//!
//! Pure: no IO.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};
use memchr::memmem;

/// The feed as UTF-8 text, decoded by BOM, then `http_charset`, then the XML
/// declaration, then as detected (`utf8_relabelled`). Already-UTF-8 input whose
/// declaration names UTF-8 or no encoding is returned as is (the text repairs before
/// parsing, such as dropping inner declarations, need text).
pub fn decode_to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    if let Some((encoding, bom)) = Encoding::for_bom(body) {
        if encoding == UTF_8 {
            // The BOM decides, whatever the declaration says (bytes that are not UTF-8
            // are damage, not another encoding); the declaration is rewritten as below,
            // so that it names no other encoding.
            return utf8_relabelled(&body[bom..], false);
        }
        let (text, _) = encoding.decode_without_bom_handling(&body[bom..]);
        return Cow::Owned(relabel_declaration(&text));
    }
    let declared = http_charset
        .and_then(|c| Encoding::for_label(c.trim().as_bytes()))
        .or_else(|| declared_encoding(body));
    match declared {
        Some(encoding) if encoding != UTF_8 && !utf8_despite_label(body, encoding) => {
            let (text, _, _) = encoding.decode(body);
            Cow::Owned(relabel_declaration(&text))
        }
        _ => utf8_relabelled(body, true),
    }
}

/// Whether `body`, labelled `encoding` (an 8-bit or multi-byte legacy one), is UTF-8
/// all the same: valid UTF-8 with at least one multi-byte character. Hosts that add a
/// default `charset=windows-1251` (or ISO-8859-1) to every response serve UTF-8 feeds
/// under it, and a CMS template may declare its old encoding after a move to UTF-8.
/// Text really in such an encoding is almost never valid UTF-8 once it has letters
/// beyond ASCII: Cyrillic in Windows-1251 is bytes 0xC0–0xFF side by side, which UTF-8
/// never allows. UTF-16 is left to its label (its bytes can be valid UTF-8 by chance).
fn utf8_despite_label(body: &[u8], encoding: &'static Encoding) -> bool {
    encoding != encoding_rs::UTF_16LE
        && encoding != encoding_rs::UTF_16BE
        && !body.is_ascii()
        && std::str::from_utf8(body).is_ok()
}

/// UTF-8 (or undeclared) `body` as valid UTF-8, its declaration rewritten, so that no
/// encoding attribute (malformed, or naming something else) reaches the XML reader,
/// which panics when one switches encoding mid-stream (found by fuzzing).
///
/// With `detect`, a body that is not UTF-8 is decoded in the legacy encoding chardetng
/// (Firefox's detector) guesses from its bytes: sites that serve Windows-1251 or KOI8-R
/// without saying so, or saying UTF-8. A body that is UTF-8 but for a few stray bytes
/// stays UTF-8, with U+FFFD for those.
fn utf8_relabelled(body: &[u8], detect: bool) -> Cow<'_, str> {
    // Valid UTF-8, nearly every feed, is checked by `str::from_utf8`, which goes over
    // ASCII a word at a time; `from_utf8_lossy` took 7 instructions a byte of every body.
    let text = match std::str::from_utf8(body) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    };
    if detect && matches!(text, Cow::Owned(_)) && !mostly_utf8(body) {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(body, true);
        let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
        let (text, _, _) = encoding.decode(body);
        return Cow::Owned(relabel_declaration(&text));
    }
    if body.starts_with(b"<?xml") && !plain_utf8_declaration(&text) {
        return Cow::Owned(relabel_declaration(&text));
    }
    text
}

/// Whether `text` starts with an XML declaration that names UTF-8 or no encoding, in
/// plain ASCII (letters, digits, spaces, `=`, quotes, `.`, `-`, `_`): such a declaration
/// reaches the XML reader as it is, and the body is not copied to rewrite it.
fn plain_utf8_declaration(text: &str) -> bool {
    let Some(decl) = text
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
        .map(|(decl, _)| decl)
    else {
        return false;
    };
    let plain = decl.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b'=' | b'"' | b'\'' | b'.' | b'-' | b'_'
            )
    });
    plain
        && match decl.matches("encoding").count() {
            0 => true,
            1 => encoding_label(decl).is_some_and(|l| l.eq_ignore_ascii_case("utf-8")),
            _ => false,
        }
}

/// Whether a body that is not valid UTF-8 still reads as UTF-8 text with stray bytes: at
/// least [`UTF8_CHARS_PER_STRAY`] non-ASCII characters decode for each run of bytes that
/// does not. Legacy single-byte Cyrillic or Arabic text is almost all invalid runs.
fn mostly_utf8(body: &[u8]) -> bool {
    let (mut decoded, mut stray) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        decoded += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        stray += usize::from(!chunk.invalid().is_empty());
    }
    decoded >= UTF8_CHARS_PER_STRAY * stray
}

/// See [`mostly_utf8`].
const UTF8_CHARS_PER_STRAY: usize = 4;

/// The `charset` parameter of a Content-Type header.
pub fn charset(content_type: Option<&str>) -> Option<&str> {
    content_type?.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The encoding named in `<?xml … encoding="…"?>` (read leniently: the declaration may
/// itself hold bytes that are not UTF-8).
fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let decl = head.strip_prefix("<?xml")?.split("?>").next()?;
    Encoding::for_label(encoding_label(decl)?.as_bytes())
}

/// The label of the first `encoding="…"` in a declaration's text (between `<?xml` and
/// `?>`), quoted with `"` or `'`.
fn encoding_label(decl: &str) -> Option<&str> {
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    rest[1..].split(quote).next()
}

/// Rewrites the XML declaration of decoded text to say UTF-8.
fn relabel_declaration(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        return format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            &rest[end + 2..]
        );
    }
    text.to_owned()
}

/// `text` without XML declarations after the first character: they are not well-formed
/// XML, and one that names another encoding makes the XML reader panic (found by fuzzing).
/// `<?xml-stylesheet …?>` and other processing instructions are kept.
pub fn drop_inner_declarations(text: &str) -> Option<String> {
    let is_decl = |at: usize| {
        text[at + 5..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace)
    };
    // memmem's substring search (SIMD) instead of `str::find`'s two-way search, which
    // cost ~1.5 % of a cold cycle's instructions in these passes over every body.
    let first_inner =
        memmem::find_iter(text.as_bytes(), b"<?xml").find(|&i| i > 0 && is_decl(i))?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first_inner]);
    let mut rest = &text[first_inner..];
    while let Some(i) = memmem::find(rest.as_bytes(), b"<?xml") {
        let abs = text.len() - rest.len() + i;
        out.push_str(&rest[..i]);
        if is_decl(abs) {
            match memmem::find(&rest.as_bytes()[i..], b"?>") {
                Some(end) => rest = &rest[i + end + 2..],
                None => rest = "",
            }
        } else {
            out.push_str("<?xml");
            rest = &rest[i + 5..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// RSS elements whose text is HTML, and which feeds often fill with raw markup instead
/// of escaped or CDATA-wrapped HTML, plus the title (plain text, but the same mistake).
const HTML_TEXT_ELEMENTS: [&str; 3] = ["description", "content:encoded", "title"];

/// An RSS document with the raw markup inside its `<description>`, `<content:encoded>`
/// and `<title>` elements wrapped in CDATA, when any has some. Hand-made and plugin
/// feeds write `<description><p>Text<br>more</p></description>`: well-formed, feed-rs
/// keeps only the element's own text (here none, so the summary is lost); not
/// well-formed (`<br>` never closed), the whole feed fails to parse. Browsers and
/// most readers show such HTML. Inside the wrapped text, a CDATA section becomes
/// escaped text, as XML reads it, and a stray `]]>` is split so that it cannot end the
/// new section. Elements with only text, entities or CDATA are left as they are, so
/// `None` (no copy) for a feed that escapes its HTML. Atom and JSON feeds are never
/// changed: an Atom `type="xhtml"` element holds markup by design.
pub fn wrap_raw_markup(text: &str) -> Option<String> {
    if !is_rss(text) {
        return None;
    }
    // One pass over the tags (`find(char)` is a memchr): each element of interest is
    // read to its end tag, and CDATA sections and comments elsewhere are skipped.
    let mut out = String::new();
    let mut copied = 0;
    let mut pos = 0;
    while let Some(i) = text[pos..].find('<') {
        let tag = pos + i;
        let here = &text[tag..];
        if let Some(skip) = section_len(here, &[("<![CDATA[", "]]>"), ("<!--", "-->")]) {
            pos = tag + skip.unwrap_or(here.len());
            continue;
        }
        pos = tag + 1;
        let Some(name) = HTML_TEXT_ELEMENTS.into_iter().find(|name| {
            here[1..]
                .strip_prefix(name)
                .is_some_and(|after| after.starts_with(|c: char| c == '>' || c.is_whitespace()))
        }) else {
            continue;
        };
        let Some(gt) = here.find('>') else {
            break;
        };
        if here[..gt].ends_with('/') {
            pos = tag + gt + 1;
            continue;
        }
        let body_start = tag + gt + 1;
        let Some((len, raw)) = element_body(&text[body_start..], name) else {
            break;
        };
        pos = body_start + len;
        if raw {
            out.push_str(&text[copied..body_start]);
            out.push_str("<![CDATA[");
            push_as_cdata_text(&mut out, &text[body_start..body_start + len]);
            out.push_str("]]>");
            copied = body_start + len;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// When `here` starts with the opener of one of `sections` (opener, closer), the length
/// of that section up to and including its closer; `Some(None)` when it never closes.
fn section_len(here: &str, sections: &[(&str, &str)]) -> Option<Option<usize>> {
    let (open, close) = sections.iter().find(|(open, _)| here.starts_with(open))?;
    Some(
        memmem::find(&here.as_bytes()[open.len()..], close.as_bytes())
            .map(|i| open.len() + i + close.len()),
    )
}

/// Whether the document's root element is RSS (0.9x, 2.0) or RSS 1.0's `rdf:RDF`.
fn is_rss(text: &str) -> bool {
    root_element(text).is_some_and(|name| name == "rss" || name.eq_ignore_ascii_case("rdf:RDF"))
}

/// The name of the document's root element: the first tag after the XML declaration,
/// processing instructions, comments and the DOCTYPE. `None` when the text does not
/// start with markup.
pub fn root_element(text: &str) -> Option<&str> {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        // A DOCTYPE's internal subset (`[…]`) holds declarations that end in `>`.
        let doctype_close = if rest.starts_with("<!DOCTYPE")
            && rest
                .find('[')
                .is_some_and(|i| rest.find('>').is_some_and(|j| i < j))
        {
            "]>"
        } else {
            ">"
        };
        match section_len(
            rest,
            &[("<?", "?>"), ("<!--", "-->"), ("<!", doctype_close)],
        ) {
            Some(Some(end)) => rest = &rest[end..],
            Some(None) => return None,
            None => break,
        }
    }
    let name = rest
        .strip_prefix('<')?
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()?;
    (!name.is_empty()).then_some(name)
}

/// The length of the element `name`'s content at the start of `rest` (up to its end
/// tag), and whether it holds a tag or comment outside CDATA sections. `None` when the
/// end tag is missing.
fn element_body(rest: &str, name: &str) -> Option<(usize, bool)> {
    let mut raw = false;
    let mut pos = 0;
    loop {
        let at = pos + rest[pos..].find('<')?;
        let here = &rest[at..];
        if here[1..]
            .strip_prefix('/')
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.trim_start().starts_with('>'))
        {
            return Some((at, raw));
        }
        if let Some(section) = here.strip_prefix("<![CDATA[") {
            pos = at + "<![CDATA[".len() + memmem::find(section.as_bytes(), b"]]>")? + 3;
            continue;
        }
        raw |= here[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || matches!(c, '/' | '!'));
        pos = at + 1;
    }
}

/// Appends `body` (raw markup, possibly with CDATA sections) as the content of a CDATA
/// section: a CDATA section's text is escaped as HTML text, and any `]]>` is split.
fn push_as_cdata_text(out: &mut String, body: &str) {
    let mut rest = body;
    while let Some(i) = memmem::find(rest.as_bytes(), b"<![CDATA[") {
        push_split_end(out, &rest[..i]);
        let section = &rest[i + "<![CDATA[".len()..];
        let end = section.find("]]>").unwrap_or(section.len());
        let escaped = section[..end]
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        out.push_str(&escaped);
        rest = section.get(end + 3..).unwrap_or("");
    }
    push_split_end(out, rest);
}

/// Appends `raw` with each `]]>` split across two CDATA sections.
fn push_split_end(out: &mut String, raw: &str) {
    out.push_str(&raw.replace("]]>", "]]]]><![CDATA[>"));
}

/// Atom 0.3 rewritten as Atom 1.0, when `text` is Atom 0.3.
pub fn upgrade_atom03(text: &str) -> Option<String> {
    if !text.contains("http://purl.org/atom/ns#") {
        return None;
    }
    let mut out = text.replace("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom");
    for (old, new) in [
        ("modified>", "updated>"),
        ("issued>", "published>"),
        ("tagline>", "subtitle>"),
        ("copyright>", "rights>"),
    ] {
        out = out
            .replace(&format!("<{old}"), &format!("<{new}"))
            .replace(&format!("</{old}"), &format!("</{new}"));
    }
    Some(out)
}

/// A document repaired after feed-rs rejected it.
#[derive(Debug)]
pub struct Repaired {
    /// The repaired text.
    pub text: String,
    /// The feed ended before its last item or entry did, and was closed after the last
    /// complete one: what followed was lost.
    pub cut_off: bool,
}

/// The repaired document, when a repair applies (after feed-rs rejected it).
pub fn repair(text: &str) -> Option<Repaired> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return repair_json_feed(trimmed).map(|text| Repaired {
            text,
            cut_off: false,
        });
    }
    let mut current: Option<String> = drop_leading_junk(text).map(str::to_owned);
    for step in [add_rss_version, escape_stray_markup] {
        if let Some(next) = step(current.as_deref().unwrap_or(text)) {
            current = Some(next);
        }
    }
    let closed = close_cut_off_feed(current.as_deref().unwrap_or(text));
    let cut_off = closed.is_some();
    closed.or(current).map(|text| Repaired { text, cut_off })
}

/// Feed root elements, as their start tags begin.
const FEED_ROOTS: [&str; 4] = ["<rss", "<feed", "<rdf:RDF", "<RDF"];

/// `text` from its feed's root element on, when what comes before it is not a prolog:
/// a PHP warning or notice (`<br />\n<b>Warning</b>: …`), a debug line or stray bytes
/// that a server script printed before the feed. (The XML declaration after them was
/// already dropped by [`drop_inner_declarations`]; the text is UTF-8 by then.)
fn drop_leading_junk(text: &str) -> Option<&str> {
    if root_element(text).is_some_and(|name| FEED_ROOTS.iter().any(|r| &r[1..] == name)) {
        return None;
    }
    let at = FEED_ROOTS
        .iter()
        .filter_map(|root| {
            text.match_indices(root).map(|(i, _)| i).find(|&i| {
                text[i + root.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_whitespace() || c == '>')
            })
        })
        .min()?;
    Some(&text[at..])
}

/// The end tag a feed document lacks, when it was cut off: its root is a feed's and
/// its end tag is nowhere.
pub fn missing_end_tag(text: &str) -> Option<String> {
    let root = root_element(text)?;
    let end_tag = format!("</{root}>");
    (FEED_ROOTS.iter().any(|r| &r[1..] == root) && !text.contains(&end_tag)).then_some(end_tag)
}

/// A feed cut off in the middle (a server script that stopped, a proxy that dropped the
/// connection after sending a 200 with no length), closed after its last complete item
/// or entry, so that the items that arrived whole are read. `None` when the document
/// has its root's end tag (whatever follows it), or no item is complete.
fn close_cut_off_feed(text: &str) -> Option<String> {
    let end_tag = missing_end_tag(text)?;
    let root = root_element(text)?;
    let item = if root == "feed" {
        "</entry>"
    } else {
        "</item>"
    };
    let cut = text.rfind(item)? + item.len();
    let mut closed = text[..cut].to_owned();
    if root == "rss" && !closed.contains("</channel>") {
        closed.push_str("</channel>");
    }
    closed.push_str(&end_tag);
    Some(closed)
}

/// Escapes what hand-made feeds leave unescaped and XML rejects: a `&` that starts no
/// character or XML entity reference (`AT&T`, a link's `?a=1&b=2`) becomes `&amp;`, and
/// a `<` that starts no tag, comment, CDATA section or processing instruction (`a < b`)
/// becomes `&lt;`. CDATA sections, comments and processing instructions are copied as
/// they are. `None` when nothing needed escaping. (Browsers and the readers users come
/// from read such feeds; feed-rs's XML reader does not.)
pub fn escape_stray_markup(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<']) {
        out.push_str(&rest[..at]);
        let here = &rest[at..];
        if let Some(after) = here.strip_prefix('&') {
            if starts_reference(after) {
                out.push('&');
            } else {
                out.push_str("&amp;");
                changed = true;
            }
            rest = after;
            continue;
        }
        // Sections copied verbatim, up to and including their end marker.
        if let Some(len) = section_len(here, &[("<![CDATA[", "]]>"), ("<!--", "-->"), ("<?", "?>")])
        {
            let end = len.unwrap_or(here.len());
            out.push_str(&here[..end]);
            rest = &here[end..];
            continue;
        }
        let starts_markup = here[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | ':' | '/' | '!'));
        if starts_markup {
            out.push('<');
        } else {
            out.push_str("&lt;");
            changed = true;
        }
        rest = &here[1..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Whether `after` (the text after a `&`) is a character reference or one of XML's five
/// entities, so that the `&` is markup. (HTML's named entities were mapped to numbers
/// before the first parse; any other name would fail it.)
fn starts_reference(after: &str) -> bool {
    let Some(end) = after.bytes().take(34).position(|b| b == b';') else {
        return false;
    };
    let name = &after[..end];
    if let Some(number) = name.strip_prefix('#') {
        return match number.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        };
    }
    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
}

/// `&nbsp;` and the other HTML named entities XML does not define → `&#160;`. `None`
/// when there are none: nothing is copied until the first one is found, since most
/// feeds have none (every feed's text was copied whole before, to be thrown away).
pub fn map_html_entities(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    // `text[copied..]` is not yet in `out`; `text[searched..]` not yet searched.
    let (mut copied, mut searched) = (0, 0);
    while let Some(amp) = text[searched..].find('&').map(|i| searched + i) {
        let after = &text[amp + 1..];
        searched = amp + 1;
        let name_len = after
            .char_indices()
            .take(32)
            .find(|(_, c)| !c.is_ascii_alphanumeric())
            .filter(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let Some(n) = name_len.filter(|&n| n > 0) else {
            continue;
        };
        if matches!(&after[..n], "amp" | "lt" | "gt" | "quot" | "apos") {
            continue;
        }
        searched = amp + 1 + n + 1;
        if let Some(&(first, second)) = markup5ever::data::NAMED_ENTITIES.get(&after[..=n]) {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
            out.push_str(&text[copied..amp]);
            out.push_str(&format!("&#{first};"));
            if second != 0 {
                out.push_str(&format!("&#{second};"));
            }
            copied = searched;
        }
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// `<rss>` (or `<rss xmlns…>`) without `version` → `version="2.0"`.
fn add_rss_version(text: &str) -> Option<String> {
    let start = text.find("<rss")?;
    let tag_end = start + text[start..].find('>')?;
    let tag = &text[start..tag_end];
    if tag.contains("version")
        || !matches!(
            text.as_bytes().get(start + 4),
            Some(b' ' | b'>' | b'\n' | b'\t' | b'\r')
        )
    {
        return None;
    }
    Some(format!(
        "{}<rss version=\"2.0\"{}",
        &text[..start],
        &text[start + 4..]
    ))
}

/// A JSON Feed that feed-rs's strict model rejects, made to fit it: a `version` it does
/// not know (missing, "1.0", no https) becomes 1.1, and values of another JSON type than
/// the spec's are converted or dropped: numeric ids (common in feeds that scripts
/// write), an author given as a string, a tag list given as one string, a feed without
/// a title, attachments without a MIME type. A feed-rs error on any of them lost the
/// whole feed.
fn repair_json_feed(text: &str) -> Option<String> {
    use serde_json::Value;
    let mut v: Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object_mut()?;
    if !obj.get("items").is_some_and(Value::is_array) {
        return None;
    }
    let mut changed = false;
    let known = obj.get("version").and_then(Value::as_str).is_some_and(|s| {
        s == "https://jsonfeed.org/version/1" || s == "https://jsonfeed.org/version/1.1"
    });
    if !known {
        obj.insert("version".into(), "https://jsonfeed.org/version/1.1".into());
        changed = true;
    }
    if !obj.get("title").is_some_and(Value::is_string) {
        let title = obj.get("title").and_then(json_text).unwrap_or_default();
        obj.insert("title".into(), title.into());
        changed = true;
    }
    changed |= json_strings(
        obj,
        &[
            "home_page_url",
            "feed_url",
            "language",
            "description",
            "icon",
            "favicon",
        ],
    );
    changed |= json_authors(obj);
    if let Some(Value::Array(items)) = obj.get_mut("items") {
        let before = items.len();
        items.retain(Value::is_object);
        changed |= items.len() != before;
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            changed |= json_strings(
                item,
                &[
                    "id",
                    "url",
                    "external_url",
                    "title",
                    "content_html",
                    "content_text",
                    "summary",
                    "image",
                    "banner_image",
                    "date_published",
                    "date_modified",
                    "language",
                ],
            );
            changed |= json_authors(item);
            changed |= json_tags(item);
            changed |= json_attachments(item);
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_string(&v).ok()
}

/// A JSON scalar as text: a string as is, a number or boolean written out.
fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Makes each of `keys` in `obj` a string or absent; whether anything changed.
fn json_strings(obj: &mut serde_json::Map<String, serde_json::Value>, keys: &[&str]) -> bool {
    let mut changed = false;
    for &key in keys {
        match obj.get(key) {
            None | Some(serde_json::Value::String(_) | serde_json::Value::Null) => {}
            Some(other) => {
                match json_text(other) {
                    Some(text) => obj.insert(key.into(), text.into()),
                    None => obj.remove(key),
                };
                changed = true;
            }
        }
    }
    changed
}

/// `author` as an object and `authors` as a list of objects, each with string `name`
/// and `url` (an author given as a string is its name).
fn json_authors(obj: &mut serde_json::Map<String, serde_json::Value>) -> bool {
    use serde_json::Value;
    fn fix(author: &mut Value) -> Option<bool> {
        match author {
            Value::Object(fields) => Some(json_strings(fields, &["name", "url"])),
            Value::String(name) => {
                let mut fields = serde_json::Map::new();
                fields.insert("name".into(), Value::String(std::mem::take(name)));
                *author = Value::Object(fields);
                Some(true)
            }
            _ => None,
        }
    }
    let mut changed = false;
    if let Some(author) = obj.get_mut("author") {
        match fix(author) {
            Some(c) => changed |= c,
            None => {
                if !author.is_null() {
                    obj.remove("author");
                    changed = true;
                }
            }
        }
    }
    match obj.get_mut("authors") {
        Some(Value::Array(list)) => {
            let before = list.len();
            list.retain_mut(|a| match fix(a) {
                Some(c) => {
                    changed |= c;
                    true
                }
                None => false,
            });
            changed |= list.len() != before;
        }
        None | Some(Value::Null) => {}
        Some(one) => {
            let mut one = one.take();
            if fix(&mut one).is_some() {
                obj.insert("authors".into(), Value::Array(vec![one]));
            } else {
                obj.remove("authors");
            }
            changed = true;
        }
    }
    changed
}

/// `tags` as a list of strings (one string is a list of one).
fn json_tags(item: &mut serde_json::Map<String, serde_json::Value>) -> bool {
    use serde_json::Value;
    let tags: Vec<String> = match item.get("tags") {
        None | Some(Value::Null) => return false,
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => return false,
        Some(Value::Array(list)) => list.iter().filter_map(json_text).collect(),
        Some(one) => json_text(one).into_iter().collect(),
    };
    item.insert(
        "tags".into(),
        Value::Array(tags.into_iter().map(Value::String).collect()),
    );
    true
}

/// `attachments` as objects with a string `url` and `mime_type` (a missing type is
/// `application/octet-stream`); others are dropped.
fn json_attachments(item: &mut serde_json::Map<String, serde_json::Value>) -> bool {
    use serde_json::Value;
    let list = match item.get_mut("attachments") {
        None | Some(Value::Null) => return false,
        Some(Value::Array(list)) => list,
        Some(_) => {
            item.remove("attachments");
            return true;
        }
    };
    let before = list.len();
    let mut changed = false;
    list.retain_mut(|a| {
        let Some(fields) = a.as_object_mut() else {
            return false;
        };
        changed |= json_strings(fields, &["url", "mime_type", "title"]);
        if !fields.get("url").is_some_and(Value::is_string) {
            return false;
        }
        if !fields.get("mime_type").is_some_and(Value::is_string) {
            fields.insert("mime_type".into(), "application/octet-stream".into());
            changed = true;
        }
        if fields
            .get("size_in_bytes")
            .is_some_and(|s| !s.is_u64() && !s.is_null())
        {
            fields.remove("size_in_bytes");
            changed = true;
        }
        true
    });
    changed || list.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_feed_with_values_of_other_types_is_read() {
        let body = r#"{"version": "https://jsonfeed.org/version/1.1",
            "author": "Fergana desk",
            "items": [
              {"id": 12345, "url": "https://fergana.example.com/12345",
               "title": "Tajik and Afghan officials meet at the border",
               "content_text": "Officials met at the Panj crossing on Monday.",
               "author": "Staff", "tags": "Tajikistan",
               "attachments": [{"url": "https://fergana.example.com/12345.jpg"}, {"title": 7}]},
              "not an item",
              {"id": 7.5, "url": "https://fergana.example.com/7", "title": 2024,
               "authors": [{"name": 1}], "tags": ["Kabul", 3]}
            ]}"#;
        let url = url::Url::parse("https://fergana.example.com/feed.json").unwrap();
        let feed = crate::parse::parse_feed(body.as_bytes(), &url).unwrap();
        let got: Vec<_> = feed
            .entries
            .iter()
            .map(|e| {
                (
                    e.id.as_str(),
                    e.title.as_ref().map(|t| t.content.as_str()),
                    e.authors
                        .iter()
                        .filter_map(|a| a.name.as_deref())
                        .collect::<Vec<_>>(),
                    e.categories
                        .iter()
                        .map(|c| c.term.as_str())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "12345",
                    Some("Tajik and Afghan officials meet at the border"),
                    vec!["Staff"],
                    vec!["Tajikistan"]
                ),
                ("7.5", Some("2024"), vec!["1"], vec!["Kabul", "3"]),
            ]
        );
        // A feed feed-rs reads as it is is left alone.
        assert!(
            repair_json_feed(
                r#"{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}"#
            )
            .is_none()
        );
    }

    #[test]
    fn legacy_encodings_nobody_names_are_detected_and_stray_bytes_are_not() {
        let text = "<rss version=\"2.0\"><channel><title>Азаттык</title><item>\
                    <title>Талибы назначили нового губернатора провинции Тахар</title>\
                    <description>Движение «Талибан» назначило нового губернатора \
                    провинции Тахар, сообщил официальный представитель.</description>\
                    </item></channel></rss>";
        let decoded =
            |body: &[u8], charset: Option<&str>| decode_to_utf8(body, charset).into_owned();
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let (koi8, _, _) = encoding_rs::KOI8_R.encode(text);
        let declared = [b"<?xml version=\"1.0\"?>".as_slice(), &cp1251].concat();
        for (body, charset) in [
            (&cp1251[..], None),
            (&koi8[..], None),
            // Labelled UTF-8, but not.
            (&cp1251[..], Some("utf-8")),
            (&declared[..], None),
        ] {
            let out = decoded(body, charset);
            assert!(out.contains("назначили нового губернатора"), "{out}");
            assert!(!out.contains('\u{FFFD}'));
        }
        // UTF-8 with one stray byte stays UTF-8.
        let stray = [text.as_bytes(), b"\xE9"].concat();
        let out = decoded(&stray, None);
        assert!(out.contains("назначили нового губернатора"));
        assert!(out.ends_with('\u{FFFD}'));
    }

    #[test]
    fn utf8_under_a_legacy_label_stays_utf8() {
        let body =
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><t>Талибы в Кабуле</t></rss>";
        for (http, why) in [
            (Some("windows-1251"), "a host's default charset"),
            (Some("ISO-8859-1"), "a PHP default"),
            (None, "a template's old declaration"),
        ] {
            let out = decode_to_utf8(body.as_bytes(), http);
            let text: &str = &out;
            assert!(text.contains("Талибы в Кабуле"), "{why}: {text}");
        }
        // Real Windows-1251 under the same label still decodes as such.
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(body);
        let out = decode_to_utf8(&cp1251, Some("windows-1251"));
        assert!(out.contains("Талибы в Кабуле"));
    }

    #[test]
    fn legacy_encodings_decode() {
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251
            .encode("<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><t>Привет</t></rss>");
        let out = decode_to_utf8(&cp1251, None);
        assert!(out.contains("Привет"));
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        let (koi, _, _) = encoding_rs::KOI8_R.encode("<rss><t>Москва</t></rss>");
        let out = decode_to_utf8(&koi, Some("KOI8-R"));
        assert!(
            out.contains("Москва"),
            "HTTP charset wins without a declaration"
        );
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "<rss><t>کابل</t></rss>".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert!(
            decode_to_utf8(&utf16, Some("iso-8859-1")).contains("کابل"),
            "BOM wins"
        );
        assert!(matches!(decode_to_utf8(b"<rss/>", None), Cow::Borrowed(_)));
        let odd = decode_to_utf8(b"<?xml vers\x01 encoding=\"koi8-u\"?><rss/>", None);
        assert_eq!(odd, "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>");
    }

    #[test]
    fn a_utf8_declaration_is_kept_and_any_other_rewritten() {
        for body in [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>",
            "<?xml version='1.0' encoding='utf-8' standalone='yes'?><rss/>",
            "<?xml version=\"1.0\"?><rss/>",
        ] {
            assert!(
                matches!(decode_to_utf8(body.as_bytes(), None), Cow::Borrowed(b) if b == body),
                "{body}"
            );
        }
        for body in [
            "<?xml version=\"1.0\" encoding=\"windows-1252\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"utf8\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"utf-8\" x=\"\u{e9}\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"koi8-r\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"utf-8\" encoding=\"koi8-r\"?><rss/>",
            "<?xml version=\"1.0\" x=\"encoding\" encoding=\"koi8-r\"?><rss/>",
        ] {
            assert_eq!(
                decode_to_utf8(body.as_bytes(), None),
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>",
                "{body}"
            );
        }
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset(Some("application/rss+xml; charset=\"windows-1251\"")),
            Some("windows-1251")
        );
        assert_eq!(charset(Some("text/xml")), None);
    }

    #[test]
    fn repairs() {
        assert_eq!(
            map_html_entities("a&nbsp;b &amp; &laquo;c&raquo; &bogus; & x").unwrap(),
            "a&#160;b &amp; &#171;c&#187; &bogus; & x"
        );
        assert_eq!(map_html_entities("plain &amp; &lt;"), None);
        assert_eq!(map_html_entities("&bogus; &amp &nbsp x&"), None);
        assert_eq!(map_html_entities("&nbsp;").unwrap(), "&#160;");
        assert_eq!(
            map_html_entities("Дом &amp;&NotEqualTilde;&lt;&eacute;").unwrap(),
            "Дом &amp;&#8770;&#824;&lt;&#233;"
        );
        assert_eq!(
            add_rss_version("<?xml?><rss><channel/></rss>").unwrap(),
            "<?xml?><rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(add_rss_version("<rss version=\"0.94\">"), None);
        assert_eq!(
            escape_stray_markup(
                "<t>AT&T &amp; a < b &#1580; &#x62C; &bogus; &</t><l href=\"/a?x=1&y=2\"/>"
            )
            .unwrap(),
            "<t>AT&amp;T &amp; a &lt; b &#1580; &#x62C; &amp;bogus; &amp;</t><l href=\"/a?x=1&amp;y=2\"/>"
        );
        assert_eq!(
            escape_stray_markup(
                "<?xml version=\"1.0\"?><!-- a & b < c --><d><![CDATA[<p>x & y < z</p>]]></d>"
            ),
            None,
            "CDATA, comments and declarations are left alone"
        );
        assert_eq!(
            escape_stray_markup("<a>&amp;کابل و مزار شریف و هرات & 1 <2</a><![CDATA[unclosed & <"),
            Some(
                "<a>&amp;کابل و مزار شریف و هرات &amp; 1 &lt;2</a><![CDATA[unclosed & <".to_owned()
            )
        );
        assert!(
            repair_json_feed(r#"{"version":"1.0","items":[]}"#)
                .unwrap()
                .contains("version/1.1")
        );
        assert_eq!(
            repair_json_feed(
                r#"{"version":"https://jsonfeed.org/version/1","title":"t","items":[]}"#
            ),
            None
        );
        assert_eq!(
            drop_inner_declarations("<?xml version=\"1.0\"?><a><?xml-stylesheet href=\"s\"?>x<?xml version=\"1.0\" encoding=\"koi8-r\"?>y</a>").unwrap(),
            "<?xml version=\"1.0\"?><a><?xml-stylesheet href=\"s\"?>xy</a>"
        );
        assert_eq!(drop_inner_declarations("<?xml version=\"1.0\"?><a/>"), None);
        let atom = upgrade_atom03(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><modified>x</modified></feed>"#,
        )
        .unwrap();
        assert!(
            atom.contains("http://www.w3.org/2005/Atom") && atom.contains("<updated>x</updated>")
        );
    }

    #[test]
    fn raw_html_in_rss_text_elements_is_wrapped_in_cdata() {
        let feed = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY x \"y\">]>\n\
            <rss version=\"2.0\"><channel><title>T</title><item>\
            <title>Traders <b>protest</b></title>\
            <description><p>Shops closed<br>on Monday & <![CDATA[a < b]]> ]]> end</p></description>\
            <media:description>kept <i>as is</i></media:description>\
            <content:encoded><![CDATA[<p>already wrapped</p>]]></content:encoded>\
            </item><item><title>Plain</title><description>&lt;p&gt;escaped&lt;/p&gt;</description>\
            <description/></item></channel></rss>";
        let wrapped = wrap_raw_markup(feed).unwrap();
        assert!(wrapped.contains("<title><![CDATA[Traders <b>protest</b>]]></title>"));
        assert!(wrapped.contains(
            "<description><![CDATA[<p>Shops closed<br>on Monday & a &lt; b ]]]]><![CDATA[> end</p>]]></description>"
        ), "{wrapped}");
        // Not one of the elements, already CDATA, escaped, or empty: unchanged.
        assert!(wrapped.contains("<media:description>kept <i>as is</i></media:description>"));
        assert!(
            wrapped
                .contains("<content:encoded><![CDATA[<p>already wrapped</p>]]></content:encoded>")
        );
        assert!(
            wrapped.contains("<description>&lt;p&gt;escaped&lt;/p&gt;</description><description/>")
        );
        // A feed that escapes its HTML is not copied; Atom is never touched.
        let escaped = "<rss version=\"2.0\"><channel><item><description>&lt;p&gt;x&lt;/p&gt;\
                       </description></item></channel></rss>";
        assert_eq!(wrap_raw_markup(escaped), None);
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"xhtml\">\
                    <div xmlns=\"http://www.w3.org/1999/xhtml\"><b>x</b></div></title>\
                    <description><p>y</p></description></entry></feed>";
        assert_eq!(wrap_raw_markup(atom), None);
    }
}
