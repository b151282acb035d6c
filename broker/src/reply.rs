//! Reading script replies: redis-rs hands back loosely typed values, and a
//! damaged or unexpected reply must become a typed error, never a panic.
use crate::error::{Error, Result};
use redis::Value;

pub(crate) fn array(op: &'static str, v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(Error::protocol(op, format!("expected an array, got {other:?}"))),
    }
}

pub(crate) fn int(op: &'static str, v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::protocol(op, format!("expected an integer, got {:?}", String::from_utf8_lossy(b)))),
        Value::SimpleString(s) => s.parse().map_err(|_| Error::protocol(op, format!("expected an integer, got {s:?}"))),
        Value::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Ok(*d as i64),
        Value::Nil => Ok(0),
        other => Err(Error::protocol(op, format!("expected an integer, got {other:?}"))),
    }
}

/// Raw bytes of a string reply (ids from other languages may not be UTF-8).
pub(crate) fn bytes(op: &'static str, v: Value) -> Result<Vec<u8>> {
    match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::Int(i) => Ok(i.to_string().into_bytes()),
        other => Err(Error::protocol(op, format!("expected a string, got {other:?}"))),
    }
}

pub(crate) fn string(op: &'static str, v: Value) -> Result<String> {
    String::from_utf8(bytes(op, v)?).map_err(|_| Error::protocol(op, "expected UTF-8 text"))
}

/// A string reply, or None for nil.
pub(crate) fn opt_string(op: &'static str, v: Value) -> Result<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        other => string(op, other).map(Some),
    }
}
