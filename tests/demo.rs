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
