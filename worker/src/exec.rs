//! `--exec KIND=COMMAND`: run a job as a child process. The command is the
//! operator's (from the command line), never the job's; the job only
//! supplies stdin and the environment.
//!
//! The child is the leader of its own process group. When the attempt ends
//! for any reason (done, failed, timed out, forced stop) whatever is left of
//! the group gets SIGTERM, then SIGKILL after [`KILL_GRACE`].
use crate::context::JobContext;
use crate::error::JobError;
use crate::handler::Handler;
use futures::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use weir_broker::Envelope;

/// Time between SIGTERM and SIGKILL to a job's process group.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// Lines of stderr kept for the error message.
const STDERR_LINES: usize = 20;

/// The handler behind `--exec KIND=COMMAND`: each job runs `sh -c COMMAND`
/// in its own process group, with the payload on stdin.
#[derive(Debug, Clone)]
pub struct ExecHandler {
    command: String,
    memory_mb: Option<u64>,
    keep_stdout: bool,
}

impl ExecHandler {
    /// Runs `command`; `memory_mb` caps each child's address space
    /// (`--memory-per-job`), None for no cap.
    pub fn new(command: String, memory_mb: Option<u64>) -> Self {
        ExecHandler { command, memory_mb, keep_stdout: false }
    }

    /// Keeps the command's stdout as the job's result (`--exec-result`): as
    /// is when it is JSON, else as a JSON string; over 64 KiB fails the job.
    pub fn keep_stdout(self, keep: bool) -> Self {
        ExecHandler { keep_stdout: keep, ..self }
    }
}

/// Reads all of `out`, keeping at most one byte past the result limit (so
/// "too large" is known without holding it all).
async fn read_capped(out: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let cap = weir_broker::bounds::MAX_RESULT_BYTES + 1;
    let mut kept = Vec::new();
    let mut out = out;
    let mut buf = [0u8; 8192];
    while let Ok(n) = out.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}

/// The job's result from a command's stdout.
fn stdout_result(ctx: &JobContext, out: &[u8]) -> Result<(), JobError> {
    let text = String::from_utf8_lossy(out);
    let text = text.trim_end();
    match serde_json::from_str::<&RawValue>(text) {
        Ok(json) => ctx.set_result(json),
        Err(_) => ctx.set_result(text),
    }
}

impl Handler for ExecHandler {
    fn call(&self, envelope: Envelope, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        let this = self.clone();
        Box::pin(async move { this.run(envelope, ctx).await })
    }
}

/// Ends the process group when dropped: SIGTERM now, SIGKILL a little later.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let Some(pgid) = self.0 else { return };
        let pgid = Pid::from_raw(pgid);
        if killpg(pgid, Signal::SIGTERM).is_err() {
            return; // the group is already gone
        }
        std::thread::spawn(move || {
            let step = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while waited < KILL_GRACE {
                std::thread::sleep(step);
                waited += step;
                if killpg(pgid, None).is_err() {
                    return;
                }
            }
            let _ = killpg(pgid, Signal::SIGKILL);
        });
    }
}

impl ExecHandler {
    async fn run(self, envelope: Envelope, ctx: JobContext) -> Result<(), JobError> {
        let mut cmd = tokio::process::Command::new("sh");
        match self.memory_mb {
            None => {
                cmd.arg("-c").arg(&self.command);
            }
            Some(mb) => {
                cmd.arg("-c")
                    .arg(r#"ulimit -v "$1" || exit 125; exec sh -c "$2""#)
                    .arg("weir-exec")
                    .arg(mb.saturating_mul(1024).to_string())
                    .arg(&self.command);
            }
        }
        cmd.env("WEIR_JOB_ID", &ctx.id)
            .env("WEIR_ATTEMPT", ctx.attempt.to_string())
            .env("WEIR_QUEUE", ctx.queue.as_str())
            .env("WEIR_KIND", &ctx.kind)
            .envs(crate::trace::process_env())
            .stdin(Stdio::piped())
            .stdout(if self.keep_stdout { Stdio::piped() } else { Stdio::inherit() })
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| JobError::retry(format!("cannot start {:?}: {e}", self.command)))?;
        let _group = GroupGuard(child.id().map(|p| p as i32));

        let payload = envelope.payload.get().as_bytes().to_vec();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let feed = async move {
            // A command that does not read its stdin is fine.
            let _ = stdin.write_all(&payload).await;
            let _ = stdin.shutdown().await;
        };
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut tail = VecDeque::with_capacity(STDERR_LINES);
            while let Ok(Some(line)) = lines.next_line().await {
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            tail
        };
        let stdout = child.stdout.take();
        let out = async move {
            match stdout {
                Some(s) => read_capped(s).await,
                None => Vec::new(),
            }
        };
        let (_, tail, out, status) = tokio::select! {
            r = async { tokio::join!(feed, tail, out, child.wait()) } => r,
            // Timeout or forced stop: the guard ends the group as this returns.
            _ = ctx.cancelled().cancelled() => return Err(JobError::retry("cancelled")),
        };
        let status = status.map_err(|e| JobError::retry(format!("waiting for {:?}: {e}", self.command)))?;
        if status.success() {
            return if self.keep_stdout { stdout_result(&ctx, &out) } else { Ok(()) };
        }
        let how = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => {
                use std::os::unix::process::ExitStatusExt;
                format!("killed by signal {}", status.signal().unwrap_or(0))
            }
        };
        let stderr: Vec<String> = tail.into_iter().collect();
        if stderr.is_empty() {
            Err(JobError::retry(format!("command failed with {how}")))
        } else {
            Err(JobError::retry(format!("command failed with {how}: {}", stderr.join("\n"))))
        }
    }
}
