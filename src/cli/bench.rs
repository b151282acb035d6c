//! `weir bench`: weir's speed and footprint on this machine, as one JSON line
//! per figure (docs/BENCHMARKS.md lists them, says what bounds each one, and
//! holds the figures measured here).
//!
//! Against `--redis URL` when given on the command line, else against a
//! private `redis-server` it starts on a free port (`WEIR_REDIS_URL` is
//! ignored, so a shared Redis is never benchmarked by accident). Keys go
//! under a fresh prefix, removed at the end.
//!
//! # Layout
//! - this file: flags, the run loop (medians over `--runs`), and the output.
//! - `server`: the private redis-server, and what Redis says it spent
//!   (`INFO commandstats`, `INFO cpu`).
//! - `child`: `weir work` child processes, their memory, and stopping them.
//! - one file per workload: `limits` (r, with every selection), `enqueue`
//!   (a, f), `drain` (b, e, f), `latency` (c), `priority` (d).
mod child;
mod drain;
mod enqueue;
mod latency;
mod limits;
mod priority;
mod server;

use super::{Cli, Conn};
use anyhow::{Context, bail};
use clap::{Args, CommandFactory, parser::ValueSource};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::ExitCode;
use weir::broker::{Broker, BrokerConfig, Clock};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Workloads to run, from a (enqueue), b (drain), c (latency),
    /// d (priority shares), e (worker memory), f (Redis cost; runs with a and b),
    /// r (the Redis's own limits; runs with every selection).
    #[arg(long, value_delimiter = ',', value_name = "a,b,...")]
    pub only: Vec<char>,
    /// Scale every job count by this factor (0.1 = a tenth).
    #[arg(short = 'n', long = "scale", value_name = "SCALE", default_value_t = 1.0)]
    pub scale: f64,
    /// Run each workload this many times and print the median of each figure.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Concurrency of each `weir work` process in the drain workloads (b, d, e).
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Drain (b) a queue that has a fleet-wide rate limit and concurrency cap
    /// set high enough never to bind, to measure what the checks cost Redis.
    #[arg(long)]
    pub limits: bool,
}

/// One figure, printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub peer: &'static str,
    pub metric: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub value: serde_json::Number,
    pub n: u64,
    pub config: String,
}

impl Figure {
    pub fn new(metric: &'static str, value: f64, n: u64, config: impl Into<String>) -> Figure {
        Figure { peer: "weir", metric, queue: None, value: number(value), n, config: config.into() }
    }

    pub fn queue(mut self, queue: &str) -> Figure {
        self.queue = Some(queue.to_string());
        self
    }

    fn value(&self) -> f64 {
        self.value.as_f64().unwrap_or(0.0)
    }
}

/// Whole numbers print as integers; others with at most three decimals.
fn number(v: f64) -> serde_json::Number {
    let rounded = (v * 1000.0).round() / 1000.0;
    if rounded.fract() == 0.0 && rounded.abs() < 9.0e15 {
        serde_json::Number::from(rounded as i64)
    } else {
        serde_json::Number::from_f64(rounded).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

/// What every workload gets: where Redis is and how big to make things.
#[derive(Debug, Clone)]
pub struct Bench {
    pub url: String,
    pub prefix: String,
    pub scale: f64,
    pub concurrency: usize,
    /// See `BenchArgs::limits`.
    pub limits: bool,
}

impl Bench {
    /// A job count scaled by `-n`, at least 1.
    pub fn scaled(&self, n: u64) -> u64 {
        ((n as f64) * self.scale).round().max(1.0) as u64
    }

    pub async fn broker(&self) -> anyhow::Result<Broker> {
        Broker::connect(&self.url, BrokerConfig { prefix: self.prefix.clone(), ..BrokerConfig::default() })
            .await
            .context("cannot connect to the bench Redis")
    }
}

pub async fn run(conn: &Conn, a: BenchArgs) -> anyhow::Result<ExitCode> {
    const ALL: [char; 7] = ['a', 'b', 'c', 'd', 'e', 'f', 'r'];
    if let Some(bad) = a.only.iter().find(|w| !ALL.contains(w)) {
        bail!("unknown workload {bad:?} in --only: use letters from a,b,c,d,e,f,r");
    }
    if !(a.scale > 0.0 && a.scale.is_finite()) {
        bail!("-n must be a positive number");
    }
    if a.runs == 0 || a.concurrency == 0 {
        bail!("--runs and --concurrency must be at least 1");
    }
    let only = |w: char| a.only.is_empty() || a.only.contains(&w);

    let given = redis_given_on_command_line();
    let private = if given { None } else { Some(super::private_redis::PrivateRedis::start().await?) };
    let url = match &private {
        Some(p) => p.url(),
        None => conn.redis.clone(),
    };
    let bench = Bench {
        url,
        prefix: format!("weirbench-{}-{}", std::process::id(), weir::broker::SystemClock.now_ms()),
        scale: a.scale,
        concurrency: a.concurrency,
        limits: a.limits,
    };
    eprintln!(
        "weir bench: Redis {} ({}), prefix {}, scale {}, {} run(s) per workload",
        weir::broker::redact_url(&bench.url),
        if private.is_some() { "private, started for this run" } else { "given with --redis" },
        bench.prefix,
        bench.scale,
        a.runs
    );

    type Workload = for<'a> fn(&'a Bench) -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<Figure>>> + 'a>>;
    // The limits first, with every selection: every other figure is read
    // as a share of them.
    let mut plan: Vec<(&str, Workload)> = vec![("r", |b| Box::pin(limits::run(b)))];
    if only('a') || only('f') {
        plan.push(("a", |b| Box::pin(enqueue::run(b))));
    }
    if only('b') || only('f') {
        plan.push(("b", |b| Box::pin(drain::throughput(b))));
    } else if only('e') {
        // Peak memory is sampled during (b): run the one-process drain.
        plan.push(("b", |b| Box::pin(drain::throughput_one(b))));
    }
    if only('c') {
        plan.push(("c", |b| Box::pin(latency::run(b))));
    }
    if only('d') {
        plan.push(("d", |b| Box::pin(priority::run(b))));
    }
    if only('e') {
        plan.push(("e", |b| Box::pin(drain::rss_growth(b))));
    }

    let workloads = async {
        let mut printed = Vec::new();
        for (name, workload) in plan {
            let mut runs: Vec<Vec<Figure>> = Vec::new();
            for i in 0..a.runs {
                eprintln!("weir bench: workload ({name}), run {}/{}", i + 1, a.runs);
                let figures = workload(&bench).await.with_context(|| format!("workload ({name})"))?;
                server::purge(&bench).await?;
                runs.push(figures);
            }
            for f in medians(runs, a.runs) {
                print_figure(&f)?;
                printed.push(f);
            }
        }
        log_shares(&printed);
        anyhow::Ok(())
    };
    // On Ctrl-C or SIGTERM the workloads are dropped, and with them the
    // `weir work` children (killed on drop) and the private server.
    let result = tokio::select! {
        r = workloads => r,
        s = interrupted() => Err(anyhow::anyhow!("interrupted by {s}")),
    };
    if private.is_none() {
        // On a shared server, leave nothing behind.
        if let Err(e) = server::purge(&bench).await {
            eprintln!("weir bench: could not remove the bench keys under {}: {e:#}", bench.prefix);
        }
    }
    drop(private);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on the first SIGINT or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    match weir_service::signal::Signals::listen() {
        Ok(signals) => {
            signals.first().await;
            signals.first_name().unwrap_or("a signal")
        }
        Err(_) => std::future::pending().await,
    }
}

/// Whether `--redis` was given on the command line (not from the
/// environment, not the default).
fn redis_given_on_command_line() -> bool {
    let Ok(m) = Cli::command().try_get_matches() else { return false };
    let sub = m.subcommand_matches("bench");
    [Some(&m), sub].into_iter().flatten().any(|m| m.value_source("redis") == Some(ValueSource::CommandLine))
}

/// The median of each figure over the runs, in the first run's order.
fn medians(runs: Vec<Vec<Figure>>, count: usize) -> Vec<Figure> {
    let mut values: BTreeMap<(String, Option<String>, String), Vec<f64>> = BTreeMap::new();
    for f in runs.iter().flatten() {
        values.entry((f.metric.to_string(), f.queue.clone(), f.config.clone())).or_default().push(f.value());
    }
    let Some(first) = runs.into_iter().next() else { return Vec::new() };
    first
        .into_iter()
        .map(|mut f| {
            let mut v = values.remove(&(f.metric.to_string(), f.queue.clone(), f.config.clone())).unwrap_or_default();
            v.sort_by(f64::total_cmp);
            if v.len() > 1 {
                let mid = v.len() / 2;
                let m = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
                f.value = number(m);
                f.config = format!("{},median_of={count}", f.config);
            }
            f
        })
        .collect()
}

/// Figures read as a share of a limit: (figure, limit).
const SHARES: [(&str, &str); 3] = [
    ("enqueue_single_jobs_per_s", "redis_roundtrip_per_s"),
    ("enqueue_concurrent_jobs_per_s", "redis_pipelined_cmds_per_s"),
    ("enqueue_bulk_jobs_per_s", "redis_pipelined_cmds_per_s"),
];

/// Logs each figure of [`SHARES`] as a share of its limit (first config of each).
fn log_shares(figures: &[Figure]) {
    let find = |metric: &str| figures.iter().find(|f| f.metric == metric).map(Figure::value);
    for (figure, limit) in SHARES {
        if let (Some(v), Some(l)) = (find(figure), find(limit))
            && l > 0.0
        {
            eprintln!("weir bench: {figure} {v:.0} = {:.1} % of {limit} {l:.0}", v * 100.0 / l);
        }
    }
}

fn print_figure(f: &Figure) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(f)?)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_integers_when_whole() {
        assert_eq!(serde_json::to_string(&number(123456.0)).unwrap(), "123456");
        assert_eq!(serde_json::to_string(&number(0.46649)).unwrap(), "0.466");
    }

    #[test]
    fn figures_print_in_the_issue_format() {
        let f = Figure::new("process_throughput_jobs_per_s", 123456.0, 100000, "concurrency=64,batch=128");
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"peer":"weir","metric":"process_throughput_jobs_per_s","value":123456,"n":100000,"config":"concurrency=64,batch=128"}"#
        );
        let f = Figure::new("priority_share_pct", 52.63, 20000, "x").queue("critical");
        assert!(serde_json::to_string(&f).unwrap().contains(r#""queue":"critical","value":52.63"#));
    }

    #[test]
    fn medians_per_figure_over_runs() {
        let run = |v: f64| vec![Figure::new("m", v, 1, "c"), Figure::new("m", v * 10.0, 1, "d")];
        let out = medians(vec![run(3.0), run(1.0), run(2.0)], 3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].value(), 2.0);
        assert_eq!(out[1].value(), 20.0);
        assert_eq!(out[0].config, "c,median_of=3");
        let single = medians(vec![run(5.0)], 1);
        assert_eq!(single[0].config, "c");
    }
}
