//! The job envelope: the JSON document stored under a job's id in the queue's
//! `jobs` hash. It never changes after enqueue; the mutable state (attempts,
//! errors, lease) lives in sibling hash fields that Lua updates without
//! decoding the payload. docs/PROTOCOL.md documents it for other languages.
use crate::backoff::Backoff;
use crate::codec::Codec;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Duration;

/// Attempts a job gets when neither the job type nor the enqueue says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;

#[derive(Debug, Clone, Serialize, Deserialize)]
/// A job as Redis stores it (in the queue's `jobs` hash): the JSON that
/// other languages write too (docs/PROTOCOL.md).
pub struct Envelope {
    /// ULID: time-ordered, unique.
    pub id: String,
    /// The queue it was enqueued to.
    pub queue: String,
    /// The handler's name.
    pub kind: String,
    #[serde(default)]
    /// How `payload` is encoded (`json` by default).
    pub codec: Codec,
    /// JSON codec: the value itself. bincode: a base64 string.
    pub payload: Box<RawValue>,
    #[serde(default = "default_max_attempts")]
    /// Attempts it may use in all.
    pub max_attempts: u32,
    /// None: the worker's schedule for this kind (or the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// None: the worker's `--timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub enqueued_at: i64,
    /// When the first attempt may start (ms since the epoch).
    #[serde(default)]
    pub run_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its unique key, released when it finishes or dies.
    pub unique_key: Option<String>,
    /// Jobs with the same rate key share its limit (see `weir limit set-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_key: Option<String>,
    /// W3C trace context of the enqueue (`traceparent`, `tracestate`), for
    /// the worker's span to join the producer's trace (docs/OBSERVABILITY.md).
    /// Data to every build: kept as written, never checked here; a value that
    /// is not a string reads as absent, so a bad one never buries the job.
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C `tracestate` that goes with `traceparent`, read the same way.
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

/// A string, or None for any other JSON value (the trace context fields are
/// hints: a malformed one is ignored, never an error for the job).
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Loose::deserialize(d)? {
        Loose::Text(s) => Some(s),
        Loose::Other(_) => None,
    })
}

/// The serde default of `max_attempts` wherever a job is read from JSON
/// (the envelope, the outbox's rows).
pub fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

impl Envelope {
    /// Parses and checks an envelope read from Redis. Anything a worker could
    /// not act on is an error here, so the reserve path can bury it at once.
    pub fn parse(raw: &str) -> Result<Envelope> {
        let env: Envelope = serde_json::from_str(raw).map_err(|e| Error::Decode(format!("damaged envelope: {e}")))?;
        if env.kind.is_empty() {
            return Err(Error::Decode("damaged envelope: empty kind".into()));
        }
        // A timeout past the bound would overflow the lease score the worker
        // computes from it; such a job is buried, not run.
        if let Some(ms) = env.timeout_ms {
            crate::bounds::timeout_ms("timeout_ms", ms).map_err(|e| Error::Decode(format!("damaged envelope: {e}")))?;
        }
        if env.codec == Codec::Bincode && !cfg!(feature = "bincode") {
            return Err(Error::Decode("bincode payload, but this build has no bincode codec".into()));
        }
        Ok(env)
    }

    /// The envelope as JSON, as Redis stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// The payload, decoded with the envelope's codec into the handler's type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        self.codec.decode(&self.payload)
    }

    /// Its own time limit per attempt, if it carries one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}

/// The kind an envelope names, read loosely so that an envelope which does
/// not parse as a whole still shows its kind (None: not JSON, or no kind).
pub fn loose_kind(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Loose {
        #[serde(default)]
        kind: Option<String>,
    }
    serde_json::from_str::<Loose>(raw).ok()?.kind.filter(|k| !k.is_empty())
}

/// One failed attempt, as recorded by the fail and reclaim scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt's number, 1 for the first.
    pub attempt: u32,
    /// ms since the epoch.
    pub at: i64,
    /// Its error message.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_timeout(timeout_ms: &str) -> String {
        format!(r#"{{"id":"j1","queue":"q","kind":"k","payload":null,"timeout_ms":{timeout_ms}}}"#)
    }

    #[test]
    fn trace_context_fields_are_kept_and_a_bad_one_reads_as_absent() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let raw =
            format!(r#"{{"id":"j1","queue":"q","kind":"k","payload":null,"traceparent":"{tp}","tracestate":"a=1"}}"#);
        let env = Envelope::parse(&raw).unwrap();
        assert_eq!((env.traceparent.as_deref(), env.tracestate.as_deref()), (Some(tp), Some("a=1")));
        assert!(env.to_json().contains(tp));
        for bad in ["7", "null", "{\"x\":[1]}", "[\"00-\"]"] {
            let raw = format!(
                r#"{{"id":"j1","queue":"q","kind":"k","payload":null,"traceparent":{bad},"tracestate":{bad}}}"#
            );
            let env = Envelope::parse(&raw).unwrap();
            assert_eq!((env.traceparent, env.tracestate), (None, None), "{bad}");
        }
        let plain = Envelope::parse(r#"{"id":"j1","queue":"q","kind":"k","payload":null}"#).unwrap();
        assert!(!plain.to_json().contains("trace"), "absent fields are not written");
    }

    #[test]
    fn a_timeout_within_the_bound_parses() {
        let env = Envelope::parse(&with_timeout("604800000")).unwrap();
        assert_eq!(env.timeout(), Some(crate::bounds::MAX_TIMEOUT));
    }

    #[test]
    fn a_timeout_past_the_bound_is_a_damaged_envelope() {
        for huge in [i64::MAX.to_string(), u64::MAX.to_string(), "604800001".to_string()] {
            let err = Envelope::parse(&with_timeout(&huge)).unwrap_err().to_string();
            assert!(err.contains("damaged envelope") && err.contains("timeout_ms"), "{huge}: {err}");
        }
    }
}
