//! `weir enqueue`: one job from flags, or one per JSON line of stdin.
use super::{Conn, parse_duration_flag};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use weir::QueueName;
use weir::broker::{Broker, NewJob, RunAt, Unique};

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
    /// Read one job per line of stdin instead. A line is either a bare JSON
    /// payload (with --kind) or an object {"kind", "payload", and optionally
    /// "queue", "delay_ms", "max_attempts", "unique_key"}.
    #[arg(long)]
    pub stdin: bool,
    /// Run no earlier than this from now (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration_flag, allow_hyphen_values = true)]
    pub delay: Option<Duration>,
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Enqueue nothing while a job with this key is pending, delayed or running.
    #[arg(long)]
    pub unique_key: Option<String>,
    /// Limit this job with the other jobs of this key (see `weir limit set-key`).
    #[arg(long)]
    pub rate_key: Option<String>,
}

/// Lines per pipelined batch on --stdin.
const STDIN_BATCH: usize = 1000;

impl EnqueueArgs {
    fn job(&self, queue: QueueName, kind: String, payload: Box<RawValue>) -> NewJob {
        let mut job = NewJob::json(queue, kind, payload);
        if let Some(d) = self.delay {
            job.run_at = RunAt::After(d);
        }
        if let Some(n) = self.max_attempts {
            job.max_attempts = n;
        }
        job.unique = self.unique_key.clone().map(|key| Unique { key, ttl: None });
        job.rate_key = self.rate_key.clone();
        job
    }
}

pub async fn run(conn: &Conn, a: EnqueueArgs) -> anyhow::Result<ExitCode> {
    if a.stdin {
        return run_stdin(conn, a).await;
    }
    let kind = a.kind.clone().context("--kind is required")?;
    let json = a.json.as_deref().context("--json is required")?;
    let payload = RawValue::from_string(json.to_string()).context("--json is not valid JSON")?;
    let job = a.job(a.queue.clone(), kind, payload);
    job.validate(&conn.broker_config())?;
    let broker = conn.connect().await?;
    let r = broker.enqueue(job).await?;
    println!("{}", r.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Deserialize)]
struct Line {
    kind: Option<String>,
    payload: Box<RawValue>,
    queue: Option<String>,
    delay_ms: Option<u64>,
    max_attempts: Option<u32>,
    unique_key: Option<String>,
    rate_key: Option<String>,
}

fn parse_line(a: &EnqueueArgs, text: &str) -> anyhow::Result<NewJob> {
    let as_object = serde_json::from_str::<Line>(text).ok().filter(|l| l.kind.is_some() || a.kind.is_none());
    let job = match as_object {
        Some(l) => {
            let queue = match l.queue {
                Some(q) => QueueName::new(q)?,
                None => a.queue.clone(),
            };
            let kind = l.kind.or_else(|| a.kind.clone()).context("no \"kind\" and no --kind")?;
            let mut job = a.job(queue, kind, l.payload);
            if let Some(ms) = l.delay_ms {
                job.run_at = RunAt::After(Duration::from_millis(ms));
            }
            if let Some(m) = l.max_attempts {
                job.max_attempts = m;
            }
            if let Some(k) = l.rate_key {
                job.rate_key = Some(k);
            }
            if let Some(u) = l.unique_key {
                job.unique = Some(Unique { key: u, ttl: None });
            }
            job
        }
        None => {
            let kind = a.kind.clone().context("a bare payload line needs --kind")?;
            let payload = RawValue::from_string(text.to_string()).context("not valid JSON")?;
            a.job(a.queue.clone(), kind, payload)
        }
    };
    Ok(job)
}

async fn run_stdin(conn: &Conn, a: EnqueueArgs) -> anyhow::Result<ExitCode> {
    // Read and check every line first: a bad line enqueues nothing.
    let mut jobs = Vec::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        jobs.push(parse_line(&a, &line).with_context(|| format!("stdin line {}", i + 1))?);
    }
    if jobs.is_empty() {
        bail!("no jobs on stdin");
    }
    let broker: Broker = conn.connect().await?;
    for (i, job) in jobs.iter().enumerate() {
        broker.validate(job).with_context(|| format!("stdin job {}", i + 1))?;
    }
    let mut out = std::io::stdout().lock();
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<NewJob> = jobs.by_ref().take(STDIN_BATCH).collect();
        for r in broker.enqueue_many(batch).await? {
            use std::io::Write;
            writeln!(out, "{}", r.id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
