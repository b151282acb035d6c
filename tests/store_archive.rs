//! The dead-job archive: the archiver moves dead jobs from Redis to the
//! store (write, then remove; idempotent), and `weir failed` reads, retries
//! and purges them.
use crate::broker_enqueue::q;
use crate::on_every_store;
use crate::store_support::{self as s, dead_job};
use crate::util;
use std::time::Duration;
use weir::broker::{JobState, Selector};
use weir_store::{Archiver, ArchiverConfig, DeadRecord, Services, ServicesConfig, Store};

fn archiver(b: &weir::broker::Broker, store: &Store) -> Archiver {
    Archiver::new(b.clone(), store.clone(), ArchiverConfig::default())
}

on_every_store! {
async fn dead_job_is_archived_with_every_error_then_removed_from_redis(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("archive").await;
    let id = dead_job(&b, "mail", "send", r#"{"to":"a@b"}"#, 3).await;
    let other = dead_job(&b, "mail", "other", "1", 1).await;
    assert_eq!(archiver(&b, &store).pass().await.unwrap(), 2);

    assert!(b.job(&q("mail"), &id).await.unwrap().is_none(), "removed from Redis");
    assert_eq!(b.stats(&q("mail")).await.unwrap().dead, 0);
    let job = store.dead_job(&id).await.unwrap().expect("archived");
    assert_eq!((job.queue.as_str(), job.kind.as_str(), job.attempts, job.max_attempts), ("mail", "send", 3, Some(3)));
    assert_eq!(job.payload.as_deref(), Some(r#"{"to":"a@b"}"#));
    assert_eq!(job.last_error.as_deref(), Some("boom 3"));
    assert!(job.enqueued_at.unwrap() <= job.died_at);
    let errors = store.dead_job_errors(&id).await.unwrap();
    let texts: Vec<(i64, &str)> = errors.iter().map(|e| (e.attempt, e.error.as_str())).collect();
    assert_eq!(texts, [(1, "boom 1"), (2, "boom 2"), (3, "boom 3")]);
    assert!(errors.windows(2).all(|w| w[0].at <= w[1].at) && errors[2].at <= job.died_at);

    // The CLI, filtered by queue and kind.
    let prefix = b.prefix().to_string();
    let url = store.url().to_string();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&util::run_ok(
        s::weir(&prefix, &url).args(["failed", "list", "--queue", "mail", "--kind", "send", "--json"]),
    ))
    .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    let table = util::run_ok(s::weir(&prefix, &url).args(["failed", "list", "--since", "1h"]));
    assert!(table.contains(&id) && table.contains(&other) && table.contains("boom 3"), "{table}");
    let none = util::run_ok(s::weir(&prefix, &url).args(["failed", "list", "--queue", "nope"]));
    assert_eq!(none.lines().count(), 1, "header only: {none}");
    // The filters `weir dead` takes, read the same way: error text (case
    // ignored, any attempt) and died-before.
    let by_error: Vec<serde_json::Value> =
        serde_json::from_str(&util::run_ok(s::weir(&prefix, &url).args(["failed", "list", "--error", "BOOM 2", "--json"])))
            .unwrap();
    let by_error: Vec<&str> = by_error.iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(by_error, [id.as_str()]);
    let old = util::run_ok(s::weir(&prefix, &url).args(["failed", "list", "--older-than", "1h"]));
    assert_eq!(old.lines().count(), 1, "header only: {old}");
    let shown = util::run_ok(s::weir(&prefix, &url).args(["failed", "show", &id]));
    for needle in ["kind:      send", r#"payload:   {"to":"a@b"}"#, "attempt 1 at", "boom 2", "attempts:  3 of 3"] {
        assert!(shown.contains(needle), "{needle:?} in\n{shown}");
    }
    let out = s::run_err(s::weir(&prefix, &url).args(["failed", "show", "NOPE"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archived job with id \"NOPE\""));
}
}

on_every_store! {
async fn crash_between_archive_write_and_redis_removal_loses_nothing_and_doubles_nothing(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("archive-crash").await;
    let id = dead_job(&b, "q", "k", "7", 2).await;
    let a = archiver(&b, &store);
    // The first pass dies after the write: the records are in the store and still in Redis.
    let records = a.read(&q("q"), 100).await.unwrap();
    assert_eq!(records.len(), 1);
    store.archive(&records).await.unwrap();
    assert_eq!(b.job(&q("q"), &id).await.unwrap().unwrap().state, Some(JobState::Dead));
    // The next pass writes the same record again and removes it.
    assert_eq!(a.pass().await.unwrap(), 1);
    assert_eq!(store.dead_count().await.unwrap(), 1);
    assert_eq!(store.dead_job_errors(&id).await.unwrap().len(), 2, "each error once");
    assert!(b.job(&q("q"), &id).await.unwrap().is_none());
    assert_eq!(a.pass().await.unwrap(), 0);
}
}

on_every_store! {
async fn retry_puts_the_job_back_with_attempts_reset_and_it_runs(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("retry").await;
    let id = dead_job(&b, "r", "k", r#"{"n":1}"#, 2).await;
    let id2 = dead_job(&b, "r", "k2", r#"{"n":2}"#, 1).await;
    archiver(&b, &store).pass().await.unwrap();
    let (prefix, url) = (b.prefix().to_string(), store.url().to_string());

    let out = util::run_ok(s::weir(&prefix, &url).args(["failed", "retry", &id]));
    assert_eq!(out.trim(), format!("re-enqueued {id}"));
    let info = b.job(&q("r"), &id).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts, info.errors.len()), (Some(JobState::Pending), 0, 0));
    let again = util::run_ok(s::weir(&prefix, &url).args(["failed", "retry", &id]));
    assert!(again.contains("still in Redis"), "{again}");

    // It runs: a worker takes it on its first attempt and acks it.
    let mut sel = Selector::strict([q("r")]).unwrap();
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().pop().unwrap();
    assert_eq!((r.lease.id.as_str(), r.lease.attempt, r.envelope.payload.get()), (id.as_str(), 1, r#"{"n":1}"#));
    assert_eq!(b.ack(&[(r.lease, Duration::from_millis(1))]).await.unwrap(), vec![true]);
    assert!(b.job(&q("r"), &id).await.unwrap().is_none(), "done");

    let job = store.dead_job(&id).await.unwrap().unwrap();
    assert_eq!(job.retry_count, 1);
    assert!(job.retried_at.unwrap() >= job.died_at);
    let shown = util::run_ok(s::weir(&prefix, &url).args(["failed", "show", &id]));
    assert!(shown.contains("retried:   1 time(s)"), "{shown}");

    // --all takes what was not retried since it died, narrowed by kind.
    let out = util::run_ok(s::weir(&prefix, &url).args(["failed", "retry", "--all", "--kind", "k2"]));
    assert!(out.starts_with("re-enqueued 1 jobs"), "{out}");
    assert_eq!(b.job(&q("r"), &id2).await.unwrap().unwrap().state, Some(JobState::Pending));
    let out = util::run_ok(s::weir(&prefix, &url).args(["failed", "retry", "--all"]));
    assert!(out.starts_with("re-enqueued 0 jobs"), "{out}");
    // A filter beside an id would be ignored: it is a usage error instead.
    let out = s::weir(&prefix, &url).args(["failed", "retry", &id2, "--kind", "k2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"), "{out:?}");
}
}

on_every_store! {
async fn purge_removes_only_what_is_older(db: TestStore) {
    let now = weir_store::store::now_ms();
    let record = |id: &str, age_days: i64| record(id, now - age_days * 86_400_000);
    db.store.archive(&[record("old", 10), record("older", 40), record("new", 1)]).await.unwrap();
    let out = util::run_ok(s::weir("purge", &db.url()).args(["failed", "purge", "--older-than", "7d"]));
    assert!(out.starts_with("purged 2 archived jobs"), "{out}");
    let left: Vec<String> = db.store.dead_jobs(&Default::default()).await.unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(left, ["new"]);
    assert!(db.store.dead_job_errors("old").await.unwrap().is_empty(), "errors go with their job");
}
}

on_every_store! {
async fn damaged_envelope_is_archived_listed_and_shown_raw_but_not_retried(db: TestStore) {
    let b = util::broker("damaged").await;
    let k = b.keys(&q("d"));
    let redis = util::redis();
    // A dead job whose envelope is not JSON, as a buggy producer could leave it.
    redis.cmd(&["SADD", &format!("{}:queues", b.prefix()), "d"]).unwrap();
    redis.cmd(&["HSET", &k.jobs, "j:BAD1", "not json {", "a:BAD1", "1"]).unwrap();
    redis.cmd(&["ZADD", &k.dead, "1700000000000", "BAD1"]).unwrap();
    assert_eq!(archiver(&b, &db.store).pass().await.unwrap(), 1);
    let (prefix, url) = (b.prefix().to_string(), db.url());
    let listed = util::run_ok(s::weir(&prefix, &url).args(["failed", "list"]));
    assert!(listed.contains("BAD1") && listed.contains("(damaged)"), "{listed}");
    let shown = util::run_ok(s::weir(&prefix, &url).args(["failed", "show", "BAD1"]));
    assert!(shown.contains("envelope:  not json {") && shown.contains("cannot be decoded"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&util::run_ok(s::weir(&prefix, &url).args(["failed", "show", "BAD1", "--json"]))).unwrap();
    assert_eq!(json["envelope"], "not json {");
    let out = s::run_err(s::weir(&prefix, &url).args(["failed", "retry", "BAD1"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("job BAD1 cannot be retried"));
}
}

on_every_store! {
async fn archiver_service_runs_once_per_interval_across_the_fleet(db: TestStore) {
    let b = util::broker("archiver-service").await;
    let ids = [dead_job(&b, "s", "k", "1", 1).await, dead_job(&b, "s", "k", "2", 1).await];
    let config = ServicesConfig {
        archiver: Some(ArchiverConfig { interval: Duration::from_millis(50), ..ArchiverConfig::default() }),
        relay: None,
        history: None,
    };
    // Two workers' services: the lock lets one pass run per interval; both together archive each job once.
    let one = Services::start(&b, &db.store, config.clone());
    let two = Services::start(&b, &db.store, config);
    let store = db.store.clone();
    assert!(util::eventually(Duration::from_secs(10), async || store.dead_count().await.unwrap() == 2).await);
    one.stop().await;
    two.stop().await;
    one.stop().await;
    for id in &ids {
        assert!(b.job(&q("s"), id).await.unwrap().is_none());
    }
}
}

on_every_store! {
async fn failed_delete_removes_one_record_with_its_errors(db: TestStore) {
    db.store.archive(&[record("one", 1), record("two", 1)]).await.unwrap();
    let out = util::run_ok(s::weir("fdelete", &db.url()).args(["failed", "delete", "one"]));
    assert_eq!(out.trim(), "deleted archived job one");
    let left: Vec<String> = db.store.dead_jobs(&Default::default()).await.unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(left, ["two"]);
    assert!(db.store.dead_job_errors("one").await.unwrap().is_empty(), "errors go with their job");
    let err = s::run_err(s::weir("fdelete", &db.url()).args(["failed", "delete", "one"]));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no archived job with id \"one\""), "{err:?}");
}
}

/// An archived record of a job of queue `q` that died at `died_at` with one error.
pub fn record(id: &str, died_at: i64) -> DeadRecord {
    DeadRecord {
        id: id.into(),
        queue: "q".into(),
        kind: "k".into(),
        envelope: "{}".into(),
        payload: Some("{}".into()),
        codec: Some("json".into()),
        attempts: 1,
        max_attempts: Some(1),
        errors: vec![weir::broker::AttemptError { attempt: 1, at: died_at, error: "x".into() }],
        enqueued_at: None,
        died_at,
    }
}
