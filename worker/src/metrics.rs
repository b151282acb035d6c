//! Worker metrics (`--metrics-addr`): Prometheus series for jobs, leases and
//! Redis calls. Every label set is resolved when the worker starts (its
//! queues times the kinds it handles), so recording is an atomic add on a
//! handle: no Redis command and no lock shared by all jobs. Only jobs of a
//! kind this worker has no handler for take a lock, once per attempt.
//! docs/OBSERVABILITY.md lists every series.
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weir_broker::QueueName;

/// The kind label of kinds beyond the limit.
pub const OTHER_KIND: &str = "other";

/// Run and wait time buckets (seconds).
const JOB_BUCKETS: &[f64] =
    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0];
/// Redis call buckets (seconds).
const REDIS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// How one attempt ended, as the `outcome` label of `weir_jobs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Acked.
    Ok,
    /// Failed; will run again after its backoff.
    Retry,
    /// Failed with no attempts left, or fatally: in the dead set.
    Dead,
    /// Ran past its time limit (then retried or dead, as for a failure).
    Timeout,
    /// Stopped by a forced shutdown and put back, attempt not counted.
    Released,
    /// Rate limited by its handler: back in the queue without using an attempt.
    Snoozed,
    /// Put back without running (no handler in this worker).
    Deferred,
    /// Stopped by a cancel request (`weir cancel`): in the dead set, not retried.
    Cancelled,
}

impl JobOutcome {
    /// Every outcome, so each labelled series exists from the start.
    pub const ALL: [JobOutcome; 8] = [
        JobOutcome::Ok,
        JobOutcome::Retry,
        JobOutcome::Dead,
        JobOutcome::Timeout,
        JobOutcome::Released,
        JobOutcome::Snoozed,
        JobOutcome::Deferred,
        JobOutcome::Cancelled,
    ];

    /// The `outcome` label value in the metrics.
    pub fn label(self) -> &'static str {
        match self {
            JobOutcome::Ok => "ok",
            JobOutcome::Retry => "retry",
            JobOutcome::Dead => "dead",
            JobOutcome::Timeout => "timeout",
            JobOutcome::Released => "released",
            JobOutcome::Snoozed => "snoozed",
            JobOutcome::Deferred => "deferred",
            JobOutcome::Cancelled => "cancelled",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The Redis calls a worker times, as the `op` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisOp {
    Reserve,
    Ack,
    Fail,
    Extend,
}

impl RedisOp {
    const ALL: [RedisOp; 4] = [RedisOp::Reserve, RedisOp::Ack, RedisOp::Fail, RedisOp::Extend];

    fn label(self) -> &'static str {
        match self {
            RedisOp::Reserve => "reserve",
            RedisOp::Ack => "ack",
            RedisOp::Fail => "fail",
            RedisOp::Extend => "extend",
        }
    }
}

/// The series of one queue and kind.
#[derive(Debug)]
pub(crate) struct KindSeries {
    outcomes: [Counter; 8],
    duration: Histogram,
}

impl KindSeries {
    pub fn finished(&self, outcome: JobOutcome, ran: Option<Duration>) {
        self.outcomes[outcome.index()].increment(1);
        if let Some(d) = ran {
            self.duration.record(d.as_secs_f64());
        }
    }
}

/// The series of one queue.
#[derive(Debug)]
struct QueueSeries {
    kinds: HashMap<String, KindSeries>,
    wait: Histogram,
    running: Gauge,
    leases_lost: Counter,
    progress: Counter,
}

/// A kind's series: resolved at start, or made for a kind without a handler.
#[derive(Debug)]
pub(crate) enum Series<'a> {
    Known(&'a KindSeries),
    Made(Arc<KindSeries>),
}

impl std::ops::Deref for Series<'_> {
    type Target = KindSeries;
    fn deref(&self) -> &KindSeries {
        match self {
            Series::Known(s) => s,
            Series::Made(s) => s,
        }
    }
}

#[derive(Debug)]
struct Made {
    series: HashMap<(QueueName, String), Arc<KindSeries>>,
    /// How many more distinct kinds may be labelled.
    room: usize,
}

/// One worker's metrics and the recorder that renders them.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    queues: HashMap<QueueName, QueueSeries>,
    /// Series of kinds without a handler, made on first sight (cold path).
    made: Mutex<Made>,
    redis: Vec<(Histogram, Counter)>,
    process: metrics_process::Collector,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("queues", &self.queues.len()).finish_non_exhaustive()
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    Key::from_parts(name, labels.iter().map(|(k, v)| Label::new(*k, v.to_string())).collect::<Vec<_>>())
}

const META: Metadata<'static> = Metadata::new("weir_worker", Level::INFO, Some(module_path!()));

impl Metrics {
    /// Series for every queue times every kind in `kinds` (the handled
    /// kinds; past `max_kinds`, the rest share `kind="other"`).
    pub fn new(queues: &[QueueName], kinds: &[String], concurrency: usize, max_kinds: usize) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets(JOB_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Prefix("weir_redis_".into()), REDIS_BUCKETS))
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        describe(&recorder);
        let mut sorted: Vec<&String> = kinds.iter().collect();
        sorted.sort();
        sorted.dedup();
        let labelled = sorted.len().min(max_kinds);
        let queues = queues
            .iter()
            .map(|q| {
                // The recorder hands out one series per label set: folded
                // kinds all get the handles of "other".
                let kinds = sorted
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let label = if i < max_kinds { k.as_str() } else { OTHER_KIND };
                        (k.to_string(), kind_series(&recorder, q, label))
                    })
                    .collect();
                let qs = QueueSeries {
                    kinds,
                    wait: recorder.register_histogram(&key("weir_job_wait_seconds", &[("queue", q.as_str())]), &META),
                    running: recorder.register_gauge(&key("weir_jobs_running", &[("queue", q.as_str())]), &META),
                    leases_lost: recorder
                        .register_counter(&key("weir_leases_lost_total", &[("queue", q.as_str())]), &META),
                    progress: recorder
                        .register_counter(&key("weir_job_progress_updates_total", &[("queue", q.as_str())]), &META),
                };
                (q.clone(), qs)
            })
            .collect();
        recorder.register_gauge(&key("weir_worker_concurrency", &[]), &META).set(concurrency as f64);
        let redis = RedisOp::ALL
            .iter()
            .map(|op| {
                let labels = [("op", op.label())];
                (
                    recorder.register_histogram(&key("weir_redis_op_duration_seconds", &labels), &META),
                    recorder.register_counter(&key("weir_redis_errors_total", &labels), &META),
                )
            })
            .collect();
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(&recorder, || process.describe());
        Metrics {
            recorder,
            handle,
            queues,
            made: Mutex::new(Made { series: HashMap::new(), room: max_kinds - labelled }),
            redis,
            process,
        }
    }

    /// The series of `kind` on `queue`. Lock-free for the kinds resolved at start.
    pub fn kind(&self, queue: &QueueName, kind: &str) -> Option<Series<'_>> {
        let q = self.queues.get(queue)?;
        if let Some(s) = q.kinds.get(kind) {
            return Some(Series::Known(s));
        }
        // A kind without a handler: labelled while there is room, else "other".
        let mut made = self.made.lock().expect("metrics");
        let id = (queue.clone(), kind.to_string());
        if let Some(s) = made.series.get(&id) {
            return Some(Series::Made(s.clone()));
        }
        let label = if made.series.keys().any(|(_, k)| k == kind) {
            kind
        } else if made.room > 0 {
            made.room -= 1;
            kind
        } else {
            OTHER_KIND
        };
        let s = Arc::new(kind_series(&self.recorder, queue, label));
        made.series.insert(id, s.clone());
        Some(Series::Made(s))
    }

    /// A job of `queue` started after waiting `waited` since it was due.
    pub fn started(&self, queue: &QueueName, waited: Option<Duration>) {
        if let Some(q) = self.queues.get(queue) {
            q.running.increment(1.0);
            if let Some(w) = waited {
                q.wait.record(w.as_secs_f64());
            }
        }
    }

    pub fn ended(&self, queue: &QueueName) {
        if let Some(q) = self.queues.get(queue) {
            q.running.decrement(1.0);
        }
    }

    pub fn lease_lost(&self, queue: &QueueName) {
        if let Some(q) = self.queues.get(queue) {
            q.leases_lost.increment(1);
        }
    }

    /// A running job of `queue` stored a progress update (`ctx.progress`).
    pub fn progress_updated(&self, queue: &QueueName) {
        if let Some(q) = self.queues.get(queue) {
            q.progress.increment(1);
        }
    }

    /// Folds the histograms' pending samples into their buckets (what a
    /// scrape does too), so memory stays bounded between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// One Redis call of `op` took `took`; `ok` whether it succeeded.
    pub fn redis(&self, op: RedisOp, took: Duration, ok: bool) {
        let (h, errors) = &self.redis[op as usize];
        h.record(took.as_secs_f64());
        if !ok {
            errors.increment(1);
        }
    }

    /// Prometheus text format, with the process series read now.
    pub fn render(&self) -> String {
        metrics::with_local_recorder(&self.recorder, || self.process.collect());
        self.handle.render()
    }
}

/// Records one Redis call's time on `metrics`, when there are metrics.
pub(crate) async fn timed<T, E>(
    metrics: Option<&Metrics>,
    op: RedisOp,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let Some(m) = metrics else { return call.await };
    let started = std::time::Instant::now();
    let r = call.await;
    m.redis(op, started.elapsed(), r.is_ok());
    r
}

fn kind_series(recorder: &PrometheusRecorder, queue: &QueueName, kind: &str) -> KindSeries {
    let outcomes = JobOutcome::ALL.map(|o| {
        recorder.register_counter(
            &key("weir_jobs_total", &[("queue", queue.as_str()), ("kind", kind), ("outcome", o.label())]),
            &META,
        )
    });
    let duration = recorder
        .register_histogram(&key("weir_job_duration_seconds", &[("queue", queue.as_str()), ("kind", kind)]), &META);
    KindSeries { outcomes, duration }
}

fn describe(r: &PrometheusRecorder) {
    for (name, help) in [
        ("weir_jobs_total", "Attempts finished, by queue, kind and outcome."),
        ("weir_leases_lost_total", "Jobs whose lease this worker lost while running them."),
        ("weir_job_progress_updates_total", "Progress updates stored by running jobs, by queue."),
        ("weir_redis_errors_total", "Redis calls that failed, by operation."),
    ] {
        r.describe_counter(name.into(), None, help.into());
    }
    for (name, help) in [
        ("weir_jobs_running", "Jobs running now, by queue."),
        ("weir_worker_concurrency", "Jobs this worker may run at once."),
    ] {
        r.describe_gauge(name.into(), None, help.into());
    }
    for (name, help) in [
        ("weir_job_duration_seconds", "Run time of an attempt, by queue and kind."),
        ("weir_job_wait_seconds", "Time from a job's due time to the start of its first attempt, by queue."),
        ("weir_redis_op_duration_seconds", "Time of a Redis call, by operation."),
    ] {
        r.describe_histogram(name.into(), None, help.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: &str) -> QueueName {
        QueueName::new(n).unwrap()
    }

    #[test]
    fn kinds_past_the_limit_are_other_and_unknown_kinds_are_labelled() {
        let kinds: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let m = Metrics::new(&[q("default")], &kinds, 4, 3);
        m.kind(&q("default"), "a").unwrap().finished(JobOutcome::Ok, Some(Duration::from_millis(5)));
        let text = m.render();
        assert!(text.contains(r#"weir_jobs_total{queue="default",kind="a",outcome="ok"} 1"#), "{text}");
        assert!(text.contains("weir_worker_concurrency 4"), "{text}");
        m.kind(&q("default"), "a").unwrap().finished(JobOutcome::Cancelled, None);
        m.progress_updated(&q("default"));
        m.progress_updated(&q("default"));
        let text = m.render();
        assert!(text.contains(r#"weir_jobs_total{queue="default",kind="a",outcome="cancelled"} 1"#), "{text}");
        assert!(text.contains(r#"weir_job_progress_updates_total{queue="default"} 2"#), "{text}");
        // No room left: an unknown kind is folded into "other".
        m.kind(&q("default"), "zzz").unwrap().finished(JobOutcome::Dead, None);
        let text = m.render();
        assert!(text.contains(r#"kind="other",outcome="dead"} 1"#), "{text}");
        assert!(!text.contains("zzz"), "{text}");

        let m = Metrics::new(&[q("default")], &kinds, 4, 2);
        // "c" is past the limit of 2: folded at start.
        m.kind(&q("default"), "c").unwrap().finished(JobOutcome::Ok, None);
        let text = m.render();
        assert!(text.contains(r#"kind="other",outcome="ok"} 1"#), "{text}");

        let m = Metrics::new(&[q("default")], &kinds, 4, 10);
        m.kind(&q("default"), "nohandler").unwrap().finished(JobOutcome::Dead, None);
        m.kind(&q("default"), "nohandler").unwrap().finished(JobOutcome::Dead, None);
        let text = m.render();
        assert!(text.contains(r#"kind="nohandler",outcome="dead"} 2"#), "{text}");
        assert!(m.kind(&q("elsewhere"), "a").is_none());
    }
}
