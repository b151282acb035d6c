//! A private `redis-server` on a free loopback port, for `weir demo` when no
//! Redis answers and for `weir bench`, which never measures a shared one.
use anyhow::{Context, bail};
use std::io;
use weir_testkit::RedisServer;

const INSTALL: &str = "redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install \
                       redis-server; macOS: brew install redis), or pass --redis URL";

/// A `redis-server` on a free loopback port with persistence off, killed
/// when this value drops, or by weir-testkit's watcher when `weir` exits any
/// other way.
#[derive(Debug)]
pub struct PrivateRedis {
    server: RedisServer,
}

impl PrivateRedis {
    pub async fn start() -> anyhow::Result<PrivateRedis> {
        // Off the runtime: starting polls the new server for up to seconds.
        let started = tokio::task::spawn_blocking(RedisServer::try_start).await.context("start redis-server")?;
        match started {
            Ok(server) => Ok(PrivateRedis { server }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => bail!("{INSTALL}"),
            Err(e) => Err(e).context("cannot start a private redis-server (or pass --redis URL)"),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
