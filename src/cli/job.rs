//! `weir job ID [--json]`: what became of one job.
use super::Conn;
use clap::Args;
use std::process::ExitCode;
use weir::broker::{JobStatus, format_duration};

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job's id (as `weir enqueue` printed it).
    pub id: String,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(conn: &Conn, a: JobArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    let status = broker.status(&a.id).await?;
    if a.json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        print(&status, broker.now_ms());
    }
    Ok(ExitCode::SUCCESS)
}

fn print(s: &JobStatus, now: i64) {
    let state = serde_json::to_value(s).ok().and_then(|v| v["state"].as_str().map(String::from)).unwrap_or_default();
    println!("id        {}", s.id);
    println!("state     {state}");
    let Some(queue) = &s.queue else { return };
    println!("queue     {queue}");
    if let Some(kind) = &s.kind {
        println!("kind      {kind}");
    }
    let max = s.max_attempts.map_or(String::new(), |m| format!(" of {m}"));
    println!("attempts  {}{max}", s.attempts);
    let when = |label: &str, at: i64| {
        let d = std::time::Duration::from_millis(at.abs_diff(now));
        let rel = if at >= now { format!("in {}", format_duration(d)) } else { format!("{} ago", format_duration(d)) };
        println!("{label:<9} {at} ({rel})");
    };
    for (label, at) in
        [("run at", s.run_at), ("lease to", s.lease_until), ("died at", s.died_at), ("done at", s.done_at)]
    {
        if let Some(at) = at {
            when(label, at);
        }
    }
    if let Some(w) = &s.worker {
        let at = match (&w.host, w.pid) {
            (Some(host), Some(pid)) => format!(" ({host}, pid {pid})"),
            _ => " (no longer registered)".to_string(),
        };
        println!("worker    {}{at}", w.id);
    }
    if let Some(at) = s.cancel_requested_at {
        when("cancel at", at);
    }
    if let Some(p) = &s.progress {
        println!("progress  {}% {}", p.percent, p.message);
    }
    if let Some(r) = &s.result {
        println!("result    {}", r.get());
    }
    for e in &s.errors {
        println!("error     attempt {}: {}", e.attempt, e.error);
    }
}
