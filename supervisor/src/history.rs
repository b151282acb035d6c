//! The decision history in Redis: the newest few hundred decisions, for
//! operators (`weir autoscale --history`), the dashboard, and the cron mode,
//! which decides from the decisions of earlier runs.
use crate::figures::Counters;
use crate::policy::Decision;
use serde::{Deserialize, Serialize};
use weir_broker::{Broker, Result};

/// Decisions kept.
pub const KEEP: u64 = 500;

/// A decision with the counters it was made from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// What was decided, and from which figures.
    #[serde(flatten)]
    pub decision: Decision,
    /// Each queue's counters at the time, in the order of
    /// `decision.queues`: the next tick diffs against them for its rates.
    #[serde(default)]
    pub counters: Vec<Counters>,
    /// Where it was made (the supervisor's host).
    #[serde(default)]
    pub host: String,
    /// `sidecar`, `cron` or `dry-run`.
    #[serde(default)]
    pub mode: String,
}

/// LIST of JSON entries, newest first (docs/REDIS.md).
pub fn key(prefix: &str) -> String {
    weir_broker::keys::autoscale_history(prefix)
}

/// Pushes `entry` as the newest decision and trims the list to [`KEEP`].
pub async fn record(broker: &Broker, entry: &Entry) -> Result<()> {
    let json = serde_json::to_string(entry).expect("an entry always serializes");
    broker.push_capped(&key(broker.prefix()), &json, KEEP).await
}

/// The newest `n` entries, oldest first. Entries that do not parse are skipped.
pub async fn recent(broker: &Broker, n: usize) -> Result<Vec<Entry>> {
    let raw = broker.newest(&key(broker.prefix()), u64::try_from(n).unwrap_or(u64::MAX)).await?;
    let mut out: Vec<Entry> = raw.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    out.reverse();
    Ok(out)
}
