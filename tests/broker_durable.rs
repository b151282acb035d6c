//! `--durable-acks`: finished jobs are confirmed by replicas with `WAIT`,
//! sent in the same pipeline as the script, so it reaches the queue's master.
use crate::broker_enqueue::{job, q};
use std::time::Duration;
use weir::broker::{Broker, BrokerConfig, Selector};
use weir_testkit::SentinelGroup;

#[tokio::test]
async fn durable_acks_wait_for_the_replica() {
    let group = SentinelGroup::start();
    let config = BrokerConfig { durable_acks: 1, prefix: "durable".into(), ..BrokerConfig::default() };
    let b = Broker::connect(&group.url(), config).await.unwrap();
    let master = group.master_port();
    weir_testkit::cmd(master, &["CONFIG", "RESETSTAT"]).unwrap();
    b.enqueue_many((0..10).map(|i| job("d", "k", &i.to_string()))).await.unwrap();
    let mut sel = Selector::strict([q("d")]).unwrap();
    let got = b.reserve(&mut sel, 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(got.len(), 10);
    let done: Vec<_> = got.iter().map(|r| (r.lease.clone(), Duration::from_millis(1))).collect();
    assert_eq!(b.ack(&done).await.unwrap(), [true; 10]);
    let stats = weir_testkit::cmd(master, &["INFO", "commandstats"]).unwrap();
    assert!(stats.contains("cmdstat_wait:calls=1,"), "one WAIT for one ack call:\n{stats}");
    assert_eq!(b.stats(&q("d")).await.unwrap().processed, 10);
}
