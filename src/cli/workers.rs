//! `weir workers [--json]` lists the worker registry; `weir drain ID` asks
//! one worker to finish its jobs and exit.
use super::Conn;
use anyhow::bail;
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;
use weir::broker::format_duration;

/// Registry entries whose heartbeat is older than this are dropped (three
/// heartbeats at the default 10 s, plus slack).
use weir::broker::registry::STALE_AFTER;

#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// Print one JSON array of worker records.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// The worker's id, as `weir workers` shows it.
    pub id: String,
}

pub async fn run(conn: &Conn, a: WorkersArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    let workers = broker.workers(STALE_AFTER).await?;
    if a.json {
        println!("{}", serde_json::to_string(&workers)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<26} {:<20} {:>8} {:<32} {:>5} {:>7} {:>10} {:>8}",
        "ID", "HOST", "PID", "QUEUES", "CONC", "RUNNING", "DONE", "AGE"
    );
    let now = broker.now_ms();
    for w in workers {
        let age = format_duration(Duration::from_secs(((now - w.started_at).max(0) / 1000) as u64));
        let mut queues = w.queues_spec();
        if w.mode == "strict" {
            queues = format!("{queues} (strict)");
        }
        let id = if w.drain { format!("{} (draining)", w.id) } else { w.id.clone() };
        println!(
            "{:<26} {:<20} {:>8} {:<32} {:>5} {:>7} {:>10} {:>8}",
            id, w.host, w.pid, queues, w.concurrency, w.running, w.jobs_done, age
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn drain(conn: &Conn, a: DrainArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    if !broker.request_drain(&a.id).await? {
        bail!("no live worker with id {:?} (see `weir workers`)", a.id);
    }
    println!("drain requested: {} stops taking jobs at its next heartbeat", a.id);
    Ok(ExitCode::SUCCESS)
}
