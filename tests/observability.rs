//! Observability (docs/OBSERVABILITY.md): a worker's /metrics, /healthz and
//! /readyz on --metrics-addr, the job's fields on its log lines (text and
//! JSON), and the warning and recovery lines of a Redis outage.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, job};
use std::io::{Read, Write};
use std::time::Duration;

/// `GET path` on `addr` over plain HTTP/1.1: (status, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

/// The address a worker logged it serves metrics on.
pub fn wait_served(w: &WorkerProc) -> String {
    logged_addr(w, "serving /metrics")
}

/// The address a process logged it serves on (`addr=HOST:PORT` on the line containing `marker`).
pub fn logged_addr(p: &WorkerProc, marker: &str) -> String {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let found = p.stderr().lines().find(|l| l.contains(marker)).and_then(|l| {
            let at = l.find("addr=")? + 5;
            Some(l[at..].split(|c: char| c.is_whitespace() || c == '"').next()?.to_string())
        });
        if let Some(a) = found {
            return a;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never logged {marker:?}\n{}", p.report());
}

/// The value of the sample `series` (name and labels as rendered) in Prometheus text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_its_counts_and_probes_on_the_metrics_address() {
    let b = util::broker("obs-metrics").await;
    let prefix = b.prefix().to_string();
    enqueue_n(&b, "om", "weir.noop", "{}", 5).await;
    let mut fatal = job("om", "weir.fail", r#"{"fatal":true}"#);
    fatal.max_attempts = 3;
    b.enqueue(fatal).await.unwrap();
    b.enqueue(job("om", "no.such.kind", "{}")).await.unwrap();
    let w = WorkerProc::start(&prefix, &["--queues", "om", "--metrics-addr", "127.0.0.1:0"]);
    let addr = wait_served(&w);
    let done = util::eventually(Duration::from_secs(20), async || {
        let (_, text) = http_get(&addr, "/metrics").unwrap();
        sample(&text, r#"weir_jobs_total{queue="om",kind="weir.noop",outcome="ok"}"#) == Some(5.0)
            && sample(&text, r#"weir_jobs_total{queue="om",kind="weir.fail",outcome="dead"}"#) == Some(1.0)
            // Put back for another worker (the default --unknown-kind
            // retry): labelled, not dropped, and counted as deferred.
            && sample(&text, r#"weir_jobs_total{queue="om",kind="no.such.kind",outcome="deferred"}"#) >= Some(1.0)
    })
    .await;
    let (status, text) = http_get(&addr, "/metrics").unwrap();
    assert!(done && status == 200, "{text}\n{}", w.report());
    assert_eq!(sample(&text, r#"weir_jobs_total{queue="om",kind="weir.noop",outcome="retry"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"weir_jobs_total{queue="om",kind="no.such.kind",outcome="dead"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"weir_job_duration_seconds_count{queue="om",kind="weir.noop"}"#), Some(5.0), "{text}");
    assert!(sample(&text, r#"weir_job_wait_seconds_count{queue="om"}"#) >= Some(7.0), "{text}");
    assert_eq!(sample(&text, r#"weir_jobs_running{queue="om"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, "weir_worker_concurrency"), Some(10.0), "{text}");
    assert!(sample(&text, r#"weir_redis_op_duration_seconds_count{op="reserve"}"#).unwrap_or(0.0) >= 1.0, "{text}");
    assert_eq!(sample(&text, r#"weir_redis_errors_total{op="ack"}"#), Some(0.0), "{text}");
    assert!(sample(&text, "process_resident_memory_bytes").unwrap_or(0.0) > 0.0, "{text}");
    assert!(text.contains("# TYPE weir_job_duration_seconds histogram"), "{text}");
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    assert_eq!(http_get(&addr, "/readyz").unwrap(), (200, "ready\n".to_string()));
    // promtool, where installed (scripts/test installs it), accepts the output.
    if let Some(problems) = promtool_check_metrics(&text) {
        panic!("promtool check metrics: {problems}\n{text}");
    }
    drop(w);
}

/// `promtool check metrics` on `text`: None when it passes (or is not
/// installed and CI is not set), Some(problems) otherwise.
pub fn promtool_check_metrics(text: &str) -> Option<String> {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) if std::env::var_os("CI").is_none() => return None,
        Err(e) => return Some(format!("cannot run promtool: {e}")),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (!out.status.success() || !said.trim().is_empty()).then_some(said)
}

#[test]
fn a_busy_or_invalid_metrics_address_is_one_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let prefix = util::prefix("obs-busy");
    let (code, _, err) = util::run_any(util::weir(&prefix).args(["work", "--metrics-addr", &addr]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("cannot serve metrics on {addr}")) && err.lines().count() == 1, "{err}");
    let (code, _, err) = util::run_any(util::weir(&prefix).args(["work", "--metrics-addr", "nowhere"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--metrics-addr nowhere: use HOST:PORT"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_redis_and_the_outage_is_logged_with_its_length() {
    let mut redis = util::RedisServer::start();
    let prefix = util::prefix("obs-ready");
    let mut cmd = util::weir_at(&redis.url(), &prefix);
    cmd.args(["work", "--queues", "or", "--metrics-addr", "127.0.0.1:0", "--housekeeping", "200ms"]);
    cmd.args(["--heartbeat", "200ms"]).env("WEIR_LOG", "info");
    let w = WorkerProc::spawn(cmd, &[]);
    let addr = wait_served(&w);
    assert_eq!(http_get(&addr, "/readyz").unwrap().0, 200, "{}", w.report());
    redis.stop();
    let down = util::eventually(Duration::from_secs(20), async || {
        let (status, body) = http_get(&addr, "/readyz").unwrap();
        status == 503 && body.starts_with("redis: ") && body.lines().count() == 1
    })
    .await;
    assert!(down, "{:?}\n{}", http_get(&addr, "/readyz"), w.report());
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    redis.restart().unwrap();
    let up = util::eventually(Duration::from_secs(20), async || http_get(&addr, "/readyz").unwrap().0 == 200).await;
    assert!(up, "{:?}\n{}", http_get(&addr, "/readyz"), w.report());
    let logged =
        util::eventually(Duration::from_secs(10), async || w.stderr().contains("Redis is reachable again after")).await;
    let err = w.stderr();
    assert!(logged && err.contains("Redis is unreachable; retrying until it is back"), "{}", w.report());
    assert_eq!(err.matches("Redis is unreachable;").count(), 1, "one warning per outage\n{err}");
    assert!(err.contains("outage_ms="), "{err}");
    drop(w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_of_a_job_name_it_in_text_and_in_json() {
    let b = util::broker("obs-logs").await;
    let prefix = b.prefix().to_string();
    let mut fatal = job("ol", "weir.fail", r#"{"fatal":true,"message":"boom"}"#);
    fatal.max_attempts = 1;
    let id = b.enqueue(fatal.clone()).await.unwrap().id;
    let mut cmd = util::weir(&prefix);
    cmd.args(["work", "--builtin-kinds", "--queues", "ol", "--log-format", "json"]).env("WEIR_LOG", "info");
    let w = WorkerProc::spawn(cmd, &[]);
    let dead = |w: &WorkerProc| w.stderr().lines().any(|l| l.contains("job dead"));
    let seen = util::eventually(Duration::from_secs(20), async || dead(&w)).await;
    assert!(seen, "{}", w.report());
    let line = w.stderr().lines().find(|l| l.contains("job dead")).unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "WARN", "{line}");
    assert_eq!(v["target"], "weir_worker::job", "{line}");
    assert_eq!(v["message"], "job dead", "{line}");
    assert_eq!(v["error"], "boom", "{line}");
    assert!(v["timestamp"].as_str().is_some_and(|t| t.starts_with("20")), "{line}");
    assert_eq!(v["span"]["id"], id.as_str(), "{line}");
    assert_eq!(v["span"]["queue"], "ol", "{line}");
    assert_eq!(v["span"]["kind"], "weir.fail", "{line}");
    assert_eq!(v["span"]["attempt"], 1, "{line}");
    // Every line is JSON.
    for l in w.stderr().lines() {
        assert!(serde_json::from_str::<serde_json::Value>(l).is_ok(), "not JSON: {l}");
    }
    drop(w);

    // Text, the default, at the default level.
    let id = b.enqueue(fatal).await.unwrap().id;
    let mut cmd = util::weir(&prefix);
    cmd.args(["work", "--builtin-kinds", "--queues", "ol"]).env("WEIR_LOG", "info");
    let w = WorkerProc::spawn(cmd, &[]);
    let seen = util::eventually(Duration::from_secs(20), async || dead(&w)).await;
    let err = w.stderr();
    let line = err.lines().find(|l| l.contains("job dead")).unwrap_or_default();
    assert!(seen, "{}", w.report());
    for field in [format!("id={id}"), "kind=weir.fail".into(), "queue=ol".into(), "attempt=1".into()] {
        assert!(line.contains(&field), "{field} missing: {line}");
    }
}

/// `weir exporter --listen 127.0.0.1:0` on the shared private server.
fn start_exporter(prefix: &str) -> (WorkerProc, String) {
    let mut cmd = util::weir(prefix);
    cmd.args(["exporter", "--listen", "127.0.0.1:0"]).env("WEIR_LOG", "info");
    let p = WorkerProc::spawn(cmd, &[]);
    let addr = logged_addr(&p, "serving fleet metrics");
    (p, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exporter_serves_every_queue_as_metrics_and_json() {
    let b = util::broker("obs-exporter").await;
    let prefix = b.prefix().to_string();
    enqueue_n(&b, "ea", "weir.noop", "{}", 3).await;
    enqueue_n(&b, "eb", "weir.noop", "{}", 2).await;
    b.pause(&crate::worker_support::q("eb")).await.unwrap();
    let (exporter, addr) = start_exporter(&prefix);
    let (status, text) = http_get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200, "{text}\n{}", exporter.report());
    assert_eq!(sample(&text, r#"weir_queue_jobs{queue="ea",state="pending"}"#), Some(3.0), "{text}");
    assert_eq!(sample(&text, r#"weir_queue_jobs{queue="eb",state="pending"}"#), Some(2.0), "{text}");
    assert_eq!(sample(&text, r#"weir_queue_paused{queue="eb"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"weir_queue_paused{queue="ea"}"#), Some(0.0), "{text}");
    assert!(sample(&text, r#"weir_queue_oldest_pending_seconds{queue="ea"}"#).is_some(), "{text}");
    assert_eq!(sample(&text, "weir_workers"), Some(0.0), "{text}");
    if let Some(problems) = promtool_check_metrics(&text) {
        panic!("promtool check metrics: {problems}\n{text}");
    }
    let (status, body) = http_get(&addr, "/api/queues").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status, 200);
    let ea = v["queues"].as_array().unwrap().iter().find(|q| q["queue"] == "ea").cloned();
    assert_eq!(ea.as_ref().map(|q| q["pending"].clone()), Some(3.into()), "{v}");
    assert!(ea.as_ref().is_some_and(|q| q["oldest_pending_ms"].as_u64().is_some()), "{v}");
    let (status, body) = http_get(&addr, "/api/queues/eb").unwrap();
    let eb: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, eb["pending"].as_u64(), eb["paused"].as_bool()), (200, Some(2), Some(true)), "{body}");
    let (status, body) = http_get(&addr, "/api/queues/bad%20name").unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(http_get(&addr, "/readyz").unwrap(), (200, "ready\n".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_many_queues_matches_each_queues_stats() {
    let b = util::broker("obs-snapshot").await;
    // More than two batches of queues.
    let n = weir::broker::admin::SNAPSHOT_BATCH * 2 + 17;
    let jobs: Vec<_> = (0..n).map(|i| job(&format!("s{i}"), "weir.noop", "{}")).collect();
    for chunk in jobs.chunks(100) {
        b.enqueue_many(chunk.to_vec()).await.unwrap();
    }
    b.pause(&crate::worker_support::q("s5")).await.unwrap();
    let names = b.queues().await.unwrap();
    assert_eq!(names.len(), n);
    let snapshot = b.snapshot(&names).await.unwrap();
    assert_eq!(snapshot.len(), n);
    for (q, s) in &snapshot {
        let one = b.stats(q).await.unwrap();
        assert_eq!((s.pending, s.paused), (one.pending, one.paused), "{q}");
        assert_eq!(s.pending, 1, "{q}");
    }
    assert!(snapshot.iter().any(|(q, s)| q.as_str() == "s5" && s.paused));
}

/// A Prometheus server scraping `targets` every 200 ms, killed on drop.
struct Prometheus {
    child: std::process::Child,
    addr: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// None when `prometheus` is not installed and CI is not set (CI's
    /// scripts/test installs it).
    fn start(targets: &[(&str, &str)]) -> Option<Prometheus> {
        if std::process::Command::new("prometheus").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "prometheus is not installed (scripts/test installs it)");
            eprintln!("prometheus is not installed: skipping (scripts/test installs it)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("weir-prom-{}-{}", std::process::id(), util::prefix("p")));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = String::from("global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n");
        for (job, addr) in targets {
            config.push_str(&format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"));
        }
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("start prometheus");
        Some(Prometheus { child, addr, _dir: TempDir(dir) })
    }

    /// The value of an instant query with exactly one result.
    fn query(&self, q: &str) -> Option<f64> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = http_get(&self.addr, &format!("/api/v1/query?query={encoded}")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = v["data"]["result"].as_array()?;
        (status == 200 && result.len() == 1).then(|| result[0]["value"][1].as_str()?.parse().ok())?
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.0.join("log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_worker_and_the_exporter() {
    let b = util::broker("obs-prometheus").await;
    let prefix = b.prefix().to_string();
    enqueue_n(&b, "op", "weir.noop", "{}", 6).await;
    let mut fatal = job("op", "weir.fail", r#"{"fatal":true}"#);
    fatal.max_attempts = 5;
    for _ in 0..2 {
        b.enqueue(fatal.clone()).await.unwrap();
    }
    let w = WorkerProc::start(&prefix, &["--queues", "op", "--metrics-addr", "127.0.0.1:0"]);
    let worker = wait_served(&w);
    let (exporter, fleet) = start_exporter(&prefix);
    let Some(prom) = Prometheus::start(&[("worker", &worker), ("exporter", &fleet)]) else { return };
    let queries = [
        (r#"weir_jobs_total{queue="op",kind="weir.noop",outcome="ok"}"#, 6.0),
        (r#"weir_jobs_total{queue="op",kind="weir.fail",outcome="dead"}"#, 2.0),
        (r#"weir_queue_jobs{queue="op",state="dead"}"#, 2.0),
        (r#"weir_queue_jobs{queue="op",state="pending"}"#, 0.0),
        (r#"weir_queue_processed_total{queue="op"}"#, 6.0),
        (r#"weir_queue_failed_total{queue="op"}"#, 2.0),
        (r#"weir_workers"#, 1.0),
    ];
    let all = util::eventually(Duration::from_secs(60), async || {
        queries.iter().all(|(q, want)| prom.query(q) == Some(*want))
    })
    .await;
    let seen: Vec<_> = queries.iter().map(|(q, want)| (q, want, prom.query(q))).collect();
    assert!(all, "{seen:#?}\nprometheus:\n{}\n{}\n{}", prom.log(), w.report(), exporter.report());
    for addr in [&worker, &fleet] {
        let (_, text) = http_get(addr, "/metrics").unwrap();
        if let Some(problems) = promtool_check_metrics(&text) {
            panic!("promtool check metrics on {addr}: {problems}\n{text}");
        }
    }
}

/// Every `weir_*` series named in docs/OBSERVABILITY.md's tables.
fn documented_series() -> Vec<String> {
    let doc = include_str!("../docs/OBSERVABILITY.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `weir_"))
        .filter_map(|rest| Some(format!("weir_{}", rest.split('`').next()?)))
        .collect()
}

/// The `weir_*` names in a PromQL expression (histogram suffixes removed).
fn series_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("weir_") {
        let name: String =
            rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
        rest = &rest[at + name.len()..];
        let base = ["_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
        out.push(base.to_string());
    }
    out
}

fn deploy(path: &str) -> String {
    std::fs::read_to_string(format!("{}/deploy/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

#[test]
fn the_deploy_examples_parse_and_name_only_real_series() {
    let known = documented_series();
    assert!(known.contains(&"weir_jobs_total".to_string()) && known.contains(&"weir_queue_jobs".to_string()));
    let check = |what: &str, expr: &str| {
        for s in series_in(expr) {
            assert!(known.contains(&s), "{what}: {s} is not a documented series ({expr})");
        }
    };

    // Grafana: valid JSON, every panel's query names documented series, and
    // the panels the issue asks for are there.
    let dash: serde_json::Value = serde_json::from_str(&deploy("grafana/weir-dashboard.json")).unwrap();
    let panels = dash["panels"].as_array().unwrap();
    let mut exprs = Vec::new();
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let e = t["expr"].as_str().unwrap();
            check(p["title"].as_str().unwrap(), e);
            exprs.push(e.to_string());
        }
    }
    let all = exprs.join("\n");
    for needed in
        ["weir_queue_jobs", "weir_queue_oldest_pending_seconds", "histogram_quantile(0.99", "histogram_quantile(0.5"]
    {
        assert!(all.contains(needed), "the dashboard has no {needed}");
    }
    assert!(all.contains("weir_job_wait_seconds_bucket") && all.contains("weir_job_duration_seconds_bucket"));

    // Prometheus rules: promtool accepts them (CI installs it), and they name real series.
    let rules_path = format!("{}/deploy/prometheus/weir-alerts.yml", env!("CARGO_MANIFEST_DIR"));
    match std::process::Command::new("promtool").args(["check", "rules", &rules_path]).output() {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(std::env::var_os("CI").is_none(), "cannot run promtool: {e}"),
    }
    let rules = yaml_rust2::YamlLoader::load_from_str(&deploy("prometheus/weir-alerts.yml")).unwrap();
    let names: Vec<&str> = rules[0]["groups"][0]["rules"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|r| {
            check(r["alert"].as_str().unwrap(), r["expr"].as_str().unwrap());
            r["alert"].as_str().unwrap()
        })
        .collect();
    for alert in ["WeirQueueBacklogOld", "WeirFailureRatioHigh", "WeirNoLiveWorkers"] {
        assert!(names.contains(&alert), "{alert} missing from {names:?}");
    }

    // Kubernetes: the Deployment probes the worker's endpoints on its metrics
    // port, and KEDA reads the exporter's per-queue JSON.
    let docs = yaml_rust2::YamlLoader::load_from_str(&deploy("kubernetes/worker-deployment.yaml")).unwrap();
    let worker = docs.iter().find(|d| d["metadata"]["name"].as_str() == Some("weir-worker")).unwrap();
    assert_eq!(worker["kind"].as_str(), Some("Deployment"));
    let c = &worker["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    let args: Vec<&str> = c["args"].as_vec().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert!(args.contains(&"work") && args.contains(&"--metrics-addr=0.0.0.0:9464"), "{args:?}");
    assert_eq!(docs.len(), 3);
    let keda = yaml_rust2::YamlLoader::load_from_str(&deploy("kubernetes/keda-scaledobject.yaml")).unwrap();
    let trigger = &keda[0]["spec"]["triggers"][0];
    assert_eq!((keda[0]["kind"].as_str(), trigger["type"].as_str()), (Some("ScaledObject"), Some("metrics-api")));
    assert!(trigger["metadata"]["url"].as_str().unwrap().ends_with("/api/queues/default"));
    assert_eq!(trigger["metadata"]["valueLocation"].as_str(), Some("pending"));

    // systemd and supervisord: the worker command with a metrics address per process.
    let unit = deploy("systemd/weir-worker@.service");
    for line in ["[Service]", "KillSignal=SIGTERM", "Restart=always"] {
        assert!(unit.lines().any(|l| l == line), "{line} missing from the unit");
    }
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    assert!(exec.contains(" work ") && exec.contains("--metrics-addr 127.0.0.1:946%i"), "{exec}");
    let sv = deploy("supervisord/weir-worker.conf");
    for line in
        ["[program:weir-worker]", "numprocs=4", "stopsignal=TERM", "process_name=%(program_name)s_%(process_num)02d"]
    {
        assert!(sv.lines().any(|l| l == line), "{line} missing from the supervisord program");
    }
}
