//! The fleet exporter: every queue's figures from Redis, as Prometheus text
//! on `/metrics` and as JSON on `/api/queues` (for KEDA's metrics-api
//! scaler), with `/healthz` and `/readyz`. `weir exporter --listen ADDR`
//! serves [`router`]; an app (or `weir web`) can mount the same routes with
//! `Router::nest`. docs/OBSERVABILITY.md lists the series.
//!
//! One scrape costs Redis: the queue set (`SMEMBERS`), one pipelined round
//! trip per [`SNAPSHOT_BATCH`](weir_broker::admin::SNAPSHOT_BATCH) queues
//! (on a cluster, one pipeline per queue's slot, sent together), the live
//! worker count (`ZCOUNT`) and the autoscaler's newest decision (`LRANGE`),
//! whatever the number of jobs.
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::fmt::Write;
use weir_broker::{Broker, QueueName, QueueStats};

/// What one scrape read.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    /// Every known queue, in name order.
    pub queues: Vec<QueueFigures>,
    /// Workers whose heartbeat is live.
    pub workers: u64,
    /// The autoscaler's newest decision: how many workers it wants.
    pub autoscale_desired: Option<u32>,
}

/// One queue, as `/api/queues` shows it: its name and `weir stats --json`'s figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueFigures {
    /// The queue's name.
    pub queue: String,
    /// Its depth by state and its counters, flattened into the same object.
    #[serde(flatten)]
    pub stats: QueueStats,
}

impl QueueFigures {
    fn new(queue: &QueueName, stats: &QueueStats) -> QueueFigures {
        QueueFigures { queue: queue.to_string(), stats: stats.clone() }
    }

    fn oldest_pending_seconds(&self) -> f64 {
        self.stats.oldest_pending_ms.unwrap_or(0) as f64 / 1000.0
    }
}

/// Reads the whole fleet's figures (see the module docs for the cost).
pub async fn read(broker: &Broker) -> weir_broker::Result<Fleet> {
    let names = broker.queues().await?;
    let (snapshot, workers, history) = tokio::join!(
        broker.snapshot(&names),
        broker.live_workers(weir_broker::registry::STALE_AFTER),
        weir_supervisor::history::recent(broker, 1),
    );
    let queues = snapshot?.iter().map(|(q, s)| QueueFigures::new(q, s)).collect();
    Ok(Fleet { queues, workers: workers?, autoscale_desired: history?.last().map(|e| e.decision.desired) })
}

/// Prometheus text format of `fleet`.
pub fn render(fleet: &Fleet) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let q = |f: &QueueFigures| format!("{{queue=\"{}\"}}", f.queue);
    let queues = &fleet.queues;
    family(
        "weir_queue_jobs",
        "gauge",
        "Jobs in each state, by queue.",
        &mut queues.iter().flat_map(|f| {
            let s = &f.stats;
            [("pending", s.pending), ("delayed", s.delayed), ("active", s.active), ("dead", s.dead)]
                .map(|(state, n)| (format!("{{queue=\"{}\",state=\"{state}\"}}", f.queue), n as f64))
        }),
    );
    family(
        "weir_queue_oldest_pending_seconds",
        "gauge",
        "Age of the oldest pending job (0 when none), by queue.",
        &mut queues.iter().map(|f| (q(f), f.oldest_pending_seconds())),
    );
    family(
        "weir_queue_processed_total",
        "counter",
        "Jobs acked since the queue was created.",
        &mut queues.iter().map(|f| (q(f), f.stats.processed as f64)),
    );
    family(
        "weir_queue_failed_total",
        "counter",
        "Failed attempts since the queue was created.",
        &mut queues.iter().map(|f| (q(f), f.stats.failed as f64)),
    );
    family(
        "weir_queue_paused",
        "gauge",
        "1 while the queue is paused.",
        &mut queues.iter().map(|f| (q(f), if f.stats.paused { 1.0 } else { 0.0 })),
    );
    family(
        "weir_workers",
        "gauge",
        "Live registered workers.",
        &mut std::iter::once((String::new(), fleet.workers as f64)),
    );
    if let Some(d) = fleet.autoscale_desired {
        family(
            "weir_autoscale_desired_workers",
            "gauge",
            "Workers the autoscaler's newest decision wants.",
            &mut std::iter::once((String::new(), f64::from(d))),
        );
    }
    out
}

/// The exporter's routes on `broker`: `/metrics`, `/api/queues`,
/// `/api/queues/{queue}`, `/healthz`, `/readyz`.
pub fn router(broker: Broker) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/queues", get(all_queues))
        .route("/api/queues/{queue}", get(one_queue))
        .route("/healthz", get(weir_worker::endpoint::healthz))
        .route("/readyz", get(readyz))
        .with_state(broker)
}

fn unavailable(e: weir_broker::Error) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("redis: {e}\n")).into_response()
}

async fn metrics(State(b): State<Broker>) -> Response {
    match read(&b).await {
        Ok(f) => ([(header::CONTENT_TYPE, weir_worker::endpoint::PROMETHEUS_TEXT)], render(&f)).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn all_queues(State(b): State<Broker>) -> Response {
    match read(&b).await {
        Ok(f) => Json(f).into_response(),
        Err(e) => unavailable(e),
    }
}

/// One queue's figures, for a KEDA trigger's `valueLocation: pending`.
async fn one_queue(State(b): State<Broker>, Path(queue): Path<String>) -> Response {
    let q = match QueueName::new(queue) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    match b.stats(&q).await {
        Ok(s) => Json(QueueFigures::new(&q, &s)).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn readyz(State(b): State<Broker>) -> (StatusCode, String) {
    weir_worker::endpoint::ready(&b).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_type() {
        let fleet = Fleet {
            queues: vec![QueueFigures {
                queue: "critical".into(),
                stats: QueueStats {
                    pending: 3,
                    delayed: 1,
                    active: 2,
                    dead: 4,
                    processed: 10,
                    failed: 5,
                    paused: true,
                    oldest_pending_ms: Some(1500),
                    ..QueueStats::default()
                },
            }],
            workers: 2,
            autoscale_desired: Some(3),
        };
        let text = render(&fleet);
        for line in [
            "# TYPE weir_queue_jobs gauge",
            r#"weir_queue_jobs{queue="critical",state="dead"} 4"#,
            r#"weir_queue_oldest_pending_seconds{queue="critical"} 1.5"#,
            "# TYPE weir_queue_processed_total counter",
            r#"weir_queue_processed_total{queue="critical"} 10"#,
            r#"weir_queue_failed_total{queue="critical"} 5"#,
            r#"weir_queue_paused{queue="critical"} 1"#,
            "weir_workers 2",
            "weir_autoscale_desired_workers 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
}
