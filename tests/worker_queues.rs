//! `weir work` takes jobs from weighted queues in proportion to their
//! weights, and from strict queues in order.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, wait_stats};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_shares_follow_the_weights_over_the_first_20000_jobs() {
    let b = util::broker("weighted").await;
    let prefix = b.prefix().to_string();
    let queues = [("critical", 100.0), ("transactions", 50.0), ("webhooks", 30.0), ("default", 10.0)];
    // Enough in every queue that none runs dry within the first 20,000.
    let mut queue_of = HashMap::new();
    for (name, _) in queues {
        for id in enqueue_n(&b, name, "weir.echo", "{}", 11_000).await {
            queue_of.insert(id, name);
        }
    }
    let mut w = WorkerProc::start(
        &prefix,
        &[
            "--queues",
            "critical=100,transactions=50,webhooks=30,default=10",
            "--concurrency",
            "64",
            "--max-jobs",
            "20000",
        ],
    );
    let status = w.wait_exit(Duration::from_secs(120));
    assert_eq!(status.and_then(|s| s.code()), Some(10), "--max-jobs exits with 10\n{}", w.report());
    let lines = w.lines();
    assert_eq!(lines.len(), 20_000, "{}", w.report());
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        let id = line.split(' ').next().unwrap();
        *counts.entry(queue_of[id]).or_default() += 1;
    }
    let total_weight: f64 = queues.iter().map(|(_, w)| w).sum();
    for (name, weight) in queues {
        let share = 100.0 * counts.get(name).copied().unwrap_or(0) as f64 / 20_000.0;
        let want = 100.0 * weight / total_weight;
        eprintln!("{name}: {share:.2}% (want {want:.1}%)");
        assert!((share - want).abs() <= 3.0, "{name}: {share:.2}% vs {want:.1}%\n{}", w.report());
    }
    let processed: u64 = {
        let mut n = 0;
        for (name, _) in queues {
            n += b.stats(&crate::worker_support::q(name)).await.unwrap().processed;
        }
        n
    };
    assert_eq!(processed, 20_000, "every started job was acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_queues_empty_in_order() {
    let b = util::broker("strict").await;
    let prefix = b.prefix().to_string();
    // Enqueued lowest priority first, so the order cannot come from enqueue time.
    let mut queue_of = HashMap::new();
    for name in ["s3", "s2", "s1"] {
        for id in enqueue_n(&b, name, "weir.echo", "{}", 150).await {
            queue_of.insert(id, name);
        }
    }
    let mut w = WorkerProc::start(&prefix, &["--queues", "s1,s2,s3", "--strict", "--concurrency", "1"]);
    assert!(w.wait_lines(Duration::from_secs(60), |l| l.len() >= 450), "{}", w.report());
    let order: Vec<&str> = w.lines().iter().map(|l| queue_of[l.split(' ').next().unwrap()]).collect();
    let first = |q: &str| order.iter().position(|x| *x == q).unwrap();
    let last = |q: &str| order.iter().rposition(|x| *x == q).unwrap();
    assert!(last("s1") < first("s2") && last("s2") < first("s3"), "strict order broken: {order:?}");
    let s = wait_stats(&b, "s3", Duration::from_secs(10), |s| s.processed == 150).await;
    assert_eq!(s.processed, 150);
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_queue_is_worked_as_fast_as_its_limit_allows() {
    let b = util::broker("ratelimited").await;
    let prefix = b.prefix().to_string();
    b.set_rate_limit(&crate::worker_support::q("r"), "10/s".parse().unwrap(), 1).await.unwrap();
    enqueue_n(&b, "r", "weir.echo", "{}", 20).await;
    let w = WorkerProc::start(&prefix, &["--queues", "r", "--concurrency", "8"]);
    // 20 jobs at 10/s take about 2 s. Nothing rings when the limit allows
    // more, so a worker that only waited on the doorbell would sit out its
    // 10 s idle wait after every batch.
    assert!(w.wait_lines(Duration::from_secs(6), |l| l.len() == 20), "{}", w.report());
}

/// A queue a worker serves is known before anything is enqueued to it: it
/// shows in `weir stats` and takes `weir pause` without `--create`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_a_worker_serves_are_known_at_its_start() {
    let b = util::broker("served").await;
    let prefix = b.prefix().to_string();
    let q = |name: &str| weir::QueueName::new(name).unwrap();
    assert!(!b.has_queue(&q("served-a")).await.unwrap());
    let mut w = WorkerProc::start(&prefix, &["--queues", "served-a=2,served-b=1"]);
    let known = util::eventually(Duration::from_secs(20), async || {
        b.has_queue(&q("served-a")).await.unwrap() && b.has_queue(&q("served-b")).await.unwrap()
    })
    .await;
    assert!(known, "{}", w.report());
    let stats: serde_json::Value =
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["stats", "--json"]))).unwrap();
    assert_eq!(stats["served-b"]["pending"], 0, "{stats}");
    assert_eq!(util::run_ok(util::weir(&prefix).args(["pause", "served-a"])).trim(), "paused served-a");
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}
