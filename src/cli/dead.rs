//! `weir dead list|show|retry|delete`: the dead sets Redis holds (no store
//! needed), `weir delete ID` for one pending, delayed or dead job, and
//! `weir run-now ID` for one delayed job.
use super::Conn;
use super::dead_filter::Filters;
use super::failed::short;
use super::migrate::format_time;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::collections::BTreeSet;
use std::process::ExitCode;
use weir::QueueName;
use weir::broker::bounds::MAX_DEAD_BATCH;
use weir::broker::{Broker, DeadCursor, DeadJob, JobState};

#[derive(Debug, Args)]
pub struct DeadArgs {
    #[command(subcommand)]
    pub command: DeadCommand,
}

#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// Dead jobs, newest death first: id, queue, kind, died, attempts, last error.
    List(ListArgs),
    /// One dead job: its envelope and every failed attempt.
    Show(ShowArgs),
    /// Move dead jobs back to pending with their attempts reset (by id, or --all that match).
    Retry(ActArgs),
    /// Delete dead jobs with their data (by id, or --all that match).
    Delete(ActArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// Most jobs to print (at most 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=MAX_DEAD_BATCH as i64))]
    pub limit: u32,
    /// Go on after this place, as the previous page printed it (needs --queue).
    #[arg(long, requires = "queue")]
    pub after: Option<String>,
    /// Print `{"jobs":[...],"next":CURSOR|null}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dead job's id.
    pub id: String,
    /// The job's queue (default: look in every queue).
    #[arg(long)]
    pub queue: Option<QueueName>,
    /// Print the job as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(false).args(["ids", "all"])))]
pub struct ActArgs {
    /// Ids of dead jobs.
    pub ids: Vec<String>,
    /// Every dead job that matches the filters (the count is printed first).
    #[arg(long)]
    pub all: bool,
    /// With --all: print how many match, change nothing.
    #[arg(long, requires = "all")]
    pub dry_run: bool,
    #[command(flatten)]
    pub filters: Filters,
}

/// One job by id: `weir delete ID`, `weir run-now ID`.
#[derive(Debug, Args)]
pub struct JobIdArgs {
    /// The job's id.
    pub id: String,
    /// The job's queue (default: look in every queue).
    #[arg(long)]
    pub queue: Option<QueueName>,
}

/// The queues to work on: the one named, or every queue weir knows.
async fn queues(broker: &Broker, queue: &Option<QueueName>) -> anyhow::Result<Vec<QueueName>> {
    Ok(match queue {
        Some(q) => vec![q.clone()],
        None => broker.queues().await?,
    })
}

pub async fn run(conn: &Conn, a: DeadArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    match a.command {
        DeadCommand::List(l) => list(&broker, l).await,
        DeadCommand::Show(s) => show(&broker, s).await,
        DeadCommand::Retry(r) => act(&broker, r, Act::Retry).await,
        DeadCommand::Delete(d) => act(&broker, d, Act::Delete).await,
    }
}

async fn list(broker: &Broker, l: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = l.filters.for_redis(broker.redis_time_ms().await?);
    let after = l.after.as_deref().map(DeadCursor::parse).transpose()?;
    let limit = l.limit as usize;
    let mut jobs: Vec<DeadJob> = Vec::new();
    let mut next = None;
    for q in queues(broker, &l.filters.queue).await? {
        let page = broker.dead_page(&q, &filter, after.as_ref(), limit).await?;
        jobs.extend(page.jobs);
        next = page.next;
    }
    // Across queues: the newest `limit` of each queue's newest `limit`.
    jobs.sort_by(|a, b| b.died_at_ms.cmp(&a.died_at_ms).then_with(|| b.id.cmp(&a.id)));
    let more = jobs.len() > limit || (l.filters.queue.is_some() && next.is_some());
    jobs.truncate(limit);
    let next = if l.filters.queue.is_some() { next } else { None };
    if l.json {
        let v = serde_json::json!({ "jobs": jobs, "next": next.map(|c| c.to_string()) });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<26} {:<16} {:<20} {:<19} {:>8}  LAST ERROR", "ID", "QUEUE", "KIND", "DIED (UTC)", "ATTEMPTS");
    for j in &jobs {
        println!(
            "{:<26} {:<16} {:<20} {:<19} {:>8}  {}",
            j.id,
            j.queue,
            j.kind.as_deref().unwrap_or("(damaged)"),
            format_time(j.died_at_ms),
            j.attempts,
            short(j.last_error().unwrap_or(""), 60)
        );
    }
    match (&next, more) {
        (Some(c), _) => println!("more: --after {c}"),
        (None, true) => println!("more match: raise --limit, or name --queue to page with --after"),
        (None, false) => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(broker: &Broker, s: ShowArgs) -> anyhow::Result<ExitCode> {
    let mut found = None;
    for q in queues(broker, &s.queue).await? {
        if let Some(job) = broker.dead_job(&q, &s.id).await? {
            found = Some(job);
            break;
        }
    }
    let Some(job) = found else {
        let place = s.queue.map(|q| format!("queue {q}")).unwrap_or_else(|| "any queue".into());
        bail!("no dead job {} in {place}", s.id);
    };
    if s.json {
        println!("{}", serde_json::to_string(&job)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("id:        {}", job.id);
    println!("queue:     {}", job.queue);
    println!("kind:      {}", job.kind.as_deref().unwrap_or("(damaged)"));
    println!("died:      {} UTC", format_time(job.died_at_ms));
    let max = job.max_attempts.map(|m| format!(" of {m}")).unwrap_or_default();
    println!("attempts:  {}{max}", job.attempts);
    println!("envelope:  {}", job.envelope.as_deref().unwrap_or("(gone)"));
    println!("errors:    {}", job.errors.len());
    for e in &job.errors {
        println!("  attempt {} at {} UTC: {}", e.attempt, format_time(e.at), e.error);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Retry,
    Delete,
}

impl Act {
    fn done(self) -> &'static str {
        match self {
            Act::Retry => "retried",
            Act::Delete => "deleted",
        }
    }
}

async fn act(broker: &Broker, a: ActArgs, act: Act) -> anyhow::Result<ExitCode> {
    let queues = queues(broker, &a.filters.queue).await?;
    if !a.all {
        if a.filters.any() {
            bail!("--kind, --error, --since and --older-than select jobs for --all; with ids, only --queue applies");
        }
        // Each id is looked for in every queue's dead set (one script call per queue).
        let ids: Vec<String> = a.ids.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let mut n = 0;
        for q in &queues {
            n += match act {
                Act::Retry => broker.retry_dead(q, &ids, |_| {}).await?,
                Act::Delete => broker.delete_dead(q, &ids, |_| {}).await?,
            };
        }
        println!("{} {n} dead jobs", act.done());
        let missing = (ids.len() as u64).saturating_sub(n);
        if missing > 0 {
            bail!("{missing} of the {} ids given are not dead jobs (weir dead list shows them)", ids.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let filter = a.filters.for_redis(broker.redis_time_ms().await?);
    let mut counts = Vec::new();
    for q in queues {
        let n = broker.dead_count(&q, &filter).await?;
        if n > 0 {
            counts.push((q, n));
        }
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    println!("{total} dead jobs match");
    for (q, n) in &counts {
        println!("  {q}: {n}");
    }
    if a.dry_run || total == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let mut done = 0;
    for (q, n) in counts {
        let report = |k: u64| println!("  {q}: {} {k} of {n}", act.done());
        done += match act {
            Act::Retry => broker.retry_dead_matching(&q, &filter, report).await,
            Act::Delete => broker.delete_dead_matching(&q, &filter, report).await,
        }
        .with_context(|| format!("queue {q}: after {done} jobs"))?;
    }
    println!("{} {done} dead jobs", act.done());
    Ok(ExitCode::SUCCESS)
}

/// `weir delete ID`: one pending, delayed or dead job, with its data.
pub async fn delete(conn: &Conn, a: JobIdArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    for q in queues(&broker, &a.queue).await? {
        if let Some(state) = broker.delete(&q, &a.id).await? {
            println!("deleted {} (was {} in {q})", a.id, state.as_str());
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(info) = broker.job(&q, &a.id).await?
            && info.state == Some(JobState::Active)
        {
            bail!("job {} in {q} is running; it belongs to its worker and cannot be deleted", a.id);
        }
    }
    let place = a.queue.map(|q| format!("queue {q}")).unwrap_or_else(|| "any queue".into());
    bail!("no pending, delayed or dead job {} in {place}", a.id)
}

/// `weir run-now ID`: one delayed job (scheduled, or waiting for its retry)
/// made pending at once, its attempts kept.
pub async fn run_now(conn: &Conn, a: JobIdArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    for q in queues(&broker, &a.queue).await? {
        if broker.run_now(&q, &a.id).await? {
            println!("{} is pending in {q}: it runs now (was delayed)", a.id);
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(state) = broker.job(&q, &a.id).await?.and_then(|info| info.state) {
            match state {
                JobState::Dead => bail!("job {} in {q} is dead: retry it with `weir dead retry {}`", a.id, a.id),
                other => bail!("job {} in {q} is {}, not delayed: nothing to do", a.id, other.as_str()),
            }
        }
    }
    let place = a.queue.map(|q| format!("queue {q}")).unwrap_or_else(|| "any queue".into());
    bail!("no delayed job {} in {place}", a.id)
}
