//! `parse_duration` never panics, and `format_duration` of what it accepts
//! parses back to the same whole milliseconds (the printer drops sub-ms).
#![no_main]
use libfuzzer_sys::fuzz_target;
use weir_broker::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(d) = parse_duration(text) else { return };
    let printed = format_duration(d);
    let again = parse_duration(&printed).unwrap_or_else(|e| panic!("{printed} does not parse back: {e}"));
    assert_eq!(again.as_millis(), d.as_millis(), "{text:?} printed as {printed}");
});
