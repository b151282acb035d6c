//! The worker registry: who is working, on what, and how busy. The
//! autoscaler and `weir workers` read it; `weir drain` writes to it.
//!
//! Each worker keeps a JSON record under [`keys::worker`] (STRING with a TTL
//! of a few heartbeats) and its id in the [`keys::workers_set`] index (ZSET
//! id -> last heartbeat ms). A killed worker stops renewing both: its record
//! expires and readers drop its stale index entry, so it disappears within a
//! few heartbeats without anyone cleaning up.
//!
//! One heartbeat is two commands in one round trip: `SET record PX ttl GET`
//! and `ZADD`. The `GET` returns the record as it was, which is how a drain
//! request reaches the worker: [`Broker::request_drain`] rewrites the record
//! with `drain: true` (keeping its TTL), and the worker's next heartbeat reads
//! that back. No extra command per heartbeat.
//!
//! These keys span workers and queues, so no script touches them.
use crate::broker::Broker;
use crate::error::Result;
use crate::keys;
use fred::interfaces::{KeysInterface, SortedSetsInterface};
use fred::types::{Expiration, SetOptions, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One worker's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique per worker process run (a ULID).
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Queues in selection order with their weights (1 each in strict mode).
    pub queues: Vec<(String, u32)>,
    /// `weighted` or `strict`.
    pub mode: String,
    pub concurrency: usize,
    /// ms since the epoch.
    pub started_at: i64,
    /// Jobs finished (acked, failed or buried) since start.
    pub jobs_done: u64,
    /// Jobs running now.
    pub running: usize,
    /// ms since the epoch of the last heartbeat.
    pub heartbeat_at: i64,
    /// Set by [`Broker::request_drain`]; the worker then finishes its jobs and exits.
    #[serde(default)]
    pub drain: bool,
}

impl WorkerInfo {
    /// The queues as `name=weight,...`, the form `weir work --queues` takes.
    pub fn queues_spec(&self) -> String {
        let parts: Vec<String> = self
            .queues
            .iter()
            .map(|(q, w)| if self.mode == "strict" { q.clone() } else { format!("{q}={w}") })
            .collect();
        parts.join(",")
    }
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Someone asked this worker to drain.
    pub drain: bool,
    /// The record had expired or never existed (first heartbeat, or the
    /// worker stalled for longer than the TTL).
    pub was_missing: bool,
}

impl Broker {
    /// Writes the worker's record with a TTL of `ttl` and refreshes its index
    /// entry, in one round trip. Call it every heartbeat, the first time to register.
    pub async fn heartbeat(&self, info: &WorkerInfo, ttl: Duration) -> Result<Heartbeat> {
        let client = self.redis();
        let json = serde_json::to_string(info).expect("a worker record always serializes");
        let p = client.pipeline();
        p.set::<(), _, _>(
            keys::worker(self.prefix(), &info.id),
            json,
            Some(Expiration::PX(ttl.as_millis().max(1) as i64)),
            None,
            true,
        )
        .await?;
        p.zadd::<(), _, _>(
            keys::workers_set(self.prefix()),
            None,
            None,
            false,
            false,
            (info.heartbeat_at as f64, info.id.as_str()),
        )
        .await?;
        let replies: Vec<Value> = p.all().await?;
        let old = replies.into_iter().next().unwrap_or(Value::Null);
        let old = old.as_string();
        let drain = old.as_deref().and_then(|s| serde_json::from_str::<WorkerInfo>(s).ok()).is_some_and(|w| w.drain);
        Ok(Heartbeat { drain, was_missing: old.is_none() })
    }

    /// Removes a worker's record and index entry (a clean exit).
    pub async fn deregister(&self, id: &str) -> Result<()> {
        let p = self.redis().pipeline();
        p.del::<(), _>(keys::worker(self.prefix(), id)).await?;
        p.zrem::<(), _, _>(keys::workers_set(self.prefix()), id).await?;
        let _: Vec<Value> = p.all().await?;
        Ok(())
    }

    /// Every live worker, oldest heartbeat first. `stale_after`: index
    /// entries whose heartbeat is older than this are dropped (the record's
    /// TTL has passed too, or is about to).
    pub async fn workers(&self, stale_after: Duration) -> Result<Vec<WorkerInfo>> {
        let client = self.redis();
        let index = keys::workers_set(self.prefix());
        let cutoff = self.now_ms() - stale_after.as_millis() as i64;
        let _: i64 = client.zremrangebyscore(&index, 0.0, (cutoff - 1) as f64).await?;
        let ids: Vec<String> = client.zrange(&index, 0, -1, None, false, None, false).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let record_keys: Vec<String> = ids.iter().map(|id| keys::worker(self.prefix(), id)).collect();
        let records: Vec<Option<String>> = if record_keys.len() == 1 {
            vec![client.get(record_keys[0].as_str()).await?]
        } else {
            client.mget(record_keys).await?
        };
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (id, record) in ids.into_iter().zip(records) {
            match record.and_then(|r| serde_json::from_str::<WorkerInfo>(&r).ok()) {
                Some(info) => out.push(info),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: i64 = client.zrem(&index, gone).await?;
        }
        Ok(out)
    }

    /// Asks one worker to drain: stop taking jobs, finish those it runs, and
    /// exit, as on SIGTERM. It notices at its next heartbeat. Returns false
    /// when no live worker has this id.
    pub async fn request_drain(&self, id: &str) -> Result<bool> {
        let client = self.redis();
        let key = keys::worker(self.prefix(), id);
        let record: Option<String> = client.get(&key).await?;
        let Some(mut info) = record.and_then(|r| serde_json::from_str::<WorkerInfo>(&r).ok()) else {
            return Ok(false);
        };
        info.drain = true;
        let json = serde_json::to_string(&info).expect("a worker record always serializes");
        // XX: never recreate the record of a worker that expired meanwhile.
        let set: Option<String> =
            client.set(&key, json, Some(Expiration::KEEPTTL), Some(SetOptions::XX), false).await?;
        Ok(set.is_some())
    }
}

/// This machine's host name, as workers register it and supervisors match it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
