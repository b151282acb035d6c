//! Per-enqueue options.
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weir_broker::{Backoff, Codec, RunAt, Unique, bounds};

/// Overrides of a job type's defaults for one enqueue.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub(crate) queue: Option<String>,
    pub(crate) run_at: RunAt,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) unique: Option<Unique>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) codec: Option<Codec>,
    pub(crate) id: Option<String>,
    pub(crate) rate_key: Option<String>,
}

impl Options {
    /// No overrides: the job type's [`Job`](crate::Job) defaults apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// The queue (validated at enqueue).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Run no earlier than `delay` from now: at most
    /// `weir_broker::bounds::MAX_DELAY` (checked at enqueue).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.run_at = RunAt::After(delay);
        self
    }

    /// Run no earlier than `at`; a time in the past means now. At most
    /// `weir_broker::bounds::MAX_DELAY` ahead (checked at enqueue).
    pub fn at(mut self, at: SystemTime) -> Self {
        // Saturating: a time past the i64 range is refused by the bound, not wrapped into the past.
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, bounds::millis_i64);
        self.run_at = RunAt::AtMs(ms);
        self
    }

    /// 1 to `weir_broker::bounds::MAX_ATTEMPTS` (checked at enqueue).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    /// While a job holding `key` is pending, delayed or running in the same
    /// queue, enqueueing another returns that job's id instead. The key holds
    /// until the job finishes or dies, or for the broker's `unique_ttl` after
    /// its run time, whichever comes first.
    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique = Some(Unique { key: key.into(), ttl: None });
        self
    }

    /// Like [`unique`](Self::unique) with an explicit time to live.
    pub fn unique_for(mut self, key: impl Into<String>, ttl: Duration) -> Self {
        self.unique = Some(Unique { key: key.into(), ttl: Some(ttl) });
        self
    }

    /// At most `weir_broker::bounds::MAX_TIMEOUT` (checked at enqueue).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The delays between attempts, instead of the type's
    /// [`Job::backoff`](crate::Job::backoff).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// How the payload is encoded (JSON by default; bincode with the
    /// `bincode` feature), instead of the type's `Job::CODEC`.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = Some(codec);
        self
    }

    /// Limit this job with the other jobs of `key`, by the `weir limit
    /// set-key` rule whose pattern matches it (e.g. `discord:guild:42`).
    pub fn rate_key(mut self, key: impl Into<String>) -> Self {
        self.rate_key = Some(key.into());
        self
    }

    /// Use this id instead of a new ULID; enqueueing the same id twice is a
    /// no-op while the first is not done.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}
