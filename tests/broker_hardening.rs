//! Bad data in Redis (wrong-typed keys, ids another language wrote, ids that
//! look like field names, envelopes with absurd numbers): each damages one
//! operation or one job, never the others, and never orphans a job.
use crate::broker_enqueue::{job, q};
use crate::util;
use std::time::Duration;
use weir::broker::keys::job_field;
use weir::broker::redis::{Cmd, cmd};
use weir::broker::{Broker, FailOutcome, JobState, NewJob, Selector};

const LEASE: Duration = Duration::from_secs(60);

async fn run(b: &Broker, c: Cmd) {
    b.query::<()>(&c).await.unwrap();
}

/// One key of queue `queue` overwritten with a string.
async fn spoil(b: &Broker, key: &str) {
    run(b, cmd("DEL").arg(key).to_owned()).await;
    run(b, cmd("SET").arg(key).arg("oops").to_owned()).await;
}

#[tokio::test]
async fn ack_and_fail_on_a_wrong_typed_key_leave_the_job_active_not_orphaned() {
    let b = util::broker("harden-types").await;
    let keys = b.keys(&q("t"));
    for (spoiled, what) in [
        (keys.delayed.clone(), "fail"),
        (keys.dead.clone(), "fail"),
        (keys.stats.clone(), "ack"),
        (keys.conf.clone(), "ack"),
        (keys.unique.clone(), "ack"),
        (keys.wake.clone(), "fail"),
    ] {
        b.enqueue(job("t", "k", "1")).await.unwrap();
        let mut sel = Selector::strict([q("t")]).unwrap();
        let r = b.reserve(&mut sel, 1, LEASE).await.unwrap().pop().expect("a job");
        spoil(&b, &spoiled).await;
        let err = match what {
            "ack" => b.ack(&[(r.lease.clone(), Duration::from_millis(1))]).await.map(|_| ()).unwrap_err(),
            _ => b.fail(&r.lease, "boom", Some(Duration::ZERO)).await.map(|_| ()).unwrap_err(),
        };
        assert!(err.to_string().contains("WRONGTYPE"), "{what} with {spoiled} spoiled: {err}");
        // Nothing was changed: once the key is repaired the job is still
        // active with its data intact, so it is reclaimed when its lease
        // expires (what the worker's log says), or finished now.
        run(&b, cmd("DEL").arg(&spoiled).to_owned()).await;
        let info = b.job(&q("t"), &r.lease.id).await.unwrap().expect("the job is kept");
        assert_eq!(info.state, Some(JobState::Active), "{what} with {spoiled} spoiled");
        assert!(info.envelope.is_some());
        match what {
            "ack" => assert_eq!(b.ack(&[(r.lease, Duration::from_millis(1))]).await.unwrap(), [true]),
            _ => assert_eq!(b.fail(&r.lease, "boom", None).await.unwrap(), FailOutcome::Dead),
        }
    }
}

#[tokio::test]
async fn enqueue_with_a_wrong_typed_doorbell_writes_nothing() {
    let b = util::broker("harden-wake").await;
    spoil(&b, &b.keys(&q("w")).wake).await;
    let err = b.enqueue(job("w", "k", "1")).await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    let s = b.stats(&q("w")).await.unwrap();
    assert_eq!((s.pending, s.delayed), (0, 0), "a refused enqueue left no job behind, so a retry cannot duplicate it");
    let jobs: u64 = b.query(&cmd("HLEN").arg(&b.keys(&q("w")).jobs).to_owned()).await.unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn an_id_that_is_not_utf8_is_buried_alone_and_other_queues_are_served() {
    let b = util::broker("harden-utf8").await;
    for i in 0..5 {
        b.enqueue(job("healthy", "k", &i.to_string())).await.unwrap();
    }
    // Written by another language through the protocol, with a raw byte id.
    let k = b.keys(&q("raw"));
    let id: &[u8] = b"bad-\xff\xfe";
    let env = r#"{"id":"x","queue":"raw","kind":"k","payload":{}}"#;
    let mut field = b"j:".to_vec();
    field.extend_from_slice(id);
    run(&b, cmd("HSET").arg(&k.jobs).arg(field).arg(env).to_owned()).await;
    run(&b, cmd("ZADD").arg(&k.pending).arg(1).arg(id).to_owned()).await;
    let mut sel = Selector::weighted([(q("raw"), 10), (q("healthy"), 1)]).unwrap();
    let got = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    assert_eq!(got.len(), 5, "the healthy queue's jobs all came back");
    assert!(got.iter().all(|j| j.lease.queue.as_str() == "healthy"));
    let s = b.stats(&q("raw")).await.unwrap();
    assert_eq!((s.pending, s.active, s.dead), (0, 0, 1), "the bad job alone went dead");
}

#[tokio::test]
async fn ids_with_colons_never_touch_another_jobs_fields() {
    let b = util::broker("harden-colon").await;
    let with_id = |id: &str| NewJob { id: Some(id.into()), ..job("c", "k", "1") };
    for id in ["col1", "col1:a", "col1:m", "a:col1"] {
        assert!(b.enqueue(with_id(id)).await.unwrap().created, "{id}");
    }
    let mut sel = Selector::strict([q("c")]).unwrap();
    let got = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    assert_eq!(got.len(), 4);
    for r in &got {
        assert_eq!(r.lease.attempt, 1, "{}", r.lease.id);
        assert_eq!(r.envelope.id, r.lease.id);
    }
    // Field names are a tag, a colon and the id: `a:col1` the attempts of
    // col1, `j:a:col1` the envelope of the job named `a:col1`.
    let attempts: String =
        b.query(&cmd("HGET").arg(&b.keys(&q("c")).jobs).arg(job_field('a', "col1")).to_owned()).await.unwrap();
    assert_eq!(attempts, "1");
    let done: Vec<_> = got.iter().map(|r| (r.lease.clone(), Duration::from_millis(1))).collect();
    assert_eq!(b.ack(&done).await.unwrap(), [true; 4]);
    let jobs: u64 = b.query(&cmd("HLEN").arg(&b.keys(&q("c")).jobs).to_owned()).await.unwrap();
    assert_eq!(jobs, 0, "every field of every job went with its ack");
}

#[tokio::test]
async fn an_envelope_with_an_absurd_timeout_is_buried_not_leased() {
    let b = util::broker("harden-timeout").await;
    let k = b.keys(&q("big"));
    let env = format!(r#"{{"id":"huge","queue":"big","kind":"k","payload":{{}},"timeout_ms":{}}}"#, i64::MAX);
    run(
        &b,
        cmd("HSET").arg(&k.jobs).arg(job_field('j', "huge")).arg(env).arg(job_field('m', "huge")).arg(3).to_owned(),
    )
    .await;
    run(&b, cmd("ZADD").arg(&k.pending).arg(1).arg("huge").to_owned()).await;
    let mut sel = Selector::strict([q("big")]).unwrap();
    assert!(b.reserve(&mut sel, 10, LEASE).await.unwrap().is_empty());
    let info = b.job(&q("big"), "huge").await.unwrap().unwrap();
    assert_eq!(info.state, Some(JobState::Dead));
    assert!(info.errors.iter().any(|e| e.error.contains("timeout")), "{:?}", info.errors);
}
