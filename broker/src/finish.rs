//! Finishing reserved jobs: ack, fail, bury, extend, release. Each takes the
//! job's [`Lease`]; a lease that was lost (expired and reclaimed) is reported,
//! never acted on.
use crate::broker::Broker;
use crate::broker::{Arg, ms};
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::reply;
use crate::reserve::Lease;
use crate::scripts::Op;
use std::collections::HashMap;
use std::time::Duration;

pub use crate::model::{FailOutcome, Renewal};

/// A job to ack: its lease, run time and result.
#[derive(Debug, Clone)]
pub struct Done {
    /// The claim that proves this worker still holds the job.
    pub lease: Lease,
    /// How long the attempt ran (counted in the queue's `runtime_ms`).
    pub run_time: Duration,
    /// The job's result as JSON, checked by [`check_result`].
    pub result: Option<Box<serde_json::value::RawValue>>,
}

/// Encodes a job's result, refusing one over [`bounds::MAX_RESULT_BYTES`](crate::bounds::MAX_RESULT_BYTES).
pub fn check_result<T: serde::Serialize + ?Sized>(value: &T) -> Result<Box<serde_json::value::RawValue>> {
    let raw = serde_json::value::to_raw_value(value).map_err(|e| Error::InvalidResult(e.to_string()))?;
    crate::bounds::result_bytes("result", raw.get().len()).map_err(|e| Error::InvalidResult(e.to_string()))?;
    Ok(raw)
}

/// Error messages are capped so a huge panic message or stderr dump cannot
/// bloat the job's record.
pub const MAX_ERROR_BYTES: usize = 4096;

fn cap_error(message: &str) -> String {
    if message.len() <= MAX_ERROR_BYTES {
        return message.to_string();
    }
    let mut end = MAX_ERROR_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated]", &message[..end])
}

impl Broker {
    /// Groups leases by queue and runs `op` once per queue, all at once, with
    /// `head(indices of the group)` before the (id, attempt) pairs. Per-lease
    /// flags come back in input order.
    async fn per_queue(&self, op: &Op, leases: &[Lease], head: impl Fn(&[usize]) -> Vec<Arg>) -> Result<Vec<bool>> {
        Ok(self.per_queue_with(op, leases, head, |_| None).await?.into_iter().map(|c| c == 1).collect())
    }

    /// [`Broker::per_queue`] with one more argument after each pair when
    /// `extra(index)` gives one; each lease's reply code as the script gave it.
    async fn per_queue_with(
        &self,
        op: &Op,
        leases: &[Lease],
        head: impl Fn(&[usize]) -> Vec<Arg>,
        extra: impl Fn(usize) -> Option<Arg>,
    ) -> Result<Vec<i64>> {
        let mut groups: HashMap<&QueueName, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            groups.entry(&l.queue).or_default().push(i);
        }
        let mut order = Vec::new();
        let mut calls = Vec::new();
        for (queue, idx) in groups {
            let mut args = head(&idx);
            for &i in &idx {
                args.push(leases[i].id.as_str().into());
                args.push(leases[i].attempt.into());
                args.extend(extra(i));
            }
            calls.push((op, queue.clone(), args));
            order.push(idx);
        }
        let replies = self.eval_many(calls, None).await;
        let mut out = vec![0; leases.len()];
        for (reply, idx) in replies.into_iter().zip(order) {
            for (code, i) in reply::array(op.name, reply?)?.iter().zip(idx) {
                out[i] = reply::int(op.name, code)?;
            }
        }
        Ok(out)
    }

    /// Marks jobs done (their data is deleted) in one round trip. Each job
    /// comes with its run time, summed per queue into the stats for the
    /// autoscaler. Returns, per job, whether its lease still held it.
    pub async fn ack(&self, done: &[(Lease, Duration)]) -> Result<Vec<bool>> {
        let done: Vec<Done> = done.iter().map(|(l, d)| Done { lease: l.clone(), run_time: *d, result: None }).collect();
        self.ack_done(&done).await
    }

    /// [`Broker::ack`] with each job's result, kept in its done record for
    /// [`BrokerConfig::keep_done`](crate::BrokerConfig) (dropped when that is 0).
    /// A result must be JSON within [`bounds::MAX_RESULT_BYTES`](crate::bounds::MAX_RESULT_BYTES):
    /// check it with [`check_result`] first.
    pub async fn ack_done(&self, done: &[Done]) -> Result<Vec<bool>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let keep = ms(self.config().keep_done);
        let leases: Vec<Lease> = done.iter().map(|d| d.lease.clone()).collect();
        let head = |idx: &[usize]| {
            let total = idx.iter().map(|&i| ms(done[i].run_time)).fold(0i64, i64::saturating_add);
            vec![Arg::from(total), self.clock_arg(), Arg::from(keep), Arg::from(self.config().keep_done_max_len)]
        };
        let result = |i: usize| {
            let r = if keep > 0 { done[i].result.as_deref().map(|r| r.get()).unwrap_or("") } else { "" };
            Some(Arg::from(r))
        };
        Ok(self
            .per_queue_with(&self.inner.scripts.ack, &leases, head, result)
            .await?
            .into_iter()
            .map(|c| c == 1)
            .collect())
    }

    /// Stores a running job's latest progress (`percent` 0 to 100, a short
    /// message). Returns false when the lease no longer holds the job.
    pub async fn progress(&self, lease: &Lease, percent: u8, message: &str) -> Result<bool> {
        if percent > 100 {
            return Err(Error::InvalidLimit(format!("progress of {percent}% is over the limit of 100%")));
        }
        let message: String = message.chars().take(crate::bounds::MAX_PROGRESS_MESSAGE).collect();
        let record = serde_json::json!({ "percent": percent, "message": message, "at": self.now_ms() });
        let args = vec![lease.id.as_str().into(), lease.attempt.into(), record.to_string().into()];
        let r = self.eval(&self.inner.scripts.progress, &lease.queue, args).await?;
        Ok(reply::int("progress", &r)? == 1)
    }

    /// Records a failed attempt. `retry_in`: how long from now (by Redis's
    /// clock) to run again, or None to bury the job now. A job whose
    /// attempts are spent is buried whatever `retry_in` says: fail.lua
    /// decides retry or dead, in one place.
    pub async fn fail(&self, lease: &Lease, error: &str, retry_in: Option<Duration>) -> Result<FailOutcome> {
        self.fail_capped(lease, error, retry_in, None).await
    }

    /// [`Broker::fail`], with the job's attempts further capped at
    /// `max_attempts` (a worker's `--tries`).
    pub async fn fail_capped(
        &self,
        lease: &Lease,
        error: &str,
        retry_in: Option<Duration>,
        max_attempts: Option<u32>,
    ) -> Result<FailOutcome> {
        self.fail_raw(&lease.queue, lease.id.as_bytes(), i64::from(lease.attempt), error, retry_in, max_attempts).await
    }

    async fn fail_raw(
        &self,
        queue: &QueueName,
        id: &[u8],
        attempt: i64,
        error: &str,
        retry_in: Option<Duration>,
        max_attempts: Option<u32>,
    ) -> Result<FailOutcome> {
        let args: Vec<Arg> = vec![
            self.clock_arg(),
            id.into(),
            attempt.into(),
            cap_error(error).into(),
            retry_in.map_or(-1, ms).into(),
            self.config().dead_max_len.into(),
            ms(self.config().dead_max_age).into(),
            max_attempts.unwrap_or(0).into(),
        ];
        let reply = self.eval(&self.inner.scripts.fail, queue, args).await?;
        match reply::string("fail", reply)?.as_str() {
            "retry" => Ok(FailOutcome::Retry),
            "dead" => Ok(FailOutcome::Dead),
            "cancelled" => Ok(FailOutcome::Cancelled),
            "lost" => Ok(FailOutcome::Lost),
            other => Err(Error::protocol("fail", other)),
        }
    }

    /// Sends a reserved job to the dead set at once with `error`.
    pub async fn bury(&self, lease: &Lease, error: &str) -> Result<FailOutcome> {
        self.fail(lease, error, None).await
    }

    /// Buries a reserved job known only by its raw id (damaged data).
    pub(crate) async fn bury_raw(
        &self,
        queue: &QueueName,
        id: &[u8],
        attempt: i64,
        error: &str,
    ) -> Result<FailOutcome> {
        self.fail_raw(queue, id, attempt, error, None, None).await
    }

    /// Extends the leases of running jobs to now + `lease`. Returns, per
    /// lease, whether it was still held (false: the job was reclaimed).
    pub async fn extend(&self, leases: &[Lease], lease: Duration) -> Result<Vec<bool>> {
        Ok(self.renew(leases, lease).await?.into_iter().map(|r| r != Renewal::Lost).collect())
    }

    /// [`Broker::extend`], saying too which jobs a cancel was requested for
    /// (the worker's extender stops them).
    pub async fn renew(&self, leases: &[Lease], lease: Duration) -> Result<Vec<Renewal>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let head = |_: &[usize]| vec![self.clock_arg(), ms(lease).into()];
        let codes = self.per_queue_with(&self.inner.scripts.extend, leases, head, |_| None).await?;
        codes
            .into_iter()
            .map(|c| match c {
                0 => Ok(Renewal::Lost),
                1 => Ok(Renewal::Held),
                2 => Ok(Renewal::CancelRequested),
                other => Err(Error::protocol("extend", other.to_string())),
            })
            .collect()
    }

    /// Puts reserved jobs back to pending without counting their attempt.
    pub async fn release(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        self.per_queue(&self.inner.scripts.release, leases, |_| vec![self.clock_arg()]).await
    }
}
