//! Errors: [`JobError`] is what a handler returns (and what it means for the
//! job's next attempt); [`Error`] is why a worker could not start or run.
use std::time::Duration;

/// A failed attempt, and what should happen next.
///
/// `?` converts common errors into [`JobError::Retry`]; say otherwise with
/// [`JobError::fatal`] (dead now, no more attempts) or
/// [`JobError::retry_after`] (retry after this delay instead of the backoff).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Retry on the job's backoff schedule while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Retry after this delay (overrides the backoff) while attempts remain.
    #[error("{message}")]
    RetryAfter { message: String, after: Duration },
    /// Do not retry: the job goes to the dead set now.
    #[error("{0}")]
    Fatal(String),
    /// Back-pressure ("rate limited, retry after D", an HTTP 429 with
    /// Retry-After, say): the job goes back to run after `after` without
    /// using an attempt, and `hold` (its queue, or its rate key) is held for
    /// that long across the whole fleet.
    #[error("{message}")]
    RateLimited { message: String, after: Duration, hold: weir_broker::Hold },
}

impl JobError {
    pub fn retry(message: impl std::fmt::Display) -> Self {
        JobError::Retry(message.to_string())
    }

    pub fn retry_after(message: impl std::fmt::Display, after: Duration) -> Self {
        JobError::RetryAfter { message: message.to_string(), after }
    }

    pub fn fatal(message: impl std::fmt::Display) -> Self {
        JobError::Fatal(message.to_string())
    }

    /// Back-pressure that holds the job's whole queue for `after`, fleet-wide.
    pub fn rate_limited(message: impl std::fmt::Display, after: Duration) -> Self {
        JobError::RateLimited { message: message.to_string(), after, hold: weir_broker::Hold::Queue }
    }

    /// Back-pressure that holds only the jobs with this job's rate key.
    pub fn rate_limited_key(message: impl std::fmt::Display, after: Duration) -> Self {
        JobError::RateLimited { message: message.to_string(), after, hold: weir_broker::Hold::Key }
    }
}

macro_rules! retry_from {
    ($($t:ty),*) => {$(
        impl From<$t> for JobError {
            fn from(e: $t) -> Self {
                JobError::Retry(e.to_string())
            }
        }
    )*};
}
retry_from!(String, &str, std::io::Error, serde_json::Error, weir_broker::Error);

/// Why a worker could not start, or stopped on an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid worker configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    /// The metrics address is taken or cannot be used.
    #[error("cannot serve metrics on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
}

/// What is wrong with a worker's settings, from flags or the builder. The
/// settings are checked in one place, `WorkerConfig::validate`; flag
/// parsing adds only what belongs to a flag's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A number or duration under its smallest allowed value.
    #[error("{setting} must be at least {min}")]
    TooSmall { setting: &'static str, min: &'static str },
    /// A number or duration over its documented bound (`weir_broker::bounds`).
    #[error(transparent)]
    OverLimit(#[from] weir_broker::OverLimit),
    /// A queue name or queue list the broker refuses.
    #[error("{0}")]
    Queues(String),
    /// A flag whose value does not work as given (`--rate webhooks=1000000/ms`).
    #[error("{flag} {value}: {reason}")]
    Flag { flag: &'static str, value: String, reason: &'static str },
}

impl From<weir_broker::Error> for ConfigError {
    fn from(e: weir_broker::Error) -> Self {
        ConfigError::Queues(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
