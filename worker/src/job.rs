//! One attempt of one job: run its handler under the timeout with panics
//! caught, then ack, fail (retry or bury) or leave it for release.
use crate::config::lease_for;
use crate::context::{JobContext, Report};
use crate::error::JobError;
use crate::retry;
use crate::worker::{Shared, StopReason};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use weir_broker::{Done, FailOutcome, Lease, Reserved, format_duration};

enum Outcome {
    Done(Option<Box<serde_json::value::RawValue>>),
    Failed(JobError),
    /// Forced shutdown: the lease stays held, to be released.
    Released,
    /// The lease was lost: someone else may run the job now.
    Lost,
}

pub(crate) async fn run(shared: Arc<Shared>, job: Reserved, cancel: CancellationToken, permit: OwnedSemaphorePermit) {
    let Reserved { lease, envelope } = job;
    let span = tracing::debug_span!("job", id = %lease.id, kind = %envelope.kind,
        queue = %lease.queue, attempt = lease.attempt);
    async move {
        shared.running.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let timeout = envelope.timeout().unwrap_or(shared.config.timeout);
        if timeout != shared.config.timeout {
            shared.leases.set_length(&lease, lease_for(timeout));
        }
        let kind = envelope.kind.clone();
        let backoff = shared
            .config
            .backoff_for(&kind, envelope.backoff.as_ref())
            .clone();
        let max_attempts = match shared.config.tries {
            Some(t) => envelope.max_attempts.min(t),
            None => envelope.max_attempts,
        };
        tracing::debug!("job started");
        let outcome = match shared.handlers.get(&kind) {
            None => Outcome::Failed(JobError::Fatal(format!("no handler for kind {kind}"))),
            Some(handler) => {
                if !shared.config.pace.is_empty() {
                    tokio::select! {
                        _ = shared.config.pace.ready(&lease.queue, &kind) => {}
                        _ = cancel.cancelled() => {}
                    }
                }
                let report = Report::new(shared.broker.clone(), lease.clone());
                let ctx = JobContext::new(
                    &envelope,
                    lease.queue.clone(),
                    lease.attempt,
                    max_attempts,
                    cancel.clone(),
                    report.clone(),
                );
                let call = AssertUnwindSafe(handler.call(envelope, ctx)).catch_unwind();
                let stopped = || if shared.force.is_cancelled() { Outcome::Released } else { Outcome::Lost };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => stopped(),
                    r = call => match r {
                        Ok(Ok(())) => match report.take_result() {
                            Ok(result) => Outcome::Done(result),
                            // A result that cannot be kept fails the job; it would again.
                            Err(e) => Outcome::Failed(JobError::Fatal(e)),
                        },
                        // A handler that gave up because it was cancelled
                        // (forced stop, lost lease) did not fail.
                        Ok(Err(_)) | Err(_) if cancel.is_cancelled() => stopped(),
                        Ok(Err(e)) => Outcome::Failed(e),
                        Err(panic) => Outcome::Failed(JobError::Retry(format!("handler panicked: {}", panic_message(&*panic)))),
                    },
                    _ = tokio::time::sleep(timeout) => {
                        // Tell the handler, then drop its future (leaving this select).
                        cancel.cancel();
                        Outcome::Failed(JobError::Retry(format!("timed out after {}", format_duration(timeout))))
                    }
                }
            }
        };
        let elapsed = started.elapsed();
        let finished = match outcome {
            Outcome::Done(result) => {
                shared.leases.remove(&lease);
                tracing::debug!(ms = elapsed.as_millis() as u64, "job done");
                shared.acker.ack(Done { lease, run_time: elapsed, result });
                true
            }
            Outcome::Failed(JobError::RateLimited { message, after, hold }) => {
                shared.leases.remove(&lease);
                snooze(&shared, &lease, &message, after, hold).await;
                false
            }
            Outcome::Failed(e) => {
                shared.leases.remove(&lease);
                fail(&shared, &lease, e, &backoff, max_attempts).await;
                true
            }
            Outcome::Released => false,
            Outcome::Lost => {
                shared.leases.remove(&lease);
                false
            }
        };
        shared.running.fetch_sub(1, Ordering::Relaxed);
        if finished {
            let done = shared.done.fetch_add(1, Ordering::Relaxed) + 1;
            if shared.config.max_jobs.is_some_and(|max| done >= max) {
                shared.request_stop(StopReason::MaxJobs);
            }
            if let Some(limit) = shared.config.memory_mb
                && let Some(rss) = shared.rss.bytes()
                && rss > weir_broker::bounds::mb_to_bytes(limit)
            {
                tracing::warn!(rss_mb = rss / (1024 * 1024), limit_mb = limit, "memory limit passed");
                shared.request_stop(StopReason::Memory);
            }
        }
        drop(permit);
    }
    .instrument(span)
    .await
}

/// Back-pressure: the job goes back without using an attempt and its queue
/// (or rate key) is held until then, for the whole fleet.
async fn snooze(shared: &Shared, lease: &Lease, message: &str, after: Duration, hold: weir_broker::Hold) {
    let until = weir_broker::bounds::ms_after(shared.broker.now_ms(), after);
    match shared.broker.snooze(lease, after, hold).await {
        Ok(true) => {
            tracing::warn!(error = %message, retry_in = %format_duration(after), ?hold, "rate limited; holding");
            shared.housekeeper.promote_at(&lease.queue, until);
        }
        Ok(false) => tracing::warn!(error = %message, "rate limited after its lease was lost"),
        Err(e) => tracing::error!(error = %message, redis = %e,
            "could not reschedule the rate-limited job; it runs again when its lease expires"),
    }
}

async fn fail(shared: &Shared, lease: &Lease, error: JobError, backoff: &weir_broker::Backoff, max_attempts: u32) {
    let message = error.to_string();
    // Whether attempts remain is decided by fail.lua from the job's stored
    // limit; here only whether this error allows a retry, and when.
    let retry_in: Option<Duration> = match &error {
        JobError::Fatal(_) => None,
        JobError::RetryAfter { after, .. } => Some(*after),
        _ => Some(retry::delay(backoff, lease.attempt)),
    };
    let now = shared.broker.now_ms();
    let retry_at = retry_in.map(|d| weir_broker::bounds::ms_after(now, d));
    match shared.broker.fail_capped(lease, &message, retry_in, Some(max_attempts)).await {
        Ok(FailOutcome::Retry) => {
            let d = retry_in.unwrap_or_default();
            tracing::warn!(error = %message, retry_in = %format_duration(d), "attempt failed; will retry");
            if let Some(at) = retry_at {
                shared.housekeeper.promote_at(&lease.queue, at);
            }
        }
        Ok(FailOutcome::Dead) => tracing::warn!(error = %message, "job dead"),
        Ok(FailOutcome::Lost) => tracing::warn!(error = %message, "attempt failed after its lease was lost"),
        Err(e) => tracing::error!(error = %message, redis = %e,
            "could not record the failed attempt; the job runs again when its lease expires"),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}
