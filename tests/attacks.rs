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
    // A revocation store that cannot be read clears no one: 503, as for keys.
    assert_eq!(
        jwtgate::Error::RevocationUnavailable.http_response("api"),
        (503, None)
    );
    // By code, the same answer as by error, for every code (what the npm package asks).
    for e in [
        err.clone(),
        jwtgate::Error::MissingToken,
        jwtgate::Error::InvalidAudience,
        jwtgate::Error::InsufficientClaims("role".into()),
        jwtgate::Error::Revoked,
        jwtgate::Error::RevocationUnavailable,
        unavailable,
    ] {
        assert_eq!(
            jwtgate::Error::http_response_for_code(e.code(), "a\"b\\c\n"),
            e.http_response("a\"b\\c\n")
        );
    }
    assert!(jwtgate::Error::CODES.contains(&"revocation_unavailable"));
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
        "authenticate": authenticate_fixtures(),
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

/// The realm the Node suites' requests give (`http://api.test/orders?page=2`).
const REALM: &str = "http://api.test/orders";

/// What the Envoy filter answers, by the core's mapping, for the catalog through its variants
/// and for the cases `authenticate` adds: no token, another audience, claim requirements (with
/// the filter's `requires_claims` semantics) and revocation, checked in the filter's order:
/// verification, then the deny list, then the requirements.
fn authenticate_fixtures() -> serde_json::Value {
    let answer = |e: Option<jwtgate::Error>| match e {
        None => json!({"status": 200, "challenge": null}),
        Some(e) => {
            let (status, challenge) = e.http_response(REALM);
            json!({"status": status, "challenge": challenge, "code": e.code()})
        }
    };
    let catalog: Vec<_> = catalog()
        .into_iter()
        .map(|c| answer(verifier_named(c.verifier).verify_at(&c.token, NOW).err()))
        .collect();
    let token_with = |changes: serde_json::Value| token(Algorithm::ES256, &claims_with(changes));
    let cases = [
        (
            "a good token",
            token_with(json!({})),
            json!(null),
            json!([]),
            false,
        ),
        (
            "another audience",
            token_with(json!({"aud": "other"})),
            json!(null),
            json!([]),
            false,
        ),
        (
            "expired",
            token_with(json!({"exp": NOW - 3600})),
            json!(null),
            json!([]),
            false,
        ),
        (
            "role held",
            token_with(json!({"role": "admin"})),
            json!({"role": "admin"}),
            json!([]),
            false,
        ),
        (
            "role one of",
            token_with(json!({"role": "ops"})),
            json!({"role": ["admin", "ops"]}),
            json!([]),
            false,
        ),
        (
            "role lacking",
            token_with(json!({"role": "guest"})),
            json!({"role": "admin"}),
            json!([]),
            false,
        ),
        (
            "role absent",
            token_with(json!({})),
            json!({"role": "admin"}),
            json!([]),
            false,
        ),
        (
            "roles array",
            token_with(json!({"roles": ["user", "admin"]})),
            json!({"roles": "admin"}),
            json!([]),
            false,
        ),
        (
            "a string is whole",
            token_with(json!({"role": "eve admin"})),
            json!({"role": "admin"}),
            json!([]),
            false,
        ),
        (
            "scope is split",
            token_with(json!({"scope": "read write"})),
            json!({"scope": "write"}),
            json!([]),
            false,
        ),
        (
            "scp is split",
            token_with(json!({"scp": "read write"})),
            json!({"scp": "admin"}),
            json!([]),
            false,
        ),
        (
            "listed claims split",
            token_with(json!({"perms": "a b"})),
            json!({"perms": "b"}),
            json!(["perms"]),
            false,
        ),
        (
            "a dotted path",
            token_with(json!({"realm": {"roles": ["admin"]}})),
            json!({"realm.roles": "admin"}),
            json!([]),
            false,
        ),
        (
            "a number is not its string",
            token_with(json!({"level": 3})),
            json!({"level": "3"}),
            json!([]),
            false,
        ),
        (
            "a number",
            token_with(json!({"level": 3})),
            json!({"level": [2, 3]}),
            json!([]),
            false,
        ),
        (
            "revoked",
            token_with(json!({})),
            json!(null),
            json!([]),
            true,
        ),
        (
            "revoked, lacking a role",
            token_with(json!({"role": "guest"})),
            json!({"role": "admin"}),
            json!([]),
            true,
        ),
        (
            "revoked, expired",
            token_with(json!({"exp": NOW - 3600})),
            json!(null),
            json!([]),
            true,
        ),
    ];
    let cases: Vec<_> = cases
        .into_iter()
        .map(|(name, token, required, split, revoked)| {
            let split: Vec<String> = serde_json::from_value(split.clone()).unwrap();
            let outcome = match verifier().verify_at(&token, NOW) {
                Err(e) => Some(e),
                Ok(_) if revoked => Some(jwtgate::Error::Revoked),
                Ok(v) => {
                    let claims = v.into_claims();
                    required
                        .as_object()
                        .into_iter()
                        .flatten()
                        .find_map(|(claim, want)| {
                            let accepted = match want {
                                serde_json::Value::Array(list) => list.clone(),
                                one => vec![one.clone()],
                            };
                            (!jwtgate::claim_requirement_holds(&claims, claim, &accepted, &split))
                                .then(|| jwtgate::Error::InsufficientClaims(claim.clone()))
                        })
                }
            };
            json!({"name": name, "token": token, "requiredClaims": required,
                   "spaceDelimitedClaims": split, "revoked": revoked, "want": answer(outcome)})
        })
        .collect();
    json!({
        "url": "http://api.test/orders?page=2",
        "catalog": catalog,
        "cases": cases,
        "missing": answer(Some(jwtgate::Error::MissingToken)),
        "revocationUnavailable": answer(Some(jwtgate::Error::RevocationUnavailable)),
    })
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
                // And `judge`, the verdict alone (the npm package's).
                let judged = verifier
                    .prepare(&untrusted)
                    .and_then(|pending| pending.judge(hit, now()))
                    .map_or_else(|e| e.code(), |()| "ok");
                if judged != got {
                    failures.push(format!("{}: {judged} by prepare and judge", case.name));
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
