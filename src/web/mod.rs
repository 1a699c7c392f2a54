//! The web front door: what the npm package's JavaScript calls, through the plain exports of
//! `abi` (src/web/abi.rs) in both its wasms, `jwtgate/client`'s (`web-client`) and the whole
//! package's (`web`): wasm-bindgen cost the client 2.2 KB gzipped, and the whole entry more.
//! On the host (and in tests) these are Rust functions of the same names.
//!
//! Values cross as JSON text: the token's own header and payload, once they have passed the
//! strict parser, which the JS side reads with the engine's `JSON.parse`. Nothing here
//! serializes, so no serializer or float printing is compiled into the package. Errors cross as
//! JSON too, in band (see [`thrown`]), and become a `JwtError` (or a `TypeError` for a caller's
//! mistake) on the JS side.

use crate::prelude::*;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(feature = "web")]
mod http;
#[cfg(feature = "web")]
mod options;
mod session;
#[cfg(feature = "web")]
mod verifier;

use crate::crypto::json::push_json_string;
#[cfg(feature = "web")]
use crate::error::joined;
use crate::error::pieces;
use crate::{Error, DEFAULT_MAX_TOKEN_BYTES};

#[cfg(target_arch = "wasm32")]
pub(crate) use abi::exact;
#[cfg(feature = "web")]
pub use http::{check_claims, decode_accepted, http_answer};
#[cfg(feature = "web")]
pub use options::{OptionsError, KNOWN};
pub use session::RawSession;
#[cfg(feature = "web")]
pub use verifier::{
    check_jwks_length, check_options, discovered_jwks_uri, discovery_urls, option_names,
    RawVerifier,
};

// Rust's default wasm allocator (dlmalloc) was 9 KB of the client's 56 KB wasm; talc does the
// same job in a fraction of that (sizes in xtask/src/build.rs). Memory it grows is claimed as a
// heap of its own rather than joined to the last one: 76 bytes less of the client's wasm, and
// the same pages and speed in a stress of 200,000 decodes and sessions of tokens up to 15 KB
// and of 3,000 verifiers over 1 to 100 RSA keys (21 and 22 pages either way).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::cell::TalcSyncCell<talc::wasm::WasmGrowAndClaim, talc::wasm::WasmBinning> =
    talc::cell::TalcSyncCell::new_wasm(talc::wasm::WasmGrowAndClaim);

// Without std, a panic traps (`unreachable`), as panic = "abort" did with it: the JS side sees
// a RuntimeError, never a half-made answer.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// An error as JSON text with its name, code, message and claim, which `pkg/state.js` `raise`
/// turns into a `JwtError` or `TypeError`. Every export passes it in band (a NaN, a negative
/// number or a marker in its answer says there is one): an error thrown as a `JsValue` cost
/// the client's wasm and glue the externref table, its imports and a shim per export.
fn thrown(name: &str, code: Option<&str>, message: &str, claim: Option<&str>) -> String {
    let mut out = String::from("{\"name\":");
    push_json_string(&mut out, name);
    for (key, value) in [("code", code), ("message", Some(message)), ("claim", claim)] {
        if let Some(value) = value {
            pieces(&mut out, &[",\"", key, "\":"]);
            push_json_string(&mut out, value);
        }
    }
    out.push('}');
    out
}

fn jwt_json(e: &Error) -> String {
    thrown("JwtError", Some(e.code()), &e.message(), e.claim())
}

fn type_json(message: &str) -> String {
    thrown("TypeError", None, message, None)
}

/// An answer that is text, or its error in band: a NUL, then the error's JSON text (which no
/// answer starts with).
#[cfg(feature = "web")]
fn in_band(answer: Result<String, String>) -> String {
    answer.unwrap_or_else(|e| joined(&["\0", &e]))
}

/// Text the strict parser accepted is UTF-8; this never fails for it (and a lossy conversion
/// would only add code to the wasm).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// The header and payload JSON texts of a token, unverified, separated by a NUL (which JSON
/// text cannot contain); or, when the token is refused, a NUL and then the error's JSON text
/// (a header is never empty, so only an error starts with the NUL).
pub fn decode(token: &str) -> String {
    parts_text(token, DEFAULT_MAX_TOKEN_BYTES)
}

/// [`decode`] under a given size limit: one copy in the wasm for it and `decodeAccepted`.
#[inline(never)]
fn parts_text(token: &str, max_bytes: usize) -> String {
    // Both written straight into the string JS gets, which has room for them at once: base64
    // is a third longer than what it decodes to.
    let mut out = Vec::with_capacity(token.len());
    parts_into(token.as_bytes(), max_bytes, &mut out);
    text(out)
}

/// [`decode`]'s answer, appended to `out` as bytes: `jwtgate/client` keeps one answer buffer
/// and hands JS its bytes, so neither a new allocation nor a UTF-8 check of them is needed.
pub(crate) fn parts_into(token: &[u8], max_bytes: usize, out: &mut Vec<u8>) {
    let start = out.len();
    if let Err(e) = crate::token::unverified_parts(token, max_bytes, b"\0", out) {
        out.truncate(start);
        out.push(0);
        out.extend_from_slice(jwt_json(&e).as_bytes());
    }
}

/// Seconds from `now` until the token's `exp` (negative once past); `Infinity` without `exp`
/// (`exp - now` of two finite numbers never is); NaN when the token or `now` is refused, and
/// then `RawSession`'s operation 11 says why (an export of its own for that cost the client
/// 0.13 KB gzipped). Reads only the payload: this runs before every request.
pub fn expires_in(token: &str, now: f64) -> f64 {
    // A number: `pkg/token.js` passes anything that is not a JS number as NaN, refused here,
    // so no coercion (`''` to 0) ever applies. A `JsValue` cost `jwtgate/client` an import,
    // wasm-bindgen's glue and an externref shim (0.2 KB).
    if is_time(now) {
        left(token, now).unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// Seconds from `now` (a time) until the token's `exp`, `Infinity` without: for it and
/// `RawSession`, which gives the error.
#[inline(never)]
pub(super) fn left(token: &str, now: f64) -> Result<f64, Error> {
    Ok(exp_of(token)?.map_or(f64::INFINITY, |exp| exp - now))
}

/// Whether `now` is a time: NaN, infinities and negative numbers are refused, never read as the
/// epoch: at time 0 every `exp` is in the future, and an expired token would verify.
fn is_time(now: f64) -> bool {
    now.is_finite() && now >= 0.0
}

/// `now`, if [`is_time`]; the `TypeError` otherwise.
fn seconds(now: f64) -> Result<f64, String> {
    if is_time(now) {
        Ok(now)
    } else {
        Err(type_json(
            "now must be a number of seconds since the Unix epoch",
        ))
    }
}

/// The core's `too_large` when a string of `units` UTF-16 code units is longer than `limit`
/// bytes: each unit is at least one UTF-8 byte, so this is known before the string is copied
/// into wasm memory (which never shrinks). Shorter ones are measured by the parser.
fn check_units(units: f64, limit: usize) -> Result<(), Error> {
    if units > limit as f64 {
        Err(Error::TooLarge { limit })
    } else {
        Ok(())
    }
}

/// `check_units` with the default limit, for `decode`, `expiresIn` and the session.
pub fn check_token_length(units: f64) -> Option<String> {
    match check_units(units, DEFAULT_MAX_TOKEN_BYTES) {
        Ok(()) => None,
        Err(e) => Some(jwt_json(&e)),
    }
}

/// The `exp` of a token, checking only what finding it needs: three parts and a strict JSON
/// payload, not the header or signature.
pub fn exp_of(token: &str) -> Result<Option<f64>, Error> {
    crate::token::times(token).map(|t| t.exp)
}
