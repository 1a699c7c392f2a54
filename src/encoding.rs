//! Strict base64url and strict JSON: the two encodings a JWS is made of.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Decodes base64url without padding, refusing any other alphabet, padding, whitespace or
/// non-canonical trailing bits.
pub(crate) fn b64_decode(input: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(input).ok()
}

/// Encodes as base64url without padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Why bytes are not a strict JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON, trailing data, or nested beyond serde_json's depth limit (128).
    Syntax,
    /// JSON, but not an object at the top.
    NotAnObject,
    /// A member name appears twice in one object, at any depth.
    DuplicateMember,
}

/// Parses a JSON object, refusing duplicate member names at every depth: two parsers that keep
/// different duplicates see different claims, which is how signature-wrapping attacks start.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de).map_err(|e| {
        // Our visitor raises only custom (data) errors, and only for duplicates.
        if e.is_data() {
            JsonError::DuplicateMember
        } else {
            JsonError::Syntax
        }
    })?;
    de.end().map_err(|_| JsonError::Syntax)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Builds a `serde_json::Value` like its own `Deserialize` does, except for duplicates.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json yields only finite floats; from_f64 is None for the others.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(Strict)?;
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate member name"));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        for bad in ["aGk=", "aG k", "a+8", "a/8", " aGk", "aGk\n", "a", "aGl"] {
            assert_eq!(b64_decode(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn json_duplicates_refused_at_any_depth() {
        assert!(json_object(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"a":1,"\u0061":2}"#,
        ] {
            assert_eq!(json_object(bad), Err(JsonError::DuplicateMember));
        }
    }

    #[test]
    fn json_shape_and_depth() {
        assert_eq!(json_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(json_object(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(json_object(b"{\"a\":\"\\ud800\"}"), Err(JsonError::Syntax));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonError::Syntax));
    }
}
