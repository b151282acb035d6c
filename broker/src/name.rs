//! Validated names: queues and key prefixes.
use crate::error::{Error, Result};
use std::fmt;

/// The longest queue name accepted, in bytes.
pub const MAX_QUEUE_NAME: usize = 128;

/// A queue name: 1-128 bytes of `[A-Za-z0-9._:-]`. The character set keeps names
/// safe inside a Redis hash tag (no braces) and on a command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(String);

pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

impl QueueName {
    /// Checks `name`: 1 to 128 bytes of `[A-Za-z0-9._:-]` (it becomes part
    /// of every key's hash tag); anything else is [`Error::InvalidQueueName`].
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_QUEUE_NAME {
            Some("it is longer than 128 bytes")
        } else if !name.chars().all(is_name_char) {
            Some("use only the characters [A-Za-z0-9._:-]")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidQueueName { name, reason }),
            None => Ok(QueueName(name)),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for QueueName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        QueueName::new(s)
    }
}

impl AsRef<str> for QueueName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(is_name_char) {
        return Err(Error::InvalidPrefix(prefix.to_string()));
    }
    Ok(())
}

/// Job ids are ULIDs when weir makes them; callers that bring their own (the
/// outbox relay, other languages) must keep to the queue-name alphabet, because
/// ids become hash field names with `:` suffixes.
pub fn validate_job_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(is_name_char) {
        return Err(Error::InvalidJobId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(QueueName::new("critical").is_ok());
        assert!(QueueName::new("a.b_c:d-9").is_ok());
        assert!(QueueName::new("x".repeat(128)).is_ok());
        assert!(QueueName::new("x".repeat(129)).is_err());
        assert!(QueueName::new("").is_err());
        assert!(QueueName::new("a{b}").is_err());
        assert!(QueueName::new("a b").is_err());
        assert!(QueueName::new("é").is_err());
    }
}
