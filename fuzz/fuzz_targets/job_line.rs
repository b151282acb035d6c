//! The `weir enqueue --stdin` line parser never panics, with and without a
//! kind from the flags, and every job it makes passes enqueue's checks or is
//! refused by them with an error (never a panic).
#![no_main]
use libfuzzer_sys::fuzz_target;
use weir_broker::job_line::{LineDefaults, parse_line};
use weir_broker::{BrokerConfig, QueueName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = BrokerConfig::default();
    for kind in [None, Some("fuzz".to_string())] {
        let defaults = LineDefaults {
            queue: QueueName::new("default").expect("a valid name"),
            kind,
            delay: None,
            max_attempts: None,
            unique_key: None,
            rate_key: None,
        };
        if let Ok(job) = parse_line(text, &defaults) {
            let _ = job.validate(&config);
        }
    }
});
