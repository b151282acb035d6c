//! `weir migrate` on PostgreSQL and SQLite, the start-up schema check, and
//! the one-line errors for a store that cannot be reached.
use crate::store_support::{self as s, sqlite_path};
use crate::util;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use weir_store::{Error, Store, StoreConfig};

fn url_of(pool: &PgPool) -> String {
    Store::from_pg_pool(pool.clone()).url().to_string()
}

/// Applies only the first migration of `dir`, as an older weir would have.
async fn apply_first_migration(dir: &str, url: &str) {
    let tmp = std::env::temp_dir().join(format!("weir-old-schema-{}-{}", std::process::id(), ulid::Ulid::new()));
    std::fs::create_dir_all(&tmp).unwrap();
    let first = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    std::fs::copy(&first, tmp.join(first.file_name().unwrap())).unwrap();
    let old = Migrator::new(tmp.as_path()).await.unwrap();
    let store =
        Store::connect_unchecked(url, StoreConfig { create_if_missing: true, ..StoreConfig::default() }).await.unwrap();
    match (store.pg_pool(), store.sqlite_pool()) {
        (Some(p), _) => old.run(p).await.unwrap(),
        (_, Some(p)) => old.run(p).await.unwrap(),
        _ => unreachable!(),
    }
    store.close().await;
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn migrate_twice(url: &str) {
    let prefix = util::prefix("migrate");
    let first = util::run_ok(s::weir(&prefix, url).arg("migrate"));
    assert!(first.contains("applied migrations 1, 2, 3 (now at version 3)"), "{first}");
    let second = util::run_ok(s::weir(&prefix, url).arg("migrate"));
    assert!(second.contains("schema is up to date (version 3)"), "{second}");
}

#[sqlx::test(migrations = false)]
async fn postgres_migrations_apply_on_empty_and_are_a_noop_after(pool: PgPool) {
    let url = url_of(&pool);
    migrate_twice(&url);
    let store = Store::connect(&url).await.expect("a current schema passes the check");
    assert_eq!(store.dead_count().await.unwrap(), 0);
}

#[tokio::test]
async fn sqlite_migrations_apply_on_empty_and_are_a_noop_after() {
    let path = sqlite_path("migrate");
    let url = format!("sqlite:{}", path.display());
    migrate_twice(&url);
    let store = Store::connect(&url).await.expect("a current schema passes the check");
    assert_eq!(store.outbox_len().await.unwrap(), 0);
    store.close().await;
    let _ = std::fs::remove_file(&path);
}

fn assert_old_schema_refused(url: &str, found: &str) {
    let out = s::run_err(s::weir(&util::prefix("old"), url).args(["failed", "list"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&format!("schema version {found}, this weir needs 3")), "{stderr}");
    assert!(stderr.contains("run `weir migrate"), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn postgres_old_or_missing_schema_is_refused_naming_weir_migrate(pool: PgPool) {
    let url = url_of(&pool);
    assert_old_schema_refused(&url, "none (no weir tables)");
    apply_first_migration(s::PG_MIGRATIONS, &url).await;
    match Store::connect(&url).await {
        Err(Error::SchemaOutdated { found: Some(1), expected: 3, .. }) => {}
        other => panic!("expected SchemaOutdated, got {other:?}"),
    }
    assert_old_schema_refused(&url, "1");
    migrate_tail(&url);
}

fn migrate_tail(url: &str) {
    let out = util::run_ok(util::weir(&util::prefix("m")).args(["migrate", "--database-url", url]));
    assert!(out.contains("applied migrations 2, 3"), "{out}");
}

#[tokio::test]
async fn sqlite_old_schema_is_refused_naming_weir_migrate() {
    let path = sqlite_path("old");
    let url = format!("sqlite:{}", path.display());
    apply_first_migration("migrations/sqlite", &url).await;
    assert!(matches!(Store::connect(&url).await, Err(Error::SchemaOutdated { found: Some(1), .. })));
    assert_old_schema_refused(&url, "1");
    migrate_tail(&url);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unreachable_store_is_one_clear_line_and_exit_1() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cases = [
        (format!("postgres://postgres@127.0.0.1:{closed}/weir"), "cannot reach the store at"),
        (format!("sqlite:{}", sqlite_path("missing").display()), "no such file: run `weir migrate"),
        ("mysql://localhost/x".to_string(), "invalid database URL"),
    ];
    for (url, expected) in cases {
        for args in [&["failed", "list"][..], &["relay", "--once"], &["stats", "--history", "1h"]] {
            let out = s::run_err(s::weir(&util::prefix("down"), &url).args(args));
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.lines().count(), 1, "{args:?} {url}: {stderr}");
            assert!(stderr.starts_with("weir: ") && stderr.contains(expected), "{args:?} {url}: {stderr}");
        }
    }
    let out = s::run_err(util::weir("x").env_remove("WEIR_DATABASE_URL").args(["failed", "list"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --database-url URL or set WEIR_DATABASE_URL"));
}
