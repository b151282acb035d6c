//! Test helpers, in one place: a private `redis-server` per test binary,
//! a fresh key prefix per test, and the built `weir` binary.
//!
//! Tests never touch the machine's shared Redis: each test binary starts its
//! own server on a free loopback port through weir-testkit, which also has
//! the Cluster and Sentinel topologies; its watcher stops every server when
//! the test process exits, even on abort.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weir::broker::{Broker, BrokerConfig};
pub use weir_testkit::RedisServer;

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

/// The built `weir` binary with `--redis URL --prefix P`: for the Cluster
/// and Sentinel tests, whose Redis is not the shared private server.
pub fn weir_at(url: &str, prefix: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.env_remove("WEIR_REDIS_URL").arg("--redis").arg(url).arg("--prefix").arg(prefix);
    c
}

/// Runs a command; returns (exit code, stdout, stderr) whatever the outcome.
pub fn run_any(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run command");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `<base> enqueue <args> --stdin` fed `input`: (exit code, stdout, stderr).
pub fn enqueue_stdin(mut base: Command, args: &[&str], input: &str) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = base
        .arg("enqueue")
        .args(args)
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}
