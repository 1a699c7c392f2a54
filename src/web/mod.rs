//! The web front door: what the npm package's JavaScript calls.
//!
//! Values cross as JSON text, which the JS side turns into objects with the engine's own
//! `JSON.parse`: smaller than a serializer compiled in, and faster. Errors cross as JSON too and
//! become a `JwtError` (or a `TypeError` for bad options) on the JS side.

mod options;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::encoding::b64_decode;
use crate::{Error, JwkSet, Malformed, Part, UntrustedToken, DEFAULT_MAX_TOKEN_BYTES};

pub use options::{policy, OptionsError};

fn jwt_error(e: &Error) -> JsValue {
    JsValue::from_str(&json!({"name": "JwtError", "code": e.code(), "message": e.to_string(), "claim": e.claim()}).to_string())
}

fn type_error(message: &str) -> JsValue {
    JsValue::from_str(&json!({"name": "TypeError", "message": message}).to_string())
}

/// `{"header": …, "payload": …}` of a token, unverified, as JSON text.
#[wasm_bindgen]
pub fn decode(token: &str) -> Result<String, JsValue> {
    let untrusted = UntrustedToken::parse_with_limit(token, DEFAULT_MAX_TOKEN_BYTES)
        .map_err(|e| jwt_error(&e))?;
    let payload = untrusted.claims_unverified().map_err(|e| jwt_error(&e))?;
    Ok(json!({"header": untrusted.header().members(), "payload": payload}).to_string())
}

/// Seconds from `now` until the token's `exp` (negative once past), or `undefined` without
/// `exp`. Reads only the payload, and only its `exp`: this runs before every request.
#[wasm_bindgen(js_name = expiresIn)]
pub fn expires_in(token: &str, now: f64) -> Result<Option<f64>, JsValue> {
    let now = seconds(now)?;
    exp_of(token)
        .map(|exp| exp.map(|exp| exp - now))
        .map_err(|e| jwt_error(&e))
}

/// A time from JS. NaN, infinities and negative numbers are refused, never read as the epoch:
/// at time 0 every `exp` is in the future, and an expired token would verify.
fn seconds(now: f64) -> Result<f64, JsValue> {
    if now.is_finite() && now >= 0.0 {
        Ok(now)
    } else {
        Err(type_error(
            "now must be a number of seconds since the Unix epoch",
        ))
    }
}

/// The `exp` of a token, checking only what finding it needs.
pub fn exp_of(token: &str) -> Result<Option<f64>, Error> {
    let malformed = |m| Error::Malformed(m);
    if token.len() > DEFAULT_MAX_TOKEN_BYTES {
        return Err(Error::TooLarge {
            limit: DEFAULT_MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(Malformed::PartCount(
            token.split('.').take(6).count(),
        )));
    };
    let bytes = b64_decode(payload).ok_or(malformed(Malformed::Base64(Part::Payload)))?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let exp = de.deserialize_map(ExpOnly).map_err(|e| {
        malformed(if e.is_data() {
            Malformed::DuplicateMember(Part::Payload)
        } else {
            Malformed::Json(Part::Payload)
        })
    })?;
    de.end()
        .map_err(|_| malformed(Malformed::Json(Part::Payload)))?;
    match exp {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(Error::InvalidClaim("exp".into())),
    }
}

/// Visits a JSON object keeping only `exp`, and skipping everything else without building it.
struct ExpOnly;

impl<'de> Visitor<'de> for ExpOnly {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut exp = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "exp" {
                if exp.is_some() {
                    return Err(de::Error::custom("duplicate exp"));
                }
                exp = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(exp)
    }
}

fn parse_options(options: &str) -> Result<crate::Policy, JsValue> {
    let options: serde_json::Map<String, Value> =
        serde_json::from_str(options).map_err(|_| type_error("options must be an object"))?;
    policy(&options).map_err(|e| type_error(&e.0))
}

/// Throws a `TypeError` for options a `Verifier` would refuse: lets `RemoteVerifier` fail at
/// construction, before it has any keys.
#[wasm_bindgen(js_name = checkOptions)]
pub fn check_options(options: &str) -> Result<(), JsValue> {
    parse_options(options).map(|_| ())
}

/// The core verifier behind the JS `Verifier` and `RemoteVerifier`.
#[wasm_bindgen(js_name = RawVerifier)]
pub struct RawVerifier(crate::Verifier);

#[wasm_bindgen(js_class = RawVerifier)]
impl RawVerifier {
    /// A verifier over a JWKS (JSON text) with options (JSON text).
    #[wasm_bindgen(constructor)]
    pub fn new(jwks: &str, options: &str) -> Result<RawVerifier, JsValue> {
        let policy = parse_options(options)?;
        let keys = JwkSet::from_json(jwks.as_bytes()).map_err(|e| jwt_error(&e))?;
        Ok(RawVerifier(crate::Verifier::new(keys, policy)))
    }

    /// The verified claims as JSON text, or a thrown error.
    pub fn verify(&self, token: &str, now: f64) -> Result<String, JsValue> {
        let now = seconds(now)? as u64;
        let verified = self.0.verify_at(token, now).map_err(|e| jwt_error(&e))?;
        // Serialized from the strictly parsed claims: what JS sees is what was verified.
        Ok(serde_json::to_string(verified.claims().as_map()).expect("a JSON map serializes"))
    }

    /// Replaces the keys (rotation); the old ones stay if the new set is unusable.
    #[wasm_bindgen(js_name = setKeys)]
    pub fn set_keys(&mut self, jwks: &str) -> Result<(), JsValue> {
        let keys = JwkSet::from_json(jwks.as_bytes()).map_err(|e| jwt_error(&e))?;
        self.0.set_keys(keys);
        Ok(())
    }

    /// Whether some key carries this `kid`.
    #[wasm_bindgen(js_name = hasKid)]
    pub fn has_kid(&self, kid: &str) -> bool {
        self.0.keys().contains_kid(kid)
    }
}
