//! `weir stats [--json]`.
use super::Conn;
use clap::Args;
use std::collections::BTreeMap;
use std::process::ExitCode;
use weir::broker::QueueStats;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one JSON object keyed by queue name.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(conn: &Conn, a: StatsArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    let mut all = BTreeMap::new();
    for q in broker.queues().await? {
        let s = broker.stats(&q).await?;
        all.insert(q.to_string(), s);
    }
    if a.json {
        println!("{}", serde_json::to_string(&all)?);
    } else {
        print_table(&all);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(all: &BTreeMap<String, QueueStats>) {
    println!(
        "{:<24} {:>9} {:>9} {:>8} {:>8} {:>11} {:>9} {:>10}",
        "QUEUE", "PENDING", "DELAYED", "ACTIVE", "DEAD", "PROCESSED", "FAILED", "OLDEST"
    );
    for (q, s) in all {
        let oldest = s.oldest_pending_ms.map(|ms| weir::broker::format_duration(std::time::Duration::from_millis(ms)));
        let name = if s.paused { format!("{q} (paused)") } else { q.clone() };
        println!(
            "{:<24} {:>9} {:>9} {:>8} {:>8} {:>11} {:>9} {:>10}",
            name,
            s.pending,
            s.delayed,
            s.active,
            s.dead,
            s.processed,
            s.failed,
            oldest.as_deref().unwrap_or("-")
        );
    }
}
