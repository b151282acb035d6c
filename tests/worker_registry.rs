//! The worker registry: workers list themselves, vanish when killed, and
//! one can be told to drain through Redis. An idle worker costs Redis about
//! one command per second.
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_n, wait_stats};
use std::time::Duration;
use weir::broker::registry::WorkerInfo;

fn workers(prefix: &str) -> Vec<WorkerInfo> {
    let out = util::run_ok(util::weir(prefix).args(["workers", "--json"]));
    serde_json::from_str(&out).unwrap()
}

fn wait_workers(prefix: &str, within: Duration, f: impl Fn(&[WorkerInfo]) -> bool) -> Vec<WorkerInfo> {
    let start = std::time::Instant::now();
    loop {
        let w = workers(prefix);
        if f(&w) || start.elapsed() > within {
            return w;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_stops_the_named_worker_only() {
    let b = util::broker("drain").await;
    let prefix = b.prefix().to_string();
    let args = ["--queues", "d=3,other=1", "--concurrency", "3", "--heartbeat", "300ms"];
    let mut one = WorkerProc::start(&prefix, &args);
    let mut two = WorkerProc::start(&prefix, &args);
    let listed = wait_workers(&prefix, Duration::from_secs(20), |w| w.len() == 2);
    assert_eq!(listed.len(), 2, "{listed:?}\n{}\n{}", one.report(), two.report());
    let first = listed.iter().find(|w| w.pid == one.pid()).expect("worker one is listed");
    assert_eq!(first.queues, vec![("d".to_string(), 3), ("other".to_string(), 1)]);
    assert_eq!((first.concurrency, first.mode.as_str()), (3, "weighted"));
    let table = util::run_ok(util::weir(&prefix).arg("workers"));
    assert!(table.contains(&first.id) && table.contains("d=3,other=1"), "{table}");

    // A job running in worker one when the drain arrives finishes first.
    enqueue_n(&b, "d", "weir.sleep", r#"{"ms":1000}"#, 6).await;
    wait_stats(&b, "d", Duration::from_secs(10), |s| s.active == 6).await;
    util::run_ok(util::weir(&prefix).args(["drain", &first.id]));
    let status = one.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", one.report());
    assert!(two.running(), "the other worker goes on\n{}", two.report());
    let s = wait_stats(&b, "d", Duration::from_secs(10), |s| s.processed == 6).await;
    assert_eq!((s.processed, s.pending, s.failed), (6, 0, 0), "{s:?}");
    let left = wait_workers(&prefix, Duration::from_secs(10), |w| w.len() == 1);
    assert_eq!(left.iter().map(|w| w.pid).collect::<Vec<_>>(), vec![two.pid()]);

    // A killed worker vanishes within a few heartbeats.
    two.kill9();
    let left = wait_workers(&prefix, Duration::from_secs(10), |w| w.is_empty());
    assert!(left.is_empty(), "{left:?}");
    // Draining a worker that is gone is an error.
    let out = util::weir(&prefix).args(["drain", &first.id]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn an_idle_worker_sends_about_one_command_per_second() {
    let server = util::RedisServer::start();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_weir"));
    cmd.args(["--redis", &server.url(), "--prefix", "idle", "work", "--queues", "only"]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    server.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
    let window = Duration::from_secs(20);
    std::thread::sleep(window);
    let table = server.command_table();
    let _ = child.kill();
    let _ = child.wait();
    // Commands the worker sends: scripts (reserve, promote, reclaim), the
    // doorbell wait, the rate-rule read, the housekeeping lock and the
    // heartbeat. Commands run inside scripts are counted under their own
    // names by Redis and are not sent; when idle no script calls ZADD or SET.
    let sent_names = ["evalsha", "blpop", "hgetall", "set", "zadd", "get"];
    let sent: u64 = table.iter().filter(|(n, _)| sent_names.contains(&n.as_str())).map(|(_, c)| c).sum();
    let rate = sent as f64 / window.as_secs_f64();
    eprintln!("idle worker, one queue: {sent} commands in {window:?} = {rate:.2}/s; {table:?}");
    assert!(sent > 0, "the worker did talk to Redis");
    assert!(rate <= 1.1, "{rate:.2} commands/s: {table:?}");
}
