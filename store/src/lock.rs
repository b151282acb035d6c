//! Fleet locks: one Redis STRING per store service (`P:lock:<name>`, see
//! docs/REDIS.md), so one relay, one archiver and one history sampler run
//! at a time across every worker that has a store.
//!
//! Two uses: a *pass* lock (`SET NX PX interval`, never released: the fleet
//! makes about one pass per interval, as the housekeeper does), and a
//! *leader* lock held while renewed (the relay), renewed and released only by
//! its holder through `lua/renew.lua` and `lua/release.lua`.
use fred::interfaces::KeysInterface;
use fred::types::scripts::Script;
use fred::types::{Expiration, SetOptions};
use std::sync::OnceLock;
use std::time::Duration;
use weir_broker::Broker;
use weir_broker::keys::store_lock;

fn renew_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::from_lua(include_str!("lua/renew.lua")))
}

fn release_script() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::from_lua(include_str!("lua/release.lua")))
}

/// One holder's handle on a named fleet lock.
#[derive(Debug, Clone)]
pub struct FleetLock {
    broker: Broker,
    key: String,
    token: String,
}

impl FleetLock {
    /// `name`: `relay`, `archiver` or `history`.
    pub fn new(broker: &Broker, name: &str) -> FleetLock {
        FleetLock {
            broker: broker.clone(),
            key: store_lock(broker.prefix(), name),
            token: ulid::Ulid::new().to_string(),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Takes the lock for `ttl` if nobody holds it. True when taken.
    pub async fn try_acquire(&self, ttl: Duration) -> weir_broker::Result<bool> {
        let r: Option<String> = self
            .broker
            .redis()
            .set(
                &self.key,
                self.token.as_str(),
                Some(Expiration::PX(ttl.as_millis().max(1) as i64)),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        Ok(r.is_some())
    }

    /// Extends the lock to `ttl` from now if this holder still has it.
    pub async fn renew(&self, ttl: Duration) -> weir_broker::Result<bool> {
        let n: i64 = renew_script()
            .evalsha_with_reload(
                self.broker.redis(),
                vec![self.key.clone()],
                vec![self.token.clone(), (ttl.as_millis().max(1) as i64).to_string()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives the lock up if this holder still has it, so a standby takes over at once.
    pub async fn release(&self) -> weir_broker::Result<bool> {
        let n: i64 = release_script()
            .evalsha_with_reload(self.broker.redis(), vec![self.key.clone()], vec![self.token.clone()])
            .await?;
        Ok(n == 1)
    }
}
