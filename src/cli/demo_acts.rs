//! The demo's three short acts beside its main workload, each with a line in
//! the summary: a rate-limited queue drained at its rate while the others
//! run at full speed, a hanging job stopped by the workers' `--timeout`, and
//! a worker recycled by `--max-jobs` (exit code 10), started again by the
//! demo each time.
use anyhow::{Context, bail};
use std::time::Duration;
use weir::QueueName;
use weir::broker::{Broker, JobState, NewJob, Rate};
use weir_supervisor::fleet::Launcher;

/// (queue, weight, jobs) of the rate-limited queue.
pub const RATED: (&str, u32, u64) = ("outbound", 20, 60);
/// Its fleet-wide limit, burst 1: 60 jobs take about 3 s.
pub const RATE: &str = "20/s";
/// (queue, weight) of the queue holding the one job that hangs.
pub const SLOW: (&str, u32) = ("slow", 10);
/// Every demo worker's `--timeout`.
pub const TIMEOUT: &str = "2s";
/// How long the hanging job would sleep without its timeout.
const HANG_MS: u64 = 60_000;
/// The recycled worker's `--max-jobs`.
pub const MAX_JOBS: u32 = 200;
/// A worker's exit code on `--max-jobs` (docs/WORKER.md).
const EXIT_MAX_JOBS: i32 = 10;

pub fn queue(name: &str) -> QueueName {
    QueueName::new(name).expect("demo queue names are valid")
}

/// Limits the rated queue before its jobs are enqueued.
pub async fn limit(broker: &Broker) -> anyhow::Result<()> {
    let rate: Rate = RATE.parse().map_err(anyhow::Error::msg)?;
    broker.set_rate_limit(&queue(RATED.0), rate, 1).await?;
    Ok(())
}

/// The rated queue's jobs (short, never failing) and the hanging job (one
/// attempt, so the timeout makes it dead), the hanging one last.
pub fn jobs() -> Vec<NewJob> {
    let job = |q: &str, payload: serde_json::Value| {
        let mut j = NewJob::json(queue(q), "weir.sleep", serde_json::value::to_raw_value(&payload).expect("json"));
        j.max_attempts = 1;
        j
    };
    let mut jobs: Vec<NewJob> = (0..RATED.2).map(|_| job(RATED.0, serde_json::json!({"ms": 2}))).collect();
    jobs.push(job(SLOW.0, serde_json::json!({"ms": HANG_MS})));
    jobs
}

/// One summary line: how fast the rated queue's jobs were done, by their
/// done-at times in Redis (the done set; `--keep-done`).
pub async fn rate_line(broker: &Broker) -> anyhow::Result<String> {
    let page = broker.page(&queue(RATED.0), JobState::Done, 0, weir::broker::browse::MAX_PAGE_SIZE).await?;
    let times: Vec<i64> = page.rows.iter().map(|r| r.score).collect();
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
        return Ok(format!("rate limit: {} at {RATE}: no job done", RATED.0));
    };
    let span = Duration::from_millis(u64::try_from(last - first).unwrap_or(0));
    let rate = if span.is_zero() { 0.0 } else { (times.len() as f64 - 1.0) / span.as_secs_f64() };
    Ok(format!(
        "rate limit: {} at {RATE} (burst 1) held while the other queues ran: {} jobs done over {:.1}s, {rate:.1} jobs/s",
        RATED.0,
        times.len(),
        span.as_secs_f64()
    ))
}

/// One summary line: what became of the hanging job.
pub async fn timeout_line(broker: &Broker, id: &str) -> anyhow::Result<String> {
    let info = broker.job(&queue(SLOW.0), id).await?.context("the hanging job is gone")?;
    let error = info.errors.last().map(|e| e.error.as_str()).unwrap_or("no error");
    let state = info.state.map_or("unknown", |s| s.as_str());
    Ok(format!("timeout: a job sleeping {}s was stopped by --timeout {TIMEOUT}: {state}, \"{error}\"", HANG_MS / 1000))
}

/// Runs one worker with `--max-jobs` until `stop`, starting it again each
/// time it exits on its limit. Returns how many times it did. On `stop`
/// the running worker gets SIGTERM (it finishes its jobs) and is waited for.
pub async fn recycle(launcher: Launcher, mut stop: tokio::sync::oneshot::Receiver<()>) -> anyhow::Result<u32> {
    let mut restarts = 0;
    loop {
        let mut child = launcher.spawn().context("cannot start the --max-jobs worker")?;
        let status = tokio::select! {
            status = child.wait() => status?,
            _ = &mut stop => {
                if let Some(pid) = child.id() {
                    let _ = tokio::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
                }
                child.wait().await?;
                return Ok(restarts);
            }
        };
        if status.code() != Some(EXIT_MAX_JOBS) {
            bail!("the --max-jobs worker exited with {status}, not {EXIT_MAX_JOBS}");
        }
        restarts += 1;
    }
}

/// The summary line of [`recycle`].
pub fn recycle_line(restarts: u32) -> String {
    format!(
        "max-jobs: a worker started with --max-jobs {MAX_JOBS} exited with code {EXIT_MAX_JOBS} and was started again {restarts} times"
    )
}
