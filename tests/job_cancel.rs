//! Cancelling jobs (`Client::cancel`, `weir cancel`): pending and delayed
//! jobs are removed, running ones stopped by their worker (a Rust handler's
//! `ctx.cancelled()`, an `--exec` command's process group) and buried as
//! "cancelled", never retried; done, dead and unknown ids are refused; a
//! cancelled job whose worker died is buried by reclaim. And the worker of
//! an active job in its status.
use crate::observability::{http_get, sample, wait_served};
use crate::util;
use crate::worker_support::{WorkerProc, job, q};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use weir::broker::{Cancel, JobState, Selector};
use weir_worker::{JobError, Worker};

#[derive(serde::Serialize, serde::Deserialize)]
struct Render {
    page: u32,
}
impl weir::Job for Render {
    const KIND: &'static str = "render";
    const QUEUE: &'static str = "cx";
}

fn cancel_cli(prefix: &str, id: &str) -> (Option<i32>, serde_json::Value, String) {
    let (code, out, err) = util::run_any(util::weir(prefix).args(["cancel", id, "--json"]));
    (code, serde_json::from_str(&out).unwrap_or(serde_json::Value::Null), err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_and_delayed_jobs_are_removed_and_finished_or_unknown_ids_refused() {
    let b = util::broker("cancel-queued").await;
    let client = weir::Client::from_broker(b.clone());
    let prefix = b.prefix().to_string();

    // Pending, with a unique key: gone, and the key is free again.
    let first = client.enqueue_with(Render { page: 1 }, weir::Options::new().unique("page-1")).await.unwrap();
    let (code, v, err) = cancel_cli(&prefix, &first.id);
    assert_eq!(code, Some(0), "{v} {err}");
    assert_eq!(
        (v["outcome"].as_str(), v["was"].as_str(), v["queue"].as_str()),
        (Some("removed"), Some("pending"), Some("cx"))
    );
    assert_eq!(v["id"], first.id.as_str());
    assert_eq!(client.status(&first.id).await.unwrap().state, None, "a cancelled pending job is gone");
    let again = client.enqueue_with(Render { page: 1 }, weir::Options::new().unique("page-1")).await.unwrap();
    assert!(again.created && again.id != first.id, "the unique key was freed: {again:?}");
    let k = b.keys(&q("cx"));
    let fields: Vec<String> = b.query(weir::broker::redis::cmd("HKEYS").arg(&k.jobs)).await.unwrap();
    assert!(fields.iter().all(|f| !f.ends_with(first.id.as_str())), "its data is deleted: {fields:?}");

    // Delayed: removed too, through the client.
    let later = client.enqueue_with(Render { page: 2 }, weir::Options::new().delay(Duration::from_secs(3600))).await;
    let later = later.unwrap().id;
    assert_eq!(client.cancel(&later).await.unwrap(), Cancel::Removed { queue: q("cx"), was: JobState::Delayed });
    assert_eq!(client.status(&later).await.unwrap().state, None);
    let stats = b.stats(&q("cx")).await.unwrap();
    assert_eq!((stats.cancelled, stats.pending, stats.delayed, stats.dead), (2, 1, 0, 0), "{stats:?}");

    // Done: nothing to cancel, exit 3.
    let mut sel = Selector::strict([q("cx")]).unwrap();
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().remove(0);
    assert_eq!(r.lease.id, again.id);
    b.ack(&[(r.lease, Duration::from_millis(1))]).await.unwrap();
    let (code, v, _) = cancel_cli(&prefix, &again.id);
    assert_eq!((code, v["outcome"].as_str()), (Some(3), Some("done")), "{v}");
    let (code, out, err) = util::run_any(util::weir(&prefix).args(["cancel", &again.id]));
    assert_eq!(code, Some(3));
    assert!(err.contains("already done") && out.is_empty(), "{err}");
    assert_eq!(client.status(&again.id).await.unwrap().state, Some(JobState::Done), "a done job stays done");

    // Dead: says so, exit 3, left as it is.
    let dead = b.enqueue(job("cx", "weir.noop", "{}")).await.unwrap().id;
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().remove(0);
    b.bury(&r.lease, "gave up").await.unwrap();
    let (code, out, err) = util::run_any(util::weir(&prefix).args(["cancel", &dead]));
    assert_eq!(code, Some(3), "{out}");
    assert!(err.contains("already dead"), "{err}");
    let s = client.status(&dead).await.unwrap();
    assert_eq!((s.state, s.errors.len()), (Some(JobState::Dead), 1), "{s:?}");

    // Unknown: exit 4; a bad id: one line, exit 1.
    let (code, v, err) = cancel_cli(&prefix, "01NOSUCHJOB");
    assert_eq!((code, v["outcome"].as_str()), (Some(4), Some("unknown")), "{v} {err}");
    let (code, _, err) = util::run_any(util::weir(&prefix).args(["cancel", "01NOSUCHJOB"]));
    assert_eq!(code, Some(4));
    assert!(err.contains("no job 01NOSUCHJOB"), "{err}");
    let (code, _, err) = util::run_any(util::weir(&prefix).args(["cancel", "bad id{"]));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(b.stats(&q("cx")).await.unwrap().cancelled, 2, "refused cancels count nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_rust_job_is_stopped_named_with_its_worker_and_retried_only_by_hand() {
    let b = util::broker("cancel-running").await;
    let client = weir::Client::from_broker(b.clone());
    let id = client.enqueue(Render { page: 7 }).await.unwrap().id;
    let runs = Arc::new(AtomicU32::new(0));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let r = runs.clone();
    let worker = tokio::spawn(
        Worker::builder(client.clone())
            .queues([("cx", 1)])
            .heartbeat(Duration::from_millis(200))
            .handle::<Render, _>(move |_, ctx| {
                let run = r.fetch_add(1, Ordering::SeqCst) + 1;
                let seen = seen_tx.clone();
                async move {
                    if run > 1 {
                        return Ok::<_, JobError>(());
                    }
                    // The handler's future is dropped when the job stops; a
                    // task holding the token sees why.
                    let token = ctx.cancelled().clone();
                    tokio::spawn(async move {
                        token.cancelled().await;
                        let _ = seen.send(run);
                    });
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })
            .run_until(async {
                let _ = stop_rx.await;
            }),
    );
    let running = util::eventually(Duration::from_secs(20), async || {
        client.status(&id).await.unwrap().worker.is_some_and(|w| w.pid.is_some())
    })
    .await;
    let s = client.status(&id).await.unwrap();
    assert!(running, "{s:?}");
    assert_eq!(s.state, Some(JobState::Active));
    let w = s.worker.clone().unwrap();
    let registered = b.workers(Duration::from_secs(40)).await.unwrap();
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(w.id, registered[0].id, "the status names the registered worker");
    assert_eq!((w.host.as_deref(), w.pid), (Some(registered[0].host.as_str()), Some(std::process::id())));
    let out = util::run_ok(util::weir(b.prefix()).args(["job", &id]));
    assert!(
        out.contains(&format!("worker    {}", w.id)) && out.contains(&format!("pid {}", std::process::id())),
        "{out}"
    );

    assert_eq!(
        client.cancel(&id).await.unwrap(),
        Cancel::Requested { queue: q("cx"), worker: Some(w.id.clone()), again: false }
    );
    let seen = tokio::time::timeout(Duration::from_secs(20), seen_rx.recv()).await;
    assert_eq!(seen, Ok(Some(1)), "the handler's ctx.cancelled() fired");
    let dead = client.wait(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!((dead.state, dead.attempts), (Some(JobState::Dead), 1), "{dead:?}");
    assert_eq!(dead.errors.last().map(|e| e.error.as_str()), Some("cancelled"), "{dead:?}");
    let stats = b.stats(&q("cx")).await.unwrap();
    assert_eq!((stats.cancelled, stats.failed, stats.dead, stats.active), (1, 0, 1, 0), "{stats:?}");
    // Never retried on its own: one run, still dead after a housekeeping pass.
    b.promote(&q("cx")).await.unwrap();
    b.reclaim(&q("cx")).await.unwrap();
    assert_eq!(client.status(&id).await.unwrap().state, Some(JobState::Dead));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // `weir dead retry` brings it back, and it runs.
    util::run_ok(util::weir(b.prefix()).args(["dead", "retry", &id]));
    let done = client.wait(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(done.state, Some(JobState::Done), "{done:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    stop_tx.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

#[test]
fn a_running_exec_job_has_its_process_group_ended() {
    let prefix = util::prefix("cancel-exec");
    let id = util::run_ok(util::weir(&prefix).args(["enqueue", "--queue", "cz", "--kind", "long", "--json", "{}"]))
        .trim()
        .to_string();
    let w = WorkerProc::start_exactly(
        &prefix,
        &[
            "--queues",
            "cz",
            "--heartbeat",
            "200ms",
            "--metrics-addr",
            "127.0.0.1:0",
            "--exec",
            "long=sleep 300 & echo child=$!; wait",
        ],
    );
    let addr = wait_served(&w);
    assert!(w.wait_lines(Duration::from_secs(20), |l| l.iter().any(|l| l.starts_with("child="))), "{}", w.report());
    let child: i32 = w.lines().iter().find_map(|l| l.strip_prefix("child=")?.parse().ok()).unwrap();
    // Alive (or a zombie nobody reaped yet) while /proc lists it so.
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next().map(|st| st != "Z")))
            .unwrap_or(false)
    };
    assert!(alive(child), "the command's child runs");
    let (code, v, err) = cancel_cli(&prefix, &id);
    assert_eq!((code, v["outcome"].as_str()), (Some(0), Some("requested")), "{v} {err}");
    let start = std::time::Instant::now();
    while alive(child) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(child), "the child of the cancelled command is gone\n{}", w.report());
    let status = || -> serde_json::Value {
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["job", &id, "--json"]))).unwrap()
    };
    let start = std::time::Instant::now();
    while status()["state"] != "dead" && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = status();
    assert_eq!((s["state"].as_str(), s["errors"][0]["error"].as_str()), (Some("dead"), Some("cancelled")), "{s}");
    let series = r#"weir_jobs_total{queue="cz",kind="long",outcome="cancelled"}"#;
    let start = std::time::Instant::now();
    let mut text = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        text = http_get(&addr, "/metrics").unwrap().1;
        if sample(&text, series) == Some(1.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sample(&text, series), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"weir_jobs_total{queue="cz",kind="long",outcome="retry"}"#), Some(0.0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_whose_worker_died_or_that_came_back_is_buried_not_run() {
    let config = util::config(&util::prefix("cancel-reclaim"));
    config.clock.freeze();
    let b = util::broker_with(config.clone()).await;
    let mut sel = Selector::strict([q("cr")]).unwrap();
    let id = b.enqueue(job("cr", "weir.noop", "{}")).await.unwrap().id;
    let r = b.reserve_for(&mut sel, 1, Duration::from_secs(30), "gone-worker").await.unwrap().remove(0);
    let s = b.status(&id).await.unwrap();
    let w = s.worker.clone().unwrap();
    assert_eq!((w.id.as_str(), w.host, w.pid), ("gone-worker", None, None), "an unregistered worker: id only");
    assert_eq!(
        b.cancel(&id).await.unwrap(),
        Cancel::Requested { queue: q("cr"), worker: Some("gone-worker".into()), again: false }
    );
    let again = b.cancel(&id).await.unwrap();
    assert_eq!(again, Cancel::Requested { queue: q("cr"), worker: Some("gone-worker".into()), again: true });
    assert!(b.status(&id).await.unwrap().cancel_requested_at.is_some());
    // Its lease renews, saying the job is to stop.
    assert_eq!(
        b.renew(std::slice::from_ref(&r.lease), Duration::from_secs(30)).await.unwrap(),
        vec![weir::broker::Renewal::CancelRequested]
    );
    // The worker died: reclaim buries it as cancelled, never back to pending.
    config.clock.advance(Duration::from_secs(61));
    let reclaimed = b.reclaim(&q("cr")).await.unwrap();
    assert_eq!((reclaimed.requeued, reclaimed.buried), (0, 1));
    let s = b.status(&id).await.unwrap();
    assert_eq!(s.state, Some(JobState::Dead), "{s:?}");
    assert_eq!(s.errors.iter().map(|e| e.error.as_str()).collect::<Vec<_>>(), vec!["cancelled"]);
    assert_eq!(b.fail(&r.lease, "late", None).await.unwrap(), weir::broker::FailOutcome::Lost);

    // Released at a shutdown before its worker saw the request: reserve buries it.
    let id2 = b.enqueue(job("cr", "weir.noop", "{}")).await.unwrap().id;
    let r2 = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().remove(0);
    assert!(matches!(b.cancel(&id2).await.unwrap(), Cancel::Requested { worker: None, .. }));
    assert_eq!(b.release(&[r2.lease]).await.unwrap(), vec![true]);
    assert!(b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().is_empty(), "never handed out again");
    let s = b.status(&id2).await.unwrap();
    assert_eq!(s.state, Some(JobState::Dead), "{s:?}");
    assert_eq!(s.errors.last().map(|e| e.error.as_str()), Some("cancelled"));
    let stats = b.stats(&q("cr")).await.unwrap();
    assert_eq!((stats.cancelled, stats.dead, stats.failed, stats.pending), (2, 2, 0, 0), "{stats:?}");
}
