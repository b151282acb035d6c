//! SIGTERM and SIGINT as two moments: the first signal (finish what runs,
//! then stop) and the second (stop now). Every weir command listens through
//! here, so a second Ctrl-C means the same everywhere.
use std::future::Future;
use std::sync::{Arc, OnceLock};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// The shutdown signals of this process, from the moment [`Signals::listen`]
/// was called. Clones share the same signals.
#[derive(Debug, Clone)]
pub struct Signals {
    first: CancellationToken,
    second: CancellationToken,
    first_name: Arc<OnceLock<&'static str>>,
}

impl Signals {
    /// Listens for SIGTERM and SIGINT from now on (needs a tokio runtime).
    pub fn listen() -> std::io::Result<Signals> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let signals = Signals {
            first: CancellationToken::new(),
            second: CancellationToken::new(),
            first_name: Arc::new(OnceLock::new()),
        };
        let s = signals.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                seen += 1;
                if seen == 1 {
                    let _ = s.first_name.set(name);
                    tracing::info!(signal = name, "signal received: stopping gracefully (send it again to stop now)");
                    s.first.cancel();
                } else {
                    tracing::info!(signal = name, "second signal: stopping now");
                    s.second.cancel();
                    return;
                }
            }
        });
        Ok(signals)
    }

    /// Resolves at the first signal.
    pub fn first(&self) -> impl Future<Output = ()> + Send + use<> {
        self.first.clone().cancelled_owned()
    }

    /// Resolves at the second signal.
    pub fn second(&self) -> impl Future<Output = ()> + Send + use<> {
        self.second.clone().cancelled_owned()
    }

    /// The first signal's name (`SIGTERM` or `SIGINT`), once it came.
    pub fn first_name(&self) -> Option<&'static str> {
        self.first_name.get().copied()
    }
}

/// The first and the second signal as two futures (see [`Signals`]).
pub fn shutdown_signals()
-> std::io::Result<(impl Future<Output = ()> + Send + 'static, impl Future<Output = ()> + Send + 'static)> {
    let s = Signals::listen()?;
    Ok((s.first(), s.second()))
}
