//! The scaling policy: a pure function of the figures of one tick and of
//! the previous decisions. No Redis, no clock: tests drive it directly.
//!
//! - Desired workers come from a time-to-clear estimate: the backlog (pending
//!   plus delayed jobs due before the next tick, of queues that are not paused)
//!   times the average run time, divided by the concurrency of one worker,
//!   against `clear_within`.
//! - Up: at once, by at most `max_shift` per tick, never above `max`.
//! - Down: one worker per tick, and only after `cooldown` without need (no
//!   tick wanting at least the current fleet) and since the last step down,
//!   so a load that oscillates faster than the cooldown does not flap.
//! - `min` may be 0; then any backlog starts one worker.
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Settings of the policy. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Fewest workers (may be 0). Default 1.
    pub min: u32,
    /// Most workers. Default 8.
    pub max: u32,
    /// Most workers added in one tick. Default: as many as needed.
    pub max_shift: Option<u32>,
    /// Target time to clear the backlog. Default 60 s.
    pub clear_within: Duration,
    /// Time without need before each step down. Default 60 s.
    pub cooldown: Duration,
    /// Jobs one worker runs at once (its `--concurrency`). Default 16.
    pub concurrency: u32,
    /// Run time assumed for a queue with no measured history. Default 100 ms.
    pub assumed_run_time: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min: 1,
            max: 8,
            max_shift: None,
            clear_within: Duration::from_secs(60),
            cooldown: Duration::from_secs(60),
            concurrency: 16,
            assumed_run_time: Duration::from_millis(100),
        }
    }
}

/// One queue's figures for one tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueFigures {
    /// The queue's name.
    pub queue: String,
    /// Jobs ready to run now.
    pub pending: u64,
    /// Delayed jobs due before the next tick.
    pub due_soon: u64,
    /// Jobs running now.
    pub active: u64,
    /// A paused queue needs no workers, whatever its backlog.
    pub paused: bool,
    /// Jobs processed per second over the recent window.
    pub rate_per_s: f64,
    /// Average run time over the recent window (or since the start), ms; None: unknown.
    pub avg_run_ms: Option<f64>,
    /// How long the oldest pending job has waited, ms; None: no pending job.
    pub oldest_pending_ms: Option<u64>,
}

/// One decision, kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// ms since the epoch.
    pub at: i64,
    /// Workers alive when deciding (every host).
    pub current: u32,
    /// What the time-to-clear estimate asks for, within [min, max].
    pub needed: u32,
    /// What to run after this tick.
    pub desired: u32,
    /// Why, in words for operators (`weir autoscale --history`).
    pub reason: String,
    /// The figures it was made from, one per queue.
    pub queues: Vec<QueueFigures>,
}

impl Decision {
    fn wanted_all(&self) -> bool {
        self.needed >= self.current
    }

    fn stepped_down(&self) -> bool {
        self.desired < self.current
    }
}

/// The backlog the fleet must clear and its estimated work, in job-milliseconds.
pub fn backlog(policy: &Policy, queues: &[QueueFigures]) -> (u64, f64) {
    let mut jobs = 0;
    let mut work_ms = 0.0;
    for q in queues.iter().filter(|q| !q.paused) {
        let n = q.pending + q.due_soon + q.active;
        jobs += q.pending + q.due_soon;
        work_ms += n as f64 * q.avg_run_ms.unwrap_or(policy.assumed_run_time.as_secs_f64() * 1000.0);
    }
    (jobs, work_ms)
}

/// Decides how many workers to run. `history` holds earlier decisions, newest last.
pub fn decide(policy: &Policy, now_ms: i64, current: u32, queues: Vec<QueueFigures>, history: &[Decision]) -> Decision {
    let (jobs, work_ms) = backlog(policy, &queues);
    let per_worker_ms = policy.concurrency.max(1) as f64 * policy.clear_within.as_secs_f64() * 1000.0;
    let raw = (work_ms / per_worker_ms).ceil() as u32;
    let floor = if jobs > 0 { policy.min.max(1) } else { policy.min };
    let needed = raw.max(floor).min(policy.max.max(policy.min));
    let cooldown_ms = policy.cooldown.as_millis() as i64;

    let (desired, reason) = if needed > current {
        let step = policy.max_shift.unwrap_or(u32::MAX).max(1);
        let desired = needed.min(current.saturating_add(step));
        (
            desired,
            format!("scale up: {jobs} jobs waiting need {needed} workers to clear within {:?}", policy.clear_within),
        )
    } else if current > policy.max {
        (policy.max, format!("over --max {}: step down", policy.max))
    } else if needed < current {
        let last_need = history.iter().rev().find(|d| d.wanted_all()).map(|d| d.at);
        let last_down = history.iter().rev().find(|d| d.stepped_down()).map(|d| d.at);
        let quiet_since = last_need.into_iter().chain(last_down).max();
        match quiet_since {
            Some(t) if now_ms - t < cooldown_ms => {
                (current, format!("hold: {needed} would do, but cooling down ({} ms left)", cooldown_ms - (now_ms - t)))
            }
            _ => (current - 1, format!("scale down: {needed} workers would do; one step per cooldown")),
        }
    } else {
        (current, format!("steady: {jobs} jobs waiting, {current} workers suffice"))
    };
    Decision { at: now_ms, current, needed, desired, reason, queues }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pending: u64) -> QueueFigures {
        QueueFigures { queue: "q".into(), pending, avg_run_ms: Some(100.0), ..Default::default() }
    }

    fn policy() -> Policy {
        // One worker clears 16 × 60 s / 100 ms = 9,600 jobs a minute.
        Policy { min: 1, max: 4, cooldown: Duration::from_secs(30), ..Policy::default() }
    }

    /// Runs ticks of `every_ms`, feeding back the desired count as current.
    fn run(p: &Policy, loads: &[u64], every_ms: i64, start: u32) -> Vec<u32> {
        let mut history = Vec::new();
        let mut current = start;
        let mut out = Vec::new();
        for (i, load) in loads.iter().enumerate() {
            let d = decide(p, i as i64 * every_ms, current, vec![q(*load)], &history);
            current = d.desired;
            out.push(current);
            history.push(d);
        }
        out
    }

    #[test]
    fn a_growing_backlog_scales_up_within_one_tick() {
        let d = decide(&policy(), 0, 1, vec![q(30_000)], &[]);
        assert_eq!((d.needed, d.desired), (4, 4), "{}", d.reason);
        let p = Policy { max: 10, ..policy() };
        let d = decide(&p, 0, 1, vec![q(1_000_000)], &[]);
        assert_eq!(d.desired, 10, "bounded by --max");
        let p = Policy { max_shift: Some(2), ..policy() };
        assert_eq!(run(&p, &[30_000, 30_000, 30_000], 1_000, 1), vec![3, 4, 4], "bounded by --max-shift");
    }

    #[test]
    fn a_cleared_backlog_steps_down_one_per_cooldown_to_min() {
        let p = policy();
        // Busy for a tick, then empty for 2 minutes, ticking every 5 s.
        let mut loads = vec![30_000];
        loads.extend(std::iter::repeat_n(0, 24));
        let fleet = run(&p, &loads, 5_000, 1);
        assert_eq!(fleet[0], 4);
        // Steps at 30 s, 60 s, 90 s after the last need (ticks 6, 12, 18).
        assert_eq!(&fleet[1..6], &[4, 4, 4, 4, 4]);
        assert_eq!(fleet[6], 3);
        assert_eq!(&fleet[7..12], &[3, 3, 3, 3, 3]);
        assert_eq!(fleet[12], 2);
        assert_eq!(fleet[18], 1);
        assert_eq!(*fleet.last().unwrap(), 1, "never below --min");
    }

    #[test]
    fn an_oscillating_load_does_not_flap() {
        let p = policy();
        // Load on and off every tick (5 s), faster than the 30 s cooldown.
        let loads: Vec<u64> = (0..40).map(|i| if i % 2 == 0 { 30_000 } else { 0 }).collect();
        let fleet = run(&p, &loads, 5_000, 1);
        assert!(fleet.iter().all(|n| *n == 4), "{fleet:?}");
    }

    #[test]
    fn min_zero_starts_a_worker_for_any_work_and_idles_at_zero() {
        let p = Policy { min: 0, ..policy() };
        assert_eq!(decide(&p, 0, 0, vec![q(1)], &[]).desired, 1);
        assert_eq!(decide(&p, 0, 0, vec![q(0)], &[]).desired, 0);
    }

    #[test]
    fn a_paused_queue_is_ignored_and_delayed_jobs_due_soon_count() {
        let p = policy();
        let paused = QueueFigures { paused: true, ..q(1_000_000) };
        assert_eq!(decide(&p, 0, 1, vec![paused], &[]).needed, 1);
        let due = QueueFigures { due_soon: 30_000, ..q(0) };
        assert_eq!(decide(&p, 0, 1, vec![due], &[]).desired, 4);
    }

    #[test]
    fn run_time_drives_the_estimate() {
        let p = Policy { max: 100, ..policy() };
        let slow = QueueFigures { avg_run_ms: Some(1_000.0), ..q(9_600) };
        // 9,600 s of work, 16 × 60 s per worker: 10 workers.
        assert_eq!(decide(&p, 0, 1, vec![slow], &[]).desired, 10);
        let unknown = QueueFigures { avg_run_ms: None, ..q(9_600) };
        assert_eq!(decide(&p, 0, 1, vec![unknown], &[]).desired, 1, "assumed 100 ms");
    }
}
