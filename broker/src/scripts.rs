//! Every Redis operation weir runs as a script, declared once: its Lua file
//! (under `lua/`, prefixed with the shared helpers of `lua/_lib.lua`), the
//! queue keys it takes in `KEYS` order and the names of its fixed `ARGV`
//! values. The wrappers build `KEYS` from this declaration, and a test checks
//! each Lua header against it, so the contract cannot drift between the two.
//!
//! Scripts are called by SHA; a `NOSCRIPT` (Redis restarted, failed over or
//! flushed its script cache) loads the script and retries (redis-rs).
use crate::keys::{Key, QueueKeys};

const LIB: &str = include_str!("lua/_lib.lua");

/// One script's contract.
pub(crate) struct Op {
    pub name: &'static str,
    /// The queue keys it touches, as `KEYS[1..]`.
    pub keys: &'static [Key],
    /// Its fixed leading `ARGV` values, by name (repeated groups follow them,
    /// as the Lua header says). Checked against the header by the test below.
    #[cfg_attr(not(test), allow(dead_code))]
    pub argv: &'static [&'static str],
    /// It finishes (or moves) a reserved job, so with `durable_acks` the
    /// broker waits for replicas after it (broker.rs, `eval`).
    pub durable: bool,
    pub source: &'static str,
    pub script: redis::Script,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Op {
    fn new(name: &'static str, keys: &'static [Key], argv: &'static [&'static str], source: &'static str) -> Op {
        Op { name, keys, argv, durable: false, source, script: redis::Script::new(&format!("{LIB}\n{source}")) }
    }

    /// This op finishes reserved jobs (see [`Op::durable`]).
    fn durable(self) -> Op {
        Op { durable: true, ..self }
    }

    /// The whole script as Redis runs it (the shared helpers, then the operation).
    pub fn script_source(&self) -> String {
        format!("{LIB}\n{}", self.source)
    }

    /// `KEYS` for a call on one queue.
    pub fn keys_for<'k>(&self, queue: &'k QueueKeys) -> Vec<&'k str> {
        self.keys.iter().map(|k| queue.get(*k)).collect()
    }
}

use Key::*;

#[derive(Debug)]
pub(crate) struct Scripts {
    pub enqueue: Op,
    pub reserve: Op,
    pub ack: Op,
    pub fail: Op,
    pub extend: Op,
    pub release: Op,
    pub promote: Op,
    pub reclaim: Op,
    pub delete: Op,
    pub run_now: Op,
    pub resume: Op,
    pub snooze: Op,
    pub ring: Op,
    pub dead_retry: Op,
    pub dead_delete: Op,
    pub progress: Op,
    pub tick: Op,
    pub cancel: Op,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            enqueue: Op::new(
                "enqueue",
                &[Pending, Delayed, Jobs, Unique, Wake, Conf],
                &["clock_offset_ms", "default_unique_ttl_ms", "ids_fresh"],
                include_str!("lua/enqueue.lua"),
            ),
            reserve: Op::new(
                "reserve",
                &[Pending, Active, Jobs, Conf, Wake, Dead, Unique, Stats, Delayed, Keyrate],
                &["clock_offset_ms", "count", "lease_ms", "dead_max_len", "dead_max_age_ms", "worker"],
                include_str!("lua/reserve.lua"),
            ),
            ack: Op::new(
                "ack",
                &[Active, Jobs, Unique, Stats, Conf, Pending, Wake, Done, Results],
                &["elapsed_ms_total", "clock_offset_ms", "keep_done_ms", "keep_done_max_len"],
                include_str!("lua/ack.lua"),
            )
            .durable(),
            fail: Op::new(
                "fail",
                &[Active, Delayed, Dead, Jobs, Unique, Stats, Conf, Pending, Wake],
                &[
                    "clock_offset_ms",
                    "id",
                    "attempt",
                    "error",
                    "retry_in_ms",
                    "dead_max_len",
                    "dead_max_age_ms",
                    "attempts_cap",
                ],
                include_str!("lua/fail.lua"),
            )
            .durable(),
            extend: Op::new(
                "extend",
                &[Active, Jobs],
                &["clock_offset_ms", "lease_ms"],
                include_str!("lua/extend.lua"),
            )
            .durable(),
            release: Op::new(
                "release",
                &[Active, Pending, Jobs, Wake],
                &["clock_offset_ms"],
                include_str!("lua/release.lua"),
            )
            .durable(),
            promote: Op::new(
                "promote",
                &[Delayed, Pending, Wake, Keyrate, Conf],
                &["clock_offset_ms", "limit"],
                include_str!("lua/promote.lua"),
            ),
            reclaim: Op::new(
                "reclaim",
                &[Active, Pending, Dead, Jobs, Unique, Stats, Wake, Conf],
                &["clock_offset_ms", "limit", "dead_max_len", "dead_max_age_ms"],
                include_str!("lua/reclaim.lua"),
            ),
            delete: Op::new("delete", &[Pending, Delayed, Dead, Jobs, Unique], &["id"], include_str!("lua/delete.lua")),
            run_now: Op::new(
                "run_now",
                &[Delayed, Pending, Wake],
                &["clock_offset_ms", "id"],
                include_str!("lua/run_now.lua"),
            ),
            resume: Op::new("resume", &[Conf, Pending, Wake], &[], include_str!("lua/resume.lua")),
            snooze: Op::new(
                "snooze",
                &[Active, Delayed, Jobs, Conf, Keyrate, Stats, Pending, Wake],
                &["clock_offset_ms", "id", "attempt", "delay_ms", "hold", "counter"],
                include_str!("lua/snooze.lua"),
            )
            .durable(),
            ring: Op::new("ring", &[Wake], &[], include_str!("lua/ring.lua")),
            dead_retry: Op::new(
                "dead_retry",
                &[Dead, Pending, Jobs, Wake],
                &["clock_offset_ms"],
                include_str!("lua/dead_retry.lua"),
            ),
            dead_delete: Op::new("dead_delete", &[Dead, Jobs, Unique], &[], include_str!("lua/dead_delete.lua")),
            progress: Op::new(
                "progress",
                &[Active, Jobs],
                &["id", "attempt", "progress"],
                include_str!("lua/progress.lua"),
            ),
            tick: Op::new(
                "tick",
                &[Ticks, Pending, Jobs, Wake],
                &["clock_offset_ms", "name", "tick_ms", "id", "envelope", "max_attempts"],
                include_str!("lua/tick.lua"),
            ),
            cancel: Op::new(
                "cancel",
                &[Pending, Delayed, Active, Dead, Jobs, Unique, Stats, Done],
                &["clock_offset_ms", "id"],
                include_str!("lua/cancel.lua"),
            ),
        }
    }

    pub fn all(&self) -> [&Op; 18] {
        [
            &self.enqueue,
            &self.reserve,
            &self.ack,
            &self.fail,
            &self.extend,
            &self.release,
            &self.promote,
            &self.reclaim,
            &self.delete,
            &self.run_now,
            &self.resume,
            &self.snooze,
            &self.ring,
            &self.dead_retry,
            &self.dead_delete,
            &self.progress,
            &self.tick,
            &self.cancel,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `KEYS[i] name` and `ARGV[i] name` pairs of a Lua header (its leading comment lines).
    fn header(source: &str, what: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for line in source.lines().take_while(|l| l.starts_with("--")) {
            let mut words = line.split_whitespace().peekable();
            while let Some(w) = words.next() {
                let Some(rest) = w.strip_prefix(what).and_then(|r| r.strip_prefix('[')) else { continue };
                let Some(Ok(i)) = rest.strip_suffix(']').map(str::parse::<usize>) else { continue };
                if let Some(name) = words.peek() {
                    out.push((i, name.trim_end_matches([',', ':']).to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn lua_headers_match_the_declarations() {
        for op in Scripts::new().all() {
            let keys = header(op.source, "KEYS");
            let declared: Vec<(usize, String)> =
                op.keys.iter().enumerate().map(|(i, k)| (i + 1, k.name().to_string())).collect();
            assert_eq!(keys, declared, "{}.lua: KEYS in its header vs scripts.rs", op.name);
            let argv = header(op.source, "ARGV");
            let declared: Vec<(usize, String)> =
                op.argv.iter().enumerate().map(|(i, a)| (i + 1, a.to_string())).collect();
            assert_eq!(&argv[..declared.len().min(argv.len())], &declared[..], "{}.lua: ARGV", op.name);
            assert!(argv.len() >= declared.len(), "{}.lua: its header names fewer ARGV than declared", op.name);
        }
    }
}
