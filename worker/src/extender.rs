//! The lease extender: every tick, renews in one call every held lease that
//! has used a third of its length, so a running (or reserved, not yet
//! started) job is never handed to a second worker. A lease found lost
//! cancels its job; so does a renewal that finds a cancel of the job requested.
use crate::leases::LeaseTable;
use crate::metrics::{Metrics, RedisOp, timed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use weir_broker::Broker;
use weir_service::Service;

#[derive(Debug, Default)]
pub(crate) struct Extender {
    service: Service,
}

impl Extender {
    /// `tick`: at most a sixth of the shortest lease, so a renewal is never late.
    pub fn start(&self, broker: Broker, leases: Arc<LeaseTable>, tick: Duration, metrics: Option<Arc<Metrics>>) {
        self.service.start(|stop| async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = interval.tick() => {}
                }
                for (length, due) in leases.due(Instant::now()) {
                    let at = Instant::now();
                    match timed(metrics.as_deref(), RedisOp::Extend, broker.renew(&due, length)).await {
                        Ok(renewed) => leases.extended(&due, &renewed, at, length),
                        Err(e) => tracing::warn!(error = %e, leases = due.len(), "extending leases failed; will retry"),
                    }
                }
            }
        });
    }
}

impl AsRef<Service> for Extender {
    fn as_ref(&self) -> &Service {
        &self.service
    }
}
