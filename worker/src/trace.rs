//! Traces (feature `otel`; docs/OBSERVABILITY.md "Traces"): each attempt's
//! `job` span becomes an OpenTelemetry consumer span, child of the producer
//! span named by the envelope's `traceparent` (a new root when there is none
//! or it is malformed), with the messaging attributes, the attempt and the
//! outcome. Handler spans nest inside it. Without an OpenTelemetry layer (or
//! without the feature) nothing is recorded: the check is one `set_parent`.
use tracing::Span;
use weir_broker::{Envelope, Lease};

/// Makes `span` the consumer span of this attempt; false when traces are off.
#[cfg(feature = "otel")]
pub(crate) fn consumer(span: &Span, envelope: &Envelope, lease: &Lease) -> bool {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = weir_client::trace::extract(envelope.traceparent.as_deref(), envelope.tracestate.as_deref());
    if span.set_parent(parent).is_err() {
        return false;
    }
    span.record("otel.name", format!("process {}", lease.queue).as_str());
    span.record("otel.kind", "consumer");
    span.set_attribute("messaging.system", "weir");
    span.set_attribute("messaging.destination.name", lease.queue.to_string());
    span.set_attribute("messaging.message.id", lease.id.clone());
    span.set_attribute("messaging.operation.type", "process");
    span.set_attribute("messaging.operation.name", "process");
    span.set_attribute("weir.job.kind", envelope.kind.clone());
    span.set_attribute("weir.job.attempt", i64::from(lease.attempt));
    true
}

#[cfg(not(feature = "otel"))]
pub(crate) fn consumer(_span: &Span, _envelope: &Envelope, _lease: &Lease) -> bool {
    false
}

/// Records the attempt's outcome (the `weir_jobs_total` label, or `lost`
/// when the lease was lost, `unrecorded` when Redis did not take it): a
/// failed attempt's error is the span's error status, `ok` is status Ok.
#[cfg(feature = "otel")]
pub(crate) fn finished(span: &Span, traced: bool, outcome: &str, error: Option<&str>) {
    use opentelemetry::trace::Status;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !traced {
        return;
    }
    span.set_attribute("weir.job.outcome", outcome.to_string());
    match error {
        Some(e) => span.set_status(Status::error(e.to_string())),
        None if outcome == "ok" => span.set_status(Status::Ok),
        None => {}
    }
}

#[cfg(not(feature = "otel"))]
pub(crate) fn finished(_span: &Span, _traced: bool, _outcome: &str, _error: Option<&str>) {}

/// The running attempt's trace context for a child process (`--exec`):
/// `TRACEPARENT` and `TRACESTATE`, empty when traces are off.
#[cfg(feature = "otel")]
pub(crate) fn process_env() -> Vec<(&'static str, String)> {
    weir_client::trace::process_env(&Span::current())
}

#[cfg(not(feature = "otel"))]
pub(crate) fn process_env() -> Vec<(&'static str, String)> {
    Vec::new()
}
