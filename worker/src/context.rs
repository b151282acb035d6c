//! What a handler knows about the attempt it runs, and what it reports back:
//! progress while it runs, a result when it is done.
use crate::error::JobError;
use crate::metrics::Metrics;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weir_broker::{Broker, Envelope, Lease, QueueName};

/// At most one progress write per job per this interval; a write of 100% always goes through.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The context of one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's id (a ULID unless the app chose one).
    pub id: String,
    /// The job's kind, which picked its handler.
    pub kind: String,
    /// The queue it was reserved from.
    pub queue: QueueName,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Attempts it may use in all; `attempt == max_attempts` is the last.
    pub max_attempts: u32,
    cancel: CancellationToken,
    report: Arc<Report>,
}

/// What the attempt reports: its result, and where progress goes.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The result so far; Err when the handler gave one that cannot be kept.
    result: Mutex<Option<Result<Box<RawValue>, String>>>,
    last_progress: Mutex<Option<Instant>>,
    /// Where progress is stored (None in `testing`: nowhere).
    sink: Option<(Broker, Lease)>,
    /// Where stored progress updates are counted (`--metrics-addr`).
    metrics: Option<Arc<Metrics>>,
}

impl Report {
    pub fn new(broker: Broker, lease: Lease, metrics: Option<Arc<Metrics>>) -> Arc<Report> {
        Arc::new(Report { sink: Some((broker, lease)), metrics, ..Report::default() })
    }

    /// The result to keep with the done record (Err: the job fails instead).
    pub fn take_result(&self) -> Result<Option<Box<RawValue>>, String> {
        self.result.lock().expect("report").take().transpose()
    }
}

impl JobContext {
    /// `max_attempts`: the envelope's limit, capped by the worker's `--tries`.
    pub(crate) fn new(
        envelope: &Envelope,
        queue: QueueName,
        attempt: u32,
        max_attempts: u32,
        cancel: CancellationToken,
        report: Arc<Report>,
    ) -> Self {
        JobContext {
            id: envelope.id.clone(),
            kind: envelope.kind.clone(),
            queue,
            attempt,
            max_attempts,
            cancel,
            report,
        }
    }

    /// Fires when the job is cancelled (`weir cancel`, `Client::cancel`), its
    /// timeout expires, its lease is lost or the worker is forced to stop;
    /// the handler's future is dropped right after, so only what holds a
    /// clone of the token (a task the handler spawned, a guard) sees it.
    /// Handlers that hold outside resources (a child process) use it to
    /// clean up. A cancelled job then ends dead ("cancelled"), a timed-out one
    /// fails (retried), a forced stop puts it back; docs/WORKER.md.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether [`JobContext::cancelled`] has fired: a long loop checks it
    /// between steps and returns early.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Keeps `value` (as JSON) as the job's result, stored with its done
    /// record when the attempt succeeds (a later call replaces it). A value
    /// over 64 KiB encoded is refused, and the attempt then fails (not retried).
    pub fn set_result<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), JobError> {
        let checked = weir_broker::check_result(value).map_err(|e| e.to_string());
        let error = checked.as_ref().err().cloned();
        *self.report.result.lock().expect("report") = Some(checked);
        match error {
            Some(e) => Err(JobError::Fatal(e)),
            None => Ok(()),
        }
    }

    /// Stores the attempt's progress (`percent` 0 to 100, a short message),
    /// shown by `weir job` and `Client::status`. At most one write per job
    /// per 250 ms: a call sooner is skipped (false), unless it says 100%.
    pub async fn progress(&self, percent: u8, message: &str) -> Result<bool, JobError> {
        if percent > 100 {
            return Err(JobError::Fatal(format!("progress of {percent}% is over 100%")));
        }
        let Some((broker, lease)) = &self.report.sink else { return Ok(true) };
        {
            let mut last = self.report.last_progress.lock().expect("report");
            let now = Instant::now();
            if percent < 100 && last.is_some_and(|t| now.duration_since(t) < PROGRESS_EVERY) {
                return Ok(false);
            }
            *last = Some(now);
        }
        let stored = broker.progress(lease, percent, message).await.map_err(|e| JobError::retry(e.to_string()))?;
        if stored && let Some(m) = &self.report.metrics {
            m.progress_updated(&lease.queue);
        }
        Ok(stored)
    }
}
