//! Enqueue-to-start latency with an idle worker (a benchmark, not a test).
//!
//! `scripts/bench-worker` runs it against a private redis-server:
//! `cargo run --release -p weir-worker --example latency -- redis://127.0.0.1:PORT [N]`
//!
//! The worker runs in this process on its own connections; the producer
//! enqueues one job at a time on another connection, after a pause long
//! enough that the worker is back waiting on the doorbell. Latency is from
//! just before the enqueue call to the first line of the handler.
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use weir_broker::{Broker, BrokerConfig};
use weir_worker::{JobError, Worker};

#[derive(serde::Serialize, serde::Deserialize)]
struct Ping;
impl weir_client::Job for Ping {
    const KIND: &'static str = "ping";
    const QUEUE: &'static str = "latency";
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let config = || BrokerConfig { prefix: format!("bench-latency-{}", std::process::id()), ..BrokerConfig::default() };
    let worker_broker = Broker::connect(&url, config()).await.expect("connect");
    let producer = weir_client::Client::from_broker(Broker::connect(&url, config()).await.expect("connect"));

    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(
        Worker::builder(weir_client::Client::from_broker(worker_broker))
            .queues([("latency", 1)])
            .concurrency(4)
            .handle::<Ping, _>(move |_, _| {
                let at = Instant::now();
                let tx = tx.clone();
                async move {
                    let _ = tx.send(at);
                    Ok::<_, JobError>(())
                }
            })
            .run_until(async {
                let _ = stop_rx.await;
            }),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        // Let the worker finish the previous job and go back to waiting.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let sent = Instant::now();
        producer.enqueue(Ping).await.expect("enqueue");
        let started = rx.recv().await.expect("handler ran");
        lat.push(started.duration_since(sent));
    }
    let _ = stop_tx.send(());
    let _ = worker.await;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "enqueue-to-start, idle worker, {n} jobs: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lat[lat.len() - 1]
    );
}
