//! The validated worker configuration. Raw flags ([`WorkerArgs`](crate::WorkerArgs))
//! and builder calls both end up here; each field's default is documented
//! where it is declared.
use crate::error::ConfigError;
use crate::unknown::UnknownKind;
use std::collections::HashMap;
use std::time::Duration;
use weir_broker::{Backoff, QueueName, Selector, bounds};

/// How queues are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queues {
    /// Smooth weighted round-robin over the queues with work.
    Weighted(Vec<(QueueName, u32)>),
    /// Always the first queue, in this order, that has work.
    Strict(Vec<QueueName>),
}

impl Queues {
    /// The broker's selector for these queues, which picks the queue of
    /// each reserve.
    pub fn selector(&self) -> weir_broker::Result<Selector> {
        match self {
            Queues::Weighted(q) => Selector::weighted(q.iter().cloned()),
            Queues::Strict(q) => Selector::strict(q.iter().cloned()),
        }
    }

    /// The queues' names, in the order given.
    pub fn names(&self) -> Vec<QueueName> {
        match self {
            Queues::Weighted(q) => q.iter().map(|(n, _)| n.clone()).collect(),
            Queues::Strict(q) => q.clone(),
        }
    }
}

/// A worker's settings, checked by `validate` before it runs; built by
/// [`WorkerBuilder`](crate::WorkerBuilder) or from [`WorkerArgs`](crate::WorkerArgs).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Default: the queue `default`, weight 1.
    pub queues: Queues,
    /// Jobs running at once, 1 to `bounds::MAX_CONCURRENCY`. Default 10.
    pub concurrency: usize,
    /// Exit (code 10) after this many jobs finished. Default: no limit.
    pub max_jobs: Option<u64>,
    /// Exit (code 11) after running this long. Default: no limit.
    pub max_time: Option<Duration>,
    /// Exit (code 12) when resident memory passes this many MiB after a job
    /// ends; at most `bounds::MAX_MEMORY_MB`. Default: no limit.
    pub memory_mb: Option<u64>,
    /// Per-attempt time limit for jobs that set none; at most `bounds::MAX_TIMEOUT`. Default 60 s.
    pub timeout: Duration,
    /// Upper bound on attempts for every job this worker runs: a failed
    /// attempt number `tries` or higher is not retried, whatever the job's own
    /// `max_attempts` says (the lower of the two wins). Default: none.
    pub tries: Option<u32>,
    /// On SIGTERM, SIGINT or a drain request, how long running jobs may take
    /// before they are released back to their queue. Default 30 s.
    pub grace: Duration,
    /// Retry schedule for jobs that carry none and whose kind has none. Default `exp:1s:1h`.
    pub backoff: Backoff,
    /// Retry schedules per job kind (for jobs that carry none). Default: empty.
    pub kind_backoff: HashMap<String, Backoff>,
    /// How often the worker renews its registry record (the record lives
    /// three intervals) and looks for a drain request. Default 10 s.
    pub heartbeat: Duration,
    /// How often the fleet promotes due jobs and reclaims expired leases,
    /// per queue (one worker does each pass). Default 5 s.
    pub housekeeping: Duration,
    /// How long an idle worker blocks on the queues' doorbells per call. Default 10 s.
    pub idle_wait: Duration,
    /// Most jobs asked for in one reserve call. Default 1000.
    pub reserve_batch: usize,
    /// Reserve calls in flight at once when concurrency is 64 or more (each
    /// asks for at most concurrency / depth jobs). Default 2.
    pub reserve_depth: usize,
    /// In-process rate limits, per queue and per job kind. Default: none.
    pub pace: crate::pace::Pace,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`. Default: none (no
    /// metrics are recorded at all).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Distinct job kinds labelled in the metrics; the rest share
    /// `kind="other"`. 1 to `bounds::MAX_METRICS_KINDS`. Default 500.
    pub metrics_max_kinds: usize,
    /// Run a scheduler (the ticks of periodic jobs, docs/CRON.md) in this
    /// worker. Default: on.
    pub scheduler: bool,
    /// Jobs whose kind has no handler here: put back for up to 1 h after
    /// they were due ([`UnknownKind::Retry`]), or dead at once. Default: retry, 1 h.
    pub unknown_kind: UnknownKind,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        // Every value from crate::defaults, the one place they are declared.
        use crate::defaults as d;
        WorkerConfig {
            queues: Queues::Weighted(vec![(QueueName::new(d::QUEUES).expect("valid name"), 1)]),
            concurrency: d::CONCURRENCY,
            max_jobs: None,
            max_time: None,
            memory_mb: None,
            timeout: d::duration(d::TIMEOUT),
            tries: None,
            grace: d::duration(d::GRACE),
            backoff: d::BACKOFF.parse().expect("the default backoff parses (tested)"),
            kind_backoff: HashMap::new(),
            heartbeat: d::duration(d::HEARTBEAT),
            housekeeping: d::duration(d::HOUSEKEEPING),
            idle_wait: d::duration(d::IDLE_WAIT),
            reserve_batch: d::RESERVE_BATCH,
            reserve_depth: d::RESERVE_DEPTH,
            pace: crate::pace::Pace::default(),
            metrics_addr: None,
            metrics_max_kinds: d::METRICS_MAX_KINDS,
            scheduler: true,
            unknown_kind: UnknownKind::Retry { window: d::duration(d::UNKNOWN_KIND_WINDOW) },
        }
    }
}

/// The lease for an attempt with this timeout: always longer than the
/// timeout, so a job is stopped by its own worker before anyone can reclaim
/// it; it is extended every third of its length while the job runs.
pub fn lease_for(timeout: Duration) -> Duration {
    let margin = (timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    timeout + margin
}

impl WorkerConfig {
    /// Checks every setting: the one place they are validated.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let too_small = |setting, min| Err(ConfigError::TooSmall { setting, min });
        if self.concurrency == 0 {
            return too_small("concurrency", "1");
        }
        // The slots are one semaphore, which refuses more than MAX_PERMITS.
        bounds::concurrency("concurrency", self.concurrency)?;
        if let Some(mb) = self.memory_mb {
            // Compared in bytes after every job: MB << 20 must not wrap.
            bounds::memory_mb("memory", mb)?;
        }
        if self.timeout.is_zero() {
            return too_small("timeout", "1ms");
        }
        bounds::timeout("timeout", self.timeout)?;
        if self.tries == Some(0) {
            return too_small("tries", "1");
        }
        if let Some(t) = self.tries {
            bounds::max_attempts("tries", t)?;
        }
        if let Some(t) = self.max_time {
            // A lifetime longer than any delay weir accepts means "no limit": say so instead.
            bounds::delay("max time", t)?;
        }
        if let UnknownKind::Retry { window } = self.unknown_kind {
            bounds::delay("unknown kind window", window)?;
        }
        if self.max_jobs == Some(0) {
            return too_small("max jobs", "1");
        }
        for (what, interval, d) in [
            ("heartbeat", "heartbeat interval", self.heartbeat),
            ("housekeeping", "housekeeping interval", self.housekeeping),
            ("idle wait", "idle wait interval", self.idle_wait),
        ] {
            if d < Duration::from_millis(10) {
                return too_small(interval, "10ms");
            }
            bounds::interval(what, d)?;
        }
        bounds::interval("grace", self.grace)?;
        if self.reserve_batch == 0 {
            return too_small("reserve batch", "1");
        }
        if self.reserve_depth == 0 {
            return too_small("reserve depth", "1");
        }
        if self.metrics_max_kinds == 0 {
            return too_small("metrics max kinds", "1");
        }
        bounds::metrics_kinds("metrics max kinds", self.metrics_max_kinds)?;
        self.queues.selector()?;
        Ok(())
    }

    /// The schedule for a job: its own, else its kind's, else the default.
    pub(crate) fn backoff_for<'a>(&'a self, kind: &str, own: Option<&'a Backoff>) -> &'a Backoff {
        own.or_else(|| self.kind_backoff.get(kind)).unwrap_or(&self.backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_is_always_longer_than_the_timeout() {
        for ms in [1, 10, 999, 1000, 30_000, 3_600_000] {
            let t = Duration::from_millis(ms);
            assert!(lease_for(t) >= t + Duration::from_secs(1), "{ms}");
        }
    }
}
