//! `weir limit`: fleet-wide limits, stored in Redis and enforced by reserve.
use super::Conn;
use anyhow::bail;
use clap::{Args, Subcommand};
use std::process::ExitCode;
use weir::QueueName;
use weir::broker::Rate;

#[derive(Debug, Args)]
pub struct LimitArgs {
    #[command(subcommand)]
    pub command: LimitCommand,
}

#[derive(Debug, Subcommand)]
pub enum LimitCommand {
    /// Limit a queue: `--rate 50/s [--burst 10]` and/or `--concurrency 4`.
    Set {
        /// The queue to limit.
        queue: QueueName,
        /// Jobs per period across the fleet: 50/s, 5/m, 100/h, 10/500ms.
        #[arg(long)]
        rate: Option<Rate>,
        /// Jobs allowed at once before the rate applies (default 1).
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        /// At most this many jobs of the queue running at once across the fleet.
        #[arg(long)]
        concurrency: Option<u32>,
        /// Create the queue when it is not known yet (nothing was ever
        /// enqueued to it); without it, an unknown queue is refused.
        #[arg(long)]
        create: bool,
    },
    /// Limit jobs whose rate key matches PATTERN (`*` matches anything), per key.
    SetKey {
        /// The rate keys to limit, such as `discord:*` (1 to 256 bytes).
        pattern: String,
        /// Jobs per period for each matching key: 5/s, 100/m, 10/500ms.
        #[arg(long)]
        rate: Rate,
        /// Jobs of one key allowed at once before the rate applies (default 1).
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Remove a queue's limits (or, with --key, a key rule).
    Clear {
        /// The queue (or, with --key, the pattern).
        target: String,
        /// Clear the key rule of this pattern instead of a queue's limits.
        #[arg(long)]
        key: bool,
    },
    /// Every queue limit and key rule.
    List {
        /// Print one JSON object: {"queues": {...}, "keys": [...]}.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(conn: &Conn, a: LimitArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        LimitCommand::Set { queue, rate, burst, concurrency, create } => {
            if rate.is_none() && concurrency.is_none() {
                bail!("say what to limit: --rate and/or --concurrency");
            }
            if burst == Some(0) {
                bail!("invalid limit: burst must be at least 1");
            }
            if concurrency == Some(0) {
                bail!("invalid limit: concurrency must be at least 1");
            }
            let b = conn.connect().await?;
            super::pause::known(&b, &queue, create).await?;
            if let Some(rate) = rate {
                b.set_rate_limit(&queue, rate, burst.unwrap_or(1)).await?;
            }
            if let Some(n) = concurrency {
                b.set_concurrency(&queue, n).await?;
            }
            println!("{queue}: {}", serde_json::to_string(&b.limits(&queue).await?)?);
        }
        LimitCommand::SetKey { pattern, rate, burst } => {
            let b = conn.connect().await?;
            b.set_key_rule(&pattern, rate, burst.unwrap_or(1)).await?;
            println!("rate key {pattern}: {rate} burst {}", burst.unwrap_or(1));
        }
        LimitCommand::Clear { target, key } => {
            let b = conn.connect().await?;
            if key {
                let was = b.clear_key_rule(&target).await?;
                println!("{} rate key rule {target}", if was { "cleared" } else { "no" });
            } else {
                let queue = QueueName::new(target)?;
                // A mistyped name is said, not "cleared".
                if !b.has_queue(&queue).await? {
                    return Err(super::pause::not_known(&queue, "check the name"));
                }
                if b.clear_limits(&queue).await? {
                    println!("cleared limits of {queue}");
                } else {
                    println!("{queue} had no limits");
                }
            }
        }
        LimitCommand::List { json } => {
            let b = conn.connect().await?;
            let mut queues = serde_json::Map::new();
            for q in b.queues().await? {
                let l = b.limits(&q).await?;
                if l != Default::default() {
                    queues.insert(q.to_string(), serde_json::to_value(&l)?);
                }
            }
            let rules = b.key_rules().await?;
            if json {
                println!("{}", serde_json::json!({"queues": queues, "keys": rules}));
            } else {
                for (q, l) in &queues {
                    println!("queue {q}: {l}");
                }
                for r in &rules {
                    println!("key {}: {} burst {}", r.pattern, r.rate, r.burst);
                }
                if queues.is_empty() && rules.is_empty() {
                    println!("no limits");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
