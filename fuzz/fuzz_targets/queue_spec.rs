//! The `--queues` spec parser never panics, and what it accepts prints to a
//! spec that parses back to the same list.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weir_worker::args::QueueList;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(queues) = text.parse::<QueueList>() else { return };
    let printed = queues.to_string();
    assert_eq!(printed.parse::<QueueList>().as_ref(), Ok(&queues), "{printed}");
});
