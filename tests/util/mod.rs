//! Test helpers, in one place: a private `redis-server` per test binary,
//! a fresh key prefix per test, and the built `weir` binary.
//!
//! Tests never touch the machine's shared Redis: each test binary starts its
//! own server on a free loopback port (`--save "" --appendonly no`), watched
//! by a shell loop that stops it when the test process exits, even on abort.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weir::broker::{Broker, BrokerConfig};

pub struct RedisServer {
    pub port: u16,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

impl RedisServer {
    /// Starts a private server; it stops when this value drops or the test
    /// process exits.
    pub fn start() -> RedisServer {
        for _ in 0..5 {
            let port = free_port();
            let script = format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --logfile '' \
                 --daemonize no >/dev/null 2>&1 & r=$!; \
                 while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done; kill $r 2>/dev/null",
                parent = std::process::id()
            );
            let child = Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn redis-server (is it installed? scripts/test installs it)");
            let server = RedisServer { port, child };
            if server.wait_ready(Duration::from_secs(10)) {
                return server;
            }
        }
        panic!("could not start a private redis-server");
    }

    fn wait_ready(&self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.cmd(&["PING"]).map(|r| r.starts_with("+PONG")).unwrap_or(false) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one command over a raw connection; returns the raw reply text.
    pub fn cmd(&self, args: &[&str]) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        s.write_all(req.as_bytes())?;
        let mut buf = vec![0u8; 1 << 16];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// `redis-cli` against this server, for the cross-language tests.
    pub fn redis_cli(&self, args: &[&str]) -> Output {
        Command::new("redis-cli").arg("-p").arg(self.port.to_string()).args(args).output().expect("run redis-cli")
    }

    /// Calls of one command since the last `CONFIG RESETSTAT`, from `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let info = self.cmd(&["INFO", "commandstats"]).unwrap_or_default();
        let needle = format!("cmdstat_{}:calls=", command.to_lowercase());
        info.lines()
            .find_map(|l| {
                l.strip_prefix(&needle).map(|rest| rest.split(',').next().unwrap_or("0").parse().unwrap_or(0))
            })
            .unwrap_or(0)
    }

    /// Every command name with its call count, from `INFO commandstats`.
    /// Commands that scripts run are counted under their own names.
    pub fn command_table(&self) -> Vec<(String, u64)> {
        let info = self.cmd(&["INFO", "commandstats"]).unwrap_or_default();
        info.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("cmdstat_")?;
                let (name, stats) = rest.split_once(":calls=")?;
                Some((name.to_string(), stats.split(',').next()?.parse().ok()?))
            })
            .collect()
    }

    /// All commands processed, from `INFO stats`.
    pub fn total_commands(&self) -> u64 {
        let info = self.cmd(&["INFO", "stats"]).unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.cmd(&["SHUTDOWN", "NOSAVE"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server shared by the tests of this binary. Tests isolate themselves by
/// key prefix (see [`prefix`]), so they can run in parallel.
pub fn redis() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

/// A key prefix no other test uses.
pub fn prefix(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("t{}-{}", N.fetch_add(1, Ordering::SeqCst), name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"))
}

pub fn config(prefix: &str) -> BrokerConfig {
    BrokerConfig { prefix: prefix.to_string(), ..BrokerConfig::default() }
}

/// A broker on the shared private server under a fresh prefix.
pub async fn broker(name: &str) -> Broker {
    Broker::connect(&redis().url(), config(&prefix(name))).await.expect("connect to the private redis")
}

pub async fn broker_with(config: BrokerConfig) -> Broker {
    Broker::connect(&redis().url(), config).await.expect("connect to the private redis")
}

/// The built `weir` binary, with `--redis` and `--prefix` set.
pub fn weir(prefix: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.env_remove("WEIR_REDIS_URL").arg("--redis").arg(redis().url()).arg("--prefix").arg(prefix);
    c
}

/// Runs a command and returns its output, printing everything on failure.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "command failed: {cmd:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Polls `f` until it is true or `within` passes.
pub async fn eventually(within: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
