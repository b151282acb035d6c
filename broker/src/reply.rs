//! Reading script replies: fred hands back loosely typed values, and a damaged
//! or unexpected reply must become a typed error, never a panic.
use crate::error::{Error, Result};
use fred::types::Value;

pub(crate) fn array(op: &'static str, v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        other => Err(Error::protocol(op, format!("expected an array, got {other:?}"))),
    }
}

pub(crate) fn int(op: &'static str, v: &Value) -> Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::String(s) => s.parse().map_err(|_| Error::protocol(op, format!("expected an integer, got {s:?}"))),
        Value::Null => Ok(0),
        other => Err(Error::protocol(op, format!("expected an integer, got {other:?}"))),
    }
}

pub(crate) fn string(op: &'static str, v: Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        Value::Bytes(b) => String::from_utf8(b.to_vec()).map_err(|_| Error::protocol(op, "expected UTF-8 text")),
        Value::Integer(i) => Ok(i.to_string()),
        other => Err(Error::protocol(op, format!("expected a string, got {other:?}"))),
    }
}

pub(crate) fn flags(op: &'static str, v: Value) -> Result<Vec<bool>> {
    array(op, v)?.iter().map(|x| int(op, x).map(|i| i == 1)).collect()
}
