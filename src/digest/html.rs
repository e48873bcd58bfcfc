//! The HTML digest: one self-contained page (inline CSS, no external requests, no
//! script — a Content-Security-Policy forbids any), readable on a phone and a desktop,
//! light and dark, right-to-left stories marked per story. Rendered by minijinja with
//! auto-escaping; every feed string is text, never markup.

use super::view::{digest_view, render};
use super::{Digest, Renderer};

/// Renders a digest as a self-contained HTML page.
#[derive(Debug, Clone, Copy)]
pub struct HtmlRenderer;

impl Renderer for HtmlRenderer {
    fn render(&self, digest: &Digest) -> String {
        render("digest.html", &digest_view(digest))
    }
}
