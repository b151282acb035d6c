//! Enqueue: one job, or many in one pipelined round trip per batch.
use crate::backoff::Backoff;
use crate::broker::Broker;
use crate::broker::{Arg, ms};
use crate::codec::Codec;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::keys::queues_set;
use crate::name::{QueueName, validate_job_id};
use crate::reply;
use redis::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// When a job may first run. A time in the past means now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAt {
    #[default]
    /// As soon as a worker is free.
    Now,
    /// Milliseconds since the Unix epoch.
    AtMs(i64),
    /// After this delay from the enqueue (by Redis's clock).
    After(Duration),
}

impl RunAt {
    /// The run time this names, in ms since the epoch, given `now`; None for
    /// `Now` (a past time is returned as is: enqueue treats it as now).
    pub fn at_ms(self, now: i64) -> Option<i64> {
        match self {
            RunAt::Now => None,
            RunAt::AtMs(at) => Some(at),
            RunAt::After(d) => Some(now.saturating_add(ms(d))),
        }
    }
}

/// A unique key: while a job holding it is pending, delayed or running, an
/// enqueue with the same key (in the same queue) returns that job's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unique {
    /// The key; unique per queue.
    pub key: String,
    /// None: the broker's `unique_ttl` after the job's run time.
    pub ttl: Option<Duration>,
}

/// A job ready to enqueue: everything but the time-dependent fields.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// None: a new ULID. Callers that replay a job (the outbox relay) pass its
    /// id so that enqueueing it twice is a no-op.
    pub id: Option<String>,
    /// The queue it goes to.
    pub queue: QueueName,
    /// Its kind, which picks the handler.
    pub kind: String,
    /// How `payload` is encoded.
    pub codec: Codec,
    /// The encoded job.
    pub payload: Box<RawValue>,
    /// Attempts it may use, 1 to `bounds::MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// Its retry schedule; None: the worker's.
    pub backoff: Option<Backoff>,
    /// Time limit per attempt; None: the worker's `--timeout`.
    pub timeout: Option<Duration>,
    /// When it may first run.
    pub run_at: RunAt,
    /// Its unique key, if any.
    pub unique: Option<Unique>,
    /// Limited with the other jobs of this key by the matching `weir limit set-key` rule.
    pub rate_key: Option<String>,
    /// W3C `traceparent` written into the envelope (docs/PROTOCOL.md); set by
    /// weir-client's producer span (feature `otel`) or passed through as is.
    pub traceparent: Option<String>,
    /// W3C `tracestate` that goes with `traceparent`.
    pub tracestate: Option<String>,
}

impl NewJob {
    /// Checks the job against `config` (size limit) without Redis, so a
    /// command line can refuse bad input before it connects.
    pub fn validate(&self, cfg: &crate::broker::BrokerConfig) -> Result<()> {
        let job = self;
        if job.kind.is_empty() || job.kind.len() > 128 || job.kind.chars().any(char::is_control) {
            return Err(Error::InvalidKind(job.kind.clone()));
        }
        if job.max_attempts == 0 {
            return Err(Error::ZeroMaxAttempts);
        }
        let size = job.payload.get().len();
        if size > cfg.max_payload_bytes {
            return Err(Error::PayloadTooLarge { size, limit: cfg.max_payload_bytes });
        }
        if job.codec == Codec::Bincode && !cfg!(feature = "bincode") {
            return Err(Error::UnknownCodec("bincode".into()));
        }
        if let Some(u) = &job.unique
            && (u.key.is_empty() || u.key.len() > 512)
        {
            return Err(Error::InvalidUniqueKey);
        }
        if let Some(k) = &job.rate_key
            && (k.is_empty() || k.len() > 256)
        {
            return Err(Error::InvalidRateKey);
        }
        if let Some(id) = &job.id {
            validate_job_id(id)?;
        }
        Ok(())
    }

    /// A JSON job with default options.
    pub fn json(queue: QueueName, kind: impl Into<String>, payload: Box<RawValue>) -> NewJob {
        NewJob {
            id: None,
            queue,
            kind: kind.into(),
            codec: Codec::Json,
            payload,
            max_attempts: crate::envelope::DEFAULT_MAX_ATTEMPTS,
            backoff: None,
            timeout: None,
            run_at: RunAt::Now,
            unique: None,
            rate_key: None,
            traceparent: None,
            tracestate: None,
        }
    }
}

/// The outcome of one enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id (the existing job's when `created` is false).
    pub id: String,
    /// False when a job with this id, or a live job with the same unique key,
    /// already existed; `id` is then that job's id.
    pub created: bool,
}

/// Jobs per script call in `enqueue_many`: large enough to amortise the call,
/// small enough not to stall Redis for other clients.
const BATCH: usize = 500;

/// A new job id: a ULID, increasing within this process (monotonic within a
/// millisecond), so jobs enqueued together keep their order in Redis, where
/// equal ready times fall back to id order.
pub fn new_id() -> String {
    static GEN: OnceLock<Mutex<ulid::Generator>> = OnceLock::new();
    let mut g = GEN.get_or_init(|| Mutex::new(ulid::Generator::new())).lock().expect("ulid lock");
    // Monotonic within a millisecond; on the (2^80 per ms) overflow fall back to a random one.
    g.generate().unwrap_or_else(|_| ulid::Ulid::new()).to_string()
}

/// One job's ARGV group for enqueue.lua, after validation.
struct Prepared {
    queue: QueueName,
    args: [Arg; 8],
    id: String,
    /// The id was just generated (a new ULID), not chosen by the caller: no
    /// job can hold it yet, so the script need not look (`ids_fresh`).
    fresh: bool,
}

impl Broker {
    /// Checks a job as enqueue would, without sending anything.
    pub fn validate(&self, job: &NewJob) -> Result<()> {
        job.validate(self.config())
    }

    fn prepare(&self, job: NewJob, now: i64) -> Result<Prepared> {
        self.validate(&job)?;
        crate::bounds::job(&job, now)?;
        let fresh = job.id.is_none();
        let id = job.id.unwrap_or_else(new_id);
        // The run time as this process sees it, for the envelope's
        // informational `run_at`; the script places the job by Redis's clock.
        let ready = job.run_at.at_ms(now).map_or(now, |at| at.max(now));
        let (delay_ms, at_ms) = match job.run_at {
            RunAt::Now => (0, 0),
            RunAt::After(d) => (ms(d), 0),
            RunAt::AtMs(at) => (0, at.max(1)),
        };
        let (ukey, ttl) = match &job.unique {
            Some(u) => (u.key.clone(), u.ttl.map_or(-1, ms)),
            None => (String::new(), -1),
        };
        let env = Envelope {
            id: id.clone(),
            queue: job.queue.to_string(),
            kind: job.kind,
            codec: job.codec,
            payload: job.payload,
            max_attempts: job.max_attempts,
            backoff: job.backoff,
            timeout_ms: job.timeout.map(crate::bounds::millis_u64),
            enqueued_at: now,
            run_at: ready,
            unique_key: job.unique.map(|u| u.key),
            rate_key: job.rate_key,
            traceparent: job.traceparent,
            tracestate: job.tracestate,
        };
        Ok(Prepared {
            queue: job.queue,
            args: [
                id.clone().into(),
                env.to_json().into(),
                delay_ms.into(),
                at_ms.into(),
                env.max_attempts.into(),
                ukey.into(),
                ttl.into(),
                env.rate_key.clone().unwrap_or_default().into(),
            ],
            id,
            fresh,
        })
    }

    /// Adds queues this process has not seen to the queue set (one SADD per
    /// queue per process, not per job).
    pub(crate) async fn register_queues<'a>(&self, queues: impl Iterator<Item = &'a QueueName>) -> Result<()> {
        let fresh: Vec<String> = {
            let seen = self.inner.registered.lock().expect("registered lock");
            let mut fresh: Vec<String> = queues.filter(|q| !seen.contains(*q)).map(|q| q.to_string()).collect();
            fresh.sort();
            fresh.dedup();
            fresh
        };
        if fresh.is_empty() {
            return Ok(());
        }
        self.query::<()>(redis::cmd("SADD").arg(queues_set(self.prefix())).arg(&fresh)).await?;
        let mut seen = self.inner.registered.lock().expect("registered lock");
        for q in fresh {
            seen.insert(QueueName::new(q)?);
        }
        Ok(())
    }

    /// enqueue.lua's `ARGV`: the fixed values, then one group per job.
    /// `fresh`: every id of the call was just generated (`ids_fresh`).
    fn enqueue_args(&self, fresh: bool, groups: impl Iterator<Item = [Arg; 8]>) -> Vec<Arg> {
        let mut args = vec![self.clock_arg(), ms(self.config().unique_ttl).into(), Arg::from(u32::from(fresh))];
        for g in groups {
            args.extend(g);
        }
        args
    }

    /// One enqueue.lua call with these jobs of one queue; results in order.
    async fn enqueue_call(&self, queue: &QueueName, fresh: bool, groups: Vec<[Arg; 8]>) -> Result<Vec<Enqueued>> {
        let want = groups.len();
        let args = self.enqueue_args(fresh, groups.into_iter());
        let out = parse_results(self.eval(&self.inner.scripts.enqueue, queue, args).await?)?;
        if out.len() != want {
            return Err(Error::protocol("enqueue", format!("{} results for {want} jobs", out.len())));
        }
        Ok(out)
    }

    /// Enqueues one job. Concurrent calls of this process for one queue
    /// share script calls (see `Lanes`): a lone caller sends its job at
    /// once, as before; callers that arrive while `LANE_CALLS` calls are
    /// in flight for the queue go out together in the next one.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = self.now_ms();
        let p = self.prepare(job, now)?;
        self.register_queues(std::iter::once(&p.queue)).await?;
        let lane = (p.queue, p.fresh);
        let args = {
            let mut lanes = self.inner.lanes.lock().expect("lanes lock");
            let l = lanes.entry(lane.clone());
            if l.in_flight < LANE_CALLS {
                l.in_flight += 1;
                Ok(p.args)
            } else {
                let (tx, rx) = tokio::sync::oneshot::channel();
                l.waiting.push((p.args, tx));
                Err(rx)
            }
        };
        let args = match args {
            Ok(args) => args,
            Err(rx) => {
                return rx
                    .await
                    .unwrap_or_else(|_| Err(Error::protocol("enqueue", "the call carrying this job was dropped")));
            }
        };
        // Whatever happens to this call (done, failed, or dropped by the
        // caller), the lane's next batch goes out after it.
        let _next = LaneTurn { broker: self, lane: Some(lane.clone()) };
        let mut out = self.enqueue_call(&lane.0, lane.1, vec![args]).await?;
        out.pop().ok_or_else(|| Error::protocol("enqueue", "empty reply"))
    }

    /// Enqueues many jobs in one pipelined round trip (jobs of one queue go
    /// to Redis in script calls of up to 500). Every job is validated before
    /// anything is sent: one bad job fails the batch and enqueues nothing.
    /// Results are in input order.
    pub async fn enqueue_many(&self, jobs: impl IntoIterator<Item = NewJob>) -> Result<Vec<Enqueued>> {
        let now = self.now_ms();
        let prepared = jobs.into_iter().map(|j| self.prepare(j, now)).collect::<Result<Vec<_>>>()?;
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        self.register_queues(prepared.iter().map(|p| &p.queue)).await?;
        // Group by queue, remembering each job's input position.
        let mut by_queue: HashMap<QueueName, Vec<(usize, [Arg; 8], bool)>> = HashMap::new();
        for (i, p) in prepared.into_iter().enumerate() {
            debug_assert!(!p.id.is_empty());
            by_queue.entry(p.queue).or_default().push((i, p.args, p.fresh));
        }
        let total: usize = by_queue.values().map(Vec::len).sum();
        let mut positions = Vec::new();
        let mut calls = Vec::new();
        for (queue, items) in by_queue {
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let chunk: Vec<_> = items.by_ref().take(BATCH).collect();
                positions.push(chunk.iter().map(|(i, _, _)| *i).collect::<Vec<_>>());
                let fresh = chunk.iter().all(|(_, _, fresh)| *fresh);
                let args = self.enqueue_args(fresh, chunk.into_iter().map(|(_, a, _)| a));
                calls.push((&self.inner.scripts.enqueue, queue.clone(), args));
            }
        }
        let replies = self.eval_many(calls, None).await;
        let mut out: Vec<Option<Enqueued>> = vec![None; total];
        for (reply, pos) in replies.into_iter().zip(positions) {
            for (r, i) in parse_results(reply?)?.into_iter().zip(pos) {
                out[i] = Some(r);
            }
        }
        out.into_iter().map(|r| r.ok_or_else(|| Error::protocol("enqueue", "missing result"))).collect()
    }
}

/// Script calls that concurrent [`Broker::enqueue`]s may have in flight
/// per queue at once. Two keep Redis busy while the next batch gathers.
pub(crate) const LANE_CALLS: usize = 2;

/// A job waiting for the next call of its lane, and where its result goes.
type Waiting = ([Arg; 8], tokio::sync::oneshot::Sender<Result<Enqueued>>);

/// Concurrent single enqueues of this process, per lane: a queue, and
/// whether the ids are fresh (calls with caller-chosen ids keep the
/// existence check, so they never share a call with fresh ones). At most
/// [`LANE_CALLS`] script calls are in flight per lane; jobs that arrive
/// meanwhile wait and go out together, up to [`BATCH`] per call, as soon as
/// a call returns. Each job gets its own result; a call that fails fails
/// every job it carried (the script writes nothing before it can fail).
#[derive(Debug, Default)]
pub(crate) struct Lanes(HashMap<(QueueName, bool), Lane>);

#[derive(Debug, Default)]
struct Lane {
    in_flight: usize,
    waiting: Vec<Waiting>,
}

impl Lanes {
    fn entry(&mut self, lane: (QueueName, bool)) -> &mut Lane {
        self.0.entry(lane).or_default()
    }

    /// A call of `lane` has ended: the jobs that waited for it (at most
    /// [`BATCH`]) to carry next, or None when none wait (the call's slot is
    /// then free, and an idle lane is forgotten).
    fn next(&mut self, lane: &(QueueName, bool)) -> Option<Vec<Waiting>> {
        let l = self.0.get_mut(lane)?;
        if l.waiting.is_empty() {
            l.in_flight = l.in_flight.saturating_sub(1);
            if l.in_flight == 0 {
                self.0.remove(lane);
            }
            return None;
        }
        let take = l.waiting.len().min(BATCH);
        Some(l.waiting.drain(..take).collect())
    }
}

/// Held by a caller whose job went out in its own call; when dropped, the
/// lane's waiting jobs go out in a task of their own.
struct LaneTurn<'a> {
    broker: &'a Broker,
    lane: Option<(QueueName, bool)>,
}

impl Drop for LaneTurn<'_> {
    fn drop(&mut self) {
        let Some(lane) = self.lane.take() else { return };
        let Some(batch) = self.broker.inner.lanes.lock().expect("lanes lock").next(&lane) else { return };
        let broker = self.broker.clone();
        // Outside a runtime (it is shutting down) the waiting senders drop
        // with `batch`, and each waiter gets an error.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(broker.carry(lane, batch));
        }
    }
}

impl Broker {
    /// Sends waiting jobs of `lane`, batch after batch, until none wait.
    async fn carry(self, lane: (QueueName, bool), mut batch: Vec<Waiting>) {
        loop {
            let (groups, replies): (Vec<[Arg; 8]>, Vec<_>) = batch.into_iter().unzip();
            match self.enqueue_call(&lane.0, lane.1, groups).await {
                Ok(results) => {
                    for (r, tx) in results.into_iter().zip(replies) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Err(e) => {
                    for tx in replies {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
            match self.inner.lanes.lock().expect("lanes lock").next(&lane) {
                Some(next) => batch = next,
                None => return,
            }
        }
    }
}

fn parse_results(reply: Value) -> Result<Vec<Enqueued>> {
    reply::array("enqueue", reply)?
        .into_iter()
        .map(|pair| {
            let mut pair = reply::array("enqueue", pair)?.into_iter();
            let created = reply::int("enqueue", &pair.next().unwrap_or(Value::Nil))? == 1;
            let id = reply::string("enqueue", pair.next().unwrap_or(Value::Nil))?;
            Ok(Enqueued { id, created })
        })
        .collect()
}
