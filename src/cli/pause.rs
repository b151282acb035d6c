//! `weir pause Q` and `weir resume Q`, and the known-queue check they share
//! with `weir limit set`.
use super::Conn;
use clap::Args;
use std::process::ExitCode;
use weir::QueueName;
use weir::broker::Broker;

#[derive(Debug, Args)]
pub struct QueueArg {
    /// The queue.
    pub queue: QueueName,
    /// Create the queue when it is not known yet (nothing was ever
    /// enqueued to it); without it, an unknown queue is refused.
    #[arg(long)]
    pub create: bool,
}

pub async fn pause(conn: &Conn, a: QueueArg) -> anyhow::Result<ExitCode> {
    let b = conn.connect().await?;
    known(&b, &a.queue, a.create).await?;
    b.pause(&a.queue).await?;
    println!("paused {}", a.queue);
    Ok(ExitCode::SUCCESS)
}

pub async fn resume(conn: &Conn, a: QueueArg) -> anyhow::Result<ExitCode> {
    let b = conn.connect().await?;
    known(&b, &a.queue, a.create).await?;
    let was = b.resume(&a.queue).await?;
    println!("{} {}", if was { "resumed" } else { "was not paused:" }, a.queue);
    Ok(ExitCode::SUCCESS)
}

/// Refuses a queue the broker does not know ([`Broker::has_queue`]), or with
/// `create` makes it known, so a mistyped name never stores settings
/// silently.
pub async fn known(b: &Broker, queue: &QueueName, create: bool) -> anyhow::Result<()> {
    if create {
        if b.create_queue(queue).await? {
            println!("created queue {queue}");
        }
    } else if !b.has_queue(queue).await? {
        return Err(not_known(queue, "check the name, or pass --create to create it"));
    }
    Ok(())
}

/// The refusal of a queue the broker does not know, with what to do.
pub fn not_known(queue: &QueueName, what_to_do: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "queue {queue} is not known (nothing was ever enqueued to it and no worker serves it): {what_to_do}"
    )
}
