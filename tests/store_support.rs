//! Helpers for the store tests: PostgreSQL databases come from
//! `#[sqlx::test]` (one per test, from `DATABASE_URL`), SQLite stores are
//! temp files removed at drop, dead jobs are made through the real broker.
use crate::broker_enqueue::{job, q};
use crate::util;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use weir::broker::{Broker, FailOutcome, Selector};
use weir_store::{Store, StoreConfig};

pub const PG_MIGRATIONS: &str = "migrations/postgres";

/// A migrated SQLite store in a temp file, deleted at drop.
pub struct SqliteStore {
    pub path: PathBuf,
    pub store: Store,
}

impl SqliteStore {
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// A fresh path for a SQLite file (not created).
pub fn sqlite_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "weir-test-{}-{}-{name}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ))
}

/// A new SQLite store with weir's schema.
pub async fn sqlite(name: &str) -> SqliteStore {
    let path = sqlite_path(name);
    let url = format!("sqlite:{}", path.display());
    let store = Store::connect_unchecked(&url, StoreConfig { create_if_missing: true, ..StoreConfig::default() })
        .await
        .expect("create the sqlite store");
    store.migrate().await.expect("migrate the sqlite store");
    SqliteStore { path, store }
}

/// The built `weir` binary with `--redis` and `--prefix`, and the store in
/// `WEIR_DATABASE_URL` (tests of the flag pass `--database-url` after the subcommand).
pub fn weir(prefix: &str, database_url: &str) -> Command {
    let mut c = util::weir(prefix);
    c.env("WEIR_DATABASE_URL", database_url);
    c
}

/// Runs a command that must fail; returns its output, printing everything when it succeeds.
pub fn run_err(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        !out.status.success(),
        "command succeeded but should have failed: {cmd:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Enqueues a job that then fails `attempts` times (its max), so it is dead
/// with one error per attempt. Returns its id.
pub async fn dead_job(b: &Broker, queue: &str, kind: &str, payload: &str, attempts: u32) -> String {
    let mut j = job(queue, kind, payload);
    j.max_attempts = attempts;
    let id = b.enqueue(j).await.unwrap().id;
    for attempt in 1..=attempts {
        let mut sel = Selector::strict([q(queue)]).unwrap();
        let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().pop().expect("a job to fail");
        assert_eq!(r.lease.id, id);
        let outcome = b.fail(&r.lease, &format!("boom {attempt}"), Some(std::time::Duration::ZERO)).await.unwrap();
        if attempt < attempts {
            assert_eq!(outcome, FailOutcome::Retry);
            b.promote(&q(queue)).await.unwrap();
        } else {
            assert_eq!(outcome, FailOutcome::Dead);
        }
    }
    id
}

/// One test's store, on either driver: a PostgreSQL database of
/// `#[sqlx::test]` or a SQLite temp file. [`on_every_store!`] runs a test
/// body once with each, so every store test covers both drivers.
pub struct TestStore {
    pub store: Store,
    /// Keeps the SQLite file until the test ends.
    _file: Option<SqliteStore>,
}

impl TestStore {
    pub fn postgres(pool: sqlx::PgPool) -> TestStore {
        TestStore { store: Store::from_pg_pool(pool), _file: None }
    }

    pub async fn sqlite(name: &str) -> TestStore {
        let file = sqlite(name).await;
        TestStore { store: file.store.clone(), _file: Some(file) }
    }

    /// The store's URL, for `weir --database-url`.
    pub fn url(&self) -> String {
        self.store.url().to_string()
    }

    /// Runs `sql` on the store's own pool (what an app or a damaged writer would do).
    pub async fn execute(&self, sql: &'static str) {
        match (self.store.pg_pool(), self.store.sqlite_pool()) {
            (Some(pg), _) => drop(sqlx::query(sql).execute(pg).await.unwrap()),
            (_, Some(lite)) => drop(sqlx::query(sql).execute(lite).await.unwrap()),
            _ => unreachable!("a store is PostgreSQL or SQLite"),
        }
    }

    /// Enqueues `jobs` with `enqueue_tx` in one app transaction on this
    /// store's database, then commits it (or rolls it back). Returns the ids.
    pub async fn enqueue_in_tx<J: weir::Job>(&self, client: &weir::Client, jobs: Vec<J>, commit: bool) -> Vec<String> {
        match (self.store.pg_pool(), self.store.sqlite_pool()) {
            (Some(pg), _) => in_tx(pg, client, jobs, commit).await,
            (_, Some(lite)) => in_tx(lite, client, jobs, commit).await,
            _ => unreachable!("a store is PostgreSQL or SQLite"),
        }
    }
}

async fn in_tx<DB: weir_store::OutboxDatabase, J: weir::Job>(
    pool: &sqlx::Pool<DB>,
    client: &weir::Client,
    jobs: Vec<J>,
    commit: bool,
) -> Vec<String> {
    use weir_store::EnqueueTx;
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for job in jobs {
        ids.push(client.enqueue_tx(&mut tx, job).await.unwrap());
    }
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    ids
}

/// Defines a store test that runs on both drivers: a module named after the
/// test with a `postgres` and a `sqlite` test, each calling the body with
/// its [`TestStore`].
#[macro_export]
macro_rules! on_every_store {
    ($(#[doc = $doc:literal])* async fn $name:ident($db:ident: TestStore) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::store_support::TestStore;

            async fn body($db: TestStore) $body

            #[sqlx::test(migrations = "migrations/postgres")]
            async fn postgres(pool: sqlx::PgPool) {
                body(TestStore::postgres(pool)).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(TestStore::sqlite(stringify!($name)).await).await
            }
        }
    };
}
