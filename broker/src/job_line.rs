//! One job per line of JSON, the input of `weir enqueue --stdin` (docs/CLI.md).
//!
//! A line is an *object line* when it is a JSON object with at least one of
//! the [`FIELDS`]: it then takes only those fields, `payload` is required,
//! and each field must have its type. Any other JSON value (an object with
//! none of the fields included) is a *bare payload*, which needs a kind from
//! the flags. The rule depends on the line alone, never on the flags, so a
//! mistyped field is an error instead of a different job.
use crate::bounds::{self, OverLimit};
use crate::enqueue::{NewJob, RunAt, Unique};
use crate::name::QueueName;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::time::Duration;

/// The fields of an object line.
pub const FIELDS: [&str; 7] = ["kind", "payload", "queue", "delay_ms", "max_attempts", "unique_key", "rate_key"];

/// Why a line is refused. The caller adds the line number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    #[error("not valid JSON: {0}")]
    /// The line does not parse as JSON.
    NotJson(serde_json::Error),
    #[error("a bare payload line needs --kind (or write an object line with \"kind\" and \"payload\")")]
    /// A bare payload line, and no `--kind` to give it one.
    NoKind,
    #[error("an object line needs \"payload\" (fields: {fields})", fields = FIELDS.join(", "))]
    /// An object line without `payload`.
    NoPayload,
    #[error(
        "unknown field {0:?} in an object line (fields: {fields}); to enqueue this object as a payload, wrap it in {{\"payload\": ...}}",
        fields = FIELDS.join(", ")
    )]
    /// An object line with a field not in [`FIELDS`].
    UnknownField(String),
    #[error("field {0:?} appears twice")]
    /// A field given twice.
    DuplicateField(String),
    /// A field of the wrong JSON type.
    #[error("field {field:?} must be {expected}, got {got}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The JSON type it takes.
        expected: &'static str,
        /// What the line has instead.
        got: String,
    },
    #[error("field \"queue\": {0}")]
    /// The `queue` field is not a valid queue name.
    Queue(crate::Error),
    #[error(transparent)]
    /// A value over its bound (`delay_ms`, `max_attempts`).
    OverLimit(#[from] OverLimit),
}

/// What the flags say, for the fields a line leaves out.
#[derive(Debug, Clone)]
pub struct LineDefaults {
    /// `--queue`.
    pub queue: QueueName,
    /// `--kind`, for bare payload lines.
    pub kind: Option<String>,
    /// `--delay`.
    pub delay: Option<Duration>,
    /// `--max-attempts`.
    pub max_attempts: Option<u32>,
    /// `--unique-key`.
    pub unique_key: Option<String>,
    /// `--rate-key`.
    pub rate_key: Option<String>,
}

impl LineDefaults {
    /// A JSON job with these defaults.
    pub fn job(&self, queue: QueueName, kind: String, payload: Box<RawValue>) -> NewJob {
        let mut job = NewJob::json(queue, kind, payload);
        if let Some(d) = self.delay {
            job.run_at = RunAt::After(d);
        }
        if let Some(n) = self.max_attempts {
            job.max_attempts = n;
        }
        job.unique = self.unique_key.clone().map(|key| Unique { key, ttl: None });
        job.rate_key = self.rate_key.clone();
        job
    }
}

/// The job one line describes (`text` without its line break).
pub fn parse_line(text: &str, defaults: &LineDefaults) -> Result<NewJob, LineError> {
    let value: Box<RawValue> = serde_json::from_str(text).map_err(LineError::NotJson)?;
    let object = match value.get().starts_with('{') {
        true => entries(value.get())?,
        false => Vec::new(),
    };
    if !object.iter().any(|(key, _)| FIELDS.contains(&key.as_str())) {
        let kind = defaults.kind.clone().ok_or(LineError::NoKind)?;
        return Ok(defaults.job(defaults.queue.clone(), kind, value));
    }
    let mut line = ObjectLine::default();
    for (key, raw) in object {
        line.set(key, raw)?;
    }
    line.into_job(defaults)
}

/// An object line's fields, each seen at most once.
#[derive(Default)]
struct ObjectLine {
    kind: Option<String>,
    payload: Option<Box<RawValue>>,
    queue: Option<String>,
    delay_ms: Option<u64>,
    max_attempts: Option<u32>,
    unique_key: Option<String>,
    rate_key: Option<String>,
}

const STRING: &str = "a string";
const MILLISECONDS: &str = "a whole number of milliseconds";
const ATTEMPTS: &str = "a whole number of attempts";

impl ObjectLine {
    fn set(&mut self, key: String, raw: Box<RawValue>) -> Result<(), LineError> {
        let seen = match key.as_str() {
            "kind" => typed(&mut self.kind, "kind", STRING, &raw)?,
            "queue" => typed(&mut self.queue, "queue", STRING, &raw)?,
            "delay_ms" => typed(&mut self.delay_ms, "delay_ms", MILLISECONDS, &raw)?,
            "max_attempts" => typed(&mut self.max_attempts, "max_attempts", ATTEMPTS, &raw)?,
            "unique_key" => typed(&mut self.unique_key, "unique_key", STRING, &raw)?,
            "rate_key" => typed(&mut self.rate_key, "rate_key", STRING, &raw)?,
            "payload" => self.payload.replace(raw).is_some(),
            _ => return Err(LineError::UnknownField(key)),
        };
        match seen {
            true => Err(LineError::DuplicateField(key)),
            false => Ok(()),
        }
    }

    fn into_job(self, defaults: &LineDefaults) -> Result<NewJob, LineError> {
        let payload = self.payload.ok_or(LineError::NoPayload)?;
        let queue = match self.queue {
            Some(q) => QueueName::new(q).map_err(LineError::Queue)?,
            None => defaults.queue.clone(),
        };
        let kind = self.kind.or_else(|| defaults.kind.clone()).ok_or(LineError::NoKind)?;
        let mut job = defaults.job(queue, kind, payload);
        if let Some(ms) = self.delay_ms {
            job.run_at = RunAt::After(bounds::delay("delay_ms", Duration::from_millis(ms))?);
        }
        if let Some(n) = self.max_attempts {
            job.max_attempts = bounds::max_attempts("max_attempts", n)?;
        }
        if let Some(key) = self.unique_key {
            job.unique = Some(Unique { key, ttl: None });
        }
        if let Some(key) = self.rate_key {
            job.rate_key = Some(key);
        }
        Ok(job)
    }
}

/// Decodes `raw` into `slot`; true when the slot was already set (a
/// duplicate field). `null` counts as the field left out.
fn typed<T: serde::de::DeserializeOwned>(
    slot: &mut Option<T>,
    field: &'static str,
    expected: &'static str,
    raw: &RawValue,
) -> Result<bool, LineError> {
    let got = || {
        let text = raw.get();
        match text.char_indices().nth(40) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_string(),
        }
    };
    let value: Option<T> =
        serde_json::from_str(raw.get()).map_err(|_| LineError::WrongType { field, expected, got: got() })?;
    Ok(match value {
        Some(value) => slot.replace(value).is_some(),
        None => false,
    })
}

/// The entries of a JSON object in order, duplicates kept (a map would keep
/// only the last one).
fn entries(object: &str) -> Result<Vec<(String, Box<RawValue>)>, LineError> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, Box<RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    serde_json::Deserializer::from_str(object).deserialize_map(Entries).map_err(LineError::NotJson)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(kind: Option<&str>) -> LineDefaults {
        LineDefaults {
            queue: QueueName::new("flags").unwrap(),
            kind: kind.map(String::from),
            delay: None,
            max_attempts: Some(7),
            unique_key: None,
            rate_key: None,
        }
    }

    fn error(text: &str, kind: Option<&str>) -> String {
        parse_line(text, &defaults(kind)).unwrap_err().to_string()
    }

    #[test]
    fn a_bare_payload_takes_every_field_from_the_flags() {
        for text in [r#"{"n":1}"#, "[1,2]", "3", "null", r#""text""#, "{}"] {
            let job = parse_line(text, &defaults(Some("import"))).unwrap();
            assert_eq!((job.queue.as_str(), job.kind.as_str(), job.payload.get()), ("flags", "import", text));
            assert_eq!(job.max_attempts, 7);
        }
        assert!(error(r#"{"n":1}"#, None).contains("needs --kind"));
    }

    #[test]
    fn an_object_line_is_an_object_whatever_the_flags() {
        let text = r#"{"payload":{"n":1},"queue":"cli-obj"}"#;
        let job = parse_line(text, &defaults(Some("import"))).unwrap();
        assert_eq!((job.queue.as_str(), job.kind.as_str(), job.payload.get()), ("cli-obj", "import", r#"{"n":1}"#));
        let text = r#"{"kind":"other","payload":[1],"delay_ms":1500,"max_attempts":3,"unique_key":"u","rate_key":"r"}"#;
        let job = parse_line(text, &defaults(None)).unwrap();
        assert_eq!((job.queue.as_str(), job.kind.as_str(), job.max_attempts), ("flags", "other", 3));
        assert_eq!(job.run_at, RunAt::After(Duration::from_millis(1500)));
        assert_eq!((job.unique.unwrap().key, job.rate_key.unwrap()), ("u".to_string(), "r".to_string()));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_it() {
        let e = error(r#"{"payload":1,"max_attempts":"3"}"#, Some("k"));
        assert_eq!(e, r#"field "max_attempts" must be a whole number of attempts, got "3""#);
        assert!(error(r#"{"payload":1,"delay_ms":-5}"#, Some("k")).contains("\"delay_ms\""));
        assert!(error(r#"{"payload":1,"kind":7}"#, None).contains("\"kind\" must be a string"));
        assert!(error(r#"{"payload":1,"queue":"a b"}"#, None).contains("invalid queue name"));
    }

    #[test]
    fn object_line_mistakes_are_errors_not_other_jobs() {
        assert!(error(r#"{"kind":"k","queue":"q"}"#, Some("k")).contains("needs \"payload\""));
        assert!(error(r#"{"payload":1,"max_atempts":3}"#, Some("k")).contains("unknown field \"max_atempts\""));
        assert!(error(r#"{"payload":1,"payload":2}"#, Some("k")).contains("appears twice"));
        assert!(error(r#"{"payload":1}"#, None).contains("needs --kind"));
        assert!(error("{not json", Some("k")).contains("not valid JSON"));
        assert!(error(r#"{"payload":1,"delay_ms":99999999999999}"#, Some("k")).contains("over the limit"));
        assert!(error(r#"{"payload":1,"max_attempts":4000}"#, Some("k")).contains("over the limit of 1000"));
    }

    #[test]
    fn null_fields_are_left_to_the_flags() {
        let job = parse_line(r#"{"payload":1,"queue":null,"max_attempts":null}"#, &defaults(Some("k"))).unwrap();
        assert_eq!((job.queue.as_str(), job.max_attempts), ("flags", 7));
    }
}
