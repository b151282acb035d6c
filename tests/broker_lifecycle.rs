//! Ack, fail (retry and dead), extend, release, promote, reclaim; and the
//! invariant that a job is always in exactly one state.
use crate::broker_enqueue::{enqueue_ids, job, q};
use crate::util;
use std::time::Duration;
use weir::broker::{Broker, FailOutcome, JobState, OffsetClock, Selector};

const LEASE: Duration = Duration::from_secs(30);

async fn one(b: &Broker, queue: &str) -> weir::broker::Reserved {
    let mut sel = Selector::strict([q(queue)]).unwrap();
    let mut r = b.reserve(&mut sel, 1, LEASE).await.unwrap();
    assert_eq!(r.len(), 1, "expected a job in {queue}");
    r.pop().unwrap()
}

async fn state(b: &Broker, queue: &str, id: &str) -> Option<JobState> {
    b.job(&q(queue), id).await.unwrap().and_then(|i| i.state)
}

#[tokio::test]
async fn ack_finishes_and_deletes() {
    let b = util::broker("ack").await;
    let id = b.enqueue(job("a", "k", "1")).await.unwrap().id;
    let r = one(&b, "a").await;
    assert_eq!((r.lease.id.as_str(), r.lease.attempt), (id.as_str(), 1));
    assert_eq!(state(&b, "a", &id).await, Some(JobState::Active));
    assert_eq!(b.ack(&[(r.lease.clone(), Duration::from_millis(7))]).await.unwrap(), vec![true]);
    assert!(b.job(&q("a"), &id).await.unwrap().is_none(), "done jobs are deleted");
    assert_eq!(b.ack(&[(r.lease, Duration::ZERO)]).await.unwrap(), vec![false], "acking twice is refused");
    let s = b.stats(&q("a")).await.unwrap();
    assert_eq!((s.processed, s.runtime_ms, s.active), (1, 7, 0));
}

#[tokio::test]
async fn batches_larger_than_one_command_takes_are_reserved_and_acked_whole() {
    // Reserve and ack read and write a whole batch with a few commands whose
    // argument lists go out in chunks (Redis's Lua unpacks a few thousand
    // values at most): 1,500 jobs, one reserve and one ack.
    let b = util::broker("big-batch").await;
    let jobs = (0..1500).map(|i| {
        let mut j = job("a", "k", &i.to_string());
        // Every third job holds a unique key, which its ack must free.
        if i % 3 == 0 {
            j.unique = Some(weir::broker::Unique { key: format!("u{i}"), ttl: None });
        }
        j
    });
    b.enqueue_many(jobs).await.unwrap();
    let mut sel = Selector::strict([q("a")]).unwrap();
    let reserved = b.reserve(&mut sel, 1500, LEASE).await.unwrap();
    assert_eq!(reserved.len(), 1500);
    assert!(reserved.iter().all(|r| r.lease.attempt == 1), "every job's first attempt");
    let s = b.stats(&q("a")).await.unwrap();
    assert_eq!((s.pending, s.active), (0, 1500));

    // The whole batch in one ack, with one lease given twice and one stale
    // lease (a wrong attempt): each job is finished once, by its holder.
    let mut done: Vec<_> = reserved.iter().map(|r| (r.lease.clone(), Duration::from_millis(1))).collect();
    done.insert(10, (reserved[3].lease.clone(), Duration::ZERO));
    let mut stale = reserved[7].lease.clone();
    stale.attempt = 2;
    done.insert(0, (stale, Duration::ZERO));
    let acked = b.ack(&done).await.unwrap();
    assert_eq!(acked.len(), 1502);
    assert!(!acked[0], "a stale attempt does not finish the job");
    assert_eq!(acked.iter().filter(|&&a| a).count(), 1500, "each job once");
    let s = b.stats(&q("a")).await.unwrap();
    assert_eq!((s.processed, s.active, s.pending), (1500, 0, 0));
    assert_eq!(b.stored_jobs(&q("a")).await.unwrap(), 0, "no job data left");
    // The unique keys are free again.
    let mut again = job("a", "k", "0");
    again.unique = Some(weir::broker::Unique { key: "u0".into(), ttl: None });
    assert!(b.enqueue(again).await.unwrap().created, "u0 was freed by the ack");
}

#[tokio::test]
async fn fail_retries_until_attempts_are_spent_and_keeps_every_error() {
    let b = util::broker("fail").await;
    let mut j = job("f", "k", "1");
    j.max_attempts = 3;
    let id = b.enqueue(j).await.unwrap().id;
    for attempt in 1..=3u32 {
        let r = one(&b, "f").await;
        assert_eq!(r.lease.attempt, attempt);
        let outcome = b.fail(&r.lease, &format!("boom {attempt}"), Some(std::time::Duration::ZERO)).await.unwrap();
        if attempt < 3 {
            assert_eq!(outcome, FailOutcome::Retry);
            assert_eq!(state(&b, "f", &id).await, Some(JobState::Delayed));
            assert_eq!(b.promote(&q("f")).await.unwrap(), 1);
        } else {
            assert_eq!(outcome, FailOutcome::Dead);
        }
    }
    let info = b.job(&q("f"), &id).await.unwrap().unwrap();
    assert_eq!(info.state, Some(JobState::Dead));
    let errors: Vec<&str> = info.errors.iter().map(|e| e.error.as_str()).collect();
    assert_eq!(errors, ["boom 1", "boom 2", "boom 3"]);
    let s = b.stats(&q("f")).await.unwrap();
    assert_eq!((s.failed, s.dead, s.pending, s.delayed), (3, 1, 0, 0));
}

#[tokio::test]
async fn retry_waits_for_its_time_and_bury_skips_the_retries() {
    let b = util::broker("retry-time").await;
    let id = b.enqueue(job("r", "k", "1")).await.unwrap().id;
    let r = one(&b, "r").await;
    b.fail(&r.lease, "later", Some(std::time::Duration::from_secs(60))).await.unwrap();
    assert_eq!(b.promote(&q("r")).await.unwrap(), 0, "not due yet");
    assert_eq!(state(&b, "r", &id).await, Some(JobState::Delayed));

    let id2 = b.enqueue(job("r", "k", "2")).await.unwrap().id;
    let r = one(&b, "r").await;
    assert_eq!(r.lease.id, id2);
    assert_eq!(b.bury(&r.lease, "do not retry").await.unwrap(), FailOutcome::Dead);
    assert_eq!(state(&b, "r", &id2).await, Some(JobState::Dead));
}

#[tokio::test]
async fn promote_moves_due_jobs_in_bulk() {
    let clock = OffsetClock::default();
    let cfg = weir::broker::BrokerConfig { clock: clock.clone(), ..util::config(&util::prefix("promote")) };
    let b = util::broker_with(cfg).await;
    let jobs = (0..2_500).map(|i| {
        let mut j = job("p", "k", &i.to_string());
        j.run_at = weir::broker::RunAt::After(Duration::from_secs(if i < 2_400 { 10 } else { 1_000 }));
        j
    });
    b.enqueue_many(jobs).await.unwrap();
    assert_eq!(b.promote(&q("p")).await.unwrap(), 0);
    clock.advance(Duration::from_secs(11));
    assert_eq!(b.promote(&q("p")).await.unwrap(), 2_400);
    let s = b.stats(&q("p")).await.unwrap();
    assert_eq!((s.pending, s.delayed), (2_400, 100));
    // The oldest pending job has waited since its run time (about 1 s ago on the moved clock).
    assert!(s.oldest_pending_ms.unwrap() <= 2_000, "{:?}", s.oldest_pending_ms);
}

#[tokio::test]
async fn expired_leases_are_reclaimed_with_the_attempt_counted() {
    let clock = OffsetClock::default();
    let cfg = weir::broker::BrokerConfig { clock: clock.clone(), ..util::config(&util::prefix("reclaim")) };
    let b = util::broker_with(cfg).await;
    let mut j = job("r", "k", "1");
    j.max_attempts = 2;
    let id = b.enqueue(j).await.unwrap().id;
    let held = b.enqueue(job("r", "k", "2")).await.unwrap().id;

    let mut sel = Selector::strict([q("r")]).unwrap();
    let first = b.reserve(&mut sel, 2, LEASE).await.unwrap();
    assert_eq!(first.len(), 2);
    let (lost, kept) = if first[0].lease.id == id { (&first[0], &first[1]) } else { (&first[1], &first[0]) };
    assert_eq!(kept.lease.id, held);

    clock.advance(Duration::from_secs(20));
    assert_eq!(b.extend(std::slice::from_ref(&kept.lease), LEASE).await.unwrap(), vec![true]);
    assert_eq!(b.reclaim(&q("r")).await.unwrap().requeued, 0, "nothing expired yet");
    clock.advance(Duration::from_secs(15));
    // The first lease expired (35 s > 30 s); the extended one holds until 50 s.
    let rc = b.reclaim(&q("r")).await.unwrap();
    assert_eq!((rc.requeued, rc.buried), (1, 0));
    assert_eq!(state(&b, "r", &id).await, Some(JobState::Pending));
    assert_eq!(state(&b, "r", &held).await, Some(JobState::Active));

    // The stale worker can no longer finish or extend the job.
    assert_eq!(b.ack(&[(lost.lease.clone(), Duration::ZERO)]).await.unwrap(), vec![false]);
    assert_eq!(b.fail(&lost.lease, "late", None).await.unwrap(), FailOutcome::Lost);
    assert_eq!(b.extend(std::slice::from_ref(&lost.lease), LEASE).await.unwrap(), vec![false]);

    // Second attempt also expires: attempts spent, so dead, with the reason.
    let again = b.reserve(&mut sel, 1, LEASE).await.unwrap();
    assert_eq!((again[0].lease.id.as_str(), again[0].lease.attempt), (id.as_str(), 2));
    clock.advance(Duration::from_secs(31));
    b.extend(std::slice::from_ref(&kept.lease), Duration::from_secs(600)).await.unwrap();
    let rc = b.reclaim(&q("r")).await.unwrap();
    assert_eq!((rc.requeued, rc.buried), (0, 1));
    let info = b.job(&q("r"), &id).await.unwrap().unwrap();
    assert_eq!(info.state, Some(JobState::Dead));
    assert_eq!(info.errors.len(), 2);
    assert!(info.errors[1].error.contains("lease expired"));
}

#[tokio::test]
async fn release_returns_jobs_without_counting_the_attempt() {
    let b = util::broker("release").await;
    let id = b.enqueue(job("r", "k", "1")).await.unwrap().id;
    let r = one(&b, "r").await;
    assert_eq!(r.lease.attempt, 1);
    assert_eq!(b.release(std::slice::from_ref(&r.lease)).await.unwrap(), vec![true]);
    assert_eq!(state(&b, "r", &id).await, Some(JobState::Pending));
    assert_eq!(b.release(std::slice::from_ref(&r.lease)).await.unwrap(), vec![false]);
    let again = one(&b, "r").await;
    assert_eq!(again.lease.attempt, 1, "a released attempt is not counted");
}

/// Many workers reserving, acking, failing and releasing at once while
/// housekeeping runs: every job ends done or dead exactly once, and at every
/// sample each job is in at most one state.
#[tokio::test]
async fn concurrent_operations_never_lose_or_duplicate_a_job() {
    let b = util::broker("invariant").await;
    let n = 3_000;
    let jobs = (0..n).map(|i| {
        let mut j = job("x", "k", &i.to_string());
        j.max_attempts = 2;
        j
    });
    let ids = enqueue_ids(&b, jobs).await;
    let mut workers = Vec::new();
    for w in 0..4 {
        let b = b.clone();
        workers.push(tokio::spawn(async move {
            let mut sel = Selector::strict([q("x")]).unwrap();
            let mut acked = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                b.promote(&q("x")).await.unwrap();
                b.reclaim(&q("x")).await.unwrap();
                let r = b.reserve(&mut sel, 25, Duration::from_millis(200)).await.unwrap();
                if r.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                idle = 0;
                for (i, j) in r.into_iter().enumerate() {
                    match (i + w) % 7 {
                        0 => {
                            b.fail(&j.lease, "flaky", Some(std::time::Duration::ZERO)).await.unwrap();
                        }
                        1 => {
                            b.release(&[j.lease]).await.unwrap();
                        }
                        2 => {} // abandoned: its lease expires and reclaim takes it back
                        _ => {
                            if b.ack(&[(j.lease.clone(), Duration::ZERO)]).await.unwrap()[0] {
                                acked.push(j.lease.id);
                            }
                        }
                    }
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for w in workers {
        acked.extend(w.await.unwrap());
    }
    let mut unique = acked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), acked.len(), "a job was acked twice");
    let dead = b.list(&q("x"), JobState::Dead, n).await.unwrap();
    let s = b.stats(&q("x")).await.unwrap();
    assert_eq!((s.pending, s.delayed, s.active), (0, 0, 0), "{s:?}");
    assert_eq!(acked.len() + dead.len(), n, "every job is done or dead");
    let mut all: Vec<String> = acked.into_iter().chain(dead).collect();
    all.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(all, expected);
}
