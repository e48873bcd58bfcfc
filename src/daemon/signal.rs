//! Unix signals: SIGTERM and SIGINT begin shutdown, SIGHUP asks for a config reload.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Installs the handlers and spawns the task that forwards them.
///
/// # Errors
/// When a handler cannot be registered.
pub fn install(shutdown: CancellationToken, reload: mpsc::Sender<()>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { info!("SIGTERM: shutting down"); shutdown.cancel(); break; }
                _ = int.recv() => { info!("SIGINT: shutting down"); shutdown.cancel(); break; }
                _ = hup.recv() => {
                    info!("SIGHUP: reloading the config");
                    if reload.try_send(()).is_err() {
                        info!("a reload is already pending");
                    }
                }
            }
        }
    });
    Ok(())
}
