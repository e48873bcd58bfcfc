//! roundup: a feed aggregator daemon that turns a region's news feeds into one
//! deduplicated daily digest.
//!
//! # Layout
//!
//! The library is a pipeline, one module per stage, called in order by [`pipeline`]:
//!
//! * [`config`]: TOML → validated [`config::Config`] (all errors at once, with file:line).
//! * [`fetch`]: the only module that touches the network (reqwest) or reads `file://` feeds.
//! * [`parse`]: raw bytes → `feed_rs` model; detects "not a feed".
//! * [`normalize`]: `feed_rs` model → [`model::Item`]s (absolute links, canonical URL,
//!   plain-text summary, entry key). Pure.
//! * [`dedup`]: story identity keys (canonical URL, text fingerprint). Pure.
//! * [`store`]: SQLite; the only module with SQL.
//! * [`digest`]: reads the store and renders digests (markdown, json). Renderers are pure.
//! * [`sources`]: the `sources` commands: config editing (toml_edit), feed discovery, OPML.
//! * [`cli`]: the command-line front end; the only module that prints to stdout.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod digest;
pub mod fetch;
pub mod model;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod sources;
pub mod store;

/// The version string reported in the User-Agent and in digests.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
