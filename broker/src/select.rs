//! Choosing which queues a reservation draws from. Selection runs in the
//! caller, over per-queue scripts, because no script may touch two queues.
//!
//! Weighted mode is smooth weighted round-robin (the nginx scheme): each step
//! every candidate gains its weight, the richest is picked and pays the total.
//! It is deterministic, so shares match weights on short runs too, and a queue
//! of weight w among total W is picked exactly w times in every W steps, so
//! no queue with work starves. Queues found empty or paused in a round drop
//! out of the next round, and their share goes to the others.
use crate::error::{Error, Result};
use crate::name::QueueName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a [`Selector`] orders its queues.
pub enum Mode {
    /// Smooth weighted round-robin over the queues that have work.
    Weighted,
    /// Always the first queue, in the given order, that has work.
    Strict,
}

#[derive(Debug, Clone)]
/// Which queue each reservation comes from: weighted or strict, over a
/// fixed list of queues, each listed once.
pub struct Selector {
    mode: Mode,
    queues: Vec<QueueName>,
    weights: Vec<i64>,
    current: Vec<i64>,
    /// Set by the last reserve: the earliest time a limited queue may give
    /// more (ms; 0 = when a concurrency slot frees, signalled by the doorbell).
    pub(crate) limited_until: Option<i64>,
}

impl Selector {
    /// After a reserve: the earliest time more work may become takeable
    /// without a doorbell ringing: a limit allows more, or a delayed job
    /// (retry, schedule, rate-key deferral) comes due, which the next
    /// reserve promotes (ms since the epoch; 0 = when a concurrency slot
    /// frees, which rings). None: nothing known.
    pub fn limited_until(&self) -> Option<i64> {
        self.limited_until
    }

    pub(crate) fn note_limit(&mut self, until: i64) {
        self.limited_until = Some(match self.limited_until {
            None => until,
            Some(0) => until,
            Some(t) if until == 0 => t,
            Some(t) => t.min(until),
        });
    }

    /// Queues with weights (each at least 1).
    pub fn weighted(queues: impl IntoIterator<Item = (QueueName, u32)>) -> Result<Selector> {
        let (queues, weights): (Vec<_>, Vec<_>) = queues.into_iter().map(|(q, w)| (q, w as i64)).unzip();
        Selector::build(Mode::Weighted, queues, weights)
    }

    /// Queues in strict priority order (the first with work wins).
    pub fn strict(queues: impl IntoIterator<Item = QueueName>) -> Result<Selector> {
        let queues: Vec<_> = queues.into_iter().collect();
        let weights = vec![1; queues.len()];
        Selector::build(Mode::Strict, queues, weights)
    }

    fn build(mode: Mode, queues: Vec<QueueName>, weights: Vec<i64>) -> Result<Selector> {
        if queues.is_empty() {
            return Err(Error::InvalidQueueName { name: String::new(), reason: "no queues given" });
        }
        if let Some(i) = weights.iter().position(|w| *w < 1) {
            return Err(Error::InvalidQueueName { name: queues[i].to_string(), reason: "weight must be at least 1" });
        }
        for (i, q) in queues.iter().enumerate() {
            if queues[..i].contains(q) {
                return Err(Error::InvalidQueueName { name: q.to_string(), reason: "queue listed twice" });
            }
        }
        let current = vec![0; queues.len()];
        Ok(Selector { mode, queues, weights, current, limited_until: None })
    }

    /// Weighted or strict.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The queues, in the order given.
    pub fn queues(&self) -> &[QueueName] {
        &self.queues
    }

    /// Each queue with its weight (1 for every queue in strict mode).
    pub fn weights(&self) -> impl Iterator<Item = (&QueueName, u32)> {
        self.queues.iter().zip(self.weights.iter().map(|w| *w as u32))
    }

    /// Splits `n` reservations among the candidate queues; returns a count per queue.
    pub fn plan(&mut self, n: usize, candidate: &[bool]) -> Vec<usize> {
        let mut counts = vec![0; self.queues.len()];
        match self.mode {
            Mode::Strict => {
                if let Some(first) = candidate.iter().position(|c| *c) {
                    counts[first] = n;
                }
            }
            Mode::Weighted => {
                let total: i64 = (0..self.queues.len()).filter(|i| candidate[*i]).map(|i| self.weights[i]).sum();
                if total == 0 {
                    return counts;
                }
                for _ in 0..n {
                    let mut best: Option<usize> = None;
                    for i in (0..self.queues.len()).filter(|i| candidate[*i]) {
                        self.current[i] += self.weights[i];
                        if best.is_none_or(|b| self.current[i] > self.current[b]) {
                            best = Some(i);
                        }
                    }
                    let b = best.expect("total > 0 means a candidate");
                    self.current[b] -= total;
                    counts[b] += 1;
                }
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str) -> QueueName {
        QueueName::new(name).unwrap()
    }

    #[test]
    fn weighted_shares_are_exact_over_a_cycle() {
        let mut s = Selector::weighted([(q("a"), 100), (q("b"), 50), (q("c"), 30), (q("d"), 10)]).unwrap();
        let counts = s.plan(190 * 10, &[true; 4]);
        assert_eq!(counts, vec![1000, 500, 300, 100]);
    }

    #[test]
    fn small_batches_add_up_to_the_weights() {
        let mut s = Selector::weighted([(q("a"), 3), (q("b"), 1)]).unwrap();
        let mut total = [0; 2];
        for _ in 0..100 {
            let c = s.plan(1, &[true, true]);
            total[0] += c[0];
            total[1] += c[1];
        }
        assert_eq!(total, [75, 25]);
    }

    #[test]
    fn light_queue_is_not_starved() {
        let mut s = Selector::weighted([(q("heavy"), 1000), (q("light"), 1)]).unwrap();
        let counts = s.plan(1001, &[true, true]);
        assert_eq!(counts, vec![1000, 1]);
    }

    #[test]
    fn non_candidates_get_nothing_and_strict_takes_the_first() {
        let mut s = Selector::weighted([(q("a"), 5), (q("b"), 5)]).unwrap();
        assert_eq!(s.plan(10, &[false, true]), vec![0, 10]);
        let mut s = Selector::strict([q("a"), q("b"), q("c")]).unwrap();
        assert_eq!(s.plan(7, &[false, true, true]), vec![0, 7, 0]);
        assert_eq!(s.plan(7, &[false, false, false]), vec![0, 0, 0]);
    }

    #[test]
    fn bad_selectors_are_refused() {
        assert!(Selector::weighted([(q("a"), 0)]).is_err());
        assert!(Selector::weighted([]).is_err());
        assert!(Selector::strict([q("a"), q("a")]).is_err());
    }
}
