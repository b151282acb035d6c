//! In-process rate limits (governor): they smooth one worker process's own
//! pace, per queue (`--rate webhooks=20/s`) or per job type
//! (`Worker::builder().rate_limit::<SendEmail>(quota)`). They are per
//! process: N workers run N times as fast. Fleet-wide limits live in Redis
//! (`weir limit`, docs/LIMITS.md).
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use weir_broker::{QueueName, Rate};

/// The in-process limits of one worker. Cheap to clone.
#[derive(Clone, Default)]
pub struct Pace {
    queues: HashMap<QueueName, Arc<DefaultDirectRateLimiter>>,
    kinds: HashMap<String, Arc<DefaultDirectRateLimiter>>,
}

impl fmt::Debug for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pace").field("queues", &self.queues.keys()).field("kinds", &self.kinds.keys()).finish()
    }
}

/// A governor quota for a weir rate such as `20/s` (no burst: an even pace).
pub fn quota(rate: Rate) -> Option<Quota> {
    Quota::with_period(rate.per / rate.count)
}

impl Pace {
    /// Paces the jobs of `queue` in this process to `quota`.
    pub fn queue(&mut self, queue: QueueName, quota: Quota) {
        self.queues.insert(queue, Arc::new(RateLimiter::direct(quota)));
    }

    /// Paces the jobs of `kind` in this process to `quota`.
    pub fn kind(&mut self, kind: impl Into<String>, quota: Quota) {
        self.kinds.insert(kind.into(), Arc::new(RateLimiter::direct(quota)));
    }

    /// No limits at all (the worker then skips the wait).
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.kinds.is_empty()
    }

    /// Waits until both the job's queue and its kind allow one more start.
    pub async fn ready(&self, queue: &QueueName, kind: &str) {
        if let Some(l) = self.queues.get(queue) {
            l.until_ready().await;
        }
        if let Some(l) = self.kinds.get(kind) {
            l.until_ready().await;
        }
    }
}

/// `QUEUE=RATE`, as `--rate` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRate {
    /// The queue paced.
    pub queue: QueueName,
    /// Its pace in this process, e.g. `20/s`.
    pub rate: Rate,
}

impl std::str::FromStr for QueueRate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (q, r) = s.split_once('=').ok_or_else(|| format!("--rate {s:?}: use QUEUE=RATE, such as webhooks=20/s"))?;
        let queue = QueueName::new(q.trim()).map_err(|e| e.to_string())?;
        let rate: Rate = r.trim().parse().map_err(|e: weir_broker::Error| e.to_string())?;
        Ok(QueueRate { queue, rate })
    }
}
