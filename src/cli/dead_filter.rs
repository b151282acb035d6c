//! Which dead jobs a command means: the filter flags `weir dead` (the dead
//! sets in Redis) and `weir failed` (the archive in the store) share, and
//! how they become each side's filter, so both read the flags the same way.
use clap::Args;
use std::time::Duration;
use weir::QueueName;
use weir::broker::bounds;

/// Which dead jobs: every filter given must match.
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// Only this queue (default: every queue).
    #[arg(long)]
    pub queue: Option<QueueName>,
    /// Only jobs of this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only jobs with this text in the error of any attempt (case ignored).
    #[arg(long)]
    pub error: Option<String>,
    /// Only jobs that died within this long, such as 1h or 7d.
    #[arg(long, value_parser = super::parse_duration_flag)]
    pub since: Option<Duration>,
    /// Only jobs that died longer ago than this, such as 10m.
    #[arg(long, value_parser = super::parse_duration_flag)]
    pub older_than: Option<Duration>,
}

/// The flag names of [`Filters`], for `conflicts_with_all` where a job is
/// named by id instead.
pub const FILTER_FLAGS: [&str; 5] = ["queue", "kind", "error", "since", "older_than"];

impl Filters {
    /// Whether any filter other than the queue is given.
    pub fn any(&self) -> bool {
        self.kind.is_some() || self.error.is_some() || self.since.is_some() || self.older_than.is_some()
    }

    /// The dead sets' filter, with times measured back from `now_ms` (the
    /// clock of what holds the jobs: Redis's for the dead sets).
    pub fn for_redis(&self, now_ms: i64) -> weir::broker::DeadFilter {
        weir::broker::DeadFilter {
            kind: self.kind.clone(),
            error: self.error.clone(),
            since_ms: self.since.map(|d| bounds::ms_before(now_ms, d)),
            until_ms: self.older_than.map(|d| bounds::ms_before(now_ms, d)),
        }
    }

    /// The archive's filter, at most `limit` jobs, the queue included.
    pub fn for_store(&self, now_ms: i64, limit: u32) -> weir_store::DeadFilter {
        let redis = self.for_redis(now_ms);
        weir_store::DeadFilter {
            queue: self.queue.as_ref().map(ToString::to_string),
            kind: redis.kind,
            since_ms: redis.since_ms,
            until_ms: redis.until_ms,
            error: redis.error,
            limit,
        }
    }
}
