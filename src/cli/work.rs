//! `weir work`: run a worker with the harmless builtin kinds (`weir.noop`,
//! `weir.echo`), the builtin test kinds when asked, and any
//! `--exec KIND=COMMAND` handlers. docs/WORKER.md documents the flags and
//! exit codes.
use super::Conn;
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use weir_worker::{Worker, WorkerArgs};

#[derive(Debug, Args)]
pub struct WorkArgs {
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Also run the builtin test kinds that sleep, fail, panic or allocate
    /// (weir.sleep, weir.fail, weir.flaky, weir.stamp, weir.panic,
    /// weir.alloc): for tests, demos and benchmarks, not production.
    #[arg(long)]
    pub builtin_kinds: bool,
    /// With a store, this worker also takes its turn (one process at a time
    /// across the fleet) at archiving dead jobs, relaying the outbox and
    /// sampling history (docs/STORE.md).
    #[command(flatten)]
    pub store: super::migrate::StoreArg,
}

pub async fn run(conn: &Conn, a: WorkArgs) -> anyhow::Result<ExitCode> {
    // Bad flags are one line before anything connects.
    a.worker.config().map_err(anyhow::Error::msg).context("invalid worker flags")?;
    // Listen for signals before connecting, so an early SIGTERM is not lost.
    let (first, second) = weir_worker::signal::shutdown_signals().context("cannot listen for signals")?;
    // A panicking handler fails its attempt and the worker goes on: log one
    // line, not a backtrace per panic.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("panic: {info}");
    }));
    let broker = conn.connect().await?;
    // The store's schema is checked before any job runs; never migrated here.
    let services = match &a.store.database_url {
        Some(_) => {
            let store = a.store.connect().await?;
            Some(weir_store::Services::start(&broker, &store, weir_store::ServicesConfig::default()))
        }
        None => None,
    };
    let mut worker = Worker::builder(weir::Client::from_broker(broker)).args(&a.worker).builtins();
    if a.builtin_kinds {
        worker = worker.builtin_test_kinds();
    }
    let outcome = worker.force_on(second).run_until(first).await.context("worker failed");
    if let Some(s) = services {
        s.stop().await;
    }
    Ok(ExitCode::from(outcome?.exit_code()))
}
