//! The scheduler: enqueues the ticks of periodic jobs (schedules in Redis,
//! managed with `weir cron` or `Client::schedule`). It runs inside every
//! worker unless turned off (`--no-scheduler`) and alone as `weir
//! scheduler`; any number may run, and each tick is enqueued once across
//! them (`weir_broker::schedules`).
//!
//! Each pass reads the schedules and Redis's clock, enqueues what is due,
//! then sleeps until the next tick, at most 1 s (so a changed schedule
//! applies at its next tick); with no schedules at all it looks again every
//! 10 s, which keeps an idle worker's cost low.
use std::time::Duration;
use weir_broker::Broker;
use weir_service::{Service, pause};

/// With no schedules, how often a scheduler looks for new ones.
pub const IDLE_LOOK: Duration = Duration::from_secs(10);
/// With schedules, the longest sleep between passes.
pub const BUSY_LOOK: Duration = Duration::from_secs(1);

/// The scheduler service (module docs); one runs inside each worker
/// unless `--no-scheduler`.
#[derive(Debug, Default)]
pub struct Scheduler {
    service: Service,
}

impl AsRef<Service> for Scheduler {
    fn as_ref(&self) -> &Service {
        &self.service
    }
}

impl Scheduler {
    /// Starts the passes on `broker`; a second start is a no-op.
    pub fn start(&self, broker: Broker) {
        self.service.start(|stop| async move {
            loop {
                let wait = pass(&broker).await;
                if !pause(&stop, wait).await {
                    return;
                }
            }
        });
    }

    /// Stops after the pass in progress. Safe before start and twice.
    pub async fn stop(&self) {
        self.service.stop().await;
    }
}

/// One pass; returns how long to sleep before the next.
async fn pass(broker: &Broker) -> Duration {
    let result = async {
        let now = broker.redis_time_ms().await?;
        Ok::<_, weir_broker::Error>((now, broker.schedule_pass(now).await?))
    }
    .await;
    match result {
        Ok((_, p)) if p.schedules == 0 => IDLE_LOOK,
        Ok((now, p)) => {
            for id in &p.enqueued {
                tracing::info!(job = %id, "scheduled job enqueued");
            }
            let until_next =
                p.next_at.map_or(BUSY_LOOK, |t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)));
            until_next.clamp(Duration::from_millis(5), BUSY_LOOK)
        }
        Err(e) => {
            tracing::warn!(error = %e, "scheduler pass failed; trying again");
            BUSY_LOOK
        }
    }
}
