//! Builtin job kinds (`weir.*`), so `weir work` can be tested and
//! benchmarked with no Rust code and no process per job. docs/WORKER.md
//! lists them.
use crate::context::JobContext;
use crate::error::JobError;
use crate::handler::{Handler, RawFn, SharedHandler, TypedFn};
use serde::Deserialize;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weir_broker::Envelope;

#[derive(Deserialize)]
struct Sleep {
    ms: u64,
    /// Print `<id> <attempt>` when done, like `weir.echo` (tests count runs).
    #[serde(default)]
    echo: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Fail {
    message: Option<String>,
    /// Dead at once, no retry.
    fatal: bool,
    retry_after_ms: Option<u64>,
}

/// Prints `S <id> <attempt> <ms>` at its start and `E ...` at its end
/// (ms since the epoch), sleeping `ms` between: tests read start and end
/// times across processes to check limits.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Stamp {
    ms: u64,
}

fn stamp(tag: &str, ctx: &JobContext) -> std::io::Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{tag} {} {} {now}", ctx.id, ctx.attempt)?;
    out.flush()
}

/// Fails its first `fail_times` attempts, then succeeds.
#[derive(Deserialize)]
struct Flaky {
    fail_times: u32,
    #[serde(default)]
    ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Panic {
    message: Option<String>,
}

#[derive(Deserialize)]
struct Alloc {
    mb: u64,
}

/// Memory `weir.alloc` keeps until the process exits (a simulated leak).
static HELD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn typed<J, F, Fut>(f: F) -> SharedHandler
where
    J: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), JobError>> + Send + 'static,
{
    Arc::new(TypedFn::<J, F> { f, _job: std::marker::PhantomData })
}

fn raw<F, Fut>(f: F) -> SharedHandler
where
    F: Fn(Envelope, JobContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), JobError>> + Send + 'static,
{
    let h: Arc<dyn Handler> = Arc::new(RawFn(f));
    h
}

/// Every builtin kind with its handler.
pub(crate) fn all() -> Vec<(&'static str, SharedHandler)> {
    vec![
        ("weir.noop", raw(|_, _| async { Ok(()) })),
        (
            "weir.echo",
            raw(|_, ctx: JobContext| async move {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{} {}", ctx.id, ctx.attempt)?;
                out.flush()?;
                Ok(())
            }),
        ),
        (
            "weir.stamp",
            typed(|job: Stamp, ctx: JobContext| async move {
                stamp("S", &ctx)?;
                tokio::time::sleep(Duration::from_millis(job.ms)).await;
                stamp("E", &ctx)?;
                Ok(())
            }),
        ),
        (
            "weir.flaky",
            typed(|job: Flaky, ctx: JobContext| async move {
                tokio::time::sleep(Duration::from_millis(job.ms)).await;
                if ctx.attempt <= job.fail_times {
                    return Err(JobError::retry(format!("weir.flaky: failing attempt {}", ctx.attempt)));
                }
                Ok(())
            }),
        ),
        (
            "weir.sleep",
            typed(|job: Sleep, ctx: JobContext| async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(job.ms)) => {}
                    _ = ctx.cancelled().cancelled() => return Err(JobError::retry("cancelled")),
                }
                if job.echo {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{} {}", ctx.id, ctx.attempt)?;
                    out.flush()?;
                }
                Ok(())
            }),
        ),
        (
            "weir.fail",
            typed(|job: Option<Fail>, _| async move {
                let job = job.unwrap_or_default();
                let message = job.message.unwrap_or_else(|| "weir.fail: failing on purpose".into());
                Err(match (job.fatal, job.retry_after_ms) {
                    (true, _) => JobError::fatal(message),
                    (false, Some(ms)) => JobError::retry_after(message, Duration::from_millis(ms)),
                    (false, None) => JobError::retry(message),
                })
            }),
        ),
        (
            "weir.panic",
            typed(|job: Option<Panic>, _| async move {
                let message = job.and_then(|j| j.message).unwrap_or_else(|| "weir.panic: panicking on purpose".into());
                panic!("{message}");
            }),
        ),
        (
            "weir.alloc",
            typed(|job: Alloc, _| async move {
                let bytes = (job.mb as usize) << 20;
                // Written, not only reserved, so it counts as resident.
                let block = vec![0x5a_u8; bytes];
                HELD.lock().map_err(|_| JobError::retry("alloc lock poisoned"))?.push(block);
                Ok(())
            }),
        ),
    ]
}
