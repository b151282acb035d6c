//! `weir autoscale` with real worker processes: sidecar, limit restarts,
//! cron mode, dry run. (The policy itself is unit-tested in weir-supervisor.)
use crate::broker_enqueue::q;
use crate::util;
use std::collections::HashMap;
use std::fs::File;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use weir::broker::Broker;

/// Enqueues `n` jobs that sleep `ms` and print `<id> <attempt>` when done.
async fn enqueue_sleepers(b: &Broker, queue: &str, n: usize, ms: u64) {
    let jobs: Vec<_> = (0..n)
        .map(|_| {
            let payload = serde_json::value::to_raw_value(&serde_json::json!({"ms": ms, "echo": true})).unwrap();
            weir::broker::NewJob::json(q(queue), "weir.sleep", payload)
        })
        .collect();
    for chunk in jobs.chunks(5_000) {
        b.enqueue_many(chunk.to_vec()).await.unwrap();
    }
}

async fn live_workers(b: &Broker) -> usize {
    b.workers(Duration::from_secs(15)).await.unwrap().into_iter().filter(|w| !w.drain).count()
}

/// A broker under a fresh prefix (returned too, for the `weir` commands) with
/// `n` sleepers of `ms` each on `default`: where every test here starts.
async fn broker_with_sleepers(name: &str, n: usize, ms: u64) -> (Broker, String) {
    let prefix = util::prefix(name);
    let b = util::broker_with(util::config(&prefix)).await;
    enqueue_sleepers(&b, "default", n, ms).await;
    (b, prefix)
}

/// `weir autoscale --queues default`, the queue the tests here scale for.
fn autoscale(prefix: &str) -> std::process::Command {
    let mut c = util::weir(prefix);
    c.args(["autoscale", "--queues", "default"]);
    c
}

/// Polls until `f` holds, panicking with `what` after `within`.
async fn wait_for(within: Duration, what: &str, mut f: impl AsyncFnMut() -> bool) {
    assert!(util::eventually(within, async || f().await).await, "timed out waiting for {what}");
}

struct Supervisor {
    child: Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Supervisor {
    fn start(prefix: &str, args: &[&str]) -> Supervisor {
        let dir = std::env::temp_dir();
        let out = dir.join(format!("{prefix}.out"));
        let err = dir.join(format!("{prefix}.err"));
        let child = autoscale(prefix)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(File::create(&out).unwrap()))
            .stderr(Stdio::from(File::create(&err).unwrap()))
            .spawn()
            .unwrap();
        Supervisor { child, out, err }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM: the first starts a graceful stop, a second cuts it short.
    fn term(&self) {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
    }

    /// Its exit status, panicking with `what` and its log if it still runs at `deadline`.
    fn wait_exit(&mut self, deadline: Instant, what: &str) -> ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{what}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then wait for it (it drains its workers first).
    fn stop(mut self) -> (String, String) {
        self.term();
        let status = self.wait_exit(Instant::now() + Duration::from_secs(60), "supervisor did not stop");
        assert!(status.success(), "supervisor exited with {status}\n{}", self.log());
        (std::fs::read_to_string(&self.out).unwrap(), self.log())
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Every `<id> <attempt>` line: how many times each job ran.
fn runs(stdout: &str) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for line in stdout.lines().filter(|l| !l.starts_with('{')) {
        if let Some(id) = line.split_whitespace().next() {
            *n.entry(id.to_string()).or_default() += 1;
        }
    }
    n
}

fn worker_cmd(extra: &str) -> String {
    format!(
        "{} work --builtin-kinds --queues default --concurrency 16 --heartbeat 1s {extra}",
        env!("CARGO_BIN_EXE_weir")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sidecar_scales_up_with_the_backlog_and_back_down_and_runs_every_job_once() {
    let (b, prefix) = broker_with_sleepers("autoscale-sidecar", 20_000, 5).await;
    let cmd = worker_cmd("");
    let sup = Supervisor::start(
        &prefix,
        &[
            "--min",
            "1",
            "--max",
            "4",
            "--tick",
            "1s",
            "--cooldown",
            "3s",
            "--clear-within",
            "2s",
            "--concurrency",
            "16",
            "--json",
            "--worker-cmd",
            &cmd,
        ],
    );
    // Two ticks (plus the workers' first heartbeat) to reach 4.
    wait_for(Duration::from_secs(5), "4 workers", async || live_workers(&b).await == 4).await;
    wait_for(Duration::from_secs(90), "the backlog to clear", async || {
        let s = b.stats(&q("default")).await.unwrap();
        s.processed == 20_000 && s.pending == 0 && s.active == 0
    })
    .await;
    wait_for(Duration::from_secs(40), "the fleet back at 1", async || live_workers(&b).await == 1).await;
    let (stdout, log) = sup.stop();
    let s = b.stats(&q("default")).await.unwrap();
    assert_eq!((s.processed, s.failed, s.dead, s.delayed), (20_000, 0, 0, 0), "{log}");
    let runs = runs(&stdout);
    assert_eq!(runs.len(), 20_000, "every job ran");
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs ran more than once: {twice:?}");
    let decisions: Vec<serde_json::Value> =
        stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(decisions.len() >= 3);
    assert!(decisions[..2].iter().any(|d| d["desired"] == 4), "4 within two ticks: {:?}", &decisions[..2]);
    assert!(log.contains("draining surplus worker"), "scale-down drains through the registry");
    assert_eq!(live_workers(&b).await, 0, "SIGTERM drained every worker");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_exits_on_max_jobs_is_replaced_while_work_remains() {
    let (b, prefix) = broker_with_sleepers("autoscale-maxjobs", 3_000, 1).await;
    let cmd = worker_cmd("--max-jobs 500");
    let sup = Supervisor::start(
        &prefix,
        &["--min", "1", "--max", "1", "--tick", "500ms", "--cooldown", "1s", "--worker-cmd", &cmd],
    );
    wait_for(Duration::from_secs(60), "the backlog to clear", async || {
        b.stats(&q("default")).await.unwrap().processed == 3_000
    })
    .await;
    let (stdout, log) = sup.stop();
    let exits = log.matches("worker exited on --max-jobs").count();
    assert!(exits >= 5, "3,000 jobs at 500 per worker: {exits} limit exits\n{log}");
    assert_eq!(runs(&stdout).len(), 3_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_runs_start_detached_workers_and_drain_them_when_the_backlog_clears() {
    let (b, prefix) = broker_with_sleepers("autoscale-cron", 20_000, 5).await;
    let cmd = worker_cmd("");
    let once = |prefix: &str| {
        let out = util::run_ok(autoscale(prefix).args([
            "--once",
            "--json",
            "--min",
            "0",
            "--max",
            "3",
            "--cooldown",
            "1s",
            "--clear-within",
            "2s",
            "--worker-cmd",
            &cmd,
        ]));
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    let d = once(&prefix);
    assert_eq!((d["current"].as_u64(), d["desired"].as_u64()), (Some(0), Some(3)), "{d}");
    // The workers outlive the cron run.
    wait_for(Duration::from_secs(10), "3 detached workers", async || live_workers(&b).await == 3).await;
    let d = once(&prefix);
    assert_eq!(d["desired"].as_u64(), Some(3), "no duplicate spawns while the backlog is high: {d}");
    wait_for(Duration::from_secs(90), "the backlog to clear", async || {
        b.stats(&q("default")).await.unwrap().processed == 20_000
    })
    .await;
    // Cron ticks, one a second: one step down per cooldown, to --min 0.
    let mut seen = vec![live_workers(&b).await];
    let started = Instant::now();
    while live_workers(&b).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "fleet did not drain: {seen:?}");
        once(&prefix);
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        seen.push(live_workers(&b).await);
    }
    assert!(seen.windows(2).all(|w| w[1] + 1 >= w[0]), "one worker at a time: {seen:?}");
    let history = util::run_ok(util::weir(&prefix).args(["autoscale", "--history", "--json"]));
    assert!(history.lines().count() >= 4, "{history}");
    assert!(history.lines().all(|l| l.contains("\"mode\":\"cron\"")));
}

#[tokio::test]
async fn dry_run_prints_the_decision_and_acts_on_nothing() {
    let (b, prefix) = broker_with_sleepers("autoscale-dry", 100, 5).await;
    b.enqueue_many(
        (0..5_000).map(|i| weir::broker::NewJob::json(q("held"), "k", serde_json::value::to_raw_value(&i).unwrap())),
    )
    .await
    .unwrap();
    b.pause(&q("held")).await.unwrap();
    let out = util::run_ok(util::weir(&prefix).args([
        "autoscale",
        "--dry-run",
        "--json",
        "--queues",
        "default,held",
        "--min",
        "0",
        "--max",
        "5",
    ]));
    let d: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(d["current"], 0);
    assert_eq!(d["desired"], 1, "100 jobs need one worker; the paused queue's 5,000 do not count: {d}");
    assert!(d["reason"].as_str().unwrap().contains("scale up"));
    let queues = d["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2);
    assert_eq!(queues[1]["paused"], true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(live_workers(&b).await, 0, "nothing was started");
    let history = util::run_ok(util::weir(&prefix).args(["autoscale", "--history"]));
    assert!(history.trim().is_empty(), "a dry run records nothing: {history}");
    // Bad flags: one clear line, nothing done.
    let bad = autoscale(&prefix).args(["--min", "5", "--max", "2"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--min 5 is above --max 2"));
}

#[tokio::test]
async fn scale_cmd_gets_the_desired_count_instead_of_spawning() {
    let (b, prefix) = broker_with_sleepers("autoscale-scale-cmd", 10_000, 100).await;
    let out = std::env::temp_dir().join(format!("{prefix}.scale"));
    // `CMD DESIRED` runs through sh: the count arrives as the last argument,
    // and in WEIR_DESIRED beside WEIR_CURRENT.
    let cmd =
        format!("printf '%s %s' \"$WEIR_CURRENT\" \"$WEIR_DESIRED\" > {f}; printf ' %s' >> {f}", f = out.display());
    util::run_ok(autoscale(&prefix).args(["--once", "--max", "7", "--clear-within", "5s", "--scale-cmd", &cmd]));
    let written = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(written, "0 7 7", "current 0, desired 7 (the backlog wants more than --max)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(live_workers(&b).await, 0, "nothing was spawned");
}

#[tokio::test]
async fn workers_it_starts_inherit_its_redis_settings() {
    let prefix = util::prefix("autoscale-env");
    let b = util::broker_with(util::config(&prefix)).await;
    let args = [
        "--dead-max-len",
        "7",
        "--dead-max-age",
        "2h",
        "--keep-done-max",
        "9",
        "autoscale",
        "--once",
        "--queues",
        "default",
        "--min",
        "1",
    ];
    util::run_ok(util::weir(&prefix).args(args));
    wait_for(Duration::from_secs(10), "the worker to register", async || live_workers(&b).await == 1).await;
    let worker = b.workers(Duration::from_secs(15)).await.unwrap().pop().unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", worker.pid)).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    let vars: Vec<&str> = environ.split('\0').collect();
    assert!(vars.contains(&"WEIR_DEAD_MAX_LEN=7"), "{vars:?}");
    assert!(vars.contains(&"WEIR_DEAD_MAX_AGE=7200000ms"), "{vars:?}");
    assert!(vars.contains(&"WEIR_KEEP_DONE_MAX=9"), "{vars:?}");
    assert!(b.request_drain(&worker.id).await.unwrap());
    let proc_dir = format!("/proc/{}", worker.pid);
    wait_for(Duration::from_secs(20), "the worker to drain and exit", async || {
        !std::path::Path::new(&proc_dir).exists()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_makes_the_sidecar_stop_its_workers_now() {
    // One job that would hold a graceful stop for a minute.
    let (b, prefix) = broker_with_sleepers("autoscale-second-signal", 1, 60_000).await;
    let cmd = worker_cmd("--grace 60s --timeout 120s");
    let mut sup = Supervisor::start(&prefix, &["--min", "1", "--max", "1", "--tick", "1s", "--worker-cmd", &cmd]);
    wait_for(Duration::from_secs(20), "the job to start", async || b.stats(&q("default")).await.unwrap().active == 1)
        .await;
    sup.term();
    let log_has = |sup: &Supervisor, what: &str| sup.log().contains(what);
    let started = Instant::now();
    while !log_has(&sup, "autoscaler stopping") {
        assert!(started.elapsed() < Duration::from_secs(10), "no graceful stop began\n{}", sup.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker now waits for its job (grace 60 s); the second signal cuts that short.
    std::thread::sleep(Duration::from_millis(500));
    assert!(sup.child.try_wait().unwrap().is_none(), "the sidecar should still be waiting for its worker");
    sup.term();
    let status = sup.wait_exit(started + Duration::from_secs(30), "the second signal did not stop it");
    assert!(status.success(), "{status}\n{}", sup.log());
    assert!(sup.log().contains("telling the workers to stop now"), "{}", sup.log());
    let s = b.stats(&q("default")).await.unwrap();
    assert_eq!((s.pending, s.active, s.dead), (1, 0, 0), "the running job went back to its queue\n{}", sup.log());
}
