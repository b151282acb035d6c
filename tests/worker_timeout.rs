//! A job that outlives its timeout is stopped (with --exec, its whole
//! process group), retried on its backoff schedule, and dead after its
//! tries with the timeout as its error.
use crate::util;
use crate::worker_support::{WorkerProc, job, q};
use std::time::Duration;
use weir::broker::JobState;

/// Processes whose process group is `pgid`, from /proc.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name: state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) && fields.first() != Some(&"Z") {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_exec_job_is_killed_retried_on_backoff_and_dead_after_its_tries() {
    let b = util::broker("timeout").await;
    let prefix = b.prefix().to_string();
    let dir = std::env::temp_dir().join(format!("weir-{prefix}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pids = dir.join("pgids");
    // The shell (the group leader) records its pid, starts a background
    // child in its group, and outlives the timeout.
    let command = format!("echo $$ >> {}; sleep 30 & sleep 31; wait", pids.display());
    let mut slow = job("x", "slow", "{}");
    slow.timeout = Some(Duration::from_secs(1));
    slow.max_attempts = 2;
    slow.backoff = Some("fixed:700ms".parse().unwrap());
    let id = b.enqueue(slow).await.unwrap().id;
    let exec = format!("slow={command}");
    let mut w = WorkerProc::start(&prefix, &["--queues", "x", "--exec", &exec, "--housekeeping", "300ms"]);
    let dead = util::eventually(Duration::from_secs(30), async || {
        b.job(&q("x"), &id).await.unwrap().is_some_and(|j| j.state == Some(JobState::Dead))
    })
    .await;
    assert!(dead, "{}", w.report());
    let info = b.job(&q("x"), &id).await.unwrap().unwrap();
    assert_eq!(info.attempts, 2);
    assert_eq!(info.errors.len(), 2, "{:?}", info.errors);
    for e in &info.errors {
        assert_eq!(e.error, "timed out after 1s", "{:?}", info.errors);
    }
    // The second attempt started no earlier than the backoff after the first failed.
    let gap = info.errors[1].at - info.errors[0].at;
    assert!(gap >= 1_000 + 700 - 50, "second failure {gap} ms after the first: backoff not applied");
    // Both attempts' process groups are gone (SIGTERM, then SIGKILL).
    let groups: Vec<i32> = std::fs::read_to_string(&pids).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(groups.len(), 2, "one process group per attempt");
    for pgid in groups {
        let gone = util::eventually(Duration::from_secs(10), async || group_members(pgid).is_empty()).await;
        assert!(gone, "process group {pgid} still has {:?}", group_members(pgid));
    }
    assert!(w.running(), "the worker goes on\n{}", w.report());
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_passes_payload_and_environment_and_reports_stderr() {
    let b = util::broker("exec").await;
    let prefix = b.prefix().to_string();
    let ok = b.enqueue(job("e", "show", r#"{"n":7}"#)).await.unwrap().id;
    let mut bad = job("e", "bad", "{}");
    bad.max_attempts = 1;
    let bad = b.enqueue(bad).await.unwrap().id;
    let mut w = WorkerProc::start(
        &prefix,
        &[
            "--queues",
            "e",
            "--exec",
            r#"show=printf '%s|%s|%s|' "$WEIR_JOB_ID" "$WEIR_ATTEMPT" "$WEIR_QUEUE"; cat; echo"#,
            "--exec",
            "bad=echo first >&2; echo 'it broke' >&2; exit 3",
        ],
    );
    assert!(w.wait_lines(Duration::from_secs(20), |l| !l.is_empty()), "{}", w.report());
    assert_eq!(w.lines()[0], format!(r#"{ok}|1|e|{{"n":7}}"#));
    let dead = util::eventually(Duration::from_secs(20), async || {
        b.job(&q("e"), &bad).await.unwrap().is_some_and(|j| j.state == Some(JobState::Dead))
    })
    .await;
    assert!(dead, "{}", w.report());
    let info = b.job(&q("e"), &bad).await.unwrap().unwrap();
    assert_eq!(info.errors[0].error, "command failed with exit status 3: first\nit broke");
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_keeps_its_lease_past_the_first_one() {
    let b = util::broker("extend").await;
    let prefix = b.prefix().to_string();
    // Reserved under the workers' default lease (timeout 1s => lease 2s);
    // the job's own timeout is 10s and it runs 4s, so only extensions keep
    // the other worker (housekeeping every 200ms) from reclaiming it.
    let mut long = job("l", "long", "{}");
    long.timeout = Some(Duration::from_secs(10));
    b.enqueue(long).await.unwrap();
    let args = [
        "--queues",
        "l",
        "--timeout",
        "1s",
        "--housekeeping",
        "200ms",
        "--exec",
        "long=sleep 4; echo attempt $WEIR_ATTEMPT",
    ];
    let mut one = WorkerProc::start(&prefix, &args);
    let mut two = WorkerProc::start(&prefix, &args);
    let done = util::eventually(Duration::from_secs(20), async || b.stats(&q("l")).await.unwrap().processed == 1).await;
    assert!(done, "{}\n{}", one.report(), two.report());
    std::thread::sleep(Duration::from_millis(500));
    let mut runs = one.lines();
    runs.extend(two.lines());
    assert_eq!(runs, vec!["attempt 1"], "ran once, by one worker\n{}\n{}", one.report(), two.report());
    let s = b.stats(&q("l")).await.unwrap();
    assert_eq!((s.failed, s.pending, s.active), (0, 0, 0), "{s:?}");
    for w in [&mut one, &mut two] {
        w.signal("TERM");
        assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_per_job_caps_an_exec_command() {
    let b = util::broker("memjob").await;
    let prefix = b.prefix().to_string();
    let mut big = job("m", "big", "{}");
    big.max_attempts = 1;
    let id = b.enqueue(big).await.unwrap().id;
    let small = b.enqueue(job("m", "small", "{}")).await.unwrap().id;
    let mut w = WorkerProc::start(
        &prefix,
        &[
            "--queues",
            "m",
            "--memory-per-job",
            "64",
            "--exec",
            "big=dd if=/dev/zero of=/dev/null bs=200M count=1",
            "--exec",
            "small=dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null && echo small ok",
        ],
    );
    let dead = util::eventually(Duration::from_secs(20), async || {
        b.job(&q("m"), &id).await.unwrap().is_some_and(|j| j.state == Some(JobState::Dead))
    })
    .await;
    assert!(dead, "{}", w.report());
    let info = b.job(&q("m"), &id).await.unwrap().unwrap();
    assert!(info.errors[0].error.contains("memory exhausted"), "{:?}", info.errors);
    assert!(w.wait_lines(Duration::from_secs(20), |l| l.iter().any(|x| x == "small ok")), "{}", w.report());
    // The command prints before its worker acks it (acks are batched).
    let acked =
        util::eventually(Duration::from_secs(10), async || b.job(&q("m"), &small).await.unwrap().is_none()).await;
    assert!(acked, "the small job is done");
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
}
