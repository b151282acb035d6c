//! Workload (d): weighted shares. Four queues at weights 100/50/30/10, each
//! pre-loaded with 20,000 no-op jobs; one `weir work --max-jobs 20000` takes
//! the first 20,000 and exits (code 10); each queue's processed counter is
//! its share. Ideal: 52.6/26.3/15.8/5.3 %.
use super::child::Worker;
use super::enqueue::bulk;
use super::{Bench, Figure};
use anyhow::ensure;
use std::time::Duration;
use weir::{Client, QueueName};

const QUEUES: [(&str, u32); 4] = [("critical", 100), ("transactions", 50), ("webhooks", 30), ("default", 10)];

pub async fn run(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let client = Client::from_broker(broker.clone());
    let each = bench.scaled(20_000);
    for (q, _) in QUEUES {
        bulk(&client, each, q).await?;
    }
    let spec = QUEUES.iter().map(|(q, w)| format!("{q}={w}")).collect::<Vec<_>>().join(",");
    let max = each.to_string();
    let worker = Worker::spawn(bench, &spec, &["--max-jobs", &max], false)?;
    // --max-jobs: exit code 10 once that many jobs have finished.
    worker.wait(10, Duration::from_secs(120 + each / 1000)).await?;

    let mut done = Vec::new();
    for (q, _) in QUEUES {
        done.push(broker.processed(&QueueName::new(q)?).await?);
    }
    let total: u64 = done.iter().sum();
    ensure!(total == each, "expected exactly {each} jobs processed across the queues, found {done:?}");
    let weights: u32 = QUEUES.iter().map(|(_, w)| w).sum();
    let weights_spec = QUEUES.iter().map(|(_, w)| w.to_string()).collect::<Vec<_>>().join("/");
    let config = format!("weights={weights_spec},first={each},concurrency={}", bench.concurrency);
    Ok(QUEUES
        .iter()
        .zip(done)
        .map(|((q, w), d)| {
            eprintln!(
                "weir bench: queue {q}: {d} of {total} ({:.2} %, ideal {:.2} %)",
                d as f64 * 100.0 / total as f64,
                *w as f64 * 100.0 / weights as f64
            );
            Figure::new("priority_share_pct", d as f64 * 100.0 / total as f64, total, config.clone()).queue(q)
        })
        .collect())
}
