//! A worker that drains gracefully: on SIGTERM (what systemd and Kubernetes
//! send) or SIGINT (Ctrl-C) it takes no new job, lets running ones finish
//! within the grace time, and puts back what is left; a second signal stops
//! running jobs at once. It exits with the worker's exit code (docs/WORKER.md).
//!
//! Enqueue work for it with `weir enqueue --kind resize_image --json '{"ms":500}'`.
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use weir::worker::Worker;
use weir::{Client, Job};

/// A job that takes `ms` milliseconds.
#[derive(Serialize, Deserialize)]
struct ResizeImage {
    ms: u64,
}

impl Job for ResizeImage {
    const KIND: &'static str = "resize_image";
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let url = std::env::var("WEIR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = Client::connect(&url).await?;

    let outcome = Worker::builder(client)
        .queues([("critical", 100), ("default", 10)])
        .concurrency(4)
        .grace(Duration::from_secs(30))
        .handle::<ResizeImage, _>(|job, ctx| async move {
            println!("started {}", ctx.id);
            tokio::time::sleep(Duration::from_millis(job.ms)).await;
            println!("finished {}", ctx.id);
            Ok(())
        })
        .run_with_signals()
        .await?;
    println!("stopped: {:?}, {} jobs done, {} put back", outcome.reason, outcome.jobs_done, outcome.released);
    Ok(ExitCode::from(outcome.exit_code()))
}
