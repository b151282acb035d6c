//! Reserve: weighted shares, starvation, strict order, paused and empty
//! queues, damaged job data.
use crate::broker_enqueue::{enqueue_ids, job, q};
use crate::util;
use std::collections::HashMap;
use std::time::Duration;
use weir::broker::redis::cmd;
use weir::broker::{Broker, JobState, Lease, NewJob, Selector};

const LEASE: Duration = Duration::from_secs(60);

async fn fill(b: &Broker, queue: &str, n: usize) {
    let jobs: Vec<NewJob> = (0..n).map(|i| job(queue, "k", &i.to_string())).collect();
    for chunk in jobs.chunks(5_000) {
        b.enqueue_many(chunk.to_vec()).await.unwrap();
    }
}

/// Reserves `total` jobs in batches of `batch`, acking each batch; returns jobs per queue.
async fn drain(b: &Broker, sel: &mut Selector, total: usize, batch: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let mut taken = 0;
    while taken < total {
        let r = b.reserve(sel, batch.min(total - taken), LEASE).await.unwrap();
        assert!(!r.is_empty(), "ran dry after {taken}");
        taken += r.len();
        for j in &r {
            *counts.entry(j.lease.queue.to_string()).or_default() += 1;
        }
        let done: Vec<(Lease, Duration)> = r.into_iter().map(|j| (j.lease, Duration::ZERO)).collect();
        assert!(b.ack(&done).await.unwrap().into_iter().all(|x| x));
    }
    counts
}

#[tokio::test]
async fn weighted_shares_match_weights_over_20000_jobs() {
    let b = util::broker("weighted").await;
    let weights = [("critical", 100), ("transactions", 50), ("webhooks", 30), ("default", 10)];
    for (name, _) in weights {
        fill(&b, name, 20_000).await;
    }
    let mut sel = Selector::weighted(weights.map(|(n, w)| (q(n), w))).unwrap();
    let counts = drain(&b, &mut sel, 20_000, 100).await;
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    for (name, w) in weights {
        let share = counts[name] as f64 * 100.0 / 20_000.0;
        let want = w as f64 * 100.0 / total as f64;
        eprintln!("{name}: {share:.2}% (want {want:.2}%)");
        assert!((share - want).abs() <= 3.0, "{name}: {share:.2}% vs {want:.2}%");
    }
}

#[tokio::test]
async fn a_light_queue_is_never_starved() {
    let b = util::broker("starve").await;
    fill(&b, "heavy", 3_000).await;
    fill(&b, "light", 10).await;
    let mut sel = Selector::weighted([(q("heavy"), 1000), (q("light"), 1)]).unwrap();
    let counts = drain(&b, &mut sel, 2_002, 10).await;
    assert_eq!(counts.get("light").copied().unwrap_or(0), 2, "{counts:?}");
}

#[tokio::test]
async fn empty_and_paused_queues_give_their_share_to_the_others() {
    let b = util::broker("share").await;
    fill(&b, "a", 1_000).await;
    fill(&b, "c", 1_000).await;
    fill(&b, "p", 1_000).await;
    b.pause(&q("p")).await.unwrap();
    // "b" has no jobs at all; "p" is paused.
    let mut sel = Selector::weighted([(q("a"), 10), (q("b"), 80), (q("c"), 10), (q("p"), 100)]).unwrap();
    let r = b.reserve(&mut sel, 100, LEASE).await.unwrap();
    assert_eq!(r.len(), 100, "the batch is filled from the queues that have work");
    let a = r.iter().filter(|j| j.lease.queue.as_str() == "a").count();
    assert_eq!((a, 100 - a), (50, 50));
    assert_eq!(b.stats(&q("p")).await.unwrap().pending, 1_000, "a paused queue keeps its jobs");
    b.resume(&q("p")).await.unwrap();
    let r = b.reserve(&mut sel, 100, LEASE).await.unwrap();
    assert!(r.iter().any(|j| j.lease.queue.as_str() == "p"), "resumed queue is served again");
}

#[tokio::test]
async fn strict_takes_queues_in_order() {
    let b = util::broker("strict").await;
    fill(&b, "first", 30).await;
    fill(&b, "second", 30).await;
    fill(&b, "third", 30).await;
    let mut sel = Selector::strict([q("first"), q("second"), q("third")]).unwrap();
    let mut order = Vec::new();
    for _ in 0..9 {
        let r = b.reserve(&mut sel, 10, LEASE).await.unwrap();
        assert_eq!(r.len(), 10);
        order.extend(r.iter().map(|j| j.lease.queue.to_string()));
    }
    let expected: Vec<String> =
        ["first", "second", "third"].iter().flat_map(|n| std::iter::repeat_n(n.to_string(), 30)).collect();
    assert_eq!(order, expected);
    // A batch that straddles two queues.
    fill(&b, "first", 5).await;
    fill(&b, "third", 5).await;
    let r = b.reserve(&mut sel, 8, LEASE).await.unwrap();
    let names: Vec<&str> = r.iter().map(|j| j.lease.queue.as_str()).collect();
    assert_eq!(names, ["first", "first", "first", "first", "first", "third", "third", "third"]);
}

#[tokio::test]
async fn pending_is_fifo_within_a_queue() {
    let b = util::broker("fifo").await;
    let ids = enqueue_ids(&b, (0..50).map(|i| job("f", "k", &i.to_string()))).await;
    let mut sel = Selector::strict([q("f")]).unwrap();
    let got: Vec<String> = b.reserve(&mut sel, 50, LEASE).await.unwrap().into_iter().map(|r| r.lease.id).collect();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn damaged_job_data_goes_to_dead_and_never_blocks_the_queue() {
    let b = util::broker("damaged").await;
    let good1 = b.enqueue(job("d", "k", "1")).await.unwrap().id;
    let garbled = b.enqueue(job("d", "k", "2")).await.unwrap().id;
    let truncated = b.enqueue(job("d", "k", "3")).await.unwrap().id;
    let missing = b.enqueue(job("d", "k", "4")).await.unwrap().id;
    let bad_attempts = b.enqueue(job("d", "k", "5")).await.unwrap().id;
    let no_kind = b.enqueue(job("d", "k", "6")).await.unwrap().id;
    let good2 = b.enqueue(job("d", "k", "7")).await.unwrap().id;
    let keys = b.keys(&q("d"));
    use weir::broker::keys::job_field;
    let set = |field: String, value: &str| cmd("HSET").arg(&keys.jobs).arg(field).arg(value).to_owned();
    let get = |field: String| cmd("HGET").arg(&keys.jobs).arg(field).to_owned();
    b.query::<()>(&set(job_field('j', &garbled), "this is not json")).await.unwrap();
    let env: String = b.query(&get(job_field('j', &truncated))).await.unwrap();
    b.query::<()>(&set(job_field('j', &truncated), &env[..env.len() / 2])).await.unwrap();
    b.query::<()>(&cmd("HDEL").arg(&keys.jobs).arg(job_field('j', &missing)).to_owned()).await.unwrap();
    b.query::<()>(&set(job_field('a', &bad_attempts), "many")).await.unwrap();
    let env: String = b.query(&get(job_field('j', &no_kind))).await.unwrap();
    let stripped = env.replace(r#""kind":"k","#, "");
    b.query::<()>(&set(job_field('j', &no_kind), &stripped)).await.unwrap();

    let mut sel = Selector::strict([q("d")]).unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(b.reserve(&mut sel, 10, LEASE).await.unwrap().into_iter().map(|r| r.lease.id));
    }
    assert_eq!(got, vec![good1, good2], "only the sound jobs reach a worker");
    for id in [&garbled, &truncated, &missing, &bad_attempts, &no_kind] {
        let info = b.job(&q("d"), id).await.unwrap().expect("damaged job is kept for inspection");
        assert_eq!(info.state, Some(JobState::Dead), "{id}");
        let why = &info.errors.last().expect("an error says why").error;
        eprintln!("{id}: {why}");
        assert!(why.contains("damaged") || why.contains("missing"), "{why}");
    }
    let s = b.stats(&q("d")).await.unwrap();
    assert_eq!((s.pending, s.active, s.dead), (0, 2, 5));
}

#[tokio::test]
async fn a_queue_with_wrong_typed_keys_is_skipped_and_loses_nothing() {
    let b = util::broker("wrongtype").await;
    fill(&b, "good", 5).await;
    fill(&b, "bad", 5).await;
    // Someone overwrote the bad queue's jobs hash with a string.
    let jobs_key = b.keys(&q("bad")).jobs.clone();
    let saved: Vec<(String, String)> = b.query(&cmd("HGETALL").arg(&jobs_key).to_owned()).await.unwrap();
    b.query::<()>(&cmd("DEL").arg(&jobs_key).to_owned()).await.unwrap();
    b.query::<()>(&cmd("SET").arg(&jobs_key).arg("oops").to_owned()).await.unwrap();
    let mut sel = Selector::weighted([(q("bad"), 10), (q("good"), 1)]).unwrap();
    let got = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    assert_eq!(got.len(), 5, "the good queue is still served");
    assert!(got.iter().all(|j| j.lease.queue.as_str() == "good"));
    assert_eq!(b.stats(&q("bad")).await.unwrap().pending, 5, "the bad queue's ids were not popped");
    // With only the bad queue, the caller hears why.
    let mut only_bad = Selector::strict([q("bad")]).unwrap();
    let err = b.reserve(&mut only_bad, 10, LEASE).await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    // Repaired, it works again.
    b.query::<()>(&cmd("DEL").arg(&jobs_key).to_owned()).await.unwrap();
    b.query::<()>(&cmd("HSET").arg(&jobs_key).arg(saved).to_owned()).await.unwrap();
    assert_eq!(b.reserve(&mut only_bad, 10, LEASE).await.unwrap().len(), 5);
}
