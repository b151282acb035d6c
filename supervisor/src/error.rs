//! Why the autoscaler could not decide or act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Flags that describe no valid policy (e.g. `--min` above `--max`).
    #[error("invalid autoscale settings: {0}")]
    Config(String),
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    /// The operator's `--scale-cmd` could not be started.
    #[error("cannot run --scale-cmd: {0}")]
    ScaleCmd(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
