#![warn(missing_docs)]
//! Private Redis topologies for weir's tests: a single server, a Cluster of
//! 3 masters and 3 replicas, and a Sentinel group, each on free loopback
//! ports in temp dirs, started from the `redis-server` and `redis-cli` on
//! `PATH` (scripts/test installs both). Tests never touch a shared Redis.
//!
//! Every process is killed, and its dir removed, when its value drops and,
//! through a watcher shell, when the test process dies in any way (abort
//! and SIGKILL included), so a failed run leaves nothing behind.
//!
//! std only: RESP over `TcpStream`, no async runtime, no Redis client, so
//! the kit can start what the code under test connects to with any client.
//!
//! # Layout
//! - `server`: [`RedisServer`], one server, with its builder
//!   (`appendonly`), `kill9`/`restart`/`stop`, and `INFO commandstats`
//!   helpers.
//! - `cluster`: [`RedisCluster`], 3+3 nodes made by `redis-cli --cluster
//!   create`; failover, live slot migration, one queue per master.
//! - `sentinel`: [`SentinelGroup`], master, replica and 3 sentinels;
//!   forced and crash failover.
//! - `slot`: [`key_slot`], the cluster's key-to-slot rule.
//! - `node`: one `redis-server` process, its temp dir and its watcher; the
//!   only place processes are spawned and killed.
//! - `replication`: [`wait_replicated`], until replicas hold a master's writes.
//! - `resp`: the RESP2 wire format; `wait`: polling with a reason.
mod cluster;
mod node;
mod replication;
mod resp;
mod sentinel;
mod server;
mod slot;
mod wait;

pub use cluster::RedisCluster;
pub use replication::wait_replicated;
pub use sentinel::SentinelGroup;
pub use server::{RedisServer, RedisServerBuilder};
pub use slot::key_slot;

use std::io;
use std::process::{Command, Output};

/// Sends one command to `127.0.0.1:port` over a fresh connection; returns
/// the raw reply (`+PONG\r\n`, `-ERR ..`, ..). Only an I/O failure is an `Err`.
pub fn cmd(port: u16, args: &[&str]) -> io::Result<String> {
    resp::request(port, args).map(|(_, raw)| raw)
}

/// `redis-cli -p PORT ARGS..`.
///
/// # Panics
/// If `redis-cli` cannot run (install redis-tools; scripts/test does).
pub fn redis_cli(port: u16, args: &[&str]) -> Output {
    let mut cli = Command::new("redis-cli");
    cli.arg("-p").arg(port.to_string()).args(args);
    cli.output().unwrap_or_else(|e| panic!("{}", missing_redis_cli(e)))
}

fn missing_redis_cli(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::NotFound {
        io::Error::new(e.kind(), "redis-cli is not installed: install redis-tools (scripts/test does)")
    } else {
        e
    }
}
