//! Human durations (`500ms`, `30s`, `5m`, `1h`, `2d`) for flags, backoff specs and docs.
use crate::error::{Error, Result};
use std::time::Duration;

/// Parses a duration such as `500ms`, `30s`, `5m`, `1h` or `2d`; anything
/// else (or one too long to count in microseconds) is
/// [`Error::InvalidDuration`].
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || Error::InvalidDuration(text.to_string());
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit_us: u128 = match unit.trim() {
        "ms" => 1_000,
        "s" | "" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(bad()),
    };
    // Exact decimal arithmetic in microseconds: through f64, a long whole
    // number of seconds came back a millisecond off when printed and parsed.
    let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(bad());
    }
    let digits = |d: &str| if d.is_empty() { Some(0) } else { d.parse::<u128>().ok() };
    // Beyond 12 decimals nothing is left of a microsecond of a day.
    let fraction = &fraction[..fraction.len().min(12)];
    let scale = 10u128.pow(fraction.len() as u32);
    let micros = digits(whole)
        .and_then(|w| w.checked_mul(unit_us))
        .zip(digits(fraction).map(|f| (f * unit_us + scale / 2) / scale))
        .and_then(|(w, f)| w.checked_add(f))
        .and_then(|us| u64::try_from(us).ok())
        .ok_or_else(bad)?;
    Ok(Duration::from_micros(micros))
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

/// `YYYY-MM-DD HH:MM:SS` in UTC for a time in ms since the epoch.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_time(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
        assert_eq!(super::format_time(1_798_761_599_000), "2026-12-31 23:59:59");
    }

    use super::*;

    #[test]
    fn long_durations_print_and_parse_back_exactly() {
        // Found by the fuzz target `duration`.
        let d = parse_duration("8800400800404.00").unwrap();
        assert_eq!(d, Duration::from_secs(8_800_400_800_404));
        assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
    }

    #[test]
    fn round_trip() {
        for s in ["500ms", "30s", "5m", "1h", "2d", "0ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0.0005ms").unwrap(), Duration::from_micros(1));
        for bad in ["", "s", "-1s", "3 parsecs", "1x", ".s", "1.2.3s", "99999999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
