//! # weir
//!
//! A background job queue on Redis: weighted priority queues, per-job
//! timeouts, retries with backoff, limits and autoscaling. This crate
//! re-exports the public API so an app needs one dependency.
//!
//! ```no_run
//! # async fn demo() -> weir::Result<()> {
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct SendInvoice { id: u64 }
//! impl weir::Job for SendInvoice { const KIND: &'static str = "send_invoice"; }
//!
//! let client = weir::Client::connect("redis://127.0.0.1:6379").await?;
//! let job = client.enqueue(SendInvoice { id: 7 }).await?;
//! println!("enqueued {}", job.id);
//! # Ok(()) }
//! ```
pub mod exporter;

pub use weir_broker as broker;
pub use weir_client::{Backoff, BrokerConfig, Client, Codec, Enqueued, Error, Job, Options, QueueName, Result};
pub use weir_store as store;
pub use weir_supervisor as supervisor;
/// The dashboard (`weir web`) as an axum router (feature `web`, on by default).
#[cfg(feature = "web")]
pub use weir_web as web;
pub use weir_worker as worker;
/// Run a handler against one job in a unit test, without Redis or a worker
/// fleet (the same as `weir::worker::testing`).
pub use weir_worker::testing;
