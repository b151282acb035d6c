//! Transactional enqueue (docs/STORE.md, "the outbox"): the app writes an
//! order and its `send_invoice` job in one database transaction, so the job
//! exists exactly when the order does. The relay moves committed jobs to
//! Redis, and a worker runs them.
//!
//! SQLite here (a local file, no server); PostgreSQL works the same with a
//! `PgPool` and `Transaction<'_, Postgres>`. `DATABASE_URL` picks the file
//! (default `sqlite:outbox-example.db`), `WEIR_REDIS_URL` the Redis.
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::str::FromStr;
use weir::store::{EnqueueTx, Relay, RelayConfig, Store};
use weir::worker::Worker;
use weir::{Client, Job};

#[derive(Serialize, Deserialize)]
struct SendInvoice {
    order: i64,
}

impl Job for SendInvoice {
    const KIND: &'static str = "send_invoice";
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite:outbox-example.db".into());
    let url = std::env::var("WEIR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let pool = SqlitePool::connect_with(SqliteConnectOptions::from_str(&db)?.create_if_missing(true)).await?;

    // The app's migrations (examples/outbox/migrations), then weir's schema
    // (in production an operator runs `weir migrate --database-url URL`).
    sqlx::migrate!("examples/outbox/migrations").run(&pool).await?;
    let store = Store::from_sqlite_pool(pool.clone());
    store.migrate().await?;

    let client = Client::connect(&url).await?;
    let order = 7;
    let mut tx = pool.begin().await?; // the app's own sqlx 0.9 transaction
    sqlx::query("INSERT INTO orders (id, customer) VALUES ($1, 'ada')").bind(order).execute(&mut *tx).await?;
    let job_id = client.enqueue_tx(&mut tx, SendInvoice { order }).await?;
    tx.commit().await?; // the job exists exactly when this commits
    println!("order {order} committed with job {job_id}");

    // The relay (one per fleet, elected through Redis) and a worker that
    // stops after one job.
    let relay = Relay::new(client.broker().clone(), store, RelayConfig::default());
    relay.start();
    Worker::builder(client)
        .max_jobs(1)
        .handle::<SendInvoice, _>(|job, ctx| async move {
            println!("sending the invoice of order {} (job {})", job.order, ctx.id);
            Ok(())
        })
        .run_until(std::future::pending())
        .await?;
    relay.stop().await;
    Ok(())
}
