//! Fetching: the only module that touches the network or reads `file://` feeds.
//!
//! [`Fetcher`] owns one HTTP client. It sends conditional GETs with the stored validators,
//! streams the body under the `max_body` cap (after decompression, so gzip bombs stop
//! too) and classifies failures into [`FetchError`]s whose `Display` is one line.

mod client;
pub mod retry;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    RETRY_AFTER,
};
use url::Url;

pub use client::{MAX_REDIRECTS, build_client};

use crate::config::FetchConfig;
use crate::model::FetchState;

/// What a successful fetch returned.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: nothing changed since the stored validators; nothing to parse or write.
    NotModified(ResponseMeta),
    /// A body to parse.
    Fetched(Fetched),
}

impl FetchOutcome {
    /// The response metadata, whichever the outcome.
    pub fn meta(&self) -> &ResponseMeta {
        match self {
            FetchOutcome::NotModified(meta) => meta,
            FetchOutcome::Fetched(f) => &f.meta,
        }
    }
}

/// Response metadata kept for the next request and for scheduling.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// HTTP status (200 for `file://`).
    pub status: u16,
    /// `ETag` header.
    pub etag: Option<String>,
    /// `Last-Modified` header.
    pub last_modified: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub final_url: Url,
    /// `Cache-Control: max-age`, capped.
    pub max_age: Option<Duration>,
    /// Set when every redirect hop was permanent (301/308): where they led.
    pub permanent_redirect: Option<Url>,
}

impl ResponseMeta {
    /// A 200 answer from `url` with no validators or caching headers (a `file://` read,
    /// and tests).
    pub(crate) fn local(url: &Url) -> ResponseMeta {
        ResponseMeta {
            status: 200,
            etag: None,
            last_modified: None,
            content_type: None,
            final_url: url.clone(),
            max_age: None,
            permanent_redirect: None,
        }
    }
}

/// A fetched body with its response metadata.
#[derive(Debug)]
pub struct Fetched {
    /// Status, validators, final URL.
    pub meta: ResponseMeta,
    /// Raw bytes (decompressed, not decoded: the parser reads the declared encoding).
    pub body: Vec<u8>,
}

/// Why a fetch failed. `Display` is one line naming the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with a non-success status. The line says what the status
    /// means for the source when that is more than "failed" ([`status_hint`]).
    #[error("HTTP {status}{}{}", status_hint(*status, *login_sent, *guard).map(|h| format!(": {h}")).unwrap_or_default(), retry_after.map(|t| format!(" (Retry-After: not before {})", t.format("%Y-%m-%d %H:%M:%S UTC"))).unwrap_or_default())]
    Status {
        /// The status returned.
        status: StatusCode,
        /// Whether the request carried a user name and password (from the URL).
        login_sent: bool,
        /// When the server allows the next request (429/503 `Retry-After`).
        retry_after: Option<DateTime<Utc>>,
        /// The bot protection that answered a 403 or 503, by its headers
        /// ([`bot_guard`]).
        guard: Option<&'static str>,
    },
    /// The whole-request timeout passed.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The body passed `max_body`.
    #[error("response body larger than the {limit}-byte limit (max_body)")]
    TooLarge {
        /// The configured cap.
        limit: u64,
    },
    /// A redirect was refused (loop, too many, non-http scheme).
    #[error("redirect refused: {0}")]
    Redirect(String),
    /// DNS, connect or TLS failure.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Any other transport error.
    #[error("request failed: {0}")]
    Http(String),
    /// A `file://` source could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// What a failing status means for the source, where a user would act on it (a feed
/// gone for good, a login asked for, a block) rather than wait for the next try.
/// `login_sent`: the request carried the user name and password of the source's URL;
/// `guard`: the bot protection that answered, if its headers said so ([`bot_guard`]).
pub fn status_hint(
    status: StatusCode,
    login_sent: bool,
    guard: Option<&str>,
) -> Option<std::borrow::Cow<'static, str>> {
    if let (403 | 503, Some(guard)) = (status.as_u16(), guard) {
        return Some(
            format!(
                "{guard} stops roundup, as it stops most feed readers (ask the outlet for a \
                 feed it lets through, or try another network with the source's `proxy`)"
            )
            .into(),
        );
    }
    Some(std::borrow::Cow::Borrowed(match status.as_u16() {
        401 | 407 if login_sent => {
            "the server refused the user name and password in the source's URL"
        }
        401 | 407 => {
            "the server asks for a login (a feed URL of the form \
             https://user:password@host/… sends one)"
        }
        403 => {
            "the server refuses roundup (it may block feed readers, or this network: a \
             source's `proxy` goes through another)"
        }
        404 => {
            "nothing at this address; if the feed moved, `roundup sources add` with the \
             site's address finds where it is now"
        }
        410 => {
            "the server says the feed is gone for good; remove the source or give it a \
             new URL"
        }
        451 => "the server withholds it for legal reasons (blocked where it is served)",
        _ => return None,
    }))
}

/// The bot protection in front of a site, when a reply's headers name one: Cloudflare's
/// challenge (`cf-mitigated: challenge`, which Cloudflare documents for its challenge
/// pages), or a `Server` header of a protection service common in front of the region's
/// outlets (DDoS-Guard and Qrator in Russia, ArvanCloud in Iran). Read only for a 403 or
/// 503: a site behind Cloudflare that fails on its own answers from `cloudflare` too.
pub fn bot_guard(headers: &reqwest::header::HeaderMap) -> Option<&'static str> {
    if headers
        .get("cf-mitigated")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"challenge"))
    {
        return Some("Cloudflare's bot check (a JavaScript challenge)");
    }
    let server = headers
        .get(reqwest::header::SERVER)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    [
        ("ddos-guard", "DDoS-Guard's bot check"),
        ("qrator", "Qrator's bot check"),
        ("arvancloud", "ArvanCloud's bot check"),
        ("sucuri", "Sucuri's firewall"),
    ]
    .into_iter()
    .find_map(|(name, said)| server.contains(name).then_some(said))
}

/// `url` as logs show it: a password in it replaced by `***`.
pub fn redacted(url: &Url) -> std::borrow::Cow<'_, str> {
    if url.password().is_none() {
        return std::borrow::Cow::Borrowed(url.as_str());
    }
    let mut shown = url.clone();
    // Setting a password fails only for URLs that cannot have one, and this one has one.
    let _ = shown.set_password(Some("***"));
    std::borrow::Cow::Owned(shown.into())
}

impl FetchError {
    /// The HTTP status, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }

    /// The time the server asked us to wait until, if it did.
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Fetches feeds over http(s) and from `file://` paths.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    /// The proxy `client` goes through, if any (named in connection failures).
    proxy: Option<Url>,
    /// `[fetch]`, to build the clients of sources with a proxy of their own.
    config: Arc<FetchConfig>,
    /// One client per proxy that sources name (`sources.proxy`), built on first use.
    proxied: Arc<Mutex<HashMap<Url, reqwest::Client>>>,
}

impl Fetcher {
    /// Builds the fetcher (and its HTTP client, through `fetch.proxy` when set) from
    /// `[fetch]`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS initialisation).
    pub fn new(config: &FetchConfig) -> reqwest::Result<Fetcher> {
        Ok(Fetcher {
            client: build_client(config, config.proxy.as_ref())?,
            proxy: config.proxy.clone(),
            timeout: config.timeout,
            max_body: config.max_body,
            config: Arc::new(config.clone()),
            proxied: Arc::default(),
        })
    }

    /// [`Fetcher::fetch`] through `proxy` (a source's own, `sources.proxy`), or as
    /// `fetch.proxy` says when `None`.
    ///
    /// # Errors
    /// As [`Fetcher::fetch`]; a proxy the HTTP client cannot use is a connection failure.
    pub async fn fetch_via(
        &self,
        url: &Url,
        state: &FetchState,
        proxy: Option<&Url>,
    ) -> Result<FetchOutcome, FetchError> {
        let Some(proxy) = proxy else {
            return self.fetch(url, state).await;
        };
        let client = {
            let mut clients = self
                .proxied
                .lock()
                .map_err(|_| FetchError::Connect("proxy clients unavailable".to_owned()))?;
            match clients.get(proxy) {
                Some(client) => client.clone(),
                None => {
                    let client = build_client(&self.config, Some(proxy)).map_err(|e| {
                        FetchError::Connect(format!("cannot use the proxy {proxy}: {e}"))
                    })?;
                    clients.insert(proxy.clone(), client.clone());
                    client
                }
            }
        };
        let via = Fetcher {
            client,
            proxy: Some(proxy.clone()),
            ..self.clone()
        };
        via.fetch(url, state).await
    }

    /// Fetches `url`, conditionally when `state` holds validators. Redirects are
    /// followed here (at most [`MAX_REDIRECTS`], http(s) only, no loops) so that a chain
    /// of permanent redirects can be recognised. The whole exchange, redirects and body
    /// included, is bounded by `fetch.timeout`.
    ///
    /// # Errors
    /// [`FetchError`] for every failure; the message is one line.
    pub async fn fetch(&self, url: &Url, state: &FetchState) -> Result<FetchOutcome, FetchError> {
        if url.scheme() == "file" {
            return self.fetch_file(url).await;
        }
        match tokio::time::timeout(self.timeout, self.fetch_http(url, state)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.timeout)),
        }
    }

    async fn fetch_http(&self, url: &Url, state: &FetchState) -> Result<FetchOutcome, FetchError> {
        let mut current = url.clone();
        let mut visited: Vec<Url> = Vec::new();
        let mut all_permanent = true;
        let response = loop {
            let mut request = self.client.get(current.clone());
            if let Some(etag) = &state.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &state.last_modified {
                request = request.header(IF_MODIFIED_SINCE, lm);
            }
            let response = request.send().await.map_err(|e| self.classify(e))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let next = next_hop(&current, &response, &visited)?;
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            visited.push(std::mem::replace(&mut current, next));
        };
        let status = response.status();
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            let retry_after = if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) {
                header(&response, RETRY_AFTER)
                    .and_then(|v| retry::parse_retry_after(&v, Utc::now()))
            } else {
                None
            };
            let guard = matches!(
                status,
                StatusCode::FORBIDDEN | StatusCode::SERVICE_UNAVAILABLE
            )
            .then(|| bot_guard(response.headers()))
            .flatten();
            return Err(FetchError::Status {
                status,
                login_sent: !current.username().is_empty() || current.password().is_some(),
                retry_after,
                guard,
            });
        }
        let meta = ResponseMeta {
            status: status.as_u16(),
            etag: header(&response, ETAG),
            last_modified: header(&response, LAST_MODIFIED),
            content_type: header(&response, CONTENT_TYPE),
            final_url: current.clone(),
            max_age: header(&response, CACHE_CONTROL).and_then(|v| retry::cache_max_age(&v)),
            permanent_redirect: (!visited.is_empty() && all_permanent).then_some(current),
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified(meta));
        }
        let body = self.read_capped(response).await?;
        Ok(FetchOutcome::Fetched(Fetched { meta, body }))
    }

    /// Streams the body, stopping as soon as it passes the cap.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn fetch_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a local path"),
        })?;
        let limit = self.max_body;
        let shown = path.display().to_string();
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let file = std::fs::File::open(&path)?;
            let mut body = Vec::new();
            file.take(limit + 1).read_to_end(&mut body)?;
            Ok(body)
        })
        .await
        .map_err(|e| FetchError::Http(format!("file reader task failed: {e}")))?;
        let body = read.map_err(|source| FetchError::File {
            path: shown,
            source,
        })?;
        if body.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        Ok(FetchOutcome::Fetched(Fetched {
            meta: ResponseMeta::local(url),
            body,
        }))
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.timeout);
        }
        let chain = error_chain(&e);
        if (e.is_body() || e.is_decode())
            && let Some(plain) = body_failure(&chain)
        {
            return FetchError::Http(plain);
        }
        if e.is_redirect() {
            FetchError::Redirect(chain)
        } else if e.is_connect() {
            let said = match &self.proxy {
                Some(proxy) => proxy_failure(proxy, &chain),
                None => None,
            };
            FetchError::Connect(said.unwrap_or_else(|| {
                let said = tls_failure(&chain)
                    .or_else(|| network_failure(&chain))
                    .unwrap_or(chain);
                match &self.proxy {
                    Some(proxy) => format!("{said} (through the proxy {})", redacted(proxy)),
                    None => said,
                }
            }))
        } else {
            FetchError::Http(
                reply_failure(&chain)
                    .or_else(|| network_failure(&chain))
                    .unwrap_or(chain),
            )
        }
    }
}

/// A connection failure that is the proxy's own, in words: the proxy not accepting
/// connections (not running, or another port), or its host name not resolving. Every
/// connection goes to the proxy, so a refusal is the proxy's; what the proxy says about
/// the feed's server is left to the other wordings.
fn proxy_failure(proxy: &Url, chain: &str) -> Option<String> {
    let shown = redacted(proxy);
    if chain.contains("failed to create underlying connection")
        || chain.contains("Connection refused")
    {
        Some(format!(
            "the proxy {shown} does not accept connections (is it running?)"
        ))
    } else if chain.contains("dns error") {
        Some(format!("the proxy {shown}'s host name does not resolve"))
    } else if chain.contains("tunnel error") {
        Some(format!(
            "the proxy {shown} did not open a connection to the server (down, or refused by \
             the proxy)"
        ))
    } else {
        None
    }
}

/// What went wrong between sending the request and reading the reply's head, in words:
/// a reply that is not HTTP (another service on the port; hyper: "invalid HTTP version
/// parsed"), or a connection the server closed or reset instead of answering (an
/// `http://` URL on a TLS port gets a reset from most TLS servers).
fn reply_failure(chain: &str) -> Option<String> {
    let detail = chain.rsplit(": ").next().unwrap_or(chain);
    let said = if chain.contains("invalid HTTP") || chain.contains("invalid URI") {
        "the server's reply is not HTTP (another service on this port?)"
    } else if chain.contains("SendRequest") && chain.contains("Connection reset") {
        "the server reset the connection instead of answering (an https:// port asked \
         with http://? a server that blocks feed readers?)"
    } else if chain.contains("connection closed before message completed") {
        "the server closed the connection without answering"
    } else {
        return None;
    };
    Some(format!("{said} ({detail})"))
}

/// The target of a redirect response, if it may be followed.
fn next_hop(
    current: &Url,
    response: &reqwest::Response,
    visited: &[Url],
) -> Result<Url, FetchError> {
    let status = response.status();
    let location = header(response, LOCATION)
        .ok_or_else(|| FetchError::Redirect(format!("{status} without a Location header")))?;
    let next = current.join(&location).map_err(|e| {
        FetchError::Redirect(format!("{status} to an invalid URL {location:?}: {e}"))
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(FetchError::Redirect(format!(
            "{status} to {next}: only http and https redirects are followed"
        )));
    }
    if next == *current || visited.contains(&next) {
        return Err(FetchError::Redirect(format!("redirect loop at {next}")));
    }
    if visited.len() >= MAX_REDIRECTS {
        return Err(FetchError::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects"
        )));
    }
    Ok(next)
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// What went wrong while reading a body, in words, for the two failures servers cause
/// most: a connection closed before `Content-Length` bytes came (hyper: "end of file
/// before message length reached"), and a body that is not in the compression its
/// `Content-Encoding` names (flate2: "Invalid gzip header", "corrupt deflate stream").
fn body_failure(chain: &str) -> Option<String> {
    if chain.contains("end of file before message length reached")
        || chain.contains("connection closed before message completed")
        || chain.contains("unexpected EOF during chunk")
    {
        return Some("the server closed the connection before the whole body arrived".into());
    }
    let lower = chain.to_ascii_lowercase();
    let cause = chain.rsplit(": ").next().unwrap_or(chain);
    ["gzip", "deflate", "brotli", "zstd", "decompress"]
        .iter()
        .any(|c| lower.contains(c))
        .then(|| format!("the body is not in the compression its Content-Encoding names ({cause})"))
}

/// What went wrong in the TLS handshake, in words a user can act on, from the
/// certificate errors rustls names (its `CertificateError` display) and from a server
/// that does not answer in TLS at all. Sites that work in a browser can fail here: a
/// browser fetches an intermediate certificate the server leaves out; rustls does not.
fn tls_failure(chain: &str) -> Option<String> {
    let detail = chain
        .split_once("invalid peer certificate: ")
        .map(|(_, d)| d);
    let said = if chain.contains("received corrupt message") {
        "the server does not answer in TLS at this address (a plain-HTTP port? try http://)"
            .to_owned()
    } else if let Some(detail) = detail {
        let certificate = "the server's TLS certificate";
        if detail.starts_with("certificate expired") {
            // "… (N seconds ago)"
            let ago = detail
                .rsplit_once('(')
                .and_then(|(_, s)| s.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .map(|secs| format!(", {} days ago", secs.div_ceil(86_400)))
                .unwrap_or_default();
            format!("{certificate} has expired{ago}")
        } else if detail.starts_with("certificate not valid yet") {
            format!("{certificate} is not valid yet (is this machine's clock right?)")
        } else if let Some(names) = detail
            .strip_prefix("certificate not valid for name ")
            .and_then(|d| d.split_once("; certificate "))
        {
            format!("{certificate} is not for {} (it {})", names.0, names.1)
        } else if detail.contains("UnknownIssuer") {
            format!(
                "{certificate} is not signed by an authority this machine trusts (it is \
                 self-signed, or the server leaves out its intermediate certificate, which \
                 browsers fetch and roundup does not)"
            )
        } else if detail.contains("CaUsedAsEndEntity") || detail.contains("SelfSigned") {
            format!("{certificate} is self-signed")
        } else {
            format!("{certificate} is not accepted ({detail})")
        }
    } else {
        return None;
    };
    Some(said)
}

/// A connection that failed below TLS, in words: a host name that does not resolve,
/// nothing listening on the port, no route to the host. The system's own words follow
/// in parentheses.
fn network_failure(chain: &str) -> Option<String> {
    let detail = chain.rsplit(": ").next().unwrap_or(chain);
    let said = if chain.contains("dns error") {
        "the host name does not resolve"
    } else if chain.contains("Connection refused") {
        "nothing accepts connections at this address and port"
    } else if chain.contains("No route to host") || chain.contains("Network is unreachable") {
        "there is no route to the server (this machine's network, or the host is blocked)"
    } else if chain.contains("Connection reset") {
        "the server reset the connection (it may block feed readers or this network)"
    } else if chain.contains("tunnel error") {
        "the proxy (from HTTPS_PROXY or ALL_PROXY) did not open a connection to the server"
    } else {
        return None;
    };
    Some(format!("{said} ({detail})"))
}

/// The error and its sources on one line, without reqwest's repeated URL noise.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::tls_failure;

    /// `connection failed: …` lines for the certificate errors rustls 0.23 reports, as
    /// reqwest chains them (the first two seen from local servers with a self-signed
    /// certificate and one from an unknown authority; the others as rustls displays
    /// its `CertificateError`).
    #[test]
    fn network_failures_are_said_in_words() {
        use super::network_failure;
        assert_eq!(
            network_failure(
                "client error (Connect): dns error: error resolving DNS: no such host \
                 news.invalid"
            )
            .as_deref(),
            Some("the host name does not resolve (no such host news.invalid)")
        );
        assert_eq!(
            network_failure(
                "client error (Connect): dns error: failed to lookup address information: \
                 Temporary failure in name resolution"
            )
            .as_deref(),
            Some("the host name does not resolve (Temporary failure in name resolution)")
        );
        assert!(
            network_failure(
                "client error (Connect): tcp connect error: No route to host (os error 113)"
            )
            .unwrap()
            .starts_with("there is no route to the server")
        );
        assert!(
            network_failure("client error (Connect): tunnel error: unsuccessful")
                .unwrap()
                .starts_with("the proxy (from HTTPS_PROXY or ALL_PROXY) did not open a connection")
        );
        assert_eq!(
            network_failure("client error (Connect): something new"),
            None
        );
    }

    #[test]
    fn a_proxy_s_own_failures_name_it() {
        use super::proxy_failure;
        let proxy = url::Url::parse("socks5h://tor:secret@127.0.0.1:9050").unwrap();
        assert_eq!(
            proxy_failure(
                &proxy,
                "client error (Connect): error connecting to socks proxy: SOCKS error: failed \
                 to create underlying connection"
            )
            .as_deref(),
            Some(
                "the proxy socks5h://tor:***@127.0.0.1:9050 does not accept connections (is it \
                 running?)"
            )
        );
        assert!(
            proxy_failure(&proxy, "client error (Connect): tunnel error: unsuccessful")
                .unwrap()
                .contains("did not open a connection to the server")
        );
        // What the proxy says about the feed's server is left to the other wordings.
        assert_eq!(
            proxy_failure(
                &proxy,
                "client error (Connect): SOCKS error: host unreachable"
            ),
            None
        );
    }

    #[test]
    fn replies_that_are_not_http_or_never_come_are_said_in_words() {
        use super::reply_failure;
        // As reqwest 0.13 chains them, seen from local servers: an SSH banner, an
        // http:// request to Python's TLS server, a server that closed at once.
        assert_eq!(
            reply_failure("client error (SendRequest): invalid HTTP version parsed").as_deref(),
            Some(
                "the server's reply is not HTTP (another service on this port?) (invalid HTTP version parsed)"
            )
        );
        assert!(
            reply_failure(
                "client error (SendRequest): connection error: Connection reset by peer \
                 (os error 104)"
            )
            .unwrap()
            .starts_with("the server reset the connection instead of answering (an https://")
        );
        assert!(
            reply_failure("client error (SendRequest): connection closed before message completed")
                .unwrap()
                .starts_with("the server closed the connection without answering")
        );
        assert_eq!(
            reply_failure("client error (SendRequest): something new"),
            None
        );
    }

    #[test]
    fn certificate_failures_are_said_in_words() {
        let line = |cause: &str| {
            tls_failure(&format!(
                "client error (Connect): invalid peer certificate: {cause}"
            ))
            .unwrap()
        };
        assert_eq!(
            line("Other(OtherError(CaUsedAsEndEntity))"),
            "the server's TLS certificate is self-signed"
        );
        assert!(
            line("UnknownIssuer").contains("leaves out its intermediate certificate"),
            "{}",
            line("UnknownIssuer")
        );
        assert_eq!(
            line(
                "certificate expired: verification time 1764560000 (UNIX), but certificate \
                 is not valid after 1761881600 (2678400 seconds ago)"
            ),
            "the server's TLS certificate has expired, 31 days ago"
        );
        assert_eq!(
            line(
                "certificate not valid for name \"news.example\"; certificate is only valid \
                 for DnsName(\"cdn.example\")"
            ),
            "the server's TLS certificate is not for \"news.example\" (it is only valid for \
             DnsName(\"cdn.example\"))"
        );
        assert!(line("certificate not valid yet: verification time 1 (UNIX), …").contains("clock"));
        assert_eq!(
            line("BadSignature"),
            "the server's TLS certificate is not accepted (BadSignature)"
        );
        assert_eq!(
            tls_failure("client error (Connect): tcp connect error: Connection refused"),
            None
        );
    }
}
