//! The leases this worker holds: reserved jobs from reserve until they are
//! acked, failed or released. The extender renews them; shutdown releases
//! what is left.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weir_broker::Lease;

#[derive(Debug)]
struct Held {
    /// When Redis will consider the lease expired (as this worker last set it).
    deadline: Instant,
    /// How long each renewal makes it.
    length: Duration,
    /// Fires when the lease is lost, so the job stops.
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
pub(crate) struct LeaseTable {
    held: Mutex<HashMap<Lease, Held>>,
}

impl LeaseTable {
    pub fn insert(&self, lease: Lease, since: Instant, length: Duration, cancel: CancellationToken) {
        self.held.lock().expect("lease table").insert(lease, Held { deadline: since + length, length, cancel });
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
    pub fn extended(&self, leases: &[Lease], held: &[bool], at: Instant, length: Duration) {
        let mut table = self.held.lock().expect("lease table");
        for (lease, ok) in leases.iter().zip(held) {
            if *ok {
                if let Some(h) = table.get_mut(lease) {
                    h.deadline = at + length;
                }
            } else if let Some(h) = table.remove(lease) {
                tracing::warn!(queue = %lease.queue, id = %lease.id, attempt = lease.attempt,
                    "lease lost (expired and reclaimed): stopping the job");
                h.cancel.cancel();
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
        let cancel = CancellationToken::new();
        table.insert(lease("a"), t0, Duration::from_secs(3), cancel.clone());
        table.insert(lease("b"), t0, Duration::from_secs(30), CancellationToken::new());
        assert!(table.due(at(900)).is_empty());
        let due = table.due(at(1100));
        assert_eq!(due.get(&Duration::from_secs(3)), Some(&vec![lease("a")]));
        assert_eq!(due.len(), 1, "the 30 s lease is not due yet");
        // Renewed: not due again until another third has passed.
        table.extended(&[lease("a")], &[true], at(1100), Duration::from_secs(3));
        assert!(table.due(at(2000)).is_empty());
        assert_eq!(table.due(at(2300)).len(), 1);
        // Lost: removed, and its job is told to stop.
        table.extended(&[lease("a")], &[false], at(2300), Duration::from_secs(3));
        assert!(cancel.is_cancelled());
        assert_eq!(table.take_all(), vec![lease("b")]);
    }
}
