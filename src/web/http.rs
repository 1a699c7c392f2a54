//! What `authenticate` and the middleware answer over HTTP, decided by the core: the refusal's
//! status and challenge ([`Error::http_response`]) and the per-call claim requirements.

use crate::prelude::*;

use super::type_json;
use super::verifier::parse_options;
use crate::crypto::json::json_document;
use crate::error::joined;
use crate::Error;

/// The status and `WWW-Authenticate` challenge for a refusal with `code` (one of
/// [`Error::CODES`], as a `JwtError` carries it), as `"<status>\n<challenge>"`, the challenge
/// empty where the status takes none: the answer the Envoy filter sends for the same refusal.
pub fn http_answer(code: &str, realm: &str) -> String {
    let (status, challenge) = Error::http_response_for_code(code, realm);
    // Three digits by hand: `to_string` would pull the formatting machinery into the package.
    let digits = [status / 100, status / 10 % 10, status % 10].map(|d| b'0' + d as u8);
    joined(&[
        core::str::from_utf8(&digits).unwrap_or_default(),
        "\n",
        challenge.as_deref().unwrap_or_default(),
    ])
}

/// [`super::decode`] for a token a verifier has accepted but for its claim requirements, for
/// `authenticate` (which checks per-call requirements on its payload and reads `jti` for
/// revocation): not held to `decode`'s default 16 KiB, since the verifier held the token to its
/// own `maxTokenBytes` (up to 1 MiB), and a token it took must not be refused here for its size.
/// An error comes as `decode`'s does, in band.
pub fn decode_accepted(token: &str) -> String {
    super::parts_text(token, token.len())
}

/// Checks verified claims (the payload's JSON text) against requirements, as a `Verifier`
/// with those options (`{ requiredClaims, spaceDelimitedClaims }`, JSON text) would:
/// `missing_claim` or `insufficient_claims` (in band) when unmet.
pub fn check_claims(payload: &str, requirements: &str) -> Option<String> {
    let policy = match parse_options(requirements) {
        Ok(policy) => policy,
        Err(e) => return Some(e),
    };
    let Ok(claims) = json_document(payload.as_bytes()) else {
        return Some(type_json("claims must be the JSON text of an object"));
    };
    crate::claims::check_required(claims, &policy)
        .err()
        .map(|e| super::jwt_json(&e))
}
