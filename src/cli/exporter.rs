//! `weir exporter`: serve the fleet's figures from Redis for Prometheus
//! (`/metrics`) and KEDA (`/api/queues`) until SIGTERM or SIGINT
//! (docs/OBSERVABILITY.md). The routes are `weir::exporter::router`.
use super::Conn;
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Where to serve /metrics, /api/queues, /healthz and /readyz.
    #[arg(long, value_name = "HOST:PORT", env = "WEIR_EXPORTER_LISTEN", default_value = "127.0.0.1:9465")]
    pub listen: String,
}

pub async fn run(conn: &Conn, a: ExporterArgs) -> anyhow::Result<ExitCode> {
    let addr = weir_worker::args::listen_addr("--listen", &a.listen)?;
    let signals = weir_service::signal::Signals::listen().context("cannot listen for signals")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let broker = conn.connect().await?;
    let shown = listener.local_addr().map_or_else(|_| addr.to_string(), |a| a.to_string());
    tracing::info!(addr = %shown, redis = %broker.url(), "serving fleet metrics on /metrics and /api/queues");
    axum::serve(listener, weir::exporter::router(broker))
        .with_graceful_shutdown(signals.first())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}
