//! The leases this worker holds: reserved jobs from reserve until they are
//! acked, failed or released. The extender renews them; shutdown releases
//! what is left. Each lease carries its job's [`JobStop`].
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weir_broker::{Lease, Renewal};

/// What stops one running job: its token (the handler's `ctx.cancelled()`)
/// fires on a forced shutdown (a child of the worker's force token), a lost
/// lease, a timeout, or a cancel request; the job's task tells them apart by
/// the worker's force token, [`JobStop::cancel_requested`] and its own timer.
#[derive(Debug, Clone)]
pub(crate) struct JobStop {
    pub token: CancellationToken,
    cancel_requested: Arc<AtomicBool>,
}

impl JobStop {
    pub fn new(token: CancellationToken) -> JobStop {
        JobStop { token, cancel_requested: Arc::new(AtomicBool::new(false)) }
    }

    /// A cancel of the job was requested (`weir cancel`): stop it.
    fn request_cancel(&self) {
        self.cancel_requested.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct Held {
    /// When Redis will consider the lease expired (as this worker last set it).
    deadline: Instant,
    /// How long each renewal makes it.
    length: Duration,
    /// Fires when the lease is lost or a cancel is requested, so the job stops.
    stop: JobStop,
}

#[derive(Debug, Default)]
pub(crate) struct LeaseTable {
    held: Mutex<HashMap<Lease, Held>>,
}

impl LeaseTable {
    pub fn insert(&self, lease: Lease, since: Instant, length: Duration, stop: JobStop) {
        self.held.lock().expect("lease table").insert(lease, Held { deadline: since + length, length, stop });
    }

    /// A cancel of job `id` in `queue` was requested (the registry said so):
    /// its lease is renewed at the extender's next tick, and the renewal's
    /// reply (not this notice, which may be stale) stops the job.
    pub fn renew_soon(&self, queue: &str, id: &str) {
        let mut table = self.held.lock().expect("lease table");
        for (lease, h) in table.iter_mut() {
            if lease.id == id && lease.queue.as_str() == queue {
                h.deadline = h.deadline.min(Instant::now());
            }
        }
    }

    /// A running job's own lease length (its timeout may differ from the default).
    pub fn set_length(&self, lease: &Lease, length: Duration) {
        if let Some(h) = self.held.lock().expect("lease table").get_mut(lease) {
            h.length = length;
        }
    }

    pub fn remove(&self, lease: &Lease) -> bool {
        self.held.lock().expect("lease table").remove(lease).is_some()
    }

    pub fn len(&self) -> usize {
        self.held.lock().expect("lease table").len()
    }

    /// Leases with a third or more of their length used, grouped by length.
    pub fn due(&self, now: Instant) -> HashMap<Duration, Vec<Lease>> {
        let mut out: HashMap<Duration, Vec<Lease>> = HashMap::new();
        for (lease, h) in self.held.lock().expect("lease table").iter() {
            let left = h.deadline.saturating_duration_since(now);
            if left * 3 < h.length * 2 {
                out.entry(h.length).or_default().push(lease.clone());
            }
        }
        out
    }

    /// Records the outcome of an extend call made at `at`.
    pub fn extended(&self, leases: &[Lease], renewed: &[Renewal], at: Instant, length: Duration) {
        let mut table = self.held.lock().expect("lease table");
        for (lease, r) in leases.iter().zip(renewed) {
            match r {
                Renewal::Held | Renewal::CancelRequested => {
                    if let Some(h) = table.get_mut(lease) {
                        h.deadline = at + length;
                        if *r == Renewal::CancelRequested && !h.stop.cancel_requested() {
                            tracing::info!(queue = %lease.queue, id = %lease.id, attempt = lease.attempt,
                                "cancel requested: stopping the job");
                            h.stop.request_cancel();
                        }
                    }
                }
                Renewal::Lost => {
                    if let Some(h) = table.remove(lease) {
                        tracing::warn!(queue = %lease.queue, id = %lease.id, attempt = lease.attempt,
                            "lease lost (expired and reclaimed): stopping the job");
                        h.stop.token.cancel();
                    }
                }
            }
        }
    }

    /// Empties the table, returning every lease still held.
    pub fn take_all(&self) -> Vec<Lease> {
        self.held.lock().expect("lease table").drain().map(|(l, _)| l).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_broker::QueueName;

    fn lease(id: &str) -> Lease {
        Lease { queue: QueueName::new("q").unwrap(), id: id.into(), attempt: 1 }
    }

    // Times are passed in, so the test moves its own clock.
    #[test]
    fn a_lease_is_due_once_a_third_is_used_and_a_lost_one_cancels_its_job() {
        let table = LeaseTable::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let cancel = JobStop::new(CancellationToken::new());
        table.insert(lease("a"), t0, Duration::from_secs(3), cancel.clone());
        let b = JobStop::new(CancellationToken::new());
        table.insert(lease("b"), t0, Duration::from_secs(30), b.clone());
        assert!(table.due(at(900)).is_empty());
        let due = table.due(at(1100));
        assert_eq!(due.get(&Duration::from_secs(3)), Some(&vec![lease("a")]));
        assert_eq!(due.len(), 1, "the 30 s lease is not due yet");
        // Renewed: not due again until another third has passed.
        table.extended(&[lease("a")], &[Renewal::Held], at(1100), Duration::from_secs(3));
        assert!(table.due(at(2000)).is_empty());
        assert_eq!(table.due(at(2300)).len(), 1);
        // Lost: removed, and its job is told to stop (not as a cancel).
        table.extended(&[lease("a")], &[Renewal::Lost], at(2300), Duration::from_secs(3));
        assert!(cancel.token.is_cancelled() && !cancel.cancel_requested());
        // A cancel notice makes the lease due now; the renewal's reply stops the job, lease kept.
        table.renew_soon("q", "b");
        assert_eq!(table.due(Instant::now()).get(&Duration::from_secs(30)), Some(&vec![lease("b")]));
        assert!(!b.token.is_cancelled(), "a notice alone stops nothing");
        table.extended(&[lease("b")], &[Renewal::CancelRequested], Instant::now(), Duration::from_secs(30));
        assert!(b.token.is_cancelled() && b.cancel_requested());
        assert_eq!(table.take_all(), vec![lease("b")]);
    }
}
