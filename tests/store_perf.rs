//! A measurement, not a timed test (ignored by default; run with
//! `cargo test --test tests store_perf -- --ignored --nocapture`): `weir
//! failed list --queue Q --kind K` over 100,000 archived jobs, and the plan
//! PostgreSQL uses for it.
use crate::store_support as s;
use crate::util;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use weir_store::{DeadFilter, Store};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[sqlx::test(migrations = "migrations/postgres")]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn failed_list_over_100k_archived_jobs(pool: PgPool) {
    let now = weir_store::store::now_ms();
    for chunk in 0..100 {
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO weir_dead_jobs (id, queue, kind, envelope, payload, codec, attempts, max_attempts, \
             last_error, enqueued_at, died_at, archived_at) ",
        );
        q.push_values(0..1000, |mut row, i| {
            let n = chunk * 1000 + i;
            row.push_bind(format!("J{n:08}"))
                .push_bind(format!("queue{}", n % 10))
                .push_bind(format!("kind{}", n / 10 % 10))
                .push_bind(format!(r#"{{"id":"J{n:08}","payload":{{"n":{n}}}}}"#))
                .push_bind(format!(r#"{{"n":{n}}}"#))
                .push_bind("json")
                .push_bind(25_i64)
                .push_bind(25_i64)
                .push_bind("boom: connection reset by peer")
                .push_bind(now - 86_400_000)
                .push_bind(now - i64::from(n) * 1000)
                .push_bind(now);
        });
        q.build().execute(&pool).await.unwrap();
    }
    sqlx::query("ANALYZE weir_dead_jobs").execute(&pool).await.unwrap();
    let store = Store::from_pg_pool(pool.clone());
    assert_eq!(store.dead_count().await.unwrap(), 100_000);

    let filter = DeadFilter { queue: Some("queue3".into()), kind: Some("kind7".into()), ..DeadFilter::default() };
    let mut lib = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(store.dead_jobs(&filter).await.unwrap().len(), 100);
        lib.push(t.elapsed());
    }
    let url = store.url().to_string();
    let mut cli = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let out = util::run_ok(s::weir("perf", &url).args(["failed", "list", "--queue", "queue3", "--kind", "kind7"]));
        cli.push(t.elapsed());
        assert_eq!(out.lines().count(), 101);
    }
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN ANALYZE SELECT id FROM weir_dead_jobs WHERE queue = 'queue3' AND kind = 'kind7' \
         ORDER BY died_at DESC, id DESC LIMIT 100",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    eprintln!("failed list --queue --kind over 100,000 rows: query median {:?}", median(lib));
    eprintln!(
        "whole `weir failed list` process (start, connect, schema check, query, print): median {:?}",
        median(cli)
    );
    eprintln!("plan:\n  {}", plan.join("\n  "));
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn sqlite_failed_list_over_100k_archived_jobs() {
    let db = s::sqlite("perf").await;
    let pool = db.store.sqlite_pool().unwrap().clone();
    let now = weir_store::store::now_ms();
    let mut tx = pool.begin().await.unwrap();
    for chunk in 0..400 {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO weir_dead_jobs (id, queue, kind, envelope, payload, attempts, died_at, archived_at) ",
        );
        q.push_values(0..250, |mut row, i| {
            let n = chunk * 250 + i;
            row.push_bind(format!("J{n:08}"))
                .push_bind(format!("queue{}", n % 10))
                .push_bind(format!("kind{}", n / 10 % 10))
                .push_bind("{}")
                .push_bind(format!(r#"{{"n":{n}}}"#))
                .push_bind(25_i64)
                .push_bind(now - i64::from(n) * 1000)
                .push_bind(now);
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let filter = DeadFilter { queue: Some("queue3".into()), kind: Some("kind7".into()), ..DeadFilter::default() };
    let mut lib = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(db.store.dead_jobs(&filter).await.unwrap().len(), 100);
        lib.push(t.elapsed());
    }
    let mut cli = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let out =
            util::run_ok(s::weir("perf", &db.url()).args(["failed", "list", "--queue", "queue3", "--kind", "kind7"]));
        cli.push(t.elapsed());
        assert_eq!(out.lines().count(), 101);
    }
    eprintln!("sqlite: failed list --queue --kind over 100,000 rows: query median {:?}", median(lib));
    eprintln!("sqlite: whole `weir failed list` process: median {:?}", median(cli));
}
