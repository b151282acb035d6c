//! Every Redis key weir uses, in one place. docs/REDIS.md describes each one;
//! change both together.
//!
//! All keys of one queue share the hash tag `{queue}`, so a queue lives in one
//! Redis Cluster slot and each script touches one slot only. Keys that span
//! queues (the queue set, the worker registry) are never touched by a script.
use crate::name::QueueName;

/// The keys of one queue: `{prefix}:{queue}:{name}`.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    /// ZSET id -> ready-at ms. State `pending`: ready to run, FIFO by ready time.
    pub pending: String,
    /// ZSET id -> run-at ms. State `delayed`: scheduled jobs and retries waiting for their time.
    pub delayed: String,
    /// ZSET id -> lease deadline ms. State `active`: reserved by a worker.
    pub active: String,
    /// ZSET id -> died-at ms. State `dead`: attempts spent, not retryable, or damaged.
    pub dead: String,
    /// HASH: the data of every job not yet done, fields `<id>`, `<id>:a`, `<id>:m`, `<id>:u`, `<id>:e`.
    pub jobs: String,
    /// HASH unique key -> `<expires ms>:<owner id>`.
    pub unique: String,
    /// HASH of queue settings (`paused`).
    pub conf: String,
    /// HASH of counters: processed, failed, dead, runtime_ms.
    pub stats: String,
    /// LIST used as a doorbell: holds at most one token while a job is ready
    /// and nobody took it; idle workers BLPOP it.
    pub wake: String,
    /// HASH of rate-key state: `tat:<key>` (GCRA theoretical arrival time, ms)
    /// and `hold:<key>` (held by back-pressure until, ms).
    pub keyrate: String,
}

impl QueueKeys {
    pub fn new(prefix: &str, queue: &QueueName) -> Self {
        let k = |name: &str| format!("{prefix}:{{{queue}}}:{name}");
        QueueKeys {
            pending: k("pending"),
            delayed: k("delayed"),
            active: k("active"),
            dead: k("dead"),
            jobs: k("jobs"),
            unique: k("unique"),
            conf: k("conf"),
            stats: k("stats"),
            wake: k("wake"),
            keyrate: k("keyrate"),
        }
    }
}

/// HASH of rate-key rules, pattern -> `<rate>|<interval ms>|<burst>`: `{prefix}:limits:keys`.
/// Read by reserve's caller and passed to the script (never read inside Lua).
pub fn key_rules(prefix: &str) -> String {
    format!("{prefix}:limits:keys")
}

/// LIST of the autoscaler's decisions as JSON, newest first, at most 500:
/// `{prefix}:autoscale:history`.
pub fn autoscale_history(prefix: &str) -> String {
    format!("{prefix}:autoscale:history")
}

/// SET of every queue name that has ever been enqueued to (stats and the
/// dashboard list queues from it): `{prefix}:queues`.
pub fn queues_set(prefix: &str) -> String {
    format!("{prefix}:queues")
}

/// STRING, set with `SET NX PX` by the worker that runs one housekeeping pass
/// (promote, reclaim) over the queue, so a fleet makes about one pass per
/// interval: `{prefix}:{queue}:lock`. In the queue's hash slot.
pub fn housekeeping_lock(prefix: &str, queue: &QueueName) -> String {
    format!("{prefix}:{{{queue}}}:lock")
}

/// ZSET worker id -> last heartbeat ms: the worker registry's index
/// (`{prefix}:workers`). Readers drop members whose heartbeat is stale.
pub fn workers_set(prefix: &str) -> String {
    format!("{prefix}:workers")
}

/// STRING holding one worker's JSON record, with a TTL of a few heartbeats,
/// so a killed worker's record vanishes on its own: `{prefix}:worker:{id}`.
pub fn worker(prefix: &str, id: &str) -> String {
    format!("{prefix}:worker:{id}")
}

/// STRING holding the token of the process that runs one of the store's
/// fleet-wide services (`name`: `relay`, `archiver`, `history`), set with
/// `SET NX PX`: `{prefix}:lock:{name}`. Never touched by a broker script.
pub fn store_lock(prefix: &str, name: &str) -> String {
    format!("{prefix}:lock:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let q = QueueName::new("critical").unwrap();
        let k = QueueKeys::new("weir", &q);
        assert_eq!(k.pending, "weir:{critical}:pending");
        for key in
            [&k.pending, &k.delayed, &k.active, &k.dead, &k.jobs, &k.unique, &k.conf, &k.stats, &k.wake, &k.keyrate]
        {
            assert_eq!(fred::util::redis_keyslot(key.as_bytes()), fred::util::redis_keyslot(b"{critical}"));
        }
    }
}
