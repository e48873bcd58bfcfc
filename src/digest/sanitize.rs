//! Feed-supplied HTML, made safe with ammonia: no script, style or iframe, no event
//! handlers, no `javascript:`/`data:` URLs, relative links and images made absolute
//! against the entry's link, and `rel="noopener noreferrer nofollow"` on links. Pure.

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
}
