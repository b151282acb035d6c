//! Workload (b): pre-enqueued no-op jobs drained by one and by two real
//! `weir work` processes, timed from the first completion to the last, every
//! completion verified; with (e), the worker's peak memory during the drain
//! and its growth between 100,000 and 1,000,000 jobs; with (f), the cost to
//! Redis.
use super::child::Worker;
use super::enqueue::{BULK, bulk, cost};
use super::server::Usage;
use super::{Bench, Figure};
use anyhow::{Context, bail, ensure};
use std::time::{Duration, Instant};
use weir::broker::Broker;
use weir::{Client, QueueName};

/// How long a drain may go without a single completion before it fails.
const STALL: Duration = Duration::from_secs(30);
/// How often the processed counter is read.
const POLL: Duration = Duration::from_millis(1);

/// (b) with one and with two processes, and (e)'s peak memory and (f).
pub async fn throughput(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let mut out = throughput_one(bench).await?;
    super::server::purge(bench).await?;
    out.extend(drain(bench, 2).await?);
    Ok(out)
}

/// (b) with one process only.
pub async fn throughput_one(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    drain(bench, 1).await
}

async fn drain(bench: &Bench, processes: usize) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let queue = QueueName::new("bench")?;
    let n = bench.scaled(100_000);
    bulk(&Client::from_broker(broker.clone()), n, queue.as_str()).await?;
    let mut config = format!("processes={processes},concurrency={}", bench.concurrency);
    if bench.limits {
        // Limits that never bind: what remains is the cost of checking them.
        broker.set_rate_limit(&queue, "10000000/s".parse()?, 1_000_000).await?;
        broker.set_concurrency(&queue, 1_000_000).await?;
        config.push_str(",limits=rate+concurrency");
    }

    let before = Usage::read(&broker).await?;
    let mut workers =
        (0..processes).map(|_| Worker::spawn(bench, queue.as_str(), &[], false)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut polls = 0u64;
    let mut first: Option<Instant> = None;
    let mut last_change = Instant::now();
    let mut seen = 0;
    let last = loop {
        let done = broker.processed(&queue).await?;
        polls += 1;
        let now = Instant::now();
        if done > seen {
            seen = done;
            last_change = now;
            first.get_or_insert(now);
        }
        if done >= n {
            break now;
        }
        if now.duration_since(last_change) > STALL {
            for w in &mut workers {
                w.check_alive()?;
            }
            bail!("no job finished for {STALL:?}: {done} of {n} processed");
        }
        if polls.is_multiple_of(256) {
            for w in &mut workers {
                w.check_alive()?;
            }
        }
        tokio::time::sleep(POLL).await;
    };
    let first = first.expect("processed went up");
    let memory: Vec<_> = workers.iter().filter_map(|w| w.memory()).collect();
    let peak_mb = memory.iter().map(|m| m.peak_mb).fold(0.0, f64::max);
    for m in &memory {
        eprintln!(
            "weir bench: drain_{processes}proc: worker memory peak {:.2} MiB; at the end {:.2} MiB resident, \
             {:.2} MiB of it heap and stacks (the rest mapped code)",
            m.peak_mb, m.rss_mb, m.anon_mb
        );
    }
    let worker_cpu_s: f64 = workers.iter().filter_map(|w| w.cpu_s()).sum();
    for w in workers {
        w.stop(0, Duration::from_secs(60)).await?;
    }
    let spent = Usage::read(&broker).await?.since(&before, polls);
    verify(&broker, &queue, n).await?;

    let secs = last.duration_since(first).as_secs_f64().max(1e-6);
    eprintln!(
        "weir bench: drain_{processes}proc: {n} jobs in {secs:.3} s; worker CPU {:.1} us/job (start to exit), \
         Redis CPU {:.1} us/job",
        worker_cpu_s * 1e6 / n as f64,
        spent.cpu_s * 1e6 / n as f64
    );
    let mut out = vec![Figure::new("process_throughput_jobs_per_s", n as f64 / secs, n, config.clone())];
    if processes == 1 {
        out.push(Figure::new("worker_peak_rss_mb", peak_mb, n, format!("during=b,{config}")));
    }
    out.extend(cost(&format!("drain_{processes}proc"), &spent, n));
    Ok(out)
}

/// (e): one worker's resident memory after 100,000 and after 1,000,000
/// jobs, with jobs fed as it goes so Redis holds at most a few batches.
pub async fn rss_growth(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let queue = QueueName::new("grow")?;
    let (early, total) = (bench.scaled(100_000), bench.scaled(1_000_000));
    // Keep at most this many jobs waiting.
    let backlog = bench.scaled(200_000).max(BULK as u64 * 2);

    let producer = {
        let broker = broker.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            let client = Client::from_broker(broker.clone());
            let mut sent = 0;
            while sent < total {
                let done = broker.processed(&queue).await?;
                if sent - done.min(sent) >= backlog {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let take = (total - sent).min(backlog / 2).max(1);
                bulk(&client, take, queue.as_str()).await?;
                sent += take;
            }
            anyhow::Ok(())
        })
    };

    let mut worker = Worker::spawn(bench, queue.as_str(), &[], false)?;
    let mut at_early = None;
    let mut last_change = Instant::now();
    let mut seen = 0;
    let at_total = loop {
        let done = broker.processed(&queue).await?;
        if done > seen {
            seen = done;
            last_change = Instant::now();
        }
        if done >= early && at_early.is_none() {
            at_early = worker.memory();
        }
        if done >= total {
            break worker.memory();
        }
        if last_change.elapsed() > STALL {
            worker.check_alive()?;
            bail!("no job finished for {STALL:?}: {done} of {total} processed");
        }
        worker.check_alive()?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    producer.await.context("the producer task")??;
    worker.stop(0, Duration::from_secs(60)).await?;
    verify(&broker, &queue, total).await?;
    let (Some(a), Some(b)) = (at_early, at_total) else { bail!("could not read the worker's memory from /proc") };
    eprintln!(
        "weir bench: worker resident memory {:.2} MiB after {early} jobs, {:.2} MiB after {total} (peak {:.2}); \
         heap and stacks {:.2} then {:.2} MiB",
        a.rss_mb, b.rss_mb, b.peak_mb, a.anon_mb, b.anon_mb
    );
    Ok(vec![Figure::new(
        "worker_rss_growth_mb",
        b.rss_mb - a.rss_mb,
        total,
        format!("from={early},to={total},concurrency={}", bench.concurrency),
    )])
}

/// Every job was processed exactly once and nothing is left anywhere.
pub async fn verify(broker: &Broker, queue: &QueueName, n: u64) -> anyhow::Result<()> {
    let s = broker.stats(queue).await?;
    let jobs = broker.stored_jobs(queue).await?;
    ensure!(
        s.processed == n && s.pending == 0 && s.active == 0 && s.delayed == 0 && s.dead == 0 && s.failed == 0,
        "queue {queue}: expected {n} processed and nothing left, found {s:?}"
    );
    ensure!(jobs == 0, "queue {queue}: {jobs} fields left in the jobs hash");
    Ok(())
}
