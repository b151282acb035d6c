//! Setup shared by the criterion benches: a private `redis-server`, a tokio
//! runtime, a broker on a fresh key prefix, and payloads of a given size.
//!
//! Benches never touch the machine's shared Redis: each bench binary that
//! needs Redis starts its own on a free loopback port (`--save ""
//! --appendonly no`), watched by a shell loop that stops it when the bench
//! process exits, even on abort. `WEIR_BENCH_REDIS=redis://...` points them at
//! a server of your choice instead (keys go under a fresh prefix).
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weir::broker::{Broker, BrokerConfig};

/// A private redis-server, stopped when dropped (or when the bench exits).
pub struct RedisServer {
    pub url: String,
    child: Option<Child>,
}

impl RedisServer {
    /// `WEIR_BENCH_REDIS` when set, else a private server on a free port.
    pub fn start() -> RedisServer {
        if let Ok(url) = std::env::var("WEIR_BENCH_REDIS") {
            return RedisServer { url, child: None };
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port();
            let script = format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --logfile '' \
                 --daemonize no >/dev/null 2>&1 & r=$!; \
                 while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done; kill $r 2>/dev/null",
                parent = std::process::id()
            );
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn redis-server (is it installed? scripts/test installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return RedisServer { url: format!("redis://127.0.0.1:{port}"), child: Some(child) };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start a private redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Stop the server itself (killing the watcher shell would orphan it);
        // the watcher sees it gone within half a second and exits.
        if let Some(child) = &mut self.child {
            if let Some(addr) = self.url.strip_prefix("redis://")
                && let Ok(mut s) = TcpStream::connect(addr)
            {
                let _ = s.write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
                let _ = s.read(&mut [0u8; 64]);
            }
            // Bounded: a server that never answered is left to the watcher.
            for _ in 0..40 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
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
