#![warn(missing_docs)]
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

/// The Redis data model under everything: keys, jobs and their states, one
/// Lua script per operation, connections (single node, Cluster, Sentinel),
/// limits, schedules and administration (`weir-broker`).
#[doc(inline)]
pub use weir_broker as broker;
/// What an app enqueues with: [`Client`], the [`Job`] trait and per-enqueue
/// [`Options`] (`weir-client`).
#[doc(inline)]
pub use weir_client::{Backoff, BrokerConfig, Client, Codec, Enqueued, Error, Job, Options, QueueName, Result};
/// The durable store on PostgreSQL or SQLite: the dead-job archive, the
/// transactional outbox ([`store::EnqueueTx`]) and job history
/// (`weir-store`, docs/STORE.md).
#[doc(inline)]
pub use weir_store as store;
/// The autoscaler behind `weir autoscale` (`weir-supervisor`,
/// docs/AUTOSCALE.md).
#[doc(inline)]
pub use weir_supervisor as supervisor;
/// The dashboard (`weir web`) as an axum router (feature `web`, on by
/// default; `weir-web`, docs/DASHBOARD.md).
#[cfg(feature = "web")]
#[doc(inline)]
pub use weir_web as web;
/// The worker runtime: [`worker::Worker::builder`], handlers, the job
/// context and the standard worker flags (`weir-worker`, docs/WORKER.md).
#[doc(inline)]
pub use weir_worker as worker;
/// Run a handler against one job in a unit test, without Redis or a worker
/// fleet (the same as `weir::worker::testing`).
#[doc(inline)]
pub use weir_worker::testing;
