//! Traces (feature `otel`; docs/OBSERVABILITY.md "Traces"): the producer span
//! of an enqueue and the W3C trace context (`traceparent`, `tracestate`) it
//! writes into the envelope, and `extract` (with the feature), which the worker uses to read
//! it back. Spans are `tracing` spans: they reach OpenTelemetry through the
//! app's `tracing-opentelemetry` layer. Without that layer (or without the
//! feature) nothing is recorded and the job's trace fields pass through as
//! the caller set them.
/// The producer span of one job, if traces are on (a unit without the feature).
#[cfg(feature = "otel")]
pub(crate) type Producer = Option<tracing::Span>;
#[cfg(not(feature = "otel"))]
pub(crate) type Producer = off::NoSpan;

#[cfg(not(feature = "otel"))]
pub(crate) use off::{instrument, producer, recorded, sent};

#[cfg(not(feature = "otel"))]
mod off {
    use crate::{Enqueued, Error};
    use weir_broker::NewJob;

    /// No span: traces are not built in.
    #[derive(Debug)]
    pub(crate) struct NoSpan;

    pub(crate) fn producer(_job: &mut NewJob) -> NoSpan {
        NoSpan
    }

    pub(crate) async fn instrument<T>(_span: &NoSpan, f: impl std::future::Future<Output = T>) -> T {
        f.await
    }

    pub(crate) fn sent(_span: &NoSpan, _result: Result<&Enqueued, &Error>) {}

    pub(crate) fn recorded(_span: &NoSpan, _id: &str) {}
}

#[cfg(feature = "otel")]
pub use on::{extract, process_env};
#[cfg(feature = "otel")]
pub(crate) use on::{instrument, producer, recorded, sent};

#[cfg(feature = "otel")]
mod on {
    use super::Producer;
    use crate::{Enqueued, Error};
    use opentelemetry::Context;
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::Status;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use weir_broker::NewJob;

    struct Fields<'a> {
        traceparent: Option<&'a str>,
        tracestate: Option<&'a str>,
    }

    impl Extractor for Fields<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                "traceparent" => self.traceparent,
                "tracestate" => self.tracestate,
                _ => None,
            }
        }

        fn keys(&self) -> Vec<&str> {
            vec!["traceparent", "tracestate"]
        }
    }

    struct Into<'a>(&'a mut NewJob);

    impl Injector for Into<'_> {
        fn set(&mut self, key: &str, value: String) {
            match key {
                "traceparent" => self.0.traceparent = Some(value),
                "tracestate" => self.0.tracestate = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
    }

    /// The remote parent that an envelope's trace fields name: an empty
    /// context (the span that takes it is a new root) when they are absent
    /// or malformed. Never an error: a bad `traceparent` is ignored.
    pub fn extract(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
        if traceparent.is_none() {
            return Context::new();
        }
        TraceContextPropagator::new().extract_with_context(&Context::new(), &Fields { traceparent, tracestate })
    }

    /// The W3C trace context of `span` as environment variables for a child
    /// process, `TRACEPARENT` and `TRACESTATE` (OpenTelemetry's names for
    /// context in the environment), so a program the worker runs (`--exec`)
    /// can continue the trace. Empty when the span is not traced.
    pub fn process_env(span: &tracing::Span) -> Vec<(&'static str, String)> {
        struct Env(Vec<(&'static str, String)>);
        impl Injector for Env {
            fn set(&mut self, key: &str, value: String) {
                match key {
                    "traceparent" => self.0.push(("TRACEPARENT", value)),
                    "tracestate" if !value.is_empty() => self.0.push(("TRACESTATE", value)),
                    _ => {}
                }
            }
        }
        let mut env = Env(Vec::new());
        TraceContextPropagator::new().inject_context(&span.context(), &mut env);
        env.0
    }

    /// Opens the producer span of `job` and writes its trace context into the
    /// job. Its parent is the trace context the job already carries, else the
    /// caller's current span. None (and the job untouched) when no
    /// OpenTelemetry layer is installed or the span is filtered out: the
    /// check costs one span creation.
    pub(crate) fn producer(job: &mut NewJob) -> Producer {
        let span =
            tracing::info_span!("enqueue", otel.name = tracing::field::Empty, otel.kind = tracing::field::Empty,);
        let parent = match job.traceparent.as_deref() {
            Some(tp) => extract(Some(tp), job.tracestate.as_deref()),
            None => {
                let current = tracing::Span::current();
                if current.is_none() { Context::current() } else { current.context() }
            }
        };
        span.set_parent(parent).ok()?;
        span.record("otel.name", format!("send {}", job.queue).as_str());
        span.record("otel.kind", "producer");
        span.set_attribute("messaging.system", "weir");
        span.set_attribute("messaging.destination.name", job.queue.to_string());
        span.set_attribute("messaging.operation.type", "send");
        span.set_attribute("messaging.operation.name", "send");
        span.set_attribute("weir.job.kind", job.kind.clone());
        let cx = span.context();
        job.traceparent = None;
        job.tracestate = None;
        TraceContextPropagator::new().inject_context(&cx, &mut Into(job));
        Some(span)
    }

    pub(crate) async fn instrument<T>(span: &Producer, f: impl std::future::Future<Output = T>) -> T {
        match span {
            Some(span) => f.instrument(span.clone()).await,
            None => f.await,
        }
    }

    /// Records what the enqueue returned on its producer span.
    pub(crate) fn sent(span: &Producer, result: Result<&Enqueued, &Error>) {
        if let Ok(e) = result {
            recorded(span, &e.id);
        }
        let Some(span) = span else { return };
        match result {
            Ok(e) => span.set_attribute("weir.job.created", e.created),
            Err(e) => span.set_status(Status::error(e.to_string())),
        }
    }

    /// Records the job's id on its producer span, once Redis (or the
    /// store's outbox) has it.
    pub(crate) fn recorded(span: &Producer, id: &str) {
        if let Some(span) = span {
            span.set_attribute("messaging.message.id", id.to_string());
        }
    }
}

/// The producer span of a job that goes to Redis another way than through
/// [`Client`](crate::Client)'s own enqueue calls: the store's transactional
/// `enqueue_tx` writes the job into the app's database and a relay sends it
/// later. [`ProducerSpan::start`] opens the span in the caller's context and
/// writes its W3C trace context into the job, as an enqueue does, so the
/// worker's consumer span joins the app's trace; the span ends when the
/// value drops. Without the `otel` feature, or without an OpenTelemetry
/// layer, it records nothing and leaves the job as it was.
#[derive(Debug)]
pub struct ProducerSpan(Producer);

impl ProducerSpan {
    /// Opens the span of `job` and writes its trace context into it.
    pub fn start(job: &mut weir_broker::NewJob) -> ProducerSpan {
        ProducerSpan(producer(job))
    }

    /// Records the job's id once it is stored.
    pub fn stored(&self, id: &str) {
        recorded(&self.0, id);
    }
}
