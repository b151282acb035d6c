//! SIGTERM and SIGINT as two futures: the first signal, and the second.
use std::future::Future;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Listens for SIGTERM and SIGINT from now on. The first future resolves at
/// the first signal, the second at the next one.
pub fn shutdown_signals()
-> std::io::Result<(impl Future<Output = ()> + Send + 'static, impl Future<Output = ()> + Send + 'static)> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let first = CancellationToken::new();
    let second = CancellationToken::new();
    let (f, s) = (first.clone(), second.clone());
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                tracing::info!("signal received: finishing running jobs (send it again to stop now)");
                f.cancel();
            } else {
                s.cancel();
                return;
            }
        }
    });
    Ok((first.cancelled_owned(), second.cancelled_owned()))
}
