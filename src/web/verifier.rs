//! The verifier half of the web front door (feature `web`; `web-client` leaves it out): the
//! core plans a verification and judges it, the JS side's platform checks the signature.

use crate::prelude::*;

use super::options::{policy, KNOWN};
use super::{check_units, in_band, jwt_json, seconds, text, type_json};
use crate::crypto::json::json_document;
use crate::error::joined;
use crate::{Error, JwkSet, JwksError, UntrustedToken};

/// `jwks_unavailable` (its JSON text) once a key set body has passed `bytes` over the limit, so
/// the JS side stops reading it there.
pub fn check_jwks_length(bytes: f64) -> Option<String> {
    let limit = JwkSet::MAX_BYTES;
    (bytes > limit as f64).then(|| jwt_json(&Error::JwksUnavailable(JwksError::TooLarge { limit })))
}

/// The option names `Verifier` reads, comma-separated: the JS side reads each by property
/// access, so that getters and inherited options count.
pub fn option_names() -> String {
    KNOWN.into()
}

pub(super) fn parse_options(options: &str) -> Result<crate::Policy, String> {
    let options =
        json_document(options.as_bytes()).map_err(|_| type_json("options must be an object"))?;
    policy(options).map_err(|e| type_json(&e.0))
}

/// The `TypeError` (its JSON text) for options a `Verifier` would refuse: lets `RemoteVerifier`
/// fail at construction, before it has any keys.
pub fn check_options(options: &str) -> Option<String> {
    parse_options(options).err()
}

/// Where `issuer`'s discovery document is read from: OIDC's URL, then RFC 8414's (read only
/// when the first answers 404), separated by a newline, which neither can contain. A
/// `TypeError` (in band) for an issuer that cannot be discovered.
pub fn discovery_urls(issuer: &str) -> String {
    in_band(
        crate::discovery::metadata_urls(issuer)
            .map(|[oidc, oauth]| joined(&[&oidc, "\n", &oauth]))
            .map_err(|reason| {
                type_json(&joined(&[
                    "option issuer (discovered, as there is no jwksUri): ",
                    reason,
                ]))
            }),
    )
}

/// The `jwks_uri` a discovery document names for `issuer`; `jwks_unavailable` (in band) for a
/// document that is another issuer's, or names no usable key set URL.
pub fn discovered_jwks_uri(document: &str, issuer: &str) -> String {
    in_band(
        crate::discovery::jwks_uri(document.as_bytes(), issuer)
            .map_err(|e| jwt_json(&Error::JwksUnavailable(e))),
    )
}

/// The core verifier behind the JS `Verifier` and `RemoteVerifier`. Times are numbers:
/// `asTime` in `pkg/client-wasm.js` passes anything else as NaN, which is refused, never
/// coerced (`''` would have been 0, the epoch, at which an expired token verifies).
pub struct RawVerifier(crate::Verifier);

impl RawVerifier {
    /// A verifier over a JWKS (JSON text) with options (JSON text); the error's JSON text.
    pub fn new(jwks: &str, options: &str) -> Result<RawVerifier, String> {
        let policy = parse_options(options)?;
        let keys = JwkSet::from_json(jwks.as_bytes()).map_err(|e| jwt_json(&e))?;
        Ok(RawVerifier(crate::Verifier::new(keys, policy)))
    }

    /// The verified payload's JSON text, or a thrown error: with the in-wasm primitives.
    #[cfg(feature = "rust-crypto")]
    pub fn verify(&self, token: &str, now: f64) -> Result<String, String> {
        let now = seconds(now)? as u64;
        let untrusted = self.parse(token)?;
        self.0
            .verify_untrusted(&untrusted, now)
            .map_err(|e| jwt_json(&e))?;
        // The very text that was verified: JS reads what the checks read.
        Ok(text(untrusted.payload().to_vec()))
    }

    /// The first half of a verification by the platform's primitive: everything up to the
    /// signature check. Returns `"ALG,i,j,…"`, the algorithm and the positions of the keys to
    /// try in order (see `publicKey`); the verdict (in band) when no key can have made the
    /// signature, or when the token fails before that.
    pub fn prepare(&self, token: &str, now: f64) -> String {
        in_band((|| {
            // The time is judged by finish; a bad one is the caller's mistake before any other.
            seconds(now)?;
            let untrusted = self.parse(token)?;
            let alg = untrusted.header().algorithm().map_err(|e| jwt_json(&e))?;
            self.plan(alg, untrusted.header().kid(), untrusted.signature())
        })())
    }

    /// `prepare` for a signature that is not a token's, made with `alg` by a key without
    /// `kid`: how the Wycheproof suites reach the package's signature path.
    pub fn candidates(&self, alg: &str, signature: &[u8]) -> String {
        in_band(
            crate::Algorithm::from_name(alg)
                .map_err(|e| jwt_json(&e))
                .and_then(|alg| self.plan(alg, None, signature)),
        )
    }

    fn plan(
        &self,
        alg: crate::Algorithm,
        kid: Option<&str>,
        signature: &[u8],
    ) -> Result<String, String> {
        let (candidates, fail) = self.0.plan(alg, kid, signature).map_err(|e| jwt_json(&e))?;
        if candidates.is_empty() {
            return Err(jwt_json(&fail));
        }
        let mut out = String::from(alg.name());
        for i in candidates {
            out.push(',');
            out.push_str(&crate::error::decimal(i as u64));
        }
        Ok(out)
    }

    /// The second half: `verified` is the position of the key the platform verified the
    /// signature with, or -1 for none. The verified payload's JSON text, or the error in band.
    pub fn finish(&self, token: &str, verified: i32, now: f64) -> String {
        in_band((|| {
            let now = seconds(now)? as u64;
            let untrusted = self.parse(token)?;
            let pending = self.0.prepare(&untrusted).map_err(|e| jwt_json(&e))?;
            pending
                .judge(usize::try_from(verified).ok(), now)
                .map_err(|e| jwt_json(&e))?;
            Ok(text(untrusted.payload().to_vec()))
        })())
    }

    /// The key at position `index`, as a minimal JWK (JSON text) for the platform to import.
    pub fn public_key(&self, index: usize) -> Option<String> {
        self.0.keys().keys().get(index).map(crate::Jwk::public_jwk)
    }

    fn parse<'t>(&self, token: &'t str) -> Result<UntrustedToken<'t>, String> {
        UntrustedToken::parse_with_limit(token, self.0.policy().max_token_bytes)
            .map_err(|e| jwt_json(&e))
    }

    /// `check_units` with this verifier's `maxTokenBytes`.
    pub fn check_length(&self, units: f64) -> Option<String> {
        check_units(units, self.0.policy().max_token_bytes)
            .err()
            .map(|e| jwt_json(&e))
    }
}
