//! Polling until a topology reaches a state, with the reason it has not yet
//! (so a timeout says what was still wrong).
use std::time::{Duration, Instant};

/// Calls `check` every 50 ms until it returns `Ok` or `within` passes; then
/// returns the last reason `check` gave.
pub(crate) fn wait_until(within: Duration, mut check: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let reason = match check() {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            return Err(format!("not within {within:?}: {reason}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
