//! The broker against a private `redis-server` (see `shared`): enqueue one
//! job, enqueue 1,000 in one `enqueue_many`, and reserve + ack a batch of
//! 128 (one worker round trip each way). Each figure includes the loopback
//! round trips and Redis's own time, so it moves with the machine's load.
mod shared;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::value::RawValue;
use std::time::{Duration, Instant};
use weir::QueueName;
use weir::broker::{Broker, NewJob, Selector};

/// Jobs a reserve + ack iteration takes.
const RESERVE_BATCH: usize = 128;
/// Jobs one `enqueue_many` call sends.
const ENQUEUE_BATCH: usize = 1000;
/// Purge the queue after this many jobs, so Redis memory stays flat.
const PURGE_EVERY: u64 = 200_000;

fn queue() -> QueueName {
    QueueName::new("bench").expect("queue name")
}

fn noop() -> NewJob {
    NewJob::json(queue(), "weir.noop", RawValue::from_string("{}".into()).expect("json"))
}

/// Drops every job of the bench queue (untimed).
async fn purge(broker: &Broker) {
    let k = broker.keys(&queue());
    let keys = vec![k.pending.clone(), k.active.clone(), k.jobs.clone(), k.wake.clone(), k.stats.clone()];
    let del = weir::broker::redis::cmd("DEL").arg(keys).to_owned();
    broker.query::<()>(&del).await.expect("purge the bench queue");
}

fn enqueue(c: &mut Criterion) {
    let server = shared::RedisServer::start();
    let rt = shared::runtime();
    let broker = rt.block_on(shared::broker(&server.url));
    let mut g = c.benchmark_group("redis");
    g.sample_size(20).measurement_time(Duration::from_secs(5));

    g.throughput(Throughput::Elements(1));
    g.bench_function("enqueue_one", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let broker = broker.clone();
            async move {
                let mut spent = Duration::ZERO;
                for i in 0..iters {
                    if i > 0 && i.is_multiple_of(PURGE_EVERY) {
                        purge(&broker).await;
                    }
                    let job = noop();
                    let t = Instant::now();
                    broker.enqueue(job).await.expect("enqueue");
                    spent += t.elapsed();
                }
                purge(&broker).await;
                spent
            }
        })
    });

    g.throughput(Throughput::Elements(ENQUEUE_BATCH as u64));
    g.bench_function("enqueue_many_1000", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let broker = broker.clone();
            async move {
                let mut spent = Duration::ZERO;
                for i in 0..iters {
                    if i > 0 && (i * ENQUEUE_BATCH as u64).is_multiple_of(PURGE_EVERY) {
                        purge(&broker).await;
                    }
                    let jobs: Vec<NewJob> = (0..ENQUEUE_BATCH).map(|_| noop()).collect();
                    let t = Instant::now();
                    broker.enqueue_many(jobs).await.expect("enqueue_many");
                    spent += t.elapsed();
                }
                purge(&broker).await;
                spent
            }
        })
    });

    g.throughput(Throughput::Elements(RESERVE_BATCH as u64));
    g.bench_function("reserve_ack_128", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let broker = broker.clone();
            async move {
                let mut selector = Selector::weighted([(queue(), 1)]).expect("selector");
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    broker.enqueue_many((0..RESERVE_BATCH).map(|_| noop())).await.expect("refill");
                    let t = Instant::now();
                    let jobs =
                        broker.reserve(&mut selector, RESERVE_BATCH, Duration::from_secs(60)).await.expect("reserve");
                    let done: Vec<_> = jobs.into_iter().map(|j| (j.lease, Duration::from_micros(1))).collect();
                    let held = broker.ack(&done).await.expect("ack");
                    spent += t.elapsed();
                    assert_eq!(held.len(), RESERVE_BATCH, "every reserved job is acked");
                }
                spent
            }
        })
    });
    g.finish();
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
