//! The attack catalog run against the core verifier: every case under `catch_unwind`, so a
//! panic is reported as that case's failure.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::catalog::{catalog, variant, verifier_named, VARIANTS};
use common::*;
use jwtgate::Algorithm;
use serde_json::json;

#[test]
fn every_attack_gets_its_code() {
    let mut failures = Vec::new();
    let cases = catalog();
    for case in &cases {
        let verifier = verifier_named(case.verifier);
        let got = catch_unwind(AssertUnwindSafe(|| outcome(&verifier, &case.token)));
        let ok = match (&got, case.want) {
            (Ok(code), "refused") => *code != "ok",
            (Ok(code), want) => *code == want,
            (Err(_), _) => false,
        };
        if !ok {
            failures.push(format!(
                "{}: want {}, got {:?}",
                case.name,
                case.want,
                got.map_err(|_| "PANIC")
            ));
        }
    }
    assert_all_passed(&failures, cases.len());
}

#[test]
fn errors_map_to_http_responses() {
    let verifier = verifier();
    let err = verifier
        .verify_at(
            &token(Algorithm::ES256, &claims_with(json!({"exp": NOW - 3600}))),
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        err.http_response("api"),
        (
            401,
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="expired""#.into()
            )
        )
    );
    assert_eq!(
        jwtgate::Error::MissingToken.http_response("a\"b"),
        (401, Some(r#"Bearer realm="a\"b""#.into()))
    );
    let (status, challenge) =
        jwtgate::Error::InsufficientClaims("scope".into()).http_response("api");
    assert_eq!(status, 403);
    assert!(challenge
        .unwrap()
        .contains(r#"error="insufficient_scope", error_description="insufficient_claims""#));
    // Valid but for another audience: a 403, as Envoy's jwt_authn answers it.
    let (status, challenge) = jwtgate::Error::InvalidAudience.http_response("api");
    assert_eq!(status, 403);
    assert!(challenge
        .unwrap()
        .contains(r#"error="invalid_token", error_description="invalid_audience""#));
    let unavailable = jwtgate::Error::JwksUnavailable(jwtgate::JwksError::NoUsableKey);
    assert_eq!(unavailable.http_response("api"), (503, None));
    assert_eq!(err.claim(), Some("exp"));
}

/// Writes the catalog, its variants and a valid token per algorithm for the JavaScript tests,
/// which run the same cases through the npm package (`cargo xtask test` passes the path on).
#[test]
fn export_fixtures_for_the_js_tests() {
    let variants: serde_json::Map<String, serde_json::Value> = VARIANTS
        .iter()
        .map(|name| {
            let v = variant(name);
            let algorithms = v
                .algorithms
                .map(|a| a.iter().map(|a| a.name()).collect::<Vec<_>>());
            let options =
                json!({"issuer": ISSUER, "audiences": [AUDIENCE], "algorithms": algorithms});
            (
                name.to_string(),
                json!({"jwks": v.jwks, "options": options}),
            )
        })
        .collect();
    let cases: Vec<_> = catalog()
        .into_iter()
        .map(|c| json!({"name": c.name, "token": c.token, "variant": c.verifier, "want": c.want}))
        .collect();
    let tokens: serde_json::Map<String, serde_json::Value> = Algorithm::ALL
        .into_iter()
        .map(|alg| (alg.name().to_owned(), json!(token(alg, &claims()))))
        .collect();
    let fixtures = json!({
        "now": NOW, "issuer": ISSUER, "audience": AUDIENCE,
        "jwks": serde_json::from_str::<serde_json::Value>(&jwks()).unwrap(),
        "tokens": tokens,
        "expired": token(Algorithm::ES256, &claims_with(json!({"exp": NOW - 3600}))),
        "noExp": token(Algorithm::ES256, &claims_with(json!({"exp": null}))),
        "variants": variants,
        "catalog": cases,
    });
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jwtgate-fixtures.json");
    std::fs::write(&path, fixtures.to_string()).unwrap();
    let back: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back["catalog"].as_array().unwrap().len(), catalog().len());
}

/// A platform's primitive in place of the in-wasm one: asked only what every primitive
/// answers alike, whatever a token holds.
struct Recording(std::cell::RefCell<Vec<(Algorithm, &'static str, usize)>>);

impl jwtgate::SignatureCheck for Recording {
    fn verify(&self, alg: Algorithm, key: &jwtgate::Jwk, message: &[u8], sig: &[u8]) -> bool {
        self.0.borrow_mut().push((alg, key.key_type(), sig.len()));
        jwtgate::RustCrypto.verify(alg, key, message, sig)
    }
}

#[test]
fn a_supplied_primitive_gives_the_same_answers_and_sees_only_well_formed_signatures() {
    let recording = Recording(Default::default());
    let mut failures = Vec::new();
    let cases = catalog();
    for case in &cases {
        let verifier = verifier_named(case.verifier);
        let got = match verifier.verify_at_with(&recording, &case.token, now()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        if got != outcome(&verifier, &case.token) {
            failures.push(format!("{}: {got} with the supplied primitive", case.name));
        }
        // The split API a front door with an asynchronous primitive uses gives the same.
        if let Ok(untrusted) = jwtgate::UntrustedToken::parse(&case.token) {
            if let Ok(pending) = verifier.prepare(&untrusted) {
                let hit = pending
                    .candidates()
                    .find(|(_, key)| {
                        key.verify(
                            pending.algorithm(),
                            untrusted.signing_input(),
                            untrusted.signature(),
                        )
                    })
                    .map(|(i, _)| i);
                let split = pending
                    .finish(hit, now())
                    .map_or_else(|e| e.code(), |_| "ok");
                if split != got {
                    failures.push(format!("{}: {split} by prepare and finish", case.name));
                }
            }
        }
    }
    assert_all_passed(&failures, cases.len());
    let calls = recording.0.into_inner();
    assert!(calls.len() > 20);
    for (alg, kty, len) in calls {
        let fixed = match alg {
            Algorithm::ES256 | Algorithm::EdDSA => Some(64),
            Algorithm::ES384 => Some(96),
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        };
        assert!(
            fixed.is_none_or(|n| n == len),
            "{alg:?} ({kty}) asked with {len} bytes"
        );
        assert!(kty == "RSA" || fixed.is_some(), "{alg:?} with a {kty} key");
    }
}
