//! Periodic jobs: `weir cron` and its bad input, each tick enqueued once by
//! several schedulers, catch-up after a downtime, and changes that apply at
//! the next tick. The DST rules are unit tests of `weir_broker::cron` (the
//! times are passed in, so no clock is faked).
use crate::util;
use crate::worker_support::{WorkerProc, q};
use std::collections::HashMap;
use std::time::Duration;
use weir::broker::{CatchUp, Expr, JobState, Schedule};

fn weir_fails(prefix: &str, args: &[&str]) -> String {
    let out = util::weir(prefix).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cron_commands_and_their_bad_input() {
    let prefix = util::prefix("cron-cli");
    let add = |schedule: &str, extra: &[&str]| {
        let mut args =
            vec!["cron", "add", "nightly", "--schedule", schedule, "--queue", "reports", "--kind", "weir.noop"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for (schedule, extra, says) in [
        ("61 * * * *", vec![], "invalid schedule"),
        ("0 3 * * *", vec!["--tz", "Mars/Olympus"], "unknown time zone \"Mars/Olympus\""),
        ("@every 500ms", vec![], "more frequent than once a second"),
        ("0 3 * * *", vec!["--json", "{nope"], "--json is not valid JSON"),
    ] {
        let args = add(schedule, &extra);
        let e = weir_fails(&prefix, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(e.contains(says), "{schedule} {extra:?}: {e}");
    }
    let list = util::run_ok(util::weir(&prefix).args(["cron", "list", "--json"]));
    assert_eq!(list.trim(), "", "nothing was stored by the refused adds");
    let args = add("0 3 * * *", &["--tz", "Europe/Paris", "--json", r#"{"day":1}"#]);
    util::run_ok(util::weir(&prefix).args(&args));
    let e = weir_fails(&prefix, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("a schedule named \"nightly\" already exists"), "{e}");
    let list = util::run_ok(util::weir(&prefix).args(["cron", "list", "--json"]));
    let v: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(
        (v["name"].as_str(), v["tz"].as_str(), v["queue"].as_str()),
        (Some("nightly"), Some("Europe/Paris"), Some("reports"))
    );
    assert_eq!((v["catch_up"].as_str(), v["last_run"].is_null()), (Some("last"), true));
    let next = v["next_run"].as_i64().unwrap();
    let next =
        jiff::Timestamp::from_millisecond(next).unwrap().to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap());
    assert_eq!((next.hour(), next.minute()), (3, 0), "03:00 Paris time");
    let table = util::run_ok(util::weir(&prefix).args(["cron", "list"]));
    assert!(table.contains("nightly") && table.contains("0 3 * * *"), "{table}");

    util::run_ok(util::weir(&prefix).args(["cron", "pause", "nightly"]));
    let v: serde_json::Value =
        serde_json::from_str(util::run_ok(util::weir(&prefix).args(["cron", "list", "--json"])).trim()).unwrap();
    assert_eq!((v["paused"].as_bool(), v["next_run"].is_null()), (Some(true), true));
    util::run_ok(util::weir(&prefix).args(["cron", "resume", "nightly"]));
    let id = util::run_ok(util::weir(&prefix).args(["cron", "run", "nightly"])).trim().to_string();
    assert!(id.starts_with("cron:nightly:run-"), "{id}");
    let job: serde_json::Value =
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["job", &id, "--json"]))).unwrap();
    assert_eq!((job["state"].as_str(), job["queue"].as_str()), (Some("pending"), Some("reports")));
    util::run_ok(util::weir(&prefix).args(["cron", "remove", "nightly"]));
    for sub in ["remove", "pause", "run"] {
        let e = weir_fails(&prefix, &["cron", sub, "nightly"]);
        assert!(e.contains("no schedule named \"nightly\""), "{sub}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_after_a_downtime_and_changes_at_the_next_tick() {
    let b = util::broker("catch-up").await;
    let minute = Expr::parse("@every 1m", None).unwrap();
    for (name, mode) in [("none", CatchUp::None), ("last", CatchUp::Last), ("all", CatchUp::All)] {
        let payload = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        let mut s = Schedule::new(name, "@every 1m", &q("cu"), "weir.noop", payload);
        s.catch_up = mode;
        b.add_schedule(s, false).await.unwrap();
    }
    let since = b.schedule("all").await.unwrap().since;
    let first = minute.next_after(since).unwrap();
    // No scheduler ran for ten ticks; one comes back 30 s after the tenth.
    let back = first + 9 * 60_000 + 30_000;
    let pass = b.schedule_pass(back).await.unwrap();
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for id in &pass.enqueued {
        by.entry(id.split(':').nth(1).unwrap().to_string()).or_default().push(id.clone());
    }
    let tenth = first + 9 * 60_000;
    assert_eq!(by.get("none"), None, "{by:?}");
    assert_eq!(by["last"], vec![format!("cron:last:{tenth}")]);
    assert_eq!(by["all"], (0..10).map(|i| format!("cron:all:{}", first + i * 60_000)).collect::<Vec<_>>());
    assert_eq!(pass.next_at, Some(tenth + 60_000));
    assert!(b.schedule_pass(back).await.unwrap().enqueued.is_empty(), "a tick is enqueued once");
    let s = b.stats(&q("cu")).await.unwrap();
    assert_eq!(s.pending, 11);

    // A change applies at the next tick, without a restart: the kind changes.
    let mut changed = b.schedule("last").await.unwrap();
    changed.kind = "weir.echo".into();
    b.add_schedule(changed, true).await.unwrap();
    let on_time = tenth + 60_000 + 1_000;
    let pass = b.schedule_pass(on_time.max(b.schedule("last").await.unwrap().since + 1)).await.unwrap();
    let last = pass.enqueued.iter().find(|id| id.starts_with("cron:last:")).cloned();
    let last = last.unwrap_or_else(|| panic!("{pass:?}"));
    let info = b.job(&q("cu"), &last).await.unwrap().unwrap();
    assert_eq!(info.parse_envelope().unwrap().unwrap().kind, "weir.echo");
    assert_eq!(pass.enqueued.len(), 3, "each mode enqueues an on-time tick: {pass:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_schedulers_enqueue_each_tick_once() {
    let b = util::broker("cron-fleet").await;
    let prefix = b.prefix().to_string();
    let payload = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    b.add_schedule(Schedule::new("beat", "@every 1s", &q("beat"), "weir.echo", payload), false).await.unwrap();
    let mut workers: Vec<WorkerProc> =
        (0..3).map(|_| WorkerProc::start(&prefix, &["--queues", "beat", "--concurrency", "4"])).collect();
    // From the first tick the fleet enqueued, count 20 s of ticks.
    let mut start = None;
    util::eventually(Duration::from_secs(20), async || {
        let ids = b.list(&q("beat"), JobState::Done, 10).await.unwrap();
        start = ids.iter().filter_map(|id| id.rsplit(':').next()?.parse::<i64>().ok()).min();
        start.is_some()
    })
    .await;
    let start = start.unwrap_or_else(|| panic!("no tick ran: {}", workers[0].report())) + 1_000;
    let end = start + 20_000;
    while b.redis_time_ms().await.unwrap() < end + 3_000 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut runs: HashMap<i64, usize> = HashMap::new();
    for w in &workers {
        for line in w.lines() {
            let Some(tick) = line.split_whitespace().next().and_then(|id| id.strip_prefix("cron:beat:")) else {
                continue;
            };
            *runs.entry(tick.parse().unwrap()).or_default() += 1;
        }
    }
    let window: Vec<(&i64, &usize)> = runs.iter().filter(|(t, _)| **t >= start && **t < end).collect();
    let twice: Vec<_> = window.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ticks run more than once: {twice:?}");
    assert!((19..=21).contains(&window.len()), "{} ticks in 20 s: {:?}", window.len(), runs.keys().collect::<Vec<_>>());
    for w in &mut workers {
        w.signal("TERM");
    }
    for w in &mut workers {
        assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
    }
}
