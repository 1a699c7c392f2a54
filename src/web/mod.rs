//! The web front door: what the npm package's JavaScript calls.
//!
//! Values cross as JSON text: the token's own header and payload, once they have passed the
//! strict parser, which the JS side reads with the engine's `JSON.parse`. Nothing here
//! serializes, so no serializer or float printing is compiled into the package. Errors cross as
//! JSON too and become a `JwtError` (or a `TypeError` for a caller's mistake) on the JS side.

mod options;
mod session;

use wasm_bindgen::prelude::*;

use crate::encoding::{b64_decode, json_object, push_json_string};
use crate::{Error, JwkSet, UntrustedToken, DEFAULT_MAX_TOKEN_BYTES};

pub use options::{policy, OptionsError};
pub use session::RawSession;

fn thrown(name: &str, code: Option<&str>, message: &str, claim: Option<&str>) -> JsValue {
    let mut out = String::from("{\"name\":");
    push_json_string(&mut out, name);
    for (key, value) in [("code", code), ("message", Some(message)), ("claim", claim)] {
        if let Some(value) = value {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":");
            push_json_string(&mut out, value);
        }
    }
    out.push('}');
    JsValue::from_str(&out)
}

fn jwt_error(e: &Error) -> JsValue {
    thrown("JwtError", Some(e.code()), &e.to_string(), e.claim())
}

fn type_error(message: &str) -> JsValue {
    thrown("TypeError", None, message, None)
}

/// Text the strict parser accepted is UTF-8; this never fails for it.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The header and payload JSON texts of a token, unverified, separated by a NUL (which JSON
/// text cannot contain).
#[wasm_bindgen]
pub fn decode(token: &str) -> Result<String, JsValue> {
    let untrusted = UntrustedToken::parse_with_limit(token, DEFAULT_MAX_TOKEN_BYTES)
        .map_err(|e| jwt_error(&e))?;
    untrusted.claims_unverified().map_err(|e| jwt_error(&e))?;
    // The header passed the strict parser in parse; decode its text again rather than keep it.
    let header = token
        .split('.')
        .next()
        .and_then(b64_decode)
        .unwrap_or_default();
    Ok(format!("{}\0{}", text(&header), text(untrusted.payload())))
}

/// Seconds from `now` until the token's `exp` (negative once past), or `undefined` without
/// `exp`. Reads only the payload: this runs before every request.
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

/// The `exp` of a token, checking only what finding it needs: three parts and a strict JSON
/// payload, not the header or signature.
pub fn exp_of(token: &str) -> Result<Option<f64>, Error> {
    crate::token::times(token).map(|t| t.exp)
}

fn parse_options(options: &str) -> Result<crate::Policy, JsValue> {
    let options =
        json_object(options.as_bytes()).map_err(|_| type_error("options must be an object"))?;
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

    /// The verified payload's JSON text, or a thrown error.
    pub fn verify(&self, token: &str, now: f64) -> Result<String, JsValue> {
        let now = seconds(now)? as u64;
        let untrusted = UntrustedToken::parse_with_limit(token, self.0.policy().max_token_bytes)
            .map_err(|e| jwt_error(&e))?;
        self.0
            .verify_untrusted(&untrusted, now)
            .map_err(|e| jwt_error(&e))?;
        // The very text that was verified: JS reads what the checks read.
        Ok(text(untrusted.payload()))
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
