//! The Redis side of `weir bench`: a private `redis-server`, what Redis says
//! it spent (commands and CPU), and removing the bench's keys.
use super::Bench;
use anyhow::Context;
use std::collections::HashMap;
use weir::broker::Broker;

/// What Redis has done so far, from one `INFO all`.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Calls per command, including the commands scripts run.
    pub calls: HashMap<String, u64>,
    /// Microseconds Redis spent in each command (a script's include the
    /// commands it ran), from the same `INFO commandstats`.
    pub usec: HashMap<String, u64>,
    /// CPU time of the server process, user + system, seconds.
    pub cpu_s: f64,
    /// The system (kernel: sockets, syscalls) part of `cpu_s`.
    pub cpu_sys_s: f64,
}

/// Commands the bench itself sends to look at Redis; left out of the counts.
const OURS: [&str; 2] = ["info", "hget"];

/// Commands that run a script.
const SCRIPT_CALLS: [&str; 4] = ["evalsha", "eval", "evalsha_ro", "eval_ro"];

impl Usage {
    pub async fn read(broker: &Broker) -> anyhow::Result<Usage> {
        let text: String = broker.info("all").await.context("INFO")?;
        let mut u = Usage::default();
        let (mut user, mut sys) = (0.0, 0.0);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                if let Some((name, stats)) = rest.split_once(":calls=") {
                    let calls = stats.split(',').next().unwrap_or("0").parse().unwrap_or(0);
                    u.calls.insert(name.to_string(), calls);
                    let usec = stats.split(',').find_map(|kv| kv.strip_prefix("usec=")).unwrap_or("0");
                    u.usec.insert(name.to_string(), usec.parse().unwrap_or(0));
                }
            } else if let Some(v) = line.strip_prefix("used_cpu_user:") {
                user = v.trim().parse().unwrap_or(0.0);
            } else if let Some(v) = line.strip_prefix("used_cpu_sys:") {
                sys = v.trim().parse().unwrap_or(0.0);
            }
        }
        u.cpu_s = user + sys;
        u.cpu_sys_s = sys;
        Ok(u)
    }

    /// What Redis did between `before` and `self`, less `ours` commands the
    /// bench sent itself (polls of a counter).
    pub fn since(&self, before: &Usage, ours: u64) -> Spent {
        let delta = |name: &str| {
            self.calls.get(name).copied().unwrap_or(0).saturating_sub(before.calls.get(name).copied().unwrap_or(0))
        };
        let usec = |name: &str| {
            self.usec.get(name).copied().unwrap_or(0).saturating_sub(before.usec.get(name).copied().unwrap_or(0))
        };
        let mut by_command: Vec<(String, u64)> = self
            .calls
            .keys()
            .filter(|name| !OURS.contains(&name.as_str()))
            .map(|name| (name.clone(), delta(name)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let hget = delta("hget").saturating_sub(ours);
        if hget > 0 {
            by_command.push(("hget".into(), hget));
        }
        by_command.sort_by_key(|c| std::cmp::Reverse(c.1));
        Spent {
            all: by_command.iter().map(|(_, n)| n).sum(),
            script_calls: SCRIPT_CALLS.iter().map(|n| delta(n)).sum(),
            script_usec: SCRIPT_CALLS.iter().map(|n| usec(n)).sum(),
            cpu_s: (self.cpu_s - before.cpu_s).max(0.0),
            cpu_sys_s: (self.cpu_sys_s - before.cpu_sys_s).max(0.0),
            by_command,
        }
    }
}

/// Redis's cost of one workload.
#[derive(Debug, Clone)]
pub struct Spent {
    /// Every command Redis ran, including those inside scripts.
    pub all: u64,
    /// Script calls (EVALSHA and the like): each is one command sent by a
    /// client, though several may share one round trip in a pipeline.
    /// Redis 7.0 counts the commands a script runs in its totals too, so
    /// commands sent by clients cannot be told apart otherwise.
    pub script_calls: u64,
    /// Microseconds Redis spent running those scripts, the commands inside
    /// them included (`INFO commandstats`: the time inside commands, without
    /// reading requests and writing replies).
    pub script_usec: u64,
    pub cpu_s: f64,
    pub cpu_sys_s: f64,
    /// Calls per command, most first.
    pub by_command: Vec<(String, u64)>,
}

impl Spent {
    /// `evalsha=2.00,hset=1.00,...`: the top commands per job, for the log.
    pub fn breakdown(&self, jobs: u64) -> String {
        self.by_command
            .iter()
            .take(12)
            .map(|(c, n)| format!("{c}={:.2}", *n as f64 / jobs as f64))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Removes every key under the bench's prefix.
pub async fn purge(bench: &Bench) -> anyhow::Result<()> {
    let broker = bench.broker().await?;
    broker.delete_prefix(&bench.prefix).await?;
    Ok(())
}
