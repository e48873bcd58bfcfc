//! The config file as written: serde structs with `deny_unknown_fields`, every value
//! wrapped in [`Spanned`] so that validation can point at file:line.
//!
//! Nothing here is validated beyond TOML types; see [`super::validate`].

use serde::Deserialize;
use toml::Spanned;

/// `[fetch]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFetch {
    pub schedule: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<i64>>,
    pub per_host: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub user_agent: Option<Spanned<String>>,
    pub proxy: Option<Spanned<String>>,
}

/// `[digest]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDigest {
    pub schedule: Option<Spanned<String>>,
    pub window: Option<Spanned<String>>,
    pub output_dir: Option<Spanned<String>>,
    pub formats: Option<Spanned<Vec<Spanned<String>>>>,
    pub email: Option<Spanned<RawEmail>>,
}

/// `[digest.email]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    pub host: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub security: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub from: Spanned<String>,
    pub to: Spanned<Vec<Spanned<String>>>,
}

/// `[dedup]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDedup {
    pub window: Option<Spanned<String>>,
    pub representative: Option<Spanned<String>>,
}

/// One `[[sources]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub id: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub url: Spanned<String>,
    pub site: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub language: Option<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    pub schedule: Option<Spanned<String>>,
    pub enabled: Option<Spanned<bool>>,
    pub proxy: Option<Spanned<String>>,
}
