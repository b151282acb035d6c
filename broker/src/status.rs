//! A job's status by id: its state (pending, delayed, active, dead, done,
//! or unknown), attempts, errors, times, latest progress and result, read
//! from its queue's keys. `Client::status`, `Client::wait` and `weir job` use it.
use crate::admin::JobState;
use crate::broker::Broker;
use crate::envelope::{AttemptError, Envelope};
use crate::error::Result;
use crate::name::QueueName;
use crate::reply;
use redis::Value;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A running attempt's latest progress, as `ctx.progress(..)` stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// 0 to 100.
    pub percent: u8,
    /// What the handler said about it (may be empty).
    pub message: String,
    /// When it was stored, ms since the epoch (the worker's clock).
    pub at: i64,
}

/// The worker that runs an active job, as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobWorker {
    /// Its registry id (`weir workers`, `weir drain ID`).
    pub id: String,
    /// Host and pid from its registry record; None when the record is gone
    /// (the worker died: reclaim takes the job back when its lease ends).
    pub host: Option<String>,
    /// Its process id on `host`.
    pub pid: Option<u32>,
}

/// What Redis holds about one job, by id. `state` None is "unknown": never
/// enqueued, done longer ago than the retention (`--keep-done`), deleted or
/// cancelled before it ran, or trimmed from the dead set.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    /// The id asked about.
    pub id: String,
    /// The queue that holds it; None when unknown.
    #[serde(serialize_with = "queue_name")]
    pub queue: Option<QueueName>,
    #[serde(serialize_with = "state_or_unknown")]
    /// Where it is; None: unknown.
    pub state: Option<JobState>,
    /// Its kind; None when unknown or the envelope is damaged.
    pub kind: Option<String>,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts it may use; None when unknown.
    pub max_attempts: Option<u32>,
    /// Failed attempts, oldest first.
    pub errors: Vec<AttemptError>,
    /// Pending or delayed: when it is (or was) ready to run, ms since the epoch.
    pub run_at: Option<i64>,
    /// Active: when its lease ends unless the worker renews it.
    pub lease_until: Option<i64>,
    /// Active: the worker that runs it (None for a job reserved outside a worker).
    pub worker: Option<JobWorker>,
    /// Active: when a cancel was requested (`weir cancel`), ms since the epoch;
    /// its worker is stopping it.
    pub cancel_requested_at: Option<i64>,
    /// Dead (cancelled included): when it died.
    pub died_at: Option<i64>,
    /// Done: when it was acked.
    pub done_at: Option<i64>,
    /// Active: its latest progress, if it reported any.
    pub progress: Option<Progress>,
    /// Done: the handler's result, when it gave one.
    pub result: Option<Box<RawValue>>,
}

fn queue_name<S: serde::Serializer>(queue: &Option<QueueName>, s: S) -> Result<S::Ok, S::Error> {
    queue.as_ref().map(QueueName::as_str).serialize(s)
}

fn state_or_unknown<S: serde::Serializer>(state: &Option<JobState>, s: S) -> Result<S::Ok, S::Error> {
    match state {
        Some(state) => state.serialize(s),
        None => s.serialize_str("unknown"),
    }
}

impl JobStatus {
    fn unknown(id: &str) -> JobStatus {
        JobStatus {
            id: id.to_string(),
            queue: None,
            state: None,
            kind: None,
            attempts: 0,
            max_attempts: None,
            errors: Vec::new(),
            run_at: None,
            lease_until: None,
            worker: None,
            cancel_requested_at: None,
            died_at: None,
            done_at: None,
            progress: None,
            result: None,
        }
    }

    /// Done or dead (cancelled included): nothing more will happen to it on
    /// its own. Unknown counts as finished too (nothing will happen either).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, None | Some(JobState::Done) | Some(JobState::Dead))
    }
}

/// A done record, as ack.lua writes it.
#[derive(Debug, Deserialize)]
struct DoneRecord {
    at: i64,
    attempts: u32,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    errors: Vec<AttemptError>,
    #[serde(default)]
    progress: Option<Progress>,
}

impl Broker {
    /// The status of job `id`, looked up in every queue (one round trip per
    /// queue, all at once: each queue is one slot on a cluster).
    pub async fn status(&self, id: &str) -> Result<JobStatus> {
        crate::name::validate_job_id(id)?;
        let queues = self.queues().await?;
        let found = futures::future::try_join_all(queues.iter().map(|q| self.status_in(q, id))).await?;
        // A live job wins over a done record of an earlier job with the same id.
        let mut found: Vec<JobStatus> = found.into_iter().flatten().collect();
        found.sort_by_key(|s| s.state == Some(JobState::Done));
        Ok(found.into_iter().next().unwrap_or_else(|| JobStatus::unknown(id)))
    }

    /// A worker by its registry id, with its host and pid when its record lives.
    async fn job_worker(&self, id: String) -> Result<JobWorker> {
        let key = crate::keys::worker(self.prefix(), &id);
        let record: Option<String> = self.query(redis::cmd("GET").arg(key)).await?;
        let info = record.and_then(|r| serde_json::from_str::<crate::registry::WorkerInfo>(&r).ok());
        Ok(JobWorker { host: info.as_ref().map(|i| i.host.clone()), pid: info.map(|i| i.pid), id })
    }

    /// The status of job `id` in `queue`; None when the queue holds nothing under it.
    pub async fn status_in(&self, queue: &QueueName, id: &str) -> Result<Option<JobStatus>> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        p.cmd("HGET").arg(&k.jobs).arg(crate::keys::job_field('p', id));
        p.cmd("ZSCORE").arg(&k.done).arg(id);
        p.cmd("HGET").arg(&k.results).arg(id);
        p.cmd("HMGET").arg(&k.jobs).arg(crate::keys::job_field('w', id)).arg(crate::keys::job_field('c', id));
        let (live, extra) = futures::future::try_join(self.job(queue, id), self.pipe::<Vec<Value>>(&p)).await?;
        let text = |i: usize| extra.get(i).cloned().map_or(Ok(None), |v| reply::opt_string("status", v));
        let progress = text(0)?.and_then(|p| serde_json::from_str::<Progress>(&p).ok());
        let mut status = JobStatus::unknown(id);
        status.queue = Some(queue.clone());
        if let Some(info) = live.filter(|i| i.state.is_some() || i.envelope.is_some()) {
            status.kind = info.parse_envelope().and_then(|e| e.ok()).map(|e: Envelope| e.kind);
            status.state = info.state;
            status.attempts = info.attempts;
            status.max_attempts = info.max_attempts;
            status.errors = info.errors;
            status.progress = progress;
            match info.state {
                Some(JobState::Pending | JobState::Delayed) => status.run_at = info.score,
                Some(JobState::Active) => {
                    status.lease_until = info.score;
                    let run = reply::array("status", extra.get(3).cloned().unwrap_or(Value::Nil))?;
                    let field = |i: usize| run.get(i).cloned().map_or(Ok(None), |v| reply::opt_string("status", v));
                    status.cancel_requested_at = field(1)?.and_then(|c| c.parse().ok());
                    if let Some(worker) = field(0)?.filter(|w| !w.is_empty()) {
                        status.worker = Some(self.job_worker(worker).await?);
                    }
                }
                Some(JobState::Dead) => status.died_at = info.score,
                _ => {}
            }
            return Ok(Some(status));
        }
        let Some(record) = text(2)? else { return Ok(None) };
        // Past the retention but not yet pruned (the queue went quiet): gone.
        let keep = crate::broker::ms(self.config().keep_done);
        let record: DoneRecord =
            serde_json::from_str(&record).map_err(|e| crate::Error::protocol("status", format!("done record: {e}")))?;
        if extra.get(1).is_none_or(|v| *v == Value::Nil) || (keep > 0 && record.at < self.now_ms() - keep) {
            return Ok(None);
        }
        status.state = Some(JobState::Done);
        status.attempts = record.attempts;
        status.errors = record.errors;
        status.done_at = Some(record.at);
        status.progress = record.progress;
        status.result = record.result;
        Ok(Some(status))
    }
}
