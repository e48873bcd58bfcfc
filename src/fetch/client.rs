//! Builds the one `reqwest::Client` used for every fetch.

use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

use crate::config::FetchConfig;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// Upper bound on the connect phase (the whole-request timeout still applies).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the shared client: rustls, gzip/brotli/deflate, the configured User-Agent and
/// the whole-request timeout; every request through `proxy` when given (which turns off
/// the environment's proxies), else through the environment's (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`: reqwest's default). Redirects are not followed
/// by reqwest: [`super::Fetcher`] follows them itself (at most [`MAX_REDIRECTS`] hops,
/// http(s) only, no loops) so that it can tell a chain of permanent redirects from
/// temporary ones.
///
/// # Errors
/// When reqwest cannot initialise TLS.
pub fn build_client(config: &FetchConfig, proxy: Option<&Url>) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(proxy) = proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?);
    }
    builder
        .user_agent(config.user_agent.clone())
        .timeout(config.timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(config.timeout))
        .gzip(true)
        .brotli(true)
        .deflate(true)
        .redirect(Policy::none())
        .dns_resolver(SystemResolver)
        .build()
}

/// The system resolver (getaddrinfo on a blocking thread, as reqwest's default does),
/// except that names under the reserved `.invalid` top-level domain (RFC 6761) fail at
/// once without a query leaving the machine.
#[derive(Debug, Clone, Copy)]
struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "invalid" || host.ends_with(".invalid") {
                let err = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no such host {host}"),
                );
                return Err(err.into());
            }
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
