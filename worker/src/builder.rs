//! `Worker::builder(client)...run_until(shutdown)`: the library entry point.
use crate::args::WorkerArgs;
use crate::config::{Queues, WorkerConfig};
use crate::context::JobContext;
use crate::error::{ConfigError, Error, JobError, Result};
use crate::exec::ExecHandler;
use crate::handler::{Handler, RawFn, SharedHandler, TypedFn};
use crate::worker::{Outcome, Worker};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use weir_broker::{Backoff, Broker, Envelope, QueueName};
use weir_client::{Client, Job};

/// Builds a [`Worker`]. Every setting has the default documented on
/// [`WorkerConfig`].
pub struct WorkerBuilder {
    broker: Broker,
    config: WorkerConfig,
    handlers: HashMap<String, SharedHandler>,
    force_on: Option<BoxFuture<'static, ()>>,
    /// Invalid settings, reported by `build`/`run_until`.
    errors: Vec<ConfigError>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("config", &self.config)
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Worker {
    /// Starts a worker on `client`'s connection with every default of
    /// [`defaults`](crate::defaults); add handlers and call
    /// [`WorkerBuilder::run_with_signals`] (or `run_until`).
    pub fn builder(client: Client) -> WorkerBuilder {
        WorkerBuilder::new(client.broker().clone())
    }
}

impl WorkerBuilder {
    /// Like [`Worker::builder`], from a broker (a custom prefix or
    /// connection).
    pub fn new(broker: Broker) -> WorkerBuilder {
        WorkerBuilder {
            broker,
            config: WorkerConfig::default(),
            handlers: HashMap::new(),
            force_on: None,
            errors: Vec::new(),
        }
    }

    fn queue_names<S: Into<String>>(&mut self, names: impl IntoIterator<Item = S>) -> Vec<QueueName> {
        let mut out = Vec::new();
        for n in names {
            match QueueName::new(n) {
                Ok(q) => out.push(q),
                Err(e) => self.errors.push(e.into()),
            }
        }
        out
    }

    /// Weighted queues: each queue with work gets a share of the jobs
    /// proportional to its weight.
    pub fn queues<S: Into<String>>(mut self, queues: impl IntoIterator<Item = (S, u32)>) -> Self {
        let (names, weights): (Vec<String>, Vec<u32>) = queues.into_iter().map(|(q, w)| (q.into(), w)).unzip();
        let names = self.queue_names(names);
        self.config.queues = Queues::Weighted(names.into_iter().zip(weights).collect());
        self
    }

    /// Strict priority: always the first queue, in this order, that has work.
    pub fn strict<S: Into<String>>(mut self, queues: impl IntoIterator<Item = S>) -> Self {
        let names = self.queue_names(queues);
        self.config.queues = Queues::Strict(names);
        self
    }

    /// Jobs running at once ([`WorkerConfig::concurrency`](crate::WorkerConfig::concurrency)).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n;
        self
    }

    /// Stop (exit code 10) after `n` jobs, so a supervisor restarts a
    /// fresh process ([`WorkerConfig::max_jobs`](crate::WorkerConfig::max_jobs)).
    pub fn max_jobs(mut self, n: u64) -> Self {
        self.config.max_jobs = Some(n);
        self
    }

    /// Stop (exit code 11) after running for `d`
    /// ([`WorkerConfig::max_time`](crate::WorkerConfig::max_time)).
    pub fn max_time(mut self, d: Duration) -> Self {
        self.config.max_time = Some(d);
        self
    }

    /// Stop (exit code 12) when resident memory passes `mb` MiB after a
    /// job, a guard against leaks ([`WorkerConfig::memory_mb`](crate::WorkerConfig::memory_mb)).
    pub fn memory_limit_mb(mut self, mb: u64) -> Self {
        self.config.memory_mb = Some(mb);
        self
    }

    /// Time limit of one attempt for jobs that set none
    /// ([`WorkerConfig::timeout`](crate::WorkerConfig::timeout)).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.config.timeout = d;
        self
    }

    /// A cap on attempts for every job here, below each job's own
    /// `max_attempts` ([`WorkerConfig::tries`](crate::WorkerConfig::tries)).
    pub fn tries(mut self, n: u32) -> Self {
        self.config.tries = Some(n);
        self
    }

    /// What to do with jobs whose kind has no handler in this worker
    /// (default: put back for up to 1 h, see [`UnknownKind`](crate::UnknownKind)).
    pub fn unknown_kind(mut self, policy: crate::UnknownKind) -> Self {
        self.config.unknown_kind = policy;
        self
    }

    /// How long running jobs may finish after a stop request before they
    /// are put back ([`WorkerConfig::grace`](crate::WorkerConfig::grace)).
    pub fn grace(mut self, d: Duration) -> Self {
        self.config.grace = d;
        self
    }

    /// The default retry schedule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The retry schedule of one job kind (jobs that carry their own keep it).
    pub fn kind_backoff(mut self, kind: impl Into<String>, backoff: Backoff) -> Self {
        self.config.kind_backoff.insert(kind.into(), backoff);
        self
    }

    /// Registry heartbeat interval
    /// ([`WorkerConfig::heartbeat`](crate::WorkerConfig::heartbeat)).
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.config.heartbeat = d;
        self
    }

    /// How often the fleet promotes due jobs and reclaims expired leases
    /// ([`WorkerConfig::housekeeping`](crate::WorkerConfig::housekeeping)).
    pub fn housekeeping(mut self, d: Duration) -> Self {
        self.config.housekeeping = d;
        self
    }

    /// How long an idle worker blocks per call waiting for work
    /// ([`WorkerConfig::idle_wait`](crate::WorkerConfig::idle_wait)).
    pub fn idle_wait(mut self, d: Duration) -> Self {
        self.config.idle_wait = d;
        self
    }

    /// Paces jobs of type `J` in this process (governor): at most `quota`.
    /// Per process; fleet-wide limits are `weir limit` (docs/LIMITS.md).
    pub fn rate_limit<J: Job>(mut self, quota: governor::Quota) -> Self {
        self.config.pace.kind(J::KIND, quota);
        self
    }

    /// Paces jobs of `queue` in this process.
    pub fn queue_rate_limit(mut self, queue: impl Into<String>, quota: governor::Quota) -> Self {
        match QueueName::new(queue.into()) {
            Ok(q) => self.config.pace.queue(q, quota),
            Err(e) => self.errors.push(e.into()),
        }
        self
    }

    /// Serves Prometheus metrics on `/metrics`, and `/healthz` and `/readyz`,
    /// at `addr` (docs/OBSERVABILITY.md). Off by default.
    pub fn metrics_addr(mut self, addr: std::net::SocketAddr) -> Self {
        self.config.metrics_addr = Some(addr);
        self
    }

    /// Distinct job kinds labelled in the metrics (default 500); the rest
    /// share `kind="other"`.
    pub fn metrics_max_kinds(mut self, n: usize) -> Self {
        self.config.metrics_max_kinds = n;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// Applies the standard worker flags, including `--exec` handlers.
    pub fn args(mut self, args: &WorkerArgs) -> Self {
        match args.config() {
            Ok(c) => self.config = c,
            Err(e) => self.errors.push(e),
        }
        for spec in &args.exec {
            let h = ExecHandler::new(spec.command.clone(), args.memory_per_job).keep_stdout(args.exec_result);
            self = self.handler(spec.kind.clone(), h);
        }
        self
    }

    /// Handles jobs of type `J` (decoded with the job's codec).
    ///
    /// `.handle::<SendInvoice, _>(|job, ctx| async move { .. })`: the second
    /// parameter is the handler's future.
    pub fn handle<J, Fut>(self, f: impl Fn(J, JobContext) -> Fut + Send + Sync + 'static) -> Self
    where
        J: Job,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handler(J::KIND, TypedFn { f, _job: std::marker::PhantomData::<fn() -> J> })
    }

    /// Handles jobs of type `J` whose handler returns a value: it is kept as
    /// the job's result (JSON, at most 64 KiB; see [`JobContext::set_result`]).
    pub fn handle_result<J, R, Fut>(self, f: impl Fn(J, JobContext) -> Fut + Send + Sync + 'static) -> Self
    where
        J: Job,
        R: serde::Serialize,
        Fut: Future<Output = Result<R, JobError>> + Send + 'static,
    {
        self.handle::<J, _>(move |job, ctx| {
            let run = f(job, ctx.clone());
            async move { ctx.set_result(&run.await?) }
        })
    }

    /// Handles jobs of `kind` from their raw envelope.
    pub fn handle_raw<F, Fut>(self, kind: impl Into<String>, f: F) -> Self
    where
        F: Fn(Envelope, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handler(kind, RawFn(f))
    }

    /// Handles jobs of `kind` with any [`Handler`]. A later handler for the
    /// same kind replaces the earlier one.
    pub fn handler(mut self, kind: impl Into<String>, handler: impl Handler) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    /// The harmless builtin kinds, `weir.noop` and `weir.echo` (see
    /// docs/WORKER.md); handlers already registered for these kinds are kept.
    pub fn builtins(self) -> Self {
        self.builtin_kinds(crate::builtin::harmless())
    }

    /// The builtin test kinds that sleep, fail, panic or allocate
    /// (`weir.sleep`, `weir.fail`, `weir.alloc` ...; see docs/WORKER.md), for
    /// tests, demos and benchmarks; handlers already registered are kept.
    pub fn builtin_test_kinds(self) -> Self {
        self.builtin_kinds(crate::builtin::test_kinds())
    }

    fn builtin_kinds(mut self, kinds: Vec<(&'static str, SharedHandler)>) -> Self {
        for (kind, h) in kinds {
            self.handlers.entry(kind.to_string()).or_insert(h);
        }
        self
    }

    /// Whether this worker runs a scheduler for periodic jobs (default: yes;
    /// docs/CRON.md). Any number may run: each tick is enqueued once.
    pub fn scheduler(mut self, on: bool) -> Self {
        self.config.scheduler = on;
        self
    }

    /// When `force` resolves, running jobs are stopped at once and released
    /// (the second SIGTERM/SIGINT in `weir work`).
    pub fn force_on(mut self, force: impl Future<Output = ()> + Send + 'static) -> Self {
        self.force_on = Some(Box::pin(force));
        self
    }

    /// Checks the settings (the first invalid one is
    /// [`Error::Config`]) and returns the worker, not yet running.
    pub fn build(self) -> Result<Worker> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(Error::Config(e));
        }
        self.config.validate()?;
        Ok(Worker { broker: self.broker, config: self.config, handlers: self.handlers, force_on: self.force_on })
    }

    /// Builds and runs until `shutdown` resolves; see [`Worker::run_until`].
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<Outcome> {
        self.build()?.run_until(shutdown).await
    }

    /// Builds and runs until SIGTERM or SIGINT (a second one forces the stop).
    pub async fn run_with_signals(self) -> Result<Outcome> {
        let (first, second) = crate::signal::shutdown_signals().map_err(Error::Signals)?;
        self.force_on(second).run_until(first).await
    }
}
