//! Setup shared by the criterion benches: a private `redis-server`, a tokio
//! runtime, a broker on a fresh key prefix, and payloads of a given size.
//!
//! Benches never touch the machine's shared Redis: each bench binary that
//! needs Redis starts its own through the test kit (a free loopback port,
//! persistence off, stopped when the bench process exits, even on abort). `WEIR_BENCH_REDIS=redis://...` points them at
//! a server of your choice instead (keys go under a fresh prefix).
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use weir::broker::{Broker, BrokerConfig};

/// The bench's Redis: `WEIR_BENCH_REDIS` when set, else a private server
/// from the test kit (`weir-testkit`), stopped when dropped.
pub struct RedisServer {
    pub url: String,
    _private: Option<weir_testkit::RedisServer>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        if let Ok(url) = std::env::var("WEIR_BENCH_REDIS") {
            return RedisServer { url, _private: None };
        }
        let server = weir_testkit::RedisServer::start();
        RedisServer { url: server.url(), _private: Some(server) }
    }
}

/// A multi-threaded runtime like the one the `weir` binary runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// A broker on a fresh prefix, so benches never see each other's keys.
pub async fn broker(url: &str) -> Broker {
    let prefix = format!("weirbench{}", ulid::Ulid::new().to_string().to_lowercase());
    Broker::connect(url, BrokerConfig { prefix, ..BrokerConfig::default() }).await.expect("connect to the bench Redis")
}

/// A job payload whose JSON encoding is about `bytes` long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub id: u64,
    pub body: String,
}

impl Payload {
    pub fn of_size(bytes: usize) -> Payload {
        // `{"id":1234567,"body":""}` is 24 bytes.
        Payload { id: 1_234_567, body: "x".repeat(bytes.saturating_sub(24)) }
    }
}

/// Sizes every payload bench runs at, with their labels.
pub const SIZES: [(&str, usize); 2] = [("100B", 100), ("10KiB", 10 * 1024)];
