//! Human durations (`500ms`, `30s`, `5m`, `1h`, `2d`) for flags, backoff specs and docs.
use crate::error::{Error, Result};
use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| Error::InvalidDuration(text.to_string()))?;
    let ms = match unit.trim() {
        "ms" => 1.0,
        "s" | "" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(Error::InvalidDuration(text.to_string())),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(Error::InvalidDuration(text.to_string()));
    }
    Ok(Duration::from_micros((value * ms * 1000.0).round() as u64))
}

/// The shortest exact rendering, the inverse of [`parse_duration`].
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["500ms", "30s", "5m", "1h", "2d", "0ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        for bad in ["", "s", "-1s", "3 parsecs", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
