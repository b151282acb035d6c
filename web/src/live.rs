//! The overview's live figures: the queues' counters as sampled by the
//! overview itself (the open page asks once a second), kept for 15 minutes
//! at 1 s resolution in this process. Nothing runs while no page is open.
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How long the live chart reaches back.
pub const WINDOW_MS: i64 = 15 * 60_000;
/// Samples closer together than this are not taken (several open pages
/// still sample once a second).
const MIN_GAP_MS: i64 = 900;
/// Per-queue counters are kept this long, for the per-minute rates.
const RATE_WINDOW_MS: i64 = 65_000;

/// One step of the live chart: jobs processed and failed per second since
/// the sample before, over every queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// When the step ends (ms since the epoch).
    pub at: i64,
    /// Jobs finished per second over the step, every queue.
    pub processed_per_s: f64,
    /// Attempts failed per second over the step, every queue.
    pub failed_per_s: f64,
}

/// Each queue's (processed, failed) counters at one time.
type Counters = HashMap<String, (u64, u64)>;

#[derive(Debug, Default)]
struct Samples {
    steps: VecDeque<Step>,
    /// (time, queue -> (processed, failed)), oldest first.
    counters: VecDeque<(i64, Counters)>,
}

#[derive(Debug, Default)]
/// The overview's live chart: the last steps, sampled when a page asks
/// (at most once a second), kept in memory.
pub struct Live {
    inner: Mutex<Samples>,
}

impl Live {
    /// Takes a sample of every queue's (processed, failed) counters read at
    /// `at` (ms), unless the last one is less than a second old.
    pub fn record(&self, at: i64, queues: impl IntoIterator<Item = (String, u64, u64)>) {
        let mut s = self.inner.lock().expect("live samples");
        if s.counters.back().is_some_and(|(t, _)| at - t < MIN_GAP_MS) {
            return;
        }
        let now: Counters = queues.into_iter().map(|(q, p, f)| (q, (p, f))).collect();
        if let Some((t, before)) = s.counters.back() {
            // Only queues seen both times count: a new queue is not a burst,
            // and a counter that went down (data deleted) adds nothing.
            let (mut dp, mut df) = (0u64, 0u64);
            for (q, (p, f)) in &now {
                if let Some((p0, f0)) = before.get(q) {
                    dp += p.saturating_sub(*p0);
                    df += f.saturating_sub(*f0);
                }
            }
            let secs = (at - t) as f64 / 1000.0;
            s.steps.push_back(Step { at, processed_per_s: dp as f64 / secs, failed_per_s: df as f64 / secs });
        }
        s.counters.push_back((at, now));
        while s.steps.front().is_some_and(|st| st.at < at - WINDOW_MS) {
            s.steps.pop_front();
        }
        while s.counters.len() > 1 && s.counters.front().is_some_and(|(t, _)| *t < at - RATE_WINDOW_MS) {
            s.counters.pop_front();
        }
    }

    /// The chart's steps, oldest first.
    pub fn steps(&self) -> Vec<Step> {
        self.inner.lock().expect("live samples").steps.iter().copied().collect()
    }

    /// `queue`'s (processed, failed) per minute over the last minute of
    /// samples; None until samples span at least 5 s.
    pub fn per_minute(&self, queue: &str) -> Option<(f64, f64)> {
        let s = self.inner.lock().expect("live samples");
        let (t1, last) = s.counters.back()?;
        let (t0, (p0, f0)) = s.counters.iter().find_map(|(t, m)| m.get(queue).map(|c| (*t, *c)))?;
        let (p1, f1) = last.get(queue)?;
        let span = t1 - t0;
        if span < 5_000 {
            return None;
        }
        let per_min = |d: u64| d as f64 * 60_000.0 / span as f64;
        Some((per_min(p1.saturating_sub(p0)), per_min(f1.saturating_sub(f0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_samples() {
        let live = Live::default();
        live.record(0, [("a".to_string(), 0, 0)]);
        live.record(500, [("a".to_string(), 100, 0)]); // too soon: dropped
        assert!(live.per_minute("a").is_none());
        live.record(10_000, [("a".to_string(), 100, 10), ("b".to_string(), 5_000, 0)]);
        let steps = live.steps();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].processed_per_s, 10.0, "b is new: not counted");
        assert_eq!(live.per_minute("a"), Some((600.0, 60.0)));
        assert_eq!(live.per_minute("b"), None);
        // A counter that went down (queue deleted and recreated) adds nothing.
        live.record(20_000, [("a".to_string(), 50, 10)]);
        assert_eq!(live.steps()[1].processed_per_s, 0.0);
    }

    #[test]
    fn old_samples_go() {
        let live = Live::default();
        for i in 0..2_000 {
            live.record(i * 1000, [("a".to_string(), i as u64, 0)]);
        }
        assert!(live.steps().len() <= 901);
        assert_eq!(live.per_minute("a"), Some((60.0, 0.0)));
    }
}
