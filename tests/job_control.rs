//! Job control: a job's status by id (`Client::status`, `weir job`), results
//! and progress kept with the done record, `Client::wait`, and the retention
//! of done records (`--keep-done`).
use crate::util;
use crate::worker_support::{WorkerProc, enqueue_ids, job, q};
use std::time::Duration;
use weir::broker::{BrokerConfig, JobState, Selector, redis::cmd};
use weir_worker::{JobError, Worker};

#[derive(serde::Serialize, serde::Deserialize)]
struct Resize {
    width: u32,
}
impl weir::Job for Resize {
    const KIND: &'static str = "resize";
    const QUEUE: &'static str = "img";
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Huge;
impl weir::Job for Huge {
    const KIND: &'static str = "huge";
    const QUEUE: &'static str = "img";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_result_progress_and_wait_round_trip() {
    let b = util::broker("status").await;
    let client = weir::Client::from_broker(b.clone());
    let later = client.enqueue_with(Resize { width: 1 }, weir::Options::new().delay(Duration::from_secs(3600))).await;
    let later = later.unwrap().id;
    let s = client.status(&later).await.unwrap();
    assert_eq!(
        (s.state, s.queue.as_ref().map(|q| q.as_str()), s.kind.as_deref()),
        (Some(JobState::Delayed), Some("img"), Some("resize"))
    );
    assert!(s.run_at.unwrap() > b.now_ms() + 3_500_000, "{s:?}");
    let unknown = client.status("01NOSUCHJOB").await.unwrap();
    assert_eq!(unknown.state, None);
    assert_eq!(serde_json::to_value(&unknown).unwrap()["state"], "unknown");
    assert!(client.status("bad id{").await.is_err(), "an invalid id is a clear error");

    let id = client.enqueue(Resize { width: 640 }).await.unwrap().id;
    let huge = client.enqueue(Huge).await.unwrap().id;
    assert_eq!(client.status(&id).await.unwrap().state, Some(JobState::Pending));
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(
        Worker::builder(client.clone())
            .queues([("img", 1)])
            .handle_result::<Resize, _, _>(move |job, ctx| {
                let mut go = go_rx.clone();
                async move {
                    ctx.progress(40, "resizing").await?;
                    // Held here until the test has seen it active with its progress.
                    let _ = go.wait_for(|g| *g).await;
                    Ok::<_, JobError>(serde_json::json!({ "width": job.width, "bytes": 1234 }))
                }
            })
            .handle::<Huge, _>(|_, ctx| async move { ctx.set_result(&"x".repeat(70_000)) })
            .run_until(async {
                let _ = stop_rx.await;
            }),
    );
    let active = util::eventually(Duration::from_secs(20), async || {
        let s = client.status(&id).await.unwrap();
        s.state == Some(JobState::Active) && s.progress.is_some()
    })
    .await;
    let s = client.status(&id).await.unwrap();
    assert!(active, "{s:?}");
    let p = s.progress.clone().unwrap();
    assert_eq!((p.percent, p.message.as_str()), (40, "resizing"));
    assert!(s.lease_until.unwrap() > b.now_ms(), "{s:?}");
    let waiting = client.wait(&id, Duration::from_millis(100)).await.unwrap();
    assert_eq!(waiting.state, Some(JobState::Active), "wait returns the current status at its timeout");
    go_tx.send(true).unwrap();
    let done = client.wait(&id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(done.state, Some(JobState::Done), "{done:?}");
    assert_eq!(done.result.as_ref().map(|r| r.get()), Some(r#"{"bytes":1234,"width":640}"#));
    assert_eq!(done.attempts, 1);
    assert!(done.done_at.is_some() && done.progress.is_some(), "{done:?}");
    // A result over 64 KiB fails that job (not retried), and the worker goes on.
    let huge = client.wait(&huge, Duration::from_secs(20)).await.unwrap();
    assert_eq!(huge.state, Some(JobState::Dead), "{huge:?}");
    assert!(huge.errors[0].error.contains("over the limit of 65536"), "{:?}", huge.errors);
    stop_tx.send(()).unwrap();
    worker.await.unwrap().unwrap();

    // `weir job` prints the same.
    let out = util::run_ok(util::weir(b.prefix()).args(["job", &id, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["state"].as_str(), v["result"]["width"].as_u64()), (Some("done"), Some(640)), "{out}");
    let out = util::run_ok(util::weir(b.prefix()).args(["job", &later]));
    assert!(out.contains("state     delayed") && out.contains("queue     img"), "{out}");
    let out = util::run_ok(util::weir(b.prefix()).args(["job", "01NOSUCHJOB"]));
    assert!(out.contains("state     unknown"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_records_expire_after_the_retention_and_zero_keeps_nothing() {
    let config = BrokerConfig { keep_done: Duration::from_secs(60), ..util::config(&util::prefix("keep")) };
    config.clock.freeze();
    let b = util::broker_with(config.clone()).await;
    let k = b.keys(&q("k"));
    let ack_one = async || {
        let id = b.enqueue(job("k", "weir.noop", "{}")).await.unwrap().id;
        let mut sel = Selector::strict([q("k")]).unwrap();
        let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().remove(0);
        assert_eq!(r.lease.id, id);
        assert_eq!(b.ack(&[(r.lease, Duration::from_millis(1))]).await.unwrap(), vec![true]);
        id
    };
    let first = ack_one().await;
    assert_eq!(b.status(&first).await.unwrap().state, Some(JobState::Done));
    config.clock.advance(Duration::from_secs(61));
    assert_eq!(b.status(&first).await.unwrap().state, None, "past the retention it is unknown");
    let second = ack_one().await;
    let count = |key: &str| cmd("ZCARD").arg(key).to_owned();
    assert_eq!(b.query::<u64>(&count(&k.done)).await.unwrap(), 1, "the next ack pruned the expired record");
    assert_eq!(b.query::<u64>(&cmd("HLEN").arg(&k.results).to_owned()).await.unwrap(), 1);
    assert_eq!(b.status(&second).await.unwrap().state, Some(JobState::Done));
    let ttl: i64 = b.query(&cmd("PTTL").arg(&k.done).to_owned()).await.unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "the keys expire on their own when the queue goes quiet: {ttl}");

    // --keep-done 0: the ack writes nothing but the deletion.
    let none =
        util::broker_with(BrokerConfig { keep_done: Duration::ZERO, ..util::config(&util::prefix("keep0")) }).await;
    let id = none.enqueue(job("z", "weir.noop", "{}")).await.unwrap().id;
    let mut sel = Selector::strict([q("z")]).unwrap();
    let r = none.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().remove(0);
    none.ack(&[(r.lease, Duration::ZERO)]).await.unwrap();
    assert_eq!(none.status(&id).await.unwrap().state, None);
    let kz = none.keys(&q("z"));
    let exists: u64 = none.query(&cmd("EXISTS").arg(&kz.done).arg(&kz.results).arg(&kz.jobs).to_owned()).await.unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_records_are_bounded_in_number_newest_kept() {
    // Within the retention, at most keep_done_max_len records per queue: the
    // oldest go as soon as an ack passes the bound.
    let config = BrokerConfig { keep_done_max_len: 5, ..util::config(&util::prefix("keep-max")) };
    config.clock.freeze();
    let b = util::broker_with(config.clone()).await;
    let k = b.keys(&q("m"));
    let ids = enqueue_ids(&b, (0..12).map(|i| job("m", "weir.noop", &i.to_string()))).await;
    let mut sel = Selector::strict([q("m")]).unwrap();
    // Acked in three calls, one millisecond apart, so their done-at order is known.
    for chunk in [4, 4, 4] {
        let r = b.reserve(&mut sel, chunk, Duration::from_secs(30)).await.unwrap();
        let done: Vec<_> = r.into_iter().map(|r| (r.lease, Duration::ZERO)).collect();
        assert!(b.ack(&done).await.unwrap().iter().all(|&a| a));
        config.clock.advance(Duration::from_millis(1));
    }
    let count = |key: &str| cmd("ZCARD").arg(key).to_owned();
    assert_eq!(b.query::<u64>(&count(&k.done)).await.unwrap(), 5);
    assert_eq!(b.query::<u64>(&cmd("HLEN").arg(&k.results).to_owned()).await.unwrap(), 5);
    assert_eq!(b.status(&ids[11]).await.unwrap().state, Some(JobState::Done), "the newest is kept");
    assert_eq!(b.status(&ids[0]).await.unwrap().state, None, "the oldest went past the bound");
    assert_eq!(b.stats(&q("m")).await.unwrap().processed, 12, "the bound drops records, not counts");
}

#[test]
fn exec_result_keeps_stdout_and_keep_done_is_range_checked() {
    let prefix = util::prefix("exec-result");
    let enqueue = |payload: &str, kind: &str| {
        util::run_ok(util::weir(&prefix).args(["enqueue", "--queue", "x", "--kind", kind, "--json", payload]))
            .trim()
            .to_string()
    };
    let json = enqueue("{}", "json");
    let text = enqueue("{}", "text");
    let mut w = WorkerProc::start_exactly(
        &prefix,
        &[
            "--queues",
            "x",
            "--max-jobs",
            "2",
            "--exec-result",
            "--exec",
            r#"json=echo '{"ok":true}'"#,
            "--exec",
            "text=echo plain words",
        ],
    );
    assert_eq!(w.wait_exit(Duration::from_secs(30)).and_then(|s| s.code()), Some(10), "{}", w.report());
    let status = |id: &str| -> serde_json::Value {
        serde_json::from_str(&util::run_ok(util::weir(&prefix).args(["job", id, "--json"]))).unwrap()
    };
    assert_eq!(status(&json)["result"], serde_json::json!({ "ok": true }));
    assert_eq!(status(&text)["result"], "plain words");
    let out = util::weir(&prefix).args(["--keep-done", "31d", "job", &json]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keep_done of 31d is over the limit of 30d"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_job_page_shows_progress_worker_and_result() {
    let b = util::broker("job-page").await;
    let id = b.enqueue(job("jp", "resize", "{}")).await.unwrap().id;
    let mut sel = Selector::strict([q("jp")]).unwrap();
    let r = b.reserve_for(&mut sel, 1, Duration::from_secs(60), "w-page").await.unwrap().remove(0);
    assert!(b.progress(&r.lease, 40, "resizing <b>big</b>").await.unwrap());
    let web = crate::web_support::WebProc::start(b.prefix(), &[]);
    let page = web.get(&format!("/queues/jp/jobs/{id}"), &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("40% · resizing &lt;b&gt;big&lt;/b&gt;"), "progress, escaped: {}", page.body);
    assert!(page.body.contains("w-page"), "the worker running it: {}", page.body);
    assert!(b.progress(&r.lease, 100, "written").await.unwrap());
    let result = weir::broker::check_result(&serde_json::json!({ "bytes": 4321 })).unwrap();
    let done = weir::broker::Done { lease: r.lease, run_time: Duration::from_millis(3), result: Some(result) };
    assert_eq!(b.ack_done(&[done]).await.unwrap(), vec![true]);
    let page = web.get(&format!("/queues/jp/jobs/{id}"), &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("100% · written") && page.body.contains("4321"), "{}", page.body);
    assert!(!page.body.contains("w-page"), "a done job has no worker");
}
