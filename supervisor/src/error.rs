//! Why the autoscaler could not decide or act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
/// Everything the autoscaler can fail with.
pub enum Error {
    /// Flags that describe no valid policy (e.g. `--min` above `--max`).
    #[error("invalid autoscale settings: {0}")]
    Config(String),
    /// Reading figures or writing the history failed in Redis.
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    /// The operator's `--scale-cmd` could not be started.
    #[error("cannot run --scale-cmd: {0}")]
    ScaleCmd(#[source] std::io::Error),
}

/// The autoscaler's result, with [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
