//! Turning a retry schedule into the delay before the next attempt (backon).
use backon::{BackoffBuilder, ConstantBuilder, ExponentialBuilder};
use std::time::Duration;
use weir_broker::Backoff;

/// The delay after failed attempt number `attempt` (1-based).
pub fn delay(backoff: &Backoff, attempt: u32) -> Duration {
    let n = attempt.max(1) as usize;
    match backoff {
        // base × 2^(n-1), capped, with jitter in [d/2, d): backon adds a
        // jitter of [0, d) on top of d, so it is built on half the values.
        Backoff::Exponential { base, cap } => ExponentialBuilder::default()
            .with_min_delay(*base / 2)
            .with_max_delay(*cap / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(n - 1)
            .unwrap_or(*cap),
        Backoff::Fixed(d) => ConstantBuilder::default().with_delay(*d).without_max_times().build().next().unwrap_or(*d),
        Backoff::Schedule(list) => list.get(n - 1).or(list.last()).copied().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_within_jitter_and_caps() {
        let b: Backoff = "exp:1s:10s".parse().unwrap();
        for (attempt, full) in [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (5, 10_000), (9, 10_000)] {
            for _ in 0..50 {
                let d = delay(&b, attempt).as_millis() as u64;
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d} not in [{}, {full}]", full / 2);
            }
        }
    }

    #[test]
    fn fixed_and_lists() {
        let b: Backoff = "fixed:5s".parse().unwrap();
        assert_eq!(delay(&b, 7), Duration::from_secs(5));
        let b: Backoff = "1s,5s,10s".parse().unwrap();
        let got: Vec<u64> = (1..=5).map(|a| delay(&b, a).as_secs()).collect();
        assert_eq!(got, vec![1, 5, 10, 10, 10]);
    }
}
