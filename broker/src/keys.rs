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
    /// HASH: the data of every job not yet done, fields `j:<id>` (envelope),
    /// `a:<id>` (attempts), `m:<id>` (max attempts), `u:<id>` (unique key),
    /// `e:<id>` (errors), `r:<id>` (rate key), `p:<id>` (progress), `w:<id>`
    /// (the worker that reserved it), `c:<id>` (cancel requested at); see [`job_field`].
    pub jobs: String,
    /// HASH unique key -> `<expires ms>:<owner id>`.
    pub unique: String,
    /// HASH of queue settings (`paused`).
    pub conf: String,
    /// HASH of counters: processed, failed, dead, cancelled, runtime_ms, ….
    pub stats: String,
    /// LIST used as a doorbell: holds at most one token while a job is ready
    /// and nobody took it; idle workers BLPOP it.
    pub wake: String,
    /// HASH of rate-key state: `tat:<key>` (GCRA theoretical arrival time, ms)
    /// and `hold:<key>` (held by back-pressure until, ms).
    pub keyrate: String,
    /// ZSET id -> done-at ms. State `done`: acked within the retention
    /// (`BrokerConfig::keep_done`); empty when it is 0.
    pub done: String,
    /// HASH id -> the JSON done record (done-at, attempts, result, progress,
    /// errors) of every job in `done`.
    pub results: String,
    /// HASH schedule name -> the last tick (ms) enqueued for it into this
    /// queue: the claim that makes each tick enqueued once (`lua/tick.lua`).
    pub ticks: String,
}

/// A queue's key by role, as scripts declare the keys they take (scripts.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// [`QueueKeys::pending`].
    Pending,
    /// [`QueueKeys::delayed`].
    Delayed,
    /// [`QueueKeys::active`].
    Active,
    /// [`QueueKeys::dead`].
    Dead,
    /// [`QueueKeys::jobs`].
    Jobs,
    /// [`QueueKeys::unique`].
    Unique,
    /// [`QueueKeys::conf`].
    Conf,
    /// [`QueueKeys::stats`].
    Stats,
    /// [`QueueKeys::wake`].
    Wake,
    /// [`QueueKeys::keyrate`].
    Keyrate,
    /// [`QueueKeys::done`].
    Done,
    /// [`QueueKeys::results`].
    Results,
    /// [`QueueKeys::ticks`].
    Ticks,
}

impl Key {
    /// The key's name: the last part of `{prefix}:{queue}:{name}`.
    pub fn name(self) -> &'static str {
        match self {
            Key::Pending => "pending",
            Key::Delayed => "delayed",
            Key::Active => "active",
            Key::Dead => "dead",
            Key::Jobs => "jobs",
            Key::Unique => "unique",
            Key::Conf => "conf",
            Key::Stats => "stats",
            Key::Wake => "wake",
            Key::Keyrate => "keyrate",
            Key::Done => "done",
            Key::Results => "results",
            Key::Ticks => "ticks",
        }
    }
}

impl QueueKeys {
    /// The full key of `key`'s role in this queue (what a script gets in `KEYS`).
    pub fn get(&self, key: Key) -> &str {
        match key {
            Key::Pending => &self.pending,
            Key::Delayed => &self.delayed,
            Key::Active => &self.active,
            Key::Dead => &self.dead,
            Key::Jobs => &self.jobs,
            Key::Unique => &self.unique,
            Key::Conf => &self.conf,
            Key::Stats => &self.stats,
            Key::Wake => &self.wake,
            Key::Keyrate => &self.keyrate,
            Key::Done => &self.done,
            Key::Results => &self.results,
            Key::Ticks => &self.ticks,
        }
    }

    /// The sorted set that holds jobs in `state`.
    pub fn of_state(&self, state: crate::admin::JobState) -> &str {
        use crate::admin::JobState;
        match state {
            JobState::Pending => &self.pending,
            JobState::Delayed => &self.delayed,
            JobState::Active => &self.active,
            JobState::Dead => &self.dead,
            JobState::Done => &self.done,
        }
    }

    /// Every key of `queue` under `prefix`, each `{prefix}:{queue}:{name}` so
    /// they share the queue's cluster slot.
    pub fn new(prefix: &str, queue: &QueueName) -> Self {
        let k = |key: Key| format!("{prefix}:{{{queue}}}:{}", key.name());
        QueueKeys {
            pending: k(Key::Pending),
            delayed: k(Key::Delayed),
            active: k(Key::Active),
            dead: k(Key::Dead),
            jobs: k(Key::Jobs),
            unique: k(Key::Unique),
            conf: k(Key::Conf),
            stats: k(Key::Stats),
            wake: k(Key::Wake),
            keyrate: k(Key::Keyrate),
            done: k(Key::Done),
            results: k(Key::Results),
            ticks: k(Key::Ticks),
        }
    }
}

/// The `jobs` hash field holding one part of a job's data: a one-letter tag,
/// a colon, the id (`j:<id>` envelope, `a:` attempts, `m:` max attempts, `u:`
/// unique key, `e:` errors, `r:` rate key, `p:` progress, `w:` worker, `c:`
/// cancel requested). The tag comes first, so no id can
/// name another job's field. `lua/_lib.lua` builds the same names.
pub fn job_field(tag: char, id: &str) -> String {
    format!("{tag}:{id}")
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

/// HASH schedule name -> the schedule as JSON (`schedules::Schedule`): every
/// periodic job: `{prefix}:cron`. Written by `weir cron` and `Client::schedule`,
/// read by every scheduler; never touched by a script.
pub fn schedules(prefix: &str) -> String {
    format!("{prefix}:cron")
}

/// SET of every known queue: each name ever enqueued to or created with
/// `Broker::create_queue` (`--create`); stats and the dashboard list queues
/// from it: `{prefix}:queues`.
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

/// STRING counter that only the limit probes of `weir bench` touch
/// (probe.rs): `{prefix}:probe`.
pub fn probe(prefix: &str) -> String {
    format!("{prefix}:probe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let q = QueueName::new("critical").unwrap();
        let k = QueueKeys::new("weir", &q);
        assert_eq!(k.pending, "weir:{critical}:pending");
        for key in [
            &k.pending, &k.delayed, &k.active, &k.dead, &k.jobs, &k.unique, &k.conf, &k.stats, &k.wake, &k.keyrate,
            &k.done, &k.results,
        ] {
            assert!(key.contains("{critical}") && key.matches('{').count() == 1, "{key}");
        }
    }
}
