//! One tick's figures: per-queue depth and work rate from the broker's
//! counters, and the live workers from the registry.
use crate::policy::{Decision, QueueFigures};
use std::time::Duration;
use weir_broker::registry::WorkerInfo;
use weir_broker::{Broker, QueueName, Result};

/// The per-queue counters a later tick diffs against, carried in the history.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Jobs the queue has finished since it was created.
    pub processed: u64,
    /// Their summed run time, ms: with `processed`, the average run time.
    pub runtime_ms: u64,
}

/// Reads the figures of `queues`. `previous` is the last decision (with its
/// counters), for the processed rate and average run time over the window
/// since; without it, the lifetime average run time is used.
pub async fn read(
    broker: &Broker,
    queues: &[QueueName],
    tick: Duration,
    previous: Option<&(Decision, Vec<Counters>)>,
) -> Result<(Vec<QueueFigures>, Vec<Counters>)> {
    let now = broker.now_ms();
    let mut figures = Vec::with_capacity(queues.len());
    let mut counters = Vec::with_capacity(queues.len());
    for (i, q) in queues.iter().enumerate() {
        let s = broker.stats(q).await?;
        let due_soon = broker.count_due(q, tick).await?;
        let c = Counters { processed: s.processed, runtime_ms: s.runtime_ms };
        let before = previous.and_then(|(d, cs)| cs.get(i).map(|c| (d.at, c.clone())));
        let (rate, avg) = match before {
            Some((at, b)) if c.processed > b.processed && now > at => {
                let done = (c.processed - b.processed) as f64;
                let secs = (now - at) as f64 / 1000.0;
                (done / secs, Some(c.runtime_ms.saturating_sub(b.runtime_ms) as f64 / done))
            }
            _ => (0.0, (s.processed > 0).then(|| s.runtime_ms as f64 / s.processed as f64)),
        };
        figures.push(QueueFigures {
            queue: q.to_string(),
            pending: s.pending,
            due_soon,
            active: s.active,
            paused: s.paused,
            rate_per_s: rate,
            avg_run_ms: avg,
            oldest_pending_ms: s.oldest_pending_ms,
        });
        counters.push(c);
    }
    Ok((figures, counters))
}

/// Live workers that serve any of `queues` and are not draining.
pub fn pool_workers(all: Vec<WorkerInfo>, queues: &[QueueName]) -> Vec<WorkerInfo> {
    all.into_iter()
        .filter(|w| !w.drain && w.queues.iter().any(|(q, _)| queues.iter().any(|p| p.as_str() == q)))
        .collect()
}
