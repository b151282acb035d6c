#![warn(missing_docs)]
//! # weir-store
//!
//! weir's durable store, through sqlx: PostgreSQL in production, SQLite (a
//! local file, no server) embedded. It keeps what must outlive Redis: the
//! archive of dead jobs, the transactional outbox, and per-minute history.
//! docs/STORE.md describes the tables, the services and the guarantees.
//!
//! Every query is checked at run time (`sqlx::query` with binds): nothing
//! needs a database to compile. The schema comes from `migrations/`, applied
//! only by `weir migrate`; every component checks it at start
//! ([`Store::connect`]) and refuses an older one.
//!
//! # Layout
//! - [`store`]: the pool (PostgreSQL or SQLite, from the URL) and one query per call on either.
//! - [`schema`]: the embedded migrations, `migrate` and the start-up check.
//! - [`archive`]: dead-job records and the queries behind `weir failed`; [`archiver`]: the
//!   service that moves dead jobs from Redis to the store.
//! - [`outbox`]: `client.enqueue_tx(&mut tx, job)` ([`EnqueueTx`]); [`relay`]: the service that
//!   moves committed rows to Redis.
//! - [`history`]: per-minute counts and the sampler service.
//! - [`lock`]: the fleet locks (`P:lock:<service>`, the broker's [`lock::FleetLock`]) so each
//!   service runs once across workers, and the parts every such service holds.
//! - [`services`]: [`Services::start`], the one hook a worker calls.
pub mod archive;
pub mod archiver;
pub mod error;
pub mod history;
pub mod lock;
pub mod outbox;
pub mod relay;
pub mod schema;
pub mod services;
pub mod store;

pub use archive::{ArchivedError, BULK_BATCH, DeadFilter, DeadJob, DeadRecord, RetryOutcome, RetrySummary};
pub use archiver::{Archiver, ArchiverConfig};
pub use error::{Error, Result};
pub use history::{HistoryConfig, HistoryRow, HistorySampler, Sample};
pub use outbox::{EnqueueTx, OutboxDatabase, OutboxJob, OutboxRow};
pub use relay::{Relay, RelayConfig};
pub use schema::Migrated;
pub use services::{Services, ServicesConfig};
pub use sqlx;
pub use store::{Backend, Store, StoreConfig};
