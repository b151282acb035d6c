//! What the broker refuses or fails at, in one enum every crate passes on.
use std::time::Duration;

/// Everything the broker can refuse or fail at. Bad input is refused before
/// anything is written.
/// Clone: one failed script call can fail several callers' jobs (the
/// enqueues that shared it).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A queue name (or queue list) outside the rules of [`QueueName::new`](crate::QueueName::new).
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `BrokerConfig::prefix` outside its alphabet or length.
    #[error("invalid key prefix {0:?}: use 1-64 characters from [A-Za-z0-9._:-]")]
    InvalidPrefix(String),
    /// A job kind that is empty, too long or holds control characters.
    #[error("invalid job kind {0:?}: it must be 1-128 bytes with no control characters")]
    InvalidKind(String),
    /// An encoded payload over the broker's limit; nothing was enqueued.
    #[error("payload of {size} bytes is over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The encoded payload's size.
        size: usize,
        /// `BrokerConfig::max_payload_bytes`.
        limit: usize,
    },
    /// `max_attempts` of 0: a job must get one attempt.
    #[error("max attempts must be at least 1")]
    ZeroMaxAttempts,
    /// A negative delay.
    #[error("delay must not be negative")]
    NegativeDelay,
    /// A codec name this build does not know (`bincode` needs its feature).
    #[error("unknown codec {0:?} (known: json{bincode})", bincode = if cfg!(feature = "bincode") { ", bincode" } else { "" })]
    UnknownCodec(String),
    /// A backoff spec that does not parse.
    #[error("invalid backoff {0:?}: use exp[:BASE[:CAP]], fixed:DELAY, or a list such as 1s,5s,10s")]
    InvalidBackoff(String),
    /// A duration that does not parse ([`parse_duration`](crate::parse_duration)).
    #[error("invalid duration {0:?}: use a number with a unit, such as 500ms, 30s, 5m, 1h, 2d")]
    InvalidDuration(String),
    /// A rate, burst or concurrency cap that is out of range or does not parse.
    #[error("invalid limit: {0}")]
    InvalidLimit(String),
    /// An empty or too long rate key.
    #[error("invalid rate key: it must be 1-256 bytes")]
    InvalidRateKey,
    /// An empty or too long unique key.
    #[error("invalid unique key: it must be 1-512 bytes")]
    InvalidUniqueKey,
    /// A job id outside its alphabet or length (ids become part of keys' values and URLs).
    #[error("invalid job id {0:?}: it must be 1-64 characters from [A-Za-z0-9._:-]")]
    InvalidJobId(String),
    /// A dead-set page cursor that does not parse.
    #[error("invalid dead-set cursor {0:?}: it must be <ms>-<id>, as a page's `next` gives it")]
    InvalidCursor(String),
    /// The job could not be encoded with its codec.
    #[error("could not encode the payload: {0}")]
    Encode(String),
    /// A payload or envelope that does not decode (a damaged job, or a type that changed).
    #[error("could not decode the payload: {0}")]
    Decode(String),
    /// A `--redis` URL that does not parse (password redacted).
    #[error("invalid Redis URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis did not answer the first connection (refused, unknown host, bad password).
    #[error("cannot reach Redis at {url}: {reason}")]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// The OS's or Redis's reason.
        reason: String,
    },
    /// A Redis error that retrying did not get past.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A reply of the wrong shape: a script and its Rust wrapper disagree,
    /// or a key holds something weir did not write.
    #[error("unexpected reply from Redis to {op}: {detail}")]
    Protocol {
        /// The operation (script or command).
        op: &'static str,
        /// What came back.
        detail: String,
    },
    /// Redis did not answer in time (a probe, a wait).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A handler's result that is not JSON or is over its size limit.
    #[error("invalid job result: {0}")]
    InvalidResult(String),
    /// A schedule whose name, expression or zone is invalid.
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// A schedule name that is not stored.
    #[error("no schedule named {0:?}")]
    UnknownSchedule(String),
    /// Adding a schedule whose name is taken, without replace.
    #[error("a schedule named {0:?} already exists (remove it first, or add it with --replace)")]
    DuplicateSchedule(String),
}

/// The broker's result, with [`Error`] by default.
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
