//! Markdown digest, for terminals and chat.

use std::fmt::Write as _;

use super::{Digest, Renderer, Story, plural};

/// Renders a digest as Markdown.
#[derive(Debug, Clone, Copy)]
pub struct MarkdownRenderer;

impl Renderer for MarkdownRenderer {
    fn render(&self, d: &Digest) -> String {
        let mut out = String::new();
        let tz = d.timezone;
        let fmt = "%Y-%m-%d %H:%M";
        let _ = writeln!(
            out,
            "# roundup — {}\n",
            d.window.date.format("%A, %-d %B %Y")
        );
        let _ = writeln!(
            out,
            "_{} → {} ({}) · {} {} from {} {} · {} duplicate {} folded_\n",
            d.window.start.with_timezone(&tz).format(fmt),
            d.window.end.with_timezone(&tz).format(fmt),
            tz.name(),
            d.story_count(),
            plural(d.story_count(), "story", "stories"),
            d.outlet_count(),
            plural(d.outlet_count(), "outlet", "outlets"),
            d.folded_count(),
            plural(d.folded_count(), "report", "reports"),
        );
        if !d.failing_sources.is_empty() {
            let names: Vec<String> = d
                .failing_sources
                .iter()
                .map(|(id, err)| format!("{id} ({err})"))
                .collect();
            let _ = writeln!(
                out,
                "> Feed health: failing: {}\n",
                escape(&names.join("; "))
            );
        }
        if d.story_count() == 0 {
            out.push_str("No new stories in this window.\n");
        }
        for region in &d.regions {
            let _ = writeln!(out, "## {}\n", escape(&region.region));
            for story in &region.stories {
                story_block(&mut out, story, d);
            }
        }
        out
    }
}

fn story_block(out: &mut String, s: &Story, d: &Digest) {
    let title = escape(&s.title);
    match &s.url {
        Some(url) => {
            let _ = writeln!(out, "### [{title}](<{url}>)");
        }
        None => {
            let _ = writeln!(out, "### {title}");
        }
    }
    let when = s
        .time()
        .with_timezone(&d.timezone)
        .format("%-d %b %Y, %H:%M");
    let _ = writeln!(out, "**{}** · {when}\n", escape(&s.source_name));
    if !s.summary.is_empty() {
        let _ = writeln!(out, "{}\n", escape(&s.summary));
    }
    if !s.also_reported_by.is_empty() {
        let links: Vec<String> = s
            .also_reported_by
            .iter()
            .map(|a| match &a.url {
                Some(u) => format!("[{}](<{u}>)", escape(&a.source_name)),
                None => escape(&a.source_name),
            })
            .collect();
        let _ = writeln!(out, "Also reported by: {}\n", links.join(", "));
    }
}

/// Escapes the characters that would turn feed text into Markdown markup or links, and
/// drops control characters (`normalize::is_stray_control`; text stored before feed
/// text was cleaned of them), which a terminal would act on.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if crate::normalize::is_stray_control(ch) {
            continue;
        }
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_text_cannot_inject_markup() {
        assert_eq!(
            escape("[click](javascript:x) <b>*x*</b>"),
            "\\[click\\](javascript:x) \\<b\\>\\*x\\*\\</b\\>"
        );
        // A terminal escape sequence (colour, or worse) in stored text does not reach
        // the terminal that shows the digest.
        assert_eq!(escape("Kabul\u{1b}[2J\u{1a} talks"), "Kabul\\[2J talks");
    }
}
