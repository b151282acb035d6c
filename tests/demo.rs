//! `weir demo` end to end, on the tests' private Redis.
use crate::util;
use std::time::{Duration, Instant};

#[test]
fn demo_runs_end_to_end_and_exits_zero() {
    let prefix = util::prefix("demo");
    let started = Instant::now();
    let out = util::run_ok(util::weir(&prefix).arg("demo"));
    eprintln!("{out}");
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
    assert!(out.contains("summary"), "{out}");
    assert!(out.contains("jobs/s"), "{out}");
    assert!(out.contains("shares while every queue had work"), "{out}");
    assert!(out.contains("back to 1 and drained"), "{out}");
    // The three acts beside the mix: a limit holding, a timeout, --max-jobs.
    let line = |start: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line: {out}"))
            .to_string()
    };
    let rate = line("rate limit: outbound at 20/s");
    assert!(rate.contains("60 jobs done"), "{rate}");
    let per_s: f64 = rate
        .rsplit(", ")
        .next()
        .and_then(|r| r.strip_suffix(" jobs/s"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{rate}"));
    // By the jobs' done-at times: acks may bunch a little, never by seconds.
    assert!(per_s > 0.0 && per_s <= 24.0, "the queue ran faster than its 20/s limit: {rate}");
    let timeout = line("timeout:");
    assert!(timeout.ends_with(r#"--timeout 2s: dead, "timed out after 2s""#), "{timeout}");
    let recycled = line("max-jobs:");
    let restarts: u32 =
        recycled.split_whitespace().rev().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{recycled}"));
    assert!(recycled.contains("exited with code 10") && restarts >= 1, "{recycled}");
    // It cleans up after itself: nothing is left under its prefix.
    let keys = util::redis().cmd(&["KEYS", &format!("{prefix}-demo-*")]).unwrap();
    assert!(keys.starts_with("*0"), "left keys behind: {keys}");
}

/// A demo that fails (here: past its deadline) still stops every worker it
/// started and cleans up, instead of leaving them running.
#[test]
fn a_failing_demo_leaves_no_worker_behind() {
    let prefix = util::prefix("demo-fail");
    let (code, _, err) = util::run_any(util::weir(&prefix).args(["demo", "--deadline", "3s"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("did not finish within"), "{err}");
    // The demo's workers get their prefix (`<prefix>-demo-<ulid>`) through WEIR_PREFIX.
    let marker = format!("WEIR_PREFIX={prefix}-demo-");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| {
            std::fs::read(e.path().join("environ")).is_ok_and(|env| String::from_utf8_lossy(&env).contains(&marker))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "worker processes left running: {left:?}");
}
