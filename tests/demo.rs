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
