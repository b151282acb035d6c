#![warn(missing_docs)]
//! # weir-worker
//!
//! The worker runtime: takes jobs from weighted (or strict) priority queues,
//! runs each under a time limit with panics caught, retries failures with
//! backoff, recycles itself on limits, and never loses a job when stopped
//! or killed. docs/WORKER.md documents behaviour, flags and exit codes.
//!
//! ```no_run
//! # use weir_worker::{Worker, JobError};
//! # #[derive(serde::Serialize, serde::Deserialize)] struct SendInvoice { id: u64 }
//! # impl weir_client::Job for SendInvoice { const KIND: &'static str = "send_invoice"; }
//! # async fn demo(client: weir_client::Client) -> weir_worker::Result<()> {
//! let outcome = Worker::builder(client)
//!     .queues([("critical", 100), ("default", 10)])
//!     .concurrency(16)
//!     .handle::<SendInvoice, _>(|job, ctx| async move {
//!         println!("invoice {} (attempt {})", job.id, ctx.attempt);
//!         Ok::<_, JobError>(())
//!     })
//!     .run_with_signals()
//!     .await?;
//! std::process::exit(outcome.exit_code().into());
//! # }
//! ```
//!
//! # Layout
//! - [`builder`]: `Worker::builder(..)` and its settings; [`config`]: the
//!   validated configuration and its defaults; [`args`]: the same as clap flags.
//! - [`worker`]: the fetch loop and the shutdown sequence; `job`: one attempt
//!   (timeout, panic, ack/fail/release).
//! - One background loop per file: `acker` (batched acks), `extender`
//!   (lease renewal), `housekeeper` (promote, reclaim, under a fleet-wide
//!   lock), `heartbeat` (registry record, drain requests), [`scheduler`]
//!   (the ticks of periodic jobs); `service` is their common start/stop.
//! - `leases`: the leases this worker holds. [`retry`]: backoff delays.
//! - [`unknown`]: jobs of a kind with no handler here (put back or dead).
//! - [`handler`], [`context`], [`error`]: what handlers are, get and return.
//! - [`exec`]: `--exec` child processes; `builtin`: the `weir.*` kinds.
//! - [`metrics`]: the Prometheus series (`--metrics-addr`); `endpoint`: the
//!   HTTP server for them and the health probes.
//! - `trace`: each attempt's consumer span (feature `otel`).
//! - `memory`: resident memory for `--memory`; [`signal`]: SIGTERM/SIGINT.
//! - [`testing`]: run a handler on one job in an app's own unit tests, no Redis.
mod acker;
pub mod args;
pub mod builder;
mod builtin;
pub mod config;
pub mod context;
pub mod defaults;
pub mod endpoint;
pub mod error;
pub mod exec;
mod extender;
pub mod handler;
mod heartbeat;
mod housekeeper;
mod job;
mod leases;
mod memory;
pub mod metrics;
pub mod pace;
pub mod retry;
pub mod scheduler;
pub mod signal;
pub mod testing;
mod trace;
pub mod unknown;
pub mod worker;

pub use args::WorkerArgs;
pub use builder::WorkerBuilder;
pub use config::{Queues, WorkerConfig};
pub use context::JobContext;
pub use error::{ConfigError, Error, JobError, Result};
pub use governor::Quota;
pub use handler::Handler;
pub use pace::Pace;
pub use unknown::UnknownKind;
pub use worker::{Outcome, StopReason, Worker};
