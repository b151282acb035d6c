//! The dead-job archive in the store: the record of each job that died, its
//! every failed attempt, and the queries behind `weir failed`. The
//! [`Archiver`](crate::Archiver) fills it from Redis.
use crate::error::{Error, Result};
use crate::store::{Store, now_ms, on_pool};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use weir_broker::{AttemptError, Broker, Envelope, JobInfo, JobState, NewJob, QueueName, Unique};

/// A dead job as read from Redis, ready to write: everything Redis held.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadRecord {
    /// The job's id.
    pub id: String,
    /// The queue whose dead set held it.
    pub queue: String,
    /// '' when the envelope is damaged and names no kind.
    pub kind: String,
    /// The envelope exactly as Redis held it.
    pub envelope: String,
    /// The payload as encoded; None when the envelope is damaged.
    pub payload: Option<String>,
    /// How the payload is encoded (`json`, `bincode`); None when the envelope is damaged.
    pub codec: Option<String>,
    /// Attempts it used.
    pub attempts: u32,
    /// Attempts it was allowed; None when the envelope is damaged.
    pub max_attempts: Option<u32>,
    /// Each failed attempt's error, oldest first.
    pub errors: Vec<AttemptError>,
    /// When it was first enqueued (ms since the epoch), when known.
    pub enqueued_at: Option<i64>,
    /// When it died (its score in the dead set, ms since the epoch).
    pub died_at: i64,
}

/// The fields of an envelope that can be read even when the envelope as a
/// whole does not parse.
#[derive(Deserialize)]
struct Loose<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
    #[serde(default)]
    codec: Option<String>,
    #[serde(default)]
    enqueued_at: Option<i64>,
}

impl DeadRecord {
    /// The record of a job Redis holds in its dead set; None for any other state.
    pub fn from_job(queue: &QueueName, id: &str, info: JobInfo) -> Option<DeadRecord> {
        if info.state != Some(JobState::Dead) {
            return None;
        }
        let envelope = info.envelope.unwrap_or_default();
        let loose = serde_json::from_str::<Loose>(&envelope).ok();
        let (kind, payload, codec, enqueued_at) = match loose {
            Some(l) => (
                l.kind.unwrap_or_default(),
                l.payload.map(|p| p.get().to_string()),
                l.codec.or_else(|| l.payload.map(|_| "json".to_string())),
                l.enqueued_at,
            ),
            None => (String::new(), None, None, None),
        };
        Some(DeadRecord {
            id: id.to_string(),
            queue: queue.to_string(),
            kind,
            envelope,
            payload,
            codec,
            attempts: info.attempts,
            max_attempts: info.max_attempts,
            errors: info.errors,
            enqueued_at,
            died_at: info.score.unwrap_or_else(now_ms),
        })
    }
}

/// One archived job, as `weir failed list` and `show` print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeadJob {
    /// The job's id.
    pub id: String,
    /// The queue it died in.
    pub queue: String,
    /// '' when the envelope was damaged.
    pub kind: String,
    /// The raw envelope (only read by [`Store::dead_job`]).
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// The payload as encoded; None when the envelope was damaged.
    pub payload: Option<String>,
    /// How the payload is encoded; None when the envelope was damaged.
    pub codec: Option<String>,
    /// Attempts it used.
    pub attempts: i64,
    /// Attempts it was allowed, when known.
    pub max_attempts: Option<i64>,
    /// The error of its last attempt.
    pub last_error: Option<String>,
    /// When it was first enqueued (ms since the epoch), when known.
    pub enqueued_at: Option<i64>,
    /// When it died (ms since the epoch).
    pub died_at: i64,
    /// When the archiver moved it to the store (ms since the epoch).
    pub archived_at: i64,
    /// When `weir failed retry` last enqueued it again; None: never.
    pub retried_at: Option<i64>,
    /// How many times it was retried from the archive.
    pub retry_count: i64,
}

/// One failed attempt of an archived job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ArchivedError {
    /// The attempt's number, 1 for the first.
    pub attempt: i64,
    /// When it failed (ms since the epoch).
    pub at: i64,
    /// Its error message.
    pub error: String,
}

/// Which archived jobs to list. Defaults: every queue and kind, newest 100.
#[derive(Debug, Clone)]
pub struct DeadFilter {
    /// Only this queue; None: every queue.
    pub queue: Option<String>,
    /// Only this job kind; None: every kind.
    pub kind: Option<String>,
    /// Only jobs that died at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only jobs that died before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Only jobs with this text in the error of any attempt (case ignored).
    pub error: Option<String>,
    /// Most jobs listed, newest first.
    pub limit: u32,
}

impl Default for DeadFilter {
    fn default() -> Self {
        DeadFilter { queue: None, kind: None, since_ms: None, until_ms: None, error: None, limit: 100 }
    }
}

/// What a retry did to one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOutcome {
    /// Enqueued again with its attempts reset.
    Enqueued,
    /// A job with this id (or holding its unique key: `holder`) is still in Redis; nothing was enqueued.
    AlreadyQueued {
        /// The id of the job in Redis that holds it.
        holder: String,
    },
}

/// The counts of a `retry --all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetrySummary {
    /// Jobs enqueued again.
    pub enqueued: u64,
    /// Jobs skipped because one with their id or unique key is still in Redis.
    pub already_queued: u64,
    /// Damaged envelopes: listed and shown, never retried.
    pub not_retryable: u64,
}

const UPSERT: &str = "INSERT INTO weir_dead_jobs \
    (id, queue, kind, envelope, payload, codec, attempts, max_attempts, last_error, enqueued_at, died_at, archived_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
    ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, kind = excluded.kind, envelope = excluded.envelope, \
    payload = excluded.payload, codec = excluded.codec, attempts = excluded.attempts, \
    max_attempts = excluded.max_attempts, last_error = excluded.last_error, enqueued_at = excluded.enqueued_at, \
    died_at = excluded.died_at, archived_at = excluded.archived_at";

const INSERT_ERROR: &str =
    "INSERT INTO weir_dead_job_errors (job_id, at, attempt, error) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// Rows of one bulk step (retry or delete of everything that matches).
pub const BULK_BATCH: usize = 500;

/// The conditions of a [`DeadFilter`] (its `limit` aside), appended to a
/// query that ends in a `WHERE` clause; `retryable` adds "not retried since
/// it died". One place for what "matches" means in the archive.
macro_rules! push_filter {
    ($q:expr, $f:expr, $retryable:expr) => {{
        if $retryable {
            $q.push(" AND (retried_at IS NULL OR retried_at < died_at)");
        }
        if let Some(queue) = &$f.queue {
            $q.push(" AND queue = ").push_bind(queue.clone());
        }
        if let Some(kind) = &$f.kind {
            $q.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(since) = $f.since_ms {
            $q.push(" AND died_at >= ").push_bind(since);
        }
        if let Some(until) = $f.until_ms {
            $q.push(" AND died_at < ").push_bind(until);
        }
        if let Some(text) = &$f.error {
            $q.push(
                " AND EXISTS (SELECT 1 FROM weir_dead_job_errors e WHERE e.job_id = weir_dead_jobs.id \
                 AND LOWER(e.error) LIKE LOWER(",
            )
            .push_bind(like_pattern(text))
            .push(") ESCAPE '\\')");
        }
    }};
}

/// `%text%` for LIKE, with LIKE's own characters escaped (by `\`).
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const DELETE_ERRORS: &str = "DELETE FROM weir_dead_job_errors WHERE job_id = $1";
const DELETE_JOB: &str = "DELETE FROM weir_dead_jobs WHERE id = $1";

const COLUMNS: &str = "id, queue, kind, payload, codec, attempts, max_attempts, last_error, enqueued_at, died_at, \
    archived_at, retried_at, retry_count";

impl Store {
    /// Writes dead jobs to the archive in one transaction. Idempotent on the
    /// job id: writing a record again (after a crash before its removal from
    /// Redis) leaves one record, and each failed attempt once.
    pub async fn archive(&self, records: &[DeadRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let at = now_ms();
        on_pool!(self, p, _Db => {
            let mut tx = p.begin().await?;
            for r in records {
                sqlx::query(UPSERT)
                    .bind(&r.id)
                    .bind(&r.queue)
                    .bind(&r.kind)
                    .bind(&r.envelope)
                    .bind(&r.payload)
                    .bind(&r.codec)
                    .bind(r.attempts as i64)
                    .bind(r.max_attempts.map(i64::from))
                    .bind(r.errors.last().map(|e| e.error.as_str()))
                    .bind(r.enqueued_at)
                    .bind(r.died_at)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                for e in &r.errors {
                    sqlx::query(INSERT_ERROR)
                        .bind(&r.id)
                        .bind(e.at)
                        .bind(e.attempt as i64)
                        .bind(&e.error)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Archived jobs, newest death first.
    pub async fn dead_jobs(&self, f: &DeadFilter) -> Result<Vec<DeadJob>> {
        Ok(on_pool!(self, p, Db => {
            let mut q = sqlx::QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM weir_dead_jobs WHERE 1 = 1"));
            push_filter!(q, f, false);
            q.push(" ORDER BY died_at DESC, id DESC LIMIT ").push_bind(f.limit as i64);
            q.build_query_as::<DeadJob>().fetch_all(p).await?
        }))
    }

    /// One archived job with its raw envelope.
    pub async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>> {
        // Built from constants only (no input): the id is a bind.
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS}, envelope FROM weir_dead_jobs WHERE id = $1"));
        Ok(on_pool!(self, p, _Db => sqlx::query_as::<_, DeadJob>(sql).bind(id).fetch_optional(p).await?))
    }

    /// Every failed attempt of an archived job, oldest first (across retries).
    pub async fn dead_job_errors(&self, id: &str) -> Result<Vec<ArchivedError>> {
        let sql = "SELECT attempt, at, error FROM weir_dead_job_errors WHERE job_id = $1 ORDER BY at, attempt";
        Ok(on_pool!(self, p, _Db => sqlx::query_as::<_, ArchivedError>(sql).bind(id).fetch_all(p).await?))
    }

    /// Archived jobs in all.
    pub async fn dead_count(&self) -> Result<i64> {
        let sql = "SELECT count(*) FROM weir_dead_jobs";
        Ok(on_pool!(self, p, _Db => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?))
    }

    /// Deletes archived jobs that died before `before_ms`. Returns how many.
    pub async fn purge_dead(&self, before_ms: i64) -> Result<u64> {
        let errors =
            "DELETE FROM weir_dead_job_errors WHERE job_id IN (SELECT id FROM weir_dead_jobs WHERE died_at < $1)";
        let jobs = "DELETE FROM weir_dead_jobs WHERE died_at < $1";
        Ok(on_pool!(self, p, _Db => {
            let mut tx = p.begin().await?;
            sqlx::query(errors).bind(before_ms).execute(&mut *tx).await?;
            let n = sqlx::query(jobs).bind(before_ms).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        }))
    }

    /// Deletes one archived job and its errors. Returns whether it was there.
    pub async fn delete_dead(&self, id: &str) -> Result<bool> {
        Ok(self.delete_dead_ids(&[id.to_string()]).await? > 0)
    }

    /// Deletes these archived jobs and their errors in one transaction.
    /// Returns how many were there.
    async fn delete_dead_ids(&self, ids: &[String]) -> Result<u64> {
        Ok(on_pool!(self, p, _Db => {
            let mut tx = p.begin().await?;
            let mut n = 0;
            for id in ids {
                sqlx::query(DELETE_ERRORS).bind(id).execute(&mut *tx).await?;
                n += sqlx::query(DELETE_JOB).bind(id).execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            n
        }))
    }

    /// How many archived jobs match `f` (its `limit` aside); with
    /// `retryable`, only those not retried since they died (what
    /// [`Self::retry_dead_matching`] would enqueue).
    pub async fn dead_count_matching(&self, f: &DeadFilter, retryable: bool) -> Result<u64> {
        let n = on_pool!(self, p, Db => {
            let mut q = sqlx::QueryBuilder::<Db>::new("SELECT count(*) FROM weir_dead_jobs WHERE 1 = 1");
            push_filter!(q, f, retryable);
            q.build_query_scalar::<i64>().fetch_one(p).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The ids of the archived jobs that match, oldest death first, at most `limit`.
    async fn matching_ids(&self, f: &DeadFilter, retryable: bool, limit: Option<usize>) -> Result<Vec<String>> {
        Ok(on_pool!(self, p, Db => {
            let mut q = sqlx::QueryBuilder::<Db>::new("SELECT id FROM weir_dead_jobs WHERE 1 = 1");
            push_filter!(q, f, retryable);
            q.push(" ORDER BY died_at, id");
            if let Some(n) = limit {
                q.push(" LIMIT ").push_bind(i64::try_from(n).unwrap_or(i64::MAX));
            }
            q.build_query_scalar::<String>().fetch_all(p).await?
        }))
    }

    /// Deletes every archived job that matches `f` (its `limit` aside), with
    /// its errors, one transaction per [`BULK_BATCH`] jobs; calls `done` with
    /// the running total after each, so a caller that stops early knows how
    /// many went. Returns how many.
    pub async fn delete_dead_matching(&self, f: &DeadFilter, mut done: impl FnMut(u64)) -> Result<u64> {
        let mut total = 0;
        loop {
            let ids = self.matching_ids(f, false, Some(BULK_BATCH)).await?;
            if ids.is_empty() {
                return Ok(total);
            }
            total += self.delete_dead_ids(&ids).await?;
            done(total);
        }
    }

    async fn mark_retried(&self, ids: &[String], at: i64) -> Result<()> {
        let sql = "UPDATE weir_dead_jobs SET retried_at = $2, retry_count = retry_count + 1 WHERE id = $1";
        on_pool!(self, p, _Db => {
            let mut tx = p.begin().await?;
            for id in ids {
                sqlx::query(sql).bind(id).bind(at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Re-enqueues one archived job under its own id with its attempts reset,
    /// and notes the retry (time and count) on the record, which stays.
    pub async fn retry_dead(&self, broker: &Broker, id: &str) -> Result<RetryOutcome> {
        let job = self.dead_job(id).await?.ok_or_else(|| Error::NotFound(id.to_string()))?;
        let new = new_job(&job)?;
        let r = broker.enqueue(new).await?;
        if !r.created {
            return Ok(RetryOutcome::AlreadyQueued { holder: r.id });
        }
        self.mark_retried(&[job.id], broker.now_ms()).await?;
        Ok(RetryOutcome::Enqueued)
    }

    /// Re-enqueues every archived job that matches (queue and kind; `limit`
    /// is ignored) and has not been retried since it died, in batches.
    pub async fn retry_dead_all(&self, broker: &Broker, filter: &DeadFilter) -> Result<RetrySummary> {
        self.retry_dead_matching(broker, filter, |_| {}).await
    }

    /// [`Self::retry_dead_all`], calling `done` with the running summary
    /// after each batch of [`BULK_BATCH`] jobs, so a caller that stops early
    /// knows how many went (sent again, it goes on with the rest: a retried
    /// job no longer matches).
    pub async fn retry_dead_matching(
        &self,
        broker: &Broker,
        filter: &DeadFilter,
        mut done_so_far: impl FnMut(&RetrySummary),
    ) -> Result<RetrySummary> {
        let mut summary = RetrySummary::default();
        let ids = self.matching_ids(filter, true, None).await?;
        for chunk in ids.chunks(BULK_BATCH) {
            let mut jobs = Vec::with_capacity(chunk.len());
            let mut batch = Vec::with_capacity(chunk.len());
            for id in chunk {
                let Some(job) = self.dead_job(id).await? else { continue };
                match new_job(&job) {
                    Ok(n) => {
                        jobs.push(n);
                        batch.push(job.id);
                    }
                    Err(_) => summary.not_retryable += 1,
                }
            }
            let results = broker.enqueue_many(jobs).await?;
            let mut done = Vec::new();
            for (r, id) in results.into_iter().zip(batch) {
                if r.created {
                    summary.enqueued += 1;
                    done.push(id);
                } else {
                    summary.already_queued += 1;
                }
            }
            self.mark_retried(&done, broker.now_ms()).await?;
            done_so_far(&summary);
        }
        Ok(summary)
    }
}

/// The archived job as a fresh enqueue: same id, queue, kind, payload and
/// options, attempts reset, due now.
fn new_job(job: &DeadJob) -> Result<NewJob> {
    let not_retryable = |reason: String| Error::NotRetryable { id: job.id.clone(), reason };
    let raw = job.envelope.as_deref().unwrap_or("");
    let env = Envelope::parse(raw).map_err(|e| not_retryable(e.to_string()))?;
    let queue = QueueName::new(&env.queue).map_err(|e| not_retryable(e.to_string()))?;
    let mut new = NewJob::json(queue, env.kind.clone(), env.payload.clone());
    new.id = Some(env.id.clone());
    new.codec = env.codec;
    new.max_attempts = env.max_attempts;
    new.backoff = env.backoff.clone();
    new.timeout = env.timeout();
    new.unique = env.unique_key.clone().map(|key| Unique { key, ttl: None });
    new.rate_key = env.rate_key.clone();
    Ok(new)
}
