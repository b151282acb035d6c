//! Enqueue now, at a time, after a delay, in batches; unique jobs; bad input.
use crate::util;
use serde_json::value::RawValue;
use std::time::Duration;
use weir::broker::{Broker, BrokerConfig, Error, JobState, NewJob, QueueName, RunAt, Unique};

pub fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

pub fn job(queue: &str, kind: &str, payload: &str) -> NewJob {
    NewJob::json(q(queue), kind, RawValue::from_string(payload.to_string()).unwrap())
}

/// Enqueues `jobs` (in one `enqueue_many`); their ids in order.
pub async fn enqueue_ids(b: &Broker, jobs: impl IntoIterator<Item = NewJob>) -> Vec<String> {
    b.enqueue_many(jobs).await.unwrap().into_iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn enqueue_now_at_and_after() {
    let b = util::broker("enqueue-times").await;
    let now = b.enqueue(job("default", "k", r#"{"n":1}"#)).await.unwrap();
    assert!(now.created);
    let mut later = job("default", "k", "2");
    later.run_at = RunAt::After(Duration::from_secs(60));
    let later = b.enqueue(later).await.unwrap();
    let mut at = job("default", "k", "3");
    at.run_at = RunAt::AtMs(b.now_ms() + 3_600_000);
    let at = b.enqueue(at).await.unwrap();
    let mut past = job("default", "k", "4");
    past.run_at = RunAt::AtMs(1_000);
    let past = b.enqueue(past).await.unwrap();

    let state = |id: String| {
        let b = b.clone();
        async move { b.job(&q("default"), &id).await.unwrap().unwrap().state }
    };
    assert_eq!(state(now.id.clone()).await, Some(JobState::Pending));
    assert_eq!(state(later.id.clone()).await, Some(JobState::Delayed));
    assert_eq!(state(at.id.clone()).await, Some(JobState::Delayed));
    assert_eq!(state(past.id.clone()).await, Some(JobState::Pending), "a run_at in the past means now");

    let info = b.job(&q("default"), &later.id).await.unwrap().unwrap();
    let delay = info.score.unwrap() - b.now_ms();
    assert!((55_000..=60_000).contains(&delay), "delayed by {delay} ms");
    let env = info.parse_envelope().unwrap().unwrap();
    assert_eq!(env.kind, "k");
    assert_eq!(env.payload.get(), "2");

    let s = b.stats(&q("default")).await.unwrap();
    assert_eq!((s.pending, s.delayed), (2, 2));
    assert_eq!(b.queues().await.unwrap(), vec![q("default")]);
}

#[tokio::test]
async fn enqueue_many_across_queues_keeps_order_and_uses_one_round_trip() {
    let server = util::RedisServer::start();
    let b = Broker::connect(&server.url(), BrokerConfig::default()).await.unwrap();
    let jobs: Vec<NewJob> = (0..2_500).map(|i| job(if i % 2 == 0 { "a" } else { "b" }, "k", &i.to_string())).collect();
    server.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
    let out = b.enqueue_many(jobs).await.unwrap();
    assert_eq!(out.len(), 2_500);
    assert!(out.iter().all(|e| e.created));
    // 1,250 jobs per queue in script calls of up to 500: 3 calls per queue,
    // all in one pipeline, plus one SADD for the queue set.
    assert_eq!(server.command_calls("evalsha"), 6);
    assert_eq!(server.command_calls("sadd"), 1);
    for (i, e) in out.iter().enumerate().step_by(97) {
        let queue = if i % 2 == 0 { "a" } else { "b" };
        let info = b.job(&q(queue), &e.id).await.unwrap().unwrap();
        assert_eq!(info.parse_envelope().unwrap().unwrap().payload.get(), i.to_string());
    }
    assert_eq!(b.stats(&q("a")).await.unwrap().pending, 1_250);
    assert_eq!(b.stats(&q("b")).await.unwrap().pending, 1_250);
}

#[tokio::test]
async fn unique_key_returns_the_live_job_and_frees_when_it_finishes() {
    let b = util::broker("unique").await;
    let mut sel = weir::broker::Selector::strict([q("u")]).unwrap();
    let with_key = |key: &str| {
        let mut j = job("u", "k", "{}");
        j.unique = Some(Unique { key: key.into(), ttl: None });
        j
    };
    let first = b.enqueue(with_key("invoice:7")).await.unwrap();
    assert!(first.created);
    let dup = b.enqueue(with_key("invoice:7")).await.unwrap();
    assert_eq!(dup, weir::broker::Enqueued { id: first.id.clone(), created: false });
    assert!(b.enqueue(with_key("invoice:8")).await.unwrap().created, "other keys are independent");
    // Unique keys are per queue.
    let mut other_queue = with_key("invoice:7");
    other_queue.queue = q("u2");
    assert!(b.enqueue(other_queue).await.unwrap().created);

    // Still held while running.
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r[0].lease.id, first.id);
    assert!(!b.enqueue(with_key("invoice:7")).await.unwrap().created);
    // Freed when it finishes.
    b.ack(&[(r[0].lease.clone(), Duration::from_millis(1))]).await.unwrap();
    let again = b.enqueue(with_key("invoice:7")).await.unwrap();
    assert!(again.created);
    assert_ne!(again.id, first.id);

    // Freed when it dies.
    let r = b.reserve(&mut sel, 2, Duration::from_secs(30)).await.unwrap();
    let held = r.iter().find(|x| x.lease.id == again.id).unwrap();
    b.bury(&held.lease, "gave up").await.unwrap();
    assert!(b.enqueue(with_key("invoice:7")).await.unwrap().created);

    // Freed when its TTL passes, even though the job still waits.
    let mut short = with_key("ttl");
    short.unique = Some(Unique { key: "ttl".into(), ttl: Some(Duration::from_millis(50)) });
    let a = b.enqueue(short.clone()).await.unwrap();
    assert!(!b.enqueue(short.clone()).await.unwrap().created);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let c = b.enqueue(short).await.unwrap();
    assert!(c.created && c.id != a.id);
}

#[tokio::test]
async fn same_id_twice_is_a_no_op() {
    let b = util::broker("same-id").await;
    let mut j = job("default", "k", "1");
    j.id = Some("outbox-42".into());
    assert!(b.enqueue(j.clone()).await.unwrap().created);
    assert!(!b.enqueue(j).await.unwrap().created);
    assert_eq!(b.stats(&q("default")).await.unwrap().pending, 1);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let b = Broker::connect(
        &util::redis().url(),
        BrokerConfig { max_payload_bytes: 1_000, ..util::config(&util::prefix("bad-input")) },
    )
    .await
    .unwrap();
    for name in ["", "has space", "a{b}", &"x".repeat(129)] {
        assert!(matches!(QueueName::new(name), Err(Error::InvalidQueueName { .. })), "{name:?}");
    }
    let big = format!("\"{}\"", "x".repeat(1_000));
    assert!(matches!(b.enqueue(job("q", "k", &big)).await, Err(Error::PayloadTooLarge { .. })));
    let mut zero = job("q", "k", "1");
    zero.max_attempts = 0;
    assert!(matches!(b.enqueue(zero.clone()).await, Err(Error::ZeroMaxAttempts)));
    assert!(matches!(b.enqueue(job("q", "", "1")).await, Err(Error::InvalidKind(_))));
    let mut bad_id = job("q", "k", "1");
    bad_id.id = Some("no spaces".into());
    assert!(matches!(b.enqueue(bad_id).await, Err(Error::InvalidJobId(_))));
    assert!(matches!("msgpack".parse::<weir::Codec>(), Err(Error::UnknownCodec(_))));
    // One bad job in a batch: nothing from the batch is enqueued.
    let batch = vec![job("q", "k", "1"), zero, job("q", "k", "3")];
    assert!(b.enqueue_many(batch).await.is_err());
    assert!(b.queues().await.unwrap().is_empty(), "no queue was even registered");
    assert_eq!(b.stats(&q("q")).await.unwrap(), Default::default());
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = BrokerConfig { connect_timeout: Duration::from_secs(2), ..BrokerConfig::default() };
    let started = std::time::Instant::now();
    let err = Broker::connect(&format!("redis://127.0.0.1:{port}"), cfg).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot reach Redis"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let err = Broker::connect("http://nope", BrokerConfig::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn duplicates_within_one_batch_are_caught() {
    let b = util::broker("batch-dups").await;
    let mut a = job("d", "k", "1");
    a.id = Some("same-id".into());
    let mut u1 = job("d", "k", "2");
    u1.unique = Some(Unique { key: "once".into(), ttl: None });
    let u2 = u1.clone();
    let out = b.enqueue_many(vec![a.clone(), u1, a, u2, job("d", "k", "3")]).await.unwrap();
    assert_eq!(out[0], weir::broker::Enqueued { id: "same-id".into(), created: true });
    assert_eq!(out[2], weir::broker::Enqueued { id: "same-id".into(), created: false }, "same id twice");
    assert!(out[1].created);
    assert_eq!(out[3], weir::broker::Enqueued { id: out[1].id.clone(), created: false }, "same unique key twice");
    assert!(out[4].created);
    assert_eq!(b.stats(&q("d")).await.unwrap().pending, 3);
    let info = b.job(&q("d"), "same-id").await.unwrap().unwrap();
    assert_eq!(info.parse_envelope().unwrap().unwrap().payload.get(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_script_calls_and_each_gets_its_own_result() {
    let server = util::RedisServer::start();
    let b = Broker::connect(&server.url(), BrokerConfig::default()).await.unwrap();
    b.enqueue(job("c", "k", "0")).await.unwrap(); // registers the queue
    server.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
    // 300 at once, plus 10 replays of one caller-chosen id among them.
    let fresh = (1..=300).map(|i| b.enqueue(job("c", "k", &i.to_string())));
    let replays = (0..10).map(|_| {
        let mut j = job("c", "k", "\"replay\"");
        j.id = Some("replayed-id".into());
        b.enqueue(j)
    });
    let fresh = futures::future::join_all(fresh);
    let replays = futures::future::join_all(replays);
    let (fresh, replays) = tokio::join!(fresh, replays);
    let (calls, hexists) = (server.command_calls("evalsha"), server.command_calls("hexists"));
    assert!(calls < 310 / 4, "310 concurrent enqueues took {calls} script calls: they did not share");
    // Fresh ids skip the existence check; only the replays' calls make it.
    assert!((1..=10).contains(&hexists), "{hexists} HEXISTS: {:?}", server.command_table());
    let fresh: Vec<_> = fresh.into_iter().map(Result::unwrap).collect();
    assert!(fresh.iter().all(|e| e.created));
    let ids: std::collections::HashSet<&str> = fresh.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 300, "every caller got its own job's id");
    let replays: Vec<_> = replays.into_iter().map(Result::unwrap).collect();
    assert!(replays.iter().all(|e| e.id == "replayed-id"), "{replays:?}");
    assert_eq!(
        replays.iter().filter(|e| e.created).count(),
        1,
        "one replay created it, the others found it: {replays:?}"
    );
    assert_eq!(b.stats(&q("c")).await.unwrap().pending, 302);
    // Each payload went with its own id.
    for e in fresh.iter().step_by(37) {
        let env = b.job(&q("c"), &e.id).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
        assert_eq!(env.id, e.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_enqueue_call_that_fails_fails_every_job_it_carried_and_writes_nothing() {
    let b = util::broker("shared-fail").await;
    let pending = b.keys(&q("w")).pending.clone();
    b.query::<()>(weir::broker::redis::cmd("SET").arg(&pending).arg("oops")).await.unwrap();
    let all = futures::future::join_all((0..50).map(|i| b.enqueue(job("w", "k", &i.to_string())))).await;
    for r in &all {
        let err = r.as_ref().unwrap_err();
        assert!(err.to_string().contains("WRONGTYPE") && err.to_string().contains("pending"), "{err}");
    }
    let jobs: u64 = b.query(weir::broker::redis::cmd("HLEN").arg(&b.keys(&q("w")).jobs)).await.unwrap();
    assert_eq!(jobs, 0, "no job was half-written");
    // The lane is free again: once the key is repaired, enqueues go through.
    b.query::<()>(weir::broker::redis::cmd("DEL").arg(&pending)).await.unwrap();
    let ok = futures::future::join_all((0..20).map(|i| b.enqueue(job("w", "k", &i.to_string())))).await;
    assert!(ok.iter().all(|r| r.as_ref().is_ok_and(|e| e.created)), "{ok:?}");
    assert_eq!(b.stats(&q("w")).await.unwrap().pending, 20);
}
