#![warn(missing_docs)]
//! # weir-supervisor
//!
//! The autoscaler behind `weir autoscale`: it watches queue depth and work
//! rate and spawns or drains workers, as a long-lived sidecar or once per
//! cron run. docs/AUTOSCALE.md describes it for operators.
//!
//! # Layout
//! - [`policy`]: the pure decision (desired workers from the figures and the history).
//! - [`figures`]: one tick's figures from the broker's counters and the registry.
//! - [`history`]: the bounded decision history in Redis.
//! - [`fleet`]: spawning, restarting and draining worker processes (sidecar and cron).
//! - [`args`]: the `weir autoscale` flags; [`error`]: what can go wrong.
pub mod args;
pub mod error;
pub mod figures;
pub mod fleet;
pub mod history;
pub mod policy;

pub use args::AutoscaleArgs;
pub use error::{Error, Result};
pub use policy::{Decision, Policy, QueueFigures, decide};
