//! Queue administration: pause, resume, delete, stats, and reading one job.
use crate::broker::Broker;
use crate::envelope::{AttemptError, Envelope};
use crate::error::{Error, Result};
use crate::keys::queues_set;
use crate::name::QueueName;
use crate::reply;
use fred::interfaces::{HashesInterface, SetsInterface, SortedSetsInterface};
use fred::types::Value;
use serde::Serialize;

/// One queue's figures, as `weir stats` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub pending: u64,
    pub delayed: u64,
    pub active: u64,
    pub dead: u64,
    /// Jobs acked since the queue was created.
    pub processed: u64,
    /// Failed attempts since the queue was created (retried or not).
    pub failed: u64,
    /// Summed run time of processed jobs, ms.
    pub runtime_ms: u64,
    pub paused: bool,
    /// Age of the oldest pending job (since it became ready), ms; None when empty.
    pub oldest_pending_ms: Option<u64>,
    /// The queue's fleet-wide limits, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::limit::QueueLimits>,
    /// Pending jobs that a limit (rate, concurrency cap or hold) keeps waiting right now.
    pub waiting_on_limits: u64,
    /// Jobs put back because their rate key was over its limit (since the queue was created).
    pub deferred_by_key: u64,
}

/// Where a job is now. Done jobs are deleted, so they are not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Delayed,
    Active,
    Dead,
}

/// Everything Redis holds about one job.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub state: Option<JobState>,
    /// The raw envelope (it may be damaged, so it is not parsed here).
    pub envelope: Option<String>,
    pub attempts: u32,
    pub max_attempts: Option<u32>,
    pub errors: Vec<AttemptError>,
    /// The score in its state's set: ready, run, lease-deadline or died-at time (ms).
    pub score: Option<i64>,
}

impl JobInfo {
    pub fn parse_envelope(&self) -> Option<Result<Envelope>> {
        self.envelope.as_deref().map(Envelope::parse)
    }
}

impl Broker {
    /// Stops reserve from taking the queue's jobs; they stay where they are.
    pub async fn pause(&self, queue: &QueueName) -> Result<()> {
        self.inner.client.hset::<(), _, _>(&self.keys(queue).conf, ("paused", "1")).await?;
        Ok(())
    }

    /// Lets reserve take the queue's jobs again and wakes a waiting worker.
    /// Returns whether it was paused.
    pub async fn resume(&self, queue: &QueueName) -> Result<bool> {
        let k = self.keys(queue);
        let r = self
            .eval(&self.inner.scripts.resume, vec![k.conf.clone(), k.pending.clone(), k.wake.clone()], vec![])
            .await?;
        Ok(reply::int("resume", &r)? == 1)
    }

    /// Deletes a pending, delayed or dead job. Returns the state it was in,
    /// or None when no such job is in those states (active jobs belong to
    /// their worker and are not deleted).
    pub async fn delete(&self, queue: &QueueName, id: &str) -> Result<Option<JobState>> {
        let k = self.keys(queue);
        let keys = vec![k.pending.clone(), k.delayed.clone(), k.dead.clone(), k.jobs.clone(), k.unique.clone()];
        let r = self.eval(&self.inner.scripts.delete, keys, vec![id.into()]).await?;
        Ok(match r {
            Value::Null | Value::Boolean(false) => None,
            other => match reply::string("delete", other)?.as_str() {
                "pending" => Some(JobState::Pending),
                "delayed" => Some(JobState::Delayed),
                "dead" => Some(JobState::Dead),
                x => return Err(Error::protocol("delete", x)),
            },
        })
    }

    /// Every queue ever enqueued to under this prefix, sorted.
    pub async fn queues(&self) -> Result<Vec<QueueName>> {
        let names: Vec<String> = self.inner.client.smembers(queues_set(self.prefix())).await?;
        let mut queues: Vec<QueueName> = names.into_iter().filter_map(|n| QueueName::new(n).ok()).collect();
        queues.sort();
        Ok(queues)
    }

    /// One queue's figures, read in one round trip.
    pub async fn stats(&self, queue: &QueueName) -> Result<QueueStats> {
        let k = self.keys(queue);
        let p = self.inner.client.pipeline();
        p.zcard::<(), _>(&k.pending).await?;
        p.zcard::<(), _>(&k.delayed).await?;
        p.zcard::<(), _>(&k.active).await?;
        p.zcard::<(), _>(&k.dead).await?;
        p.hmget::<(), _, _>(&k.stats, vec!["processed", "failed", "runtime_ms", "deferred"]).await?;
        p.hexists::<(), _, _>(&k.conf, "paused").await?;
        p.zrange::<(), _, _, _>(&k.pending, 0, 0, None, false, None, true).await?;
        let limit_fields = vec!["rate", "rate_burst", "concurrency", "held_until", "rate_interval", "rate_tat"];
        p.hmget::<(), _, _>(&k.conf, limit_fields).await?;
        let r: Vec<Value> = p.all().await?;
        let n = |i: usize| r.get(i).map(|v| reply::int("stats", v)).transpose().map(|v| v.unwrap_or(0).max(0) as u64);
        let counters = reply::array("stats", r.get(4).cloned().unwrap_or(Value::Null))?;
        let c = |i: usize| counters.get(i).map(|v| reply::int("stats", v).unwrap_or(0)).unwrap_or(0).max(0) as u64;
        let oldest = reply::array("stats", r.get(6).cloned().unwrap_or(Value::Null))?;
        let oldest_ready = match oldest.get(1) {
            Some(Value::Double(d)) => Some(*d as i64),
            Some(v) => Some(reply::int("stats", v)?),
            None => None,
        };
        let conf = reply::array("stats", r.get(7).cloned().unwrap_or(Value::Null))?;
        let text = |i: usize| conf.get(i).and_then(|v| v.as_string());
        let num = |i: usize| text(i).and_then(|s| s.parse::<f64>().ok());
        let now = self.now_ms();
        let limits = crate::limit::QueueLimits {
            rate: text(0),
            burst: num(1).map(|b| b as u32),
            concurrency: num(2).map(|c| c as u32),
            held_until: num(3).map(|t| t as i64).filter(|t| *t > now),
        };
        let (pending, active) = (n(0)?, n(2)?);
        // Mirrors reserve.lua: held, at the cap, or the rate's next slot not yet due.
        let rate_blocked = match (num(4), num(5)) {
            (Some(interval), Some(tat)) => {
                tat - interval * (limits.burst.unwrap_or(1) as f64 - 1.0) > now as f64 + interval
            }
            _ => false,
        };
        let limited =
            limits.held_until.is_some() || limits.concurrency.is_some_and(|c| active >= c as u64) || rate_blocked;
        Ok(QueueStats {
            waiting_on_limits: if limited { pending } else { 0 },
            deferred_by_key: c(3),
            limits: (limits != Default::default()).then_some(limits),
            pending: n(0)?,
            delayed: n(1)?,
            active,
            dead: n(3)?,
            processed: c(0),
            failed: c(1),
            runtime_ms: c(2),
            paused: n(5)? == 1,
            oldest_pending_ms: oldest_ready.map(|t| (self.now_ms() - t).max(0) as u64),
        })
    }

    /// Reads one job: its state, raw envelope, attempts and errors.
    /// None when the queue holds nothing under this id (never enqueued, or done).
    pub async fn job(&self, queue: &QueueName, id: &str) -> Result<Option<JobInfo>> {
        let k = self.keys(queue);
        let p = self.inner.client.pipeline();
        p.hmget::<(), _, _>(&k.jobs, vec![id.to_string(), format!("{id}:a"), format!("{id}:m"), format!("{id}:e")])
            .await?;
        for set in [&k.pending, &k.delayed, &k.active, &k.dead] {
            p.zscore::<(), _, _>(set, id).await?;
        }
        let r: Vec<Value> = p.all().await?;
        let fields = reply::array("job", r.first().cloned().unwrap_or(Value::Null))?;
        let field =
            |i: usize| fields.get(i).cloned().filter(|v| !v.is_null()).map(|v| reply::string("job", v)).transpose();
        let envelope = field(0)?;
        let attempts = field(1)?;
        let max = field(2)?;
        let errors = field(3)?;
        let states = [JobState::Pending, JobState::Delayed, JobState::Active, JobState::Dead];
        let mut state = None;
        let mut score = None;
        for (i, s) in states.into_iter().enumerate() {
            match r.get(i + 1) {
                Some(Value::Null) | None => {}
                Some(Value::Double(d)) => (state, score) = (Some(s), Some(*d as i64)),
                Some(v) => (state, score) = (Some(s), Some(reply::int("job", v)?)),
            }
        }
        if envelope.is_none() && state.is_none() && attempts.is_none() {
            return Ok(None);
        }
        Ok(Some(JobInfo {
            state,
            envelope,
            attempts: attempts.and_then(|a| a.parse().ok()).unwrap_or(0),
            max_attempts: max.and_then(|m| m.parse().ok()),
            errors: errors.and_then(|e| serde_json::from_str(&e).ok()).unwrap_or_default(),
            score,
        }))
    }

    /// Delayed jobs of `queue` due at or before `until_ms` (the autoscaler
    /// counts those due before its next tick as backlog).
    pub async fn count_due(&self, queue: &QueueName, until_ms: i64) -> Result<u64> {
        let n: i64 = self.inner.client.zcount(&self.keys(queue).delayed, f64::NEG_INFINITY, until_ms as f64).await?;
        Ok(n.max(0) as u64)
    }

    /// Ids in one state of a queue, oldest first, up to `limit`.
    pub async fn list(&self, queue: &QueueName, state: JobState, limit: usize) -> Result<Vec<String>> {
        let k = self.keys(queue);
        let set = match state {
            JobState::Pending => &k.pending,
            JobState::Delayed => &k.delayed,
            JobState::Active => &k.active,
            JobState::Dead => &k.dead,
        };
        let stop = limit.max(1) as i64 - 1;
        Ok(self.inner.client.zrange(set, 0, stop, None, false, None, false).await?)
    }
}
