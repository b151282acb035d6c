//! Workload (a): enqueue from one client: one awaited `enqueue` at a time
//! (throughput and the latency of each call), from 64 tasks at once (each
//! one awaited `enqueue` at a time, as a web app's request handlers), and in
//! `enqueue_many` batches of 1,000; with (f), what each costs Redis.
use super::server::{Spent, Usage};
use super::{Bench, Figure};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use weir::broker::probe::percentile;
use weir::{Client, Job, Options};

/// The no-op job every drain workload runs (`weir work` has it built in).
#[derive(Debug, Serialize, Deserialize)]
pub struct Noop {}

impl Job for Noop {
    const KIND: &'static str = "weir.noop";
    const QUEUE: &'static str = "bench";
}

/// Jobs per `enqueue_many` call.
pub const BULK: usize = 1000;
/// Tasks of the concurrent enqueue, as a web app's request handlers.
const TASKS: u64 = 64;

pub async fn run(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let client = Client::from_broker(broker.clone());
    let n = bench.scaled(100_000);
    let mut out = Vec::new();

    let before = Usage::read(&broker).await?;
    let cpu = own_cpu();
    let mut each = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let t = Instant::now();
    for _ in 0..n {
        let t0 = Instant::now();
        client.enqueue(Noop {}).await.context("enqueue")?;
        each.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let secs = t.elapsed().as_secs_f64();
    log_client("enqueue_single", n, secs, own_cpu() - cpu);
    let spent = Usage::read(&broker).await?.since(&before, 0);
    let config = "clients=1,in_flight=1";
    out.push(Figure::new("enqueue_single_jobs_per_s", n as f64 / secs, n, config));
    each.sort_by(f64::total_cmp);
    out.push(Figure::new("enqueue_latency_p50_ms", percentile(&each, 0.50), n, config));
    out.push(Figure::new("enqueue_latency_p99_ms", percentile(&each, 0.99), n, config));
    out.extend(cost("enqueue_single", &spent, n));
    super::server::purge(bench).await?;

    let before = Usage::read(&broker).await?;
    let cpu = own_cpu();
    let t = Instant::now();
    concurrent(&client, n, TASKS).await?;
    let secs = t.elapsed().as_secs_f64();
    log_client("enqueue_concurrent", n, secs, own_cpu() - cpu);
    let spent = Usage::read(&broker).await?.since(&before, 0);
    out.push(Figure::new("enqueue_concurrent_jobs_per_s", n as f64 / secs, n, format!("clients=1,tasks={TASKS}")));
    out.extend(cost("enqueue_concurrent", &spent, n));
    super::server::purge(bench).await?;

    let before = Usage::read(&broker).await?;
    let cpu = own_cpu();
    let t = Instant::now();
    bulk(&client, n, "bench").await?;
    let secs = t.elapsed().as_secs_f64();
    log_client("enqueue_bulk", n, secs, own_cpu() - cpu);
    let spent = Usage::read(&broker).await?.since(&before, 0);
    out.push(Figure::new("enqueue_bulk_jobs_per_s", n as f64 / secs, n, format!("clients=1,batch={BULK}")));
    out.extend(cost("enqueue_bulk", &spent, n));
    Ok(out)
}

/// `n` jobs from `tasks` tasks sharing one client, each enqueueing one job
/// at a time (awaited) until `n` are in.
async fn concurrent(client: &Client, n: u64, tasks: u64) -> anyhow::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        // Task t enqueues every tasks-th job: n in all, split evenly.
        let share = n / tasks + u64::from(t < n % tasks);
        let client = client.clone();
        set.spawn(async move {
            for _ in 0..share {
                client.enqueue(Noop {}).await.context("enqueue")?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("an enqueue task")??;
    }
    Ok(())
}

fn own_cpu() -> f64 {
    super::child::cpu_s(std::process::id()).unwrap_or(0.0)
}

fn log_client(workload: &str, n: u64, secs: f64, cpu_s: f64) {
    eprintln!(
        "weir bench: {workload}: {n} jobs in {secs:.3} s ({:.1} us/job wall); client CPU {:.1} us/job",
        secs * 1e6 / n as f64,
        cpu_s * 1e6 / n as f64
    );
}

/// Enqueues `n` no-op jobs to `queue` in batches of [`BULK`].
pub async fn bulk(client: &Client, n: u64, queue: &str) -> anyhow::Result<()> {
    let mut left = n;
    while left > 0 {
        let take = left.min(BULK as u64);
        client
            .enqueue_many_with((0..take).map(|_| (Noop {}, Options::new().queue(queue))))
            .await
            .context("enqueue_many")?;
        left -= take;
    }
    Ok(())
}

/// Workload (f) for one workload: Redis commands per job (every command,
/// and those sent by clients) and Redis CPU seconds.
pub fn cost(workload: &str, spent: &Spent, n: u64) -> Vec<Figure> {
    eprintln!(
        "weir bench: {workload}: Redis ran {:.2} commands/job ({:.3} script calls, {:.2} us/job inside them), \
         {:.1} us CPU/job ({:.1} of it in the kernel): {}",
        spent.all as f64 / n as f64,
        spent.script_calls as f64 / n as f64,
        spent.script_usec as f64 / n as f64,
        spent.cpu_s * 1e6 / n as f64,
        spent.cpu_sys_s * 1e6 / n as f64,
        spent.breakdown(n)
    );
    vec![
        Figure::new(
            "redis_cmds_per_job",
            spent.all as f64 / n as f64,
            n,
            format!("workload={workload},counted=all_incl_script_calls"),
        ),
        Figure::new(
            "redis_cmds_per_job",
            spent.script_calls as f64 / n as f64,
            n,
            format!("workload={workload},counted=script_calls"),
        ),
        Figure::new("redis_cpu_s", spent.cpu_s, n, format!("workload={workload}")),
    ]
}
