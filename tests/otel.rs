//! Traces (feature `otel`, docs/OBSERVABILITY.md "Traces"): an OTLP/HTTP
//! receiver here decodes the real protobuf export of `weir enqueue` and
//! `weir work` (and of a library app's own tracer provider) and checks the
//! producer and consumer spans of each job: one trace, the parent link, the
//! messaging attributes, the attempt and the outcome.
use crate::protocol::redis_cli;
use crate::util;
use crate::worker_support::WorkerProc;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weir::Job as _;

/// One span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    span: Span,
}

/// An OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf) on a free port,
/// served from a thread of its own so that an exporter flushing from a
/// blocked test thread still gets its answer.
struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Got>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let store = spans.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().route(
                    "/v1/traces",
                    axum::routing::post(move |body: axum::body::Bytes| async move {
                        let Ok(req) = ExportTraceServiceRequest::decode(body) else {
                            return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
                        };
                        let mut got = store.lock().unwrap();
                        for rs in req.resource_spans {
                            let service = rs
                                .resource
                                .as_ref()
                                .and_then(|r| text(&r.attributes, "service.name"))
                                .unwrap_or_default();
                            for ss in rs.scope_spans {
                                got.extend(ss.spans.into_iter().map(|span| Got { service: service.clone(), span }));
                            }
                        }
                        (axum::http::StatusCode::OK, ExportTraceServiceResponse::default().encode_to_vec())
                    }),
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Receiver { endpoint, spans, stop: Some(stop) }
    }

    fn spans(&self) -> Vec<Got> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans received once `done` holds of them (within 30 s), or a
    /// failure that prints them all.
    async fn wait(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let ok = util::eventually(Duration::from_secs(30), async || done(&self.spans())).await;
        let spans = self.spans();
        assert!(ok, "{what}: received {} spans:\n{spans:#?}", spans.len());
        spans
    }

    /// `weir` with the standard OTLP variables pointing here.
    fn weir(&self, prefix: &str, service: &str) -> std::process::Command {
        let mut c = util::weir(prefix);
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &self.endpoint)
            .env("OTEL_SERVICE_NAME", service)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_SDK_DISABLED")
            // The spans are at info: a filter from the environment must not drop them.
            .env_remove("WEIR_LOG")
            .env_remove("RUST_LOG");
        c
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn value(attrs: &[KeyValue], key: &str) -> Option<Value> {
    attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.clone()
}

fn text(attrs: &[KeyValue], key: &str) -> Option<String> {
    match value(attrs, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match value(attrs, key)? {
        Value::IntValue(n) => Some(n),
        _ => None,
    }
}

/// The one span of `kind` whose `messaging.message.id` is `id`.
fn span_of<'a>(spans: &'a [Got], kind: SpanKind, id: &str) -> &'a Got {
    let found: Vec<&Got> = spans
        .iter()
        .filter(|g| {
            g.span.kind == kind as i32 && text(&g.span.attributes, "messaging.message.id").as_deref() == Some(id)
        })
        .collect();
    assert_eq!(found.len(), 1, "one {kind:?} span of job {id}: {spans:#?}");
    found[0]
}

fn has(spans: &[Got], kind: SpanKind, id: &str) -> bool {
    spans
        .iter()
        .any(|g| g.span.kind == kind as i32 && text(&g.span.attributes, "messaging.message.id").as_deref() == Some(id))
}

/// The messaging attributes every weir span carries.
fn assert_messaging(g: &Got, queue: &str, id: &str, operation: &str) {
    let a = &g.span.attributes;
    assert_eq!(text(a, "messaging.system").as_deref(), Some("weir"), "{g:#?}");
    assert_eq!(text(a, "messaging.destination.name").as_deref(), Some(queue), "{g:#?}");
    assert_eq!(text(a, "messaging.message.id").as_deref(), Some(id), "{g:#?}");
    assert_eq!(text(a, "messaging.operation.type").as_deref(), Some(operation), "{g:#?}");
    assert_eq!(g.span.name, format!("{operation} {queue}"), "{g:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_and_work_export_one_trace_per_job() {
    let prefix = util::prefix("otel-cli");
    let rx = Receiver::start();
    let q = "otel";
    let enqueue = |kind: &str, extra: &[&str]| {
        let mut c = rx.weir(&prefix, "shop-producer");
        c.args(["enqueue", "--queue", q, "--kind", kind, "--json", "{}"]).args(extra);
        util::run_ok(&mut c).trim().to_string()
    };
    let ok = enqueue("weir.echo", &[]);
    let dead = enqueue("weir.fail", &["--max-attempts", "1"]);
    let shell = enqueue("shell", &[]);
    // A job from another producer whose trace context is malformed (and its
    // tracestate not even a string): it runs, under a new root span.
    let bad = ulid::Ulid::new().to_string();
    let envelope = format!(
        r#"{{"id":"{bad}","queue":"{q}","kind":"weir.echo","payload":{{}},"traceparent":"00-not-a-trace-01","tracestate":7}}"#
    );
    let out = redis_cli(&format!(
        "MULTI\nHSET {prefix}:{{{q}}}:jobs j:{bad} '{envelope}' m:{bad} 25\nZADD {prefix}:{{{q}}}:pending 1 {bad}\nSADD {prefix}:queues {q}\nEXEC\n"
    ));
    assert!(!out.contains("ERR"), "{out}");
    // `weir enqueue` exports its producer span before it exits.
    let spans =
        rx.wait("the producer spans", |s| has(s, SpanKind::Producer, &ok) && has(s, SpanKind::Producer, &dead)).await;
    let producer = span_of(&spans, SpanKind::Producer, &ok).clone();
    assert_eq!(producer.service, "shop-producer");
    assert_messaging(&producer, q, &ok, "send");
    assert_eq!(text(&producer.span.attributes, "weir.job.kind").as_deref(), Some("weir.echo"));

    // An --exec command gets the attempt's trace context in its environment.
    let seen = std::env::temp_dir().join(format!("weir-otel-exec-{}", std::process::id()));
    let exec = format!("shell=printf '%s %s' \"$TRACEPARENT\" \"${{TRACESTATE-unset}}\" > {}", seen.display());
    let mut cmd = rx.weir(&prefix, "shop-worker");
    cmd.args(["work", "--builtin-kinds", "--queues", q, "--max-jobs", "4", "--exec", &exec]);
    let mut worker = WorkerProc::spawn(cmd, &["--max-jobs", "4"]);
    let status = worker.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(10), "{}", worker.report());
    let spans = rx
        .wait("the consumer spans", |s| [&ok, &dead, &bad, &shell].iter().all(|id| has(s, SpanKind::Consumer, id)))
        .await;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let exec_span = &span_of(&spans, SpanKind::Consumer, &shell).span;
    let env = std::fs::read_to_string(&seen).expect("the --exec command ran");
    let _ = std::fs::remove_file(&seen);
    assert_eq!(env, format!("00-{}-{}-01 unset", hex(&exec_span.trace_id), hex(&exec_span.span_id)), "TRACEPARENT");

    let consumer = span_of(&spans, SpanKind::Consumer, &ok);
    assert_eq!(consumer.service, "shop-worker");
    assert_messaging(consumer, q, &ok, "process");
    assert_eq!(consumer.span.trace_id, producer.span.trace_id, "one trace");
    assert_eq!(consumer.span.parent_span_id, producer.span.span_id, "the consumer is the producer's child");
    assert_eq!(int(&consumer.span.attributes, "weir.job.attempt"), Some(1));
    assert_eq!(text(&consumer.span.attributes, "weir.job.outcome").as_deref(), Some("ok"));
    assert_eq!(consumer.span.status.as_ref().map(|s| s.code), Some(StatusCode::Ok as i32));

    let failed = span_of(&spans, SpanKind::Consumer, &dead);
    let failed_producer = span_of(&spans, SpanKind::Producer, &dead);
    assert_eq!(failed.span.parent_span_id, failed_producer.span.span_id);
    assert_ne!(failed.span.trace_id, producer.span.trace_id, "each enqueue starts its own trace");
    assert_eq!(text(&failed.span.attributes, "weir.job.outcome").as_deref(), Some("dead"));
    let status = failed.span.status.clone().unwrap_or_default();
    assert_eq!(status.code, StatusCode::Error as i32, "{failed:#?}");
    assert!(status.message.contains("failing on purpose"), "{status:?}");

    let root = span_of(&spans, SpanKind::Consumer, &bad);
    assert!(root.span.parent_span_id.is_empty(), "a malformed traceparent gives a root span: {root:#?}");
    assert_eq!(text(&root.span.attributes, "weir.job.outcome").as_deref(), Some("ok"));
    assert_eq!(root.span.trace_id.len(), 16);
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Traced {
    n: u32,
}

impl weir::Job for Traced {
    const KIND: &'static str = "traced";
    const QUEUE: &'static str = "otel-lib";
}

/// A library app: its own tracer provider and `tracing-opentelemetry`
/// layer; weir's spans join them, and the handler's span nests inside the
/// consumer span.
/// An app's own tracer provider exporting to `rx` as `service`, with a
/// `tracing-opentelemetry` layer installed on this thread (the current-thread
/// runtime of the test runs the worker's tasks here too). Shut the provider
/// down to flush.
fn app_tracing(
    rx: &Receiver,
    service: &str,
) -> (opentelemetry_sdk::trace::SdkTracerProvider, tracing::subscriber::DefaultGuard) {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    use tracing_subscriber::prelude::*;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", rx.endpoint))
        .build()
        .unwrap();
    // The batch task runs on a runtime of its own: the test's runtime is a
    // single thread that the provider's shutdown blocks.
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::TokioCurrentThread,
    )
    .build();
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service.to_string()).build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("shop")));
    let guard = tracing::subscriber::set_default(subscriber);
    (provider, guard)
}

/// Runs a library worker on [`Traced`]'s queue, whose handler opens a
/// `charge_card` span, until one job is done.
async fn work_one_traced(client: weir::Client) {
    let b = client.broker().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = weir::worker::Worker::builder(client)
        .queues([(Traced::QUEUE, 1)])
        .handle::<Traced, _>(|job, _ctx| async move {
            tracing::info_span!("charge_card", n = job.n).in_scope(|| ());
            Ok::<_, weir::worker::JobError>(())
        })
        .run_until(async {
            let _ = stop_rx.await;
        });
    let watch = async {
        let done = util::eventually(Duration::from_secs(20), async || {
            b.stats(&weir::QueueName::new(Traced::QUEUE).unwrap()).await.unwrap().processed == 1
        })
        .await;
        let _ = stop_tx.send(());
        done
    };
    let (outcome, done) = tokio::join!(worker, watch);
    assert!(done && outcome.unwrap().jobs_done == 1, "the job ran");
}

/// The app's `checkout` span, the job's producer and consumer spans and the
/// handler's span: one trace, each the parent of the next.
async fn assert_one_app_trace(rx: &Receiver, id: &str) {
    let spans = rx
        .wait("the app's spans", |s| has(s, SpanKind::Consumer, id) && s.iter().any(|g| g.span.name == "charge_card"))
        .await;
    let request = spans.iter().find(|g| g.span.name == "checkout").expect("the app's request span");
    let producer = span_of(&spans, SpanKind::Producer, id);
    let consumer = span_of(&spans, SpanKind::Consumer, id);
    let handler = spans.iter().find(|g| g.span.name == "charge_card").unwrap();
    assert_eq!(producer.span.parent_span_id, request.span.span_id, "enqueue is a child of the app's span");
    assert_eq!(consumer.span.parent_span_id, producer.span.span_id);
    assert_eq!(handler.span.parent_span_id, consumer.span.span_id, "the handler's span nests inside");
    for g in [request, producer, consumer, handler] {
        assert_eq!((g.span.trace_id.as_slice(), g.service.as_str()), (request.span.trace_id.as_slice(), "shop-app"));
    }
    assert_messaging(consumer, Traced::QUEUE, id, "process");
}

#[tokio::test]
async fn library_spans_join_the_apps_tracer_provider() {
    use tracing::Instrument;
    let rx = Receiver::start();
    let (provider, _guard) = app_tracing(&rx, "shop-app");
    let b = util::broker("otel-lib").await;
    let client = weir::Client::from_broker(b.clone());
    let id = client.enqueue(Traced { n: 7 }).instrument(tracing::info_span!("checkout")).await.unwrap().id;
    work_one_traced(client).await;
    provider.shutdown().unwrap();
    assert_one_app_trace(&rx, &id).await;
}

/// `enqueue_tx` in the app's transaction is the producer span; the relay
/// carries its trace context into the envelope, so the attempts join the
/// app's trace as a direct enqueue's do.
#[tokio::test]
async fn outbox_jobs_join_the_apps_trace_through_the_relay() {
    use tracing::Instrument;
    let rx = Receiver::start();
    let (provider, _guard) = app_tracing(&rx, "shop-app");
    let db = crate::store_support::TestStore::sqlite("otel-outbox").await;
    let b = util::broker("otel-outbox").await;
    let client = weir::Client::from_broker(b.clone());
    let id = db
        .enqueue_in_tx(&client, vec![Traced { n: 8 }], true)
        .instrument(tracing::info_span!("checkout"))
        .await
        .remove(0);
    let relay = weir_store::Relay::new(b.clone(), db.store.clone(), weir_store::RelayConfig::default());
    assert_eq!(relay.drain().await.unwrap(), 1, "the committed row is relayed");
    work_one_traced(client).await;
    provider.shutdown().unwrap();
    assert_one_app_trace(&rx, &id).await;
}
