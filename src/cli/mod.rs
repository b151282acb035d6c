//! Subcommands of the `weir` binary and the options they share.
mod autoscale;
mod bench;
mod cancel;
mod closed_pipe;
mod completions;
mod cron;
mod dead;
mod dead_filter;
mod demo;
mod demo_acts;
mod enqueue;
mod exporter;
mod failed;
#[cfg(test)]
mod flag_tables;
#[cfg(test)]
mod help_text;
mod job;
mod limit;
mod migrate;
#[cfg(feature = "otel")]
pub mod otel;
mod pause;
mod private_redis;
mod relay;
mod stats;
#[cfg(feature = "web")]
mod web;
mod work;
mod workers;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;
use weir::broker::{Broker, BrokerConfig};

pub use closed_pipe::end_quietly_at_a_closed_pipe;

#[derive(Debug, Parser)]
#[command(name = "weir", version, about = "weir: a background job queue on Redis")]
pub struct Cli {
    #[command(flatten)]
    pub conn: Conn,
    /// Log lines as text or as JSON objects, one per line (stderr). Filter
    /// them with WEIR_LOG (RUST_LOG syntax, e.g. info,weir_broker=debug).
    #[arg(long, global = true, env = "WEIR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Where Redis is, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// Redis URL: redis://[user:pass@]host:port[/db] (one server);
    /// redis-cluster://[user:pass@]host:port?node=host:port&... (Redis Cluster);
    /// redis-sentinel://[user:pass@]host:port?sentinelServiceName=NAME&node=host:port... (Sentinel);
    /// rediss:// forms for TLS.
    #[arg(long, global = true, env = "WEIR_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Key prefix, so several apps can share one Redis.
    #[arg(long, global = true, env = "WEIR_PREFIX", default_value = "weir")]
    pub prefix: String,
    /// Dead jobs kept in Redis per queue, newest first (0: no bound). With a
    /// store, the archiver moves them out anyway.
    #[arg(long, global = true, env = "WEIR_DEAD_MAX_LEN", default_value_t = 10_000)]
    pub dead_max_len: u64,
    /// Dead jobs older than this are dropped from Redis (0s: kept).
    #[arg(long, global = true, env = "WEIR_DEAD_MAX_AGE", default_value = "30d", value_parser = parse_duration_flag)]
    pub dead_max_age: std::time::Duration,
    /// Replicas that must confirm every finished job (Redis `WAIT`) before a
    /// worker moves on; 0 = none. Narrows, but cannot close, the window in
    /// which a failover undoes an ack (docs/REDIS.md, "Durability caveat").
    #[arg(long, global = true, env = "WEIR_DURABLE_ACKS", default_value_t = 0)]
    pub durable_acks: u32,
    /// How long a done job stays readable (`weir job`, with its result)
    /// after its ack (at most 30d); 0s keeps nothing, at no cost to the ack.
    #[arg(long, global = true, env = "WEIR_KEEP_DONE", default_value = "24h", value_parser = parse_duration_flag)]
    pub keep_done: std::time::Duration,
    /// Done records kept per queue, newest first, within --keep-done (0: no
    /// bound but the retention), so a busy queue's records cannot fill Redis.
    #[arg(long, global = true, env = "WEIR_KEEP_DONE_MAX", default_value_t = 100_000)]
    pub keep_done_max: u64,
}

impl Conn {
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            prefix: self.prefix.clone(),
            dead_max_len: self.dead_max_len,
            dead_max_age: self.dead_max_age,
            durable_acks: self.durable_acks,
            keep_done: self.keep_done,
            keep_done_max_len: self.keep_done_max,
            ..BrokerConfig::default()
        }
    }

    /// These settings as the environment of a worker this process starts
    /// (the autoscaler's and the demo's), so the worker follows them too.
    pub fn worker_env(&self) -> Vec<(String, String)> {
        vec![
            ("WEIR_DEAD_MAX_LEN".into(), self.dead_max_len.to_string()),
            ("WEIR_DEAD_MAX_AGE".into(), format!("{}ms", self.dead_max_age.as_millis())),
            ("WEIR_DURABLE_ACKS".into(), self.durable_acks.to_string()),
            ("WEIR_KEEP_DONE".into(), format!("{}ms", self.keep_done.as_millis())),
            ("WEIR_KEEP_DONE_MAX".into(), self.keep_done_max.to_string()),
        ]
    }

    pub async fn connect(&self) -> anyhow::Result<Broker> {
        Broker::connect(&self.redis, self.broker_config()).await.context("cannot start")
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enqueue a job (or one per JSON line of stdin) and print its id.
    Enqueue(enqueue::EnqueueArgs),
    /// Per-queue figures: pending, delayed, active, dead, processed, failed, oldest age.
    Stats(stats::StatsArgs),
    /// Periodic jobs: add, list, remove, pause, resume, run (docs/CRON.md).
    Cron(cron::CronArgs),
    /// Run a scheduler alone: enqueue the ticks of periodic jobs until stopped.
    Scheduler,
    /// One job by id: state, attempts, errors, times, progress, result.
    Job(job::JobArgs),
    /// Cancel one job by id: pending or delayed ones are removed, running ones stopped (dead, "cancelled").
    Cancel(cancel::CancelArgs),
    /// Stop workers from taking a queue's jobs (they stay queued).
    Pause(pause::QueueArg),
    /// Let workers take a paused queue's jobs again.
    Resume(pause::QueueArg),
    /// Fleet-wide rate limits and concurrency caps (set, set-key, clear, list).
    Limit(limit::LimitArgs),
    /// Show the whole system on a real Redis: a mixed workload, weighted queues, autoscaling.
    Demo(demo::DemoArgs),
    /// Spawn and drain workers by queue depth: a sidecar, or --once from cron (docs/AUTOSCALE.md).
    Autoscale(weir_supervisor::AutoscaleArgs),
    /// Create or update the store's schema (PostgreSQL or SQLite) to this weir's version.
    Migrate(migrate::MigrateArgs),
    /// The dead jobs Redis holds: list, show, retry, delete (no store needed).
    Dead(dead::DeadArgs),
    /// Delete one pending, delayed or dead job by id, with its data.
    Delete(dead::JobIdArgs),
    /// Run one delayed job (scheduled, or waiting for its retry) now: it becomes pending at once.
    RunNow(dead::JobIdArgs),
    /// The dead-job archive in the store: list, show, retry, delete, purge.
    Failed(failed::FailedArgs),
    /// Move jobs committed to the store's outbox to Redis, until stopped.
    Relay(relay::RelayArgs),
    /// Measure speed and footprint: one JSON line per figure (docs/BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Run a worker: take jobs from the queues and run them (docs/WORKER.md).
    Work(work::WorkArgs),
    /// List the live workers: id, host, pid, queues, concurrency, running, done, age.
    Workers(workers::WorkersArgs),
    /// Ask one worker (by id) to finish its running jobs and exit.
    Drain(workers::DrainArgs),
    /// Serve the dashboard: queues, jobs, dead jobs, workers, limits, autoscaler (docs/DASHBOARD.md).
    #[cfg(feature = "web")]
    Web(web::WebArgs),
    /// Serve every queue's figures from Redis: Prometheus /metrics, JSON /api/queues (docs/OBSERVABILITY.md).
    Exporter(exporter::ExporterArgs),
    /// Print shell completions: bash, zsh, fish, elvish or powershell.
    Completions(completions::CompletionsArgs),
    /// Print the man page (weir.1), or with --out DIR write one page per command.
    Man(completions::ManArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Enqueue(a) => enqueue::run(&cli.conn, a).await,
        Command::Stats(a) => stats::run(&cli.conn, a).await,
        Command::Job(a) => job::run(&cli.conn, a).await,
        Command::Cancel(a) => cancel::run(&cli.conn, a).await,
        Command::Cron(a) => cron::run(&cli.conn, a).await,
        Command::Scheduler => cron::scheduler(&cli.conn).await,
        Command::Pause(a) => pause::pause(&cli.conn, a).await,
        Command::Resume(a) => pause::resume(&cli.conn, a).await,
        Command::Limit(a) => limit::run(&cli.conn, a).await,
        Command::Autoscale(a) => autoscale::run(&cli.conn, a).await,
        Command::Demo(a) => demo::run(&cli.conn, a).await,
        Command::Migrate(a) => migrate::run(a).await,
        Command::Dead(a) => dead::run(&cli.conn, a).await,
        Command::Delete(a) => dead::delete(&cli.conn, a).await,
        Command::RunNow(a) => dead::run_now(&cli.conn, a).await,
        Command::Failed(a) => failed::run(&cli.conn, a).await,
        Command::Relay(a) => relay::run(&cli.conn, a).await,
        Command::Bench(a) => bench::run(&cli.conn, a).await,
        Command::Work(a) => work::run(&cli.conn, a).await,
        Command::Workers(a) => workers::run(&cli.conn, a).await,
        Command::Drain(a) => workers::drain(&cli.conn, a).await,
        #[cfg(feature = "web")]
        Command::Web(a) => web::run(&cli.conn, a).await,
        Command::Exporter(a) => exporter::run(&cli.conn, a).await,
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}

impl Cli {
    /// The log level when `RUST_LOG` is not set: the demo keeps its terminal
    /// for progress bars.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Demo(_) => "warn",
            _ => "info",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  WARN job{id=.. kind=.. queue=.. attempt=1}: weir_worker::job: job dead`
    Text,
    /// One JSON object per line: timestamp, level, target, the event's
    /// fields (message included) and, under "span", the job's id, queue, kind, attempt.
    Json,
}

/// Logs to stderr, filtered by `WEIR_LOG` (else `RUST_LOG`; default:
/// `default`). A filter that does not parse is said once, not ignored.
pub fn init_tracing(default: &str, format: LogFormat) -> Traces {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    let var = ["WEIR_LOG", "RUST_LOG"].into_iter().find_map(|v| Some((v, std::env::var(v).ok()?)));
    let filter = match var {
        Some((name, value)) => EnvFilter::try_new(&value).unwrap_or_else(|e| {
            eprintln!("weir: {name}={value:?} is not a log filter ({e}); logging at {default}");
            EnvFilter::new(default)
        }),
        None => EnvFilter::new(default),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).boxed(),
    };
    #[cfg(feature = "otel")]
    {
        // Spans go to the exporter when the environment names one; they
        // follow WEIR_LOG like the log lines (the job span is at info).
        let traces = otel::Traces::from_env();
        let otel = traces.as_ref().map(|t| t.layer());
        let _ = tracing_subscriber::registry().with(filter).with(layer).with(otel).try_init();
        traces
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
        None
    }
}

/// What [`init_tracing`] set up to flush before exit: the trace exporter
/// (feature `otel`), if any.
#[cfg(feature = "otel")]
pub type Traces = Option<otel::Traces>;
#[cfg(not(feature = "otel"))]
pub type Traces = Option<std::convert::Infallible>;

/// Exports the spans still buffered (feature `otel`); nothing otherwise.
pub async fn flush_traces(traces: Traces) {
    if let Some(t) = traces {
        #[cfg(feature = "otel")]
        t.shutdown().await;
        #[cfg(not(feature = "otel"))]
        match t {}
    }
}

/// Parses a non-negative duration flag such as `30s`; a leading `-` is the
/// clear "negative" error rather than a parse failure.
pub fn parse_duration_flag(s: &str) -> Result<std::time::Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(weir::broker::Error::NegativeDelay.to_string());
    }
    weir::broker::parse_duration(s).map_err(|e| e.to_string())
}
