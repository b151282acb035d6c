use std::time::Duration;

/// Everything the broker can refuse or fail at. Bad input is refused before
/// anything is written.
/// Clone: one failed script call can fail several callers' jobs (the
/// enqueues that shared it).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName { name: String, reason: &'static str },
    #[error("invalid key prefix {0:?}: use 1-64 characters from [A-Za-z0-9._:-]")]
    InvalidPrefix(String),
    #[error("invalid job kind {0:?}: it must be 1-128 bytes with no control characters")]
    InvalidKind(String),
    #[error("payload of {size} bytes is over the limit of {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("max attempts must be at least 1")]
    ZeroMaxAttempts,
    #[error("delay must not be negative")]
    NegativeDelay,
    #[error("unknown codec {0:?} (known: json{bincode})", bincode = if cfg!(feature = "bincode") { ", bincode" } else { "" })]
    UnknownCodec(String),
    #[error("invalid backoff {0:?}: use exp[:BASE[:CAP]], fixed:DELAY, or a list such as 1s,5s,10s")]
    InvalidBackoff(String),
    #[error("invalid duration {0:?}: use a number with a unit, such as 500ms, 30s, 5m, 1h, 2d")]
    InvalidDuration(String),
    #[error("invalid limit: {0}")]
    InvalidLimit(String),
    #[error("invalid rate key: it must be 1-256 bytes")]
    InvalidRateKey,
    #[error("invalid unique key: it must be 1-512 bytes")]
    InvalidUniqueKey,
    #[error("invalid job id {0:?}: it must be 1-64 characters from [A-Za-z0-9._:-]")]
    InvalidJobId(String),
    #[error("invalid dead-set cursor {0:?}: it must be <ms>-<id>, as a page's `next` gives it")]
    InvalidCursor(String),
    #[error("could not encode the payload: {0}")]
    Encode(String),
    #[error("could not decode the payload: {0}")]
    Decode(String),
    #[error("invalid Redis URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach Redis at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from Redis to {op}: {detail}")]
    Protocol { op: &'static str, detail: String },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("invalid job result: {0}")]
    InvalidResult(String),
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    #[error("no schedule named {0:?}")]
    UnknownSchedule(String),
    #[error("a schedule named {0:?} already exists (remove it first, or add it with --replace)")]
    DuplicateSchedule(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An unreachable-server error with the OS reason.
    pub(crate) fn unreachable(url: String, e: &redis::RedisError) -> Self {
        let reason = match e.kind() {
            redis::ErrorKind::Io => {
                let text = e.to_string();
                // "Connection refused (os error 111)" reads better without the rest.
                text.split(" - ").last().unwrap_or(&text).to_lowercase()
            }
            _ => e.to_string(),
        };
        Error::Unreachable { url, reason }
    }

    pub(crate) fn protocol(op: &'static str, detail: impl std::fmt::Display) -> Self {
        Error::Protocol { op, detail: detail.to_string() }
    }
}
