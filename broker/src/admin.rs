//! Queue administration: pause, resume, delete, stats, and reading one job.
use crate::broker::Broker;
use crate::envelope::AttemptError;
use crate::error::{Error, Result};
use crate::keys::job_field;
use crate::keys::queues_set;
use crate::name::QueueName;
use crate::reply;
use redis::Value;
use serde::Serialize;
use std::time::Duration;

/// Queues read per pipelined round trip by [`Broker::snapshot`].
pub const SNAPSHOT_BATCH: usize = 100;
/// Commands per queue in [`Broker::stats`].
const STATS_COMMANDS: usize = 9;

/// One queue's figures, as `weir stats` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Jobs ready to run now.
    pub pending: u64,
    /// Jobs waiting for their run time (delays and retries).
    pub delayed: u64,
    /// Jobs reserved by workers now.
    pub active: u64,
    /// Jobs in the dead set.
    pub dead: u64,
    /// Jobs acked since the queue was created.
    pub processed: u64,
    /// Failed attempts since the queue was created (retried or not).
    pub failed: u64,
    /// Jobs cancelled since the queue was created (`weir cancel`): removed
    /// before they ran, or stopped while running (then also counted in `dead`).
    pub cancelled: u64,
    /// Summed run time of processed jobs, ms.
    pub runtime_ms: u64,
    /// Workers take nothing from it (`weir pause`).
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
    /// Jobs put back by a worker that had no handler for their kind (since
    /// the queue was created; see `--unknown-kind` in docs/WORKER.md).
    pub unknown_kind: u64,
}

pub use crate::model::{JobInfo, JobState};

impl Broker {
    /// Stops reserve from taking the queue's jobs; they stay where they are.
    pub async fn pause(&self, queue: &QueueName) -> Result<()> {
        self.query::<()>(redis::cmd("HSET").arg(&self.keys(queue).conf).arg("paused").arg("1")).await
    }

    /// Lets reserve take the queue's jobs again and wakes a waiting worker.
    /// Returns whether it was paused.
    pub async fn resume(&self, queue: &QueueName) -> Result<bool> {
        let r = self.eval(&self.inner.scripts.resume, queue, vec![]).await?;
        Ok(reply::int("resume", &r)? == 1)
    }

    /// Deletes a pending, delayed or dead job. Returns the state it was in,
    /// or None when no such job is in those states (active jobs belong to
    /// their worker and are not deleted).
    pub async fn delete(&self, queue: &QueueName, id: &str) -> Result<Option<JobState>> {
        let r = self.eval(&self.inner.scripts.delete, queue, vec![id.into()]).await?;
        Ok(match r {
            Value::Nil | Value::Boolean(false) => None,
            other => match reply::string("delete", other)?.as_str() {
                "pending" => Some(JobState::Pending),
                "delayed" => Some(JobState::Delayed),
                "dead" => Some(JobState::Dead),
                x => return Err(Error::protocol("delete", x)),
            },
        })
    }

    /// Whether `queue` is known: it is in the queue registry
    /// (`{prefix}:queues`), which every enqueue, [`Self::create_queue`] and
    /// [`Self::create_queues`] (each worker, for the queues it serves, at its
    /// start) add to. The one answer to "has this queue been seen": `weir pause`,
    /// `resume` and `limit set` refuse a queue that is not known unless
    /// given `--create` (a typo would otherwise write settings no worker reads).
    pub async fn has_queue(&self, queue: &QueueName) -> Result<bool> {
        self.query(redis::cmd("SISMEMBER").arg(queues_set(self.prefix())).arg(queue.as_str())).await
    }

    /// Makes `queue` known (adds it to the queue registry) without enqueueing
    /// anything: it then shows in `weir stats`, `weir limit list` and the
    /// dashboard. Returns whether it was new.
    pub async fn create_queue(&self, queue: &QueueName) -> Result<bool> {
        Ok(self.create_queues(std::slice::from_ref(queue)).await? == 1)
    }

    /// [`Self::create_queue`] for several queues in one command; returns how
    /// many were new.
    pub async fn create_queues(&self, queues: &[QueueName]) -> Result<u64> {
        if queues.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = queues.iter().map(QueueName::as_str).collect();
        let added: u64 = self.query(redis::cmd("SADD").arg(queues_set(self.prefix())).arg(&names)).await?;
        self.inner.registered.lock().expect("registered lock").extend(queues.iter().cloned());
        Ok(added)
    }

    /// Makes a delayed job (scheduled for later, or waiting for its retry)
    /// pending at once; its attempts and errors stay. Returns whether it was
    /// delayed: a job in any other state is left alone.
    pub async fn run_now(&self, queue: &QueueName, id: &str) -> Result<bool> {
        crate::name::validate_job_id(id)?;
        let r = self.eval(&self.inner.scripts.run_now, queue, vec![self.clock_arg(), id.into()]).await?;
        Ok(reply::int("run_now", &r)? == 1)
    }

    /// Every known queue under this prefix ([`Self::has_queue`]), sorted.
    pub async fn queues(&self) -> Result<Vec<QueueName>> {
        let names: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(queues_set(self.prefix()))).await?;
        let mut queues: Vec<QueueName> = names.into_iter().filter_map(|n| QueueName::new(n).ok()).collect();
        queues.sort();
        Ok(queues)
    }

    /// One queue's figures, read in one round trip (one slot: the queue's).
    pub async fn stats(&self, queue: &QueueName) -> Result<QueueStats> {
        let mut p = redis::pipe();
        self.stats_commands(&mut p, queue);
        let r: Vec<Value> = self.pipe(&p).await?;
        self.parse_stats(&r)
    }

    /// The queue's processed counter alone: one HGET, for callers that poll
    /// it (the bench's drain) and need no full stats read.
    pub async fn processed(&self, queue: &QueueName) -> Result<u64> {
        let hget = redis::cmd("HGET").arg(&self.keys(queue).stats).arg("processed").to_owned();
        Ok(self.query::<Option<u64>>(&hget).await?.unwrap_or(0))
    }

    /// How many jobs' data the queue still stores (fields of its `jobs`
    /// hash), whatever their state: zero once every job is finished and no
    /// done record is kept.
    pub async fn stored_jobs(&self, queue: &QueueName) -> Result<u64> {
        self.query(redis::cmd("HLEN").arg(&self.keys(queue).jobs)).await
    }

    /// Many queues' figures: on one server (or Sentinel), one pipelined
    /// round trip per [`SNAPSHOT_BATCH`] queues; on a cluster, each queue's
    /// commands stay in its own slot and every queue's go out at once. The
    /// cost does not grow with the number of jobs. A queue whose reply is
    /// damaged is skipped with a warning rather than failing the rest.
    pub async fn snapshot(&self, queues: &[QueueName]) -> Result<Vec<(QueueName, QueueStats)>> {
        let chunk = if self.is_cluster() { 1 } else { SNAPSHOT_BATCH };
        let pipes: Vec<(&[QueueName], redis::Pipeline)> = queues
            .chunks(chunk)
            .map(|qs| {
                let mut p = redis::pipe();
                for q in qs {
                    self.stats_commands(&mut p, q);
                }
                (qs, p)
            })
            .collect();
        let replies = futures::future::join_all(pipes.iter().map(|(_, p)| self.pipe::<Vec<Value>>(p))).await;
        let mut out = Vec::with_capacity(queues.len());
        for ((qs, _), reply) in pipes.iter().zip(replies) {
            let reply = reply?;
            for (q, r) in qs.iter().zip(reply.chunks(STATS_COMMANDS)) {
                match self.parse_stats(r) {
                    Ok(s) => out.push((q.clone(), s)),
                    Err(e) => tracing::warn!(queue = %q, error = %e, "cannot read this queue's figures"),
                }
            }
        }
        Ok(out)
    }

    /// The commands of one queue's figures (all on its slot, and `TIME`).
    fn stats_commands(&self, p: &mut redis::Pipeline, queue: &QueueName) {
        let k = self.keys(queue);
        p.cmd("ZCARD").arg(&k.pending);
        p.cmd("ZCARD").arg(&k.delayed);
        p.cmd("ZCARD").arg(&k.active);
        p.cmd("ZCARD").arg(&k.dead);
        p.cmd("HMGET").arg(&k.stats).arg(&[
            "processed",
            "failed",
            "runtime_ms",
            "deferred",
            "unknown_kind",
            "cancelled",
        ]);
        p.cmd("HEXISTS").arg(&k.conf).arg("paused");
        p.cmd("ZRANGE").arg(&k.pending).arg(0).arg(0).arg("WITHSCORES");
        p.cmd("HMGET").arg(&k.conf).arg(&[
            "rate",
            "rate_burst",
            "concurrency",
            "held_until",
            "rate_interval",
            "rate_tat",
        ]);
        // Ages and holds by Redis's clock, like the scripts that set them.
        p.cmd("TIME");
    }

    /// One queue's figures from the replies to [`Self::stats_commands`].
    fn parse_stats(&self, r: &[Value]) -> Result<QueueStats> {
        let n = |i: usize| {
            r.get(i).map(|v| reply::int("stats", v)).transpose().map(|v| u64::try_from(v.unwrap_or(0)).unwrap_or(0))
        };
        let counters = reply::array("stats", r.get(4).cloned().unwrap_or(Value::Nil))?;
        let c = |i: usize| {
            u64::try_from(counters.get(i).map(|v| reply::int("stats", v).unwrap_or(0)).unwrap_or(0)).unwrap_or(0)
        };
        let oldest = reply::array("stats", r.get(6).cloned().unwrap_or(Value::Nil))?;
        let oldest_ready = oldest.get(1).map(score).transpose()?;
        let conf = reply::array("stats", r.get(7).cloned().unwrap_or(Value::Nil))?;
        let text = |i: usize| conf.get(i).cloned().and_then(|v| reply::opt_string("stats", v).ok().flatten());
        let num = |i: usize| text(i).and_then(|s| s.parse::<f64>().ok());
        let time = reply::array("stats", r.get(8).cloned().unwrap_or(Value::Nil))?;
        let now = match (time.first(), time.get(1)) {
            (Some(s), Some(us)) => self.time_reply_ms(reply::int("stats", s)?, reply::int("stats", us)?),
            _ => self.now_ms(),
        };
        let limits = crate::limit::QueueLimits {
            rate: text(0),
            burst: text(1).and_then(|b| b.parse().ok()),
            concurrency: text(2).and_then(|c| c.parse().ok()),
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
            unknown_kind: c(4),
            cancelled: c(5),
            limits: (limits != Default::default()).then_some(limits),
            pending: n(0)?,
            delayed: n(1)?,
            active,
            dead: n(3)?,
            processed: c(0),
            failed: c(1),
            runtime_ms: c(2),
            paused: n(5)? == 1,
            oldest_pending_ms: oldest_ready.map(|t| u64::try_from(now - t).unwrap_or(0)),
        })
    }

    /// Reads one job: its state, raw envelope, attempts and errors.
    /// None when the queue holds nothing under this id (never enqueued, or done).
    pub async fn job(&self, queue: &QueueName, id: &str) -> Result<Option<JobInfo>> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        p.cmd("HMGET").arg(&k.jobs).arg(&data_fields(id));
        for set in [&k.pending, &k.delayed, &k.active, &k.dead] {
            p.cmd("ZSCORE").arg(set).arg(id);
        }
        let r: Vec<Value> = self.pipe(&p).await?;
        let data = JobData::parse("job", r.first().cloned().unwrap_or(Value::Nil))?;
        let states = [JobState::Pending, JobState::Delayed, JobState::Active, JobState::Dead];
        let mut state = None;
        let mut score = None;
        for (i, s) in states.into_iter().enumerate() {
            match r.get(i + 1) {
                Some(Value::Nil) | None => {}
                Some(v) => (state, score) = (Some(s), Some(self::score(v)?)),
            }
        }
        if data.envelope.is_none() && state.is_none() && data.attempts.is_none() {
            return Ok(None);
        }
        Ok(Some(JobInfo {
            state,
            envelope: data.envelope,
            attempts: data.attempts.unwrap_or(0),
            max_attempts: data.max_attempts,
            errors: data.errors,
            score,
        }))
    }

    /// Delayed jobs of `queue` due within `within` from now, by Redis's
    /// clock (the autoscaler counts those due before its next tick as backlog).
    pub async fn count_due(&self, queue: &QueueName, within: Duration) -> Result<u64> {
        let until = self.redis_time_ms().await?.saturating_add(crate::broker::ms(within));
        let n: i64 = self.query(redis::cmd("ZCOUNT").arg(&self.keys(queue).delayed).arg("-inf").arg(until)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Ids in one state of a queue, oldest first, up to `limit`.
    pub async fn list(&self, queue: &QueueName, state: JobState, limit: usize) -> Result<Vec<String>> {
        let k = self.keys(queue);
        let set = k.of_state(state);
        let stop = i64::try_from(limit.max(1)).unwrap_or(i64::MAX) - 1;
        self.query(redis::cmd("ZRANGE").arg(set).arg(0).arg(stop)).await
    }
}

/// The `jobs` hash fields of one job that [`JobData::parse`] reads, in its order.
pub(crate) fn data_fields(id: &str) -> [String; 4] {
    [job_field('j', id), job_field('a', id), job_field('m', id), job_field('e', id)]
}

/// One job's data from the `jobs` hash, as an `HMGET` of [`data_fields`] returns it.
pub(crate) struct JobData {
    pub envelope: Option<String>,
    /// None when the field is missing (or not a number).
    pub attempts: Option<u32>,
    pub max_attempts: Option<u32>,
    /// Empty when missing or damaged.
    pub errors: Vec<AttemptError>,
}

impl JobData {
    pub(crate) fn parse(op: &'static str, v: Value) -> Result<JobData> {
        let fields = reply::array(op, v)?;
        let field = |i: usize| fields.get(i).cloned().map_or(Ok(None), |v| reply::opt_string(op, v));
        Ok(JobData {
            envelope: field(0)?,
            attempts: field(1)?.and_then(|a| a.parse().ok()),
            max_attempts: field(2)?.and_then(|m| m.parse().ok()),
            errors: field(3)?.and_then(|e| serde_json::from_str(&e).ok()).unwrap_or_default(),
        })
    }
}

/// A sorted-set score (ms) as an integer.
pub(crate) fn score(v: &Value) -> Result<i64> {
    match v {
        Value::Double(d) => Ok(*d as i64),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(|d| d as i64)
            .ok_or_else(|| Error::protocol("score", String::from_utf8_lossy(b))),
        other => reply::int("score", other),
    }
}
