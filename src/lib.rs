//! # jwtgate
//!
//! A strict JSON Web Token verifier, built to run as WebAssembly in browsers, Node, edge
//! workers and Envoy. This crate is its core: it knows nothing of JavaScript or Envoy.
//!
//! Verification is a chain of types: bytes become an [`UntrustedToken`] (structure checked),
//! the header picks keys from a [`JwkSet`], the signature is checked, and the claims are checked
//! against a [`Policy`], giving a [`VerifiedToken`]. Every refusal is an [`Error`] with a stable
//! [`Error::code`].
//!
//! ```
//! use jwtgate::{JwkSet, Policy, Verifier};
//! # let (jwks, token) = jwtgate::__doc_example();
//! let keys = JwkSet::from_json(jwks.as_bytes())?;
//! let policy = Policy::new().issuer("https://issuer.example").audience("api");
//! let verifier = Verifier::new(keys, policy);
//!
//! let claims = verifier.verify_at(token, 1_800_000_000)?.into_claims();
//! assert_eq!(claims.subject(), Some("alice"));
//! # Ok::<(), jwtgate::Error>(())
//! ```
//!
//! ## What it accepts
//!
//! | | |
//! |---|---|
//! | Algorithms | RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (Ed25519); HS256/384/512 only when the policy allows them and the key is `oct`; `none` never |
//! | Keys | RSA of 2048 to 8192 bits with an odd exponent from 65537 to 2^33 - 1, EC P-256 and P-384, OKP Ed25519, `oct`; chosen by `kid`, pinned by a JWK's `alg`; header `jwk`, `jku`, `x5u`, `x5c` never used |
//! | Structure | exactly three parts of base64url without padding, JSON objects without duplicate members, no `crit`, no `b64: false`, at most 16 KiB |
//! | Claims | `exp` required by default, `nbf`, 60 s clock skew, exact `iss`, `aud` as string or array, maximum lifetime, required claims; dates must be JSON numbers |
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | the core verifier, for any target, `wasm32-unknown-unknown` and `wasm32-wasip1` included |
//! | `envoy` | the Envoy filter: its configuration and request logic on any target, the proxy-wasm glue on wasm32 |
//! | `rust-crypto` *(default)* | the in-wasm signature primitives ([`RustCrypto`]); without it a front door supplies a [`SignatureCheck`] |
//! | `web` | the plain wasm exports behind the npm package `jwtgate` (see `pkg/`); built without `rust-crypto`, the platform verifies |
//! | `web-client` | only decode, expiry and the token session's exports: the wasm of `jwtgate/client` |
//! | `oracle-tests` | exposes the hand-written arithmetic to the oracle tests and fuzz targets (SECURITY.md); never for a release |
#![deny(unsafe_code)]
#![warn(missing_docs)]
// The npm package's wasm (built without `std`): std's panic runtime and the formatting it pulls
// in were a tenth of what an SPA downloads. Host builds keep std, for the tests.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

/// What std's prelude gives and `no_std` does not: every module takes it, so the same source
/// builds both ways.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    // Not every build formats (the client's does not).
    #[allow(unused_imports)]
    pub use alloc::format;
    pub use alloc::vec;
}

mod alg;
mod claims;
mod crypto;
pub mod discovery;
mod error;
mod jwks;
pub mod session;
mod token;
mod verify;

#[cfg(feature = "envoy")]
pub mod envoy;

#[cfg(feature = "web-client")]
// The exports are only on wasm32 (src/web/abi.rs): a host build of `web-client` alone just
// checks that the rest compiles, and finds what those exports call unused.
#[cfg_attr(
    all(not(target_arch = "wasm32"), not(feature = "web")),
    allow(dead_code)
)]
pub mod web;

/// The hand-written primitives' operations for the oracle tests and fuzz targets (feature
/// `oracle-tests`): not API, never in a release.
#[cfg(feature = "oracle-tests")]
#[doc(hidden)]
pub mod __oracle {
    pub use crate::crypto::oracle::*;
}

pub use alg::{Algorithm, AlgorithmSet};
pub use claims::{claim_holds, claim_requirement_holds, Claims};
pub use crypto::base64::b64_encode;
#[cfg(feature = "rust-crypto")]
pub use crypto::RustCrypto;
pub use crypto::SignatureCheck;
pub use error::{AlgorithmError, Error, JwksError, Malformed, Part};
pub use jwks::{Jwk, JwkSet, SkipReason, Skipped};
pub use serde_json::{Map, Value};
pub use token::{Header, UntrustedToken, DEFAULT_MAX_TOKEN_BYTES};
pub use verify::{Pending, Policy, VerifiedToken, Verifier};

/// A key set and a token for the examples in these docs (Ed25519, RFC 8037's key; the token
/// expires at 4102444800, is issued by `https://issuer.example` to `api`, subject `alice`).
#[doc(hidden)]
pub fn __doc_example() -> (&'static str, &'static str) {
    (DOC_JWKS, DOC_TOKEN)
}

const DOC_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"doc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
const DOC_TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImRvYyJ9.eyJhdWQiOiJhcGkiLCJleHAiOjQxMDI0NDQ4MDAsImlzcyI6Imh0dHBzOi8vaXNzdWVyLmV4YW1wbGUiLCJzdWIiOiJhbGljZSJ9.u6xecvifBNmYJlzl6ogoZ6si7raqIqAZ5tCNpUfqnaSkiYFIyJCZGVnSkTAhiuXfnJuNzufUG4zmDXqU2piTDw";
