//! The hook a worker calls to run the store's services: the archiver, the
//! relay and the history sampler, each fleet-wide one at a time.
//!
//! ```no_run
//! # async fn demo(broker: weir_broker::Broker) -> weir_store::Result<()> {
//! let store = weir_store::Store::connect("postgres://localhost/app").await?; // checks the schema
//! let services = weir_store::Services::start(&broker, &store, weir_store::ServicesConfig::default());
//! // ... the worker runs ...
//! services.stop().await;
//! # Ok(()) }
//! ```
use crate::archiver::{Archiver, ArchiverConfig};
use crate::history::{HistoryConfig, HistorySampler};
use crate::relay::{Relay, RelayConfig};
use crate::store::Store;
use std::future::Future;
use weir_broker::Broker;
use weir_service::{Group, Stop};

/// Which services to run, and their settings. `None` leaves one out.
/// Default: all three with their defaults.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// Moves dead jobs from Redis to the archive.
    pub archiver: Option<ArchiverConfig>,
    /// Sends committed outbox rows to Redis.
    pub relay: Option<RelayConfig>,
    /// Books each queue's per-minute counts.
    pub history: Option<HistoryConfig>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            archiver: Some(ArchiverConfig::default()),
            relay: Some(RelayConfig::default()),
            history: Some(HistoryConfig::default()),
        }
    }
}

/// The store's running services.
#[derive(Debug)]
pub struct Services {
    archiver: Option<Archiver>,
    relay: Option<Relay>,
    history: Option<HistorySampler>,
}

impl Services {
    /// Starts the configured services on the current tokio runtime. The
    /// store's schema should have been checked ([`Store::connect`] does).
    pub fn start(broker: &Broker, store: &Store, config: ServicesConfig) -> Services {
        let archiver = config.archiver.map(|c| Archiver::new(broker.clone(), store.clone(), c));
        let relay = config.relay.map(|c| Relay::new(broker.clone(), store.clone(), c));
        let history = config.history.map(|c| HistorySampler::new(broker.clone(), store.clone(), c));
        archiver.iter().for_each(Archiver::start);
        relay.iter().for_each(Relay::start);
        history.iter().for_each(HistorySampler::start);
        Services { archiver, relay, history }
    }

    /// Stops every service and waits for each loop to end (the relay gives up
    /// its lock, so a standby takes over at once). Safe to call twice.
    pub async fn stop(&self) {
        // Relay first: it is the one holding a lock that others wait on.
        Group::new()
            .then_some("relay", self.relay.as_ref().map(|r| r as &dyn Stop))
            .then_some("archiver", self.archiver.as_ref().map(|a| a as &dyn Stop))
            .then_some("history", self.history.as_ref().map(|h| h as &dyn Stop))
            .stop()
            .await;
    }

    /// Runs the services until `shutdown` completes, then stops them.
    pub async fn run(broker: &Broker, store: &Store, config: ServicesConfig, shutdown: impl Future<Output = ()>) {
        let services = Services::start(broker, store, config);
        shutdown.await;
        services.stop().await;
    }
}
