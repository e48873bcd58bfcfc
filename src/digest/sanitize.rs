//! Feed-supplied HTML, made safe with ammonia: no script, style or iframe, no event
//! handlers, no `javascript:`/`data:` URLs, relative links and images made absolute
//! against the entry's link, and `rel="noopener noreferrer nofollow"` on links. Pure.

use std::sync::LazyLock;

use url::Url;

/// Sanitises `html` from a feed; relative URLs resolve against `base` (dropped when
/// there is no base).
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer nofollow"));
    builder.url_relative(match base {
        Some(b) => ammonia::UrlRelative::RewriteWithBase(b.clone()),
        None => ammonia::UrlRelative::Deny,
    });
    builder.clean(html).to_string()
}

/// Sanitises `html` whose text alone will be read: the same rules as [`sanitize_html`]
/// for elements and their content, with one builder shared by every call (building one
/// costs as much as cleaning a short summary). Links are left as they are: no text
/// comes from them.
pub fn sanitize_for_text(html: &str) -> String {
    static TEXT: LazyLock<ammonia::Builder<'static>> = LazyLock::new(ammonia::Builder::default);
    TEXT.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_html_loses_everything_active() {
        let hostile = r#"<p onclick="steal()">Kabul <b>talks</b></p>
<script>alert('xss')</script><style>body{display:none}</style>
<iframe src="https://evil.example/frame"></iframe>
<a href="javascript:alert(1)">click</a> <a href="/en/story?id=7">relative</a>
<img src="img/photo.jpg" onerror="alert(2)" alt="photo"> <img src="data:image/png;base64,AAAA">
<form action="https://evil.example"><input name="q"></form>"#;
        let base = Url::parse("https://www.afintl.com/en/202411262431").unwrap();
        let clean = sanitize_html(hostile, Some(&base));
        for gone in [
            "<script",
            "alert",
            "<style",
            "display:none",
            "<iframe",
            "evil.example",
            "onclick",
            "onerror",
            "javascript:",
            "data:",
            "<form",
            "<input",
        ] {
            assert!(!clean.contains(gone), "{gone} survived: {clean}");
        }
        for kept in [
            "<p>Kabul <b>talks</b></p>",
            r#"href="https://www.afintl.com/en/story?id=7""#,
            r#"src="https://www.afintl.com/en/img/photo.jpg""#,
            r#"rel="noopener noreferrer nofollow""#,
            r#"alt="photo""#,
        ] {
            assert!(clean.contains(kept), "{kept} missing: {clean}");
        }
    }

    #[test]
    fn text_sanitiser_drops_the_same_active_content() {
        let hostile = r#"<p onclick="steal()">Kabul <b>talks</b></p><script>alert('xss')</script>
<style>body{display:none}</style><iframe src="https://evil.example/frame">frame text</iframe>
<a href="javascript:alert(1)">click</a>"#;
        let clean = sanitize_for_text(hostile);
        for gone in [
            "<script",
            "alert",
            "display:none",
            "<iframe",
            "evil.example",
            "onclick",
        ] {
            assert!(!clean.contains(gone), "{gone} survived: {clean}");
        }
        assert!(clean.contains("<p>Kabul <b>talks</b></p>"), "{clean}");
        assert!(clean.contains(">click</a>"), "{clean}");
    }
}
