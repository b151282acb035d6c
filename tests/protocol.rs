//! Other languages enqueue by following docs/PROTOCOL.md with any Redis
//! client; here, plain `redis-cli`.
use crate::broker_enqueue::q;
use crate::util;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use weir::broker::Selector;

#[derive(serde::Deserialize, Debug, PartialEq)]
struct SendInvoice {
    id: u64,
}

pub fn redis_cli(script: &str) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-p", &util::redis().port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn redis_cli_enqueues_by_the_documented_protocol() {
    let prefix = util::prefix("protocol");
    // The scripts' clock is moved forward to make the delayed job due, so a
    // slow machine cannot make it due early.
    let clock = weir::broker::OffsetClock::default();
    let b = util::broker_with(weir::broker::BrokerConfig { clock: clock.clone(), ..util::config(&prefix) }).await;
    let id = ulid::Ulid::new().to_string();
    let now = b.now_ms();
    let envelope =
        format!(r#"{{"id":"{id}","queue":"billing","kind":"send_invoice","payload":{{"id":7}},"max_attempts":3}}"#);
    let later = format!("{id}x");
    let later_env = format!(r#"{{"id":"{later}","queue":"billing","kind":"send_invoice","payload":{{"id":8}}}}"#);
    let out = redis_cli(&format!(
        "MULTI\n\
         HSET {prefix}:{{billing}}:jobs j:{id} '{envelope}' m:{id} 3\n\
         ZADD {prefix}:{{billing}}:pending {now} {id}\n\
         RPUSH {prefix}:{{billing}}:wake 1\n\
         LTRIM {prefix}:{{billing}}:wake 0 0\n\
         SADD {prefix}:queues billing\n\
         EXEC\n\
         MULTI\n\
         HSET {prefix}:{{billing}}:jobs j:{later} '{later_env}' m:{later} 25\n\
         ZADD {prefix}:{{billing}}:delayed {due} {later}\n\
         SADD {prefix}:queues billing\n\
         EXEC\n",
        due = now + 60_000
    ));
    assert!(!out.contains("ERR"), "{out}");

    // Visible to operators...
    let stats = util::run_ok(util::weir(&prefix).args(["stats", "--json"]));
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["billing"]["pending"], 1);
    assert_eq!(stats["billing"]["delayed"], 1);

    // ...and to workers, decoded into the Rust type.
    let waiter = b.waiter(&[q("billing")]).await.unwrap();
    assert_eq!(waiter.wait(Duration::from_secs(5)).await.unwrap(), Some(q("billing")), "the doorbell rang");
    let mut sel = Selector::strict([q("billing")]).unwrap();
    let r = b.reserve(&mut sel, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].lease.id, id);
    assert_eq!(r[0].envelope.kind, "send_invoice");
    assert_eq!(r[0].envelope.max_attempts, 3);
    assert_eq!(r[0].envelope.decode::<SendInvoice>().unwrap(), SendInvoice { id: 7 });

    clock.advance(Duration::from_secs(61));
    assert_eq!(b.promote(&q("billing")).await.unwrap(), 1);
    let r = b.reserve(&mut sel, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r[0].envelope.decode::<SendInvoice>().unwrap(), SendInvoice { id: 8 });
    assert_eq!(r[0].envelope.max_attempts, 25, "defaults apply to missing fields");
}
