//! The whole system on a Redis Cluster (3 masters + 3 replicas, weir-testkit):
//! the CLI end to end, wake-up latency across masters, and no job lost when
//! a master is SIGKILLed or a slot migrates mid-drain.
//! Each test starts its own cluster; it is killed when the test ends.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, q};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use weir::broker::Broker;
use weir_testkit::{RedisCluster, key_slot};

/// Runs `weir --redis URL --prefix P <args>`; asserts success and no
/// CROSSSLOT anywhere in its output; returns stdout.
pub fn cli(url: &str, prefix: &str, args: &[&str]) -> String {
    let (code, out, err) = util::run_any(util::weir_at(url, prefix).args(args));
    assert!(
        code == Some(0) && !out.contains("CROSSSLOT") && !err.contains("CROSSSLOT"),
        "weir {args:?} on {url}: exit {code:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// `weir enqueue <args> --stdin` fed `input`; asserts success; returns stdout.
pub fn cli_stdin(url: &str, prefix: &str, args: &[&str], input: &str) -> String {
    let (code, o, e) = util::enqueue_stdin(util::weir_at(url, prefix), args, input);
    assert!(
        code == Some(0) && !o.contains("CROSSSLOT") && !e.contains("CROSSSLOT"),
        "weir enqueue {args:?} --stdin on {url}: exit {code:?}\nstdout:\n{o}\nstderr:\n{e}"
    );
    o
}

pub fn stats_json(url: &str, prefix: &str) -> serde_json::Value {
    serde_json::from_str(&cli(url, prefix, &["stats", "--json"])).unwrap()
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// Runs per job id, from `<id> <attempt>` lines.
pub fn runs_per_id(lines: &[String]) -> HashMap<String, usize> {
    let mut runs: HashMap<String, usize> = HashMap::new();
    for line in lines {
        if let Some(id) = line.split(' ').next() {
            *runs.entry(id.to_string()).or_default() += 1;
        }
    }
    runs
}

/// Waits (bounded) until every id in `ids` has a line; returns the missing ones.
pub fn wait_all_ran(w: &WorkerProc, ids: &[String], within: Duration) -> Vec<String> {
    let want: HashSet<&str> = ids.iter().map(String::as_str).collect();
    w.wait_lines(within, |lines| {
        let seen: HashSet<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
        want.is_subset(&seen)
    });
    let seen = runs_per_id(&w.lines());
    ids.iter().filter(|id| !seen.contains_key(id.as_str())).cloned().collect()
}

/// [`wait_all_ran`], failing the test with `what` and a few of the missing ids.
pub fn assert_all_ran(w: &WorkerProc, ids: &[String], within: Duration, what: &str) {
    let missing = wait_all_ran(w, ids, within);
    assert!(
        missing.is_empty(),
        "{what}: {} of {} jobs never ran, e.g. {:?}\n{}",
        missing.len(),
        ids.len(),
        &missing[..missing.len().min(5)],
        w.report()
    );
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cli_works_on_a_cluster() {
    let t0 = Instant::now();
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let prefix = util::prefix("cluster-cli");
    let queues = cluster.queue_on_each_master("cli");
    let masters = cluster.masters();
    let owners: Vec<u16> = queues.iter().map(|n| cluster.master_for_slot(key_slot(n))).collect();
    assert_eq!(owners.iter().collect::<HashSet<_>>().len(), 3, "one queue per master: {queues:?} on {owners:?}");
    let payload = r#"{"ms":100,"echo":true}"#;

    // 3 jobs per queue with --json, 4 more per queue from one --stdin batch
    // that spans all three masters.
    let mut ids = Vec::new();
    for queue in &queues {
        for _ in 0..3 {
            let id = cli(&url, &prefix, &["enqueue", "--queue", queue, "--kind", "weir.sleep", "--json", payload]);
            ids.push(id.trim().to_string());
        }
    }
    let mut lines = String::new();
    for i in 0..4 {
        for queue in &queues {
            lines.push_str(&format!("{{\"queue\":\"{queue}\",\"kind\":\"weir.sleep\",\"payload\":{payload}}}\n"));
        }
        let _ = i;
    }
    let out = cli_stdin(&url, &prefix, &["--queue", &queues[0], "--kind", "weir.sleep"], &lines);
    ids.extend(out.lines().map(str::to_string));
    assert_eq!(ids.len(), 21);

    let s = stats_json(&url, &prefix);
    for queue in &queues {
        assert_eq!(s[queue]["pending"], 7, "{queue}: {s}");
        assert_eq!(s[queue]["paused"], false, "{queue}: {s}");
    }

    cli(&url, &prefix, &["pause", &queues[1]]);
    assert_eq!(stats_json(&url, &prefix)[&queues[1]]["paused"], true);
    cli(&url, &prefix, &["resume", &queues[1]]);
    assert_eq!(stats_json(&url, &prefix)[&queues[1]]["paused"], false);

    cli(&url, &prefix, &["limit", "set", &queues[2], "--rate", "100/s", "--burst", "10"]);
    let limits = cli(&url, &prefix, &["limit", "list"]);
    assert!(limits.contains(&queues[2]), "limit list shows {}:\n{limits}", queues[2]);

    let spec = queues.iter().map(|n| format!("{n}=1")).collect::<Vec<_>>().join(",");
    let wargs = ["--queues", spec.as_str(), "--heartbeat", "500ms", "--housekeeping", "500ms", "--grace", "5s"];
    let mut w1 = WorkerProc::start_at(&url, &prefix, &wargs);
    let mut w2 = WorkerProc::start_at(&url, &prefix, &wargs);

    // Both in the registry (this listing used to fail with CROSSSLOT).
    let start = Instant::now();
    let listed = loop {
        let list: serde_json::Value = serde_json::from_str(&cli(&url, &prefix, &["workers", "--json"])).unwrap();
        let pids: Vec<u64> = list.as_array().unwrap().iter().filter_map(|w| w["pid"].as_u64()).collect();
        if pids.contains(&u64::from(w1.pid())) && pids.contains(&u64::from(w2.pid())) || start.elapsed().as_secs() > 15
        {
            break list;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let records = listed.as_array().unwrap();
    assert_eq!(records.len(), 2, "{listed}\n{}\n{}", w1.report(), w2.report());
    let table = cli(&url, &prefix, &["workers"]);
    assert_eq!(table.lines().count(), 3, "a header and two workers:\n{table}");
    let w1_id = records.iter().find(|r| r["pid"].as_u64() == Some(u64::from(w1.pid()))).expect("w1 listed")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let drained = cli(&url, &prefix, &["drain", &w1_id]);
    assert!(drained.contains(&w1_id), "{drained}");
    // More work after the drain: the other worker takes it.
    for queue in &queues {
        let id = cli(&url, &prefix, &["enqueue", "--queue", queue, "--kind", "weir.sleep", "--json", payload]);
        ids.push(id.trim().to_string());
    }
    assert_eq!(w1.wait_exit(Duration::from_secs(20)).and_then(|s| s.code()), Some(0), "{}", w1.report());

    let start = Instant::now();
    let s = loop {
        let s = stats_json(&url, &prefix);
        let left: u64 = queues
            .iter()
            .map(|n| ["pending", "active", "delayed"].iter().map(|f| s[n][f].as_u64().unwrap()).sum::<u64>())
            .sum();
        if left == 0 || start.elapsed().as_secs() > 20 {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for queue in &queues {
        assert_eq!((s[queue]["pending"].as_u64(), s[queue]["active"].as_u64()), (Some(0), Some(0)), "{queue}: {s}");
    }
    // The exporter's snapshot (on a cluster, one pipeline per queue's slot)
    // agrees with `weir stats`, and counts the one live worker.
    let b = weir::broker::Broker::connect(&url, util::config(&prefix)).await.unwrap();
    let fleet = weir::exporter::read(&b).await.unwrap();
    let s = stats_json(&url, &prefix);
    for queue in &queues {
        let f = fleet.queues.iter().find(|f| &f.queue == queue).unwrap_or_else(|| panic!("{queue}: {fleet:?}"));
        assert_eq!(Some(f.stats.processed), s[queue]["processed"].as_u64(), "{queue}: {fleet:?}\n{s}");
        assert_eq!(Some(f.stats.pending), s[queue]["pending"].as_u64(), "{queue}: {fleet:?}\n{s}");
    }
    assert_eq!(fleet.workers, 1, "{fleet:?}");

    let spec_plain = queues.join(",");
    let decision = cli(
        &url,
        &prefix,
        &["autoscale", "--queues", &spec_plain, "--once", "--min", "0", "--max", "2", "--dry-run", "--json"],
    );
    assert!(!decision.trim().is_empty(), "autoscale printed its decision");

    w2.signal("TERM");
    assert_eq!(w2.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w2.report());
    // Both workers have exited and their output is read to the end, so a
    // job's line cannot still be in the pipe (its ack can reach Redis first).
    let mut all = w1.lines();
    all.extend(w2.lines());
    let runs = runs_per_id(&all);
    let missing: Vec<&String> = ids.iter().filter(|id| !runs.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "never ran: {missing:?}\n{}\n{}", w1.report(), w2.report());
    for w in [&w1, &w2] {
        assert!(!w.stderr().contains("CROSSSLOT"), "{}", w.report());
    }
    // The bench's limit probes (a blocking cluster connection, pipelines).
    let limits = cli(&url, &prefix, &["bench", "--only", "r", "-n", "0.001"]);
    assert!(limits.contains("redis_roundtrip_per_s") && limits.contains("redis_pipelined_cmds_per_s"), "{limits}");
    eprintln!(
        "cluster CLI: {} jobs over queues {queues:?} on masters {masters:?}; worker runs {}+{}; {:.1}s",
        ids.len(),
        w1.lines().len(),
        w2.lines().len(),
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_wakes_within_ms_on_any_queue() {
    let t0 = Instant::now();
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let prefix = util::prefix("cluster-wake");
    let queues = cluster.queue_on_each_master("wake");
    let b = Broker::connect(&url, util::config(&prefix)).await.expect("connect to the cluster");
    let spec = queues.join(",");
    let w = WorkerProc::start_at(&url, &prefix, &["--queues", &spec, "--heartbeat", "500ms"]);
    let ready = util::eventually(Duration::from_secs(15), async || {
        b.workers(Duration::from_secs(40)).await.map(|ws| ws.iter().any(|x| x.pid == w.pid())).unwrap_or(false)
    })
    .await;
    assert!(ready, "the worker registered\n{}", w.report());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (mut by_stamp, mut by_read) = (Vec::new(), Vec::new());
    for round in 0..20 {
        for queue in &queues {
            let before = now_ms();
            let id = enqueue_n(&b, queue, "weir.stamp", r#"{"ms":0}"#, 1).await.remove(0);
            let start = format!("S {id} ");
            let ok = w.wait_lines(Duration::from_secs(2), |l| l.iter().any(|x| x.starts_with(&start)));
            let read = now_ms();
            assert!(ok, "round {round}: job {id} on {queue} did not start within 2 s\n{}", w.report());
            let line = w.lines().into_iter().find(|x| x.starts_with(&start)).unwrap();
            let stamp: u128 = line.rsplit(' ').next().unwrap().parse().unwrap();
            by_stamp.push(stamp.saturating_sub(before));
            by_read.push(read - before);
            // Idle again before the next one.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    by_stamp.sort_unstable();
    by_read.sort_unstable();
    eprintln!(
        "cluster wake-up, {} jobs over 3 masters: enqueue-to-start p50 {} ms, p99 {} ms, max {} ms \
         (enqueue-to-line-read p50 {} ms, p99 {} ms); {:.1}s",
        by_stamp.len(),
        percentile(&by_stamp, 0.5),
        percentile(&by_stamp, 0.99),
        by_stamp.last().unwrap(),
        percentile(&by_read, 0.5),
        percentile(&by_read, 0.99),
        t0.elapsed().as_secs_f64()
    );
    assert!(!w.stderr().contains("CROSSSLOT"), "{}", w.report());
}

/// Worker flags for the fault tests: short leases and frequent
/// housekeeping, so jobs whose lease was lost come back quickly.
const FAULT_ARGS: [&str; 10] =
    ["--concurrency", "32", "--timeout", "2s", "--housekeeping", "300ms", "--heartbeat", "1s", "--grace", "5s"];
const FAULT_PAYLOAD: &str = r#"{"ms":25,"echo":true}"#;

enum Fault {
    KillMaster,
    MigrateSlot,
}

async fn drain_through(fault: Fault, name: &str) {
    let t0 = Instant::now();
    let mut cluster = RedisCluster::start();
    let url = cluster.url();
    let prefix = util::prefix(name);
    let queues = cluster.queue_on_each_master(name);
    let b = Broker::connect(&url, util::config(&prefix)).await.expect("connect to the cluster");
    // Uneven, so the first queue is the busiest.
    let mut ids = Vec::new();
    for (queue, n) in queues.iter().zip([1_000, 500, 500]) {
        ids.extend(enqueue_n(&b, queue, "weir.sleep", FAULT_PAYLOAD, n).await);
    }
    assert_eq!(ids.len(), 2_000);
    let spec = queues.iter().map(|n| format!("{n}=1")).collect::<Vec<_>>().join(",");
    let args: Vec<&str> = [&["--queues", spec.as_str()][..], &FAULT_ARGS[..]].concat();
    let mut w = WorkerProc::start_at(&url, &prefix, &args);
    assert!(w.wait_lines(Duration::from_secs(60), |l| l.len() >= 500), "{}", w.report());
    let slot = key_slot(&queues[0]);
    let done_at_fault = w.lines().len();
    let fault_start = Instant::now();
    let what = match fault {
        Fault::KillMaster => {
            let port = cluster.kill9_master_of(slot);
            cluster.wait_failover();
            format!("SIGKILLed master 127.0.0.1:{port} (slot {slot} of {}), failover", queues[0])
        }
        Fault::MigrateSlot => {
            let from = cluster.master_for_slot(slot);
            let to = *cluster.masters().iter().find(|&&m| m != from).unwrap();
            cluster.migrate_slot(slot, to);
            assert_eq!(cluster.master_for_slot(slot), to);
            format!("migrated slot {slot} of {} from 127.0.0.1:{from} to 127.0.0.1:{to}", queues[0])
        }
    };
    let fault_secs = fault_start.elapsed().as_secs_f64();
    let done_after_fault = w.lines().len();
    // Jobs done per queue while the fault lasted: the queues on the healthy
    // masters should keep going.
    let queue_of: HashMap<&str, &str> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.as_str(),
                queues[if i < 1_000 {
                    0
                } else if i < 1_500 {
                    1
                } else {
                    2
                }]
                .as_str(),
            )
        })
        .collect();
    let during = w.lines()[done_at_fault..done_after_fault].to_vec();
    let per_queue: Vec<usize> = queues
        .iter()
        .map(|n| during.iter().filter(|l| queue_of.get(l.split(' ').next().unwrap()) == Some(&n.as_str())).count())
        .collect();
    assert_all_ran(&w, &ids, Duration::from_secs(90), &what);
    // The worker keeps going after the fault, on the queue it hit too.
    let b2 = Broker::connect(&cluster.url(), util::config(&prefix)).await.expect("reconnect to the cluster");
    let after = enqueue_n(&b2, &queues[0], "weir.sleep", FAULT_PAYLOAD, 50).await;
    let missing_after = wait_all_ran(&w, &after, Duration::from_secs(30));
    assert!(missing_after.is_empty(), "{what}: jobs enqueued after it never ran: {missing_after:?}\n{}", w.report());
    assert!(w.running(), "{}", w.report());
    let runs = runs_per_id(&w.lines());
    let twice = ids.iter().filter(|id| runs.get(id.as_str()).copied().unwrap_or(0) > 1).count();
    w.signal("TERM");
    let code = w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code());
    assert!(!w.stderr().contains("CROSSSLOT"), "{}", w.report());
    eprintln!(
        "cluster, {what}: 2,000 jobs, 0 lost, {twice} ran more than once; {done_at_fault} done at the fault, \
         {done_after_fault} when it was over ({fault_secs:.1}s; per queue meanwhile {per_queue:?}); worker exit {code:?}; {:.1}s in all",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(code, Some(0), "{}", w.report());
    let _ = q;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_during_a_drain_loses_nothing() {
    drain_through(Fault::KillMaster, "cl-kill").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_slot_migration_during_a_drain_loses_nothing() {
    drain_through(Fault::MigrateSlot, "cl-migrate").await;
}

/// `weir demo` and the autoscaler's sidecar on a cluster: they spawn and
/// drain workers through the registry, read stats across queues on three
/// masters, and the demo cleans up by scanning every master.
#[test]
fn the_demo_and_the_autoscale_sidecar_work_on_a_cluster() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let out = util::run_ok(util::weir_at(&url, "cl-demo").arg("demo"));
    assert!(out.contains("back to 1 and drained"), "{out}");
    for port in cluster.masters() {
        let keys = weir_testkit::cmd(port, &["KEYS", "cl-demo-demo-*"]).unwrap();
        assert!(keys.starts_with("*0"), "the demo left keys on {port}: {keys}");
    }
    let queues = cluster.queue_on_each_master("cl-side");
    let spec = queues.join(",");
    let mut sidecar = util::weir_at(&url, "cl-side")
        .args(["autoscale", "--queues", &spec, "--min", "2", "--max", "2", "--tick", "1s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let live = || {
        let text = util::run_ok(util::weir_at(&url, "cl-side").args(["workers", "--json"]));
        text.matches("\"pid\"").count()
    };
    let started = Instant::now();
    while live() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "the sidecar did not start 2 workers");
        std::thread::sleep(Duration::from_millis(200));
    }
    nix_term(sidecar.id());
    let status = sidecar.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(sidecar.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "sidecar exit {status:?}\n{err}");
    assert!(!err.contains("CROSSSLOT"), "{err}");
    assert_eq!(live(), 0, "the sidecar drained its workers before it exited");
}

fn nix_term(pid: u32) {
    let ok = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    assert!(ok.success());
}

/// A plain `redis://` URL that reaches a cluster node says what to use
/// instead of failing later with raw MOVED errors.
#[test]
fn a_plain_url_to_a_cluster_node_names_the_cluster_form() {
    let cluster = RedisCluster::start();
    let port = cluster.masters()[0];
    let (code, _, err) = util::run_any(util::weir_at(&format!("redis://127.0.0.1:{port}"), "cl-plain").arg("stats"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("use redis-cluster://"), "{err}");
}

/// The dashboard on a cluster: every page, with a queue on each master, and
/// the actions, with no CROSSSLOT anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_serves_every_page_and_action_on_a_cluster() {
    use crate::broker_enqueue::job;
    use crate::web_support::WebProc;
    use weir::broker::{JobState, RunAt, Selector};
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let prefix = util::prefix("cluster-web");
    let queues = cluster.queue_on_each_master("web");
    let b = Broker::connect(&url, util::config(&prefix)).await.expect("connect to the cluster");
    let (mut dead, mut pending, mut delayed) = (Vec::new(), Vec::new(), Vec::new());
    for queue in &queues {
        dead.push(crate::store_support::dead_job(&b, queue, "send", "{}", 2).await);
        pending.push(b.enqueue(job(queue, "send", "{}")).await.unwrap().id);
        let mut later = job(queue, "send", "{}");
        later.run_at = RunAt::After(Duration::from_secs(3600));
        delayed.push(b.enqueue(later).await.unwrap().id);
    }
    // The first queue's pending job is taken: it is active.
    let mut sel = Selector::strict([q(&queues[0])]).unwrap();
    let active = b.reserve(&mut sel, 1, Duration::from_secs(300)).await.unwrap().pop().expect("a job").lease.id;
    assert_eq!(active, pending[0]);

    let web = WebProc::start_at(&url, &prefix, &[]);
    let get = |path: &str, needles: &[&str]| {
        let r = web.get(path, &[]);
        assert!(
            r.status == 200 && !r.body.contains("CROSSSLOT") && needles.iter().all(|n| r.body.contains(n)),
            "GET {path}: {} (want {needles:?})\n{}",
            r.status,
            r.body
        );
        r
    };
    let hrefs: Vec<String> = queues.iter().map(|q| format!("href=\"/queues/{q}\"")).collect();
    get("/", &hrefs.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, queue) in queues.iter().enumerate() {
        let (p, d, x) = (&pending[i], &delayed[i], &dead[i]);
        let (p, d, x) = (p.as_str(), d.as_str(), x.as_str());
        let on_pending: Vec<&str> = if i == 0 { vec![] } else { vec![p] };
        let on_active: Vec<&str> = if i == 0 { vec![active.as_str()] } else { vec![] };
        get(&format!("/queues/{queue}"), &on_pending);
        get(&format!("/queues/{queue}?state=delayed"), &[d]);
        get(&format!("/queues/{queue}?state=dead"), &[x]);
        get(&format!("/queues/{queue}?state=active"), &on_active);
        get(&format!("/queues/{queue}?kind=send"), &[]);
        let found = web.get(&format!("/queues/{queue}?id={x}"), &[]);
        assert_eq!(found.header("location"), Some(&*format!("/queues/{queue}/jobs/{x}")), "search by id");
        get(&format!("/queues/{queue}/jobs/{x}"), &["boom 1", "boom 2"]);
        get(&format!("/queues/{queue}/jobs/{d}"), &["/run-now"]);
        get(&format!("/dead?queue={queue}"), &[x]);
        get(&format!("/dead?queue={queue}&kind=send&error=boom&newer=1h"), &[x]);
    }
    get("/dead", &[]);
    get("/workers", &[]);
    get("/limits", &[queues[2].as_str()]);
    get("/autoscaler", &[]);
    let series = format!("weir_queue_jobs{{queue=\"{}\",state=\"dead\"}} 1", queues[1]);
    get("/metrics", &[series.as_str()]);

    // Actions, each on its own master's queue.
    let first = get("/limits", &[]);
    let cookie = first.cookie("weir_csrf").expect("a CSRF cookie");
    let token = first.csrf();
    let h = [("Cookie", cookie.as_str())];
    let post = |path: &str, form: &str| {
        let r = web.post(path, &h, &format!("csrf={token}&{form}"));
        assert!(r.status == 303 || r.status == 200, "POST {path} {form}: {}\n{}", r.status, r.body);
        assert!(!r.body.contains("CROSSSLOT"), "POST {path}: {}", r.body);
        r
    };
    let state = |queue: &str, id: &str| {
        let (b, queue, id) = (b.clone(), q(queue), id.to_string());
        async move { b.job(&queue, &id).await.unwrap().and_then(|i| i.state) }
    };
    post("/dead/selected", &format!("do=retry&queue={}&ids={}", queues[1], dead[1]));
    assert_eq!(state(&queues[1], &dead[1]).await, Some(JobState::Pending));
    post(&format!("/queues/{}/pause", queues[2]), "");
    assert!(b.stats(&q(&queues[2])).await.unwrap().paused);
    post(&format!("/queues/{}/resume", queues[2]), "");
    assert!(!b.stats(&q(&queues[2])).await.unwrap().paused);
    post(&format!("/queues/{}/jobs/{}/run-now", queues[0], delayed[0]), "");
    assert_eq!(state(&queues[0], &delayed[0]).await, Some(JobState::Pending));
    let ask = post("/dead/all", &format!("do=delete&queue={}", queues[2]));
    assert!(ask.body.contains("<strong>1</strong> of 1 dead jobs match"), "{}", ask.body);
    post("/dead/all", &format!("do=delete&queue={}&confirm=yes", queues[2]));
    assert_eq!(state(&queues[2], &dead[2]).await, None);
    post(&format!("/limits/{}", queues[1]), "rate=5%2Fs&burst=2&concurrency=3");
    assert_eq!(b.limits(&q(&queues[1])).await.unwrap().concurrency, Some(3));
    post(&format!("/queues/{}/jobs/{}/delete", queues[1], delayed[1]), "");
    assert_eq!(state(&queues[1], &delayed[1]).await, None);
    get("/", &hrefs.iter().map(String::as_str).collect::<Vec<_>>());
}
