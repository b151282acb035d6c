//! Periodic jobs, the Redis side: schedules stored in `P:cron` (one JSON
//! value per name), managed by `weir cron` and `Client::schedule`, and the
//! scheduler's pass that enqueues their ticks. Each tick is enqueued once
//! across any number of schedulers: `lua/tick.lua` claims it in the target
//! queue's `ticks` hash and enqueues its job (id `cron:<name>:<tick ms>`) in
//! one step, in that queue's slot. [`crate::cron`] computes the ticks.
use crate::broker::Broker;
use crate::codec::Codec;
use crate::cron::{CatchUp, Expr, MAX_CATCH_UP};
use crate::enqueue::{Enqueued, NewJob};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::keys::schedules;
use crate::name::QueueName;
use crate::reply;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// A tick this late or less is on time: enqueued whatever the catch-up mode.
/// Later ones were missed (no scheduler ran at their time).
pub const ON_TIME_MS: i64 = 5_000;
/// Within this time after a schedule was added, changed or resumed, every
/// due tick is on time: a scheduler that saw no schedules looks again only
/// every 10 s.
pub const FRESH_MS: i64 = 20_000;

/// One periodic job, as stored (JSON) in `P:cron` under its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    /// 1-40 characters from `[A-Za-z0-9._-]`.
    pub name: String,
    /// The expression: 5 or 6 crontab fields, an `@alias` or `@every D`.
    pub expr: String,
    /// IANA time zone; None: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The queue each tick's job goes to.
    pub queue: String,
    /// Each tick's job kind.
    pub kind: String,
    #[serde(default)]
    /// How `payload` is encoded.
    pub codec: Codec,
    /// Each tick's payload, the same every tick.
    pub payload: Box<RawValue>,
    #[serde(default = "crate::envelope::default_max_attempts")]
    /// Attempts each tick's job may use.
    pub max_attempts: u32,
    #[serde(default)]
    /// What to do about ticks missed while no scheduler ran.
    pub catch_up: CatchUp,
    #[serde(default)]
    /// Paused: no ticks are enqueued (`weir cron pause`).
    pub paused: bool,
    /// Ticks at or before this time (ms) are never enqueued: when the
    /// schedule was added, changed or resumed. Set by the broker.
    #[serde(default)]
    pub since: i64,
}

/// A schedule with what the schedulers did with it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleInfo {
    #[serde(flatten)]
    /// The schedule as stored.
    pub schedule: Schedule,
    /// The last tick enqueued (ms since the epoch), and its job's id.
    pub last_run: Option<i64>,
    /// See `last_run`.
    pub last_job_id: Option<String>,
    /// The next tick (ms since the epoch); None when paused.
    pub next_run: Option<i64>,
}

/// The deterministic id of a schedule's tick.
pub fn tick_id(name: &str, tick_ms: i64) -> String {
    format!("cron:{name}:{tick_ms}")
}

fn validate_name(name: &str) -> Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 40 || !name.chars().all(ok) {
        return Err(Error::InvalidSchedule(format!("name {name:?}: use 1-40 characters from [A-Za-z0-9._-]")));
    }
    Ok(())
}

impl Schedule {
    /// A schedule of JSON jobs with the defaults: UTC, catch-up `last`, 25 attempts.
    pub fn new(name: &str, expr: &str, queue: &QueueName, kind: &str, payload: Box<RawValue>) -> Schedule {
        Schedule {
            name: name.to_string(),
            expr: expr.to_string(),
            tz: None,
            queue: queue.to_string(),
            kind: kind.to_string(),
            codec: Codec::Json,
            payload,
            max_attempts: crate::envelope::default_max_attempts(),
            catch_up: CatchUp::Last,
            paused: false,
            since: 0,
        }
    }

    /// Checks everything and compiles the expression in its zone.
    pub fn compile(&self) -> Result<Expr> {
        validate_name(&self.name)?;
        Expr::parse(&self.expr, self.tz.as_deref())
    }

    fn job(&self, id: String) -> Result<NewJob> {
        let mut job = NewJob::json(QueueName::new(&self.queue)?, &self.kind, self.payload.clone());
        job.codec = self.codec;
        job.max_attempts = self.max_attempts;
        job.id = Some(id);
        Ok(job)
    }
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    /// Ids of the jobs this pass enqueued (ticks other schedulers took are not here).
    pub enqueued: Vec<String>,
    /// The earliest next tick of any active schedule (ms since the epoch).
    pub next_at: Option<i64>,
    /// Schedules read (paused ones included).
    pub schedules: usize,
}

impl Broker {
    /// Every schedule, by name, each parsed or with the reason it is damaged.
    pub async fn schedules(&self) -> Result<Vec<(String, Result<Schedule>)>> {
        let all: HashMap<String, String> = self.query(redis::cmd("HGETALL").arg(schedules(self.prefix()))).await?;
        let mut out: Vec<(String, Result<Schedule>)> = all
            .into_iter()
            .map(|(name, json)| {
                let parsed = serde_json::from_str::<Schedule>(&json)
                    .map_err(|e| Error::InvalidSchedule(format!("{name:?} is damaged in Redis: {e}")));
                (name, parsed)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// One schedule by name.
    pub async fn schedule(&self, name: &str) -> Result<Schedule> {
        let json: Option<String> = self.query(redis::cmd("HGET").arg(schedules(self.prefix())).arg(name)).await?;
        let json = json.ok_or_else(|| Error::UnknownSchedule(name.to_string()))?;
        serde_json::from_str(&json).map_err(|e| Error::InvalidSchedule(format!("{name:?} is damaged in Redis: {e}")))
    }

    /// Adds a schedule (or, with `replace`, replaces the one of that name:
    /// the change applies from the next tick). Everything is checked first;
    /// nothing is stored when anything is wrong or the name is taken.
    pub async fn add_schedule(&self, mut schedule: Schedule, replace: bool) -> Result<()> {
        schedule.compile()?;
        let now = self.redis_time_ms().await?;
        self.validate(&schedule.job(tick_id(&schedule.name, now))?)?;
        schedule.since = now;
        let json = serde_json::to_string(&schedule).map_err(|e| Error::Encode(e.to_string()))?;
        let key = schedules(self.prefix());
        if replace {
            self.query::<()>(redis::cmd("HSET").arg(&key).arg(&schedule.name).arg(json)).await?;
        } else {
            let added: i64 = self.query(redis::cmd("HSETNX").arg(&key).arg(&schedule.name).arg(json)).await?;
            if added == 0 {
                return Err(Error::DuplicateSchedule(schedule.name));
            }
        }
        self.register_queues(std::iter::once(&QueueName::new(&schedule.queue)?)).await
    }

    /// Removes a schedule and its claim; its enqueued jobs stay.
    pub async fn remove_schedule(&self, name: &str) -> Result<()> {
        let schedule = self.schedule(name).await;
        let removed: i64 = self.query(redis::cmd("HDEL").arg(schedules(self.prefix())).arg(name)).await?;
        if removed == 0 {
            return Err(Error::UnknownSchedule(name.to_string()));
        }
        if let Ok(s) = schedule
            && let Ok(q) = QueueName::new(&s.queue)
        {
            self.query::<()>(redis::cmd("HDEL").arg(&self.keys(&q).ticks).arg(name)).await?;
        }
        Ok(())
    }

    /// Pauses or resumes a schedule. Ticks while paused are never enqueued,
    /// whatever its catch-up. Returns whether it changed.
    pub async fn pause_schedule(&self, name: &str, paused: bool) -> Result<bool> {
        let mut s = self.schedule(name).await?;
        if s.paused == paused {
            return Ok(false);
        }
        s.paused = paused;
        self.add_schedule(s, true).await?;
        Ok(true)
    }

    /// Enqueues a schedule's job once, now (`weir cron run`), outside its ticks.
    pub async fn run_schedule(&self, name: &str) -> Result<Enqueued> {
        let s = self.schedule(name).await?;
        let now = self.redis_time_ms().await?;
        self.enqueue(s.job(format!("cron:{name}:run-{now}"))?).await
    }

    /// Every schedule with its last and next run.
    pub async fn schedule_infos(&self) -> Result<Vec<(String, Result<ScheduleInfo>)>> {
        let now = self.redis_time_ms().await?;
        let mut out = Vec::new();
        for (name, s) in self.schedules().await? {
            let info = match s {
                Ok(s) => self.schedule_info(s, now).await,
                Err(e) => Err(e),
            };
            out.push((name, info));
        }
        Ok(out)
    }

    async fn schedule_info(&self, schedule: Schedule, now: i64) -> Result<ScheduleInfo> {
        let expr = schedule.compile()?;
        let last = self.last_tick(&schedule).await?;
        let next_run = if schedule.paused { None } else { expr.next_after(now.max(schedule.since)) };
        Ok(ScheduleInfo { last_job_id: last.map(|t| tick_id(&schedule.name, t)), last_run: last, next_run, schedule })
    }

    async fn last_tick(&self, s: &Schedule) -> Result<Option<i64>> {
        let q = QueueName::new(&s.queue)?;
        let last: Option<String> = self.query(redis::cmd("HGET").arg(&self.keys(&q).ticks).arg(&s.name)).await?;
        Ok(last.and_then(|l| l.parse().ok()))
    }

    /// One scheduler pass at `now_ms` (Redis's clock, from
    /// [`Broker::redis_time_ms`]): enqueues every active schedule's due
    /// ticks that no scheduler has enqueued yet. A tick at most 5 s late (or
    /// any, in the first 20 s after the schedule was added, changed or
    /// resumed) is on time; older due ticks were missed, and the schedule's catch-up
    /// says which of them to enqueue. A damaged schedule is logged and skipped.
    pub async fn schedule_pass(&self, now_ms: i64) -> Result<Pass> {
        let mut pass = Pass::default();
        for (name, s) in self.schedules().await? {
            pass.schedules += 1;
            let (s, expr) = match s.and_then(|s| s.compile().map(|e| (s, e))) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(schedule = %name, error = %e, "skipping a damaged schedule");
                    continue;
                }
            };
            if s.paused {
                continue;
            }
            let floor = self.last_tick(&s).await?.unwrap_or(i64::MIN).max(s.since);
            let due = expr.due(floor, now_ms, MAX_CATCH_UP);
            let on_time = |t: &i64| now_ms - t <= ON_TIME_MS || now_ms - s.since <= FRESH_MS;
            let (missed, timely): (Vec<i64>, Vec<i64>) = due.into_iter().partition(|t| !on_time(t));
            let mut ticks: Vec<i64> = match s.catch_up {
                CatchUp::None => Vec::new(),
                CatchUp::Last => missed.last().copied().into_iter().collect(),
                CatchUp::All => missed,
            };
            if s.catch_up == CatchUp::Last && !timely.is_empty() {
                ticks.clear();
            }
            ticks.extend(timely);
            for t in ticks {
                if let Some(id) = self.claim_tick(&s, t, now_ms).await? {
                    pass.enqueued.push(id);
                }
            }
            if let Some(next) = expr.next_after(now_ms) {
                pass.next_at = Some(pass.next_at.map_or(next, |n| n.min(next)));
            }
        }
        Ok(pass)
    }

    /// Enqueues tick `t` of `s` unless it (or a later tick) was enqueued already.
    async fn claim_tick(&self, s: &Schedule, t: i64, now: i64) -> Result<Option<String>> {
        let job = s.job(tick_id(&s.name, t))?;
        let queue = job.queue.clone();
        let id = job.id.clone().unwrap_or_default();
        let env = Envelope {
            id: id.clone(),
            queue: s.queue.clone(),
            kind: job.kind,
            codec: job.codec,
            payload: job.payload,
            max_attempts: job.max_attempts,
            backoff: None,
            timeout_ms: None,
            enqueued_at: now,
            run_at: t,
            unique_key: None,
            rate_key: None,
            traceparent: None,
            tracestate: None,
        };
        let args = vec![
            self.clock_arg(),
            s.name.as_str().into(),
            t.into(),
            id.as_str().into(),
            env.to_json().into(),
            env.max_attempts.into(),
        ];
        let r = self.eval(&self.inner.scripts.tick, &queue, args).await?;
        Ok((reply::int("tick", &r)? == 1).then_some(id))
    }
}
