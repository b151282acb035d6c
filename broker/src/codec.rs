//! Payload codecs. JSON is the default so other languages can enqueue and
//! operators can read payloads; bincode is a compact option behind the
//! `bincode` feature. A bincode payload travels in the envelope as base64.
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// How a job's payload is encoded in its envelope.
pub enum Codec {
    #[default]
    /// The payload is the JSON value itself (readable, any language).
    Json,
    /// Known to every build so that a worker without the feature can name the
    /// problem; encoding and decoding need the `bincode` feature.
    Bincode,
}

impl std::str::FromStr for Codec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(Codec::Json),
            "bincode" if cfg!(feature = "bincode") => Ok(Codec::Bincode),
            other => Err(Error::UnknownCodec(other.to_string())),
        }
    }
}

impl Codec {
    /// The name the envelope's `codec` field holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Bincode => "bincode",
        }
    }

    /// Encodes a value into the envelope's `payload` field.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Box<RawValue>> {
        match self {
            Codec::Json => serde_json::value::to_raw_value(value).map_err(|e| Error::Encode(e.to_string())),
            Codec::Bincode => bincode_impl::encode(value),
        }
    }

    /// Decodes the envelope's `payload` field.
    pub fn decode<T: DeserializeOwned>(self, payload: &RawValue) -> Result<T> {
        match self {
            Codec::Json => serde_json::from_str(payload.get()).map_err(|e| Error::Decode(e.to_string())),
            Codec::Bincode => bincode_impl::decode(payload),
        }
    }
}

#[cfg(feature = "bincode")]
mod bincode_impl {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>> {
        let bytes = bincode::serde::encode_to_vec(value, bincode::config::standard())
            .map_err(|e| Error::Encode(e.to_string()))?;
        serde_json::value::to_raw_value(&STANDARD.encode(bytes)).map_err(|e| Error::Encode(e.to_string()))
    }

    pub fn decode<T: DeserializeOwned>(payload: &RawValue) -> Result<T> {
        let text: String = serde_json::from_str(payload.get())
            .map_err(|_| Error::Decode("a bincode payload must be a base64 string".into()))?;
        let bytes = STANDARD.decode(text).map_err(|e| Error::Decode(format!("bad base64: {e}")))?;
        let (value, _) = bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(value)
    }
}

#[cfg(not(feature = "bincode"))]
mod bincode_impl {
    use super::*;
    const MISSING: &str = "the bincode codec is not compiled in (enable weir's `bincode` feature)";

    pub fn encode<T: Serialize + ?Sized>(_: &T) -> Result<Box<RawValue>> {
        Err(Error::Encode(MISSING.into()))
    }

    pub fn decode<T: DeserializeOwned>(_: &RawValue) -> Result<T> {
        Err(Error::Decode(MISSING.into()))
    }
}
