//! What a worker does with a job whose kind it has no handler for. During a
//! rolling deploy, jobs enqueued by new code reach old workers before the new
//! ones are up; by default ([`UnknownKind::Retry`]) such a job is put back for
//! another worker (or this one after its deploy), without using an attempt,
//! until `window` has passed since it was due, and only then dies. The
//! decision is `UnknownKinds::decide`; the put-back is
//! `Broker::put_back_unknown_kind` (counted in the queue's `unknown_kind`).
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use weir_broker::{Envelope, Lease, format_duration};

/// The policy for jobs of a kind this worker has no handler for (`--unknown-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKind {
    /// Put the job back, no attempt used, with a delay that grows with its
    /// wait (1 s, then about as long as it has waited, at most 1 min), until
    /// `window` after it was due; then it dies.
    Retry {
        /// How long after it was due a job may wait for a worker that knows its kind.
        window: Duration,
    },
    /// The job dies at once with "no handler for kind K".
    Dead,
}

/// What to do with one job of an unknown kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Put it back, due after this long.
    PutBack(Duration),
    /// Bury it with this error.
    Dead(String),
}

/// Longest delay between two looks at a job of an unknown kind: a deployed
/// worker that knows it takes it within about this long.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// How often each unknown kind is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The policy, and when each unknown kind was last logged.
#[derive(Debug, Default)]
pub(crate) struct UnknownKinds {
    logged: Mutex<HashMap<String, Instant>>,
}

impl UnknownKinds {
    /// The verdict for `envelope` at `now_ms` (ms since the epoch): a job is
    /// due from its run time (or its enqueue time, whichever is later).
    pub fn decide(&self, policy: UnknownKind, envelope: &Envelope, now_ms: i64) -> Verdict {
        let dead = |waited: Option<Duration>| {
            let mut m = format!("no handler for kind {} in this worker", envelope.kind);
            if let Some(w) = waited {
                m.push_str(&format!(" (put back for {} waiting for one)", format_duration(w)));
            }
            Verdict::Dead(m)
        };
        match policy {
            UnknownKind::Dead => dead(None),
            UnknownKind::Retry { window } => {
                let due = envelope.run_at.max(envelope.enqueued_at);
                let waited = Duration::from_millis(u64::try_from(now_ms.saturating_sub(due)).unwrap_or(0));
                if waited >= window {
                    return dead(Some(waited));
                }
                let delay = waited.clamp(Duration::from_secs(1), MAX_DELAY).min(window - waited);
                Verdict::PutBack(delay.max(Duration::from_millis(1)))
            }
        }
    }

    /// Whether this kind should be logged now (at most once per kind per minute).
    pub fn should_log(&self, kind: &str) -> bool {
        let mut logged = self.logged.lock().expect("unknown kinds lock");
        let now = Instant::now();
        match logged.get(kind) {
            Some(at) if now.duration_since(*at) < LOG_EVERY => false,
            _ => {
                logged.insert(kind.to_string(), now);
                true
            }
        }
    }
}

/// Puts the job back for another worker, logging the kind once a minute.
/// Returns whether it went back (false: the lease was lost; None: Redis failed).
pub(crate) async fn put_back(
    shared: &crate::worker::Shared,
    lease: &Lease,
    kind: &str,
    after: Duration,
) -> Option<bool> {
    let until = weir_broker::bounds::ms_after(shared.broker.now_ms(), after);
    match shared.broker.put_back_unknown_kind(lease, after).await {
        Ok(true) => {
            if shared.unknown.should_log(kind) {
                tracing::warn!(kind, queue = %lease.queue, id = %lease.id, retry_in = %format_duration(after),
                    "no handler for this kind here; put back for another worker, no attempt used \
                     (logged once a minute per kind)");
            }
            shared.housekeeper.promote_at(&lease.queue, until);
            Some(true)
        }
        Ok(false) => {
            tracing::warn!(kind, "a job of an unknown kind lost its lease");
            Some(false)
        }
        Err(e) => {
            tracing::error!(kind, redis = %e,
                "could not put back the job of an unknown kind; it runs again when its lease expires");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(enqueued_at: i64, run_at: i64) -> Envelope {
        Envelope::parse(&format!(
            r#"{{"id":"j","queue":"q","kind":"send_email","payload":null,"enqueued_at":{enqueued_at},"run_at":{run_at}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn retries_with_a_growing_delay_inside_the_window_then_dies() {
        let u = UnknownKinds::default();
        let policy = UnknownKind::Retry { window: Duration::from_secs(600) };
        let e = envelope(1_000_000, 0);
        let at = |after_ms: i64| u.decide(policy, &e, 1_000_000 + after_ms);
        assert_eq!(at(0), Verdict::PutBack(Duration::from_secs(1)));
        assert_eq!(at(5_000), Verdict::PutBack(Duration::from_secs(5)));
        assert_eq!(at(300_000), Verdict::PutBack(Duration::from_secs(60)));
        assert_eq!(at(599_500), Verdict::PutBack(Duration::from_millis(500)), "never past the window");
        match at(600_000) {
            Verdict::Dead(m) => assert!(m.contains("no handler for kind send_email") && m.contains("10m"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A scheduled job waits from its run time.
        let later = envelope(0, 2_000_000);
        assert_eq!(u.decide(policy, &later, 2_000_000), Verdict::PutBack(Duration::from_secs(1)));
        assert_eq!(
            u.decide(UnknownKind::Dead, &e, 1_000_000),
            Verdict::Dead("no handler for kind send_email in this worker".into())
        );
    }

    #[test]
    fn logs_each_kind_once_a_minute() {
        let u = UnknownKinds::default();
        assert!(u.should_log("a"));
        assert!(!u.should_log("a"));
        assert!(u.should_log("b"));
    }
}
