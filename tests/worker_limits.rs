//! --max-jobs, --max-time and --memory each stop the worker, after the jobs
//! in flight finish, with an exit code of their own.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, q};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_jobs_exits_with_10_after_n_jobs() {
    let b = util::broker("maxjobs").await;
    let prefix = b.prefix().to_string();
    enqueue_n(&b, "m", "weir.sleep", r#"{"ms":200}"#, 10).await;
    let mut w = WorkerProc::start(&prefix, &["--queues", "m", "--concurrency", "4", "--max-jobs", "5"]);
    let status = w.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(10), "{}", w.report());
    let s = b.stats(&q("m")).await.unwrap();
    assert_eq!((s.processed, s.pending, s.active), (5, 5, 0), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_time_exits_with_11_after_running_jobs_finish() {
    let b = util::broker("maxtime").await;
    let prefix = b.prefix().to_string();
    enqueue_n(&b, "t", "weir.sleep", r#"{"ms":2500}"#, 3).await;
    let start = Instant::now();
    let mut w = WorkerProc::start(&prefix, &["--queues", "t", "--concurrency", "2", "--max-time", "1s"]);
    let status = w.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(11), "{}", w.report());
    assert!(start.elapsed() >= Duration::from_millis(2500), "exited before its running jobs ended");
    let s = b.stats(&q("t")).await.unwrap();
    assert_eq!((s.processed, s.pending, s.active, s.failed), (2, 1, 0, 0), "{s:?}\n{}", w.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_exits_with_12_after_a_job_allocates_past_it() {
    let b = util::broker("memory").await;
    let prefix = b.prefix().to_string();
    // Within weir.alloc's cap of 64 MiB, and past the limit below.
    enqueue_n(&b, "a", "weir.alloc", r#"{"mb":60}"#, 1).await;
    enqueue_n(&b, "a", "weir.noop", "{}", 3).await;
    let mut w = WorkerProc::start(&prefix, &["--queues", "a", "--concurrency", "1", "--memory", "50"]);
    let status = w.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(12), "{}", w.report());
    let s = b.stats(&q("a")).await.unwrap();
    assert_eq!((s.processed, s.pending, s.active), (1, 3, 0), "the allocating job finished; the rest wait\n{s:?}");
}

#[test]
fn numbers_past_their_bounds_are_one_line_at_start_not_a_panic_or_a_wrap() {
    let prefix = util::prefix("work-bounds");
    // Before: a semaphore panic, and a memory limit of 2^44 MiB wrapping to 0 bytes.
    for (args, want) in [
        (
            &["--concurrency", "18446744073709551615"][..],
            "concurrency of 18446744073709551615 is over the limit of 10000",
        ),
        (&["--memory", "17592186044416"], "memory of 17592186044416 is over the limit of 1048576"),
        (&["--tries", "4000000000"], "tries of 4000000000 is over the limit of 1000"),
        (&["--grace", "400d"], "grace of 400d is over the limit of"),
        (&["--heartbeat", "9999999h"], "heartbeat of"),
        (&["--max-time", "5000d"], "max time of 5000d is over the limit of"),
    ] {
        let out = util::weir(&prefix).arg("work").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
