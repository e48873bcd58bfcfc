//! Builds the one `reqwest::Client` used for every fetch.

use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};

use crate::config::FetchConfig;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// Upper bound on the connect phase (the whole-request timeout still applies).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the shared client: rustls, gzip/brotli/deflate, the configured User-Agent,
/// the whole-request timeout and a redirect policy that refuses loops, more than
/// [`MAX_REDIRECTS`] hops and any scheme but http(s).
///
/// # Errors
/// When reqwest cannot initialise TLS.
pub fn build_client(config: &FetchConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(config.user_agent.clone())
        .timeout(config.timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(config.timeout))
        .gzip(true)
        .brotli(true)
        .deflate(true)
        .redirect(Policy::custom(redirect_policy))
        .build()
}

fn redirect_policy(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let url = attempt.url().to_string();
    if !matches!(attempt.url().scheme(), "http" | "https") {
        return attempt.error(format!("redirect to a non-http(s) URL {url}"));
    }
    if attempt.previous().iter().any(|u| u == attempt.url()) {
        return attempt.error(format!("redirect loop at {url}"));
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
    }
    attempt.follow()
}
