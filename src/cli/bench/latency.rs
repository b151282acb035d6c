//! Workload (c): start latency. One idle `weir work` process; jobs enqueued
//! one at a time about 1 ms apart, each carrying its enqueue time. The jobs
//! are of the builtin kind `weir.echo`, whose handler prints the job id on
//! stdout as it starts; the bench reads that pipe and records, per job,
//! start − enqueue on its own monotonic clock (the enqueue time taken just
//! before the enqueue call). The pipe adds a few tens of microseconds.
use super::child::Worker;
use super::drain::verify;
use super::{Bench, Figure};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use weir::broker::probe::percentile;
use weir::{Client, Job, QueueName};

/// A job that prints its id when it starts (`weir.echo`), carrying its
/// enqueue time.
#[derive(Debug, Serialize, Deserialize)]
struct Probe {
    /// Microseconds since the Unix epoch, taken just before the enqueue.
    enqueued_at_us: u64,
}

impl Job for Probe {
    const KIND: &'static str = "weir.echo";
    const QUEUE: &'static str = "latency";
}

/// Jobs run first and not measured: the worker's first reserve, connection
/// warm-up and allocations.
const WARMUP: u64 = 20;

pub async fn run(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let client = Client::from_broker(broker.clone());
    let queue = QueueName::new(Probe::QUEUE)?;
    let n = bench.scaled(2_000);

    let mut worker = Worker::spawn(bench, queue.as_str(), &[], true)?;
    let stdout = worker.stdout().context("the worker's stdout")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let at = Instant::now();
            // `weir.echo` prints "<id> <attempt>".
            let id = line.split_whitespace().next().unwrap_or_default().to_string();
            if tx.send((id, at)).is_err() {
                break;
            }
        }
    });

    // Warm up, and learn that the worker is up: wait for these to start.
    for _ in 0..WARMUP {
        client.enqueue(Probe { enqueued_at_us: unix_us() }).await?;
    }
    receive(&mut rx, WARMUP as usize, &mut worker, &mut HashMap::new()).await?;
    // Let it go idle (blocked on the doorbell) before the measured jobs.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(n as usize);
    let mut started: HashMap<String, Instant> = HashMap::with_capacity(n as usize);
    let begin = tokio::time::Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(begin + Duration::from_millis(i)).await;
        let t0 = Instant::now();
        let job = client.enqueue(Probe { enqueued_at_us: unix_us() }).await?;
        sent.insert(job.id, t0);
        while let Ok((id, at)) = rx.try_recv() {
            started.insert(id, at);
        }
    }
    let missing = n as usize - started.len().min(n as usize);
    receive(&mut rx, missing, &mut worker, &mut started).await?;
    worker.stop(0, Duration::from_secs(60)).await?;
    verify(&broker, &queue, n + WARMUP).await?;

    let mut ms: Vec<f64> = sent
        .iter()
        .map(|(id, t0)| started.get(id).map(|at| at.duration_since(*t0).as_secs_f64() * 1000.0))
        .collect::<Option<Vec<_>>>()
        .context("a measured job never reported its start")?;
    ms.sort_by(f64::total_cmp);
    let config = "workers=1,interval=1ms,kind=weir.echo";
    Ok(vec![
        Figure::new("latency_p50_ms", percentile(&ms, 0.50), n, config),
        Figure::new("latency_p99_ms", percentile(&ms, 0.99), n, config),
        Figure::new("latency_max_ms", ms.last().copied().unwrap_or(0.0), n, config),
    ])
}

/// Waits for `count` more start lines (up to 30 s), adding them to `into`.
async fn receive(
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    count: usize,
    worker: &mut Worker,
    into: &mut HashMap<String, Instant>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut got = 0;
    while got < count {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((id, at))) => {
                into.insert(id, at);
                got += 1;
            }
            Ok(None) => {
                worker.check_alive()?;
                bail!("the worker closed its stdout after {got} of {count} jobs");
            }
            Err(_) => {
                worker.check_alive()?;
                bail!("only {got} of {count} jobs started within 30 s");
            }
        }
    }
    Ok(())
}

fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}
