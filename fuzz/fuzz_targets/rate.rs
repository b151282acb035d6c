//! The rate parser (`"50/s".parse::<Rate>()`) never panics, and what it
//! accepts prints to a rate that parses back to the same rate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weir_broker::Rate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rate) = text.parse::<Rate>() else { return };
    let printed = rate.to_string();
    let again = printed.parse::<Rate>().unwrap_or_else(|e| panic!("{text:?} printed as {printed} does not parse back: {e}"));
    assert_eq!(again, rate, "{text:?} printed as {printed}");
});
