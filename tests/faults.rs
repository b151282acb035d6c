//! Our own fault suite: real `weir work` processes, a real fault, and at the
//! end the same three checks: every job ran at least once (0 lost), the
//! figures on one line (`fault=.. jobs=.. lost=0 duplicates=..`), and the
//! queue's keys empty (`weir stats --json` all zero, `HLEN P:{Q}:jobs` 0).
//!
//! - SIGKILL storm: workers killed at random every ~0.5 s and replaced.
//! - Redis SIGKILLed mid-drain and restarted from its AOF, a producer running.
//! - A worker SIGSTOPped past its lease: another reclaims the job, and the
//!   stopped one's late ack is refused (fencing).
//! - Workers whose clocks are 120 s ahead or behind (`faketime`): no job runs
//!   before its time, no lease is stolen, since every time weir compares
//!   comes from Redis's `TIME`.
use crate::util::{self, RedisServer};
use crate::worker_support::{WorkerProc, enqueue_ids, enqueue_n, job, q, wait_stats};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};
use weir::broker::{Broker, NewJob};

/// Runs per job id, from `<id> <attempt>` lines (`weir.echo`, `weir.sleep`
/// with echo).
fn runs_of<'a>(lines: impl IntoIterator<Item = &'a String>) -> HashMap<String, usize> {
    let mut runs: HashMap<String, usize> = HashMap::new();
    for line in lines {
        if let Some(id) = line.split(' ').next().filter(|id| !id.is_empty()) {
            *runs.entry(id.to_string()).or_default() += 1;
        }
    }
    runs
}

/// Lost (never ran) and duplicates (runs past the first) of `ids`.
fn lost_and_duplicates(ids: &[String], runs: &HashMap<String, usize>) -> (Vec<String>, usize) {
    let lost: Vec<String> = ids.iter().filter(|id| !runs.contains_key(id.as_str())).cloned().collect();
    let duplicates = runs.values().map(|n| n - 1).sum();
    (lost, duplicates)
}

/// The end state every fault test checks: `weir stats --json` shows nothing
/// pending, delayed, active or dead in `queue`, and its jobs hash is empty.
fn assert_queue_empty(server: &RedisServer, prefix: &str, queue: &str) {
    let out = util::run_ok(util::weir_at(&server.url(), prefix).args(["stats", "--json"]));
    let all: serde_json::Value = serde_json::from_str(&out).expect("weir stats --json prints JSON");
    let s = &all[queue];
    let figures: Vec<u64> =
        ["pending", "delayed", "active", "dead"].iter().map(|k| s[*k].as_u64().unwrap_or(u64::MAX)).collect();
    assert_eq!(figures, [0, 0, 0, 0], "pending/delayed/active/dead of {queue} at the end: {s}");
    let jobs = format!("{prefix}:{{{queue}}}:jobs");
    let hlen = server.cmd(&["HLEN", &jobs]).expect("HLEN");
    assert_eq!(hlen, ":0\r\n", "HLEN {jobs} at the end (fields of jobs not done)");
}

/// Sends SIGTERM to every live worker and checks each exits 0.
fn stop_all(workers: &mut [WorkerProc]) {
    for w in workers.iter_mut() {
        if w.running() {
            w.signal("TERM");
        }
    }
    for w in workers.iter_mut() {
        let code = w.wait_exit(Duration::from_secs(20)).and_then(|s| s.code());
        assert_eq!(code, Some(0), "worker did not exit 0 on SIGTERM\n{}", w.report());
    }
}

/// A small PRNG (xorshift): the tests need no `rand`, only some variety.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng(t | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_storm_of_several_workers_loses_nothing() {
    const JOBS: usize = 3000;
    const MIN_KILLS: usize = 6;
    let b = util::broker("sigkill-storm").await;
    let prefix = b.prefix().to_string();
    let ids = enqueue_n(&b, "storm", "weir.sleep", r#"{"ms":5,"echo":true}"#, JOBS).await;
    // Short leases (timeout 1s => lease 2s) and frequent housekeeping, so a
    // killed worker's jobs come back quickly; a per-process pace keeps the
    // drain long enough for the storm (3 workers, at most 150 jobs/s each).
    let args = [
        "--queues",
        "storm",
        "--concurrency",
        "8",
        "--timeout",
        "1s",
        "--housekeeping",
        "300ms",
        "--rate",
        "storm=150/s",
    ];
    let mut workers: Vec<WorkerProc> = (0..3).map(|_| WorkerProc::start(&prefix, &args)).collect();
    let mut dead_lines: Vec<String> = Vec::new();
    let mut rng = Rng::seeded();
    let mut kills = 0;
    let start = Instant::now();
    let all_ran = |workers: &[WorkerProc], dead_lines: &[String]| {
        let live: Vec<String> = workers.iter().flat_map(|w| w.lines()).collect();
        let runs = runs_of(dead_lines.iter().chain(live.iter()));
        ids.iter().filter(|id| runs.contains_key(id.as_str())).count()
    };
    loop {
        tokio::time::sleep(Duration::from_millis(400 + rng.below(200))).await;
        let ran = all_ran(&workers, &dead_lines);
        if ran == JOBS {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "after 90 s and {kills} kills only {ran} of {JOBS} jobs ran\n{}",
            workers.iter().map(|w| w.report()).collect::<Vec<_>>().join("\n")
        );
        let victim = rng.below(workers.len() as u64) as usize;
        let mut w = workers.swap_remove(victim);
        w.kill9();
        dead_lines.extend(w.lines());
        kills += 1;
        workers.push(WorkerProc::start(&prefix, &args));
    }
    let drain = start.elapsed();
    // Jobs that ran but whose ack died with their worker are still active:
    // their leases expire, they run again and are acked.
    let s = wait_stats(&b, "storm", Duration::from_secs(60), |s| s.pending + s.active + s.delayed == 0).await;
    assert_eq!((s.pending, s.active, s.delayed, s.dead), (0, 0, 0, 0), "{s:?}");
    stop_all(&mut workers);
    let all: Vec<String> = dead_lines.into_iter().chain(workers.iter().flat_map(|w| w.lines())).collect();
    let runs = runs_of(&all);
    let (lost, duplicates) = lost_and_duplicates(&ids, &runs);
    eprintln!(
        "fault=sigkill-storm jobs={JOBS} kills={kills} lost={} duplicates={duplicates} drain={:.1}s",
        lost.len(),
        drain.as_secs_f64()
    );
    assert!(lost.is_empty(), "{} jobs never ran, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(kills >= MIN_KILLS, "only {kills} kills before the drain ended: the storm needs a slower drain");
    let s = b.stats(&q("storm")).await.unwrap();
    assert_eq!(s.processed, JOBS as u64, "each job acked exactly once: {s:?}");
    assert_queue_empty(util::redis(), &prefix, "storm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sigkilled_and_restarted_from_aof_mid_drain_with_a_producer() {
    const TARGET: usize = 2000;
    let mut server = RedisServer::builder().appendonly(true).start();
    // The kit writes `appendonly yes` with the default `appendfsync
    // everysec` (enough for SIGKILL: the page cache survives). Ask for
    // `always` and write it to the config file, so the restart keeps it.
    assert_eq!(server.cmd(&["CONFIG", "SET", "appendfsync", "always"]).unwrap(), "+OK\r\n");
    assert_eq!(server.cmd(&["CONFIG", "REWRITE"]).unwrap(), "+OK\r\n");
    let url = server.url();
    let prefix = util::prefix("redis-crash");
    let b = Broker::connect(&url, util::config(&prefix)).await.expect("connect to the AOF server");
    let args = ["--queues", "crash", "--concurrency", "20", "--timeout", "1s", "--housekeeping", "300ms"];
    let mut workers: Vec<WorkerProc> = (0..2).map(|_| WorkerProc::start_at(&url, &prefix, &args)).collect();

    // The producer: batches of 20, paced so that it runs across the outage.
    // Only the ids of a call that returned Ok count as acknowledged.
    let producer = {
        let b = b.clone();
        tokio::spawn(async move {
            let (mut acked, mut errors) = (Vec::new(), 0usize);
            let start = Instant::now();
            while acked.len() < TARGET {
                assert!(start.elapsed() < Duration::from_secs(60), "producer: {} acked after 60 s", acked.len());
                let jobs: Vec<NewJob> =
                    (0..20).map(|_| job("crash", "weir.sleep", r#"{"ms":3,"echo":true}"#)).collect();
                match b.enqueue_many(jobs).await {
                    Ok(done) => acked.extend(done.into_iter().map(|e| e.id)),
                    Err(_) => errors += 1,
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            (acked, errors)
        })
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before_kill = workers.iter().map(|w| w.lines().len()).sum::<usize>();
    server.kill9();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart().expect("restart redis-server from its AOF");
    assert_eq!(
        server.cmd(&["CONFIG", "GET", "appendfsync"]).unwrap(),
        "*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n",
        "the restarted server kept appendfsync always"
    );
    let (acked, errors) = producer.await.expect("producer");

    let start = Instant::now();
    loop {
        let lines: Vec<String> = workers.iter().flat_map(|w| w.lines()).collect();
        let runs = runs_of(&lines);
        let missing = acked.iter().filter(|id| !runs.contains_key(id.as_str())).count();
        if missing == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "60 s after the restart, {missing} of {} acknowledged jobs never ran\n{}",
            acked.len(),
            workers.iter().map(|w| w.report()).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = wait_stats(&b, "crash", Duration::from_secs(60), |s| s.pending + s.active + s.delayed == 0).await;
    assert_eq!((s.pending, s.active, s.delayed, s.dead), (0, 0, 0, 0), "{s:?}");
    for w in workers.iter_mut() {
        assert!(w.running(), "a worker did not survive the Redis restart by itself\n{}", w.report());
    }
    stop_all(&mut workers);
    let lines: Vec<String> = workers.iter().flat_map(|w| w.lines()).collect();
    let runs = runs_of(&lines);
    let (lost, duplicates) = lost_and_duplicates(&acked, &runs);
    let acked_set: HashSet<&str> = acked.iter().map(String::as_str).collect();
    let unacked_ran = runs.keys().filter(|id| !acked_set.contains(id.as_str())).count();
    eprintln!(
        "fault=redis-kill9-aof jobs={} lost={} duplicates={duplicates} enqueue_errors={errors} \
         ran_unacknowledged={unacked_ran} runs_before_kill={before_kill} processed={}",
        acked.len(),
        lost.len(),
        s.processed
    );
    assert!(lost.is_empty(), "{} acknowledged jobs never ran, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert_eq!(s.processed, runs.len() as u64, "each job that ran acked exactly once: {s:?}");
    assert_queue_empty(&server, &prefix, "crash");
}

/// `S|E <id> <attempt> <ms>` lines of `weir.stamp`: (tag, id, attempt, ms).
fn stamps(lines: &[String]) -> Vec<(String, String, u32, i64)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut p = l.split(' ');
            Some((p.next()?.to_string(), p.next()?.to_string(), p.next()?.parse().ok()?, p.next()?.parse().ok()?))
        })
        .collect()
}

fn count(lines: &[String], tag: &str) -> usize {
    stamps(lines).iter().filter(|s| s.0 == tag).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_past_its_lease_is_fenced() {
    let b = util::broker("fenced").await;
    let prefix = b.prefix().to_string();
    // timeout 2s => lease 3s; the job takes 1.5 s.
    let args = ["--queues", "fence", "--concurrency", "1", "--timeout", "2s", "--housekeeping", "300ms"];
    let first = WorkerProc::start(&prefix, &args);
    let id = b.enqueue(job("fence", "weir.stamp", r#"{"ms":1500}"#)).await.unwrap().id;
    assert!(first.wait_lines(Duration::from_secs(20), |l| count(l, "S") == 1), "{}", first.report());
    first.signal("STOP");
    let stopped = Instant::now();
    let second = WorkerProc::start(&prefix, &args);
    let reclaimed = second.wait_lines(Duration::from_secs(20), |l| count(l, "S") == 1);
    if !reclaimed {
        first.signal("CONT");
    }
    assert!(reclaimed, "the second worker never reclaimed the stopped worker's job\n{}", second.report());
    let stopped_for = stopped.elapsed();
    // The second worker runs attempt 2 for 1.5 s; wake the first now, so
    // its late ack (or failure) lands while the job belongs to the second.
    first.signal("CONT");
    let first_finished = first.wait_lines(Duration::from_millis(1000), |l| count(l, "E") == 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mid = b.stats(&q("fence")).await.unwrap();
    let second_still_running = count(&second.lines(), "E") == 0;
    assert!(second.wait_lines(Duration::from_secs(20), |l| count(l, "E") == 1), "{}", second.report());
    let s = wait_stats(&b, "fence", Duration::from_secs(20), |s| s.processed >= 1 && s.active == 0).await;
    // Time for anything late from the first worker to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s_after = b.stats(&q("fence")).await.unwrap();
    let mut workers = [first, second];
    stop_all(&mut workers);
    let [first, second] = workers;
    let runs = count(&first.lines(), "E") + count(&second.lines(), "E");
    let attempts: Vec<u32> = stamps(&second.lines()).iter().filter(|s| s.0 == "S" && s.1 == id).map(|s| s.2).collect();
    eprintln!(
        "fault=sigstop-past-lease jobs=1 stopped_for={:.1}s lost=0 duplicates={} first_finished_after_wake={first_finished} \
         second_attempts={attempts:?} processed={} failed={}",
        stopped_for.as_secs_f64(),
        runs.saturating_sub(1),
        s_after.processed,
        s_after.failed
    );
    if second_still_running {
        // The first worker's ack, had it been taken, would have finished
        // the job while the second still held it.
        assert_eq!(
            (mid.active, mid.processed, mid.failed),
            (1, 0, 0),
            "after the stopped worker woke, the job must still be the second worker's: {mid:?}"
        );
    }
    assert_eq!(s.processed, 1, "{s:?}");
    assert_eq!((s_after.processed, s_after.failed, s_after.dead), (1, 0, 0), "processed exactly once: {s_after:?}");
    assert_queue_empty(util::redis(), &prefix, "fence");
}

/// `weir --redis .. --prefix .. work --builtin-kinds <args>` with the
/// environment `faketime -f <offset>` gives its command (`LD_PRELOAD` of
/// libfaketime, `FAKETIME=<offset>`). Not under `faketime` itself: that
/// stays the parent of the worker and does not pass SIGTERM on, so the test
/// could not stop the worker.
fn skewed_worker(offset: &str, prefix: &str, args: &[&str]) -> WorkerProc {
    let preload = match Command::new("faketime").args(["-f", offset, "env"]).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("LD_PRELOAD=").map(str::to_string))
            .expect("faketime sets LD_PRELOAD"),
        _ => panic!("install faketime (scripts/test does): `faketime -f {offset} env` did not run"),
    };
    let mut cmd = util::weir(prefix);
    cmd.env("LD_PRELOAD", preload).env("FAKETIME", offset);
    cmd.arg("work").arg("--builtin-kinds").args(args);
    WorkerProc::spawn(cmd, args)
}

/// Polls the workers' `weir.stamp` lines until `ids` all have an `E` line,
/// noting when (in the test's clock) each `S` line was first seen: (worker
/// index, id, seen at, the worker's own clock in the line minus the test's
/// wall clock when seen, ms: about the worker's skew).
fn watch_stamps(workers: &[&WorkerProc], ids: &[String], within: Duration) -> Vec<(usize, String, Instant, i64)> {
    let start = Instant::now();
    let mut seen = vec![0usize; workers.len()];
    let mut starts = Vec::new();
    let mut ended: HashSet<String> = HashSet::new();
    loop {
        for (w, worker) in workers.iter().enumerate() {
            let lines = worker.lines();
            let (now, wall) = (Instant::now(), now_ms());
            for (tag, id, _, ms) in stamps(&lines[seen[w]..]) {
                if tag == "S" {
                    starts.push((w, id, now, ms - wall));
                } else {
                    ended.insert(id);
                }
            }
            seen[w] = lines.len();
        }
        if ids.iter().all(|id| ended.contains(id)) {
            return starts;
        }
        assert!(
            start.elapsed() < within,
            "{} of {} jobs finished in {within:?}\n{}",
            ended.len(),
            ids.len(),
            workers.iter().map(|w| w.report()).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_a_skewed_clock_does_not_run_jobs_early_or_steal_leases() {
    // timeout 3s => lease 4.5s: a worker judging leases by a clock 120 s off
    // would reclaim the other's running jobs at once.
    let args = ["--concurrency", "10", "--timeout", "3s", "--housekeeping", "300ms"];

    // 1. 120 s ahead: its housekeeping would promote the delayed jobs at once.
    let b = util::broker("clock-ahead").await;
    let prefix = b.prefix().to_string();
    let wargs = [&["--queues", "ahead"][..], &args].concat();
    let ahead = skewed_worker("+120s", &prefix, &wargs);
    let normal = WorkerProc::start(&prefix, &wargs);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let enqueued_at = Instant::now();
    let jobs: Vec<NewJob> = (0..20)
        .map(|_| NewJob {
            run_at: weir::broker::RunAt::After(Duration::from_secs(6)),
            ..job("ahead", "weir.stamp", r#"{"ms":1500}"#)
        })
        .collect();
    let ids = enqueue_ids(&b, jobs).await;
    let starts = watch_stamps(&[&ahead, &normal], &ids, Duration::from_secs(40));
    let earliest = starts.iter().map(|s| s.2.duration_since(enqueued_at)).min().unwrap();
    let early: Vec<_> = starts.iter().filter(|s| s.2 < enqueued_at + Duration::from_secs(5)).collect();
    let by_ahead = starts.iter().filter(|s| s.0 == 0).count();
    let skew_s = skew_of(&starts);
    let mut two = [ahead, normal];
    stop_all(&mut two);
    let all: Vec<String> = two.iter().flat_map(|w| w.lines()).collect();
    let started = runs_of(stamps(&all).iter().filter(|s| s.0 == "S").map(|s| &s.1));
    let (lost, duplicates) = lost_and_duplicates(&ids, &started);
    eprintln!(
        "fault=clock-ahead-120s jobs=20 delay=6s lost={} duplicates={duplicates} early={} earliest_start={:.2}s \
         by_skewed={by_ahead} by_normal={} skewed_worker_clock_off_by~{}s",
        lost.len(),
        early.len(),
        earliest.as_secs_f64(),
        starts.len() - by_ahead,
        skew_s.map_or("?".into(), |s| format!("{s:.0}"))
    );
    assert!(lost.is_empty(), "{lost:?}");
    assert!(early.is_empty(), "jobs started before their due time minus 1 s: {early:?}");
    assert_eq!(duplicates, 0, "a job started twice (a lease stolen?): {started:?}");
    assert!(by_ahead > 0, "the skewed worker ran no job, so it tested nothing\n{}", two[0].report());
    assert!(skew_s.is_some_and(|s| s > 100.0), "faketime did not put the worker ahead: ~{skew_s:?}s");
    assert!(two[0].stderr().contains("clock differs from Redis's"), "no skew warning:\n{}", two[0].report());
    assert_queue_empty(util::redis(), &prefix, "ahead");

    // 2. 120 s behind, beside a normal worker: 1-2 s jobs, no lease stolen.
    let b = util::broker("clock-behind").await;
    let prefix = b.prefix().to_string();
    let wargs = [&["--queues", "behind"][..], &args].concat();
    let behind = skewed_worker("-120s", &prefix, &wargs);
    let normal = WorkerProc::start(&prefix, &wargs);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let jobs: Vec<NewJob> =
        (0..20).map(|i| job("behind", "weir.stamp", &format!(r#"{{"ms":{}}}"#, 1000 + 50 * i))).collect();
    let ids = enqueue_ids(&b, jobs).await;
    let starts = watch_stamps(&[&behind, &normal], &ids, Duration::from_secs(40));
    let by_behind = starts.iter().filter(|s| s.0 == 0).count();
    let skew_s = skew_of(&starts);
    // Let a wrong reclaim, if any, show up before stopping.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut two = [behind, normal];
    stop_all(&mut two);
    let all: Vec<String> = two.iter().flat_map(|w| w.lines()).collect();
    let started = runs_of(stamps(&all).iter().filter(|s| s.0 == "S").map(|s| &s.1));
    let (lost, duplicates) = lost_and_duplicates(&ids, &started);
    eprintln!(
        "fault=clock-behind-120s jobs=20 lost={} duplicates={duplicates} by_skewed={by_behind} by_normal={} \
         skewed_worker_clock_off_by~{}s",
        lost.len(),
        starts.len() - by_behind,
        skew_s.map_or("?".into(), |s| format!("{s:.0}"))
    );
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!(duplicates, 0, "a job started twice (a lease stolen?): {started:?}");
    assert!(by_behind > 0, "the skewed worker ran no job, so it tested nothing\n{}", two[0].report());
    assert!(skew_s.is_some_and(|s| s < -100.0), "faketime did not put the worker behind: ~{skew_s:?}s");
    let s = b.stats(&q("behind")).await.unwrap();
    assert_eq!((s.processed, s.failed), (20, 0), "{s:?}");
    assert_queue_empty(util::redis(), &prefix, "behind");
}

/// The skew of worker 0 (the skewed one) in seconds, from its `S` lines.
fn skew_of(starts: &[(usize, String, Instant, i64)]) -> Option<f64> {
    starts.iter().filter(|s| s.0 == 0).map(|s| s.3 as f64 / 1000.0).next()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
