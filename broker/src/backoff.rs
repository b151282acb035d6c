//! Retry schedules, carried in the envelope as a short string so other
//! languages can set them: `exp:1s:1h` (exponential with jitter, base and cap),
//! `fixed:5s`, or an explicit list `1s,5s,10s` (the last delay repeats).
//! The worker turns a schedule into delays (with backon); the broker only stores it.
use crate::duration::{format_duration, parse_duration};
use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
/// The delays between a job's attempts (`--backoff`, `Job::backoff`);
/// parsed from `exp:1s:1h`, `fixed:10s` or a list `1s,5s,10s`.
pub enum Backoff {
    /// base × 2^(attempt-1), capped, with full jitter in [delay/2, delay].
    Exponential {
        /// The first delay.
        base: Duration,
        /// The longest delay.
        cap: Duration,
    },
    /// The same delay after every attempt.
    Fixed(Duration),
    /// Delay after attempt n is `list[n-1]`; the last one repeats.
    Schedule(Vec<Duration>),
}

impl Default for Backoff {
    /// 1s, 2s, 4s, ... up to 1h, with jitter.
    fn default() -> Self {
        Backoff::Exponential { base: Duration::from_secs(1), cap: Duration::from_secs(3600) }
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backoff::Exponential { base, cap } => write!(f, "exp:{}:{}", format_duration(*base), format_duration(*cap)),
            Backoff::Fixed(d) => write!(f, "fixed:{}", format_duration(*d)),
            Backoff::Schedule(list) => {
                let parts: Vec<String> = list.iter().map(|d| format_duration(*d)).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl std::str::FromStr for Backoff {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidBackoff(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let backoff = match parts.as_slice() {
            ["exp"] => Backoff::default(),
            ["exp", base] => {
                Backoff::Exponential { base: parse_duration(base).map_err(|_| bad())?, cap: Duration::from_secs(3600) }
            }
            ["exp", base, cap] => Backoff::Exponential {
                base: parse_duration(base).map_err(|_| bad())?,
                cap: parse_duration(cap).map_err(|_| bad())?,
            },
            ["fixed", d] => Backoff::Fixed(parse_duration(d).map_err(|_| bad())?),
            [list] => {
                let delays = list.split(',').map(parse_duration).collect::<Result<Vec<_>>>().map_err(|_| bad())?;
                Backoff::Schedule(delays)
            }
            _ => return Err(bad()),
        };
        match &backoff {
            Backoff::Exponential { base, cap } if base.is_zero() || cap < base => Err(bad()),
            Backoff::Schedule(list) if list.is_empty() => Err(bad()),
            _ => Ok(backoff),
        }
    }
}

impl Serialize for Backoff {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Backoff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["exp:1s:1h", "fixed:5s", "1s,5s,10s", "exp:250ms:30s"] {
            assert_eq!(s.parse::<Backoff>().unwrap().to_string(), s);
        }
        for bad in ["", "exp:0s", "exp:1h:1s", "fixed", "fixed:x", "1s,,2s", "linear:1s"] {
            assert!(bad.parse::<Backoff>().is_err(), "{bad}");
        }
    }
}
