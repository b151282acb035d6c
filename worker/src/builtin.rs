//! Builtin job kinds (`weir.*`), so `weir work` can be tested and
//! benchmarked with no Rust code and no process per job. docs/WORKER.md
//! lists them. Only the harmless ones (`weir.noop`, `weir.echo`) are on by
//! default; the ones that sleep, fail, panic or allocate are for tests and
//! demos, so a production worker does not run them for whoever can enqueue.
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

/// The most `weir.alloc` allocates in one job, in MiB: a test needs little,
/// and a payload must not make a worker take the machine's memory.
pub const ALLOC_CAP_MB: u64 = 64;

/// Allocates and writes `mb` MiB (written, not only reserved, so it counts
/// as resident). A size over the cap, or an allocation the system refuses,
/// fails the job (fatal: it would fail again) instead of aborting the worker.
fn alloc(mb: u64) -> Result<Vec<u8>, JobError> {
    if mb > ALLOC_CAP_MB {
        return Err(JobError::fatal(format!("weir.alloc: {mb} MiB is over the cap of {ALLOC_CAP_MB} MiB")));
    }
    let bytes = usize::try_from(weir_broker::bounds::mb_to_bytes(mb)).expect("at most the cap");
    let mut block = Vec::new();
    block
        .try_reserve_exact(bytes)
        .map_err(|e| JobError::fatal(format!("weir.alloc: cannot allocate {mb} MiB: {e}")))?;
    block.resize(bytes, 0x5a_u8);
    Ok(block)
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

/// The harmless builtin kinds with their handlers: no sleep, no failure, no memory kept.
pub(crate) fn harmless() -> Vec<(&'static str, SharedHandler)> {
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
    ]
}

/// The builtin test kinds with their handlers: they sleep, fail, panic or allocate.
pub(crate) fn test_kinds() -> Vec<(&'static str, SharedHandler)> {
    vec![
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
                let block = alloc(job.mb)?;
                HELD.lock().map_err(|_| JobError::retry("alloc lock poisoned"))?.push(block);
                Ok(())
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_refuses_sizes_over_the_cap_before_allocating() {
        for mb in [ALLOC_CAP_MB + 1, 1 << 44, u64::MAX] {
            let e = alloc(mb).unwrap_err();
            assert!(matches!(e, JobError::Fatal(_)) && e.to_string().contains("over the cap of 64 MiB"), "{mb}: {e}");
        }
        assert_eq!(alloc(1).unwrap().len(), 1 << 20);
    }
}
