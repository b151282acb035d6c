//! A private `redis-server` on a free loopback port, for `weir demo` when no
//! Redis answers and for `weir bench`, which never measures a shared one.
use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install \
                       redis-server; macOS: brew install redis), or pass --redis URL";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A `redis-server` on a free loopback port with persistence off, stopped
/// when this value drops, or by its watcher loop when `weir bench` exits
/// any other way.
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    watcher: Child,
}

impl PrivateRedis {
    pub async fn start() -> anyhow::Result<PrivateRedis> {
        if !on_path("redis-server") {
            bail!("{INSTALL}");
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?.local_addr()?.port();
            let script = format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --logfile '' \
                 --daemonize no >/dev/null 2>&1 & r=$!; \
                 while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done; kill $r 2>/dev/null",
                parent = std::process::id()
            );
            let watcher = Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .spawn()
                .context("cannot start redis-server (is it installed? or pass --redis URL)")?;
            let server = PrivateRedis { port, watcher };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(server);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        bail!("redis-server did not start (is it installed? or pass --redis URL)")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // Stop the server itself (killing the watcher shell would orphan
        // it); the watcher sees it gone within half a second and exits.
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
            let _ = s.read(&mut [0u8; 64]);
        }
        // Bounded: a server that never answered is left to the watcher.
        for _ in 0..40 {
            if !matches!(self.watcher.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
