//! `weir stats [--json]`, and `weir stats --history 1h` from the store.
use super::Conn;
use clap::Args;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;
use weir::broker::QueueStats;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one JSON object keyed by queue name.
    #[arg(long)]
    pub json: bool,
    /// Print processed and failed per queue per minute over this window
    /// (such as 1h), from the store (needs --database-url).
    #[arg(long, value_parser = super::parse_duration_flag)]
    pub history: Option<Duration>,
    #[command(flatten)]
    pub store: super::migrate::StoreArg,
}

pub async fn run(conn: &Conn, a: StatsArgs) -> anyhow::Result<ExitCode> {
    if let Some(window) = a.history {
        return history(&a.store, window, a.json).await;
    }
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
        "{:<24} {:>9} {:>9} {:>8} {:>8} {:>11} {:>9} {:>9} {:>10}  LIMITS (WAITING ON THEM)",
        "QUEUE", "PENDING", "DELAYED", "ACTIVE", "DEAD", "PROCESSED", "FAILED", "UNKNOWN", "OLDEST"
    );
    for (q, s) in all {
        let oldest = s.oldest_pending_ms.map(|ms| weir::broker::format_duration(std::time::Duration::from_millis(ms)));
        let name = if s.paused { format!("{q} (paused)") } else { q.clone() };
        println!(
            "{:<24} {:>9} {:>9} {:>8} {:>8} {:>11} {:>9} {:>9} {:>10}  {}",
            name,
            s.pending,
            s.delayed,
            s.active,
            s.dead,
            s.processed,
            s.failed,
            s.unknown_kind,
            oldest.as_deref().unwrap_or("-"),
            limits_cell(s)
        );
    }
}

/// `rate 50/s burst 10, concurrency 4, held (12 waiting)`, or `-`.
fn limits_cell(s: &QueueStats) -> String {
    let mut parts = Vec::new();
    if let Some(l) = &s.limits {
        if let Some(rate) = &l.rate {
            parts.push(format!("rate {rate} burst {}", l.burst.unwrap_or(1)));
        }
        if let Some(c) = l.concurrency {
            parts.push(format!("concurrency {c}"));
        }
        if l.held_until.is_some() {
            parts.push("held".into());
        }
    }
    if parts.is_empty() {
        return "-".into();
    }
    format!("{} ({} waiting, {} deferred by key)", parts.join(", "), s.waiting_on_limits, s.deferred_by_key)
}

/// `--history`: the store's per-minute counts since `window` ago, oldest first.
async fn history(store: &super::migrate::StoreArg, window: Duration, json: bool) -> anyhow::Result<ExitCode> {
    let store = store.connect().await?;
    let rows = store.history(weir::broker::bounds::ms_before(weir_store::store::now_ms(), window)).await?;
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<17} {:<24} {:>11} {:>9}", "MINUTE (UTC)", "QUEUE", "PROCESSED", "FAILED");
    for r in rows {
        let minute = &super::migrate::format_time(r.minute)[..16];
        println!("{minute:<17} {:<24} {:>11} {:>9}", r.queue, r.processed, r.failed);
    }
    Ok(ExitCode::SUCCESS)
}
