//! The schema: migrations for each backend (from `migrations/postgres` and
//! `migrations/sqlite`, embedded at build time), applied only by
//! `weir migrate`, and checked by every component at start. weir records
//! them in its own table, [`HISTORY_TABLE`], never in sqlx's default one, so
//! they coexist with the app's own sqlx migrations in one database.
use crate::error::{Error, Result};
use crate::store::{Backend, Pool, Store, on_pool};
use sqlx::migrate::{Migrate, Migrator};
use std::sync::LazyLock;

/// The table that records which of weir's migrations a database has: weir's
/// own, so an app's sqlx migrations (in sqlx's `_sqlx_migrations`) and weir's
/// live in one database, applied in either order.
pub const HISTORY_TABLE: &str = "weir_schema_migrations";

/// sqlx's default history table, where weir recorded its migrations before
/// it had its own; `weir migrate` adopts weir's rows from it.
pub const LEGACY_TABLE: &str = "_sqlx_migrations";

fn own_table(mut m: Migrator) -> Migrator {
    m.dangerous_set_table_name(HISTORY_TABLE);
    m
}

/// Weir's PostgreSQL migrations (`migrations/postgres`), in weir's own history table.
pub static POSTGRES: LazyLock<Migrator> = LazyLock::new(|| own_table(sqlx::migrate!("../migrations/postgres")));
/// Weir's SQLite migrations (`migrations/sqlite`), in weir's own history table.
pub static SQLITE: LazyLock<Migrator> = LazyLock::new(|| own_table(sqlx::migrate!("../migrations/sqlite")));

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
    /// The schema version now.
    pub version: i64,
}

async fn table_exists(store: &Store, table: &str) -> Result<bool> {
    Ok(match &store.pool {
        Pool::Postgres(p) => sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(table).fetch_one(p).await?,
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table)
                .fetch_one(p)
                .await?
        }
    })
}

/// Versions successfully applied, oldest first; None when the store has no
/// record of weir's migrations at all. A database that weir migrated before
/// it had its own table counts the rows of sqlx's table that are weir's
/// migrations (same version and checksum) until `weir migrate` adopts them.
pub async fn applied_versions(store: &Store) -> Result<Option<Vec<i64>>> {
    if table_exists(store, HISTORY_TABLE).await? {
        let sql = sqlx::AssertSqlSafe(format!("SELECT version FROM {HISTORY_TABLE} WHERE success ORDER BY version"));
        let versions: Vec<i64> = on_pool!(store, p, _Db => sqlx::query_scalar(sql).fetch_all(p).await?);
        return Ok(Some(versions));
    }
    let legacy = legacy_versions(store).await?;
    Ok((!legacy.is_empty()).then_some(legacy))
}

/// weir's migrations recorded in sqlx's default table (same version, same checksum).
async fn legacy_versions(store: &Store) -> Result<Vec<i64>> {
    if !table_exists(store, LEGACY_TABLE).await? {
        return Ok(Vec::new());
    }
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT version, checksum FROM {LEGACY_TABLE} WHERE success ORDER BY version"));
    let rows: Vec<(i64, Vec<u8>)> = on_pool!(store, p, _Db => sqlx::query_as(sql).fetch_all(p).await?);
    let ours = migrator(store.backend());
    Ok(rows
        .into_iter()
        .filter(|(v, sum)| ours.iter().any(|m| m.version == *v && m.checksum.as_ref() == sum.as_slice()))
        .map(|(v, _)| v)
        .collect())
}

/// Moves weir's rows from sqlx's default table to weir's own, in one
/// transaction, when weir's table does not exist yet. Rows of the app's own
/// migrations stay where they are. Returns the versions adopted.
async fn adopt_legacy(store: &Store) -> Result<Vec<i64>> {
    if table_exists(store, HISTORY_TABLE).await? {
        return Ok(Vec::new());
    }
    let versions = legacy_versions(store).await?;
    if versions.is_empty() {
        return Ok(versions);
    }
    let ours = migrator(store.backend());
    let copy = format!(
        "INSERT INTO {HISTORY_TABLE} (version, description, installed_on, success, checksum, execution_time) \
         SELECT version, description, installed_on, success, checksum, execution_time FROM {LEGACY_TABLE} \
         WHERE version = $1 AND checksum = $2"
    );
    let remove = format!("DELETE FROM {LEGACY_TABLE} WHERE version = $1 AND checksum = $2");
    // Built from constants only (no input): the values are binds.
    on_pool!(store, p, _Db => {
        let mut tx = p.begin().await?;
        tx.ensure_migrations_table(HISTORY_TABLE).await?;
        for m in ours.iter().filter(|m| versions.contains(&m.version)) {
            sqlx::query(sqlx::AssertSqlSafe(copy.clone())).bind(m.version).bind(m.checksum.as_ref()).execute(&mut *tx).await?;
            sqlx::query(sqlx::AssertSqlSafe(remove.clone())).bind(m.version).bind(m.checksum.as_ref()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(versions)
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
    adopt_legacy(store).await?;
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
