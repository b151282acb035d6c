//! The housekeeper: promotes due delayed and retry jobs and reclaims expired
//! leases, inside the workers, with no extra daemon.
//!
//! A pass over a queue first takes the queue's lock (`SET NX PX interval`,
//! a key in the queue's hash slot), so a fleet makes about one pass per
//! queue per interval whatever its size. On top of the passes, a worker that
//! schedules a retry promotes that queue itself when the retry is due, so
//! short backoffs are not stretched to the interval.
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use weir_broker::{Broker, FleetLock, QueueName, keys};
use weir_service::Service;

/// Retries due within this window share one promote call.
const COALESCE_MS: i64 = 50;

#[derive(Debug, Default)]
pub(crate) struct Housekeeper {
    service: Service,
    /// (due ms, queue) of retries this worker scheduled.
    due: Arc<Mutex<BTreeSet<(i64, QueueName)>>>,
    changed: Arc<Notify>,
}

impl Housekeeper {
    /// Asks for a promote of `queue` at `at_ms` (ms since the epoch).
    pub fn promote_at(&self, queue: &QueueName, at_ms: i64) {
        let slot = (at_ms + COALESCE_MS - 1) / COALESCE_MS * COALESCE_MS;
        let inserted = self.due.lock().expect("housekeeper").insert((slot, queue.clone()));
        if inserted {
            self.changed.notify_one();
        }
    }

    pub fn start(&self, broker: Broker, worker_id: String, queues: Vec<QueueName>, interval: Duration) {
        let due = self.due.clone();
        let changed = self.changed.clone();
        self.service.start(|stop| async move {
            let mut next_pass = tokio::time::Instant::now();
            let mut passes: u64 = 0;
            loop {
                let now_ms = broker.now_ms();
                let first_due = due.lock().expect("housekeeper").first().map(|(ms, _)| *ms);
                let until_due = first_due.map(|ms| Duration::from_millis((ms - now_ms).max(0) as u64));
                let wake_due = async {
                    match until_due {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = changed.notified() => continue,
                    _ = tokio::time::sleep_until(next_pass) => {
                        pass(&broker, &worker_id, &queues, interval, passes.is_multiple_of(2)).await;
                        passes += 1;
                        next_pass = tokio::time::Instant::now() + jittered(interval);
                    }
                    _ = wake_due => {
                        let now_ms = broker.now_ms();
                        let mut ready = BTreeSet::new();
                        {
                            let mut d = due.lock().expect("housekeeper");
                            while let Some(first) = d.first().cloned() {
                                if first.0 > now_ms { break; }
                                d.pop_first();
                                ready.insert(first.1);
                            }
                        }
                        for q in ready {
                            if let Err(e) = broker.promote(&q).await {
                                tracing::warn!(queue = %q, error = %e, "promote failed");
                            }
                        }
                    }
                }
            }
        });
    }
}

/// ±10 %, so workers started together drift apart.
fn jittered(interval: Duration) -> Duration {
    let f = 0.9 + rand::random::<f64>() * 0.2;
    interval.mul_f64(f)
}

async fn pass(broker: &Broker, worker_id: &str, queues: &[QueueName], interval: Duration, reclaim_now: bool) {
    for q in queues {
        // A pass lock: never released, so the fleet makes about one pass per interval.
        let lock = FleetLock::new(broker, keys::housekeeping_lock(broker.prefix(), q), worker_id);
        match lock.try_acquire(interval).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(queue = %q, error = %e, "housekeeping lock failed");
                continue;
            }
        }
        // Leases are at least a few seconds long, so reclaiming every other
        // pass is soon enough, and it keeps an idle fleet's command rate low.
        let reclaim = async { if reclaim_now { broker.reclaim(q).await.map(Some) } else { Ok(None) } };
        let (promoted, reclaimed) = tokio::join!(broker.promote(q), reclaim);
        match promoted {
            Ok(n) if n > 0 => tracing::debug!(queue = %q, jobs = n, "promoted due jobs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(queue = %q, error = %e, "promote failed"),
        }
        match reclaimed {
            Ok(Some(r)) if r.requeued + r.buried > 0 => tracing::warn!(queue = %q, requeued = r.requeued,
                buried = r.buried, "reclaimed jobs whose lease expired"),
            Ok(_) => {}
            Err(e) => tracing::warn!(queue = %q, error = %e, "reclaim failed"),
        }
    }
}

impl AsRef<Service> for Housekeeper {
    fn as_ref(&self) -> &Service {
        &self.service
    }
}
