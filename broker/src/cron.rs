//! Periodic jobs, the time side: a schedule's expression and time zone, and
//! the ticks they give. [`crate::schedules`] stores schedules in Redis and
//! enqueues their ticks; docs/CRON.md documents both.
//!
//! Expressions: the 5-field crontab syntax (`m h dom mon dow`), an optional
//! 6th seconds field in front (`s m h dom mon dow`), the `@yearly`,
//! `@monthly`, `@weekly`, `@daily`, `@hourly` aliases (croner parses all
//! three), and `@every D` (`@every 30s`: ticks at whole multiples of D since
//! the Unix epoch, so every scheduler agrees on them, in any zone).
//!
//! Time zones are IANA names (jiff's database; UTC when none). Across a DST
//! change, croner's rules apply: a fixed local time that does not exist
//! (skipped forward) runs once at the first valid time after the gap on that
//! day; a fixed local time that happens twice runs once, at its first
//! occurrence; wildcard and step fields (`*/15 * * * *`) run at every
//! matching wall-clock time that exists, in real time order.
use crate::error::{Error, Result};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::VecDeque;
use std::time::Duration;

/// The shortest interval between ticks: 1 s.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Most missed ticks `--catch-up all` enqueues after a downtime.
pub const MAX_CATCH_UP: usize = 1_000;
/// Most ticks one pass walks through to find the missed ones; past it the
/// walk starts again one day before now.
const MAX_SCAN: usize = 100_000;

/// A compiled expression in its zone: what gives the ticks.
#[derive(Debug, Clone)]
pub struct Expr {
    kind: Kind,
    tz: TimeZone,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<croner::Cron>),
    /// `@every`, in ms.
    Every(i64),
}

impl Expr {
    /// Parses `expr` in zone `tz` (an IANA name; None: UTC). Refuses an
    /// invalid expression or zone, an interval under 1 s, and an expression
    /// that never matches.
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<Expr> {
        let bad = |why: String| Error::InvalidSchedule(format!("{expr:?}: {why}"));
        let tz = match tz {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                Error::InvalidSchedule(format!("unknown time zone {name:?} (use an IANA name such as Europe/Paris)"))
            })?,
        };
        let trimmed = expr.trim();
        let kind = match trimmed.strip_prefix("@every") {
            Some(d) => {
                let d = d.trim();
                if d.starts_with('-') {
                    return Err(bad("the interval must not be negative".into()));
                }
                let d = crate::duration::parse_duration(d).map_err(|e| bad(e.to_string()))?;
                if d < MIN_INTERVAL {
                    return Err(bad("more frequent than once a second".into()));
                }
                crate::bounds::delay("@every", d).map_err(|e| bad(e.to_string()))?;
                Kind::Every(crate::broker::ms(d))
            }
            None => {
                let parser = croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Optional)
                    .year(croner::parser::Year::Disallowed)
                    .build();
                Kind::Cron(Box::new(parser.parse(trimmed).map_err(|e| bad(e.to_string()))?))
            }
        };
        let out = Expr { kind, tz };
        if out.next_after(0).is_none() {
            return Err(bad("it never matches a date".into()));
        }
        Ok(out)
    }

    /// The first tick after `after_ms` (ms since the epoch), or None when
    /// there is none (past the year 9999).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(p) => after_ms.div_euclid(*p).checked_add(1)?.checked_mul(*p),
            Kind::Cron(c) => {
                let at = Timestamp::from_millisecond(after_ms).ok()?.to_zoned(self.tz.clone());
                let next = c.find_next_occurrence(&at, false).ok()?;
                Some(next.timestamp().as_millisecond())
            }
        }
    }

    /// The ticks in (`after_ms`, `now_ms`], oldest first: the last `max` of them.
    pub fn due(&self, after_ms: i64, now_ms: i64, max: usize) -> Vec<i64> {
        if max == 0 {
            return Vec::new();
        }
        if let Kind::Every(p) = self.kind {
            let Some(first) = self.next_after(after_ms).filter(|f| *f <= now_ms) else { return Vec::new() };
            let count = (now_ms - first) / p + 1;
            let take = count.min(i64::try_from(max).unwrap_or(i64::MAX));
            return (count - take..count).map(|i| first + i * p).collect();
        }
        let walk = |from: i64| {
            let mut kept = VecDeque::with_capacity(max.min(64));
            let mut t = from;
            for _ in 0..MAX_SCAN {
                match self.next_after(t) {
                    Some(next) if next <= now_ms => {
                        if kept.len() == max {
                            kept.pop_front();
                        }
                        kept.push_back(next);
                        t = next;
                    }
                    _ => return Some(kept),
                }
            }
            None
        };
        let kept = walk(after_ms).or_else(|| walk(after_ms.max(now_ms - 86_400_000))).unwrap_or_default();
        kept.into()
    }
}

/// A time (ms since the epoch) as RFC 3339 UTC, to the second, for listings.
pub fn format_utc(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// What a scheduler that finds missed ticks (no scheduler ran at their
/// time) enqueues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Nothing: missed ticks are skipped.
    None,
    /// The most recent missed tick, once (the default).
    #[default]
    Last,
    /// Every missed tick, oldest first, at most [`MAX_CATCH_UP`] (the most recent ones).
    All,
}

impl std::str::FromStr for CatchUp {
    type Err = Error;
    fn from_str(s: &str) -> Result<CatchUp> {
        match s {
            "none" => Ok(CatchUp::None),
            "last" => Ok(CatchUp::Last),
            "all" => Ok(CatchUp::All),
            other => Err(Error::InvalidSchedule(format!("catch-up {other:?}: use none, last or all"))),
        }
    }
}

impl std::fmt::Display for CatchUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CatchUp::None => "none",
            CatchUp::Last => "last",
            CatchUp::All => "all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ms since the epoch of a local wall-clock time in `tz`, by jiff.
    fn local(tz: &str, civil: &str) -> i64 {
        let dt: jiff::civil::DateTime = civil.parse().unwrap();
        dt.to_zoned(TimeZone::get(tz).unwrap()).unwrap().timestamp().as_millisecond()
    }

    /// The local wall-clock times (with UTC offset) of the ticks in (from, to].
    fn locals(e: &Expr, tz: &str, from: &str, to: &str) -> Vec<String> {
        let zone = TimeZone::get(tz).unwrap();
        e.due(local(tz, from), local(tz, to), 1000)
            .into_iter()
            .map(|t| {
                Timestamp::from_millisecond(t).unwrap().to_zoned(zone.clone()).strftime("%d %H:%M:%S%:z").to_string()
            })
            .collect()
    }

    #[test]
    fn expressions_aliases_seconds_and_every() {
        let every = Expr::parse("@every 30s", None).unwrap();
        assert_eq!(every.next_after(0), Some(30_000));
        assert_eq!(every.next_after(29_999), Some(30_000));
        assert_eq!(every.next_after(30_000), Some(60_000));
        assert_eq!(every.due(0, 95_000, 1000), vec![30_000, 60_000, 90_000]);
        assert_eq!(every.due(0, 95_000, 2), vec![60_000, 90_000], "the most recent ones");
        let five = Expr::parse("*/5 * * * *", None).unwrap();
        assert_eq!(five.next_after(0), Some(300_000));
        let six = Expr::parse("*/10 * * * * *", None).unwrap();
        assert_eq!(six.due(0, 35_000, 1000), vec![10_000, 20_000, 30_000]);
        let hourly = Expr::parse("@hourly", Some("Asia/Kolkata")).unwrap();
        // Kolkata is UTC+5:30: its hours start at :30 UTC.
        assert_eq!(hourly.next_after(0), Some(1_800_000));
        let cron_all = Expr::parse("* * * * * *", None).unwrap();
        assert_eq!(cron_all.due(0, 5_000_000, 1000).len(), 1000, "catch-up all is bounded");
    }

    #[test]
    fn bad_expressions_zones_and_intervals_are_refused() {
        for (expr, tz, says) in [
            ("61 * * * *", None, "61"),
            ("* * *", None, "\"* * *\""),
            ("0 0 30 2 *", None, "never matches"),
            ("@every 500ms", None, "more frequent than once a second"),
            ("@every -1s", None, "negative"),
            ("@every soon", None, "invalid duration"),
            ("@every 400d", None, "over the limit"),
            ("@daily", Some("Mars/Olympus"), "unknown time zone"),
            ("0 0 * * * * 2030", None, "\"0 0 * * * * 2030\""),
        ] {
            let e = Expr::parse(expr, tz).unwrap_err().to_string();
            assert!(e.contains(says), "{expr}: {e}");
        }
        assert!("sometimes".parse::<CatchUp>().unwrap_err().to_string().contains("none, last or all"));
    }

    #[test]
    fn dst_skipped_times_run_once_after_the_gap_and_repeated_times_once() {
        let ny = "America/New_York";
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
        let daily = Expr::parse("30 2 * * *", Some(ny)).unwrap();
        assert_eq!(
            locals(&daily, ny, "2026-03-06T12:00", "2026-03-09T12:00"),
            ["07 02:30:00-05:00", "08 03:00:00-04:00", "09 02:30:00-04:00"]
        );
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice, runs once.
        let daily = Expr::parse("30 1 * * *", Some(ny)).unwrap();
        assert_eq!(
            locals(&daily, ny, "2026-10-31T00:00", "2026-11-02T12:00"),
            ["31 01:30:00-04:00", "01 01:30:00-04:00", "02 01:30:00-05:00"]
        );
        // A step field runs at each real matching time: twice in the repeated hour.
        let half = Expr::parse("*/30 1 * * *", Some(ny)).unwrap();
        assert_eq!(
            locals(&half, ny, "2026-11-01T00:00", "2026-11-01T03:00"),
            ["01 01:00:00-04:00", "01 01:30:00-04:00", "01 01:00:00-05:00", "01 01:30:00-05:00"]
        );
        // And none in a skipped hour.
        let gap = Expr::parse("*/30 2 * * *", Some(ny)).unwrap();
        assert_eq!(locals(&gap, ny, "2026-03-08T00:00", "2026-03-08T04:00"), Vec::<String>::new());
        // @every ignores zones: real time.
        let every = Expr::parse("@every 1h", Some(ny)).unwrap();
        assert_eq!(locals(&every, ny, "2026-03-08T00:30", "2026-03-08T04:30").len(), 3, "00→04 local is 3 real hours");
    }
}
