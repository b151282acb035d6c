//! Handlers, type-erased so one worker serves many job kinds.
use crate::context::JobContext;
use crate::error::JobError;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use weir_broker::Envelope;

/// A handler for one job kind, taking the raw envelope.
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt; the error says what happens next ([`JobError`]).
    fn call(&self, envelope: Envelope, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>>;
}

/// A handler from a closure over the raw envelope.
pub(crate) struct RawFn<F>(pub F);

impl<F, Fut> Handler for RawFn<F>
where
    F: Fn(Envelope, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn call(&self, envelope: Envelope, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        Box::pin((self.0)(envelope, ctx))
    }
}

/// A handler of a typed job: decodes the payload with the job's codec first.
/// A payload that does not decode is not retried (it never will decode).
pub(crate) struct TypedFn<J, F> {
    pub f: F,
    pub _job: std::marker::PhantomData<fn() -> J>,
}

impl<J, F, Fut> Handler for TypedFn<J, F>
where
    J: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn call(&self, envelope: Envelope, ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        match envelope.decode::<J>() {
            Ok(job) => Box::pin((self.f)(job, ctx)),
            Err(e) => Box::pin(std::future::ready(Err(JobError::Fatal(e.to_string())))),
        }
    }
}

pub(crate) type SharedHandler = Arc<dyn Handler>;
