//! The schema: migrations for each backend (from `migrations/postgres` and
//! `migrations/sqlite`, embedded at build time), applied only by
//! `weir migrate`, and checked by every component at start.
use crate::error::{Error, Result};
use crate::store::{Backend, Pool, Store, on_pool};
use sqlx::migrate::Migrator;

pub static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");
pub static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");

/// The migrations this weir carries for `backend`.
pub fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Postgres => &POSTGRES,
        Backend::Sqlite => &SQLITE,
    }
}

/// The schema version this weir needs (its newest migration).
pub fn expected_version(backend: Backend) -> i64 {
    migrator(backend).iter().map(|m| m.version).max().unwrap_or(0)
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Versions applied now, oldest first (empty: the schema was current).
    pub applied: Vec<i64>,
    pub version: i64,
}

/// Versions successfully applied, oldest first; None when the store has no
/// migration table at all.
pub async fn applied_versions(store: &Store) -> Result<Option<Vec<i64>>> {
    let exists: bool = match &store.pool {
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(p).await?
        }
        Pool::Sqlite(p) => {
            sqlx::query_scalar(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(p)
            .await?
        }
    };
    if !exists {
        return Ok(None);
    }
    let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let versions: Vec<i64> = on_pool!(store, p, _Db => sqlx::query_scalar(sql).fetch_all(p).await?);
    Ok(Some(versions))
}

pub(crate) async fn check(store: &Store) -> Result<()> {
    let backend = store.backend();
    let expected = expected_version(backend);
    let applied = applied_versions(store).await?;
    let found = applied.as_ref().and_then(|v| v.last().copied());
    if let Some(found) = found
        && found > expected
    {
        return Err(Error::SchemaNewer { url: store.url.clone(), found, expected });
    }
    let applied = applied.unwrap_or_default();
    let missing = migrator(backend).iter().any(|m| !applied.contains(&m.version));
    if missing {
        return Err(Error::SchemaOutdated { url: store.url.clone(), found, expected });
    }
    Ok(())
}

pub(crate) async fn migrate(store: &Store) -> Result<Migrated> {
    let backend = store.backend();
    let before = applied_versions(store).await?.unwrap_or_default();
    if let Some(&found) = before.last() {
        let expected = expected_version(backend);
        if found > expected {
            return Err(Error::SchemaNewer { url: store.url.clone(), found, expected });
        }
    }
    on_pool!(store, p, _Db => migrator(backend).run(p).await?);
    let after = applied_versions(store).await?.unwrap_or_default();
    Ok(Migrated {
        applied: after.iter().copied().filter(|v| !before.contains(v)).collect(),
        version: after.last().copied().unwrap_or(0),
    })
}
