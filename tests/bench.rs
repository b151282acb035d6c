//! `weir bench`'s own machinery (speed is measured by running it, never
//! asserted here): the broker's limit probes run exactly the commands they
//! count, and the bench prints every figure it documents.
use crate::util;
use std::collections::HashSet;

#[tokio::test]
async fn the_limit_probes_run_every_command_they_count() {
    let b = util::broker("probe").await;
    let rt = b.probe_roundtrips(30).await.expect("round-trip probe");
    assert_eq!(rt.calls, 30);
    assert!(rt.p50 <= rt.p99 && rt.p99 <= rt.elapsed, "{rt:?}");
    let (cmds, _) = b.probe_pipelined(2_500, 100, 2).await.expect("pipelined probe");
    assert_eq!(cmds, 2_600, "whole rounds of 2 pipelines of 100");
    // One untimed call and one untimed pipeline warm each probe up.
    let counter: u64 = b.query(weir::broker::redis::cmd("GET").arg(format!("{}:probe", b.prefix()))).await.unwrap();
    assert_eq!(counter, 1 + 30 + 100 + 2_600);
}

#[test]
fn bench_prints_the_limits_and_every_enqueue_figure() {
    let prefix = util::prefix("bench-a");
    let out = util::run_ok(util::weir(&prefix).args(["bench", "--only", "a", "-n", "0.002"]));
    let mut metrics = HashSet::new();
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["value"].as_f64().is_some_and(|x| x >= 0.0), "{line}");
        metrics.insert(v["metric"].as_str().unwrap_or_default().to_string());
    }
    for m in [
        "redis_roundtrip_per_s",
        "redis_pipelined_cmds_per_s",
        "enqueue_single_jobs_per_s",
        "enqueue_latency_p50_ms",
        "enqueue_latency_p99_ms",
        "enqueue_concurrent_jobs_per_s",
        "enqueue_bulk_jobs_per_s",
        "redis_cmds_per_job",
        "redis_cpu_s",
    ] {
        assert!(metrics.contains(m), "no {m} in:\n{out}");
    }
}
