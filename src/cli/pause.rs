//! `weir pause Q` and `weir resume Q`.
use super::Conn;
use clap::Args;
use std::process::ExitCode;
use weir::QueueName;

#[derive(Debug, Args)]
pub struct QueueArg {
    /// The queue.
    pub queue: QueueName,
}

pub async fn pause(conn: &Conn, a: QueueArg) -> anyhow::Result<ExitCode> {
    conn.connect().await?.pause(&a.queue).await?;
    println!("paused {}", a.queue);
    Ok(ExitCode::SUCCESS)
}

pub async fn resume(conn: &Conn, a: QueueArg) -> anyhow::Result<ExitCode> {
    let was = conn.connect().await?.resume(&a.queue).await?;
    println!("{} {}", if was { "resumed" } else { "was not paused:" }, a.queue);
    Ok(ExitCode::SUCCESS)
}
