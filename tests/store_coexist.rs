//! weir's migrations and an app's own sqlx migrations in one database, in
//! either order, on PostgreSQL and SQLite; a database weir migrated into
//! sqlx's default table is adopted without re-running anything.
use crate::store_support::{self as s, sqlite_path};
use crate::util;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::path::{Path, PathBuf};
use weir_store::{Store, StoreConfig};

/// A directory of migrations, removed at drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(files: &[(&str, &str)]) -> Dir {
    let d = std::env::temp_dir().join(format!("weir-app-migrations-{}-{}", std::process::id(), ulid::Ulid::new()));
    std::fs::create_dir_all(&d).unwrap();
    for (name, sql) in files {
        std::fs::write(d.join(name), sql).unwrap();
    }
    Dir(d)
}

/// The app's own migrations, in sqlx's default table as `sqlx::migrate!` would run them.
fn app_migrations() -> Dir {
    dir(&[
        ("20250101000000_users.sql", "CREATE TABLE app_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL);"),
        ("20250102000000_orders.sql", "CREATE TABLE app_orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);"),
    ])
}

/// Runs the migrations of `dir` with sqlx's defaults (its `_sqlx_migrations` table).
async fn run_default_table(dir: &Path, url: &str) {
    let m = Migrator::new(dir).await.unwrap();
    let store =
        Store::connect_unchecked(url, StoreConfig { create_if_missing: true, ..StoreConfig::default() }).await.unwrap();
    match (store.pg_pool(), store.sqlite_pool()) {
        (Some(p), _) => m.run(p).await.expect("the app's migrations run"),
        (_, Some(p)) => m.run(p).await.expect("the app's migrations run"),
        _ => unreachable!(),
    }
    store.close().await;
}

fn weir_migrate(url: &str) -> String {
    util::run_ok(s::weir(&util::prefix("coexist"), url).arg("migrate"))
}

/// App first, then weir, then the app again (a later deploy).
async fn app_first(url: &str) {
    let app = app_migrations();
    run_default_table(&app.0, url).await;
    assert!(weir_migrate(url).contains("applied migrations 1, 2, 3"));
    run_default_table(&app.0, url).await;
    assert!(weir_migrate(url).contains("schema is up to date (version 3)"));
    Store::connect(url).await.expect("weir's schema check passes");
}

/// weir first, then the app (twice), then weir again.
async fn weir_first(url: &str) {
    let app = app_migrations();
    assert!(weir_migrate(url).contains("applied migrations 1, 2, 3"));
    run_default_table(&app.0, url).await;
    run_default_table(&app.0, url).await;
    assert!(weir_migrate(url).contains("schema is up to date (version 3)"));
    Store::connect(url).await.expect("weir's schema check passes");
}

/// weir's own migrations run into sqlx's default table, as weir did before
/// it had its own, together with an app migration; then `weir migrate` adopts them.
async fn adopts_legacy(url: &str, weir_dir: &str) {
    let app = app_migrations();
    let legacy = dir(&[]);
    for e in std::fs::read_dir(weir_dir).unwrap() {
        let path = e.unwrap().path();
        std::fs::copy(&path, legacy.0.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(app.0.join("20250101000000_users.sql"), legacy.0.join("20250101000000_users.sql")).unwrap();
    run_default_table(&legacy.0, url).await;
    let store = Store::connect(url).await.expect("a legacy database passes the check before adoption");
    store
        .archive(&[weir_store::DeadRecord {
            id: "kept".into(),
            queue: "q".into(),
            kind: "k".into(),
            envelope: "{}".into(),
            payload: None,
            codec: None,
            attempts: 1,
            max_attempts: None,
            errors: vec![],
            enqueued_at: None,
            died_at: 1,
        }])
        .await
        .unwrap();
    store.close().await;

    assert!(weir_migrate(url).contains("schema is up to date (version 3)"), "nothing is re-run");
    let store = Store::connect(url).await.unwrap();
    assert!(store.dead_job("kept").await.unwrap().is_some(), "the data stays");
    let (ours, theirs): (Vec<i64>, Vec<i64>) = match (store.pg_pool(), store.sqlite_pool()) {
        (Some(p), _) => (
            sqlx::query_scalar("SELECT version FROM weir_schema_migrations ORDER BY version")
                .fetch_all(p)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(p).await.unwrap(),
        ),
        (_, Some(p)) => (
            sqlx::query_scalar("SELECT version FROM weir_schema_migrations ORDER BY version")
                .fetch_all(p)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(p).await.unwrap(),
        ),
        _ => unreachable!(),
    };
    assert_eq!(ours, [1, 2, 3]);
    assert_eq!(theirs, [20250101000000], "the app's row stays in sqlx's table");
    store.close().await;
    // The app's next deploy adds its second migration; both tools are content.
    run_default_table(&app.0, url).await;
    assert!(weir_migrate(url).contains("schema is up to date (version 3)"));
}

#[sqlx::test(migrations = false)]
async fn postgres_app_migrations_then_weir_migrate(pool: PgPool) {
    app_first(Store::from_pg_pool(pool).url()).await;
}

#[sqlx::test(migrations = false)]
async fn postgres_weir_migrate_then_app_migrations(pool: PgPool) {
    weir_first(Store::from_pg_pool(pool).url()).await;
}

#[sqlx::test(migrations = false)]
async fn postgres_legacy_weir_database_is_adopted_without_rerunning(pool: PgPool) {
    adopts_legacy(Store::from_pg_pool(pool).url(), s::PG_MIGRATIONS).await;
}

#[tokio::test]
async fn sqlite_app_and_weir_migrations_coexist_in_either_order() {
    let (a, b) = (sqlite_path("app-first"), sqlite_path("weir-first"));
    app_first(&format!("sqlite:{}", a.display())).await;
    weir_first(&format!("sqlite:{}", b.display())).await;
    let _ = (std::fs::remove_file(a), std::fs::remove_file(b));
}

#[tokio::test]
async fn sqlite_legacy_weir_database_is_adopted_without_rerunning() {
    let path = sqlite_path("legacy");
    adopts_legacy(&format!("sqlite:{}", path.display()), "migrations/sqlite").await;
    let _ = std::fs::remove_file(path);
}
