//! `weir cancel ID [--json]`: cancel one job by id.
use super::Conn;
use clap::Args;
use std::process::ExitCode;
use weir::broker::Cancel;

/// Exit code when the job is already finished (done or dead): nothing to cancel.
pub const EXIT_FINISHED: u8 = 3;
/// Exit code when no queue holds a job with this id.
pub const EXIT_UNKNOWN: u8 = 4;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The job's id (as `weir enqueue` printed it).
    pub id: String,
    /// Print what happened as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(conn: &Conn, a: CancelArgs) -> anyhow::Result<ExitCode> {
    let broker = conn.connect().await?;
    let outcome = broker.cancel(&a.id).await?;
    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        v["id"] = a.id.clone().into();
        println!("{v}");
    } else {
        let id = &a.id;
        match &outcome {
            Cancel::Removed { queue, was } => println!("cancelled {id}: removed (was {} in {queue})", was.as_str()),
            Cancel::Requested { queue, worker, again } => {
                let by = worker.as_deref().map(|w| format!(" by worker {w}")).unwrap_or_default();
                let again = if *again { " (requested before)" } else { "" };
                println!(
                    "cancel requested for {id}{again}: running in {queue}{by}; it ends dead (cancelled) when stopped"
                );
            }
            Cancel::Dead { queue } => eprintln!("weir: job {id} in {queue} is already dead; nothing to cancel"),
            Cancel::Done { queue } => eprintln!("weir: job {id} in {queue} is already done; nothing to cancel"),
            Cancel::Unknown => eprintln!("weir: no job {id} in any queue (never enqueued, or gone)"),
            other => eprintln!("weir: job {id}: {other:?}"),
        }
    }
    Ok(match outcome {
        Cancel::Removed { .. } | Cancel::Requested { .. } => ExitCode::SUCCESS,
        Cancel::Unknown => ExitCode::from(EXIT_UNKNOWN),
        _ => ExitCode::from(EXIT_FINISHED),
    })
}
