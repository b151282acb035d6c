//! Running a handler against one job in an app's own unit tests, without
//! Redis or a worker: the job goes through the same encode and decode as in
//! production (its codec, its envelope), and the handler gets the context an
//! attempt would give it.
//!
//! ```
//! # use weir_worker::{JobContext, JobError, testing};
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct SendInvoice { id: u64 }
//! impl weir_client::Job for SendInvoice { const KIND: &'static str = "send_invoice"; }
//!
//! async fn send_invoice(job: SendInvoice, _ctx: JobContext) -> Result<(), JobError> {
//!     if job.id == 0 { return Err(JobError::fatal("no invoice 0")); }
//!     Ok(())
//! }
//!
//! # tokio_test_runtime(async {
//! assert!(testing::run(send_invoice, SendInvoice { id: 7 }).await.is_ok());
//! assert!(testing::run(send_invoice, SendInvoice { id: 0 }).await.is_err());
//! # });
//! # fn tokio_test_runtime(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
use crate::context::JobContext;
use crate::error::JobError;
use crate::handler::{Handler, TypedFn};
use std::future::Future;
use tokio_util::sync::CancellationToken;
use weir_broker::{Envelope, QueueName};
use weir_client::Job;

/// Runs `handler` on `job` as its first attempt.
pub async fn run<J, F, Fut>(handler: F, job: J) -> Result<(), JobError>
where
    J: Job,
    F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    run_attempt(handler, job, 1).await
}

/// Runs `handler` on `job` as attempt `attempt` (1 for the first), e.g. to
/// test what a handler does on its last attempt.
pub async fn run_attempt<J, F, Fut>(handler: F, job: J, attempt: u32) -> Result<(), JobError>
where
    J: Job,
    F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    let envelope = envelope_of(&job)?;
    let queue = QueueName::new(J::QUEUE).map_err(|e| JobError::Fatal(e.to_string()))?;
    let ctx = JobContext::new(&envelope, queue, attempt, J::MAX_ATTEMPTS, CancellationToken::new(), Default::default());
    let typed = TypedFn { f: handler, _job: std::marker::PhantomData::<fn() -> J> };
    typed.call(envelope, ctx).await
}

/// The job as Redis would hold it: encoded with its codec, then parsed back
/// the way a worker parses what it reserves.
fn envelope_of<J: Job>(job: &J) -> Result<Envelope, JobError> {
    let fatal = |e: weir_broker::Error| JobError::Fatal(format!("the job does not encode: {e}"));
    let envelope = Envelope {
        id: weir_broker::enqueue::new_id(),
        queue: J::QUEUE.to_string(),
        kind: J::KIND.to_string(),
        codec: J::CODEC,
        payload: J::CODEC.encode(job).map_err(fatal)?,
        max_attempts: J::MAX_ATTEMPTS,
        backoff: None,
        timeout_ms: None,
        enqueued_at: 0,
        run_at: 0,
        unique_key: None,
        rate_key: None,
        traceparent: None,
        tracestate: None,
    };
    Envelope::parse(&envelope.to_json()).map_err(fatal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Greet {
        name: String,
    }
    impl Job for Greet {
        const KIND: &'static str = "greet";
        const MAX_ATTEMPTS: u32 = 3;
    }

    #[tokio::test]
    async fn runs_a_handler_with_the_attempts_context() {
        let seen = |job: Greet, ctx: JobContext| async move {
            if job.name.is_empty() {
                return Err(JobError::fatal("no name"));
            }
            assert_eq!((ctx.kind.as_str(), ctx.max_attempts), ("greet", 3));
            if ctx.attempt == ctx.max_attempts { Err(JobError::retry("last attempt")) } else { Ok(()) }
        };
        assert!(run(seen, Greet { name: "ada".into() }).await.is_ok());
        assert!(matches!(run(seen, Greet { name: String::new() }).await, Err(JobError::Fatal(_))));
        assert!(matches!(run_attempt(seen, Greet { name: "ada".into() }, 3).await, Err(JobError::Retry(_))));
    }
}
