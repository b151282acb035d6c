//! The documented maxima of weir's numeric inputs, each decided once, and the
//! checks every edge calls (command-line flags, the worker configuration, the
//! client's options, enqueue, and envelopes read back from Redis).
//!
//! The limits keep arithmetic on them safe: a timeout plus its lease margin
//! plus the Redis clock stays far inside an `i64` of milliseconds, and a
//! memory size in MiB shifted to bytes stays inside a `u64`. The largest
//! payload is [`BrokerConfig::max_payload_bytes`](crate::BrokerConfig).
//! docs/PROTOCOL.md, docs/CLI.md and docs/WORKER.md list the same numbers.
use crate::duration::format_duration;
use std::fmt::Display;
use std::time::Duration;

/// Longest time limit of one attempt: 7 days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 86_400);
/// Longest delay before a job's first run, and farthest run time from now: 365 days.
pub const MAX_DELAY: Duration = Duration::from_secs(365 * 86_400);
/// Most jobs one worker process runs at once.
pub const MAX_CONCURRENCY: usize = 10_000;
/// Largest memory size in MiB (`--memory`, `--memory-per-job`): 1 TiB.
pub const MAX_MEMORY_MB: u64 = 1 << 20;
/// Most attempts a job may be given.
pub const MAX_ATTEMPTS: u32 = 1_000;
/// Most dead jobs one call reads or changes: a page of `weir dead list`, the
/// ids of one retry or delete script call, the entries one page scans to
/// find its matches. Larger requests are split into calls of this size, so
/// no single call blocks Redis for long.
pub const MAX_DEAD_BATCH: usize = 1_000;
/// Largest job result kept with a done record (encoded JSON): 64 KiB.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;
/// Longest retention of done records (`--keep-done`): 30 days.
pub const MAX_KEEP_DONE: Duration = Duration::from_secs(30 * 86_400);
/// Most characters of a progress message.
pub const MAX_PROGRESS_MESSAGE: usize = 1024;
/// Longest `traceparent` an enqueue takes (version 00 has 55 characters;
/// later versions may append fields).
pub const MAX_TRACEPARENT: usize = 256;
/// Longest `tracestate` an enqueue takes (W3C: 32 entries of at most 256).
pub const MAX_TRACESTATE: usize = 8192;
/// Most distinct job kinds a worker labels in its metrics (`--metrics-max-kinds`).
pub const MAX_METRICS_KINDS: usize = 10_000;

/// A value over its documented maximum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} of {value} is over the limit of {limit}")]
pub struct OverLimit {
    /// The flag, option or envelope field, as the caller names it (`--concurrency`, `timeout_ms`).
    pub field: &'static str,
    /// The value given, as text.
    pub value: String,
    /// The bound, as text.
    pub limit: String,
}

/// Until the broker has a variant of its own for it, a value over its bound
/// is refused at enqueue as an invalid limit.
impl From<OverLimit> for crate::Error {
    fn from(e: OverLimit) -> Self {
        crate::Error::InvalidLimit(e.to_string())
    }
}

fn at_most<T: PartialOrd + Display>(field: &'static str, value: T, limit: T) -> Result<T, OverLimit> {
    if value > limit {
        return Err(OverLimit { field, value: value.to_string(), limit: limit.to_string() });
    }
    Ok(value)
}

fn duration_at_most(field: &'static str, value: Duration, limit: Duration) -> Result<Duration, OverLimit> {
    if value > limit {
        return Err(OverLimit { field, value: format_duration(value), limit: format_duration(limit) });
    }
    Ok(value)
}

/// The longest interval a worker takes for its own loops and limits
/// (`--heartbeat`, `--housekeeping`, `--grace`, idle wait): one day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// A worker interval: at most [`MAX_INTERVAL`].
pub fn interval(field: &'static str, d: Duration) -> Result<Duration, OverLimit> {
    duration_at_most(field, d, MAX_INTERVAL)
}

/// A per-attempt time limit: at most [`MAX_TIMEOUT`].
pub fn timeout(field: &'static str, timeout: Duration) -> Result<Duration, OverLimit> {
    duration_at_most(field, timeout, MAX_TIMEOUT)
}

/// A per-attempt time limit in ms, as an envelope carries it (`timeout_ms`):
/// at most [`MAX_TIMEOUT`].
pub fn timeout_ms(field: &'static str, ms: u64) -> Result<Duration, OverLimit> {
    at_most(field, ms, millis_u64(MAX_TIMEOUT)).map(Duration::from_millis)
}

/// A retention of done records: at most [`MAX_KEEP_DONE`].
pub fn keep_done(field: &'static str, d: Duration) -> Result<Duration, OverLimit> {
    duration_at_most(field, d, MAX_KEEP_DONE)
}

/// A job result's encoded size: at most [`MAX_RESULT_BYTES`].
pub fn result_bytes(field: &'static str, len: usize) -> Result<usize, OverLimit> {
    at_most(field, len, MAX_RESULT_BYTES)
}

/// A delay before a job's first run: at most [`MAX_DELAY`].
pub fn delay(field: &'static str, delay: Duration) -> Result<Duration, OverLimit> {
    duration_at_most(field, delay, MAX_DELAY)
}

/// A run time in ms since the epoch: at most [`MAX_DELAY`] after `now_ms`
/// (any past time is fine: it means now).
pub fn run_at_ms(field: &'static str, at_ms: i64, now_ms: i64) -> Result<i64, OverLimit> {
    let ahead = Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0));
    duration_at_most(field, ahead, MAX_DELAY).map(|_| at_ms)
}

/// Jobs one worker runs at once: at most [`MAX_CONCURRENCY`].
pub fn concurrency(field: &'static str, n: usize) -> Result<usize, OverLimit> {
    at_most(field, n, MAX_CONCURRENCY)
}

/// Job kinds labelled in a worker's metrics: at most [`MAX_METRICS_KINDS`].
pub fn metrics_kinds(field: &'static str, n: usize) -> Result<usize, OverLimit> {
    at_most(field, n, MAX_METRICS_KINDS)
}

/// A memory size in MiB: at most [`MAX_MEMORY_MB`], so its size in bytes
/// ([`mb_to_bytes`]) cannot overflow.
pub fn memory_mb(field: &'static str, mb: u64) -> Result<u64, OverLimit> {
    at_most(field, mb, MAX_MEMORY_MB)
}

/// Attempts of one job: at most [`MAX_ATTEMPTS`] (zero is refused by the
/// caller with its own message).
pub fn max_attempts(field: &'static str, n: u32) -> Result<u32, OverLimit> {
    at_most(field, n, MAX_ATTEMPTS)
}

/// Every bounded field of a job about to be enqueued (`now_ms`: the clock
/// its run time is measured from).
pub fn job(job: &crate::NewJob, now_ms: i64) -> Result<(), OverLimit> {
    max_attempts("max_attempts", job.max_attempts)?;
    if let Some(t) = job.timeout {
        timeout("timeout", t)?;
    }
    match job.run_at {
        crate::RunAt::Now => {}
        crate::RunAt::After(d) => _ = delay("delay", d)?,
        crate::RunAt::AtMs(at) => _ = run_at_ms("run_at", at, now_ms)?,
    }
    if let Some(tp) = &job.traceparent {
        at_most("traceparent length", tp.len(), MAX_TRACEPARENT)?;
    }
    if let Some(ts) = &job.tracestate {
        at_most("tracestate length", ts.len(), MAX_TRACESTATE)?;
    }
    Ok(())
}

/// Bytes in `mb` MiB, saturating (a size checked by [`memory_mb`] never saturates).
pub fn mb_to_bytes(mb: u64) -> u64 {
    mb.saturating_mul(1 << 20)
}

/// Whole milliseconds of `d` as an `i64`, saturating instead of wrapping.
pub fn millis_i64(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whole milliseconds of `d` as a `u64`, saturating instead of wrapping.
pub fn millis_u64(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The time `d` after `now_ms` (ms since the epoch), saturating.
pub fn ms_after(now_ms: i64, d: Duration) -> i64 {
    now_ms.saturating_add(millis_i64(d))
}

/// The time `d` before `now_ms` (ms since the epoch), saturating.
pub fn ms_before(now_ms: i64, d: Duration) -> i64 {
    now_ms.saturating_sub(millis_i64(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_themselves_pass_and_one_more_is_refused() {
        assert_eq!(timeout("timeout", MAX_TIMEOUT), Ok(MAX_TIMEOUT));
        assert!(timeout("timeout", MAX_TIMEOUT + Duration::from_millis(1)).is_err());
        assert_eq!(timeout_ms("timeout_ms", 604_800_000), Ok(MAX_TIMEOUT));
        assert!(timeout_ms("timeout_ms", 604_800_001).is_err());
        assert!(delay("delay", MAX_DELAY).is_ok() && delay("delay", MAX_DELAY * 2).is_err());
        assert!(concurrency("c", MAX_CONCURRENCY).is_ok() && concurrency("c", MAX_CONCURRENCY + 1).is_err());
        assert!(memory_mb("m", MAX_MEMORY_MB).is_ok() && memory_mb("m", MAX_MEMORY_MB + 1).is_err());
        assert!(max_attempts("a", MAX_ATTEMPTS).is_ok() && max_attempts("a", MAX_ATTEMPTS + 1).is_err());
    }

    #[test]
    fn the_error_names_the_field_the_value_and_the_limit() {
        let e = concurrency("--concurrency", usize::MAX).unwrap_err();
        assert_eq!(e.to_string(), format!("--concurrency of {} is over the limit of 10000", usize::MAX));
        let e = timeout_ms("timeout_ms", u64::MAX).unwrap_err();
        assert_eq!((e.field, e.limit.as_str()), ("timeout_ms", "604800000"));
        assert_eq!(delay("delay", Duration::from_secs(400 * 86_400)).unwrap_err().limit, "365d");
    }

    #[test]
    fn run_times_are_bounded_ahead_of_now_only() {
        let now = 1_767_225_600_000;
        assert!(run_at_ms("run_at", i64::MIN, now).is_ok(), "the past means now");
        assert!(run_at_ms("run_at", now + millis_i64(MAX_DELAY), now).is_ok());
        assert!(run_at_ms("run_at", i64::MAX, now).is_err());
    }

    #[test]
    fn conversions_saturate_instead_of_wrapping() {
        assert_eq!(millis_i64(Duration::MAX), i64::MAX);
        assert_eq!(millis_u64(Duration::MAX), u64::MAX);
        assert_eq!(ms_after(i64::MAX - 1, Duration::from_secs(1)), i64::MAX);
        assert_eq!(ms_before(0, Duration::MAX), -i64::MAX);
        assert_eq!(mb_to_bytes(MAX_MEMORY_MB), 1 << 40);
        assert_eq!(mb_to_bytes(u64::MAX), u64::MAX);
    }
}
