//! The store's fleet locks (one relay, one archiver, one history sampler at a
//! time), built on the broker's one lock primitive, [`weir_broker::FleetLock`],
//! at `P:lock:<name>` (docs/REDIS.md).
use weir_broker::Broker;
use weir_broker::keys::store_lock;

pub use weir_broker::FleetLock;

/// The lock of one store service, `name`: `relay`, `archiver` or `history`.
pub fn service_lock(broker: &Broker, name: &str) -> FleetLock {
    FleetLock::new(broker, store_lock(broker.prefix(), name), ulid::Ulid::new().to_string())
}
