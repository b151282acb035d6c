//! Idle workers wait in Redis, not by polling.
use crate::broker_enqueue::{job, q};
use crate::util;
use std::time::{Duration, Instant};
use weir::broker::{Broker, BrokerConfig, Selector};

#[tokio::test]
async fn a_waiting_worker_wakes_when_a_job_arrives() {
    let b = util::broker("wake").await;
    let queues = [q("w1"), q("w2")];
    let waiter = b.waiter(&queues).await.unwrap();
    let mut sel = Selector::weighted(queues.clone().map(|q| (q, 1))).unwrap();
    let producer = b.clone();
    let sent = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let at = Instant::now();
        producer.enqueue(job("w2", "k", "1")).await.unwrap();
        at
    });
    let r = b.reserve_or_wait(&mut sel, &waiter, 10, Duration::from_secs(30), Duration::from_secs(10)).await.unwrap();
    let woke = Instant::now();
    let sent = sent.await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].lease.queue, q("w2"));
    // The doorbell names the queue that rang.
    b.enqueue(job("w1", "k", "2")).await.unwrap();
    assert_eq!(waiter.wait(Duration::from_secs(5)).await.unwrap(), Some(q("w1")));
    // Liveness only (speed is measured by `weir bench`): woken by the enqueue,
    // not by the 10 s timeout.
    eprintln!("enqueue -> wake: {:?}", woke.saturating_duration_since(sent));
    assert!(woke.saturating_duration_since(sent) < Duration::from_secs(2));
    // A timeout with nothing to do is `None`, not an error.
    assert_eq!(waiter.wait(Duration::from_millis(100)).await.unwrap(), None);
    waiter.close().await;
}

#[tokio::test]
async fn an_idle_worker_sends_at_most_one_command_per_second() {
    let server = util::RedisServer::start();
    let b = Broker::connect(&server.url(), BrokerConfig::default()).await.unwrap();
    let queues = [q("a"), q("b"), q("c"), q("d")];
    let waiter = b.waiter(&queues).await.unwrap();
    let mut sel = Selector::weighted(queues.clone().map(|q| (q, 1))).unwrap();
    server.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
    // One idle period of the worker loop: reserve finds nothing, then it
    // waits on the doorbells.
    let started = Instant::now();
    let got = b.reserve_or_wait(&mut sel, &waiter, 32, Duration::from_secs(30), Duration::from_secs(8)).await.unwrap();
    assert!(got.is_empty());
    let secs = started.elapsed().as_secs_f64();
    let table = server.command_table();
    eprintln!("{table:?}");
    // Commands the client sent are EVALSHA, BLPOP and HGETALL (the rate-key
    // rules, refreshed at most every 2 s); the rest were run by the scripts
    // (counted under their own names) or are this test's probes.
    let sent_by_client = ["evalsha", "blpop", "hgetall"];
    let script_internal = [
        "type",
        "time",
        "zremrangebyrank",
        "zcard",
        "zrange",
        "zrangebyscore",
        "hexists",
        "hget",
        "hmget",
        "llen",
        "rpush",
    ];
    let probes = ["info", "config|resetstat"];
    for (name, _) in &table {
        let n = name.as_str();
        let known = sent_by_client.contains(&n) || script_internal.contains(&n) || probes.contains(&n);
        assert!(known, "the idle path sent an unexpected {name}");
    }
    let sent: u64 = table.iter().filter(|(n, _)| sent_by_client.contains(&n.as_str())).map(|(_, c)| c).sum();
    let rate = sent as f64 / secs;
    eprintln!("idle worker: {sent} commands sent in {secs:.1} s = {rate:.2}/s");
    assert!(sent > 0, "the loop did talk to Redis");
    assert!(rate <= 1.0, "{rate:.2} commands/s");
    waiter.close().await;
}
