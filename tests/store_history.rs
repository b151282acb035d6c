//! History: the sampler books the broker's counters per queue per minute;
//! `weir stats --history` prints them.
use crate::broker_enqueue::{job, q};
use crate::on_every_store;
use crate::store_support as s;
use crate::util;
use std::time::Duration;
use weir::broker::{Broker, Selector};
use weir_store::{HistoryConfig, HistorySampler};

/// Runs `n` jobs of `queue`: acks the first `ok`, fails the rest (retried later).
async fn work(b: &Broker, queue: &str, n: usize, ok: usize) {
    for i in 0..n {
        b.enqueue(job(queue, "k", "1")).await.unwrap();
        let mut sel = Selector::strict([q(queue)]).unwrap();
        let r = b.reserve(&mut sel, 1, Duration::from_secs(30)).await.unwrap().pop().unwrap();
        if i < ok {
            b.ack(&[(r.lease, Duration::from_millis(1))]).await.unwrap();
        } else {
            b.fail(&r.lease, "no", Some(std::time::Duration::from_secs(60))).await.unwrap();
        }
    }
}

on_every_store! {
async fn sampler_books_per_minute_differences_and_stats_prints_them(db: TestStore) {
    let store = db.store.clone();
    let b = util::broker("history").await;
    let sampler = HistorySampler::new(b.clone(), store.clone(), HistoryConfig::default());
    work(&b, "a", 2, 2).await;
    let t0 = b.now_ms() / 60_000 * 60_000 - 120_000; // two minutes ago, on a minute
    assert_eq!(sampler.sample(t0).await.unwrap(), 0, "the first sample only sets the baseline");

    work(&b, "a", 5, 3).await;
    work(&b, "b", 1, 1).await; // a new queue: baseline at its first sample
    assert_eq!(sampler.sample(t0 + 60_000).await.unwrap(), 1);
    assert_eq!(sampler.sample(t0 + 60_000).await.unwrap(), 0, "the same interval is never booked twice");
    work(&b, "b", 4, 1).await;
    assert_eq!(sampler.sample(t0 + 120_000).await.unwrap(), 1, "only b moved");

    let rows: Vec<(String, i64, i64, i64)> = store
        .history(t0 - 1)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.queue, r.minute - t0, r.processed, r.failed))
        .collect();
    assert_eq!(rows, [("a".to_string(), 0, 3, 2), ("b".to_string(), 60_000, 1, 3)]);

    let (prefix, url) = (b.prefix().to_string(), store.url().to_string());
    let table = util::run_ok(s::weir(&prefix, &url).args(["stats", "--history", "1h"]));
    let lines: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(lines[0][2..], ["a", "3", "2"], "{table}");
    assert_eq!(lines[1][2..], ["b", "1", "3"], "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&util::run_ok(s::weir(&prefix, &url).args(["stats", "--history", "1h", "--json"])))
            .unwrap();
    assert_eq!(json[1]["queue"], "b");
    let short = util::run_ok(s::weir(&prefix, &url).args(["stats", "--history", "1m"]));
    assert_eq!(short.lines().count(), 1, "nothing in the last minute: {short}");

    // Retention: a sample 31 days later drops minutes past 30 days.
    sampler.sample(t0 + 31 * 86_400_000).await.unwrap();
    assert!(store.history(0).await.unwrap().is_empty());
}
}

on_every_store! {
async fn a_counter_reset_books_the_new_counts(db: TestStore) {
    let b = util::broker("history-sqlite").await;
    let sampler = HistorySampler::new(b.clone(), db.store.clone(), HistoryConfig::default());
    work(&b, "c", 3, 3).await;
    sampler.sample(60_000).await.unwrap();
    // The queue's data is deleted (counters reset) and it runs again.
    util::redis().cmd(&["DEL", &b.keys(&q("c")).stats]).unwrap();
    work(&b, "c", 2, 2).await;
    sampler.sample(120_000).await.unwrap();
    let rows = db.store.history(0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].minute, rows[0].processed, rows[0].failed), (60_000, 2, 0));
}
}
