//! `weir failed list|show|retry|delete|purge`: the dead-job archive in the store.
use super::Conn;
use super::dead_filter::{FILTER_FLAGS, Filters};
use super::migrate::{StoreArg, format_time};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;
use weir::broker::bounds;
use weir_store::{DeadFilter, DeadJob, RetryOutcome};

#[derive(Debug, Args)]
pub struct FailedArgs {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(subcommand)]
    pub command: FailedCommand,
}

#[derive(Debug, Subcommand)]
pub enum FailedCommand {
    /// Archived dead jobs, newest first.
    List(ListArgs),
    /// One archived job: its payload, every error with its time, its retries.
    Show(ShowArgs),
    /// Enqueue archived jobs again, attempts reset (one by id, or --all that match).
    Retry(RetryArgs),
    /// Delete one archived job by id.
    Delete(DeleteArgs),
    /// Delete archived jobs that died longer ago than --older-than.
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// Most jobs to print.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The archived job's id.
    pub id: String,
    /// Print the record as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
pub struct RetryArgs {
    /// The archived job's id (or --all).
    #[arg(conflicts_with_all = FILTER_FLAGS)]
    pub id: Option<String>,
    /// Every archived job not retried since it died that matches the filters.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub filters: Filters,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The archived job's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Age past which archived jobs are deleted, such as 30d.
    #[arg(long, value_parser = super::parse_duration_flag)]
    pub older_than: Duration,
}

pub async fn run(conn: &Conn, a: FailedArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.connect().await?;
    let now = weir_store::store::now_ms();
    match a.command {
        FailedCommand::List(l) => {
            let filter = l.filters.for_store(now, l.limit);
            let jobs = store.dead_jobs(&filter).await?;
            if l.json {
                println!("{}", serde_json::to_string(&jobs)?);
            } else {
                print_list(&jobs);
            }
        }
        FailedCommand::Show(s) => {
            let job = store.dead_job(&s.id).await?.ok_or_else(|| weir_store::Error::NotFound(s.id.clone()))?;
            let errors = store.dead_job_errors(&s.id).await?;
            if s.json {
                let mut v = serde_json::to_value(&job)?;
                v["errors"] = serde_json::to_value(&errors)?;
                println!("{v}");
            } else {
                print_job(&job, &errors);
            }
        }
        FailedCommand::Retry(r) => {
            let broker = conn.connect().await?;
            if let Some(id) = r.id {
                match store.retry_dead(&broker, &id).await? {
                    RetryOutcome::Enqueued => println!("re-enqueued {id}"),
                    RetryOutcome::AlreadyQueued { holder } if holder == id => {
                        println!("{id} is still in Redis; nothing enqueued")
                    }
                    RetryOutcome::AlreadyQueued { holder } => {
                        println!("job {holder} holds {id}'s unique key; nothing enqueued")
                    }
                }
            } else {
                let filter = r.filters.for_store(now, DeadFilter::default().limit);
                let s = store.retry_dead_all(&broker, &filter).await?;
                println!(
                    "re-enqueued {} jobs ({} still in Redis, {} not retryable: damaged)",
                    s.enqueued, s.already_queued, s.not_retryable
                );
            }
        }
        FailedCommand::Delete(d) => {
            if !store.delete_dead(&d.id).await? {
                return Err(weir_store::Error::NotFound(d.id).into());
            }
            println!("deleted archived job {}", d.id);
        }
        FailedCommand::Purge(p) => {
            let before = bounds::ms_before(now, p.older_than);
            let n = store.purge_dead(before).await?;
            println!("purged {n} archived jobs that died before {} UTC", format_time(before));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn kind(job: &DeadJob) -> &str {
    if job.kind.is_empty() { "(damaged)" } else { &job.kind }
}

/// The first line of `s`, at most `max` characters.
pub(super) fn short(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max || s.contains('\n') {
        format!("{}…", line.chars().take(max.saturating_sub(1)).collect::<String>())
    } else {
        line.to_string()
    }
}

fn print_list(jobs: &[DeadJob]) {
    println!(
        "{:<26} {:<16} {:<20} {:<19} {:>8} {:>7}  LAST ERROR",
        "ID", "QUEUE", "KIND", "DIED (UTC)", "ATTEMPTS", "RETRIES"
    );
    for j in jobs {
        println!(
            "{:<26} {:<16} {:<20} {:<19} {:>8} {:>7}  {}",
            j.id,
            j.queue,
            kind(j),
            format_time(j.died_at),
            j.attempts,
            j.retry_count,
            short(j.last_error.as_deref().unwrap_or(""), 60)
        );
    }
}

fn print_job(job: &DeadJob, errors: &[weir_store::ArchivedError]) {
    let time = |t: Option<i64>| t.map(|t| format!("{} UTC", format_time(t))).unwrap_or_else(|| "-".into());
    println!("id:        {}", job.id);
    println!("queue:     {}", job.queue);
    println!("kind:      {}", kind(job));
    println!("codec:     {}", job.codec.as_deref().unwrap_or("-"));
    println!("enqueued:  {}", time(job.enqueued_at));
    println!("died:      {}", time(Some(job.died_at)));
    let max = job.max_attempts.map(|m| format!(" of {m}")).unwrap_or_default();
    println!("attempts:  {}{max}", job.attempts);
    match job.retried_at {
        Some(t) => println!("retried:   {} time(s), last {}", job.retry_count, time(Some(t))),
        None => println!("retried:   never"),
    }
    match &job.payload {
        Some(p) => println!("payload:   {p}"),
        None => {
            println!("payload:   (cannot be decoded: damaged envelope; raw envelope below)");
            println!("envelope:  {}", job.envelope.as_deref().unwrap_or(""));
        }
    }
    println!("errors:    {}", errors.len());
    for e in errors {
        println!("  attempt {} at {}: {}", e.attempt, time(Some(e.at)), e.error);
    }
}
