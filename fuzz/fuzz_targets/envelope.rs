//! `Envelope::parse` never panics, and what it accepts prints to JSON that
//! parses back to the same envelope.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weir_broker::Envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(envelope) = Envelope::parse(text) else { return };
    let printed = envelope.to_json();
    let again = Envelope::parse(&printed).unwrap_or_else(|e| panic!("{printed} does not parse back: {e}"));
    assert_eq!(again.to_json(), printed);
});
