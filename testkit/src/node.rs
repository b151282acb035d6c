//! One `redis-server` process (a data node or a sentinel) in its own temp
//! dir, and the watcher that kills it when the test process dies.
//!
//! The watcher is a shell that reads the server's pid from a pipe whose
//! other end only this process holds (std opens pipes close-on-exec, so
//! nothing we spawn later inherits it). When this process exits in any way,
//! abort and SIGKILL included, the kernel closes the pipe, the shell reads
//! end of file, kills the last pid it was told and removes the dir. No
//! polling, and a deliberate `kill9` + `restart` just sends a new pid.
use crate::resp;
use crate::wait::wait_until;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What a node runs as; decides its config file, flags and ports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Server,
    /// Needs `port + 10000` free as well: the cluster bus (set explicitly
    /// with `cluster-port` only since Redis 7, so not relied on).
    ClusterNode,
    Sentinel,
}

const WATCHER: &str = r#"trap '' INT HUP
pid=
while read -r line; do pid=$line; done
[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
rm -rf "$1""#;

/// What every data node (not a sentinel) gets: no RDB snapshots (no disk
/// writes a test did not ask for), and a replica's full sync at once
/// (Redis 7 waits 5 s by default for more replicas to share a diskless one).
const DATA_NODE_CONFIG: &str = "save \"\"\nrepl-diskless-sync-delay 0\n";

/// Free ports tried before giving up: another process may take a port
/// between our probe and the server's bind.
const ATTEMPTS: usize = 5;

#[derive(Debug)]
pub(crate) struct Node {
    kind: Kind,
    port: u16,
    /// Holds the config file, `redis.log` (the server's stdout and stderr)
    /// and whatever the server writes (AOF, `nodes.conf`).
    dir: PathBuf,
    /// `None` once stopped or killed.
    server: Option<Child>,
    watcher: Child,
}

impl Node {
    /// Starts a node on a free loopback port. `config` is appended to the
    /// lines every node gets (port, bind, dir, and for data nodes
    /// [`DATA_NODE_CONFIG`]).
    pub(crate) fn start(kind: Kind, config: &str) -> io::Result<Node> {
        let dir = new_temp_dir()?;
        // By path: a missing redis-server must be the error a bare PATH gives.
        let watcher = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHER)
            .arg("sh")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut node = Node { kind, port: 0, dir, server: None, watcher };
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            node.port = free_port(kind == Kind::ClusterNode)?;
            let data_config = if kind == Kind::Sentinel { "" } else { DATA_NODE_CONFIG };
            let config_text =
                format!("port {}\nbind 127.0.0.1\ndir {}\n{data_config}{config}", node.port, node.dir.display());
            fs::write(node.config_path(), config_text)?;
            match node.launch() {
                Ok(()) => return Ok(node),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                Err(e) => failures.push(format!("port {}: {e}", node.port)),
            }
        }
        Err(io::Error::other(format!("redis-server did not start in {ATTEMPTS} attempts: {}", failures.join("; "))))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// SIGKILL: no shutdown work, exactly like a crash.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
            self.tell_watcher("");
        }
    }

    /// `SHUTDOWN NOSAVE` (the AOF, if on, is still flushed), SIGKILL if the
    /// server has not exited 10 s later.
    pub(crate) fn stop(&mut self) {
        let Some(server) = self.server.as_mut() else { return };
        let _ = resp::request(self.port, &["SHUTDOWN", "NOSAVE"]);
        let exited = wait_until(Duration::from_secs(10), || match server.try_wait() {
            Ok(None) => Err("still running".into()),
            _ => Ok(()),
        });
        if exited.is_ok() {
            self.server = None;
            self.tell_watcher("");
        } else {
            self.kill9();
        }
    }

    /// Stops the server if it runs, then starts it again on the same port
    /// with the same dir and config.
    pub(crate) fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.launch()
    }

    /// Spawns the server and waits until it answers as itself.
    fn launch(&mut self) -> io::Result<()> {
        let log = File::options().create(true).append(true).open(self.dir.join("redis.log"))?;
        let mut command = Command::new("redis-server");
        command.arg(self.config_path());
        if self.kind == Kind::Sentinel {
            command.arg("--sentinel");
        }
        let server = command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).spawn().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    e.kind(),
                    "redis-server is not installed: install redis-server (scripts/test does; \
                     Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)",
                )
            } else {
                e
            }
        })?;
        let pid = server.id();
        self.tell_watcher(&pid.to_string());
        self.server = Some(server);
        let ready = wait_until(Duration::from_secs(10), || self.answers_as(pid));
        ready.map_err(|reason| {
            self.kill9();
            io::Error::other(format!("{reason}; end of {}:\n{}", self.dir.join("redis.log").display(), self.log_tail()))
        })
    }

    /// Ready once `INFO` on our port comes from our pid (not from another
    /// server that won a race for the port) and no data is loading.
    fn answers_as(&mut self, pid: u32) -> Result<(), String> {
        if let Some(status) = self.server.as_mut().and_then(|s| s.try_wait().ok().flatten()) {
            return Err(format!("redis-server exited with {status}"));
        }
        let info = resp::call(self.port, &["INFO"]).map_err(|e| e.to_string())?;
        let info = info.text();
        if !info.contains(&format!("process_id:{pid}\r")) {
            return Err(format!("another process answers on port {}", self.port));
        }
        if info.contains("loading:1") {
            return Err("still loading its data".into());
        }
        Ok(())
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join(if self.kind == Kind::Sentinel { "sentinel.conf" } else { "redis.conf" })
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The pid the watcher kills if this process dies; `""` for none.
    fn tell_watcher(&mut self, pid: &str) {
        if let Some(pipe) = self.watcher.stdin.as_mut() {
            let _ = writeln!(pipe, "{pid}");
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        // Closing the pipe lets the watcher remove the dir and exit.
        drop(self.watcher.stdin.take());
        let _ = self.watcher.wait();
    }
}

/// A loopback port nothing listens on; with `bus`, `port + 10000` too.
fn free_port(bus: bool) -> io::Result<u16> {
    for _ in 0..100 {
        let probe = TcpListener::bind("127.0.0.1:0")?;
        let port = probe.local_addr()?.port();
        if !bus || port.checked_add(10000).is_some_and(|bus| TcpListener::bind(("127.0.0.1", bus)).is_ok()) {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free loopback port (with a free port + 10000 for the cluster bus)"))
}

fn new_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("weir-testkit-{}-{n}", std::process::id()));
    // A dir left by an earlier process with our pid would hand its
    // `nodes.conf` or AOF to the new server.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}
