//! `weir enqueue`, `weir stats`, `weir pause`/`resume` through the built binary.
use crate::broker_enqueue::q;
use crate::util;
use std::io::Write;
use std::process::Stdio;
use weir::broker::JobState;

fn stats(prefix: &str) -> serde_json::Value {
    serde_json::from_str(&util::run_ok(util::weir(prefix).args(["stats", "--json"]))).unwrap()
}

#[tokio::test]
async fn enqueue_stats_pause_resume() {
    let prefix = util::prefix("cli");
    let b = util::broker_with(util::config(&prefix)).await;
    let id = util::run_ok(util::weir(&prefix).args([
        "enqueue",
        "--queue",
        "mail",
        "--kind",
        "send",
        "--json",
        r#"{"to":"a@b"}"#,
    ]));
    let id = id.trim();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let info = b.job(&q("mail"), id).await.unwrap().unwrap();
    assert_eq!(info.state, Some(JobState::Pending));
    assert_eq!(info.parse_envelope().unwrap().unwrap().payload.get(), r#"{"to":"a@b"}"#);

    let later = util::run_ok(util::weir(&prefix).args([
        "enqueue",
        "--queue",
        "mail",
        "--kind",
        "send",
        "--json",
        "{}",
        "--delay",
        "30s",
        "--max-attempts",
        "2",
        "--unique-key",
        "u1",
    ]));
    let again = util::run_ok(util::weir(&prefix).args([
        "enqueue",
        "--queue",
        "mail",
        "--kind",
        "send",
        "--json",
        "{}",
        "--unique-key",
        "u1",
    ]));
    assert_eq!(later, again, "the unique key returned the existing job's id");
    let info = b.job(&q("mail"), later.trim()).await.unwrap().unwrap();
    assert_eq!((info.state, info.max_attempts), (Some(JobState::Delayed), Some(2)));

    let s = stats(&prefix);
    assert_eq!(s["mail"]["pending"], 1);
    assert_eq!(s["mail"]["delayed"], 1);
    assert_eq!(s["mail"]["paused"], false);
    for field in ["active", "dead", "processed", "failed", "oldest_pending_ms"] {
        assert!(s["mail"].get(field).is_some(), "stats has {field}");
    }

    util::run_ok(util::weir(&prefix).args(["pause", "mail"]));
    assert_eq!(stats(&prefix)["mail"]["paused"], true);
    assert!(b.stats(&q("mail")).await.unwrap().paused);
    util::run_ok(util::weir(&prefix).args(["resume", "mail"]));
    assert_eq!(stats(&prefix)["mail"]["paused"], false);

    let table = util::run_ok(util::weir(&prefix).arg("stats"));
    assert!(table.lines().any(|l| l.starts_with("mail")), "{table}");
}

#[tokio::test]
async fn enqueue_from_stdin_in_batches() {
    let prefix = util::prefix("cli-stdin");
    let b = util::broker_with(util::config(&prefix)).await;
    let mut lines = String::new();
    for i in 0..2_500 {
        lines.push_str(&format!("{{\"n\":{i}}}\n"));
    }
    lines.push_str("{\"kind\":\"other\",\"queue\":\"side\",\"payload\":[1,2]}\n");
    let mut child = util::weir(&prefix)
        .args(["enqueue", "--queue", "bulk", "--kind", "import", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(ids.len(), 2_501);
    assert_eq!(b.stats(&q("bulk")).await.unwrap().pending, 2_500);
    let last = b.job(&q("side"), ids[2_500]).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!((last.kind.as_str(), last.payload.get()), ("other", "[1,2]"));
    let first = b.job(&q("bulk"), ids[0]).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!(first.payload.get(), r#"{"n":0}"#);
}

#[test]
fn bad_input_gives_one_clear_line_and_enqueues_nothing() {
    let prefix = util::prefix("cli-bad");
    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "--queue", "bad queue", "--kind", "k", "--json", "{}"], "invalid queue name"),
        (&["enqueue", "--kind", "k", "--json", "{not json"], "not valid JSON"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--delay", "-5s"], "negative"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--max-attempts", "0"], "max attempts"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--delay", "soon"], "invalid duration"),
    ];
    for (args, want) in cases {
        let out = util::weir(&prefix).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.to_lowercase().contains(&want.to_lowercase()), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A bad line in --stdin enqueues none of the lines.
    let mut child = util::weir(&prefix)
        .args(["enqueue", "--kind", "k", "--stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{\"a\":1}\nnot json\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let s = util::run_ok(util::weir(&prefix).args(["stats", "--json"]));
    assert_eq!(s.trim(), "{}", "nothing was enqueued");
}

#[test]
fn unreachable_redis_is_one_line_and_a_non_zero_exit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--redis", &format!("redis://127.0.0.1:{port}"), "stats"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("cannot reach Redis"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(started.elapsed().as_secs() < 20);
}
