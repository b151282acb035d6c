//! Fleet-wide limits held by several real `weir work` processes, and
//! back-pressure and in-process limits through the worker.
use crate::broker_enqueue::q;
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, job};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use weir::broker::{Broker, JobState};

/// `S|E <id> <attempt> <ms>` lines of `weir.stamp`: (id, start, end) per run.
fn stamps(lines: &[String]) -> Vec<(String, i64, Option<i64>)> {
    let mut open: HashMap<String, i64> = HashMap::new();
    let mut out = Vec::new();
    for l in lines {
        let parts: Vec<&str> = l.split_whitespace().collect();
        if let [tag, id, _attempt, ms] = parts.as_slice() {
            let ms: i64 = ms.parse().unwrap();
            match *tag {
                "S" => {
                    open.insert(id.to_string(), ms);
                }
                "E" => {
                    let start = open.remove(*id).expect("end without start");
                    out.push((id.to_string(), start, Some(ms)));
                }
                _ => {}
            }
        }
    }
    out.extend(open.into_iter().map(|(id, s)| (id, s, None)));
    out
}

/// The largest number of starts in any window of `window_ms`.
fn max_in_window(mut starts: Vec<i64>, window_ms: i64) -> usize {
    starts.sort();
    let mut best = 0;
    let mut j = 0;
    for i in 0..starts.len() {
        while starts[i] - starts[j] >= window_ms {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    best
}

async fn wait_processed(b: &Broker, queue: &str, n: u64, within: Duration) {
    let ok = util::eventually(within, async || b.stats(&q(queue)).await.unwrap().processed >= n).await;
    assert!(ok, "{queue}: {:?}", b.stats(&q(queue)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_rate_limit_holds_across_three_workers() {
    let prefix = util::prefix("fleet-rate");
    let b = util::broker_with(util::config(&prefix)).await;
    util::run_ok(util::weir(&prefix).args(["limit", "set", "webhooks", "--rate", "50/s", "--burst", "10", "--create"]));
    enqueue_n(&b, "webhooks", "weir.stamp", "{}", 600).await;
    let workers = fleet(&prefix, 3, &["--queues", "webhooks", "--concurrency", "16"]);
    wait_processed(&b, "webhooks", 600, Duration::from_secs(40)).await;
    let runs = stop_all(workers);
    assert_eq!(runs.len(), 600);
    let starts: Vec<i64> = runs.iter().map(|r| r.1).collect();
    let span = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    let busiest = max_in_window(starts, 1_000);
    eprintln!("600 jobs at 50/s burst 10 over 3 workers: {span} ms, busiest second {busiest} starts");
    assert!(span >= 11_000, "took only {span} ms");
    // The limit admits at most 10 + 50 reservations in any second; starts are
    // stamped by the workers just after, so a process the machine stalls can
    // bunch a few of them into the next window: 10 % slack (no limit at all
    // would put hundreds in one second).
    assert!(busiest <= 66, "{busiest} starts in one second");
    let s = b.stats(&q("webhooks")).await.unwrap();
    assert_eq!((s.failed, s.dead), (0, 0), "jobs over the limit are not failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_keys_run_at_their_own_pace_and_other_keys_are_not_delayed() {
    let prefix = util::prefix("fleet-keys");
    let b = util::broker_with(util::config(&prefix)).await;
    util::run_ok(util::weir(&prefix).args(["limit", "set-key", "guild:*", "--rate", "5/s"]));
    let mut jobs = Vec::new();
    for i in 0..25 {
        for key in ["guild:1", "guild:2"] {
            let mut j = job("discord", "weir.stamp", "{}");
            j.rate_key = Some(key.into());
            jobs.push(j);
        }
        let _ = i;
    }
    for _ in 0..50 {
        let mut j = job("discord", "weir.stamp", "{}");
        j.rate_key = Some("other:3".into());
        jobs.push(j);
    }
    let ids: Vec<(String, String)> = b
        .enqueue_many(jobs.clone())
        .await
        .unwrap()
        .into_iter()
        .zip(&jobs)
        .map(|(e, j)| (e.id, j.rate_key.clone().unwrap()))
        .collect();
    let key_of: HashMap<String, String> = ids.into_iter().collect();
    let workers = fleet(&prefix, 2, &["--queues", "discord", "--concurrency", "8"]);
    wait_processed(&b, "discord", 100, Duration::from_secs(30)).await;
    let runs = stop_all(workers);
    let starts_of = |key: &str| -> Vec<i64> { runs.iter().filter(|r| key_of[&r.0] == key).map(|r| r.1).collect() };
    let t0 = runs.iter().map(|r| r.1).min().unwrap();
    let span = |v: &[i64]| v.iter().max().unwrap() - v.iter().min().unwrap();
    let (g1, g2, other) = (starts_of("guild:1"), starts_of("guild:2"), starts_of("other:3"));
    eprintln!(
        "guild:1 {} ms, guild:2 {} ms, other:3 done {} ms after the first start",
        span(&g1),
        span(&g2),
        other.iter().max().unwrap() - t0
    );
    for g in [&g1, &g2] {
        assert_eq!(g.len(), 25);
        // 25 jobs at 5/s: 24 intervals of 200 ms = 4.8 s.
        assert!((4_400..=9_000).contains(&span(g)), "{}", span(g));
        assert!(max_in_window(g.clone(), 1_000) <= 6);
    }
    // Side by side: both keys progress at once, not one after the other.
    assert!(g1.iter().max() > g2.iter().min() && g2.iter().max() > g1.iter().min());
    assert_eq!(other.len(), 50);
    assert!(other.iter().max().unwrap() - t0 < 2_000, "the third key was held up");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrency_cap_holds_across_workers_even_when_one_is_killed() {
    let prefix = util::prefix("fleet-cap");
    let b = util::broker_with(util::config(&prefix)).await;
    util::run_ok(util::weir(&prefix).args(["limit", "set", "payments", "--concurrency", "4", "--create"]));
    enqueue_n(&b, "payments", "weir.stamp", r#"{"ms":40}"#, 240).await;
    let args = ["--queues", "payments", "--concurrency", "8", "--timeout", "2s", "--heartbeat", "1s"];
    let mut workers = fleet(&prefix, 3, &args);
    wait_processed(&b, "payments", 40, Duration::from_secs(20)).await;
    workers[0].kill9();
    let killed_at = chrono_ms();
    wait_processed(&b, "payments", 240, Duration::from_secs(60)).await;
    let mut runs = stamps(&workers[0].lines());
    // A job the killed worker was running stopped when it died.
    for r in runs.iter_mut() {
        r.2 = r.2.or(Some(killed_at));
    }
    for w in workers.iter_mut().skip(1) {
        stop(w);
        runs.extend(stamps(&w.lines()));
    }
    let mut events: Vec<(i64, i32)> = Vec::new();
    for (_, start, end) in &runs {
        events.push((*start, 1));
        events.push((end.expect("the survivors finished every job"), -1));
    }
    // Ends before starts at the same millisecond.
    events.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    eprintln!("peak concurrency {peak} over {} runs (cap 4, 3 workers × 8)", runs.len());
    assert!(peak <= 4, "cap exceeded: {peak}");
    assert!(peak >= 3, "the cap was actually reached: {peak}");
    let s = b.stats(&q("payments")).await.unwrap();
    assert_eq!((s.pending, s.active, s.dead), (0, 0, 0));
}

/// `n` workers, each `weir work --builtin-kinds ARGS`.
fn fleet(prefix: &str, n: usize, args: &[&str]) -> Vec<WorkerProc> {
    (0..n).map(|_| WorkerProc::start(prefix, args)).collect()
}

/// Stops every worker ([`stop`]); the runs all of them stamped.
fn stop_all(workers: Vec<WorkerProc>) -> Vec<(String, i64, Option<i64>)> {
    let mut lines = Vec::new();
    for mut w in workers {
        stop(&mut w);
        lines.extend(w.lines());
    }
    stamps(&lines)
}

/// SIGTERM, wait for the exit, and let the output readers drain.
fn stop(w: &mut WorkerProc) {
    w.signal("TERM");
    assert!(w.wait_exit(Duration::from_secs(15)).is_some(), "{}", w.report());
    std::thread::sleep(Duration::from_millis(100));
}

fn chrono_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CallApi {
    n: u32,
}

impl weir::Job for CallApi {
    const KIND: &'static str = "call_api";
    const QUEUE: &'static str = "api";
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_result_reschedules_without_an_attempt_and_holds_the_queue() {
    let prefix = util::prefix("backpressure");
    let b = util::broker_with(util::config(&prefix)).await;
    let client = weir::Client::from_broker(b.clone());
    let first = client.enqueue(CallApi { n: 0 }).await.unwrap().id;
    let calls = Arc::new(AtomicU32::new(0));
    let starts = Arc::new(std::sync::Mutex::new(Vec::<(u32, u32, Instant)>::new()));
    let (c, s) = (calls.clone(), starts.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = weir::worker::Worker::builder(client.clone())
        .queues([("api", 1)])
        .concurrency(4)
        .handle::<CallApi, _>(move |job: CallApi, ctx: weir::worker::JobContext| {
            let (c, s) = (c.clone(), s.clone());
            async move {
                s.lock().unwrap().push((job.n, ctx.attempt, Instant::now()));
                if job.n == 0 && c.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(weir::worker::JobError::rate_limited("HTTP 429", Duration::from_secs(2)));
                }
                Ok(())
            }
        })
        .build()
        .unwrap();
    let run = tokio::spawn(worker.run_until(async {
        let _ = stop_rx.await;
    }));
    // Once the first call was limited, queue more: none may start during the hold.
    assert!(util::eventually(Duration::from_secs(5), async || calls.load(Ordering::SeqCst) == 1).await);
    let limited_at = Instant::now();
    // The snooze reaches Redis just after the handler returns.
    let rescheduled = util::eventually(Duration::from_secs(5), async || {
        b.job(&q("api"), &first).await.unwrap().unwrap().state == Some(JobState::Delayed)
    })
    .await;
    let info = b.job(&q("api"), &first).await.unwrap().unwrap();
    assert!(rescheduled, "{info:?}");
    assert_eq!((info.state, info.attempts), (Some(JobState::Delayed), 0), "rescheduled, no attempt used");
    for n in 1..=3 {
        client.enqueue(CallApi { n }).await.unwrap();
    }
    assert!(util::eventually(Duration::from_secs(10), async || b.stats(&q("api")).await.unwrap().processed == 4).await);
    let _ = stop_tx.send(());
    run.await.unwrap().unwrap();
    let starts = starts.lock().unwrap().clone();
    let later: Vec<_> = starts.iter().skip(1).collect();
    assert_eq!(later.len(), 4, "{starts:?}");
    for (n, attempt, at) in later {
        assert!(at.duration_since(limited_at) >= Duration::from_millis(1_800), "job {n} started during the hold");
        if *n == 0 {
            assert_eq!(*attempt, 1, "the limited attempt was not counted");
        }
    }
    assert_eq!(b.stats(&q("api")).await.unwrap().failed, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn weir_work_rate_smooths_one_process() {
    let prefix = util::prefix("inprocess-rate");
    let b = util::broker_with(util::config(&prefix)).await;
    enqueue_n(&b, "local", "weir.stamp", "{}", 41).await;
    let mut w = WorkerProc::start(&prefix, &["--queues", "local", "--concurrency", "16", "--rate", "local=20/s"]);
    wait_processed(&b, "local", 41, Duration::from_secs(20)).await;
    stop(&mut w);
    let starts: Vec<i64> = stamps(&w.lines()).into_iter().map(|r| r.1).collect();
    let span = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    eprintln!("41 jobs at 20/s in one process: {span} ms");
    assert!(span >= 1_800, "{span} ms");
    // Bad flags: one clear line.
    let out = util::weir(&prefix).args(["work", "--queues", "local", "--rate", "local=0/s"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_limit_flags_are_refused_and_store_nothing() {
    let prefix = util::prefix("limit-cli-bad");
    for args in [
        &["limit", "set", "q", "--rate", "0/s"][..],
        &["limit", "set", "q", "--rate", "fast"],
        &["limit", "set", "q", "--concurrency", "0"],
        &["limit", "set", "q", "--rate", "5/s", "--burst", "0"],
        &["limit", "set-key", "k:*", "--rate", "0/m"],
    ] {
        let out = util::weir(&prefix).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("rate") || err.contains("concurrency") || err.contains("burst"), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    let list = util::run_ok(util::weir(&prefix).args(["limit", "list", "--json"]));
    assert_eq!(list.trim(), r#"{"keys":[],"queues":{}}"#);
}
