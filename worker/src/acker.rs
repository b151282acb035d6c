//! The acker: batches acks of finished jobs into one round trip. A batch
//! goes out as soon as the channel is momentarily empty or the batch is
//! full, so an idle worker acks at once and a busy one in bulk.
use crate::metrics::{Metrics, RedisOp, timed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weir_broker::{Broker, Done};
use weir_service::Service;

/// Most acks in one call.
const BATCH: usize = 1000;

#[derive(Debug)]
pub(crate) struct Acker {
    tx: mpsc::UnboundedSender<Done>,
    rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Done>>>,
    /// Stopping it sends what is queued first (see [`run`]).
    service: Service,
}

impl Acker {
    pub fn new() -> Acker {
        let (tx, rx) = mpsc::unbounded_channel();
        Acker { tx, rx: std::sync::Mutex::new(Some(rx)), service: Service::default() }
    }

    /// Queues an ack. Never blocks.
    pub fn ack(&self, done: Done) {
        let _ = self.tx.send(done);
    }

    pub fn start(self: &Arc<Self>, broker: Broker, metrics: Option<Arc<Metrics>>) {
        let Some(rx) = self.rx.lock().expect("acker").take() else {
            return;
        };
        self.service.start(|closing| run(broker, rx, closing, metrics));
    }

    /// Sends what is queued and stops. Call after every job task has ended.
    /// Safe before start and twice.
    pub async fn stop(&self) {
        self.service.stop().await;
    }
}

async fn run(
    broker: Broker,
    mut rx: mpsc::UnboundedReceiver<Done>,
    closing: CancellationToken,
    metrics: Option<Arc<Metrics>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            biased;
            item = rx.recv() => item,
            _ = closing.cancelled() => rx.try_recv().ok(),
        };
        let Some(first) = first else { return };
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        send(&broker, &batch, metrics.as_deref()).await;
        batch.clear();
    }
}

async fn send(broker: &Broker, batch: &[Done], metrics: Option<&Metrics>) {
    // A failed call is retried a few times: the acks are idempotent, and a
    // job whose ack never lands runs again once its lease expires.
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=4 {
        match timed(metrics, RedisOp::Ack, broker.ack_done(batch)).await {
            Ok(flags) => {
                for (Done { lease, .. }, held) in batch.iter().zip(flags) {
                    if !held {
                        if let Some(m) = metrics {
                            m.lease_lost(&lease.queue);
                        }
                        tracing::warn!(queue = %lease.queue, id = %lease.id, attempt = lease.attempt,
                            "job finished after its lease was lost; it may run again elsewhere");
                    }
                }
                return;
            }
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %e, jobs = batch.len(), "ack failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 3;
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(),
                    "ack failed; these jobs will run again when their leases expire");
            }
        }
    }
}
