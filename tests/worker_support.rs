//! Helpers for the worker tests: a `weir work` process whose stdout lines
//! (the `weir.echo` output) and stderr are collected as it runs, and quick
//! ways to enqueue builtin jobs.
use crate::util;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir::broker::{Broker, NewJob};

// The broker tests' job builders, for the worker tests that import from here.
pub use crate::broker_enqueue::{enqueue_ids, job, q};

/// Enqueues `n` jobs of one kind and payload; returns their ids in order.
pub async fn enqueue_n(b: &Broker, queue: &str, kind: &str, payload: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let batch = left.min(2000);
        let jobs: Vec<NewJob> = (0..batch).map(|_| job(queue, kind, payload)).collect();
        ids.extend(enqueue_ids(b, jobs).await);
        left -= batch;
    }
    ids
}

/// A running `weir work`.
pub struct WorkerProc {
    pub child: Child,
    pub args: Vec<String>,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    /// Set when the stdout reader has read to the end of the pipe.
    stdout_done: Arc<std::sync::atomic::AtomicBool>,
    status: Option<ExitStatus>,
}

impl WorkerProc {
    /// `weir work --builtin-kinds <args>`: the builtin test kinds are what most tests run.
    pub fn start(prefix: &str, args: &[&str]) -> WorkerProc {
        Self::start_exactly(prefix, &[&["--builtin-kinds"], args].concat())
    }

    /// `weir work <args>`, with nothing added.
    pub fn start_exactly(prefix: &str, args: &[&str]) -> WorkerProc {
        let mut cmd = util::weir(prefix);
        cmd.arg("work").args(args);
        Self::spawn(cmd, args)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything needed to debug a failure.
    pub fn report(&self) -> String {
        let lines = self.lines();
        format!(
            "weir work {:?}\nstatus: {:?}\nstdout ({} lines, last 20):\n{}\nstderr (last 6000 bytes):\n{}",
            self.args,
            self.status,
            lines.len(),
            lines[lines.len().saturating_sub(20)..].join("\n"),
            {
                let s = self.stderr();
                let mut start = s.len().saturating_sub(6000);
                while !s.is_char_boundary(start) {
                    start += 1;
                }
                s[start..].to_string()
            }
        )
    }

    pub fn signal(&self, sig: &str) {
        let ok =
            std::process::Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(ok.success(), "kill -{sig} {}", self.pid());
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.status = Some(self.child.wait().unwrap());
        self.drain_output();
    }

    /// After the exit: waits (bounded) until every line the process wrote
    /// has been read, so `lines()` misses none of them.
    fn drain_output(&self) {
        let start = Instant::now();
        while !self.stdout_done.load(std::sync::atomic::Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // stderr is only read for reports; a short grace is enough.
        std::thread::sleep(Duration::from_millis(20));
    }

    /// Waits for the process to exit; None if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.drain_output();
                self.status = Some(s);
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn running(&mut self) -> bool {
        self.status.is_none() && self.child.try_wait().unwrap().is_none()
    }

    /// Waits until `f` holds for the collected stdout lines.
    pub fn wait_lines(&self, within: Duration, f: impl Fn(&[String]) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if f(&self.lines.lock().unwrap()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for a queue's figures to satisfy `f`.
pub async fn wait_stats(
    b: &Broker,
    queue: &str,
    within: Duration,
    f: impl Fn(&weir::broker::QueueStats) -> bool,
) -> weir::broker::QueueStats {
    let start = Instant::now();
    loop {
        let s = b.stats(&q(queue)).await.unwrap();
        if f(&s) || start.elapsed() > within {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl WorkerProc {
    /// `weir work --builtin-kinds <args>` against the Redis at `url` (a
    /// Cluster or Sentinel URL) instead of the shared private server.
    pub fn start_at(url: &str, prefix: &str, args: &[&str]) -> WorkerProc {
        let mut cmd = util::weir_at(url, prefix);
        cmd.arg("work").arg("--builtin-kinds").args(args);
        Self::spawn(cmd, args)
    }

    /// Spawns `cmd` (a full `weir ... work ...` command), collecting its output.
    pub fn spawn(mut cmd: std::process::Command, args: &[&str]) -> WorkerProc {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // WEIR_TEST_WORKER_LOG overrides the filter, to debug a test.
        let log = std::env::var("WEIR_TEST_WORKER_LOG").unwrap_or_else(|_| "weir_worker=info,weir_broker=warn".into());
        cmd.env("RUST_LOG", log).env_remove("RUST_BACKTRACE");
        let mut child = cmd.spawn().expect("spawn weir work");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let l = lines.clone();
        let stdout_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = stdout_done.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(line) => l.lock().unwrap().push(line),
                    Err(_) => break,
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut err = child.stderr.take().unwrap();
        let e = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                e.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        WorkerProc {
            child,
            args: args.iter().map(|s| s.to_string()).collect(),
            lines,
            stderr,
            stdout_done,
            status: None,
        }
    }
}
