//! `weir enqueue`: one job from flags, or one per JSON line of stdin.
use super::{Conn, parse_duration_flag};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use weir::QueueName;
use weir::broker::job_line::{LineDefaults, parse_line};
use weir::broker::{NewJob, bounds};

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The queue.
    #[arg(long, default_value = "default")]
    pub queue: QueueName,
    /// The job kind (the handler's name).
    #[arg(long, required_unless_present = "stdin")]
    pub kind: Option<String>,
    /// The payload, as JSON.
    #[arg(long, conflicts_with = "stdin", required_unless_present = "stdin")]
    pub json: Option<String>,
    /// Read one job per line of stdin instead: a bare JSON payload (with
    /// --kind), or an object with "payload" and optionally "kind", "queue",
    /// "delay_ms", "max_attempts", "unique_key", "rate_key" (docs/CLI.md).
    #[arg(long)]
    pub stdin: bool,
    /// Run no earlier than this from now (e.g. 30s, 5m; at most 365d).
    #[arg(long, value_parser = delay_flag, allow_hyphen_values = true)]
    pub delay: Option<Duration>,
    /// Attempts before the job is dead (1 to 1000).
    #[arg(long, value_parser = max_attempts_flag)]
    pub max_attempts: Option<u32>,
    /// Enqueue nothing while a job with this key is pending, delayed or running.
    #[arg(long)]
    pub unique_key: Option<String>,
    /// Limit this job with the other jobs of this key (see `weir limit set-key`).
    #[arg(long)]
    pub rate_key: Option<String>,
}

fn delay_flag(s: &str) -> Result<Duration, String> {
    let delay = parse_duration_flag(s)?;
    bounds::delay("--delay", delay).map_err(|e| e.to_string())
}

fn max_attempts_flag(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|e| format!("{e}"))?;
    bounds::max_attempts("--max-attempts", n).map_err(|e| e.to_string())
}

/// Lines per pipelined batch on --stdin.
const STDIN_BATCH: usize = 1000;

impl EnqueueArgs {
    fn defaults(&self) -> LineDefaults {
        LineDefaults {
            queue: self.queue.clone(),
            kind: self.kind.clone(),
            delay: self.delay,
            max_attempts: self.max_attempts,
            unique_key: self.unique_key.clone(),
            rate_key: self.rate_key.clone(),
        }
    }
}

pub async fn run(conn: &Conn, a: EnqueueArgs) -> anyhow::Result<ExitCode> {
    if a.stdin {
        return run_stdin(conn, a).await;
    }
    let kind = a.kind.clone().context("--kind is required")?;
    let json = a.json.as_deref().context("--json is required")?;
    let payload = RawValue::from_string(json.to_string()).context("--json is not valid JSON")?;
    let job = a.defaults().job(a.queue.clone(), kind, payload);
    job.validate(&conn.broker_config())?;
    // Through the client, for its producer span (feature `otel`).
    let client = weir::Client::from_broker(conn.connect().await?);
    let r = client.enqueue_prepared(job).await?;
    println!("{}", r.id);
    Ok(ExitCode::SUCCESS)
}

async fn run_stdin(conn: &Conn, a: EnqueueArgs) -> anyhow::Result<ExitCode> {
    // Read and check every line first: a bad line enqueues nothing.
    let defaults = a.defaults();
    let config = conn.broker_config();
    let mut jobs = Vec::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let job = parse_line(&line, &defaults).with_context(|| format!("stdin line {}", i + 1))?;
        job.validate(&config).with_context(|| format!("stdin line {}", i + 1))?;
        jobs.push(job);
    }
    if jobs.is_empty() {
        bail!("no jobs on stdin");
    }
    let client = weir::Client::from_broker(conn.connect().await?);
    let mut out = std::io::stdout().lock();
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<NewJob> = jobs.by_ref().take(STDIN_BATCH).collect();
        for r in client.enqueue_many_prepared(batch).await? {
            use std::io::Write;
            writeln!(out, "{}", r.id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
