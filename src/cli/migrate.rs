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

/// `YYYY-MM-DD HH:MM:SS` in UTC for a time in ms since the epoch.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_time(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
        assert_eq!(super::format_time(1_798_761_599_000), "2026-12-31 23:59:59");
    }
}
