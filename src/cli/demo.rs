//! `weir demo`: the whole system on a real Redis. A mixed workload on four
//! weighted queues (jobs that fail and retry, jobs that die, delayed jobs),
//! the autoscaler in sidecar mode growing and shrinking a fleet of real
//! `weir work` processes, live progress, and a summary; beside it, a
//! rate-limited queue, a job stopped by `--timeout` and a worker recycled
//! by `--max-jobs` (demo_acts.rs).
//!
//! Redis: `--redis`/`WEIR_REDIS_URL` when given; else 127.0.0.1:6379 when it
//! answers; else a private `redis-server` on a free port, stopped at the end.
//! The demo writes under a fresh key prefix and deletes it at the end, so it
//! never disturbs other data in a shared Redis.
use super::Conn;
use super::demo_acts::{self as acts, MAX_JOBS, RATED, SLOW, TIMEOUT};
use super::private_redis::PrivateRedis;
use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use weir::QueueName;
use weir::broker::{Backoff, Broker, BrokerConfig, NewJob, QueueStats, RunAt};
use weir_supervisor::fleet::{self, Launcher};
use weir_supervisor::{AutoscaleArgs, history};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// (queue, weight, jobs)
const QUEUES: [(&str, u32, u64); 4] =
    [("critical", 100, 1_200), ("transactions", 50, 1_500), ("webhooks", 30, 1_500), ("default", 10, 1_800)];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Most workers the autoscaler may run.
    #[arg(long, default_value_t = 6)]
    pub max_workers: u32,
    /// Give up (and fail) if the demo has not finished by then.
    #[arg(long, default_value = "110s", value_parser = super::parse_duration_flag)]
    pub deadline: Duration,
}

async fn pick_redis(conn: &Conn) -> anyhow::Result<(String, Option<PrivateRedis>)> {
    if conn.redis != DEFAULT_URL {
        return Ok((conn.redis.clone(), None));
    }
    let quick = BrokerConfig { connect_timeout: Duration::from_secs(1), ..BrokerConfig::default() };
    if Broker::connect(DEFAULT_URL, quick).await.is_ok() {
        return Ok((DEFAULT_URL.to_string(), None));
    }
    let private = PrivateRedis::start().await.context("no Redis answers at 127.0.0.1:6379")?;
    Ok((private.url(), Some(private)))
}

/// A small deterministic generator, so every demo run has the same mix.
struct Mix(u64);

impl Mix {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn workload() -> Vec<NewJob> {
    let mut mix = Mix(0x9e37_79b9_7f4a_7c15);
    let mut jobs = Vec::new();
    for (queue, _, n) in QUEUES {
        let queue = QueueName::new(queue).expect("demo queue names are valid");
        for _ in 0..n {
            let roll = mix.next(100);
            let ms = 2 + mix.next(14);
            let (kind, payload) = match roll {
                0 => ("weir.fail", serde_json::json!({"message": "card declined", "fatal": true})),
                1 => ("weir.fail", serde_json::json!({"message": "upstream 500"})),
                2..=4 => ("weir.flaky", serde_json::json!({"fail_times": 1 + mix.next(2), "ms": ms})),
                _ => ("weir.sleep", serde_json::json!({"ms": ms})),
            };
            let mut job =
                NewJob::json(queue.clone(), kind, serde_json::value::to_raw_value(&payload).expect("json payload"));
            job.max_attempts = 3;
            job.backoff = Some(Backoff::Fixed(Duration::from_millis(500)));
            if mix.next(10) == 0 {
                job.run_at = RunAt::After(Duration::from_millis(2_000 + mix.next(8_000)));
            }
            jobs.push(job);
        }
    }
    jobs
}

fn finished(s: &QueueStats) -> u64 {
    s.processed + s.dead
}

pub async fn run(conn: &Conn, a: DemoArgs) -> anyhow::Result<ExitCode> {
    let (url, private) = pick_redis(conn).await?;
    let prefix = format!("{}-demo-{}", conn.prefix, ulid::Ulid::new().to_string().to_lowercase());
    let broker = Broker::connect(&url, BrokerConfig { prefix: prefix.clone(), ..BrokerConfig::default() }).await?;
    let where_ = if private.is_some() { "a private redis-server" } else { "Redis" };
    println!(
        "weir demo: {} jobs on 4 weighted queues, a rate-limited one ({} at {}) and one that hangs, {where_} at {}, key prefix {prefix}",
        total_jobs(),
        RATED.0,
        acts::RATE,
        broker.url()
    );
    let result = demo(&broker, &url, &prefix, &a).await;
    cleanup(&broker, &prefix).await;
    drop(private);
    result
}

/// Every job the demo enqueues: the mix, the rated queue's, the hanging one.
fn total_jobs() -> u64 {
    QUEUES.iter().map(|(_, _, n)| n).sum::<u64>() + RATED.2 + 1
}

async fn demo(broker: &Broker, url: &str, prefix: &str, a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // The four weighted queues first (the shares are theirs), then the rated and the slow one.
    let queues: Vec<QueueName> =
        QUEUES.iter().map(|(q, _, _)| q).chain([&RATED.0, &SLOW.0]).map(|q| acts::queue(q)).collect();
    acts::limit(broker).await?;
    broker.enqueue_many(workload()).await?;
    let hang_id = broker.enqueue_many(acts::jobs()).await?.pop().context("the hanging job's id")?.id;

    // The autoscaler, in sidecar mode, in this process; its workers are real `weir work` processes.
    let spec: String = QUEUES
        .iter()
        .map(|(q, w, _)| (q, w))
        .chain([(&RATED.0, &RATED.1), (&SLOW.0, &SLOW.1)])
        .map(|(q, w)| format!("{q}={w}"))
        .collect::<Vec<_>>()
        .join(",");
    let args = AutoscaleArgs {
        queues: Some(spec.parse().map_err(anyhow::Error::msg)?),
        strict: false,
        min: 1,
        max: a.max_workers,
        max_shift: None,
        clear_within: Duration::from_secs(5),
        cooldown: Duration::from_secs(3),
        tick: Duration::from_secs(1),
        concurrency: 8,
        worker_cmd: None,
        once: false,
        dry_run: false,
        json: false,
        scale_cmd: None,
        history: false,
    };
    let pool = args.queues.clone().expect("set above");
    let policy = args.policy().map_err(anyhow::Error::msg)?;
    let launcher = Launcher {
        shell: None,
        exe: std::env::current_exe().context("cannot find this binary to start workers")?,
        // The demo's jobs are the builtin test kinds (weir.flaky, weir.sleep, weir.fail).
        args: [
            args.default_worker_args(&pool),
            ["--builtin-kinds", "--heartbeat", "1s", "--timeout", TIMEOUT].map(String::from).to_vec(),
        ]
        .concat(),
        redis_url: url.to_string(),
        prefix: prefix.to_string(),
        env: vec![("RUST_LOG".into(), "error".into())],
    };
    // One more worker, outside the autoscaler: recycled by --max-jobs, started again by the demo.
    let recycled = Launcher {
        args: [launcher.args.clone(), vec!["--max-jobs".into(), MAX_JOBS.to_string()]].concat(),
        ..launcher.clone()
    };
    let (recycle_tx, recycle_rx) = tokio::sync::oneshot::channel::<()>();
    let mut recycle_tx = Some(recycle_tx);
    let recycler = tokio::spawn(acts::recycle(recycled, recycle_rx));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sidecar = {
        let broker = broker.clone();
        tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            fleet::run_sidecar(&broker, &args, &policy, &pool, &launcher, stop, std::future::pending()).await
        })
    };

    let tty = std::io::stdout().is_terminal();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>13} [{bar:32}] {pos:>5}/{len:5} {msg}")
        .expect("valid template")
        .progress_chars("=> ");
    let queue_bars: Vec<ProgressBar> = QUEUES
        .iter()
        .chain(&[RATED])
        .map(|(q, w, n)| {
            let bar = bars.add(ProgressBar::new(*n).with_style(style.clone()).with_prefix(format!("{q}({w})")));
            if !tty {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            bar
        })
        .collect();
    let status = bars.add(ProgressBar::new_spinner());
    if !tty {
        status.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    let mut shares_sample: Option<Vec<u64>> = None;
    let mut max_workers = 0;
    let mut last_plain = Instant::now() - Duration::from_secs(1);
    let mut workers = 0;
    // Whatever happens while watching (Redis gone, the deadline), the fleet
    // is stopped below, so the demo never leaves workers behind.
    let watched: anyhow::Result<Instant> = async {
        let all_done_at = loop {
            let stats = stats_of(broker, &queues).await?;
            workers =
                broker.workers(weir::broker::registry::STALE_AFTER).await?.into_iter().filter(|w| !w.drain).count();
            max_workers = max_workers.max(workers);
            if stats[..QUEUES.len()].iter().all(|s| s.pending > 0) {
                shares_sample = Some(stats[..QUEUES.len()].iter().map(|s| s.processed).collect());
            }
            let done: u64 = stats.iter().map(finished).sum();
            let retries: u64 = stats.iter().map(|s| s.failed.saturating_sub(s.dead)).sum();
            let dead: u64 = stats.iter().map(|s| s.dead).sum();
            for (bar, s) in queue_bars.iter().zip(&stats) {
                bar.set_position(finished(s));
                bar.set_message(format!("pending {:>5}  delayed {:>4}  running {:>3}", s.pending, s.delayed, s.active));
            }
            let line = format!(
                "workers {workers}  done {done}/{}  retries {retries}  dead {dead}  {:.0} jobs/s",
                total_jobs(),
                done as f64 / started.elapsed().as_secs_f64()
            );
            status.set_message(line.clone());
            if !tty && last_plain.elapsed() >= Duration::from_secs(1) {
                println!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64());
                last_plain = Instant::now();
            }
            if done == total_jobs() && stats.iter().all(|s| s.active == 0) {
                break Instant::now();
            }
            if started.elapsed() > a.deadline {
                bail!("the demo did not finish within {:?}", a.deadline);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let elapsed_work = all_done_at - started;
        // The recycled worker goes first, so the fleet that scales down is the autoscaler's.
        if let Some(tx) = recycle_tx.take() {
            let _ = tx.send(());
        }
        // Let the autoscaler step the fleet back down to --min before stopping it.
        status.set_message("backlog cleared: waiting for the autoscaler to scale back down to 1 worker".to_string());
        if !tty {
            println!(
                "backlog cleared after {:.1}s; waiting for the fleet to scale back down",
                elapsed_work.as_secs_f64()
            );
        }
        while workers > 1 && started.elapsed() < a.deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            workers =
                broker.workers(weir::broker::registry::STALE_AFTER).await?.into_iter().filter(|w| !w.drain).count();
            status.set_message(format!("backlog cleared: workers {workers}"));
        }
        Ok(all_done_at)
    }
    .await;
    if let Some(tx) = recycle_tx.take() {
        let _ = tx.send(());
    }
    let _ = stop_tx.send(());
    let fleet = sidecar.await.context("autoscaler task")?;
    let restarts = recycler.await.context("the --max-jobs worker's task")?;
    let all_done_at = watched?;
    fleet?;
    let restarts = restarts?;
    let elapsed_work = all_done_at - started;
    for bar in &queue_bars {
        bar.finish();
    }
    status.finish_and_clear();

    let stats = stats_of(broker, &queues).await?;
    let decisions = history::recent(broker, history::KEEP as usize).await?;
    let ups = decisions.iter().filter(|e| e.decision.desired > e.decision.current).count();
    let downs = decisions.iter().filter(|e| e.decision.desired < e.decision.current).count();
    let processed: u64 = stats.iter().map(|s| s.processed).sum();
    let retries: u64 = stats.iter().map(|s| s.failed.saturating_sub(s.dead)).sum();
    let dead: u64 = stats.iter().map(|s| s.dead).sum();
    println!();
    println!("summary");
    println!(
        "  {} jobs finished in {:.1}s: {:.0} jobs/s ({processed} done, {dead} dead after their attempts or at once)",
        processed + dead,
        elapsed_work.as_secs_f64(),
        (processed + dead) as f64 / elapsed_work.as_secs_f64()
    );
    println!("  retries: {retries} failed attempts were retried (backoff fixed:500ms, 3 attempts)");
    if let Some(sample) = shares_sample {
        let total: u64 = sample.iter().sum::<u64>().max(1);
        let weights: u32 = QUEUES.iter().map(|(_, w, _)| w).sum();
        println!("  shares while every queue had work ({total} jobs):");
        for ((q, w, _), n) in QUEUES.iter().zip(sample) {
            println!(
                "    {q:<13} {:>5.1}%  (weight {w}: {:.1}%)",
                n as f64 * 100.0 / total as f64,
                *w as f64 * 100.0 / weights as f64
            );
        }
    }
    println!("  {}", acts::rate_line(broker).await?);
    println!("  {}", acts::timeout_line(broker, &hang_id).await?);
    println!("  {}", acts::recycle_line(restarts));
    println!("  autoscaler: {ups} scale-ups, {downs} scale-downs, up to {max_workers} workers, back to 1 and drained");
    let lost = total_jobs() - processed - dead;
    if lost != 0 {
        bail!("{lost} jobs unaccounted for");
    }
    Ok(ExitCode::SUCCESS)
}

async fn stats_of(broker: &Broker, queues: &[QueueName]) -> anyhow::Result<Vec<QueueStats>> {
    let mut out = Vec::with_capacity(queues.len());
    for q in queues {
        out.push(broker.stats(q).await?);
    }
    Ok(out)
}

/// Deletes every key under the demo's prefix (on every master of a cluster).
async fn cleanup(broker: &Broker, prefix: &str) {
    if let Err(e) = broker.delete_prefix(prefix).await {
        eprintln!("weir demo: could not delete the demo's keys under {prefix}: {e}");
    }
}
