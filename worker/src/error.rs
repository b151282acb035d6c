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
    RetryAfter {
        /// Why it failed, kept in the job's errors.
        message: String,
        /// The delay before the next attempt.
        after: Duration,
    },
    /// Do not retry: the job goes to the dead set now.
    #[error("{0}")]
    Fatal(String),
    /// Back-pressure ("rate limited, retry after D", an HTTP 429 with
    /// Retry-After, say): the job goes back to run after `after` without
    /// using an attempt, and `hold` (its queue, or its rate key) is held for
    /// that long across the whole fleet.
    #[error("{message}")]
    RateLimited {
        /// Why, kept in the job's errors.
        message: String,
        /// How long the job, and what `hold` names, wait.
        after: Duration,
        /// What else waits: the queue or the rate key.
        hold: weir_broker::Hold,
    },
}

impl JobError {
    /// Retry on the backoff schedule ([`JobError::Retry`]).
    pub fn retry(message: impl std::fmt::Display) -> Self {
        JobError::Retry(message.to_string())
    }

    /// Retry after `after` instead of the backoff ([`JobError::RetryAfter`]).
    pub fn retry_after(message: impl std::fmt::Display, after: Duration) -> Self {
        JobError::RetryAfter { message: message.to_string(), after }
    }

    /// No more attempts: dead now ([`JobError::Fatal`]), for input that
    /// will never work.
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
    /// A setting is invalid; nothing ran.
    #[error("invalid worker configuration: {0}")]
    Config(#[from] ConfigError),
    /// SIGTERM/SIGINT handlers could not be installed (`run_with_signals`).
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    /// Redis failed in a way retries did not get past.
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    /// The metrics address is taken or cannot be used.
    #[error("cannot serve metrics on {addr}: {source}")]
    Listen {
        /// The `--metrics-addr` asked for.
        addr: std::net::SocketAddr,
        /// Why binding it failed.
        source: std::io::Error,
    },
}

/// What is wrong with a worker's settings, from flags or the builder. The
/// settings are checked in one place, `WorkerConfig::validate`; flag
/// parsing adds only what belongs to a flag's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A number or duration under its smallest allowed value.
    #[error("{setting} must be at least {min}")]
    TooSmall {
        /// The setting, as its flag names it.
        setting: &'static str,
        /// Its smallest allowed value, as text.
        min: &'static str,
    },
    /// A number or duration over its documented bound (`weir_broker::bounds`).
    #[error(transparent)]
    OverLimit(#[from] weir_broker::OverLimit),
    /// A queue name or queue list the broker refuses.
    #[error("{0}")]
    Queues(String),
    /// A flag whose value does not work as given (`--rate webhooks=1000000/ms`).
    #[error("{flag} {value}: {reason}")]
    Flag {
        /// The flag, e.g. `--rate`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl From<weir_broker::Error> for ConfigError {
    fn from(e: weir_broker::Error) -> Self {
        ConfigError::Queues(e.to_string())
    }
}

/// The worker's result, with [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
