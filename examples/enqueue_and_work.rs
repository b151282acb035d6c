//! Enqueue a job and work it in one program: the README's first example
//! (tests/examples.rs keeps the two identical and runs it).
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;
use weir::worker::Worker;
use weir::{Client, Job};

#[derive(Serialize, Deserialize)]
struct SendInvoice {
    id: u64,
}

impl Job for SendInvoice {
    const KIND: &'static str = "send_invoice";
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // weir logs through `tracing`: nothing shows until the app installs a
    // subscriber. RUST_LOG=info shows the worker's lines.
    tracing_subscriber::fmt().with_env_filter(EnvFilter::from_default_env()).init();

    let url = std::env::var("WEIR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = Client::connect(&url).await?;
    let job = client.enqueue(SendInvoice { id: 7 }).await?;
    println!("enqueued {}", job.id);

    // Works the queue `default` until SIGTERM or Ctrl-C (a second one stops
    // running jobs at once); here it stops after one job.
    let outcome = Worker::builder(client)
        .max_jobs(1)
        .handle::<SendInvoice, _>(|invoice, ctx| async move {
            println!("sending invoice {} (job {}, attempt {})", invoice.id, ctx.id, ctx.attempt);
            Ok(())
        })
        .run_with_signals()
        .await?;
    println!("worker stopped: {:?}", outcome.reason);
    Ok(())
}
