//! At-least-once across crashes: a worker SIGKILLed twice mid-run loses no job.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, q, wait_stats};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_jobs_survive_two_sigkills() {
    let b = util::broker("kill").await;
    let prefix = b.prefix().to_string();
    let ids = enqueue_n(&b, "k", "weir.echo", "{}", 10_000).await;
    // Short leases (timeout 1s => lease 2s) and frequent housekeeping, so
    // the restarted worker reclaims the dead one's jobs quickly.
    let args = ["--queues", "k", "--concurrency", "200", "--timeout", "1s", "--housekeeping", "300ms"];
    let mut runs: Vec<Vec<String>> = Vec::new();
    for kill_at in [2_500usize, 6_000] {
        let seen_before: usize = {
            let mut all: Vec<&String> = runs.iter().flatten().collect();
            all.sort();
            all.dedup();
            all.len()
        };
        let mut w = WorkerProc::start(&prefix, &args);
        let need = kill_at.saturating_sub(seen_before).max(1);
        assert!(w.wait_lines(Duration::from_secs(60), |l| l.len() >= need), "{}", w.report());
        w.kill9();
        runs.push(w.lines());
    }
    let mut w = WorkerProc::start(&prefix, &args);
    let s = wait_stats(&b, "k", Duration::from_secs(90), |s| s.pending + s.active + s.delayed == 0).await;
    assert_eq!((s.pending, s.active, s.delayed, s.dead), (0, 0, 0, 0), "{s:?}\n{}", w.report());
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());
    runs.push(w.lines());

    let mut runs_of: HashMap<&str, usize> = HashMap::new();
    for line in runs.iter().flatten() {
        *runs_of.entry(line.split(' ').next().unwrap()).or_default() += 1;
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !runs_of.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "{} jobs never ran, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let twice = runs_of.values().filter(|n| **n > 1).count();
    let retried = runs.iter().flatten().filter(|l| !l.ends_with(" 1")).count();
    eprintln!(
        "10,000 jobs, 2 SIGKILLs: runs per worker {:?}; {} jobs ran more than once (ran, not acked when killed); \
         {} runs were a later attempt (reclaimed after the kill)",
        runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
        twice,
        retried
    );
    assert_eq!(b.stats(&q("k")).await.unwrap().processed, 10_000);
}
