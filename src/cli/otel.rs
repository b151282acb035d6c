//! The `weir` binary's trace export (feature `otel`; docs/OBSERVABILITY.md
//! "Traces"): with OTEL_EXPORTER_OTLP_ENDPOINT or
//! OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, an OTLP/HTTP protobuf exporter
//! behind a batch processor on the tokio runtime, configured by the standard
//! OTEL_* variables; unset (or OTEL_SDK_DISABLED=true), nothing at all.
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The tracer provider, flushed by [`Traces::shutdown`] before the process exits.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

/// Whether the environment asks for trace export.
fn wanted() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|s| s.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

impl Traces {
    /// The exporter the environment asks for (None: not asked; an exporter
    /// that cannot be built is said once on stderr and traces stay off).
    /// Must run inside the tokio runtime: the batch processor is a task on it.
    pub fn from_env() -> Option<Traces> {
        if !wanted() {
            return None;
        }
        use opentelemetry_otlp::WithExportConfig;
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("weir: cannot export traces ({e}); tracing off");
                return None;
            }
        };
        let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the
        // default resource; without a name of their own, spans come from "weir".
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none()
            && !std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name"))
        {
            resource = resource.with_service_name("weir");
        }
        let provider =
            SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource.build()).build();
        Some(Traces { provider })
    }

    /// The layer that hands `tracing` spans to this provider.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("weir"))
    }

    /// Exports the spans still buffered (at most 5 s), then stops.
    pub async fn shutdown(self) {
        // The provider's shutdown blocks until the batch task on this runtime
        // has exported: wait for it on a blocking thread.
        let provider = self.provider;
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            eprintln!("weir: exporting the last spans failed: {e}");
        }
    }
}
