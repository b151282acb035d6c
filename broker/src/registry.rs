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
//! that back. No extra command per heartbeat. A cancel of a job the worker
//! runs reaches it the same way ([`Broker::notify_cancel`] adds the job to
//! the record's `cancel` list); the worker then renews that job's lease at
//! once, and the renewal's reply (`lua/extend.lua`) is what stops the job.
//!
//! These keys span workers and queues, so no script touches them, and no
//! command names two of them (on Redis Cluster they live in different slots:
//! records are read with one GET each, sent together).
use crate::broker::Broker;
use crate::error::Result;
use crate::keys;
use redis::Value;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Index entries whose heartbeat is older than this are dropped: longer than
/// a record's TTL (three heartbeats at the default 10 s), so the record's TTL
/// alone decides who is live. The one rule `weir workers`, the autoscaler and
/// the demo share.
pub const STALE_AFTER: Duration = Duration::from_secs(40);

/// One worker's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique per worker process run (a ULID).
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// Queues in selection order with their weights (1 each in strict mode).
    pub queues: Vec<(String, u32)>,
    /// `weighted` or `strict`.
    pub mode: String,
    /// Jobs it runs at once.
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
    /// Jobs (queue, id) whose cancel was requested since the last heartbeat,
    /// set by [`Broker::notify_cancel`]; the worker's next heartbeat reads
    /// them back and writes its record without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancel: Vec<(String, String)>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// Someone asked this worker to drain.
    pub drain: bool,
    /// Jobs (queue, id) someone asked to cancel since the last heartbeat.
    pub cancel: Vec<(String, String)>,
    /// The record had expired or never existed (first heartbeat, or the
    /// worker stalled for longer than the TTL).
    pub was_missing: bool,
}

impl Broker {
    /// Writes the worker's record with a TTL of `ttl` and refreshes its index
    /// entry, in one round trip. Call it every heartbeat, the first time to register.
    pub async fn heartbeat(&self, info: &WorkerInfo, ttl: Duration) -> Result<Heartbeat> {
        let json = serde_json::to_string(info).expect("a worker record always serializes");
        // Two keys in two slots: two commands, sent together.
        let record = redis::cmd("SET")
            .arg(keys::worker(self.prefix(), &info.id))
            .arg(json)
            .arg("PX")
            .arg(crate::broker::ms(ttl).max(1))
            .arg("GET")
            .to_owned();
        let index =
            redis::cmd("ZADD").arg(keys::workers_set(self.prefix())).arg(info.heartbeat_at).arg(&info.id).to_owned();
        let (old, indexed) = tokio::join!(self.query::<Option<String>>(&record), self.query::<Value>(&index));
        indexed?;
        let old = old?;
        let was_missing = old.is_none();
        let old = old.as_deref().and_then(|s| serde_json::from_str::<WorkerInfo>(s).ok());
        let (drain, cancel) = old.map_or((false, Vec::new()), |w| (w.drain, w.cancel));
        Ok(Heartbeat { drain, cancel, was_missing })
    }

    /// Removes a worker's record and index entry (a clean exit).
    pub async fn deregister(&self, id: &str) -> Result<()> {
        let record = redis::cmd("DEL").arg(keys::worker(self.prefix(), id)).to_owned();
        let index = redis::cmd("ZREM").arg(keys::workers_set(self.prefix())).arg(id).to_owned();
        let (a, b) = tokio::join!(self.query::<Value>(&record), self.query::<Value>(&index));
        a?;
        b?;
        Ok(())
    }

    /// Every live worker, oldest heartbeat first. `stale_after`: index
    /// entries whose heartbeat is older than this are dropped (the record's
    /// TTL has passed too, or is about to).
    pub async fn workers(&self, stale_after: Duration) -> Result<Vec<WorkerInfo>> {
        let index = keys::workers_set(self.prefix());
        let cutoff = self.now_ms() - crate::broker::ms(stale_after);
        self.query::<i64>(redis::cmd("ZREMRANGEBYSCORE").arg(&index).arg(0).arg(cutoff - 1)).await?;
        let ids: Vec<String> = self.query(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1)).await?;
        let reads: Vec<redis::Cmd> =
            ids.iter().map(|id| redis::cmd("GET").arg(keys::worker(self.prefix(), id)).to_owned()).collect();
        let records = futures::future::join_all(reads.iter().map(|c| self.query::<Option<String>>(c))).await;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (id, record) in ids.into_iter().zip(records) {
            match record?.and_then(|r| serde_json::from_str::<WorkerInfo>(&r).ok()) {
                Some(info) => out.push(info),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            self.query::<i64>(redis::cmd("ZREM").arg(&index).arg(&gone)).await?;
        }
        Ok(out)
    }

    /// How many workers heartbeat within `stale_after`: one `ZCOUNT` of the
    /// index, whatever the fleet's size; nothing is removed (the exporter's read).
    pub async fn live_workers(&self, stale_after: Duration) -> Result<u64> {
        let cutoff = self.now_ms() - crate::broker::ms(stale_after);
        let n: i64 =
            self.query(redis::cmd("ZCOUNT").arg(keys::workers_set(self.prefix())).arg(cutoff).arg("+inf")).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Asks one worker to drain: stop taking jobs, finish those it runs, and
    /// exit, as on SIGTERM. It notices at its next heartbeat. Returns false
    /// when no live worker has this id.
    pub async fn request_drain(&self, id: &str) -> Result<bool> {
        self.edit_record(id, |info| info.drain = true).await
    }

    /// Tells worker `id` that a cancel of its job `job` in `queue` was
    /// requested, so it stops the job within a heartbeat rather than at its
    /// next lease renewal. Returns false when no live worker has this id.
    /// Two notices written to one worker at the same instant may keep only
    /// one; the other job is then stopped at its next renewal (a third of its
    /// lease), as the request itself is in the job's data.
    pub async fn notify_cancel(&self, id: &str, queue: &str, job: &str) -> Result<bool> {
        self.edit_record(id, |info| info.cancel.push((queue.to_string(), job.to_string()))).await
    }

    /// Rewrites a live worker's record with `edit` applied, keeping its TTL.
    async fn edit_record(&self, id: &str, edit: impl FnOnce(&mut WorkerInfo)) -> Result<bool> {
        let key = keys::worker(self.prefix(), id);
        let record: Option<String> = self.query(redis::cmd("GET").arg(&key)).await?;
        let Some(mut info) = record.and_then(|r| serde_json::from_str::<WorkerInfo>(&r).ok()) else {
            return Ok(false);
        };
        edit(&mut info);
        let json = serde_json::to_string(&info).expect("a worker record always serializes");
        // XX: never recreate the record of a worker that expired meanwhile.
        let set: Option<String> = self.query(redis::cmd("SET").arg(&key).arg(json).arg("KEEPTTL").arg("XX")).await?;
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
