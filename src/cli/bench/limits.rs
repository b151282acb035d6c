//! Workload (r): the limits of the Redis the bench runs against, measured in
//! the same run as the other figures so each can be read as a share of them
//! (the probes are the broker's, `weir::broker::probe`):
//! - `redis_roundtrip_per_s`: one connection of its own, blocking, one
//!   `EVALSHA` of a two-command script at a time; the most any one-at-a-time
//!   caller (enqueue single) can reach;
//! - `redis_pipelined_cmds_per_s`: `INCR`s in pipelines of 1,000, four
//!   pipelines in flight on one connection: what Redis runs per second when
//!   round trips do not count.
use super::{Bench, Figure};
use anyhow::Context;

/// Script calls timed one at a time.
const ROUNDTRIPS: u64 = 20_000;
/// Commands sent in pipelines.
const PIPELINED: u64 = 1_000_000;
const DEPTH: usize = 1_000;
const IN_FLIGHT: usize = 4;

pub async fn run(bench: &Bench) -> anyhow::Result<Vec<Figure>> {
    let broker = bench.broker().await?;
    let n = bench.scaled(ROUNDTRIPS);
    let rt = broker.probe_roundtrips(n).await.context("the round-trip probe")?;
    eprintln!(
        "weir bench: redis_roundtrip: {n} script calls in {:.3} s, one at a time: {:.0}/s, p50 {:.1} us, p99 {:.1} us",
        rt.elapsed.as_secs_f64(),
        rt.per_s(),
        rt.p50.as_secs_f64() * 1e6,
        rt.p99.as_secs_f64() * 1e6
    );
    let (cmds, took) =
        broker.probe_pipelined(bench.scaled(PIPELINED), DEPTH, IN_FLIGHT).await.context("the pipelined probe")?;
    let per_s = cmds as f64 / took.as_secs_f64().max(1e-9);
    eprintln!("weir bench: redis_pipelined: {cmds} INCRs in {:.3} s: {per_s:.0}/s", took.as_secs_f64());
    Ok(vec![
        Figure::new("redis_roundtrip_per_s", rt.per_s(), n, "connections=1,in_flight=1,script=2_commands"),
        Figure::new(
            "redis_pipelined_cmds_per_s",
            per_s,
            cmds,
            format!("connections=1,pipeline={DEPTH},in_flight={IN_FLIGHT},command=INCR"),
        ),
    ])
}
