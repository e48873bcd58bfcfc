//! Fetching: the only module that touches the network or reads `file://` feeds.
//!
//! [`Fetcher`] owns one HTTP client. It sends conditional GETs with the stored validators,
//! streams the body under the `max_body` cap (after decompression, so gzip bombs stop
//! too) and classifies failures into [`FetchError`]s whose `Display` is one line.

mod client;

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

pub use client::{MAX_REDIRECTS, build_client};

use crate::config::FetchConfig;
use crate::model::FetchState;

/// What a successful fetch returned.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: nothing changed since the stored validators; nothing to parse or write.
    NotModified,
    /// A body to parse.
    Fetched(Fetched),
}

/// A fetched body with the response metadata kept for the next conditional GET.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status (200 for `file://`).
    pub status: u16,
    /// Raw bytes (decompressed, not decoded: the parser reads the declared encoding).
    pub body: Vec<u8>,
    /// `ETag` header.
    pub etag: Option<String>,
    /// `Last-Modified` header.
    pub last_modified: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub final_url: Url,
}

/// Why a fetch failed. `Display` is one line naming the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with a non-success status.
    #[error("HTTP {status}")]
    Status {
        /// The status returned.
        status: StatusCode,
        /// `Retry-After`, when the server sent one with 429/503.
        retry_after: Option<String>,
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

impl FetchError {
    /// The HTTP status, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(status.as_u16()),
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
}

impl Fetcher {
    /// Builds the fetcher (and its one HTTP client) from `[fetch]`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS initialisation).
    pub fn new(config: &FetchConfig) -> reqwest::Result<Fetcher> {
        Ok(Fetcher {
            client: build_client(config)?,
            timeout: config.timeout,
            max_body: config.max_body,
        })
    }

    /// Fetches `url`, conditionally when `state` holds validators.
    ///
    /// # Errors
    /// [`FetchError`] for every failure; the message is one line.
    pub async fn fetch(&self, url: &Url, state: &FetchState) -> Result<FetchOutcome, FetchError> {
        if url.scheme() == "file" {
            return self.fetch_file(url).await;
        }
        let mut request = self.client.get(url.clone());
        if let Some(etag) = &state.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &state.last_modified {
            request = request.header(IF_MODIFIED_SINCE, lm);
        }
        let response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if status.is_redirection() {
            // The redirect policy stops at schemes it refuses to follow (file:, ftp:…).
            let to = header(&response, reqwest::header::LOCATION).unwrap_or_default();
            return Err(FetchError::Redirect(format!(
                "{status} to {to:?}: only http and https redirects are followed"
            )));
        }
        if !status.is_success() {
            let retry_after = header(&response, reqwest::header::RETRY_AFTER);
            return Err(FetchError::Status {
                status,
                retry_after,
            });
        }
        let etag = header(&response, ETAG);
        let last_modified = header(&response, LAST_MODIFIED);
        let content_type = header(&response, CONTENT_TYPE);
        let final_url = response.url().clone();
        let body = self.read_capped(response).await?;
        Ok(FetchOutcome::Fetched(Fetched {
            status: status.as_u16(),
            body,
            etag,
            last_modified,
            content_type,
            final_url,
        }))
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
            status: 200,
            body,
            etag: None,
            last_modified: None,
            content_type: None,
            final_url: url.clone(),
        }))
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.timeout);
        }
        let chain = error_chain(&e);
        if e.is_redirect() {
            FetchError::Redirect(chain)
        } else if e.is_connect() {
            FetchError::Connect(chain)
        } else {
            FetchError::Http(chain)
        }
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
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
