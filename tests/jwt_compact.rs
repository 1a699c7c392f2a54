//! jwt-compact, the Rust JWT library jwtgate was first designed around, as a second reference:
//! on the algorithms it supports (HS256/384/512, RS*/PS*, ES256, EdDSA; not ES384), every
//! token of the attack catalog it accepts under the same policy (the variant's key set, key
//! chosen by `kid`, the variant's algorithms, `exp` required, `nbf` when present, 60 s of
//! skew, exact `iss`, `aud` string or array) jwtgate accepts too, and where they disagree it
//! is one of jwtgate's documented refusals, listed in `DOCUMENTED` with the README's reason.
//! jwt-compact has no key sets and no `iss`/`aud` checks: the test does that part for it.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use common::catalog::{catalog, variant, verifier_named};
use common::*;
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs384, Hs512, Rsa};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, UntrustedToken};
use jwtgate::{Algorithm, AlgorithmSet};
use serde_json::{Map, Value};

type Custom = Map<String, Value>;

/// Where jwt-compact accepts and jwtgate refuses: the catalog cases' names (lower case) each
/// rule covers, jwtgate's code, and the rule as README "What it accepts" documents it.
const DOCUMENTED: &[(&str, &str, &str)] = &[
    (
        "crit",
        "malformed",
        "an unknown `crit` is refused (RFC 7515 4.1.11)",
    ),
    (
        "b64",
        "malformed",
        "`b64: false` is refused (RFC 7797 unencoded payloads)",
    ),
    (
        "duplicate",
        "malformed",
        "member names repeated at any depth are refused",
    ),
    ("large", "too_large", "tokens over 16 KiB are refused"),
    (
        "empty secret",
        "unknown_key",
        "HMAC keys shorter than the hash are not used",
    ),
    (
        "empty secret",
        "invalid_signature",
        "HMAC keys shorter than the hash are not used",
    ),
    (
        "16-byte secret",
        "algorithm_not_allowed",
        "HMAC keys shorter than the hash are not used",
    ),
    (
        "audience array with a non-string",
        "invalid_claim",
        "`aud` is a string or an array of strings (RFC 7519 4.1.3)",
    ),
];

/// jwt-compact's verdict on `token` under the variant's policy: true if some key of the set
/// that jwtgate's key choice allows (the header's `kid`, or none; a key without `kid` serves
/// any token; a JWK's `alg` pins it) verifies it and the claims pass.
fn jwt_compact_accepts(token: &str, jwks: &Value, algorithms: &[Algorithm]) -> bool {
    let Ok(untrusted) = UntrustedToken::new(token) else {
        return false;
    };
    let name = untrusted.algorithm();
    let Some(&alg) = algorithms.iter().find(|a| a.name() == name) else {
        return false;
    };
    let kid = untrusted.header().key_id.clone();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kid.is_none() || k.get("kid").is_none() || k["kid"].as_str() == kid.as_deref())
        .filter(|k| k.get("alg").is_none_or(|a| a.as_str() == Some(name)))
        .any(|jwk| {
            let Ok(jwk) = serde_json::from_value::<JsonWebKey<'_>>(jwk.clone()) else {
                return false;
            };
            verify(alg, &jwk, &untrusted).is_some_and(|claims| claims_pass(&claims))
        })
}

fn with<A>(alg: A, jwk: &JsonWebKey<'_>, token: &UntrustedToken<'_>) -> Option<Claims<Custom>>
where
    A: jwt_compact::Algorithm,
    A::VerifyingKey: for<'a, 'b> TryFrom<&'a JsonWebKey<'b>>,
{
    let key = A::VerifyingKey::try_from(jwk).ok()?;
    let token = alg.validator::<Custom>(&key).validate(token).ok()?;
    Some(token.claims().clone())
}

fn verify(
    alg: Algorithm,
    jwk: &JsonWebKey<'_>,
    token: &UntrustedToken<'_>,
) -> Option<Claims<Custom>> {
    use Algorithm::*;
    match alg {
        ES256 => with(Es256, jwk, token),
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            with(Rsa::with_name(alg.name()), jwk, token)
        }
        EdDSA => with(Ed25519, jwk, token),
        HS256 => with(Hs256, jwk, token),
        HS384 => with(Hs384, jwk, token),
        HS512 => with(Hs512, jwk, token),
        // Not in jwt-compact.
        _ => None,
    }
}

fn claims_pass(claims: &Claims<Custom>) -> bool {
    let now = DateTime::<Utc>::from_timestamp(now() as i64, 0).unwrap();
    let options = TimeOptions::new(Duration::seconds(60), move || now);
    let times = claims.validate_expiration(&options).is_ok()
        && (claims.not_before.is_none() || claims.validate_maturity(&options).is_ok());
    let iss = claims.custom.get("iss").and_then(Value::as_str) == Some(ISSUER);
    let aud = match claims.custom.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    times && iss && aud
}

#[test]
fn every_token_jwt_compact_accepts_jwtgate_accepts_or_refuses_as_documented() {
    let cases = catalog();
    let (mut both, mut theirs_only, mut ours_only) = (0, BTreeMap::new(), Vec::new());
    let mut undocumented = Vec::new();
    for case in &cases {
        let v = variant(case.verifier);
        let algorithms: Vec<Algorithm> = v
            .algorithms
            .unwrap_or_else(|| AlgorithmSet::default().iter().collect());
        let theirs = jwt_compact_accepts(&case.token, &v.jwks, &algorithms);
        let ours = outcome(&verifier_named(case.verifier), &case.token);
        match (theirs, ours == "ok") {
            (true, true) => both += 1,
            (true, false) => {
                let name = case.name.to_lowercase();
                match DOCUMENTED
                    .iter()
                    .find(|(what, code, _)| *code == ours && name.contains(what))
                {
                    Some((_, _, why)) => {
                        *theirs_only.entry(*why).or_insert(0) += 1;
                    }
                    None => undocumented.push(format!("{}: jwtgate {ours}", case.name)),
                }
            }
            (false, true) => ours_only.push(case.name),
            (false, false) => {}
        }
    }
    println!(
        "jwt-compact cross-check: {} cases, {both} accepted by both",
        cases.len()
    );
    for (why, n) in &theirs_only {
        println!("  accepted by jwt-compact only, {n}: {why}");
    }
    println!("  accepted by jwtgate only: {ours_only:?}");
    assert!(
        undocumented.is_empty(),
        "jwt-compact accepts, jwtgate refuses, and no documented rule says why:\n{}",
        undocumented.join("\n")
    );
    // The check has teeth: the good tokens pass both, and jwt-compact's laxness is met.
    assert!(both >= 5, "{both}");
    assert!(!theirs_only.is_empty());
}
