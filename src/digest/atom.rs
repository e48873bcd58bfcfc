//! The Atom 1.0 digest: one entry per story, so a feed reader can follow roundup.

use super::view::{digest_view, render};
use super::{Digest, Renderer};

/// Renders a digest as an Atom 1.0 feed.
#[derive(Debug, Clone, Copy)]
pub struct AtomRenderer;

impl Renderer for AtomRenderer {
    fn render(&self, digest: &Digest) -> String {
        render("digest.atom.xml", &digest_view(digest))
    }
}
