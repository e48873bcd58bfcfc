//! The `roundup` binary: parse the command line, set up logging, run the command, map
//! the outcome to an exit code (0 ok, 1 some sources failed, 2 usage/config, 3 storage).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use roundup::cli::{self, Cli, Command, Exit, UsageError};
use roundup::config::ConfigError;
use roundup::daemon::DaemonError;
use roundup::digest::DigestError;
use roundup::store::StoreError;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roundup: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Storage as u8);
        }
    };
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(exit) => exit,
        Err(err) => {
            eprintln!("roundup: {}", one_line(&err));
            classify(&err)
        }
    };
    ExitCode::from(code as u8)
}

/// The error and its causes on one line, each said once: errors that print their
/// source in their own message (rusqlite's, `cannot open database …: {source}`) would
/// otherwise repeat it, and SQLite's own ("Error code 26: file is not a database")
/// repeats the words before it.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let said = cause.to_string();
        let words = said.rsplit(": ").next().unwrap_or(&said);
        if line.contains(words) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&said);
    }
    line
}

/// Maps an error to its exit code by what caused it.
fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.is::<ConfigError>() || cause.is::<UsageError>() {
            return Exit::Usage;
        }
        if cause.is::<StoreError>()
            || matches!(
                cause.downcast_ref::<DaemonError>(),
                Some(DaemonError::Store(_) | DaemonError::AlreadyRunning { .. })
            )
        {
            return Exit::Storage;
        }
        if cause.is::<DigestError>() {
            return Exit::Storage;
        }
    }
    Exit::SourcesFailed
}

fn init_tracing(cli: &Cli) {
    let base: i8 = if matches!(cli.command, Command::Run { once: false }) {
        2
    } else {
        1
    };
    let level = (base + cli.verbose as i8 - cli.quiet as i8).clamp(0, 4);
    let directive = [
        "roundup=off",
        "roundup=warn",
        "roundup=info",
        "roundup=debug",
        "roundup=trace",
    ][level as usize];
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
