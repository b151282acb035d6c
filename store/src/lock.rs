//! The store's fleet locks (one relay, one archiver, one history sampler at a
//! time), built on the broker's one lock primitive, [`weir_broker::FleetLock`],
//! at `P:lock:<name>` (docs/REDIS.md).
use crate::store::Store;
use std::sync::Arc;
use weir_broker::Broker;
use weir_broker::keys::store_lock;
use weir_service::Service;

pub use weir_broker::FleetLock;

/// The lock of one store service, `name`: `relay`, `archiver` or `history`.
pub fn service_lock(broker: &Broker, name: &str) -> FleetLock {
    FleetLock::new(broker, store_lock(broker.prefix(), name), ulid::Ulid::new().to_string())
}

/// What each fleet-locked store service (relay, archiver, history sampler)
/// holds: the broker and the store it works between, its settings `C`, the
/// fleet lock that picks the one process to run it, and its loop.
#[derive(Debug)]
pub(crate) struct LockedService<C> {
    pub(crate) broker: Broker,
    pub(crate) store: Store,
    pub(crate) config: C,
    pub(crate) lock: FleetLock,
    pub(crate) service: Service,
}

impl<C> LockedService<C> {
    /// The parts of the service `name`, its lock [`service_lock`]`(name)`.
    pub(crate) fn new(broker: Broker, store: Store, config: C, name: &str) -> Arc<Self> {
        let lock = service_lock(&broker, name);
        Arc::new(LockedService { broker, store, config, lock, service: Service::default() })
    }
}
