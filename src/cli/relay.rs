//! `weir relay`: moves committed outbox rows to Redis until stopped
//! (SIGINT/SIGTERM); optionally runs the archiver and the history sampler too.
use super::Conn;
use super::migrate::StoreArg;
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;
use weir_store::{ArchiverConfig, HistoryConfig, Relay, RelayConfig, Services, ServicesConfig};

#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Time between looks at the outbox when nothing woke the relay
    /// (default: 50ms on SQLite, 1s on PostgreSQL, which is woken by NOTIFY).
    #[arg(long, value_parser = super::parse_duration_flag)]
    pub poll: Option<Duration>,
    /// Relay what is committed now, then exit (no fleet lock is taken).
    #[arg(long)]
    pub once: bool,
    /// Also move dead jobs from Redis to the store's archive.
    #[arg(long)]
    pub archive: bool,
    /// Also sample per-minute history, keeping this many days.
    #[arg(long, value_name = "DAYS")]
    pub history: Option<u32>,
}

pub async fn run(conn: &Conn, a: RelayArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.connect().await?;
    let broker = conn.connect().await?;
    let relay = RelayConfig { poll: a.poll, ..RelayConfig::default() };
    if a.once {
        let n = Relay::new(broker, store, relay).drain().await?;
        println!("relayed {n} jobs");
        return Ok(ExitCode::SUCCESS);
    }
    let config = ServicesConfig {
        relay: Some(relay),
        archiver: a.archive.then(ArchiverConfig::default),
        history: a.history.map(|days| HistoryConfig {
            retention: Duration::from_secs(u64::from(days) * 86_400),
            ..HistoryConfig::default()
        }),
    };
    tracing::info!(store = store.url(), redis = broker.url(), "relaying the outbox; stop with SIGINT or SIGTERM");
    let signals = weir_service::signal::Signals::listen().context("cannot listen for signals")?;
    Services::run(&broker, &store, config, signals.first()).await;
    Ok(ExitCode::SUCCESS)
}
