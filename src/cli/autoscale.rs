//! `weir autoscale`: the autoscaler, as a sidecar (default) or once for cron.
use super::Conn;
use anyhow::{Context, bail};
use std::process::ExitCode;
use weir_supervisor::AutoscaleArgs;
use weir_supervisor::fleet::{self, Launcher};
use weir_supervisor::history;

pub async fn run(conn: &Conn, a: AutoscaleArgs) -> anyhow::Result<ExitCode> {
    let policy = a.policy().map_err(anyhow::Error::msg)?;
    let broker = conn.connect().await?;
    if a.history {
        for e in history::recent(&broker, history::KEEP as usize).await? {
            if a.json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                let d = &e.decision;
                println!("{} {} current={} desired={} {}", d.at, e.mode, d.current, d.desired, d.reason);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(queues) = a.queues.clone() else { bail!("--queues is required (the queues the pool serves)") };
    let launcher = Launcher {
        shell: a.worker_cmd.clone(),
        exe: std::env::current_exe().context("cannot find this binary to start workers")?,
        args: a.default_worker_args(&queues),
        redis_url: conn.redis.clone(),
        prefix: conn.prefix.clone(),
        env: conn.worker_env(),
    };
    if a.once || a.dry_run {
        let d = fleet::run_once(&broker, &a, &policy, &queues, &launcher).await?;
        if a.json {
            println!("{}", serde_json::to_string(&d)?);
        } else {
            println!("current={} desired={} {}", d.current, d.desired, d.reason);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (first, second) = weir_worker::signal::shutdown_signals().context("cannot listen for signals")?;
    fleet::run_sidecar(&broker, &a, &policy, &queues, &launcher, first, second).await?;
    Ok(ExitCode::SUCCESS)
}
