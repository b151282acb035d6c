//! The connection to the store: PostgreSQL (production) or SQLite (a local
//! file, no server), chosen by the URL's scheme. Every query is written once
//! and runs on either pool through `on_pool!`: the SQL is shared (`$1`
//! placeholders work in both), only the types differ.
use crate::error::{Error, Result};
use crate::schema;
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;

/// Runs `$body` with `$pool` bound to the concrete pool and `$Db` to its
/// database type.
macro_rules! on_pool {
    ($store:expr, $pool:ident, $Db:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type $Db = ::sqlx::Postgres;
                $body
            }
            $crate::store::Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $Db = ::sqlx::Sqlite;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Which database the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://`).
    Postgres,
    /// SQLite (`sqlite:`), bundled.
    Sqlite,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Settings for [`Store::connect_with`]. Defaults are documented per field.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Connections in the pool. Default 4.
    pub max_connections: u32,
    /// Time to wait for a connection, so an unreachable database is an error, not a hang. Default 5 s.
    pub connect_timeout: Duration,
    /// SQLite only: create the file when it is missing (`weir migrate` does). Default false.
    pub create_if_missing: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { max_connections: 4, connect_timeout: Duration::from_secs(5), create_if_missing: false }
    }
}

/// A connection pool to the store. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// The URL with any password masked.
    pub(crate) url: String,
}

pub use weir_broker::redact_url;

/// The pool settings of either backend: its size, and how long a query
/// waits for a connection before it fails.
fn pool_options<DB: sqlx::Database>(config: &StoreConfig) -> PoolOptions<DB> {
    PoolOptions::new().max_connections(config.max_connections).acquire_timeout(config.connect_timeout)
}

impl Store {
    /// Connects and checks that the schema is the one this weir needs; an
    /// older schema is [`Error::SchemaOutdated`] (run `weir migrate`), never
    /// migrated here.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Self::connect_unchecked(url, StoreConfig::default()).await?;
        store.check_schema().await?;
        Ok(store)
    }

    /// Connects with explicit settings and checks the schema.
    pub async fn connect_with(url: &str, config: StoreConfig) -> Result<Store> {
        let store = Self::connect_unchecked(url, config).await?;
        store.check_schema().await?;
        Ok(store)
    }

    /// Connects without checking the schema (for `weir migrate`).
    pub async fn connect_unchecked(url: &str, config: StoreConfig) -> Result<Store> {
        let shown = redact_url(url);
        let invalid = |reason: String| Error::InvalidUrl { url: shown.clone(), reason };
        let unreachable = |e: sqlx::Error| Error::Unreachable { url: shown.clone(), reason: one_line(&e) };
        let pool = match Backend::of_url(url) {
            Some(Backend::Postgres) => {
                // No NOTICEs ("relation already exists, skipping") in the logs.
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| invalid(e.to_string()))?
                    .options([("client_min_messages", "warning")]);
                // One direct connection first: the pool would only say "timed out"
                // where the driver says "connection refused".
                match tokio::time::timeout(config.connect_timeout, opts.connect()).await {
                    Ok(Ok(c)) => {
                        let _ = c.close().await;
                    }
                    Ok(Err(e)) => return Err(unreachable(e)),
                    Err(_) => return Err(unreachable(sqlx::Error::PoolTimedOut)),
                }
                Pool::Postgres(pool_options(&config).connect_with(opts).await.map_err(unreachable)?)
            }
            Some(Backend::Sqlite) => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| invalid(e.to_string()))?
                    .create_if_missing(config.create_if_missing);
                let file = opts.get_filename();
                if !config.create_if_missing
                    && !file.as_os_str().is_empty()
                    && file != std::path::Path::new(":memory:")
                    && !file.exists()
                {
                    return Err(Error::Unreachable {
                        url: shown.clone(),
                        reason: "no such file: run `weir migrate --database-url URL` to create it".into(),
                    });
                }
                let opts = opts.journal_mode(SqliteJournalMode::Wal).busy_timeout(Duration::from_secs(5));
                Pool::Sqlite(pool_options(&config).connect_with(opts).await.map_err(unreachable)?)
            }
            None => return Err(invalid("the scheme must be postgres://, postgresql:// or sqlite:".into())),
        };
        Ok(Store { pool, url: shown })
    }

    /// Wraps the app's own PostgreSQL pool (the schema is not checked: call
    /// [`check_schema`](Self::check_schema)).
    pub fn from_pg_pool(pool: PgPool) -> Store {
        let o = pool.connect_options();
        let url = format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        );
        Store { pool: Pool::Postgres(pool), url }
    }

    /// Wraps the app's own SQLite pool (the schema is not checked).
    pub fn from_sqlite_pool(pool: SqlitePool) -> Store {
        let url = format!("sqlite:{}", pool.connect_options().get_filename().display());
        Store { pool: Pool::Sqlite(pool), url }
    }

    /// Which database this store is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PostgreSQL pool, when the store is PostgreSQL.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    /// The SQLite pool, when the store is SQLite.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(p) => Some(p),
            Pool::Postgres(_) => None,
        }
    }

    /// Fails unless the schema is exactly the one this weir was built with.
    pub async fn check_schema(&self) -> Result<()> {
        schema::check(self).await
    }

    /// Applies the migrations this weir carries that the store lacks.
    pub async fn migrate(&self) -> Result<schema::Migrated> {
        schema::migrate(self).await
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, p, _Db => p.close().await)
    }
}

impl Backend {
    /// The backend a URL names, from its scheme.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// An sqlx error as one line, without the driver's debug noise.
pub(crate) fn one_line(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        sqlx::Error::Io(io) => io.to_string().to_lowercase(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or("").to_string()
}

/// Milliseconds since the Unix epoch, from this host's clock (the store's
/// own records: archive and history times).
pub fn now_ms() -> i64 {
    use weir_broker::Clock;
    weir_broker::SystemClock.now_ms()
}
