//! The examples in examples/: the README's and docs/STORE.md's snippets are
//! the examples' own text, and each runnable example runs here against a
//! private redis-server. `cargo test` (scripts/test) builds the examples
//! before it runs this binary; when running this module alone, build them
//! first: `cargo build --examples && cargo test --test tests -- examples::`.
use crate::store_support::sqlite_path;
use crate::util;
use crate::worker_support::WorkerProc;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};
use weir::broker::{Broker, BrokerConfig, JobState};
use weir_testkit::RedisServer;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The built example `name`, refused when it is missing or older than any of
/// its `sources` (so a test never runs a stale build).
fn example(name: &str, sources: &[&str]) -> PathBuf {
    let weir = Path::new(env!("CARGO_BIN_EXE_weir"));
    let exe = weir.parent().expect("the weir binary's directory").join("examples").join(name);
    let hint = "build the examples first: cargo build --examples (cargo test --workspace does)";
    assert!(exe.exists(), "{} is missing: {hint}", exe.display());
    let built = modified(&exe);
    for s in sources {
        let src = Path::new(ROOT).join(s);
        assert!(modified(&src) <= built, "{} is older than {s}: {hint}", exe.display());
    }
    exe
}

/// The text of every ```lang fenced block of `doc`.
fn blocks(doc: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let end = body.find("```").expect("a closed fence");
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

async fn done(broker: &Broker, id: &str) -> bool {
    let status = broker.status(id).await.expect("status");
    status.state == Some(JobState::Done)
}

fn id_after<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

#[test]
fn the_readme_program_is_the_enqueue_and_work_example() {
    let example = read("examples/enqueue_and_work.rs");
    let readme = read("README.md");
    assert!(
        blocks(&readme, "rust").contains(&example),
        "README.md must show examples/enqueue_and_work.rs verbatim in a ```rust block"
    );
    assert!(
        !readme.contains("run_until(ctrl_c") && !readme.contains("run_until(shutdown)"),
        "README: run_with_signals"
    );
}

#[test]
fn the_store_doc_outbox_snippet_is_the_outbox_example() {
    let example = read("examples/outbox/main.rs");
    let lines: Vec<&str> = example.lines().map(str::trim).collect();
    let doc = read("docs/STORE.md");
    let snippet = blocks(&doc, "rust").into_iter().find(|b| b.contains("enqueue_tx")).expect("STORE.md's outbox block");
    for line in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(lines.contains(&line), "docs/STORE.md's line {line:?} is not in examples/outbox/main.rs");
    }
}

#[tokio::test]
async fn enqueue_and_work_enqueues_then_works_its_job() {
    let exe = example("enqueue_and_work", &["examples/enqueue_and_work.rs"]);
    let server = RedisServer::start();
    let out = util::run_ok(Command::new(exe).env("WEIR_REDIS_URL", server.url()));
    let id = id_after(&out, "enqueued ");
    assert!(out.contains(&format!("sending invoice 7 (job {id}, attempt 1)")), "{out}");
    assert!(out.contains("worker stopped: MaxJobs"), "{out}");
    let broker = Broker::connect(&server.url(), BrokerConfig::default()).await.unwrap();
    assert!(done(&broker, id).await, "job {id} is not done:\n{out}");
}

/// The example's job type, as an app that enqueues for it declares it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ResizeImage {
    ms: u64,
}

impl weir::Job for ResizeImage {
    const KIND: &'static str = "resize_image";
}

#[tokio::test]
async fn worker_with_signals_finishes_its_running_job_on_sigterm() {
    let exe = example("worker_with_signals", &["examples/worker_with_signals.rs"]);
    let server = RedisServer::start();
    let client = weir::Client::connect(&server.url()).await.unwrap();
    let id = client.enqueue(ResizeImage { ms: 1500 }).await.unwrap().id;
    let mut cmd = Command::new(exe);
    cmd.env("WEIR_REDIS_URL", server.url());
    let mut w = WorkerProc::spawn(cmd, &[]);
    let started = format!("started {id}");
    assert!(w.wait_lines(Duration::from_secs(30), |l| l.contains(&started)), "{}", w.report());
    w.signal("TERM");
    let status = w.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", w.report());
    let lines = w.lines();
    assert!(lines.contains(&format!("finished {id}")), "the running job was not drained:\n{}", w.report());
    assert!(lines.iter().any(|l| l.starts_with("stopped: Shutdown, 1 jobs done, 0 put back")), "{}", w.report());
    assert!(done(client.broker(), &id).await, "job {id} is not done:\n{}", w.report());
}

#[tokio::test]
async fn the_outbox_example_relays_its_committed_job_to_a_worker() {
    let exe = example("outbox", &["examples/outbox/main.rs", "examples/outbox/migrations/20260101000000_orders.sql"]);
    let server = RedisServer::start();
    let db = sqlite_path("outbox-example");
    let out = util::run_ok(
        Command::new(exe).env("WEIR_REDIS_URL", server.url()).env("DATABASE_URL", format!("sqlite:{}", db.display())),
    );
    let id = id_after(&out, "order 7 committed with job ");
    assert!(out.contains(&format!("sending the invoice of order 7 (job {id})")), "{out}");
    let broker = Broker::connect(&server.url(), BrokerConfig::default()).await.unwrap();
    assert!(done(&broker, id).await, "job {id} is not done:\n{out}");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display())).await.unwrap();
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&pool).await.unwrap();
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM weir_outbox").fetch_one(&pool).await.unwrap();
    assert_eq!((orders, outbox), (1, 0), "one order, and its outbox row relayed and deleted");
    pool.close().await;
    let _ = std::fs::remove_file(&db);
}

#[tokio::test]
async fn a_job_enqueued_from_python_is_worked_by_weir() {
    let prefix = util::prefix("python");
    let script = Path::new(ROOT).join("examples/enqueue.py");
    let out = util::run_ok(
        Command::new("python3")
            .arg(script)
            .args(["send_invoice", r#"{"id": 7}"#])
            .env("WEIR_REDIS_URL", util::redis().url())
            .env("WEIR_PREFIX", &prefix),
    );
    let id = out.trim();
    let broker = util::broker_with(util::config(&prefix)).await;
    let status = broker.status(id).await.unwrap();
    assert_eq!(status.state, Some(JobState::Pending), "{status:?}");
    // A weir worker runs it: `cat` hands the payload back as the job's result.
    let mut w = WorkerProc::start_exactly(
        &prefix,
        &["--max-jobs", "1", "--exec", "send_invoice=cat", "--exec-result", "--no-scheduler"],
    );
    let code = w.wait_exit(Duration::from_secs(30)).and_then(|s| s.code());
    assert_eq!(code, Some(10), "--max-jobs 1 exits 10 after the job:\n{}", w.report());
    let status = broker.status(id).await.unwrap();
    assert_eq!(status.state, Some(JobState::Done), "{status:?}\n{}", w.report());
    let result: serde_json::Value = serde_json::from_str(status.result.expect("a result").get()).unwrap();
    assert_eq!(result, serde_json::json!({"id": 7}));
}
