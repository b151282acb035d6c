//! Bad jobs do not stop a worker: a panicking handler, an undecodable
//! payload and a kind with no handler each fail their job and the worker goes
//! on. Handler errors carry retry meaning.
use crate::util;
use crate::worker_support::{WorkerProc, job, q, wait_stats};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use weir::broker::JobState;
use weir_worker::{JobError, StopReason, Worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_bad_payloads_and_unknown_kinds_leave_the_worker_running() {
    let b = util::broker("bad").await;
    let prefix = b.prefix().to_string();
    let mut panic = job("b", "weir.panic", r#"{"message":"boom"}"#);
    panic.max_attempts = 2;
    panic.backoff = Some("fixed:100ms".parse().unwrap());
    let panic = b.enqueue(panic).await.unwrap().id;
    let undecodable = b.enqueue(job("b", "weir.sleep", r#"{"ms":"soon"}"#)).await.unwrap().id;
    let unknown = b.enqueue(job("b", "no.such.kind", "{}")).await.unwrap().id;
    let mut w = WorkerProc::start(&prefix, &["--queues", "b", "--housekeeping", "300ms", "--unknown-kind", "dead"]);
    let s = wait_stats(&b, "b", Duration::from_secs(30), |s| s.dead == 3).await;
    assert_eq!(s.dead, 3, "{s:?}\n{}", w.report());
    let errors = async |id: &str| {
        let info = b.job(&q("b"), id).await.unwrap().unwrap();
        assert_eq!(info.state, Some(JobState::Dead));
        info.errors.into_iter().map(|e| e.error).collect::<Vec<_>>()
    };
    assert_eq!(errors(&panic).await, vec!["handler panicked: boom", "handler panicked: boom"]);
    let decode = errors(&undecodable).await;
    assert_eq!(decode.len(), 1, "a payload that does not decode is not retried");
    assert!(decode[0].starts_with("could not decode the payload"), "{decode:?}");
    assert_eq!(errors(&unknown).await, vec!["no handler for kind no.such.kind in this worker"]);
    // Still working.
    let after = b.enqueue(job("b", "weir.echo", "{}")).await.unwrap().id;
    assert!(w.wait_lines(Duration::from_secs(20), |l| l.iter().any(|x| x.starts_with(&after))), "{}", w.report());
    assert!(w.running());
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_test_kinds_need_the_flag_and_alloc_refuses_sizes_over_its_cap() {
    let b = util::broker("builtin-opt-in").await;
    let prefix = b.prefix().to_string();
    let sleep = b.enqueue(job("o", "weir.sleep", r#"{"ms":1}"#)).await.unwrap().id;
    let mut w = WorkerProc::start_exactly(&prefix, &["--queues", "o", "--unknown-kind", "dead"]);
    let s = wait_stats(&b, "o", Duration::from_secs(30), |s| s.dead == 1).await;
    assert_eq!(s.dead, 1, "{s:?}\n{}", w.report());
    let info = b.job(&q("o"), &sleep).await.unwrap().unwrap();
    assert_eq!(info.errors[0].error, "no handler for kind weir.sleep in this worker", "without --builtin-kinds");
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());

    // Before: 2^20 MiB aborted the process ("memory allocation failed").
    let huge = b.enqueue(job("a", "weir.alloc", r#"{"mb":1048576}"#)).await.unwrap().id;
    let mut w = WorkerProc::start(&prefix, &["--queues", "a"]);
    let s = wait_stats(&b, "a", Duration::from_secs(30), |s| s.dead == 1).await;
    assert_eq!(s.dead, 1, "{s:?}\n{}", w.report());
    let info = b.job(&q("a"), &huge).await.unwrap().unwrap();
    assert_eq!(info.errors.len(), 1, "not retried: {:?}", info.errors);
    assert_eq!(info.errors[0].error, "weir.alloc: 1048576 MiB is over the cap of 64 MiB");
    let after = b.enqueue(job("a", "weir.echo", "{}")).await.unwrap().id;
    assert!(w.wait_lines(Duration::from_secs(20), |l| l.iter().any(|x| x.starts_with(&after))), "{}", w.report());
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Flaky {
    succeed_on: u32,
}
impl weir::Job for Flaky {
    const KIND: &'static str = "flaky";
    const QUEUE: &'static str = "lib";
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Hopeless;
impl weir::Job for Hopeless {
    const KIND: &'static str = "hopeless";
    const QUEUE: &'static str = "lib";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_handlers_retry_after_or_give_up() {
    let b = util::broker("lib").await;
    let client = weir::Client::from_broker(b.clone());
    let flaky = client.enqueue(Flaky { succeed_on: 3 }).await.unwrap().id;
    let hopeless = client.enqueue_with(Hopeless, weir::Options::new().max_attempts(5)).await.unwrap().id;
    let calls = Arc::new(AtomicU32::new(0));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let c = calls.clone();
    let worker = tokio::spawn(
        Worker::builder(client)
            .queues([("lib", 1)])
            .handle::<Flaky, _>(move |job, ctx| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    if ctx.attempt < job.succeed_on {
                        // Far shorter than the default backoff (1s, 2s, ...).
                        return Err(JobError::retry_after("not yet", Duration::from_millis(50)));
                    }
                    Ok(())
                }
            })
            .handle::<Hopeless, _>(|_, _| async { Err(JobError::fatal("cannot ever work")) })
            .run_until(async {
                let _ = stop_rx.await;
            }),
    );
    let done = util::eventually(Duration::from_secs(20), async || {
        let s = b.stats(&q("lib")).await.unwrap();
        s.processed == 1 && s.dead == 1
    })
    .await;
    assert!(done, "{:?}", b.stats(&q("lib")).await.unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(b.job(&q("lib"), &flaky).await.unwrap().is_none(), "done jobs are deleted");
    let info = b.job(&q("lib"), &hopeless).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (Some(JobState::Dead), 1));
    assert_eq!(info.errors[0].error, "cannot ever work");
    stop_tx.send(()).unwrap();
    let outcome = worker.await.unwrap().unwrap();
    assert_eq!((outcome.reason, outcome.jobs_done, outcome.released), (StopReason::Shutdown, 4, 0));
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Charge {
    cents: u64,
}

impl weir::Job for Charge {
    const KIND: &'static str = "charge";
}

async fn charge(job: Charge, ctx: weir::worker::JobContext) -> Result<(), JobError> {
    if job.cents == 0 {
        return Err(JobError::fatal("nothing to charge"));
    }
    if ctx.attempt < 2 {
        return Err(JobError::retry("card network down"));
    }
    Ok(())
}

#[tokio::test]
async fn weir_testing_runs_an_apps_handler_without_redis() {
    // What an app's own unit test writes, through the facade.
    assert!(matches!(weir::testing::run(charge, Charge { cents: 5 }).await, Err(JobError::Retry(_))));
    assert!(weir::testing::run_attempt(charge, Charge { cents: 5 }, 2).await.is_ok());
    assert!(
        matches!(weir::testing::run(charge, Charge { cents: 0 }).await, Err(JobError::Fatal(m)) if m == "nothing to charge")
    );
}

/// A rolling deploy: an old worker without the kind's handler puts its jobs
/// back (no attempt used, logged once), a new worker that has it runs them;
/// with no such worker, the job dies once the window has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_wait_for_a_worker_that_knows_them_then_die_after_the_window() {
    let b = util::broker("unknown-kind").await;
    let prefix = b.prefix().to_string();
    let waits = b.enqueue(job("u", "weir.echo.v2", "{}")).await.unwrap().id;
    let echo = b.enqueue(job("u", "weir.sleep", r#"{"ms":1}"#)).await.unwrap().id;
    // Old worker: knows neither kind (no --builtin-kinds: no weir.sleep).
    let args = ["--queues", "u", "--housekeeping", "100ms", "--unknown-kind-window", "8s"];
    let mut old = WorkerProc::start_exactly(&prefix, &args);
    let s = wait_stats(&b, "u", Duration::from_secs(20), |s| s.unknown_kind >= 4).await;
    assert!(s.unknown_kind >= 4 && s.dead == 0 && s.failed == 0, "put back, not failed: {s:?}\n{}", old.report());
    // `weir stats` shows the count, in JSON and in the table's UNKNOWN column.
    let json: serde_json::Value =
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["stats", "--json"]))).unwrap();
    assert!(json["u"]["unknown_kind"].as_u64().is_some_and(|n| n >= 4), "{json}");
    let table = util::run_ok(util::weir(&prefix).arg("stats"));
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    let column = header.iter().position(|h| *h == "UNKNOWN").unwrap_or_else(|| panic!("{table}"));
    let row: Vec<&str> =
        table.lines().find(|l| l.starts_with("u ")).unwrap_or_else(|| panic!("{table}")).split_whitespace().collect();
    assert!(row[column].parse::<u64>().is_ok_and(|n| n >= 4), "{table}");
    let info = b.job(&q("u"), &echo).await.unwrap().unwrap();
    assert!(info.errors.is_empty() && info.attempts <= 1, "no attempt used: {info:?}");
    // The new worker (with the test kinds) takes weir.sleep as soon as it is due.
    let mut new = WorkerProc::start(&prefix, &["--queues", "u", "--housekeeping", "100ms"]);
    let s = wait_stats(&b, "u", Duration::from_secs(20), |s| s.processed == 1).await;
    assert_eq!(s.processed, 1, "{s:?}\n{}", new.report());
    assert!(b.job(&q("u"), &echo).await.unwrap().is_none(), "done");
    new.signal("TERM");
    assert_eq!(new.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", new.report());
    // Nobody knows weir.echo.v2: after the window it dies, saying why.
    let s = wait_stats(&b, "u", Duration::from_secs(20), |s| s.dead == 1).await;
    assert_eq!(s.dead, 1, "{s:?}\n{}", old.report());
    let info = b.job(&q("u"), &waits).await.unwrap().unwrap();
    let error = &info.errors.last().expect("an error").error;
    assert!(error.starts_with("no handler for kind weir.echo.v2 in this worker (put back for"), "{error}");
    old.signal("TERM");
    assert_eq!(old.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", old.report());
    let stderr = old.stderr();
    for kind in ["weir.echo.v2", "weir.sleep"] {
        let logged = stderr.lines().filter(|l| l.contains("no handler for this kind") && l.contains(kind)).count();
        assert_eq!(logged, 1, "{kind} logged once a minute, not per job: {stderr}");
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Counted;
impl weir::Job for Counted {
    const KIND: &'static str = "counted";
    const QUEUE: &'static str = "tries";
}

/// `ctx.max_attempts` is the limit the worker applies: the job's own,
/// capped by the worker's `--tries` (it gave the job's own, 25, before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_in_the_context_is_capped_by_tries() {
    let b = util::broker("tries").await;
    let client = weir::Client::from_broker(b.clone());
    client.enqueue(Counted).await.unwrap();
    client.enqueue_with(Counted, weir::Options::new().max_attempts(1)).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let s = seen.clone();
    let worker = tokio::spawn(
        Worker::builder(client)
            .queues([("tries", 1)])
            .tries(3)
            .handle::<Counted, _>(move |_, ctx| {
                s.lock().unwrap().push(ctx.max_attempts);
                async { Ok::<_, JobError>(()) }
            })
            .run_until(async {
                let _ = stop_rx.await;
            }),
    );
    let done =
        util::eventually(Duration::from_secs(20), async || b.stats(&q("tries")).await.unwrap().processed == 2).await;
    assert!(done, "{:?}", b.stats(&q("tries")).await.unwrap());
    stop_tx.send(()).unwrap();
    worker.await.unwrap().unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [1, 3], "the job's own 25 capped at --tries 3; its own 1 kept");
}
