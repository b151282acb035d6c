//! Reading a queue page by page (the dashboard's queue page): the jobs of one
//! state by rank, with ZRANGE by index and one HMGET of the page's fields, so
//! a page costs the same on a queue of ten jobs or ten million. A kind filter
//! reads a bounded window of ranks ([`MAX_KIND_WINDOW`]) and says how far it
//! got, instead of scanning the whole set.
//!
//! Every command names keys of one queue only (one hash slot).
use crate::admin::{JobState, score};
use crate::broker::Broker;
use crate::error::Result;
use crate::keys::job_field;
use crate::name::QueueName;
use crate::reply;
use redis::Value;
use serde::{Deserialize, Serialize};

/// Most jobs one page lists.
pub const MAX_PAGE_SIZE: usize = 500;
/// Most ranks one kind-filtered read looks at.
pub const MAX_KIND_WINDOW: usize = 5_000;

/// One job as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRow {
    /// The job's id.
    pub id: String,
    /// The score in its state's set (ready, run, lease-deadline or died-at time, ms).
    pub score: i64,
    /// None when the job left the state between the two reads, or its envelope is damaged.
    pub kind: Option<String>,
    /// Attempts used.
    pub attempts: u32,
    /// The newest error's text, if it failed before.
    pub last_error: Option<String>,
}

/// One page of a state's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Jobs in the state now.
    pub total: u64,
    /// Rank of the first job read.
    pub start: u64,
    /// The jobs, in the state's order.
    pub rows: Vec<JobRow>,
    /// With a kind filter: ranks looked at (at most [`MAX_KIND_WINDOW`]).
    pub scanned: Option<u64>,
    /// Rank to read the next page from, when there are more jobs.
    pub next: Option<u64>,
}

#[derive(Deserialize)]
struct KindOnly {
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ErrorText {
    #[serde(default)]
    error: String,
}

impl Broker {
    /// The jobs of `state` at ranks `start..start + count` (oldest first;
    /// `count` at most [`MAX_PAGE_SIZE`]), with the state's size.
    pub async fn page(&self, queue: &QueueName, state: JobState, start: u64, count: usize) -> Result<Page> {
        let count = count.clamp(1, MAX_PAGE_SIZE);
        let (total, ids) = self.ranks(queue, state, start, count).await?;
        let rows = self.rows(queue, ids).await?;
        let end = start.saturating_add(rows.len() as u64);
        Ok(Page { total, start, next: (end < total && !rows.is_empty()).then_some(end), rows, scanned: None })
    }

    /// Up to `count` jobs of `state` whose kind is `kind`, looking at no more
    /// than `window` ranks from `start` (at most [`MAX_KIND_WINDOW`]).
    /// [`Page::scanned`] says how many were looked at; [`Page::next`] is
    /// where to go on.
    pub async fn page_of_kind(
        &self,
        queue: &QueueName,
        state: JobState,
        kind: &str,
        start: u64,
        count: usize,
        window: usize,
    ) -> Result<Page> {
        let count = count.clamp(1, MAX_PAGE_SIZE);
        let window = window.clamp(1, MAX_KIND_WINDOW);
        let (total, ids) = self.ranks(queue, state, start, window).await?;
        let k = self.keys(queue);
        let mut rows = Vec::new();
        let mut looked = 0u64;
        // Envelopes in chunks, stopping at the chunk that fills the page.
        for chunk in ids.chunks(200) {
            let fields: Vec<String> = chunk.iter().map(|(id, _)| job_field('j', id)).collect();
            let envelopes: Vec<Option<String>> = self.query(redis::cmd("HMGET").arg(&k.jobs).arg(&fields)).await?;
            let mut matched = Vec::new();
            for ((id, s), env) in chunk.iter().zip(envelopes) {
                looked += 1;
                if env.as_deref().and_then(kind_of).as_deref() == Some(kind) {
                    matched.push((id.clone(), *s));
                    if rows.len() + matched.len() == count {
                        break;
                    }
                }
            }
            rows.extend(self.rows(queue, matched).await?);
            if rows.len() >= count {
                break;
            }
        }
        let end = start.saturating_add(looked);
        Ok(Page { total, start, rows, scanned: Some(looked), next: (end < total).then_some(end) })
    }

    /// ZCARD and one ZRANGE by rank, in one round trip.
    async fn ranks(
        &self,
        queue: &QueueName,
        state: JobState,
        start: u64,
        n: usize,
    ) -> Result<(u64, Vec<(String, i64)>)> {
        let k = self.keys(queue);
        let set = k.of_state(state);
        let first = i64::try_from(start).unwrap_or(i64::MAX);
        let last = first.saturating_add(i64::try_from(n).unwrap_or(i64::MAX)).saturating_sub(1);
        let mut p = redis::pipe();
        p.cmd("ZCARD").arg(set);
        p.cmd("ZRANGE").arg(set).arg(first).arg(last).arg("WITHSCORES");
        let (total, flat): (u64, Vec<Value>) = self.pipe(&p).await?;
        let mut ids = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(id), Some(s)) = (it.next(), it.next()) {
            ids.push((reply::string("page", id)?, score(&s)?));
        }
        Ok((total, ids))
    }

    /// The listing fields of these jobs, in one HMGET.
    async fn rows(&self, queue: &QueueName, ids: Vec<(String, i64)>) -> Result<Vec<JobRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let k = self.keys(queue);
        let mut fields = Vec::with_capacity(ids.len() * 3);
        for (id, _) in &ids {
            fields.extend([job_field('j', id), job_field('a', id), job_field('e', id)]);
        }
        let values: Vec<Option<String>> = self.query(redis::cmd("HMGET").arg(&k.jobs).arg(&fields)).await?;
        let mut values = values.into_iter();
        let mut out = Vec::with_capacity(ids.len());
        for (id, score) in ids {
            let (env, attempts, errors) = (values.next().flatten(), values.next().flatten(), values.next().flatten());
            let last_error = errors
                .and_then(|e| serde_json::from_str::<Vec<ErrorText>>(&e).ok())
                .and_then(|mut v| v.pop())
                .map(|e| e.error);
            out.push(JobRow {
                id,
                score,
                kind: env.as_deref().and_then(kind_of),
                attempts: attempts.and_then(|a| a.parse().ok()).unwrap_or(0),
                last_error,
            });
        }
        Ok(out)
    }
}

/// The kind named by an envelope, read without parsing the rest (a damaged
/// envelope may still name one).
fn kind_of(envelope: &str) -> Option<String> {
    serde_json::from_str::<KindOnly>(envelope).ok().and_then(|k| k.kind).filter(|k| !k.is_empty())
}
