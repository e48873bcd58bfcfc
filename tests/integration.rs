//! Integration tests, built as one binary (ripgrep's layout). Every server they need is
//! started on 127.0.0.1 port 0 by the test itself; nothing reaches the internet.

mod browser;
mod cli;
mod common;
mod crash;
mod daemon;
mod digest;
mod fetch;
mod hostile;
mod pipeline;
mod scheduler;
mod sources;
