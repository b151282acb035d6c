//! `weir cron add|list|remove|pause|resume|run` (periodic jobs) and `weir
//! scheduler` (a scheduler on its own). docs/CRON.md documents them.
use super::Conn;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::process::ExitCode;
use weir::QueueName;
use weir::broker::{CatchUp, Schedule, ScheduleInfo};

#[derive(Debug, Args)]
pub struct CronArgs {
    #[command(subcommand)]
    pub command: CronCommand,
}

#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Add a schedule: a job enqueued at every tick of an expression.
    Add(AddArgs),
    /// List the schedules: expression, zone, queue, kind, next run, last run, last job id.
    List {
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Remove a schedule (jobs it enqueued stay).
    Remove(NameArg),
    /// Stop enqueueing a schedule's ticks (ticks while paused are never caught up).
    Pause(NameArg),
    /// Enqueue a paused schedule's ticks again, from the next one.
    Resume(NameArg),
    /// Enqueue a schedule's job once, now, and print its id.
    Run(NameArg),
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// The schedule's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The schedule's name: 1-40 characters from [A-Za-z0-9._-].
    pub name: String,
    /// 5 crontab fields (m h dom mon dow), 6 with seconds first, an alias
    /// (@hourly, @daily, @weekly, @monthly, @yearly) or @every D (D >= 1s).
    #[arg(long)]
    pub schedule: String,
    /// IANA time zone of the expression (Europe/Paris); default UTC.
    #[arg(long)]
    pub tz: Option<String>,
    /// The queue each tick's job goes to.
    #[arg(long, default_value = "default")]
    pub queue: QueueName,
    /// The kind of each tick's job (the handler that runs it).
    #[arg(long)]
    pub kind: String,
    /// The job's payload, as JSON.
    #[arg(long, default_value = "{}")]
    pub json: String,
    /// Attempts each enqueued job gets.
    #[arg(long, default_value_t = weir::broker::envelope::DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// Ticks missed while no scheduler ran: none, last (the most recent, once), all (at most 1,000).
    #[arg(long, default_value = "last")]
    pub catch_up: CatchUp,
    /// Replace a schedule of the same name (the change applies from its next tick).
    #[arg(long)]
    pub replace: bool,
}

pub async fn run(conn: &Conn, a: CronArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        CronCommand::Add(a) => add(conn, a).await,
        CronCommand::List { json } => list(conn, json).await,
        CronCommand::Remove(n) => {
            conn.connect().await?.remove_schedule(&n.name).await?;
            println!("removed {}", n.name);
            Ok(ExitCode::SUCCESS)
        }
        CronCommand::Pause(n) => pause(conn, &n.name, true).await,
        CronCommand::Resume(n) => pause(conn, &n.name, false).await,
        CronCommand::Run(n) => {
            let job = conn.connect().await?.run_schedule(&n.name).await?;
            println!("{}", job.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn add(conn: &Conn, a: AddArgs) -> anyhow::Result<ExitCode> {
    let payload = serde_json::value::RawValue::from_string(a.json.clone())
        .map_err(|e| anyhow::anyhow!("--json is not valid JSON: {e}"))?;
    let mut s = Schedule::new(&a.name, &a.schedule, &a.queue, &a.kind, payload);
    s.tz = a.tz;
    s.catch_up = a.catch_up;
    s.max_attempts = a.max_attempts;
    weir::broker::bounds::max_attempts("--max-attempts", s.max_attempts)?;
    // Bad input is one line before anything connects.
    s.compile()?;
    conn.connect().await?.add_schedule(s, a.replace).await?;
    println!("{} {}", if a.replace { "replaced" } else { "added" }, a.name);
    Ok(ExitCode::SUCCESS)
}

async fn pause(conn: &Conn, name: &str, paused: bool) -> anyhow::Result<ExitCode> {
    let changed = conn.connect().await?.pause_schedule(name, paused).await?;
    let what = if paused { "paused" } else { "resumed" };
    if changed {
        println!("{what} {name}");
    } else {
        println!("already {what}: {name}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(conn: &Conn, json: bool) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    let all = broker.schedule_infos().await?;
    if !json {
        println!(
            "{:<20} {:<18} {:<16} {:<12} {:<16} {:<7} {:<25} {:<25} LAST JOB",
            "NAME", "SCHEDULE", "TZ", "QUEUE", "KIND", "CATCHUP", "NEXT RUN", "LAST RUN"
        );
    }
    let mut damaged = false;
    for (name, info) in all {
        match info {
            Ok(i) if json => println!("{}", serde_json::to_string(&i)?),
            Ok(i) => print_row(&i),
            Err(e) => {
                damaged = true;
                eprintln!("weir: schedule {name}: {e}");
            }
        }
    }
    Ok(if damaged { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_row(i: &ScheduleInfo) {
    let s = &i.schedule;
    let at = |t: Option<i64>| t.map_or("-".to_string(), weir::broker::cron::format_utc);
    let next = if s.paused { "paused".to_string() } else { at(i.next_run) };
    println!(
        "{:<20} {:<18} {:<16} {:<12} {:<16} {:<7} {:<25} {:<25} {}",
        s.name,
        s.expr,
        s.tz.as_deref().unwrap_or("UTC"),
        s.queue,
        s.kind,
        s.catch_up.to_string(),
        next,
        at(i.last_run),
        i.last_job_id.as_deref().unwrap_or("-")
    );
}

/// `weir scheduler`: a scheduler alone, until SIGTERM/SIGINT.
pub async fn scheduler(conn: &Conn) -> anyhow::Result<ExitCode> {
    let (first, _second) = weir_worker::signal::shutdown_signals().context("cannot listen for signals")?;
    let broker = conn.connect().await?;
    let scheduler = weir_worker::scheduler::Scheduler::default();
    scheduler.start(broker);
    tracing::info!("scheduler started");
    first.await;
    scheduler.stop().await;
    Ok(ExitCode::SUCCESS)
}
