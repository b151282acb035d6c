#![warn(missing_docs)]
//! # weir-service
//!
//! How every weir process runs its background work and stops it, in one
//! place:
//! - [`Service`]: one background loop with `start` and `stop`; stop before
//!   start and a second stop are no-ops, so shutdown code needs no
//!   bookkeeping. [`pause`] is the loop's cancellable sleep.
//! - [`Group`]: services stopped in the order they were added, the one
//!   place a process declares its shutdown order.
//! - [`signal`]: SIGTERM/SIGINT as "first signal" and "second signal", the
//!   same for `weir work`, `weir relay`, `weir autoscale`, `weir bench` and a
//!   library worker's `run_with_signals`.
mod group;
mod service;
pub mod signal;

pub use group::{Group, Stop};
pub use service::{Service, pause};
