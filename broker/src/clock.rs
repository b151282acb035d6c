//! Time. Every script takes "now" from Redis's own clock (`TIME`), so a fleet
//! spread over hosts whose clocks drift agrees on when a lease expires or a
//! delayed job is due. This process's clock is used only for what it alone
//! knows: its own timeouts, waits and log lines.
//!
//! [`OffsetClock`] is the test hook: an offset added to Redis's clock in
//! every script (and to [`SystemClock`] for local waits), which tests move
//! forward instead of sleeping. In production it stays 0.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where broker logic reads the time, so tests can move it ([`OffsetClock`]).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// This host's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The test hook, shared by clones: an offset added to every clock weir
/// reads, or (once [`OffsetClock::freeze`]d) a fixed time that only
/// [`OffsetClock::advance`] moves, for tests whose figures must not depend on
/// how fast a loaded machine runs them.
#[derive(Debug, Default, Clone)]
pub struct OffsetClock(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    offset: AtomicI64,
    /// 0: not frozen; else the frozen time, ms since the epoch.
    frozen_at: AtomicI64,
}

impl OffsetClock {
    /// Moves time forward by `by` for every clone, frozen or not.
    pub fn advance(&self, by: std::time::Duration) {
        let by = crate::broker::ms(by);
        self.0.offset.fetch_add(by, Ordering::SeqCst);
        let _ = self.0.frozen_at.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| (t != 0).then(|| t + by));
    }

    /// Stops time at this host's now (plus the offset so far).
    pub fn freeze(&self) {
        self.0.frozen_at.store(SystemClock.now_ms() + self.offset_ms(), Ordering::SeqCst);
    }

    /// How far this clock is ahead of the host's, ms.
    pub fn offset_ms(&self) -> i64 {
        self.0.offset.load(Ordering::SeqCst)
    }

    /// The frozen time, if frozen.
    pub fn frozen_ms(&self) -> Option<i64> {
        Some(self.0.frozen_at.load(Ordering::SeqCst)).filter(|t| *t != 0)
    }

    /// The hook as scripts take it (`ARGV` `clock_offset_ms`): an offset, or
    /// `=T` for a frozen time T.
    pub fn script_arg(&self) -> String {
        match self.frozen_ms() {
            Some(t) => format!("={t}"),
            None => self.offset_ms().to_string(),
        }
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        self.frozen_ms().unwrap_or_else(|| SystemClock.now_ms() + self.offset_ms())
    }
}
