//! What the Redis that weir talks to can do at best, measured from this
//! process, so `weir bench` can give each of its figures as a share of it
//! (docs/BENCHMARKS.md). Nothing else uses these; they touch one key of
//! their own, [`crate::keys::probe`].
//!
//! - [`Broker::probe_roundtrips`]: one connection of its own, blocking (no
//!   tokio, no multiplexing), one `EVALSHA` of a two-command script at a
//!   time: what one sequential caller can get, as `redis-benchmark -c 1 -P 1`
//!   measures it.
//! - [`Broker::probe_pipelined`]: simple commands in deep pipelines on the
//!   shared connection: what Redis itself can run per second.
use crate::broker::Broker;
use crate::error::{Error, Result};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn probe_script() -> &'static redis::Script {
    static S: OnceLock<redis::Script> = OnceLock::new();
    S.get_or_init(|| redis::Script::new(include_str!("lua/probe.lua")))
}

/// Sequential script round trips, as measured.
#[derive(Debug, Clone)]
pub struct RoundTrips {
    /// Calls made.
    pub calls: u64,
    /// Their total time.
    pub elapsed: Duration,
    /// Median and 99th percentile of one call.
    pub p50: Duration,
    /// See `p50`.
    pub p99: Duration,
}

impl RoundTrips {
    /// Calls per second over the whole run.
    pub fn per_s(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Nearest-rank percentile `p` (0..=1) of sorted values; zero when empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Broker {
    /// `calls` calls of a two-command script (`lua/probe.lua`), one at a
    /// time on a blocking connection of its own, after one untimed call
    /// that loads the script.
    pub async fn probe_roundtrips(&self, calls: u64) -> Result<RoundTrips> {
        let redis = self.inner.redis.clone();
        let key = crate::keys::probe(self.prefix());
        let calls_usize = usize::try_from(calls).map_err(|_| Error::protocol("probe", "too many calls"))?;
        tokio::task::spawn_blocking(move || {
            let mut conn = redis.blocking_sync()?;
            let call = probe_script().key(&key);
            call.invoke::<i64>(&mut *conn)?;
            let mut each = Vec::with_capacity(calls_usize);
            let start = Instant::now();
            for _ in 0..calls {
                let t = Instant::now();
                call.invoke::<i64>(&mut *conn)?;
                each.push(t.elapsed());
            }
            let elapsed = start.elapsed();
            each.sort_unstable();
            Ok(RoundTrips { calls, elapsed, p50: percentile(&each, 0.50), p99: percentile(&each, 0.99) })
        })
        .await
        .map_err(|e| Error::protocol("probe", e))?
    }

    /// About `cmds` `INCR`s of the probe key in pipelines of `depth`, with
    /// `in_flight` pipelines sent at once on the shared connection; returns
    /// the commands run and the time they took.
    pub async fn probe_pipelined(&self, cmds: u64, depth: usize, in_flight: usize) -> Result<(u64, Duration)> {
        let key = crate::keys::probe(self.prefix());
        let mut pipe = redis::pipe();
        for _ in 0..depth.max(1) {
            pipe.cmd("INCR").arg(&key).ignore();
        }
        let per_round = (depth.max(1) * in_flight.max(1)) as u64;
        let rounds = cmds.div_ceil(per_round).max(1);
        self.pipe::<()>(&pipe).await?;
        let start = Instant::now();
        for _ in 0..rounds {
            for r in futures::future::join_all((0..in_flight.max(1)).map(|_| self.pipe::<()>(&pipe))).await {
                r?;
            }
        }
        Ok((rounds * per_round, start.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v[..1], 0.99), 1);
        assert_eq!(percentile::<u32>(&[], 0.5), 0);
    }
}
