//! `weir work --database-url`: a worker also archives dead jobs and relays
//! the outbox (the store's services, one process at a time per fleet).
use crate::broker_enqueue::{job, q};
use crate::on_every_store;
use crate::store_support as s;
use crate::util;
use crate::worker_support::WorkerProc;
use std::time::Duration;
use weir::Client;

#[derive(serde::Serialize, serde::Deserialize)]
struct Ping {
    n: u32,
}

impl weir::Job for Ping {
    const KIND: &'static str = "weir.noop";
    const QUEUE: &'static str = "svc";
}

on_every_store! {
async fn a_worker_with_a_store_relays_the_outbox_and_archives_dead_jobs(db: TestStore) {
    let prefix = util::prefix("worker-services");
    let b = util::broker_with(util::config(&prefix)).await;
    let dead = b.enqueue(job("svc", "weir.fail", r#"{"fatal":true,"message":"no such card"}"#)).await.unwrap().id;
    let client = Client::from_broker(b.clone());
    let relayed = db.enqueue_in_tx(&client, vec![Ping { n: 1 }], true).await.remove(0);

    let url = db.url();
    let mut w = WorkerProc::start(&prefix, &["--queues", "svc", "--database-url", &url]);
    let done = util::eventually(Duration::from_secs(20), async || {
        let st = b.stats(&q("svc")).await.unwrap();
        st.processed == 1 && st.dead == 0 && db.store.outbox_len().await.unwrap() == 0
    })
    .await;
    assert!(done, "{:?}\n{}", b.stats(&q("svc")).await.unwrap(), w.report());
    assert!(b.job(&q("svc"), &relayed).await.unwrap().is_none(), "the relayed job ran and is done");
    let shown = util::run_ok(s::weir(&prefix, &url).args(["failed", "show", &dead]));
    assert!(shown.contains("no such card"), "{shown}");
    w.signal("TERM");
    assert_eq!(w.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()), Some(0), "{}", w.report());

    // A store whose schema is behind refuses to start the worker, naming `weir migrate`.
    let empty = s::sqlite_path("unmigrated");
    std::fs::File::create(&empty).unwrap();
    let out = util::weir(&prefix)
        .args(["work", "--queues", "svc", "--database-url", &format!("sqlite:{}", empty.display())])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&empty);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("weir migrate"), "{}", String::from_utf8_lossy(&out.stderr));
}
}
