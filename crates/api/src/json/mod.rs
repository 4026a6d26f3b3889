//! Request bodies decoded as dockerd's Go `encoding/json` decodes them, so
//! that a body dockerd accepts is never refused:
//!
//! - `null` for any field is that field's zero value (`""`, `0`, `false`,
//!   an empty list or map, `None` for a pointer, i.e. an `Option`);
//! - an object key matches a field case-insensitively, an exact match
//!   winning over a folded one;
//! - unknown fields are ignored;
//! - a value of the wrong type is an error naming the field, worded as
//!   Go's ("json: cannot unmarshal string into Go struct field
//!   HostConfig.Memory of type int64").
//!
//! The types stay plain derived serde types: the Go rules live in the
//! [`Deserializer`](serde::Deserializer) they are decoded through, which
//! wraps every nested value in turn. Written here because no crate gives
//! serde Go's decoding rules; serde_json alone gives none of the four.

mod de;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

pub use de::{GoValue, Path};

/// Decodes a JSON document; a syntax error is `invalid JSON: ...`.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))?;
    from_value(&value)
}

/// As [`from_slice`], but an empty (or all-blank) body is the zero value,
/// as for the bodies dockerd decodes only when present.
pub fn from_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    from_slice(body)
}

/// As [`from_slice`] for a JSON text (query parameters such as `buildargs`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    from_slice(text.as_bytes())
}

/// Decodes an already parsed value with Go's rules.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    T::deserialize(GoValue {
        value,
        path: &Path::Root,
    })
    .map_err(|e| Error::invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
