//! `weir autoscale` flags, as a clap struct the binary flattens.
use crate::policy::Policy;
use clap::Args;
use std::time::Duration;
use weir_worker::args::QueueList;

fn duration(s: &str) -> Result<Duration, String> {
    weir_broker::parse_duration(s).map_err(|e| e.to_string())
}

/// The `weir autoscale` flags (docs/AUTOSCALE.md); [`AutoscaleArgs::policy`]
/// turns them into a checked [`Policy`].
#[derive(Debug, Clone, Args)]
pub struct AutoscaleArgs {
    /// The pool's queues, as for `weir work`: critical=100,default=10.
    #[arg(long)]
    pub queues: Option<QueueList>,
    /// Workers take the queues in strict order (passed to the default worker command).
    #[arg(long)]
    pub strict: bool,
    /// Fewest workers (0: none while there is no work).
    #[arg(long, default_value_t = 1)]
    pub min: u32,
    /// Most workers.
    #[arg(long, default_value_t = 8)]
    pub max: u32,
    /// Most workers added per tick (default: as many as needed).
    #[arg(long)]
    pub max_shift: Option<u32>,
    /// Target time to clear the backlog.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub clear_within: Duration,
    /// Time without need before each one-worker step down.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub cooldown: Duration,
    /// Time between decisions in sidecar mode (and the look-ahead for delayed jobs).
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub tick: Duration,
    /// Jobs one worker runs at once (passed to the default worker command).
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,
    /// Command that starts one worker (run with `sh -c`; it gets WEIR_REDIS_URL
    /// and WEIR_PREFIX). Default: this binary's `work --queues ... --concurrency ...`.
    #[arg(long)]
    pub worker_cmd: Option<String>,
    /// Decide once from the registry and the recorded history, act, and exit (for cron).
    #[arg(long)]
    pub once: bool,
    /// Print the decision and act on nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print decisions as JSON.
    #[arg(long)]
    pub json: bool,
    /// Instead of spawning and draining, run `CMD DESIRED` (with WEIR_DESIRED and
    /// WEIR_CURRENT in its environment) when the desired count changes.
    #[arg(long)]
    pub scale_cmd: Option<String>,
    /// Print the recorded decisions, oldest first, and exit.
    #[arg(long)]
    pub history: bool,
}

impl AutoscaleArgs {
    /// The policy these flags describe, or the first flag that makes no
    /// sense (`--min` above `--max`, a zero `--tick`, ...) as a message for
    /// the operator.
    pub fn policy(&self) -> Result<Policy, String> {
        if self.max == 0 {
            return Err("--max must be at least 1".into());
        }
        if self.min > self.max {
            return Err(format!("--min {} is above --max {}", self.min, self.max));
        }
        if self.max_shift == Some(0) {
            return Err("--max-shift must be at least 1".into());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if self.tick.is_zero() || self.clear_within.is_zero() {
            return Err("--tick and --clear-within must be longer than zero".into());
        }
        Ok(Policy {
            min: self.min,
            max: self.max,
            max_shift: self.max_shift,
            clear_within: self.clear_within,
            cooldown: self.cooldown,
            concurrency: self.concurrency,
            ..Policy::default()
        })
    }

    /// `work --queues ... [--strict] --concurrency N`, the default worker's arguments.
    pub fn default_worker_args(&self, queues: &QueueList) -> Vec<String> {
        // Every weight written out, so no queue name is read as `name:weight`.
        let mut args = vec!["work".into(), "--queues".into(), queues.to_string()];
        if self.strict {
            args.push("--strict".into());
        }
        args.extend(["--concurrency".into(), self.concurrency.to_string()]);
        args
    }
}
