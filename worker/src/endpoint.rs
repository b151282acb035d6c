//! The worker's HTTP endpoint on `--metrics-addr`: `/metrics` (Prometheus
//! text format), `/healthz` (the process and its runtime answer) and
//! `/readyz` (Redis answers within a second and the worker is taking jobs;
//! otherwise 503 with a one-line reason). docs/OBSERVABILITY.md.
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use weir_broker::Broker;
use weir_service::Service;

/// How long `/readyz` waits for Redis.
pub const READY_WITHIN: Duration = Duration::from_secs(1);

/// The content type of Prometheus's text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Probe {
    metrics: Arc<Metrics>,
    broker: Broker,
    /// Cancelled once the worker stops taking jobs.
    draining: CancellationToken,
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(probe)
}

async fn metrics(State(p): State<Probe>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], p.metrics.render())
}

/// Answering at all is the check: the runtime schedules this task.
pub async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(p): State<Probe>) -> (StatusCode, String) {
    if p.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining: not taking jobs\n".into());
    }
    ready(&p.broker).await
}

/// 200 when Redis answers a PING within [`READY_WITHIN`], else 503 with why.
pub async fn ready(broker: &Broker) -> (StatusCode, String) {
    match broker.ping(READY_WITHIN).await {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("redis: {e}\n")),
    }
}

/// How often the histograms' pending samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The server, as a service the worker stops last.
#[derive(Debug, Default)]
pub(crate) struct Endpoint {
    service: Service,
}

impl Endpoint {
    pub fn start(
        &self,
        listener: tokio::net::TcpListener,
        metrics: Arc<Metrics>,
        broker: Broker,
        draining: CancellationToken,
    ) {
        let app = router(Probe { metrics: metrics.clone(), broker, draining });
        self.service.start(|stop| async move {
            // The recorder keeps each histogram sample until it is folded
            // into its buckets, which a scrape does; without scrapes (no
            // Prometheus yet, or it is down) they would pile up for every
            // job. Folding them every few seconds bounds the memory.
            let upkeep = async {
                let mut tick = tokio::time::interval(UPKEEP_EVERY);
                loop {
                    tick.tick().await;
                    metrics.upkeep();
                }
            };
            tokio::select! {
                served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()) => {
                    if let Err(e) = served {
                        tracing::warn!(error = %e, "the metrics endpoint stopped");
                    }
                }
                () = upkeep => {}
            }
        });
    }
}

impl AsRef<Service> for Endpoint {
    fn as_ref(&self) -> &Service {
        &self.service
    }
}
