//! Fleet-wide limits, enforced inside the queue's own scripts so they hold
//! however many workers run:
//! - a queue rate limit (GCRA: `rate` with `burst`), kept in the queue's `conf`;
//! - rate-key rules (`discord:*` at 5/s): jobs enqueued with a rate key are
//!   limited with the other jobs of that key in the same queue; the rules are
//!   global (`P:limits:keys`) and passed to the reserve script by the caller;
//! - a concurrency cap: at most N active jobs of a queue;
//! - holds from back-pressure (see [`Broker::snooze`]).
use crate::broker::Broker;
use crate::broker::{Arg, ms};
use crate::duration::parse_duration;
use crate::error::{Error, Result};
use crate::keys::key_rules;
use crate::name::QueueName;
use crate::reply;
use crate::reserve::Lease;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// A rate such as `50/s`, `5/m`, `100/h` or `10/500ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Jobs allowed per `per` (at least 1).
    pub count: u32,
    /// The window the count applies to.
    pub per: Duration,
}

impl Rate {
    /// Milliseconds between two jobs at this rate.
    pub fn interval_ms(&self) -> f64 {
        self.per.as_secs_f64() * 1000.0 / self.count as f64
    }
}

impl std::str::FromStr for Rate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Rate> {
        let bad = |why: &str| Error::InvalidLimit(format!("rate {s:?}: {why}"));
        let (n, per) = s.split_once('/').ok_or_else(|| bad("use COUNT/PERIOD, such as 50/s, 5/m or 10/500ms"))?;
        let count: u32 = n.trim().parse().map_err(|_| bad("the count must be a whole number"))?;
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        let per = per.trim();
        let per = match per {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => parse_duration(other).map_err(|_| bad("unknown period"))?,
        };
        if per.is_zero() {
            return Err(bad("the period must be longer than zero"));
        }
        // Rates print in whole milliseconds; a finer period would not read back the same.
        if per.subsec_nanos() % 1_000_000 != 0 {
            return Err(bad("the period must be a whole number of milliseconds"));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per.as_millis() {
            1000 => write!(f, "{}/s", self.count),
            60_000 => write!(f, "{}/m", self.count),
            3_600_000 => write!(f, "{}/h", self.count),
            _ => write!(f, "{}/{}", self.count, crate::duration::format_duration(self.per)),
        }
    }
}

/// A queue's limits, as stored in its `conf` hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueLimits {
    /// e.g. "50/s"
    pub rate: Option<String>,
    /// Jobs allowed at once above the rate (`--burst`); None: the default.
    pub burst: Option<u32>,
    /// Jobs of the queue running at once, fleet-wide; None: no cap.
    pub concurrency: Option<u32>,
    /// Held by back-pressure until this time (ms since the epoch).
    pub held_until: Option<i64>,
}

/// A rule for rate keys that match `pattern` (`*` matches any run of characters).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRule {
    /// The `*` pattern rate keys are matched against.
    pub pattern: String,
    /// The rate, as text (`50/s`).
    pub rate: String,
    /// Jobs allowed at once above the rate.
    pub burst: u32,
}

pub use crate::model::Hold;

/// How long the key rules a worker holds stay fresh.
const RULES_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct RulesCache {
    fetched: Option<Instant>,
    /// (Lua pattern, interval ms, burst), longest pattern first.
    rules: Vec<(String, f64, u32)>,
}

/// `discord:*` as an anchored Lua pattern: `^discord:.*$`.
pub fn glob_to_lua(glob: &str) -> String {
    let mut out = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '^' | '$' | '(' | ')' | '%' | '.' | '[' | ']' | '+' | '-' => {
                out.push('%');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

fn check_burst(burst: u32) -> Result<()> {
    if burst == 0 {
        return Err(Error::InvalidLimit("burst must be at least 1".into()));
    }
    Ok(())
}

impl Broker {
    /// Limits `queue` to `rate` across the fleet, allowing `burst` jobs at once.
    pub async fn set_rate_limit(&self, queue: &QueueName, rate: Rate, burst: u32) -> Result<()> {
        check_burst(burst)?;
        let conf = &self.keys(queue).conf;
        let set = redis::cmd("HSET")
            .arg(conf)
            .arg("rate")
            .arg(rate.to_string())
            .arg("rate_interval")
            .arg(format!("{}", rate.interval_ms()))
            .arg("rate_burst")
            .arg(burst)
            .to_owned();
        self.query(&set).await
    }

    /// At most `n` jobs of `queue` active at once across the fleet.
    pub async fn set_concurrency(&self, queue: &QueueName, n: u32) -> Result<()> {
        if n == 0 {
            return Err(Error::InvalidLimit("concurrency must be at least 1".into()));
        }
        self.query(redis::cmd("HSET").arg(&self.keys(queue).conf).arg("concurrency").arg(n)).await
    }

    /// Removes every limit and hold of `queue`; true when it had any.
    pub async fn clear_limits(&self, queue: &QueueName) -> Result<bool> {
        let fields = vec!["rate", "rate_interval", "rate_burst", "rate_tat", "concurrency", "held_until"];
        let removed: u64 = self.query(redis::cmd("HDEL").arg(&self.keys(queue).conf).arg(&fields)).await?;
        Ok(removed > 0)
    }

    /// The queue's stored limits and a hold still in force (`weir limit list`).
    pub async fn limits(&self, queue: &QueueName) -> Result<QueueLimits> {
        let fields = vec!["rate", "rate_burst", "concurrency", "held_until"];
        let v: Vec<Option<String>> = self.query(redis::cmd("HMGET").arg(&self.keys(queue).conf).arg(&fields)).await?;
        let num = |i: usize| v.get(i).cloned().flatten().and_then(|s| s.parse().ok());
        Ok(QueueLimits {
            rate: v.first().cloned().flatten(),
            burst: num(1),
            concurrency: num(2),
            held_until: v.get(3).cloned().flatten().and_then(|s| s.parse().ok()).filter(|t| *t > self.now_ms()),
        })
    }

    /// Limits jobs whose rate key matches `pattern` (per key, per queue).
    pub async fn set_key_rule(&self, pattern: &str, rate: Rate, burst: u32) -> Result<()> {
        check_burst(burst)?;
        if pattern.is_empty() || pattern.len() > 256 {
            return Err(Error::InvalidLimit("a key pattern must be 1-256 bytes".into()));
        }
        let value = format!("{}|{}|{}", rate, rate.interval_ms(), burst);
        self.query::<()>(redis::cmd("HSET").arg(key_rules(self.prefix())).arg(pattern).arg(value)).await?;
        self.inner.rules.lock().expect("rules lock").fetched = None;
        Ok(())
    }

    /// Removes the rule for `pattern`; false when there was none.
    pub async fn clear_key_rule(&self, pattern: &str) -> Result<bool> {
        let n: i64 = self.query(redis::cmd("HDEL").arg(key_rules(self.prefix())).arg(pattern)).await?;
        self.inner.rules.lock().expect("rules lock").fetched = None;
        Ok(n == 1)
    }

    /// Every key rule, the longest (most specific) pattern first: the
    /// order a rate key is matched in.
    pub async fn key_rules(&self) -> Result<Vec<KeyRule>> {
        let all: HashMap<String, String> = self.query(redis::cmd("HGETALL").arg(key_rules(self.prefix()))).await?;
        let mut rules: Vec<KeyRule> = all
            .into_iter()
            .filter_map(|(pattern, v)| {
                let mut parts = v.split('|');
                let rate = parts.next()?.to_string();
                let _interval = parts.next()?;
                let burst = parts.next()?.parse().ok()?;
                Some(KeyRule { pattern, rate, burst })
            })
            .collect();
        rules.sort_by(|a, b| b.pattern.len().cmp(&a.pattern.len()).then(a.pattern.cmp(&b.pattern)));
        Ok(rules)
    }

    /// The key rules as reserve passes them to its script: refreshed every
    /// 2 s, so a worker costs Redis one read per 2 s of activity at most.
    pub(crate) async fn rule_args(&self) -> Result<Vec<Arg>> {
        let stale = {
            let cache = self.inner.rules.lock().expect("rules lock");
            cache.fetched.is_none_or(|t| t.elapsed() > RULES_TTL)
        };
        // The rules live in one global key, on one node of a cluster: when
        // that node is down, reserve goes on with the rules it last read
        // rather than stopping every queue.
        let fetched = if stale {
            match self.query::<HashMap<String, String>>(redis::cmd("HGETALL").arg(key_rules(self.prefix()))).await {
                Ok(all) => Some(all),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the rate-key rules; using the last ones read");
                    self.inner.rules.lock().expect("rules lock").fetched = Some(Instant::now());
                    None
                }
            }
        } else {
            None
        };
        if let Some(all) = fetched {
            let mut rules: Vec<(String, f64, u32)> = all
                .into_iter()
                .filter_map(|(pattern, v)| {
                    let mut parts = v.split('|').skip(1);
                    Some((pattern, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
                })
                .collect();
            // The most specific (longest) pattern wins.
            rules.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
            let mut cache = self.inner.rules.lock().expect("rules lock");
            cache.rules = rules.into_iter().map(|(p, iv, b)| (glob_to_lua(&p), iv, b)).collect();
            cache.fetched = Some(Instant::now());
        }
        let cache = self.inner.rules.lock().expect("rules lock");
        let mut args = vec![Arg::from(cache.rules.len() as u64)];
        for (pattern, interval, burst) in &cache.rules {
            args.push(pattern.as_str().into());
            args.push(format!("{interval}").into());
            args.push((*burst).into());
        }
        Ok(args)
    }

    /// Back-pressure from a handler ("rate limited, retry after D"): the job
    /// goes back to run `after` from now (by Redis's clock) without using an
    /// attempt, and `hold` holds its queue or its rate key until then across
    /// the fleet. Returns false when the lease was already lost.
    pub async fn snooze(&self, lease: &Lease, after: Duration, hold: Hold) -> Result<bool> {
        self.snooze_counted(lease, after, hold, "snoozed").await
    }

    /// A job this worker has no handler for: it goes back to run `after`
    /// from now without using an attempt, for another worker (or this one
    /// after a deploy) to take, counted in the queue's `unknown_kind`.
    /// Returns false when the lease was already lost.
    pub async fn put_back_unknown_kind(&self, lease: &Lease, after: Duration) -> Result<bool> {
        self.snooze_counted(lease, after, Hold::Job, "unknown_kind").await
    }

    async fn snooze_counted(&self, lease: &Lease, after: Duration, hold: Hold, counter: &str) -> Result<bool> {
        let hold = match hold {
            Hold::Queue => "queue",
            Hold::Key => "key",
            Hold::Job => "none",
        };
        let args: Vec<Arg> = vec![
            self.clock_arg(),
            lease.id.as_str().into(),
            lease.attempt.into(),
            ms(after).into(),
            hold.into(),
            counter.into(),
        ];
        Ok(reply::int("snooze", &self.eval(&self.inner.scripts.snooze, &lease.queue, args).await?)? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let r: Rate = "50/s".parse().unwrap();
        assert_eq!(r.interval_ms(), 20.0);
        assert_eq!(r.to_string(), "50/s");
        assert_eq!("5/m".parse::<Rate>().unwrap().interval_ms(), 12_000.0);
        assert_eq!("10/500ms".parse::<Rate>().unwrap().to_string(), "10/500ms");
        // "2/2.2222" was found by the rate fuzzer: it printed as 2/2222ms.
        for bad in ["0/s", "x/s", "5", "5/fortnight", "5/0s", "-1/s", "", "2/2.2222", "1/1.5ms"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert_eq!(glob_to_lua("discord:*"), "^discord:.*$");
        assert_eq!(glob_to_lua("a.b-c"), "^a%.b%-c$");
    }
}
