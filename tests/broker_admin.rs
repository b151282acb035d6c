//! Pause/resume, delete by id, stats.
use crate::broker_enqueue::{enqueue_ids, job, q};
use crate::util;
use std::time::Duration;
use weir::broker::{JobState, RunAt, Selector, Unique};

#[tokio::test]
async fn pause_keeps_jobs_and_reserve_skips_the_queue() {
    let b = util::broker("pause").await;
    b.enqueue(job("p", "k", "1")).await.unwrap();
    b.pause(&q("p")).await.unwrap();
    let mut sel = Selector::strict([q("p")]).unwrap();
    assert!(b.reserve(&mut sel, 10, Duration::from_secs(5)).await.unwrap().is_empty());
    let s = b.stats(&q("p")).await.unwrap();
    assert!(s.paused);
    assert_eq!(s.pending, 1);
    b.enqueue(job("p", "k", "2")).await.unwrap();
    assert!(b.resume(&q("p")).await.unwrap());
    assert!(!b.resume(&q("p")).await.unwrap(), "resuming twice is harmless");
    assert_eq!(b.reserve(&mut sel, 10, Duration::from_secs(5)).await.unwrap().len(), 2);
}

#[tokio::test]
async fn delete_removes_pending_delayed_and_dead_jobs_but_not_active_ones() {
    let b = util::broker("delete").await;
    let pending = b.enqueue(job("d", "k", "1")).await.unwrap().id;
    let mut later = job("d", "k", "2");
    later.run_at = RunAt::After(Duration::from_secs(600));
    later.unique = Some(Unique { key: "u".into(), ttl: None });
    let delayed = b.enqueue(later.clone()).await.unwrap().id;
    let active_id = b.enqueue(job("d", "k", "3")).await.unwrap().id;

    assert_eq!(b.delete(&q("d"), &pending).await.unwrap(), Some(JobState::Pending));
    assert!(b.job(&q("d"), &pending).await.unwrap().is_none());
    assert_eq!(b.delete(&q("d"), &delayed).await.unwrap(), Some(JobState::Delayed));
    assert!(b.enqueue(later).await.unwrap().created, "deleting frees the unique key");

    let mut sel = Selector::strict([q("d")]).unwrap();
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r[0].lease.id, active_id);
    assert_eq!(b.delete(&q("d"), &active_id).await.unwrap(), None, "active jobs belong to their worker");
    b.bury(&r[0].lease, "x").await.unwrap();
    assert_eq!(b.delete(&q("d"), &active_id).await.unwrap(), Some(JobState::Dead));
    assert_eq!(b.delete(&q("d"), "nope").await.unwrap(), None);
    let s = b.stats(&q("d")).await.unwrap();
    assert_eq!((s.pending, s.delayed, s.active, s.dead), (0, 1, 0, 0));
}

#[tokio::test]
async fn stats_report_every_figure() {
    let b = util::broker("stats").await;
    for i in 0..5 {
        b.enqueue(job("s", "k", &i.to_string())).await.unwrap();
    }
    let mut d = job("s", "k", "9");
    d.run_at = RunAt::After(Duration::from_secs(60));
    b.enqueue(d).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut sel = Selector::strict([q("s")]).unwrap();
    let r = b.reserve(&mut sel, 3, Duration::from_secs(30)).await.unwrap();
    b.ack(&[(r[0].lease.clone(), Duration::from_millis(40))]).await.unwrap();
    b.bury(&r[1].lease, "x").await.unwrap();
    let s = b.stats(&q("s")).await.unwrap();
    assert_eq!((s.pending, s.delayed, s.active, s.dead, s.processed, s.failed), (2, 1, 1, 1, 1, 1));
    assert!(!s.paused);
    assert!(s.oldest_pending_ms.unwrap() >= 30, "{:?}", s.oldest_pending_ms);
    let empty = b.stats(&q("nothing-here")).await.unwrap();
    assert_eq!(empty.oldest_pending_ms, None);
}

#[tokio::test]
async fn the_dead_set_stays_bounded() {
    let cfg = weir::broker::BrokerConfig { dead_max_len: 3, ..util::config(&util::prefix("dead-bound")) };
    let b = util::broker_with(cfg).await;
    let ids = enqueue_ids(&b, (0..5).map(|i| job("x", "k", &i.to_string()))).await;
    let mut sel = Selector::strict([q("x")]).unwrap();
    for r in b.reserve(&mut sel, 5, Duration::from_secs(30)).await.unwrap() {
        b.bury(&r.lease, "gone").await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let dead = b.list(&q("x"), JobState::Dead, 10).await.unwrap();
    assert_eq!(dead, ids[2..].to_vec(), "the newest 3 are kept");
    assert!(b.job(&q("x"), &ids[0]).await.unwrap().is_none(), "trimmed jobs leave no data behind");
}
