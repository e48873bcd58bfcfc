//! Canonical URLs: the form two links must share to count as the same article.
//!
//! Lower-case scheme and host (the `url` crate does this), no default port, no fragment,
//! tracking parameters removed, remaining query parameters sorted. `www.` is kept: some
//! outlets serve different sites on the bare and `www` hosts. Pure; no IO.

use url::Url;

/// Query parameters that only track the reader and never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gclsrc",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "yclid",
    "igshid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "ref_src",
    "ref_url",
    "s_cid",
    "spm",
    "vero_conv",
    "vero_id",
    "wickedid",
    "twclid",
    "ttclid",
    "at_medium",
    "at_campaign",
    "rss",
    "ito",
    "cmpid",
    "ncid",
    "sr_share",
    "xtor",
];

/// Query parameter prefixes that only track the reader.
const TRACKING_PREFIXES: &[&str] = &["utm_", "pk_", "mtm_", "hsa_", "itm_", "at_"];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    TRACKING_PARAMS.contains(&lower.as_str())
        || TRACKING_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Returns the canonical form of `url`. Only http(s) URLs identify articles; others
/// (`file:` sources in a config) are returned unchanged.
pub fn canonicalize(url: &Url) -> Url {
    let mut out = url.clone();
    if !matches!(url.scheme(), "http" | "https") {
        return out;
    }
    out.set_fragment(None);
    if out.port().is_some() && out.port() == default_port(out.scheme()) {
        // `url` already drops a default port when parsing; this covers a mutated URL.
        let _ = out.set_port(None);
    }
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        out.set_query(None);
    } else {
        pairs.sort();
        out.query_pairs_mut().clear().extend_pairs(pairs);
    }
    out
}

/// `link` without its tracking parameters, for showing to a reader: the rest (other
/// parameters in their order and encoding, the fragment, which single-page sites route
/// by) stays as the feed gave it. Unchanged when it has none or is not an http(s) URL.
pub fn without_tracking(link: &str) -> String {
    let Ok(mut url) = Url::parse(link) else {
        return link.to_owned();
    };
    let Some(query) = url
        .query()
        .filter(|_| matches!(url.scheme(), "http" | "https"))
    else {
        return link.to_owned();
    };
    let tracking = |segment: &str| is_tracking(segment.split('=').next().unwrap_or(""));
    if !query.split('&').any(tracking) {
        return link.to_owned();
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|s| !s.is_empty() && !tracking(s))
        .collect();
    let kept = kept.join("&");
    url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    url.to_string()
}

/// Parses `raw` (absolute) and canonicalises it; `None` when it is not a URL.
pub fn canonicalize_str(raw: &str) -> Option<String> {
    Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| canonicalize(&u).to_string())
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(raw: &str) -> String {
        canonicalize_str(raw).unwrap()
    }

    #[test]
    fn links_shown_lose_tracking_parameters_only() {
        let cases = [
            (
                "https://outlet.example/news/1?utm_source=rss&id=7&fbclid=abc#part-2",
                "https://outlet.example/news/1?id=7#part-2",
            ),
            (
                "https://outlet.example/news/1?utm_source=rss&utm_medium=feed",
                "https://outlet.example/news/1",
            ),
            // Order and encoding of what is kept stay as given.
            (
                "https://outlet.example/?z=1&a=%D0%B0+b&xtor=RSS-3",
                "https://outlet.example/?z=1&a=%D0%B0+b",
            ),
            (
                "https://outlet.example/#/article/5?utm_source=x",
                "https://outlet.example/#/article/5?utm_source=x",
            ),
            (
                "https://outlet.example/a?id=7",
                "https://outlet.example/a?id=7",
            ),
            (
                "file:///srv/feed.xml?utm_source=x",
                "file:///srv/feed.xml?utm_source=x",
            ),
            ("not a url", "not a url"),
        ];
        for (link, want) in cases {
            assert_eq!(without_tracking(link), want, "{link}");
        }
    }

    #[test]
    fn table() {
        let cases = [
            (
                "https://WWW.Example.com:443/a/b.html?utm_source=rss&utm_medium=feed&id=7&fbclid=abc&gclid=z#frag",
                "https://www.example.com/a/b.html?id=7",
            ),
            ("HTTP://example.com:80/x", "http://example.com/x"),
            ("http://example.com:8080/x", "http://example.com:8080/x"),
            (
                "https://example.com/x?b=2&a=1",
                "https://example.com/x?a=1&b=2",
            ),
            (
                "https://example.com/x?a=1&b=2",
                "https://example.com/x?a=1&b=2",
            ),
            (
                "https://example.com/x?utm_campaign=y",
                "https://example.com/x",
            ),
            (
                "https://example.com/x?UTM_Source=y&mc_cid=1&mc_eid=2&yclid=3&igshid=4",
                "https://example.com/x",
            ),
            ("https://example.com/x#section-2", "https://example.com/x"),
            (
                "https://example.com/Path/Case",
                "https://example.com/Path/Case",
            ),
            (
                "https://example.com/x?q=a%20b",
                "https://example.com/x?q=a+b",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(c(input), want, "input {input}");
        }
    }

    #[test]
    fn idempotent() {
        for raw in [
            "https://example.com/x?b=2&a=1&utm_source=z#f",
            "https://example.com/x?q=a%20b&z=%C3%A9",
            "https://www.afintl.com/en/202411261234",
        ] {
            let once = c(raw);
            assert_eq!(c(&once), once);
        }
    }

    #[test]
    fn not_a_url() {
        assert_eq!(canonicalize_str("/relative/path"), None);
        assert_eq!(canonicalize_str(""), None);
        // Found by fuzzing: file URLs with drive-letter-like paths re-parse differently;
        // they never identify an article.
        assert_eq!(canonicalize_str("File://W\t\t/s:\t\t'"), None);
        assert_eq!(canonicalize_str("mailto:desk@example.org"), None);
    }
}
