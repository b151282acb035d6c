//! Every default of a worker's settings, declared once. [`WorkerConfig`]'s
//! `Default` (what [`Worker::builder`] starts from) and the `weir work` flags
//! ([`WorkerArgs`]) both read these; tests check that the two agree and that
//! docs/WORKER.md's flag table shows the same defaults.
//!
//! Durations are written as flag text (`60s`), the one form clap, the docs
//! and [`weir_broker::parse_duration`] share.
//!
//! [`WorkerConfig`]: crate::WorkerConfig
//! [`Worker::builder`]: crate::Worker::builder
//! [`WorkerArgs`]: crate::WorkerArgs
use std::time::Duration;

/// The queue a worker serves when none is named (weight 1).
pub const QUEUES: &str = "default";
/// Jobs running at once.
pub const CONCURRENCY: usize = 10;
/// Time limit of one attempt, for jobs that set none.
pub const TIMEOUT: &str = "60s";
/// How long running jobs may take after SIGTERM, SIGINT or a drain request.
pub const GRACE: &str = "30s";
/// Retry schedule for jobs that carry none: 1 s doubling up to 1 h, with jitter.
pub const BACKOFF: &str = "exp:1s:1h";
/// What happens to a job whose kind has no handler in this worker: `retry`
/// (put back for another worker, no attempt used) or `dead`.
pub const UNKNOWN_KIND: &str = "retry";
/// With `--unknown-kind retry`: how long after it was due such a job may
/// wait for a worker that knows its kind before it dies.
pub const UNKNOWN_KIND_WINDOW: &str = "1h";
/// Registry heartbeat interval (a record lives three of them).
pub const HEARTBEAT: &str = "10s";
/// Housekeeping interval: promote due jobs, reclaim expired leases.
pub const HOUSEKEEPING: &str = "5s";
/// Reserve calls in flight at once (at concurrency 64 and more).
pub const RESERVE_DEPTH: usize = 2;
/// How long an idle worker blocks on the doorbells per call (not a flag).
pub const IDLE_WAIT: &str = "10s";
/// Most jobs asked for in one reserve call (not a flag).
pub const RESERVE_BATCH: usize = 1000;

/// Distinct job kinds labelled in the metrics before the rest are `kind="other"`.
pub const METRICS_MAX_KINDS: usize = 500;

/// A duration default as a [`Duration`]. The texts above are constants, so
/// this cannot fail at run time once the tests below pass.
pub(crate) fn duration(text: &str) -> Duration {
    weir_broker::parse_duration(text).expect("every duration default parses (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses() {
        for d in [TIMEOUT, GRACE, HEARTBEAT, HOUSEKEEPING, IDLE_WAIT, UNKNOWN_KIND_WINDOW] {
            assert!(!duration(d).is_zero(), "{d}");
        }
        assert!(BACKOFF.parse::<weir_broker::Backoff>().is_ok());
        assert!(UNKNOWN_KIND.parse::<crate::args::UnknownKindFlag>().is_ok());
        assert!(QUEUES.parse::<crate::args::QueueList>().is_ok());
    }
}
