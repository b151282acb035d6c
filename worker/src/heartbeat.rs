//! The heartbeat: keeps this worker's registry record alive (it expires
//! after three intervals, so a killed worker disappears on its own) and
//! picks up drain requests and cancel notices.
use std::sync::Arc;
use std::time::Duration;
use weir_broker::Broker;
use weir_broker::registry::WorkerInfo;
use weir_service::Service;

/// Called with the queue and id of each job whose cancel a heartbeat learned of.
pub(crate) type OnCancel = Arc<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Debug, Default)]
pub(crate) struct Heartbeat {
    service: Service,
}

impl Heartbeat {
    /// `snapshot` gives the current record; `on_drain` runs when a drain is
    /// requested; `on_cancel` with each job (queue, id) whose cancel was requested.
    pub fn start(
        &self,
        broker: Broker,
        interval: Duration,
        snapshot: Arc<dyn Fn() -> WorkerInfo + Send + Sync>,
        on_drain: Arc<dyn Fn() + Send + Sync>,
        on_cancel: OnCancel,
    ) {
        self.service.start(|stop| async move {
            let ttl = interval * 3;
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut draining = false;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                match broker.heartbeat(&snapshot(), ttl).await {
                    Ok(h) => {
                        for (queue, id) in &h.cancel {
                            on_cancel(queue, id);
                        }
                        if h.drain && !draining {
                            draining = true;
                            tracing::info!("drain requested through the registry");
                            on_drain();
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
            let id = snapshot().id;
            if let Err(e) = broker.deregister(&id).await {
                tracing::warn!(error = %e, "could not remove this worker from the registry");
            }
        });
    }
}

impl AsRef<Service> for Heartbeat {
    fn as_ref(&self) -> &Service {
        &self.service
    }
}
