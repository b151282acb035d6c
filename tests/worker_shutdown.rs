//! SIGTERM drains gracefully: running jobs finish within the grace time,
//! what still runs after it goes back to its queue with its attempt count
//! unchanged, and a second signal releases at once.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, q, wait_stats};
use std::time::{Duration, Instant};
use weir::broker::JobState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_jobs_finish_and_loses_nothing() {
    let b = util::broker("term").await;
    let prefix = b.prefix().to_string();
    let ids = enqueue_n(&b, "t", "weir.sleep", r#"{"ms":1500}"#, 10).await;
    let mut w = WorkerProc::start(&prefix, &["--queues", "t", "--concurrency", "4", "--grace", "20s"]);
    let s = wait_stats(&b, "t", Duration::from_secs(20), |s| s.active == 4).await;
    assert_eq!(s.active, 4, "{}", w.report());
    let sent = Instant::now();
    w.signal("TERM");
    let status = w.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", w.report());
    eprintln!("SIGTERM -> exit: {:?}", sent.elapsed());
    let s = b.stats(&q("t")).await.unwrap();
    assert_eq!((s.processed, s.pending, s.active, s.dead, s.failed), (4, 6, 0, 0, 0), "{s:?}\n{}", w.report());
    let mut untouched = 0;
    for id in &ids {
        if let Some(info) = b.job(&q("t"), id).await.unwrap() {
            assert_eq!(info.state, Some(JobState::Pending));
            assert_eq!(info.attempts, 0, "a job that never started has no attempt");
            untouched += 1;
        }
    }
    assert_eq!(untouched, 6);
    // The registry entry is gone after a clean exit.
    let workers = b.workers(Duration::from_secs(60)).await.unwrap();
    assert!(workers.is_empty(), "{workers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_past_the_grace_time_is_released_with_its_attempt_unchanged() {
    let b = util::broker("grace").await;
    let prefix = b.prefix().to_string();
    let id = enqueue_n(&b, "g", "weir.sleep", r#"{"ms":60000}"#, 1).await.remove(0);
    let mut w = WorkerProc::start(&prefix, &["--queues", "g", "--grace", "1s", "--timeout", "120s"]);
    let s = wait_stats(&b, "g", Duration::from_secs(20), |s| s.active == 1).await;
    assert_eq!(s.active, 1, "{}", w.report());
    w.signal("TERM");
    let status = w.wait_exit(Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", w.report());
    let info = b.job(&q("g"), &id).await.unwrap().expect("the job is still there");
    assert_eq!(info.state, Some(JobState::Pending), "{}", w.report());
    assert_eq!(info.attempts, 0, "released: the attempt is not counted");
    assert!(info.errors.is_empty(), "{:?}", info.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_releases_at_once() {
    let b = util::broker("twice").await;
    let prefix = b.prefix().to_string();
    let id = enqueue_n(&b, "s", "weir.sleep", r#"{"ms":60000}"#, 1).await.remove(0);
    let mut w = WorkerProc::start(&prefix, &["--queues", "s", "--grace", "120s", "--timeout", "120s"]);
    let s = wait_stats(&b, "s", Duration::from_secs(20), |s| s.active == 1).await;
    assert_eq!(s.active, 1, "{}", w.report());
    w.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.running(), "the first signal waits for the job (grace 120s)\n{}", w.report());
    w.signal("INT");
    let status = w.wait_exit(Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", w.report());
    let info = b.job(&q("s"), &id).await.unwrap().expect("the job is still there");
    assert_eq!((info.state, info.attempts), (Some(JobState::Pending), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_reserves_in_flight_loses_nothing() {
    let b = util::broker("termbusy").await;
    let prefix = b.prefix().to_string();
    // Concurrency 100: two reserve calls in flight at once.
    let ids = enqueue_n(&b, "p", "weir.sleep", r#"{"ms":30}"#, 3000).await;
    let mut w = WorkerProc::start(&prefix, &["--queues", "p", "--concurrency", "100"]);
    let s = wait_stats(&b, "p", Duration::from_secs(30), |s| s.processed >= 500).await;
    assert!(s.processed >= 500, "{s:?}\n{}", w.report());
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(20)).and_then(|s| s.code()), Some(0), "{}", w.report());
    let s = b.stats(&q("p")).await.unwrap();
    assert_eq!((s.active, s.delayed, s.dead, s.failed), (0, 0, 0, 0), "{s:?}\n{}", w.report());
    assert_eq!(s.processed + s.pending, 3000, "{s:?}");
    for id in &ids {
        if let Some(info) = b.job(&q("p"), id).await.unwrap() {
            assert_eq!((info.state, info.attempts), (Some(JobState::Pending), 0), "{id}");
        }
    }
}
