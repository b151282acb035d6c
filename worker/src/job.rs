//! One attempt of one job: run its handler under the timeout with panics
//! caught, then ack, fail (retry or bury) or leave it for release. A job
//! stopped by a cancel request is failed too: fail.lua buries it as cancelled.
use crate::config::lease_for;
use crate::context::{JobContext, Report};
use crate::error::JobError;
use crate::leases::JobStop;
use crate::metrics::{JobOutcome, RedisOp, timed};
use crate::retry;
use crate::worker::{Shared, StopReason};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::Instrument;
use weir_broker::{Done, FailOutcome, Lease, Reserved, format_duration};

/// The error of a job stopped by a cancel request (fail.lua records "cancelled" itself).
const CANCELLED: &str = "cancelled";

enum Outcome {
    Done(Option<Box<serde_json::value::RawValue>>),
    Failed(JobError),
    /// Forced shutdown: the lease stays held, to be released.
    Released,
    /// The lease was lost: someone else may run the job now.
    Lost,
    /// No handler for its kind here: put back for another worker after this long.
    UnknownKind(Duration),
}

pub(crate) async fn run(shared: Arc<Shared>, job: Reserved, stop: JobStop, permit: OwnedSemaphorePermit) {
    let Reserved { lease, envelope } = job;
    let cancel = stop.token.clone();
    // At the default level, so every line logged while the job runs (the
    // handler's own included) names it.
    // With traces on (feature `otel` and an OpenTelemetry layer), the same
    // span is the attempt's consumer span (`trace`): `otel.*` stay empty, and
    // out of the log lines, otherwise.
    let span = tracing::info_span!("job", id = %lease.id, kind = %envelope.kind,
        queue = %lease.queue, attempt = lease.attempt,
        otel.name = tracing::field::Empty, otel.kind = tracing::field::Empty);
    let traced = crate::trace::consumer(&span, &envelope, &lease);
    let job_span = span.clone();
    async move {
        shared.running.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let metrics = shared.metrics.as_deref();
        let series = metrics.and_then(|m| m.kind(&lease.queue, &envelope.kind));
        if let Some(m) = metrics {
            // Wait: from the due time to the first attempt's start (a retry's
            // due time is not in the envelope).
            let waited = (lease.attempt == 1)
                .then(|| Duration::from_millis(u64::try_from(shared.broker.now_ms() - envelope.run_at).unwrap_or(0)));
            m.started(&lease.queue, waited);
        }
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
        let mut timed_out = false;
        let outcome = match shared.handlers.get(&kind) {
            None => match shared.unknown.decide(shared.config.unknown_kind, &envelope, shared.broker.now_ms()) {
                crate::unknown::Verdict::PutBack(after) => Outcome::UnknownKind(after),
                crate::unknown::Verdict::Dead(message) => Outcome::Failed(JobError::Fatal(message)),
            },
            Some(handler) => {
                if !shared.config.pace.is_empty() {
                    tokio::select! {
                        _ = shared.config.pace.ready(&lease.queue, &kind) => {}
                        _ = cancel.cancelled() => {}
                    }
                }
                let report = Report::new(shared.broker.clone(), lease.clone(), shared.metrics.clone());
                let ctx = JobContext::new(
                    &envelope,
                    lease.queue.clone(),
                    lease.attempt,
                    max_attempts,
                    cancel.clone(),
                    report.clone(),
                );
                let call = AssertUnwindSafe(handler.call(envelope, ctx)).catch_unwind();
                // Why the token fired: a cancel request wins (the job must not
                // run again, so it is failed and fail.lua buries it as
                // cancelled), then a forced stop (released), else a lost lease.
                let stopped = || {
                    if stop.cancel_requested() {
                        Outcome::Failed(JobError::Fatal(CANCELLED.into()))
                    } else if shared.force.is_cancelled() {
                        Outcome::Released
                    } else {
                        Outcome::Lost
                    }
                };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => stopped(),
                    r = call => match r {
                        Ok(Ok(())) => match report.take_result() {
                            Ok(result) => Outcome::Done(result),
                            // A result that cannot be kept fails the job; it would again.
                            Err(e) => Outcome::Failed(JobError::Fatal(e)),
                        },
                        // A handler that gave up because it was stopped
                        // (cancel, forced stop, lost lease) did not fail on its own.
                        Ok(Err(_)) | Err(_) if cancel.is_cancelled() => stopped(),
                        Ok(Err(e)) => Outcome::Failed(e),
                        Err(panic) => Outcome::Failed(JobError::Retry(format!("handler panicked: {}", panic_message(&*panic)))),
                    },
                    _ = tokio::time::sleep(timeout) => {
                        // Tell the handler, then drop its future (leaving this select).
                        cancel.cancel();
                        timed_out = true;
                        Outcome::Failed(JobError::Retry(format!("timed out after {}", format_duration(timeout))))
                    }
                }
            }
        };
        let elapsed = started.elapsed();
        // Each arm records what weir_jobs_total counts (nothing when the
        // lease was lost, or Redis did not take the outcome and the job runs again).
        let record = |outcome: Option<JobOutcome>, lost: bool, error: Option<&str>| {
            let label = match outcome {
                Some(o) => o.label(),
                None if lost => "lost",
                None => "unrecorded",
            };
            crate::trace::finished(&job_span, traced, label, error);
            if let Some(m) = metrics {
                m.ended(&lease.queue);
                if let (Some(o), Some(s)) = (outcome, &series) {
                    s.finished(o, Some(elapsed));
                }
                if lost {
                    m.lease_lost(&lease.queue);
                }
            }
        };
        let finished = match outcome {
            Outcome::Done(result) => {
                shared.leases.remove(&lease);
                tracing::debug!(ms = elapsed.as_millis() as u64, "job done");
                record(Some(JobOutcome::Ok), false, None);
                shared.acker.ack(Done { lease, run_time: elapsed, result });
                true
            }
            Outcome::Failed(JobError::RateLimited { message, after, hold }) => {
                shared.leases.remove(&lease);
                // Boxed, as are the other finishing calls below: each holds a
                // whole Redis call (several KB of future), and inline they
                // would make every job's task that large, copied on every
                // spawn even though the ack path needs none of them.
                let snoozed = Box::pin(snooze(&shared, &lease, &message, after, hold)).await;
                record((snoozed == Some(true)).then_some(JobOutcome::Snoozed), snoozed == Some(false), None);
                false
            }
            Outcome::Failed(e) => {
                shared.leases.remove(&lease);
                let error = traced.then(|| e.to_string());
                let failed = Box::pin(fail(&shared, &lease, e, &backoff, max_attempts)).await;
                let counted = match failed {
                    Some(FailOutcome::Lost) | None => None,
                    Some(FailOutcome::Cancelled) => Some(JobOutcome::Cancelled),
                    Some(_) if timed_out => Some(JobOutcome::Timeout),
                    Some(FailOutcome::Dead) => Some(JobOutcome::Dead),
                    Some(_) => Some(JobOutcome::Retry),
                };
                record(counted, matches!(failed, Some(FailOutcome::Lost)), error.as_deref());
                true
            }
            Outcome::UnknownKind(after) => {
                shared.leases.remove(&lease);
                let put_back = Box::pin(crate::unknown::put_back(&shared, &lease, &kind, after)).await;
                record((put_back == Some(true)).then_some(JobOutcome::Deferred), put_back == Some(false), None);
                false
            }
            Outcome::Released => {
                record(Some(JobOutcome::Released), false, None);
                false
            }
            Outcome::Lost => {
                shared.leases.remove(&lease);
                record(None, true, None);
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
/// Whether the job went back (Some(false): its lease was lost; None: Redis failed).
async fn snooze(
    shared: &Shared,
    lease: &Lease,
    message: &str,
    after: Duration,
    hold: weir_broker::Hold,
) -> Option<bool> {
    let until = weir_broker::bounds::ms_after(shared.broker.now_ms(), after);
    match shared.broker.snooze(lease, after, hold).await {
        Ok(true) => {
            tracing::warn!(error = %message, retry_in = %format_duration(after), ?hold, "rate limited; holding");
            shared.housekeeper.promote_at(&lease.queue, until);
            Some(true)
        }
        Ok(false) => {
            tracing::warn!(error = %message, "rate limited after its lease was lost");
            Some(false)
        }
        Err(e) => {
            tracing::error!(error = %message, redis = %e,
                "could not reschedule the rate-limited job; it runs again when its lease expires");
            None
        }
    }
}

/// What Redis recorded; None when the call failed.
async fn fail(
    shared: &Shared,
    lease: &Lease,
    error: JobError,
    backoff: &weir_broker::Backoff,
    max_attempts: u32,
) -> Option<FailOutcome> {
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
    let call = shared.broker.fail_capped(lease, &message, retry_in, Some(max_attempts));
    let result = timed(shared.metrics.as_deref(), RedisOp::Fail, call).await;
    match &result {
        Ok(FailOutcome::Retry) => {
            let d = retry_in.unwrap_or_default();
            tracing::warn!(error = %message, retry_in = %format_duration(d), "attempt failed; will retry");
            if let Some(at) = retry_at {
                shared.housekeeper.promote_at(&lease.queue, at);
            }
        }
        Ok(FailOutcome::Dead) => tracing::warn!(error = %message, "job dead"),
        Ok(FailOutcome::Cancelled) => tracing::info!("job cancelled: dead, not retried"),
        Ok(FailOutcome::Lost) => tracing::warn!(error = %message, "attempt failed after its lease was lost"),
        Err(e) => tracing::error!(error = %message, redis = %e,
            "could not record the failed attempt; the job runs again when its lease expires"),
    }
    result.ok()
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
