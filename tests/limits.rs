//! Fleet-wide limits at the broker level: queue rate (GCRA), rate keys,
//! concurrency caps, back-pressure holds, bad input. (Multi-process tests
//! through `weir work` are in limits_fleet.rs.)
use crate::broker_enqueue::{job, q};
use crate::util;
use std::time::Duration;
use weir::broker::{Error, Hold, JobState, OffsetClock, Rate, Selector};

const LEASE: Duration = Duration::from_secs(60);

fn clocked(name: &str) -> (weir::broker::BrokerConfig, OffsetClock) {
    let clock = OffsetClock::default();
    // Frozen: rates are counted against moved time only, however slow the machine.
    clock.freeze();
    (weir::broker::BrokerConfig { clock: clock.clone(), ..util::config(&util::prefix(name)) }, clock)
}

#[tokio::test]
async fn queue_rate_limit_allows_the_burst_then_the_rate() {
    let (cfg, clock) = clocked("rate");
    let b = util::broker_with(cfg).await;
    b.enqueue_many((0..100).map(|i| job("r", "k", &i.to_string()))).await.unwrap();
    b.set_rate_limit(&q("r"), "50/s".parse().unwrap(), 10).await.unwrap();
    let mut sel = Selector::strict([q("r")]).unwrap();
    let first = b.reserve(&mut sel, 100, LEASE).await.unwrap();
    assert_eq!(first.len(), 10, "the burst");
    let until = sel.limited_until().expect("limited");
    let wait = until - b.now_ms();
    assert!((0..=25).contains(&wait), "next job allowed in {wait} ms");
    assert!(b.reserve(&mut sel, 100, LEASE).await.unwrap().is_empty() || wait == 0);
    // Over the next second, taken every 100 ms: 50 more (5 per step), not 100.
    let mut n = 0;
    for _ in 0..10 {
        clock.advance(Duration::from_millis(100));
        let step = b.reserve(&mut sel, 100, LEASE).await.unwrap().len();
        assert!(step <= 10, "never more than the burst at once: {step}");
        n += step;
    }
    assert!((49..=51).contains(&n), "{n} in one second");
    // Jobs over the limit stay pending and use no attempt.
    let s = b.stats(&q("r")).await.unwrap();
    assert_eq!(s.pending as usize, 100 - 10 - n);
    let waiting = b.list(&q("r"), JobState::Pending, 1).await.unwrap();
    assert_eq!(b.job(&q("r"), &waiting[0]).await.unwrap().unwrap().attempts, 0);
    assert!(b.clear_limits(&q("r")).await.unwrap(), "it had a limit");
    assert!(!b.clear_limits(&q("r")).await.unwrap(), "and has none now");
    assert_eq!(b.reserve(&mut sel, 100, LEASE).await.unwrap().len(), s.pending as usize);
}

#[tokio::test]
async fn rate_keys_are_limited_apart_and_do_not_block_other_keys() {
    let (cfg, clock) = clocked("rate-keys");
    let b = util::broker_with(cfg).await;
    b.set_key_rule("guild:*", "5/s".parse().unwrap(), 1).await.unwrap();
    let mut jobs = Vec::new();
    for i in 0..20 {
        for key in ["guild:1", "guild:2"] {
            let mut j = job("k", "k", &i.to_string());
            j.rate_key = Some(key.into());
            jobs.push(j);
        }
    }
    // Behind the limited keys: jobs of an unlimited key and with no key.
    for i in 0..10 {
        let mut j = job("k", "k", &i.to_string());
        j.rate_key = Some("other:1".into());
        jobs.push(j);
        jobs.push(job("k", "k", &i.to_string()));
    }
    b.enqueue_many(jobs).await.unwrap();
    let mut sel = Selector::strict([q("k")]).unwrap();
    let got = b.reserve(&mut sel, 100, LEASE).await.unwrap();
    let count = |key: Option<&str>| got.iter().filter(|r| r.envelope.rate_key.as_deref() == key).count();
    assert_eq!((count(Some("guild:1")), count(Some("guild:2"))), (1, 1), "one each (burst 1)");
    assert_eq!((count(Some("other:1")), count(None)), (10, 10), "other jobs are not held up");
    let s = b.stats(&q("k")).await.unwrap();
    assert_eq!((s.pending, s.delayed), (0, 38), "deferred jobs wait in delayed");
    let deferred = b.list(&q("k"), JobState::Delayed, 1).await.unwrap();
    assert_eq!(b.job(&q("k"), &deferred[0]).await.unwrap().unwrap().attempts, 0, "no attempt used");
    // Over the next second each key gets about 5 more.
    let mut per_key = [0, 0];
    for _ in 0..10 {
        clock.advance(Duration::from_millis(100));
        b.promote(&q("k")).await.unwrap();
        for r in b.reserve(&mut sel, 100, LEASE).await.unwrap() {
            per_key[(r.envelope.rate_key.as_deref() == Some("guild:2")) as usize] += 1;
        }
    }
    assert!(per_key.iter().all(|n| (4..=6).contains(n)), "{per_key:?}");
}

#[tokio::test]
async fn concurrency_cap_counts_active_jobs_and_frees_on_finish_and_reclaim() {
    let (cfg, clock) = clocked("concurrency");
    let b = util::broker_with(cfg).await;
    b.enqueue_many((0..20).map(|i| job("c", "k", &i.to_string()))).await.unwrap();
    b.set_concurrency(&q("c"), 4).await.unwrap();
    let mut sel = Selector::strict([q("c")]).unwrap();
    let held = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    assert_eq!(held.len(), 4);
    assert!(b.reserve(&mut sel, 10, LEASE).await.unwrap().is_empty());
    assert_eq!(sel.limited_until(), Some(0), "wait for a slot");
    let waiter = b.waiter(&[q("c")]).await.unwrap();
    b.ack(&[(held[0].lease.clone(), Duration::ZERO)]).await.unwrap();
    assert_eq!(waiter.wait(Duration::from_secs(5)).await.unwrap(), Some(q("c")), "a freed slot rings the doorbell");
    assert_eq!(b.reserve(&mut sel, 10, LEASE).await.unwrap().len(), 1);
    // A dead worker's slots free when its leases are reclaimed.
    clock.advance(LEASE + Duration::from_secs(1));
    b.reclaim(&q("c")).await.unwrap();
    assert_eq!(b.reserve(&mut sel, 10, LEASE).await.unwrap().len(), 4);
}

#[tokio::test]
async fn back_pressure_holds_the_queue_without_using_an_attempt() {
    let (cfg, clock) = clocked("snooze");
    let b = util::broker_with(cfg).await;
    b.enqueue_many((0..5).map(|i| job("s", "k", &i.to_string()))).await.unwrap();
    let mut sel = Selector::strict([q("s")]).unwrap();
    let r = b.reserve(&mut sel, 1, LEASE).await.unwrap().pop().unwrap();
    let until = b.now_ms() + 30_000;
    assert!(b.snooze(&r.lease, Duration::from_secs(30), Hold::Queue).await.unwrap());
    let info = b.job(&q("s"), &r.lease.id).await.unwrap().unwrap();
    // The script follows Redis's clock; this process's may differ by a few ms.
    let near = |t: Option<i64>| t.is_some_and(|t| (t - until).abs() <= 50);
    assert_eq!((info.state, info.attempts), (Some(JobState::Delayed), 0));
    assert!(near(info.score), "{:?} vs {until}", info.score);
    assert!(b.reserve(&mut sel, 10, LEASE).await.unwrap().is_empty(), "the queue is held");
    assert!(near(sel.limited_until()), "{:?} vs {until}", sel.limited_until());
    assert_eq!(b.limits(&q("s")).await.unwrap().held_until, Some(until));
    clock.advance(Duration::from_secs(31));
    b.promote(&q("s")).await.unwrap();
    let again = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    assert_eq!(again.len(), 5);
    let snoozed = again.iter().find(|j| j.lease.id == r.lease.id).unwrap();
    assert_eq!(snoozed.lease.attempt, 1, "the snoozed attempt was not counted");
}

#[tokio::test]
async fn back_pressure_can_hold_just_one_rate_key() {
    let b = util::broker("snooze-key").await;
    let mut jobs = Vec::new();
    for key in ["a", "a", "b"] {
        let mut j = job("s", "k", "1");
        j.rate_key = Some(key.into());
        jobs.push(j);
    }
    b.enqueue_many(jobs).await.unwrap();
    let mut sel = Selector::strict([q("s")]).unwrap();
    let first = b.reserve(&mut sel, 1, LEASE).await.unwrap().pop().unwrap();
    assert_eq!(first.envelope.rate_key.as_deref(), Some("a"));
    b.snooze(&first.lease, Duration::from_secs(60), Hold::Key).await.unwrap();
    let rest = b.reserve(&mut sel, 10, LEASE).await.unwrap();
    let keys: Vec<_> = rest.iter().map(|r| r.envelope.rate_key.clone().unwrap()).collect();
    assert_eq!(keys, ["b"], "key a is held, key b is not");
}

#[tokio::test]
async fn bad_limits_are_refused_and_store_nothing() {
    let b = util::broker("bad-limits").await;
    for bad in ["0/s", "fast", "5/x", "-5/s"] {
        assert!(matches!(bad.parse::<Rate>(), Err(Error::InvalidLimit(_))), "{bad}");
    }
    assert!(matches!(b.set_concurrency(&q("x"), 0).await, Err(Error::InvalidLimit(_))));
    assert!(matches!(b.set_rate_limit(&q("x"), "5/s".parse().unwrap(), 0).await, Err(Error::InvalidLimit(_))));
    assert_eq!(b.limits(&q("x")).await.unwrap(), Default::default());
    assert!(b.key_rules().await.unwrap().is_empty());
}

#[tokio::test]
async fn stale_rate_key_state_is_swept_by_housekeeping() {
    let (cfg, clock) = clocked("keyrate-sweep");
    let b = util::broker_with(cfg).await;
    b.set_key_rule("user:*", "1/s".parse().unwrap(), 1).await.unwrap();
    let jobs = (0..300).map(|i| {
        let mut j = job("s", "k", "1");
        j.rate_key = Some(format!("user:{i}"));
        j
    });
    b.enqueue_many(jobs).await.unwrap();
    let mut sel = Selector::strict([q("s")]).unwrap();
    assert_eq!(b.reserve(&mut sel, 300, LEASE).await.unwrap().len(), 300);
    let keyrate = b.keys(&q("s")).keyrate.clone();
    let hlen = weir::broker::redis::cmd("HLEN").arg(&keyrate).to_owned();
    let entries: u64 = b.query(&hlen).await.unwrap();
    assert_eq!(entries, 300);
    clock.advance(Duration::from_secs(5));
    for _ in 0..10 {
        b.promote(&q("s")).await.unwrap();
    }
    let entries: u64 = b.query(&hlen).await.unwrap();
    assert_eq!(entries, 0, "entries whose time has passed are gone");
}

#[test]
fn stats_show_limits_and_the_jobs_waiting_on_them() {
    let prefix = util::prefix("limits-stats");
    util::run_ok(util::weir(&prefix).args(["enqueue", "--queue", "pay", "--kind", "k", "--json", "{}"]));
    util::run_ok(util::weir(&prefix).args([
        "limit",
        "set",
        "pay",
        "--concurrency",
        "4",
        "--rate",
        "5/s",
        "--burst",
        "2",
    ]));
    // A queue with no jobs shows its limit as soon as it is set.
    util::run_ok(util::weir(&prefix).args(["limit", "set", "other", "--concurrency", "1", "--create"]));
    let table = util::run_ok(util::weir(&prefix).arg("stats"));
    let line = table.lines().find(|l| l.starts_with("pay")).unwrap();
    assert!(line.contains("rate 5/s burst 2, concurrency 4"), "{table}");
    let line = table.lines().find(|l| l.starts_with("other")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("concurrency 1"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["stats", "--json"]))).unwrap();
    assert_eq!(json["pay"]["limits"]["concurrency"], 4);
    assert_eq!(json["pay"]["limits"]["rate"], "5/s");
    assert_eq!(json["pay"]["waiting_on_limits"], 0, "nothing is held back yet");
    assert_eq!(json["other"]["limits"]["concurrency"], 1, "{json}");
}
