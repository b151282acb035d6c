//! The dead set of each queue in Redis (`P:{Q}:dead`): list a page with
//! filters, count, show one, retry and delete, by ids or by filter.
//!
//! Every call works on one queue (one hash slot, so it runs unchanged on
//! Redis Cluster) and does bounded work: a page scans at most
//! [`MAX_DEAD_BATCH`] entries of the set and a retry or delete script takes
//! at most that many ids. Work on more (`retry_dead_matching`, a long id
//! list) is split into calls of that size, each of which reports what it did.
//! Pages go newest death first and continue from a [`DeadCursor`], which
//! stays valid while jobs are retried, deleted or die meanwhile.
use crate::admin::{JobData, data_fields, score};
use crate::bounds::MAX_DEAD_BATCH;
use crate::broker::{Arg, Broker};
use crate::envelope::AttemptError;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::reply;
use redis::Value;
use serde::{Deserialize, Serialize};

/// Which dead jobs a call is about. Every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// The job's kind, exactly. A damaged envelope has no kind and never matches.
    pub kind: Option<String>,
    /// Text found in the error of any failed attempt, ignoring case.
    pub error: Option<String>,
    /// Died at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Died before this time (ms since the epoch).
    pub until_ms: Option<i64>,
}

impl DeadFilter {
    /// Whether only the time range is set: then Redis counts without reading any job.
    fn by_time_only(&self) -> bool {
        self.kind.is_none() && self.error.is_none()
    }

    fn matches(&self, job: &DeadJob) -> bool {
        if let Some(kind) = &self.kind
            && job.kind.as_deref() != Some(kind.as_str())
        {
            return false;
        }
        if let Some(text) = &self.error {
            let text = text.to_lowercase();
            if !job.errors.iter().any(|e| e.error.to_lowercase().contains(&text)) {
                return false;
            }
        }
        true
    }
}

/// One dead job, as Redis holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadJob {
    /// The job's id.
    pub id: String,
    /// The queue whose dead set holds it.
    pub queue: String,
    /// When it died (ms since the epoch, by Redis's clock): its score in the dead set.
    pub died_at_ms: i64,
    /// The kind its envelope names; None when the envelope is damaged or missing.
    pub kind: Option<String>,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts it was allowed; None when the envelope is damaged.
    pub max_attempts: Option<u32>,
    /// Every failed attempt, oldest first.
    pub errors: Vec<AttemptError>,
    /// The raw envelope (it may be damaged, so it is not parsed); None when
    /// its data is gone.
    pub envelope: Option<String>,
}

impl DeadJob {
    /// The error of its last failed attempt.
    pub fn last_error(&self) -> Option<&str> {
        self.errors.last().map(|e| e.error.as_str())
    }

    /// Where a page that ends with this job goes on.
    pub fn cursor(&self) -> DeadCursor {
        DeadCursor { died_at_ms: self.died_at_ms, id: self.id.clone() }
    }
}

/// A place in a queue's dead set, newest first: the next page starts with
/// the job that died just before this one. Its text form (`<ms>-<id>`, see
/// [`DeadCursor::parse`]) fits in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadCursor {
    /// When the job died (ms since the epoch).
    pub died_at_ms: i64,
    /// The job's id (breaks ties between jobs that died in the same ms).
    pub id: String,
}

impl DeadCursor {
    /// Reads the form [`Display`](std::fmt::Display) writes: `<died at ms>-<id>`.
    pub fn parse(s: &str) -> Result<DeadCursor> {
        let bad = || Error::InvalidCursor(s.to_string());
        let (ms, id) = s.split_once('-').ok_or_else(bad)?;
        let died_at_ms = ms.parse().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(DeadCursor { died_at_ms, id: id.to_string() })
    }

    /// Whether an entry (newest first) comes after this place.
    fn is_before(&self, died_at_ms: i64, id: &str) -> bool {
        died_at_ms < self.died_at_ms || (died_at_ms == self.died_at_ms && id < self.id.as_str())
    }
}

impl std::fmt::Display for DeadCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.died_at_ms, self.id)
    }
}

/// One page of a queue's dead set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeadPage {
    /// The matching jobs, newest death first.
    pub jobs: Vec<DeadJob>,
    /// Where to go on; None when the set holds nothing further. A page can be
    /// short (even empty) and still have a `next`: it stopped after scanning
    /// [`MAX_DEAD_BATCH`] entries.
    pub next: Option<DeadCursor>,
    /// Entries of the set this page looked at.
    pub scanned: usize,
}

/// Entries read per round trip while scanning.
const CHUNK: usize = 200;

impl Broker {
    /// Up to `limit` (at most [`MAX_DEAD_BATCH`]) dead jobs of `queue` that
    /// match `filter`, newest death first, starting after `after` (None:
    /// from the newest). Scans at most [`MAX_DEAD_BATCH`] entries.
    pub async fn dead_page(
        &self,
        queue: &QueueName,
        filter: &DeadFilter,
        after: Option<&DeadCursor>,
        limit: usize,
    ) -> Result<DeadPage> {
        let limit = limit.clamp(1, MAX_DEAD_BATCH);
        let k = self.keys(queue);
        // Newest first: from the cursor's time (or the range's end) down to the range's start.
        let max = match (after, filter.until_ms) {
            (Some(c), Some(u)) => (c.died_at_ms.min(u.saturating_sub(1))).to_string(),
            (Some(c), None) => c.died_at_ms.to_string(),
            (None, Some(u)) => format!("({u}"),
            (None, None) => "+inf".to_string(),
        };
        let min = filter.since_ms.map_or("-inf".to_string(), |s| s.to_string());
        let mut page = DeadPage::default();
        let mut offset = 0usize;
        loop {
            let want = CHUNK.min(MAX_DEAD_BATCH - page.scanned);
            let entries = self.dead_entries(&k.dead, &max, &min, offset, want).await?;
            let full = entries.len() == want;
            offset += entries.len();
            let entries: Vec<(String, i64)> =
                entries.into_iter().filter(|(id, at)| after.is_none_or(|c| c.is_before(*at, id))).collect();
            let jobs = self.dead_data(queue, &k.jobs, entries).await?;
            for job in jobs {
                page.scanned += 1;
                let last = job.cursor();
                if filter.matches(&job) {
                    page.jobs.push(job);
                }
                if page.jobs.len() == limit {
                    page.next = Some(last);
                    return Ok(page);
                }
                page.next = Some(last);
            }
            if !full {
                page.next = None;
                return Ok(page);
            }
            // Entries skipped as ties of the cursor's time are not counted:
            // there are at most as many as one script buried in one ms.
            if page.scanned >= MAX_DEAD_BATCH {
                return Ok(page);
            }
        }
    }

    /// `(id, died at)` pairs of the dead set, newest first, between the bounds.
    async fn dead_entries(
        &self,
        dead: &str,
        max: &str,
        min: &str,
        offset: usize,
        count: usize,
    ) -> Result<Vec<(String, i64)>> {
        let v: Value = self
            .query(
                redis::cmd("ZRANGE")
                    .arg(dead)
                    .arg(max)
                    .arg(min)
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(offset)
                    .arg(count)
                    .arg("WITHSCORES"),
            )
            .await?;
        let items = reply::array("dead_page", v)?;
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let Some(id) = it.next() {
            // RESP3 returns [member, score] pairs; RESP2 a flat list.
            let (id, at) = match id {
                Value::Array(pair) if pair.len() == 2 => {
                    let mut p = pair.into_iter();
                    (p.next().unwrap_or(Value::Nil), p.next().unwrap_or(Value::Nil))
                }
                id => (id, it.next().unwrap_or(Value::Nil)),
            };
            // An id that is not UTF-8 (written by another language) is shown lossily.
            let id = String::from_utf8_lossy(&reply::bytes("dead_page", id)?).into_owned();
            out.push((id, score(&at)?));
        }
        Ok(out)
    }

    /// The data of dead entries, read in one round trip.
    async fn dead_data(&self, queue: &QueueName, jobs: &str, entries: Vec<(String, i64)>) -> Result<Vec<DeadJob>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for (id, _) in &entries {
            p.cmd("HMGET").arg(jobs).arg(&data_fields(id));
        }
        let r: Vec<Value> = self.pipe(&p).await?;
        entries
            .into_iter()
            .zip(r.into_iter().chain(std::iter::repeat(Value::Nil)))
            .map(|((id, died_at_ms), v)| {
                let data = JobData::parse("dead_page", v)?;
                Ok(DeadJob {
                    kind: data.envelope.as_deref().and_then(crate::envelope::loose_kind),
                    id,
                    queue: queue.to_string(),
                    died_at_ms,
                    attempts: data.attempts.unwrap_or(0),
                    max_attempts: data.max_attempts,
                    errors: data.errors,
                    envelope: data.envelope,
                })
            })
            .collect()
    }

    /// How many dead jobs of `queue` match `filter`. A time range alone is
    /// one `ZCOUNT`; a kind or error filter reads the jobs, page by page.
    pub async fn dead_count(&self, queue: &QueueName, filter: &DeadFilter) -> Result<u64> {
        if filter.by_time_only() {
            let min = filter.since_ms.map_or("-inf".to_string(), |s| s.to_string());
            let max = filter.until_ms.map_or("+inf".to_string(), |u| format!("({u}"));
            let n: i64 = self.query(redis::cmd("ZCOUNT").arg(&self.keys(queue).dead).arg(min).arg(max)).await?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let mut n = 0u64;
        let mut cursor = None;
        loop {
            let page = self.dead_page(queue, filter, cursor.as_ref(), MAX_DEAD_BATCH).await?;
            n += page.jobs.len() as u64;
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(n),
            }
        }
    }

    /// One dead job of `queue`; None when `id` is not in its dead set.
    pub async fn dead_job(&self, queue: &QueueName, id: &str) -> Result<Option<DeadJob>> {
        let k = self.keys(queue);
        let at: Value = self.query(redis::cmd("ZSCORE").arg(&k.dead).arg(id)).await?;
        if at == Value::Nil {
            return Ok(None);
        }
        let mut jobs = self.dead_data(queue, &k.jobs, vec![(id.to_string(), score(&at)?)]).await?;
        Ok(jobs.pop())
    }

    /// Moves these dead jobs of `queue` back to pending, attempts reset (their
    /// earlier errors are kept); ids not in its dead set are skipped. Calls
    /// `done` with the running total after each script call (of at most
    /// [`MAX_DEAD_BATCH`] ids). Returns how many moved.
    pub async fn retry_dead(&self, queue: &QueueName, ids: &[String], done: impl FnMut(u64)) -> Result<u64> {
        let clock = self.clock_arg();
        self.dead_batches(&self.inner.scripts.dead_retry, queue, ids, || vec![clock.clone()], done).await
    }

    /// Deletes these dead jobs of `queue` with their data; ids not in its dead
    /// set (a job in any other state) are skipped. Reports and returns as
    /// [`Broker::retry_dead`] does.
    pub async fn delete_dead(&self, queue: &QueueName, ids: &[String], done: impl FnMut(u64)) -> Result<u64> {
        self.dead_batches(&self.inner.scripts.dead_delete, queue, ids, Vec::new, done).await
    }

    async fn dead_batches(
        &self,
        op: &crate::scripts::Op,
        queue: &QueueName,
        ids: &[String],
        lead: impl Fn() -> Vec<Arg>,
        mut done: impl FnMut(u64),
    ) -> Result<u64> {
        let mut total = 0u64;
        for chunk in ids.chunks(MAX_DEAD_BATCH) {
            let mut args = lead();
            args.extend(chunk.iter().map(|id| Arg::from(id.as_str())));
            let r = self.eval(op, queue, args).await?;
            total += u64::try_from(reply::int(op.name, &r)?).unwrap_or(0);
            done(total);
        }
        Ok(total)
    }

    /// Retries every dead job of `queue` that matches `filter`, a page of
    /// [`MAX_DEAD_BATCH`] at a time (jobs that die meanwhile, newer than the
    /// first page, are left). Calls `done` with the running total after each
    /// batch. Returns how many moved to pending.
    pub async fn retry_dead_matching(
        &self,
        queue: &QueueName,
        filter: &DeadFilter,
        done: impl FnMut(u64),
    ) -> Result<u64> {
        let clock = self.clock_arg();
        self.dead_matching(&self.inner.scripts.dead_retry, queue, filter, || vec![clock.clone()], done).await
    }

    /// Deletes every dead job of `queue` that matches `filter`, as
    /// [`Broker::retry_dead_matching`] retries them.
    pub async fn delete_dead_matching(
        &self,
        queue: &QueueName,
        filter: &DeadFilter,
        done: impl FnMut(u64),
    ) -> Result<u64> {
        self.dead_matching(&self.inner.scripts.dead_delete, queue, filter, Vec::new, done).await
    }

    async fn dead_matching(
        &self,
        op: &crate::scripts::Op,
        queue: &QueueName,
        filter: &DeadFilter,
        lead: impl Fn() -> Vec<Arg>,
        mut done: impl FnMut(u64),
    ) -> Result<u64> {
        let mut total = 0u64;
        let mut cursor = None;
        loop {
            let page = self.dead_page(queue, filter, cursor.as_ref(), MAX_DEAD_BATCH).await?;
            if !page.jobs.is_empty() {
                let ids: Vec<String> = page.jobs.into_iter().map(|j| j.id).collect();
                total += self.dead_batches(op, queue, &ids, &lead, |_| {}).await?;
                done(total);
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(total),
            }
        }
    }
}
