//! Transactional enqueue (the outbox): [`EnqueueTx::enqueue_tx`] inserts a
//! job into `weir_outbox` inside the app's own sqlx transaction, so the job
//! exists exactly when the transaction commits. The [`Relay`](crate::Relay)
//! moves committed rows to Redis.
use crate::error::{Error, Result};
use crate::store::{Store, on_pool};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::{Postgres, Sqlite, Transaction};
use std::future::Future;
use std::time::Duration;
use weir_broker::{Backoff, Codec, NewJob, QueueName, RunAt, Unique};
use weir_client::trace::ProducerSpan;
use weir_client::{Client, Job, Options};

/// A job as the outbox's `job` column holds it (JSON). Other languages may
/// insert rows in this form; docs/STORE.md lists the fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxJob {
    /// The job's id, chosen at insert so the app can follow it.
    pub id: String,
    /// The queue it goes to.
    pub queue: String,
    /// Its kind, which picks the handler.
    pub kind: String,
    #[serde(default)]
    /// How `payload` is encoded (`json` by default).
    pub codec: Codec,
    /// The payload, as the encoded job (JSON).
    pub payload: Box<RawValue>,
    #[serde(default = "weir_broker::envelope::default_max_attempts")]
    /// Attempts it may use (default 25 as for a Rust enqueue).
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its retry schedule; None: the worker's.
    pub backoff: Option<Backoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Time limit per attempt, ms; None: the worker's.
    pub timeout_ms: Option<u64>,
    /// When the job may first run (ms since the epoch); None: as soon as relayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its unique key ([`Options::unique`]); None: not unique.
    pub unique_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// How long the unique key holds, ms; None: the broker's default.
    pub unique_ttl_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its rate key ([`Options::rate_key`]); None: none.
    pub rate_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// W3C `traceparent` of the enqueue (its producer span, feature `otel`),
    /// carried into the envelope by the relay so the job's consumer span
    /// joins the app's trace; None: no trace.
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// W3C `tracestate` that goes with `traceparent`.
    pub tracestate: Option<String>,
}

use weir_broker::bounds::millis_u64;
use weir_broker::enqueue::new_id;

impl OutboxJob {
    /// Fixes the job's id (a new ULID unless it has one) and run time.
    pub fn from_new(job: NewJob, now_ms: i64) -> OutboxJob {
        let run_at_ms = job.run_at.at_ms(now_ms);
        OutboxJob {
            id: job.id.unwrap_or_else(new_id),
            queue: job.queue.to_string(),
            kind: job.kind,
            codec: job.codec,
            payload: job.payload,
            max_attempts: job.max_attempts,
            backoff: job.backoff,
            timeout_ms: job.timeout.map(millis_u64),
            run_at_ms,
            unique_ttl_ms: job.unique.as_ref().and_then(|u| u.ttl).map(millis_u64),
            unique_key: job.unique.map(|u| u.key),
            rate_key: job.rate_key,
            traceparent: job.traceparent,
            tracestate: job.tracestate,
        }
    }

    /// The broker enqueue that relays this job, under its own id.
    pub fn into_new(self) -> weir_broker::Result<NewJob> {
        let mut job = NewJob::json(QueueName::new(self.queue)?, self.kind, self.payload);
        job.id = Some(self.id);
        job.codec = self.codec;
        job.max_attempts = self.max_attempts;
        job.backoff = self.backoff;
        job.timeout = self.timeout_ms.map(Duration::from_millis);
        job.run_at = self.run_at_ms.map(RunAt::AtMs).unwrap_or(RunAt::Now);
        job.unique = self.unique_key.map(|key| Unique { key, ttl: self.unique_ttl_ms.map(Duration::from_millis) });
        job.rate_key = self.rate_key;
        job.traceparent = self.traceparent;
        job.tracestate = self.tracestate;
        Ok(job)
    }
}

const INSERT: &str = "INSERT INTO weir_outbox (id, queue, job, created_at) VALUES ($1, $2, $3, $4)";

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Postgres {}
    impl Sealed for sqlx::Sqlite {}
}

/// A database whose transactions can take outbox rows: PostgreSQL and SQLite.
pub trait OutboxDatabase: sqlx::Database + sealed::Sealed {
    #[doc(hidden)]
    fn insert_outbox<'c>(
        conn: &'c mut Self::Connection,
        job: &'c OutboxJob,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send + 'c;
}

macro_rules! outbox_database {
    ($db:ty) => {
        impl OutboxDatabase for $db {
            fn insert_outbox<'c>(
                conn: &'c mut Self::Connection,
                job: &'c OutboxJob,
                now_ms: i64,
            ) -> impl Future<Output = Result<()>> + Send + 'c {
                async move {
                    let json = serde_json::to_string(job).expect("an outbox job always serializes");
                    sqlx::query(INSERT).bind(&job.id).bind(&job.queue).bind(json).bind(now_ms).execute(conn).await?;
                    Ok(())
                }
            }
        }
    };
}
outbox_database!(Postgres);
outbox_database!(Sqlite);

/// Enqueue inside the app's own sqlx transaction (PostgreSQL or SQLite,
/// sqlx 0.9): the job reaches Redis, through the relay, only if the
/// transaction commits. The database needs weir's schema (`weir migrate`).
///
/// ```no_run
/// # use weir_store::EnqueueTx;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct SendInvoice { id: u64 }
/// # impl weir_client::Job for SendInvoice { const KIND: &'static str = "send_invoice"; }
/// # async fn demo(client: weir_client::Client, pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = pool.begin().await?;
/// // ... the app's own writes ...
/// let id = client.enqueue_tx(&mut tx, SendInvoice { id: 7 }).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub trait EnqueueTx {
    /// Inserts a typed job with its type's defaults. Returns the job's id.
    fn enqueue_tx<'a, DB: OutboxDatabase, J: Job>(
        &'a self,
        tx: &'a mut Transaction<'_, DB>,
        job: J,
    ) -> impl Future<Output = Result<String>> + Send + 'a {
        self.enqueue_tx_with(tx, job, Options::new())
    }

    /// Inserts a typed job with per-enqueue options.
    fn enqueue_tx_with<'a, DB: OutboxDatabase, J: Job>(
        &'a self,
        tx: &'a mut Transaction<'_, DB>,
        job: J,
        options: Options,
    ) -> impl Future<Output = Result<String>> + Send + 'a;

    /// Inserts a broker job as is (validated first, as enqueue would).
    fn enqueue_new_tx<'a, DB: OutboxDatabase>(
        &'a self,
        tx: &'a mut Transaction<'_, DB>,
        job: NewJob,
    ) -> impl Future<Output = Result<String>> + Send + 'a;
}

impl EnqueueTx for Client {
    fn enqueue_tx_with<'a, DB: OutboxDatabase, J: Job>(
        &'a self,
        tx: &'a mut Transaction<'_, DB>,
        job: J,
        options: Options,
    ) -> impl Future<Output = Result<String>> + Send + 'a {
        let prepared = Client::prepare(&job, options);
        async move { self.enqueue_new_tx(tx, prepared?).await }
    }

    async fn enqueue_new_tx<'a, DB: OutboxDatabase>(
        &'a self,
        tx: &'a mut Transaction<'_, DB>,
        mut job: NewJob,
    ) -> Result<String> {
        // The producer span is the app's enqueue, as for a direct one: the
        // relay only carries its trace context on.
        let span = ProducerSpan::start(&mut job);
        self.broker().validate(&job)?;
        let now = self.broker().now_ms();
        let row = OutboxJob::from_new(job, now);
        DB::insert_outbox(&mut **tx, &row, now).await?;
        span.stored(&row.id);
        Ok(row.id)
    }
}

/// One committed outbox row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    /// The row's order: the relay sends rows in `seq` order.
    pub seq: i64,
    /// The job's id (the relay's dedup key).
    pub id: String,
    /// The job's queue.
    pub queue: String,
    /// The job, as an [`OutboxJob`] in JSON.
    pub job: String,
}

impl OutboxRow {
    /// Reads the `job` column; a row that does not parse is
    /// [`Error::InvalidOutboxRow`], never skipped silently.
    pub fn parse(&self) -> Result<OutboxJob> {
        serde_json::from_str(&self.job).map_err(|e| Error::InvalidOutboxRow { seq: self.seq, reason: e.to_string() })
    }
}

impl Store {
    /// Up to `limit` committed outbox rows, in `seq` order.
    pub async fn outbox_fetch(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let sql = "SELECT seq, id, queue, job FROM weir_outbox ORDER BY seq LIMIT $1";
        Ok(on_pool!(self, p, _Db => sqlx::query_as::<_, OutboxRow>(sql).bind(limit as i64).fetch_all(p).await?))
    }

    /// Deletes exactly these rows (never by range: a row with a lower seq may
    /// commit later). Returns how many were still there.
    pub async fn outbox_delete(&self, seqs: &[i64]) -> Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        Ok(on_pool!(self, p, Db => {
            let mut q = sqlx::QueryBuilder::<Db>::new("DELETE FROM weir_outbox WHERE seq IN (");
            let mut list = q.separated(", ");
            for s in seqs {
                list.push_bind(*s);
            }
            q.push(")");
            q.build().execute(p).await?.rows_affected()
        }))
    }

    /// Rows waiting in the outbox.
    pub async fn outbox_len(&self) -> Result<i64> {
        let sql = "SELECT count(*) FROM weir_outbox";
        Ok(on_pool!(self, p, _Db => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?))
    }
}
