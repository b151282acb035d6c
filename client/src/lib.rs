#![warn(missing_docs)]
//! # weir-client
//!
//! What an application uses to enqueue jobs.
//!
//! # Layout
//! - [`Job`]: a typed job and its defaults (`job.rs`).
//! - [`Options`]: per-enqueue overrides (`options.rs`).
//! - [`Client`]: connect, enqueue, and follow a job (status, wait, cancel) (this file).
//! - [`trace`]: the producer span of an enqueue and the trace context it
//!   writes into the envelope (feature `otel`; without it, nothing).
mod job;
mod options;
pub mod trace;

pub use job::Job;
pub use options::Options;
pub use weir_broker::{
    Backoff, BrokerConfig, Cancel, Codec, Enqueued, Error, JobState, JobStatus, JobWorker, Progress, QueueName, Result,
};

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weir_broker::{Broker, NewJob};

/// Enqueues jobs. Cheap to clone; clones share one connection.
#[derive(Debug, Clone)]
pub struct Client {
    broker: Broker,
}

impl Client {
    /// Connects with default settings (key prefix `weir`).
    pub async fn connect(url: &str) -> Result<Client> {
        Self::connect_with(url, BrokerConfig::default()).await
    }

    /// Connects with explicit settings, such as a key prefix.
    pub async fn connect_with(url: &str, config: BrokerConfig) -> Result<Client> {
        Ok(Client { broker: Broker::connect(url, config).await? })
    }

    /// Wraps a broker already connected (a worker's, or one built with
    /// its own settings), so enqueueing shares its connection.
    pub fn from_broker(broker: Broker) -> Client {
        Client { broker }
    }

    /// The broker underneath, for workers and administration.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Encodes a typed job into a broker job; options past their bounds
    /// (`weir_broker::bounds`) are refused here.
    pub fn prepare<J: Job>(job: &J, options: Options) -> Result<NewJob> {
        let codec = options.codec.unwrap_or(J::CODEC);
        let job = NewJob {
            id: options.id,
            queue: QueueName::new(options.queue.as_deref().unwrap_or(J::QUEUE))?,
            kind: J::KIND.to_string(),
            codec,
            payload: codec.encode(job)?,
            max_attempts: options.max_attempts.unwrap_or(J::MAX_ATTEMPTS),
            backoff: options.backoff.or_else(J::backoff),
            timeout: options.timeout.or_else(J::timeout),
            run_at: options.run_at,
            unique: options.unique,
            rate_key: options.rate_key,
            traceparent: None,
            tracestate: None,
        };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, weir_broker::bounds::millis_i64);
        weir_broker::bounds::job(&job, now_ms)?;
        Ok(job)
    }

    /// Enqueues a job with its type's defaults.
    pub async fn enqueue<J: Job>(&self, job: J) -> Result<Enqueued> {
        self.enqueue_with(job, Options::new()).await
    }

    /// Enqueues a job with per-call overrides of its type's defaults
    /// (queue, delay, attempts, id, uniqueness: [`Options`]).
    pub async fn enqueue_with<J: Job>(&self, job: J, options: Options) -> Result<Enqueued> {
        self.enqueue_prepared(Self::prepare(&job, options)?).await
    }

    /// Enqueues a job built by [`prepare`](Self::prepare) or by hand (as
    /// `weir enqueue` does), with its producer span (feature `otel`).
    pub async fn enqueue_prepared(&self, mut job: NewJob) -> Result<Enqueued> {
        let span = trace::producer(&mut job);
        let r = trace::instrument(&span, self.broker.enqueue(job)).await;
        trace::sent(&span, r.as_ref());
        r
    }

    /// Enqueues prepared jobs in one round trip (see
    /// [`enqueue_many`](Self::enqueue_many)), each with its producer span.
    pub async fn enqueue_many_prepared(&self, mut jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let spans: Vec<trace::Producer> = jobs.iter_mut().map(trace::producer).collect();
        let r = self.broker.enqueue_many(jobs).await;
        match &r {
            Ok(out) => spans.iter().zip(out).for_each(|(s, e)| trace::sent(s, Ok(e))),
            Err(e) => spans.iter().for_each(|s| trace::sent(s, Err(e))),
        }
        r
    }

    /// Enqueues many jobs in one round trip. Nothing is enqueued if any job is
    /// invalid. Results are in input order.
    pub async fn enqueue_many<J: Job>(&self, jobs: impl IntoIterator<Item = J>) -> Result<Vec<Enqueued>> {
        self.enqueue_many_with(jobs.into_iter().map(|j| (j, Options::new()))).await
    }

    /// [`Client::enqueue_many`] with options per job: one round trip,
    /// nothing enqueued if any job or its options is invalid.
    pub async fn enqueue_many_with<J: Job>(
        &self,
        jobs: impl IntoIterator<Item = (J, Options)>,
    ) -> Result<Vec<Enqueued>> {
        let prepared = jobs.into_iter().map(|(j, o)| Self::prepare(&j, o)).collect::<Result<Vec<_>>>()?;
        self.enqueue_many_prepared(prepared).await
    }

    /// Adds a periodic job (docs/CRON.md): `job` enqueued into its type's
    /// queue at every tick of `expr` (5 or 6 cron fields, an `@alias` or
    /// `@every D`), in UTC, catching up the last missed tick after a
    /// downtime. An invalid expression, a name taken or outside
    /// `[A-Za-z0-9._-]{1,40}` is an error and nothing is stored. For a zone,
    /// another catch-up or a replace, build a `weir_broker::Schedule` and call
    /// `broker().add_schedule`.
    pub async fn schedule<J: Job>(&self, name: &str, expr: &str, job: J) -> Result<()> {
        let j = Self::prepare(&job, Options::new())?;
        let mut s = weir_broker::Schedule::new(name, expr, &j.queue, &j.kind, j.payload);
        s.codec = j.codec;
        s.max_attempts = j.max_attempts;
        self.broker.add_schedule(s, false).await
    }

    /// What became of job `id`: its state (pending, delayed, active, dead,
    /// done, or unknown: `state` None), attempts, errors, times, progress and
    /// result. A done job is known for `BrokerConfig::keep_done` after its ack.
    pub async fn status(&self, id: &str) -> Result<JobStatus> {
        self.broker.status(id).await
    }

    /// Cancels job `id`: a pending or delayed job is removed at once (its
    /// unique key freed); a running one is stopped by its worker (a Rust
    /// handler's `ctx.cancelled()` fires, an `--exec` command's process group
    /// gets SIGTERM, then SIGKILL) and ends dead with the error "cancelled",
    /// never retried on its own (`weir dead retry` brings it back). A done,
    /// dead or unknown job is left as it is; [`Cancel`] says which.
    pub async fn cancel(&self, id: &str) -> Result<Cancel> {
        self.broker.cancel(id).await
    }

    /// Waits until job `id` is finished (done, dead or cancelled, or
    /// unknown) and returns its status; after `timeout`, returns the status
    /// it has then (check [`JobStatus::is_finished`]). Reads the status at
    /// most every 250 ms (sooner at first: 10 ms, doubling).
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<JobStatus> {
        let until = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let status = self.status(id).await?;
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if status.is_finished() || left.is_zero() {
                return Ok(status);
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Ping;
    impl Job for Ping {
        const KIND: &'static str = "ping";
    }

    #[test]
    fn options_past_their_bounds_are_refused_naming_the_field() {
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        for (options, field) in [
            (Options::new().timeout(Duration::MAX), "timeout"),
            (Options::new().delay(Duration::MAX), "delay"),
            (Options::new().at(far), "run_at"),
            (Options::new().max_attempts(u32::MAX), "max_attempts"),
        ] {
            let err = Client::prepare(&Ping, options).unwrap_err().to_string();
            assert!(err.contains(field) && err.contains("over the limit"), "{field}: {err}");
        }
        let ok = Options::new().timeout(Duration::from_secs(60)).delay(Duration::from_secs(3600)).max_attempts(3);
        assert!(Client::prepare(&Ping, ok).is_ok());
    }
}
