//! Transactional enqueue: `client.enqueue_tx(&mut tx, job)` inside the app's
//! own transaction, and the relay that moves committed rows to Redis.
use crate::broker_enqueue::q;
use crate::on_every_store;
use crate::store_support as s;
use crate::util;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use weir::broker::{Broker, JobState};
use weir::{Client, Options};
use weir_store::{EnqueueTx, Relay, RelayConfig, Store};

#[derive(Debug, Serialize, Deserialize)]
struct Email {
    n: u32,
}

impl weir::Job for Email {
    const KIND: &'static str = "email";
    const QUEUE: &'static str = "mail";
}

fn relay(b: &Broker, store: &Store) -> Relay {
    Relay::new(b.clone(), store.clone(), RelayConfig::default())
}

async fn pending(b: &Broker) -> Vec<String> {
    b.list(&q("mail"), JobState::Pending, 10_000).await.unwrap()
}

on_every_store! {
async fn rollback_enqueues_nothing_and_commit_enqueues_once_in_order(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("outbox").await;
    let client = Client::from_broker(b.clone());

    db.enqueue_in_tx(&client, vec![Email { n: 0 }], false).await;
    assert_eq!(relay(&b, &store).drain().await.unwrap(), 0);
    assert!(pending(&b).await.is_empty(), "a rolled-back transaction enqueues nothing");

    let ids = db.enqueue_in_tx(&client, (0..50).map(|n| Email { n }).collect(), true).await;
    assert_eq!(relay(&b, &store).drain().await.unwrap(), 50);
    assert_eq!(pending(&b).await, ids, "every job once, in the transaction's order");
    assert_eq!(store.outbox_len().await.unwrap(), 0);
}
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn uncommitted_rows_beside_the_apps_own_statements_are_invisible_to_the_relay(pool: PgPool) {
    let store = Store::from_pg_pool(pool.clone());
    let b = util::broker("outbox-uncommitted").await;
    let client = Client::from_broker(b.clone());
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("CREATE TABLE orders (id BIGINT)").execute(&mut *tx).await.unwrap();
    let id = client.enqueue_tx(&mut tx, Email { n: 1 }).await.unwrap();
    assert_eq!(relay(&b, &store).drain().await.unwrap(), 0, "uncommitted rows are invisible to the relay");
    tx.commit().await.unwrap();
    assert_eq!(relay(&b, &store).drain().await.unwrap(), 1);
    assert_eq!(pending(&b).await, [id]);
}

#[tokio::test]
async fn sqlite_enqueue_with_options_through_weir_relay_once() {
    let db = s::sqlite("outbox").await;
    let pool = db.store.sqlite_pool().unwrap().clone();
    let b = util::broker("outbox-sqlite").await;
    let client = Client::from_broker(b.clone());

    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        let opts = Options::new().max_attempts(3);
        ids.push(client.enqueue_tx_with(&mut tx, Email { n }, opts).await.unwrap());
    }
    tx.commit().await.unwrap();
    // Through the binary: `weir relay --once`.
    let out = util::run_ok(s::weir(b.prefix(), &db.url()).args(["relay", "--once"]));
    assert_eq!(out.trim(), "relayed 20 jobs");
    assert_eq!(pending(&b).await, ids);
    let env = b.job(&q("mail"), &ids[3]).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!((env.kind.as_str(), env.payload.get(), env.max_attempts), ("email", r#"{"n":3}"#, 3));
}

on_every_store! {
async fn relay_killed_mid_batch_still_enqueues_each_job_exactly_once(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("outbox-crash").await;
    let client = Client::from_broker(b.clone());
    let ids = db.enqueue_in_tx(&client, (0..10).map(|n| Email { n }).collect(), true).await;

    let r = relay(&b, &store);
    let rows = store.outbox_fetch(100).await.unwrap();
    // One relay dies halfway through its enqueue, the next after the whole
    // enqueue but before the delete.
    r.push(&rows[..5]).await.unwrap();
    r.push(&rows).await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 10, "nothing deleted yet");
    // The relay that survives sends the batch once more and deletes it.
    assert_eq!(r.drain().await.unwrap(), 10);
    assert_eq!(pending(&b).await, ids, "exactly one job per row");
    assert_eq!(store.outbox_len().await.unwrap(), 0);
}
}

on_every_store! {
async fn weir_relay_killed_and_restarted_delivers_every_job_once(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("outbox-kill").await;
    let client = Client::from_broker(b.clone());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--redis", &util::redis().url(), "--prefix", b.prefix(), "relay", "--database-url", store.url()])
        .env_remove("WEIR_DATABASE_URL")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut ids = Vec::new();
    for batch in 0..20 {
        ids.extend(db.enqueue_in_tx(&client, (0..25).map(|n| Email { n: batch * 25 + n }).collect(), true).await);
    }
    // SIGKILL wherever it is: mid-batch, between enqueue and delete, or idle.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let out = util::run_ok(s::weir(b.prefix(), store.url()).args(["relay", "--once"]));
    assert!(out.starts_with("relayed "), "{out}");
    let mut got = pending(&b).await;
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "each committed job exactly once");
    assert_eq!(store.outbox_len().await.unwrap(), 0);
}
}

on_every_store! {
async fn invalid_outbox_row_goes_to_the_archive_not_to_redis(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("outbox-bad").await;
    db.execute("INSERT INTO weir_outbox (id, queue, job, created_at) VALUES ('BADROW', 'mail', '{\"kind\":\"x\"', 0)")
        .await;
    assert_eq!(relay(&b, &store).drain().await.unwrap(), 1);
    assert_eq!(store.outbox_len().await.unwrap(), 0);
    let dead = store.dead_job("BADROW").await.unwrap().expect("archived with the reason");
    assert!(dead.last_error.unwrap().starts_with("outbox row 1: invalid outbox row"), "reason kept");
    assert!(pending(&b).await.is_empty());
}
}

/// Commit-to-Redis latency with the relay service running (printed, not asserted).
async fn latency(name: &str, b: &Broker, store: &Store, mut commit: impl AsyncFnMut(u32) -> String) {
    let services = weir_store::Services::start(
        b,
        store,
        weir_store::ServicesConfig { relay: Some(RelayConfig::default()), archiver: None, history: None },
    );
    tokio::time::sleep(Duration::from_millis(200)).await; // leadership
    let mut samples = Vec::new();
    for n in 0..40 {
        // Spread commits over the poll period, as independent commits would be.
        tokio::time::sleep(Duration::from_millis(u64::from(n * 17 % 50))).await;
        let id = commit(n).await;
        let committed = Instant::now();
        // Polled every millisecond (util::eventually's 20 ms step would dominate the figure).
        let mut arrived = false;
        while !arrived && committed.elapsed() < Duration::from_secs(10) {
            arrived = b.job(&q("mail"), &id).await.unwrap().is_some();
            if !arrived {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert!(arrived, "job {n} reached Redis");
        samples.push(committed.elapsed());
    }
    services.stop().await;
    samples.sort();
    eprintln!(
        "{name}: relay commit->Redis p50 {:?}, p90 {:?}",
        samples[samples.len() / 2],
        samples[samples.len() * 9 / 10]
    );
}

on_every_store! {
async fn relay_service_delivers_commits(db: TestStore) {
    let b = util::broker("latency").await;
    let client = Client::from_broker(b.clone());
    let name = if db.store.pg_pool().is_some() { "postgres (LISTEN/NOTIFY)" } else { "sqlite (50 ms poll)" };
    latency(name, &b, &db.store, async |n| db.enqueue_in_tx(&client, vec![Email { n }], true).await.remove(0)).await;
}
}

on_every_store! {
async fn one_relay_at_a_time_and_a_standby_takes_over(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("relay-failover").await;
    let client = Client::from_broker(b.clone());
    let config = weir_store::ServicesConfig {
        relay: Some(RelayConfig { lock_ttl: Duration::from_secs(1), ..RelayConfig::default() }),
        archiver: None,
        history: None,
    };
    let first = weir_store::Services::start(&b, &store, config.clone());
    let second = weir_store::Services::start(&b, &store, config);
    let lock = weir::broker::keys::store_lock(b.prefix(), "relay");
    let holder = |r: String| r.lines().last().unwrap_or("").to_string();
    let commit = async |n: u32| db.enqueue_in_tx(&client, vec![Email { n }], true).await.remove(0);
    let arrives = async |id: String| {
        util::eventually(Duration::from_secs(10), async || b.job(&q("mail"), &id).await.unwrap().is_some()).await
    };
    assert!(arrives(commit(1).await).await);
    let leader = holder(util::redis().cmd(&["GET", &lock]).unwrap());
    // Whichever stops first, the jobs keep flowing through the other.
    first.stop().await;
    assert!(arrives(commit(2).await).await, "a standby took over");
    assert_ne!(holder(util::redis().cmd(&["GET", &lock]).unwrap()), "", "held by the survivor (was {leader})");
    second.stop().await;
    assert_eq!(util::redis().cmd(&["EXISTS", &lock]).unwrap().trim(), ":0", "released at stop");
    commit(3).await;
    assert_eq!(store.outbox_len().await.unwrap(), 1, "no relay runs after both stopped");
}
}
