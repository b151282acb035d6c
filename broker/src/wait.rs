//! Waiting for work without polling. Every enqueue, promote, release and
//! resume rings the queue's `wake` doorbell (a list holding at most one
//! token); an idle worker blocks on the doorbells of its queues with BLPOP on a
//! connection of its own, because a blocked connection stalls every command
//! routed to it.
use crate::broker::Broker;
use crate::error::Result;
use crate::name::QueueName;
use fred::error::ErrorKind;
use fred::interfaces::{ClientLike, ListInterface};
use fred::types::Value;
use std::time::Duration;

/// A dedicated blocking connection for one worker.
#[derive(Debug)]
pub struct Waiter {
    client: fred::clients::Client,
    keys: Vec<String>,
    queues: Vec<QueueName>,
}

impl Broker {
    /// Opens a dedicated connection that waits on `queues`' doorbells.
    pub async fn waiter(&self, queues: &[QueueName]) -> Result<Waiter> {
        let client = self.inner.client.clone_new();
        client.init().await?;
        Ok(Waiter { client, keys: queues.iter().map(|q| self.keys(q).wake.clone()).collect(), queues: queues.to_vec() })
    }
}

impl Waiter {
    /// Blocks until one of the queues rings or `timeout` passes (whole
    /// seconds are cheapest for Redis; at least 10 ms). Returns the queue that
    /// rang. A ring only says "look": another worker may already have taken
    /// the job.
    ///
    /// On Redis Cluster the doorbells of different queues live in different
    /// slots, so a multi-queue BLPOP is refused there; see docs/REDIS.md.
    pub async fn wait(&self, timeout: Duration) -> Result<Option<QueueName>> {
        let secs = timeout.as_secs_f64().max(0.01);
        let guard =
            fred::types::config::Options { timeout: Some(timeout + Duration::from_secs(5)), ..Default::default() };
        let reply: std::result::Result<Value, _> =
            self.client.with_options(&guard).blpop(self.keys.clone(), secs).await;
        match reply {
            Ok(Value::Array(pair)) => {
                let key = pair.first().and_then(|k| k.as_str().map(|s| s.to_string())).unwrap_or_default();
                Ok(self.keys.iter().position(|k| *k == key).map(|i| self.queues[i].clone()))
            }
            Ok(_) => Ok(None),
            // An expired blocking pop can come back as a client-side timeout.
            Err(e) if *e.kind() == ErrorKind::Timeout => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn close(self) {
        let _ = self.client.quit().await;
    }
}

impl Broker {
    /// Reserves up to `max` jobs; when none is ready, waits on the doorbells
    /// for up to `idle` and reserves again each time one rings. Returns an
    /// empty batch only after `idle` with nothing to take.
    ///
    /// An idle worker calling this in a loop costs one reserve (one command
    /// per queue) and one BLPOP per `idle` period; pick `idle` so that stays
    /// under the command budget (10 s keeps four queues at 0.5 commands/s).
    pub async fn reserve_or_wait(
        &self,
        selector: &mut crate::select::Selector,
        waiter: &Waiter,
        max: usize,
        lease: Duration,
        idle: Duration,
    ) -> Result<Vec<crate::reserve::Reserved>> {
        let got = self.reserve(selector, max, lease).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        // A limited queue may allow more before `idle` is up: wake then
        // (never sooner), even if no doorbell rings.
        let idle = match selector.limited_until() {
            Some(t) if t > 0 => idle.min(Duration::from_millis((t - self.now_ms()).max(1) as u64)),
            _ => idle,
        };
        let deadline = tokio::time::Instant::now() + idle;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            if waiter.wait(left).await?.is_none() {
                // Timed out: if a limit's time has come, take what it allows.
                return if selector.limited_until().is_some_and(|t| t > 0) {
                    self.reserve(selector, max, lease).await
                } else {
                    Ok(Vec::new())
                };
            }
            // Rang: look again. It may be a stale ring (someone else took the
            // job); then keep waiting out the rest of `idle`.
            let got = self.reserve(selector, max, lease).await?;
            if !got.is_empty() {
                return Ok(got);
            }
        }
    }
}
