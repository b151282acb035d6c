//! `weir work` child processes: the real worker binary, started as
//! `<this executable> work ...`, with its memory read from /proc.
use super::Bench;
use anyhow::{Context, bail};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdout, Command};

/// One running `weir work`.
#[derive(Debug)]
pub struct Worker {
    child: Child,
    pid: u32,
    /// Everything it wrote to stderr, for the error message if it fails.
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Worker {
    /// Starts `weir work --queues <queues> --concurrency <n> <extra>` on the
    /// bench's Redis and prefix. Its stdout is piped when `stdout` is set
    /// (take it with [`Worker::stdout`]); logs below warnings are off.
    pub fn spawn(bench: &Bench, queues: &str, extra: &[&str], stdout: bool) -> anyhow::Result<Worker> {
        let exe = std::env::current_exe().context("cannot find the weir executable")?;
        let concurrency = bench.concurrency.to_string();
        let mut cmd = Command::new(exe);
        cmd.args(["--redis", &bench.url, "--prefix", &bench.prefix, "work", "--queues", queues])
            .args(["--concurrency", &concurrency])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(if stdout { Stdio::piped() } else { Stdio::null() })
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("cannot start `weir work`")?;
        let pid = child.id().context("`weir work` exited at once")?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("stderr buffer").extend_from_slice(&buf[..n]);
                }
            });
        }
        Ok(Worker { child, pid, stderr })
    }

    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Resident memory now and at its peak, in MiB, from /proc/PID/status.
    pub fn memory(&self) -> Option<Memory> {
        read_memory(self.pid)
    }

    /// CPU time it has used so far (user + system), seconds.
    pub fn cpu_s(&self) -> Option<f64> {
        cpu_s(self.pid)
    }

    /// Fails with the worker's stderr if it has already exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("`weir work` exited early ({status}); its stderr:\n{}", self.stderr_text());
        }
        Ok(())
    }

    /// Asks it to stop (SIGTERM, a graceful drain) and waits up to `within`
    /// for it; an exit code other than `expect` is an error.
    pub async fn stop(mut self, expect: i32, within: Duration) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_none() {
            let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        }
        self.wait(expect, within).await
    }

    /// Waits up to `within` for it to exit on its own with code `expect`.
    pub async fn wait(mut self, expect: i32, within: Duration) -> anyhow::Result<()> {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("`weir work` did not exit within {within:?}; its stderr:\n{}", self.stderr_text());
            }
        };
        // Let the stderr reader catch up.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if status.code() != Some(expect) {
            bail!("`weir work` exited with {status}, expected code {expect}; its stderr:\n{}", self.stderr_text());
        }
        Ok(())
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }
}

/// A process's resident memory, MiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_mb: f64,
    /// VmHWM: the most it has been resident.
    pub peak_mb: f64,
    /// RssAnon: the resident heap and stacks (the rest of VmRSS is mapped
    /// files, mostly the executable's code).
    pub anon_mb: f64,
}

fn read_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |field: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some(Memory {
        rss_mb: kb("VmRSS:")? / 1024.0,
        peak_mb: kb("VmHWM:")? / 1024.0,
        anon_mb: kb("RssAnon:").unwrap_or(0.0) / 1024.0,
    })
}

/// CPU time process `pid` has used so far (user + system, all threads), seconds.
pub fn cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field
    // 3, utime and stime are fields 14 and 15, in clock ticks.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux port that weir runs on.
    Some(ticks / 100.0)
}
