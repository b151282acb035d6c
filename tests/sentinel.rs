//! The whole system behind Redis Sentinel (master, replica, 3 sentinels,
//! service `weir`, weir-testkit): a forced failover mid-drain loses no job,
//! and the CLI works through the sentinel URL. Also: `weir work` against an
//! unreachable Redis still ends on SIGTERM within its grace time.
use crate::cluster::{assert_all_ran, cli, cli_stdin, runs_per_id, stats_json};
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n};
use std::time::{Duration, Instant};
use weir::broker::Broker;
use weir_testkit::{RedisServer, SentinelGroup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_during_a_drain_loses_nothing() {
    let t0 = Instant::now();
    let group = SentinelGroup::start();
    let url = group.url();
    let prefix = util::prefix("sentinel-failover");
    let b = Broker::connect(&url, util::config(&prefix)).await.expect("connect through sentinel");
    let ids = enqueue_n(&b, "fo", "weir.sleep", r#"{"ms":20,"echo":true}"#, 5_000).await;
    let args = [
        "--queues",
        "fo",
        "--concurrency",
        "32",
        "--timeout",
        "2s",
        "--housekeeping",
        "300ms",
        "--heartbeat",
        "1s",
        "--grace",
        "5s",
    ];
    let mut w = WorkerProc::start_at(&url, &prefix, &args);
    assert!(w.wait_lines(Duration::from_secs(60), |l| l.len() >= 1_500), "{}", w.report());
    let done_at_fault = w.lines().len();
    let fault_start = Instant::now();
    let old = group.master_port();
    let new = group.failover();
    let fault_secs = fault_start.elapsed().as_secs_f64();
    let done_after_fault = w.lines().len();
    assert_all_ran(&w, &ids, Duration::from_secs(90), &format!("failover {old} -> {new}"));
    let runs = runs_per_id(&w.lines());
    let twice = ids.iter().filter(|id| runs.get(id.as_str()).copied().unwrap_or(0) > 1).count();
    // Both runs at attempt 1: the reserve itself was lost (written to the
    // old master after the replica took over), not only the ack.
    let mut attempts: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    let lines = w.lines();
    for l in &lines {
        let mut it = l.split(' ');
        if let (Some(id), Some(a)) = (it.next(), it.next()) {
            attempts.entry(id).or_default().push(a);
        }
    }
    let twice_at_attempt_1 = attempts.values().filter(|a| a.iter().filter(|x| **x == "1").count() > 1).count();
    let extra_runs: usize = ids.iter().map(|id| runs.get(id.as_str()).copied().unwrap_or(0).saturating_sub(1)).sum();
    w.signal("TERM");
    let code = w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code());
    eprintln!(
        "sentinel failover 127.0.0.1:{old} -> 127.0.0.1:{new}: 5,000 jobs, 0 lost, {twice} ran more than once \
         ({extra_runs} extra runs, {twice_at_attempt_1} of them twice at attempt 1); {done_at_fault} done at the failover, {done_after_fault} when it was over \
         ({fault_secs:.1}s); worker exit {code:?}; {:.1}s in all",
        t0.elapsed().as_secs_f64()
    );
    assert!(twice <= 50, "{twice} of 5,000 jobs (over 1 %) ran more than once\n{}", w.report());
    assert_eq!(code, Some(0), "{}", w.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_behind_sentinel() {
    let group = SentinelGroup::start();
    let url = group.url();
    let prefix = util::prefix("sentinel-cli");
    for _ in 0..3 {
        let id = cli(&url, &prefix, &["enqueue", "--queue", "mail", "--kind", "send", "--json", "{}"]);
        assert_eq!(id.trim().len(), 26, "a ULID: {id}");
    }
    let out = cli_stdin(&url, &prefix, &["--queue", "mail", "--kind", "send"], "{\"n\":1}\n{\"n\":2}\n");
    assert_eq!(out.lines().count(), 2, "{out}");
    let s = stats_json(&url, &prefix);
    assert_eq!(s["mail"]["pending"], 5, "{s}");
    assert_eq!(s["mail"]["paused"], false, "{s}");
    // The data is on the master the sentinels name.
    let b = Broker::connect(&format!("redis://127.0.0.1:{}", group.master_port()), util::config(&prefix))
        .await
        .expect("connect to the master");
    assert_eq!(b.stats(&crate::worker_support::q("mail")).await.unwrap().pending, 5);
    // The bench's limit probes (a blocking connection to the master the sentinels name).
    let limits = cli(&url, &prefix, &["bench", "--only", "r", "-n", "0.001"]);
    assert!(limits.contains("redis_roundtrip_per_s") && limits.contains("redis_pipelined_cmds_per_s"), "{limits}");
}

/// `weir work` with nothing listening at its Redis, plain and through a
/// sentinel URL: on SIGTERM it ends within its grace time (2 s) plus slack.
#[test]
fn work_against_an_unreachable_redis_ends_on_sigterm() {
    let mut server = RedisServer::start();
    let port = server.port();
    server.kill9();
    let prefix = util::prefix("unreachable");
    for url in
        [format!("redis://127.0.0.1:{port}"), format!("redis-sentinel://127.0.0.1:{port}?sentinelServiceName=weir")]
    {
        let mut w = WorkerProc::start_at(&url, &prefix, &["--queues", "a", "--grace", "2s"]);
        std::thread::sleep(Duration::from_millis(1_000));
        let exited_early = !w.running();
        if !exited_early {
            w.signal("TERM");
        }
        let start = Instant::now();
        let status = w.wait_exit(Duration::from_secs(10));
        eprintln!(
            "weir work on unreachable {url}: {} ; ended {:.2}s after SIGTERM with {status:?}",
            if exited_early { "exited before SIGTERM" } else { "running at 1 s" },
            start.elapsed().as_secs_f64()
        );
        assert!(status.is_some(), "weir work on {url} still running 10 s after SIGTERM\n{}", w.report());
    }

    // Reachable at the start, then gone while the worker idles on it.
    let mut server = RedisServer::start();
    let mut w = WorkerProc::start_at(&server.url(), &prefix, &["--queues", "a", "--grace", "2s"]);
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(w.running(), "the worker started\n{}", w.report());
    server.kill9();
    std::thread::sleep(Duration::from_millis(1_000));
    assert!(w.running(), "the worker rides out a lost Redis until told to stop\n{}", w.report());
    w.signal("TERM");
    let start = Instant::now();
    let status = w.wait_exit(Duration::from_secs(10));
    eprintln!(
        "weir work whose Redis died under it: ended {:.2}s after SIGTERM with {status:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(status.is_some(), "weir work whose Redis died still running 10 s after SIGTERM\n{}", w.report());
}
