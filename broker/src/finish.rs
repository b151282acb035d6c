//! Finishing reserved jobs: ack, fail, bury, extend, release. Each takes the
//! job's [`Lease`]; a lease that was lost (expired and reclaimed) is reported,
//! never acted on.
use crate::broker::Broker;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::reply;
use crate::reserve::Lease;
use fred::types::Value;
use fred::types::scripts::Script;
use std::collections::HashMap;
use std::time::Duration;

/// Where a failed attempt sent the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to `delayed`, to run again at the retry time.
    Retry,
    /// Attempts spent or not retryable: in the dead set.
    Dead,
    /// This reservation no longer held the job; nothing was changed.
    Lost,
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
    /// Groups leases by queue and runs `script` once per queue in one round
    /// trip, with `head(indices of the group)` before the (id, attempt) pairs. Per-lease flags come
    /// back in input order.
    async fn per_queue(
        &self,
        op: &'static str,
        script: &Script,
        leases: &[Lease],
        keys: impl Fn(&QueueName) -> Vec<String>,
        head: impl Fn(&[usize]) -> Vec<Value>,
    ) -> Result<Vec<bool>> {
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
                args.push((leases[i].attempt as i64).into());
            }
            calls.push((script, keys(queue), args));
            order.push(idx);
        }
        let replies = self.eval_many(calls).await?;
        let mut out = vec![false; leases.len()];
        for (reply, idx) in replies.into_iter().zip(order) {
            for (flag, i) in reply::flags(op, reply?)?.into_iter().zip(idx) {
                out[i] = flag;
            }
        }
        Ok(out)
    }

    /// Marks jobs done (their data is deleted) in one round trip. Each job
    /// comes with its run time, summed per queue into the stats for the
    /// autoscaler. Returns, per job, whether its lease still held it.
    pub async fn ack(&self, done: &[(Lease, Duration)]) -> Result<Vec<bool>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let leases: Vec<Lease> = done.iter().map(|(l, _)| l.clone()).collect();
        let keys = |q: &QueueName| {
            let k = self.keys(q);
            vec![
                k.active.clone(),
                k.jobs.clone(),
                k.unique.clone(),
                k.stats.clone(),
                k.conf.clone(),
                k.pending.clone(),
                k.wake.clone(),
            ]
        };
        let head = |idx: &[usize]| vec![Value::from(idx.iter().map(|&i| done[i].1.as_millis() as i64).sum::<i64>())];
        self.per_queue("ack", &self.inner.scripts.ack, &leases, keys, head).await
    }

    /// Records a failed attempt. `retry_at_ms`: when to run again (ms since the
    /// epoch), or None to bury the job now. A job whose attempts are spent is
    /// buried whatever `retry_at_ms` says.
    pub async fn fail(&self, lease: &Lease, error: &str, retry_at_ms: Option<i64>) -> Result<FailOutcome> {
        let k = self.keys(&lease.queue);
        let keys = vec![
            k.active.clone(),
            k.delayed.clone(),
            k.dead.clone(),
            k.jobs.clone(),
            k.unique.clone(),
            k.stats.clone(),
            k.conf.clone(),
            k.pending.clone(),
            k.wake.clone(),
        ];
        let args: Vec<Value> = vec![
            self.now_ms().into(),
            lease.id.as_str().into(),
            (lease.attempt as i64).into(),
            cap_error(error).into(),
            retry_at_ms.unwrap_or(-1).into(),
            (self.config().dead_max_len as i64).into(),
            (self.config().dead_max_age.as_millis() as i64).into(),
        ];
        let reply = self.eval(&self.inner.scripts.fail, keys, args).await?;
        match reply::string("fail", reply)?.as_str() {
            "retry" => Ok(FailOutcome::Retry),
            "dead" => Ok(FailOutcome::Dead),
            "lost" => Ok(FailOutcome::Lost),
            other => Err(Error::protocol("fail", other)),
        }
    }

    /// Sends a reserved job to the dead set at once with `error`.
    pub async fn bury(&self, lease: &Lease, error: &str) -> Result<FailOutcome> {
        self.fail(lease, error, None).await
    }

    /// Extends the leases of running jobs to now + `lease`. Returns, per
    /// lease, whether it was still held (false: the job was reclaimed).
    pub async fn extend(&self, leases: &[Lease], lease: Duration) -> Result<Vec<bool>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let until = self.now_ms() + lease.as_millis() as i64;
        let keys = |q: &QueueName| {
            let k = self.keys(q);
            vec![k.active.clone(), k.jobs.clone()]
        };
        self.per_queue("extend", &self.inner.scripts.extend, leases, keys, |_| vec![until.into()]).await
    }

    /// Puts reserved jobs back to pending without counting their attempt.
    pub async fn release(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let keys = |q: &QueueName| {
            let k = self.keys(q);
            vec![k.active.clone(), k.pending.clone(), k.jobs.clone(), k.wake.clone()]
        };
        let now = self.now_ms();
        self.per_queue("release", &self.inner.scripts.release, leases, keys, |_| vec![now.into()]).await
    }
}
