#![warn(missing_docs)]
//! # weir-broker
//!
//! weir's Redis data model: the job envelope, the key schema, and one atomic
//! Lua script per operation with a typed wrapper each. docs/REDIS.md
//! documents the keys and states; docs/PROTOCOL.md the enqueue protocol for
//! other languages.
//!
//! # Layout
//! - [`broker`]: the settings and script calls (`eval`, `eval_many`); `conn`: the
//!   connection for one server, Redis Cluster or Sentinel, and what is retried;
//!   [`url`]: the URL forms.
//! - `scripts`: every script's contract (keys, arguments), declared once.
//! - [`keys`]: every Redis key, built from one hash-tagged prefix per queue.
//! - [`model`]: the job's states, leases, holds, outcomes and stop reasons, and where
//!   each rule about them is decided; [`envelope`], [`codec`], [`backoff`]: what a job
//!   is and how its payload is encoded.
//! - [`bounds`]: the documented maxima of numeric inputs, checked at every edge.
//! - `lua/`: one script per operation, sharing `lua/_lib.lua`; `scripts` loads them.
//! - [`enqueue`], [`reserve`] (with [`select`] for weighted/strict choice),
//!   [`finish`] (ack, fail, extend, release), [`maintenance`] (promote, reclaim),
//!   [`admin`] (pause, resume, delete, stats), [`browse`] (a state's jobs page by
//!   page, by rank), [`dead`] (the dead set: list, count, show, retry, delete),
//!   [`status`] (a job by id), [`cancel`] (cancel a job by id), [`wait`] (idle wake-up).
//! - [`job_line`]: one job per line of JSON (`weir enqueue --stdin`).
//! - [`cron`]: schedule expressions, zones and ticks; [`schedules`]: schedules in
//!   Redis and the scheduler's pass, each tick enqueued once (`lua/tick.lua`).
//! - [`registry`]: the worker registry; [`limit`]: fleet-wide limits;
//!   [`lock`]: the one "one per fleet" lock; `nodes`: commands for every server.
//! - [`probe`]: what the Redis can do at best (round trips, pipelined
//!   commands), for `weir bench`.
//!
//! # Job states
//! `pending` → (reserve) → `active` → (ack) → `done` (data deleted; a done record kept for `keep_done`)
//! `active` → (fail) → `delayed` (retry) or `dead`; `active` → (release) → `pending`;
//! `active` → (reclaim, lease expired) → `pending` or `dead`;
//! `delayed` → (promote, when due) → `pending`; `pending`/`delayed` → (cancel) → gone;
//! `active` → (cancel requested, then fail or reclaim) → `dead` ("cancelled"). A job is in exactly one state.
pub mod admin;
pub mod backoff;
pub mod bounds;
pub mod broker;
pub mod browse;
pub mod cancel;
pub mod clock;
pub mod codec;
mod conn;
pub mod cron;
pub mod dead;
pub mod duration;
pub mod enqueue;
pub mod envelope;
pub mod error;
pub mod finish;
pub mod job_line;
pub mod keys;
pub mod limit;
pub mod lock;
pub mod maintenance;
pub mod model;
pub mod name;
mod nodes;
pub mod probe;
pub mod registry;
mod reply;
pub mod reserve;
pub mod schedules;
mod scripts;
pub mod select;
pub mod status;
pub mod url;
pub mod wait;

pub use admin::{JobInfo, JobState, QueueStats};
pub use backoff::Backoff;
pub use bounds::OverLimit;
pub use broker::{Broker, BrokerConfig};
pub use cancel::Cancel;
pub use clock::{Clock, OffsetClock, SystemClock};
pub use codec::Codec;
pub use cron::{CatchUp, Expr};
pub use dead::{DeadCursor, DeadFilter, DeadJob, DeadPage};
pub use duration::{format_duration, parse_duration};
pub use enqueue::{Enqueued, NewJob, RunAt, Unique};
pub use envelope::{AttemptError, Envelope};
pub use error::{Error, Result};
pub use finish::{Done, FailOutcome, Renewal, check_result};
pub use limit::{Hold, KeyRule, QueueLimits, Rate};
pub use lock::FleetLock;
pub use maintenance::Reclaimed;
pub use name::QueueName;
/// The Redis client weir uses, for building commands with [`Broker::query`].
pub use redis;
pub use reserve::{Lease, Reserved};
pub use schedules::{Schedule, ScheduleInfo};
pub use select::{Mode, Selector};
pub use status::{JobStatus, JobWorker, Progress};
pub use url::redact_url;
pub use wait::Waiter;
