//! "One per fleet": the one lock primitive behind every piece of work that a
//! single process should do at a time (housekeeping passes, the store's
//! relay, archiver and history sampler, and later the cron scheduler).
//!
//! A lock is a STRING holding its holder's token with a TTL, so a holder that
//! dies lets go on its own. Two uses:
//! - a *pass* ([`FleetLock::try_acquire`] alone, never released): whoever takes
//!   it does one pass, and the fleet makes about one pass per TTL;
//! - a *leader* ([`FleetLock::try_acquire`], then [`FleetLock::renew`] while
//!   working, [`FleetLock::release`] on a clean stop): renewal and release are
//!   scripts that act only while the token is still the holder's (fenced), so
//!   a holder that stalled past its TTL cannot take the lock back from its
//!   successor.
use crate::broker::{Broker, ms};
use crate::error::Result;
use std::sync::OnceLock;
use std::time::Duration;

fn renew_script() -> &'static redis::Script {
    static S: OnceLock<redis::Script> = OnceLock::new();
    S.get_or_init(|| redis::Script::new(include_str!("lua/lock_renew.lua")))
}

fn release_script() -> &'static redis::Script {
    static S: OnceLock<redis::Script> = OnceLock::new();
    S.get_or_init(|| redis::Script::new(include_str!("lua/lock_release.lua")))
}

/// One holder's handle on a named fleet lock.
#[derive(Debug, Clone)]
pub struct FleetLock {
    broker: Broker,
    key: String,
    token: String,
}

impl FleetLock {
    /// A handle on the lock at `key` (built in [`crate::keys`]) for holder `token`.
    pub fn new(broker: &Broker, key: String, token: impl Into<String>) -> FleetLock {
        FleetLock { broker: broker.clone(), key, token: token.into() }
    }

    /// The lock's Redis key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Takes the lock for `ttl` if nobody holds it. True when taken.
    pub async fn try_acquire(&self, ttl: Duration) -> Result<bool> {
        let set = redis::cmd("SET").arg(&self.key).arg(&self.token).arg("NX").arg("PX").arg(ms(ttl).max(1)).to_owned();
        let r: Option<String> = self.broker.query(&set).await?;
        Ok(r.is_some())
    }

    /// Extends the lock to `ttl` from now if this holder still has it.
    pub async fn renew(&self, ttl: Duration) -> Result<bool> {
        let mut call = renew_script().key(&self.key);
        call.arg(&self.token).arg(ms(ttl).max(1));
        Ok(self.broker.invoke::<i64>(&call).await? == 1)
    }

    /// Gives the lock up if this holder still has it, so a standby takes over at once.
    pub async fn release(&self) -> Result<bool> {
        let mut call = release_script().key(&self.key);
        call.arg(&self.token);
        Ok(self.broker.invoke::<i64>(&call).await? == 1)
    }
}
