//! `weir migrate --database-url URL`, and what every store command shares:
//! the `--database-url` option and time formatting.
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use weir_store::{Store, StoreConfig};

/// Where the store is, for the commands that use it.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// The store: postgres://user[:pass]@host[:port]/db, or sqlite:path/to/weir.db.
    #[arg(long, global = true, env = "WEIR_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArg {
    pub fn url(&self) -> anyhow::Result<&str> {
        self.database_url.as_deref().context("no store: pass --database-url URL or set WEIR_DATABASE_URL")
    }

    /// Connects and checks that the schema is current (never migrates).
    pub async fn connect(&self) -> anyhow::Result<Store> {
        Store::connect(self.url()?).await.context("cannot start")
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArg,
}

pub async fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let url = a.store.url()?;
    let config = StoreConfig { create_if_missing: true, max_connections: 1, ..StoreConfig::default() };
    let store = Store::connect_unchecked(url, config).await.context("cannot migrate")?;
    let done = store.migrate().await.context("cannot migrate")?;
    if done.applied.is_empty() {
        println!("{}: schema is up to date (version {})", store.url(), done.version);
    } else {
        let list: Vec<String> = done.applied.iter().map(i64::to_string).collect();
        println!("{}: applied migrations {} (now at version {})", store.url(), list.join(", "), done.version);
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub use weir::broker::duration::format_time;
