//! Redis's dead sets: the broker's API (pages, filters, cursors, counts,
//! retry and delete by id and by filter) and `weir dead`, `weir delete`.
use crate::broker_enqueue::{job, q};
use crate::store_support::run_err;
use crate::util;
use std::collections::BTreeSet;
use std::time::Duration;
use weir::broker::{Broker, DeadCursor, DeadFilter, JobState, OffsetClock, Selector};

/// Enqueues one job per kind and buries each with its error. Returns the ids in order.
async fn bury(b: &Broker, queue: &str, jobs: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (kind, error) in jobs {
        let id = b.enqueue(job(queue, kind, "{}")).await.unwrap().id;
        let mut sel = Selector::strict([q(queue)]).unwrap();
        let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().pop().expect("a job");
        assert_eq!(r.lease.id, id);
        b.bury(&r.lease, error).await.unwrap();
        ids.push(id);
    }
    ids
}

/// A broker on a frozen clock, so jobs buried together die in the same ms.
async fn frozen(name: &str) -> (Broker, OffsetClock) {
    let clock = OffsetClock::default();
    clock.freeze();
    let cfg = weir::broker::BrokerConfig { clock: clock.clone(), ..util::config(&util::prefix(name)) };
    (util::broker_with(cfg).await, clock)
}

/// Every page of a queue's dead set under `filter`, `limit` at a time.
async fn all_pages(b: &Broker, queue: &str, filter: &DeadFilter, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<DeadCursor> = None;
    loop {
        let page = b.dead_page(&q(queue), filter, cursor.as_ref(), limit).await.unwrap();
        assert!(page.jobs.len() <= limit);
        ids.extend(page.jobs.into_iter().map(|j| j.id));
        match page.next {
            // The text form round-trips, as the dashboard passes it in a URL.
            Some(c) => cursor = Some(DeadCursor::parse(&c.to_string()).unwrap()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn pages_filter_and_count_dead_jobs_newest_first_through_ties() {
    let (b, clock) = frozen("dead-pages").await;
    // Five deaths in one ms (ties), then three a second later.
    let old = bury(&b, "d", &[("a", "Boom"), ("b", "boom"), ("a", "timeout"), ("b", "x"), ("a", "BOOM!")]).await;
    clock.advance(Duration::from_secs(1));
    let split = b.redis_time_ms().await.unwrap();
    let new = bury(&b, "d", &[("a", "timeout"), ("b", "boom"), ("c", "nope")]).await;

    let everything = all_pages(&b, "d", &DeadFilter::default(), 100).await;
    assert_eq!(everything.len(), 8);
    assert_eq!(everything[..3].iter().collect::<BTreeSet<_>>(), new.iter().collect(), "newest deaths first");
    for limit in [1, 2, 3] {
        assert_eq!(all_pages(&b, "d", &DeadFilter::default(), limit).await, everything, "pages of {limit}");
    }

    let kind_a = DeadFilter { kind: Some("a".into()), ..Default::default() };
    let a: BTreeSet<String> = all_pages(&b, "d", &kind_a, 1).await.into_iter().collect();
    assert_eq!(a, [&old[0], &old[2], &old[4], &new[0]].into_iter().cloned().collect());
    assert_eq!(b.dead_count(&q("d"), &kind_a).await.unwrap(), 4);

    let boom = DeadFilter { error: Some("bOOm".into()), ..Default::default() };
    assert_eq!(b.dead_count(&q("d"), &boom).await.unwrap(), 4, "error text ignores case");
    let old_boom = DeadFilter { until_ms: Some(split), ..boom.clone() };
    assert_eq!(all_pages(&b, "d", &old_boom, 2).await.len(), 3);
    let since = DeadFilter { since_ms: Some(split), ..Default::default() };
    assert_eq!(b.dead_count(&q("d"), &since).await.unwrap(), 3);
    assert_eq!(b.dead_count(&q("d"), &DeadFilter { until_ms: Some(split), ..Default::default() }).await.unwrap(), 5);

    let one = b.dead_job(&q("d"), &new[2]).await.unwrap().expect("dead");
    assert_eq!((one.kind.as_deref(), one.last_error(), one.attempts), (Some("c"), Some("nope"), 1));
    assert!(b.dead_job(&q("d"), "nope").await.unwrap().is_none());
    assert!(DeadCursor::parse("12").is_err() && DeadCursor::parse("x-y").is_err());
}

#[tokio::test]
async fn retry_and_delete_by_id_and_by_filter_report_what_they_did() {
    let b = util::broker("dead-act").await;
    let ids = bury(&b, "r", &[("a", "e1"), ("a", "e2"), ("b", "e3"), ("b", "e4"), ("c", "e5")]).await;
    let live = b.enqueue(job("r", "a", "{}")).await.unwrap().id;

    // By id: only ids in the dead set count; a pending job is left alone.
    let asked = vec![ids[0].clone(), live.clone(), "nope".into()];
    let mut reports = Vec::new();
    assert_eq!(b.retry_dead(&q("r"), &asked, |n| reports.push(n)).await.unwrap(), 1);
    assert_eq!(reports, [1]);
    let info = b.job(&q("r"), &ids[0]).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (Some(JobState::Pending), 0), "attempts reset");
    assert_eq!(info.errors.len(), 1, "earlier errors kept");
    assert_eq!(b.delete_dead(&q("r"), &[live.clone(), ids[1].clone()], |_| {}).await.unwrap(), 1);
    assert!(b.job(&q("r"), &ids[1]).await.unwrap().is_none(), "deleted with its data");
    assert_eq!(b.job(&q("r"), &live).await.unwrap().unwrap().state, Some(JobState::Pending));

    let kind_b = DeadFilter { kind: Some("b".into()), ..Default::default() };
    assert_eq!(b.retry_dead_matching(&q("r"), &kind_b, |_| {}).await.unwrap(), 2);
    assert_eq!(b.delete_dead_matching(&q("r"), &DeadFilter::default(), |_| {}).await.unwrap(), 1);
    let s = b.stats(&q("r")).await.unwrap();
    assert_eq!((s.pending, s.dead), (4, 0));
    // Retried jobs run again.
    let mut sel = Selector::strict([q("r")]).unwrap();
    assert_eq!(b.reserve(&mut sel, 10, Duration::from_secs(30)).await.unwrap().len(), 4);
}

#[tokio::test]
async fn retry_over_many_batches_moves_every_match() {
    let (b, _clock) = frozen("dead-many").await;
    // 2,500 deaths in one ms: more than one page and one script call.
    let jobs: Vec<_> = (0..2_500).map(|i| job("m", "k", &i.to_string())).collect();
    b.enqueue_many(jobs).await.unwrap();
    let mut sel = Selector::strict([q("m")]).unwrap();
    let mut n = 0;
    while n < 2_500 {
        let leases = b.reserve(&mut sel, 500, Duration::from_secs(30)).await.unwrap();
        for r in &leases {
            b.bury(&r.lease, "x").await.unwrap();
        }
        n += leases.len();
    }
    assert_eq!(
        b.dead_count(&q("m"), &DeadFilter { error: Some("x".into()), ..Default::default() }).await.unwrap(),
        2_500
    );
    let mut reports = Vec::new();
    assert_eq!(b.retry_dead_matching(&q("m"), &DeadFilter::default(), |n| reports.push(n)).await.unwrap(), 2_500);
    assert_eq!(reports, [1_000, 2_000, 2_500]);
    assert_eq!(b.stats(&q("m")).await.unwrap().pending, 2_500);
}

#[tokio::test]
async fn cli_lists_shows_retries_and_deletes_dead_jobs() {
    let b = util::broker("dead-cli").await;
    let p = b.prefix().to_string();
    let ids = bury(&b, "c1", &[("send_email", "smtp down"), ("resize", "bad image")]).await;
    let other = bury(&b, "c2", &[("send_email", "smtp refused")]).await;

    let out = util::run_ok(util::weir(&p).args(["dead", "list", "--kind", "send_email", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed: BTreeSet<&str> = v["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ids[0].as_str(), other[0].as_str()].into_iter().collect(), "{out}");
    let out = util::run_ok(util::weir(&p).args(["dead", "list", "--queue", "c1", "--limit", "1"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "a header, one job, where to go on: {out}");
    assert!(ids.iter().any(|id| lines[1].starts_with(id.as_str())) && lines[2].starts_with("more: --after "), "{out}");

    let out = util::run_ok(util::weir(&p).args(["dead", "show", &other[0]]));
    assert!(out.contains("queue:     c2") && out.contains("smtp refused"), "{out}");
    let err = run_err(util::weir(&p).args(["dead", "show", "01NOSUCHJOB"]));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no dead job 01NOSUCHJOB in any queue"));

    let out = util::run_ok(util::weir(&p).args(["dead", "retry", "--all", "--error", "SMTP", "--dry-run"]));
    assert!(out.starts_with("2 dead jobs match"), "{out}");
    assert_eq!(b.stats(&q("c1")).await.unwrap().dead, 2, "a dry run changes nothing");
    let out = util::run_ok(util::weir(&p).args(["dead", "retry", "--all", "--error", "smtp"]));
    assert!(out.starts_with("2 dead jobs match") && out.trim_end().ends_with("retried 2 dead jobs"), "{out}");
    assert_eq!(b.job(&q("c2"), &other[0]).await.unwrap().unwrap().state, Some(JobState::Pending));

    let err = run_err(util::weir(&p).args(["dead", "delete", &ids[1], "01NOSUCHJOB"]));
    assert!(String::from_utf8_lossy(&err.stdout).contains("deleted 1 dead jobs"));
    assert!(String::from_utf8_lossy(&err.stderr).contains("1 of the 2 ids given are not dead jobs"));
    assert!(b.job(&q("c1"), &ids[1]).await.unwrap().is_none());

    // `weir delete ID`: a pending job, found in whichever queue holds it.
    let out = util::run_ok(util::weir(&p).args(["delete", &ids[0]]));
    assert_eq!(out.trim(), format!("deleted {} (was pending in c1)", ids[0]));
    let err = run_err(util::weir(&p).args(["delete", &ids[0]]));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no pending, delayed or dead job"));
    let mut sel = Selector::strict([q("c2")]).unwrap();
    let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().pop().unwrap();
    let err = run_err(util::weir(&p).args(["delete", &r.lease.id, "--queue", "c2"]));
    assert!(String::from_utf8_lossy(&err.stderr).contains("is running"), "{err:?}");
}
