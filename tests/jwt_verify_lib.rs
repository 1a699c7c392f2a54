//! The test vectors of google/jwt_verify_lib, the C++ library behind Envoy's `jwt_authn`
//! filter: the key sets and tokens of its verification tests, transcribed (data only) into
//! tests/data/jwt_verify_lib/, with the status jwt_verify_lib expects and the code jwtgate gives.
//! Origin, commits and licence (Apache-2.0): tests/data/README.md and each file's header.
//!
//! Each case names its key set, the token, the time (`now`, pinned where the C++ test used
//! the wall clock, so that a 2017 `exp` does not decide a signature test) and the policy inputs
//! (`audiences`, `require_exp`, `allow`). The test asserts, for every case:
//! - jwtgate's outcome is the case's `expect`;
//! - `expect` is jwt_verify_lib's status mapped onto jwtgate's codes (table below), unless the
//!   case records a `difference` with its reason, in which case it must really differ;
//! - for the cases marked `fuzz` (the C++ tests fuzz those signatures too), every single-bit
//!   change to the signature and a signature one byte short are `invalid_signature`.

mod common;

use common::unb64;
use jwtgate::{b64_encode, Algorithm, JwkSet, Policy, Verifier};
use serde_json::Value;

/// The transcribed files, embedded so that the test runs wherever the crate builds.
const FILES: [(&str, &str); 7] = [
    (
        "verify_jwk_rsa.json",
        include_str!("data/jwt_verify_lib/verify_jwk_rsa.json"),
    ),
    (
        "verify_jwk_ec.json",
        include_str!("data/jwt_verify_lib/verify_jwk_ec.json"),
    ),
    (
        "verify_jwk_okp.json",
        include_str!("data/jwt_verify_lib/verify_jwk_okp.json"),
    ),
    (
        "verify_jwk_rsa_pss.json",
        include_str!("data/jwt_verify_lib/verify_jwk_rsa_pss.json"),
    ),
    (
        "verify_jwk_hmac.json",
        include_str!("data/jwt_verify_lib/verify_jwk_hmac.json"),
    ),
    (
        "verify_audiences.json",
        include_str!("data/jwt_verify_lib/verify_audiences.json"),
    ),
    (
        "verify_time.json",
        include_str!("data/jwt_verify_lib/verify_time.json"),
    ),
];

const NOT_APPLICABLE: &str = include_str!("data/jwt_verify_lib/not_applicable.json");

/// jwt_verify_lib's test sources (src/*_test.cc at the transcribed commits): each must be
/// transcribed or listed as not applicable, so that none is dropped without a reason.
const UPSTREAM_TESTS: [&str; 16] = [
    "src/verify_jwk_rsa_test.cc",
    "src/verify_jwk_ec_test.cc",
    "src/verify_jwk_okp_test.cc",
    "src/verify_jwk_rsa_pss_test.cc",
    "src/verify_jwk_hmac_test.cc",
    "src/verify_audiences_test.cc",
    "src/verify_time_test.cc",
    "src/verify_pem_test.cc",
    "src/verify_pem_ec_test.cc",
    "src/verify_pem_okp_test.cc",
    "src/verify_pkcs_test.cc",
    "src/verify_pkcs_ec_test.cc",
    "src/verify_x509_test.cc",
    "src/jwt_test.cc",
    "src/jwks_test.cc",
    "src/check_audience_test.cc",
];

/// jwt_verify_lib's `Status` as jwtgate's code.
///
/// `JwksKidAlgMismatch` is jwt_verify_lib's answer when no key passes the kid and alg filter;
/// every such case here is a `kid` no key carries, which jwtgate calls `unknown_key` (a kid
/// naming only keys of another algorithm would be `algorithm_not_allowed`). jwtgate has no code
/// of its own for an Ed25519 signature of the wrong length: it is an invalid signature.
fn mapped(status: &str) -> &'static str {
    match status {
        "Ok" => "ok",
        "JwtVerificationFail" | "JwtEd25519SignatureWrongLength" => "invalid_signature",
        "JwksKidAlgMismatch" => "unknown_key",
        "JwtExpired" => "expired",
        "JwtNotYetValid" => "not_yet_valid",
        "JwtAudienceNotAllowed" => "invalid_audience",
        other => panic!("no mapping for jwt_verify_lib status {other}"),
    }
}

/// The verifier for a case, with its key set and the npm options that make the same policy.
fn verifier(doc: &Value, case: &Value) -> (Verifier, Value, Value) {
    let name = case["jwks"].as_str().unwrap();
    let jwks = doc["jwks"]
        .get(name)
        .unwrap_or_else(|| panic!("no key set {name}"));
    let keys = JwkSet::from_json(jwks.to_string().as_bytes()).unwrap();
    // Every key in these sets is one jwtgate can use: a skipped key would change what a case
    // tests without saying so.
    assert_eq!(keys.parse_report(), [], "{name}");
    let mut policy = Policy::new();
    let mut options = serde_json::Map::new();
    let audiences = case["audiences"].as_array().into_iter().flatten();
    for aud in audiences.clone() {
        policy = policy.audience(aud.as_str().unwrap());
    }
    if audiences.count() > 0 {
        options.insert("audiences".into(), case["audiences"].clone());
    }
    if let Some(required) = case["require_exp"].as_bool() {
        policy = policy.require_expiration(required);
        options.insert("requireExpiration".into(), required.into());
    }
    let mut allow = Vec::new();
    for alg in case["allow"].as_array().into_iter().flatten() {
        allow.push(alg.as_str().unwrap());
        policy = policy.allow(Algorithm::from_name(alg.as_str().unwrap()).unwrap());
    }
    options.insert("algorithms".into(), common::npm_algorithms(&allow));
    (Verifier::new(keys, policy), jwks.clone(), options.into())
}

/// The token with its signature replaced.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let input = &token[..token.rfind('.').unwrap()];
    format!("{input}.{}", b64_encode(signature))
}

#[test]
fn jwt_verify_lib_vectors() {
    let mut by_outcome = std::collections::BTreeMap::<&str, usize>::new();
    let (mut cases, mut differences, mut fuzzed) = (0, 0, 0);
    let mut exported = common::Exported::default();
    for (file, text) in FILES {
        let doc: Value = serde_json::from_str(text).unwrap();
        assert!(doc["license"].as_str().unwrap().starts_with("Apache-2.0"));
        for case in doc["cases"].as_array().unwrap() {
            let test = format!("{file}: {}", case["test"].as_str().unwrap());
            let token = case["token"].as_str().unwrap();
            let now = case["now"].as_u64().unwrap();
            let expect = case["expect"].as_str().unwrap();
            let (verifier, jwks, options) = verifier(&doc, case);
            let npm = |v| (v, &jwks, options.clone());

            let got = exported.verify(&test, npm(&verifier), token, now);
            assert_eq!(got, expect, "{test}");

            // The expectation is jwt_verify_lib's own unless a documented difference says why.
            if let Some(upstream) = case["upstream"].as_str() {
                match case["difference"].as_str() {
                    None => assert_eq!(expect, mapped(upstream), "{test}: undocumented difference"),
                    Some(why) => {
                        assert_ne!(expect, mapped(upstream), "{test}: not a difference: {why}");
                        differences += 1;
                    }
                }
            }

            if case["fuzz"].as_bool() == Some(true) {
                assert_eq!(expect, "ok", "{test}: only good tokens are fuzzed");
                let signature = unb64(token.rsplit('.').next().unwrap());
                for i in 0..signature.len() {
                    let mut bad = signature.clone();
                    bad[i] ^= 1 << (i % 8);
                    let bad = with_signature(token, &bad);
                    let got =
                        exported.verify(&format!("{test} bit {i}"), npm(&verifier), &bad, now);
                    assert_eq!(got, "invalid_signature", "{test}: bit flipped in byte {i}");
                }
                let short = &signature[..signature.len() - 1];
                let short = with_signature(token, short);
                let got = exported.verify(&format!("{test} short"), npm(&verifier), &short, now);
                assert_eq!(got, "invalid_signature", "{test}: signature one byte short");
                fuzzed += 1;
            }

            *by_outcome.entry(got).or_default() += 1;
            cases += 1;
        }
    }
    println!(
        "jwt_verify_lib: {cases} cases, {differences} documented differences, {fuzzed} fuzzed; \
         by outcome: {by_outcome:?}"
    );
    // Guards the transcription itself: a file that lost its cases would otherwise pass.
    assert_eq!(cases, 39);
    assert!(by_outcome["ok"] > 0 && by_outcome["unknown_key"] > 0);
    exported.write("jwt_verify_lib");
}

/// The HMAC test's key set has a comma after its last key. jwt_verify_lib's parser takes it;
/// jwtgate reads key sets as strict JSON, so the set as written is refused.
#[test]
fn hmac_key_set_as_written_is_not_strict_json() {
    let doc: Value = serde_json::from_str(FILES[4].1).unwrap();
    let text = doc["jwks_text"]["SymmetricKeyHMAC as written"]
        .as_str()
        .unwrap();
    let err = JwkSet::from_json(text.as_bytes()).unwrap_err();
    assert_eq!(err.code(), "jwks_unavailable");
    // With the comma gone it is the set the cases use.
    let fixed = text.replace("},\n\n  ]", "}\n  ]");
    let keys = JwkSet::from_json(fixed.as_bytes()).unwrap();
    let used = JwkSet::from_json(doc["jwks"]["SymmetricKeyHMAC"].to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(format!("{keys:?}"), format!("{used:?}"));
}

#[test]
fn every_upstream_test_file_is_accounted_for() {
    let mut seen = Vec::new();
    for (_, text) in FILES {
        let doc: Value = serde_json::from_str(text).unwrap();
        let source = doc["source"].as_str().unwrap();
        let commit = doc["commit"].as_str().unwrap();
        assert_eq!(commit.len(), 40, "{source}");
        seen.push(source.rsplit(' ').next().unwrap().to_owned());
    }
    let na: Value = serde_json::from_str(NOT_APPLICABLE).unwrap();
    for list in ["not_applicable", "not_transcribed"] {
        for entry in na[list].as_array().unwrap() {
            assert!(!entry["reason"].as_str().unwrap().is_empty());
            seen.push(entry["file"].as_str().unwrap().to_owned());
        }
    }
    seen.sort();
    let mut expected: Vec<String> = UPSTREAM_TESTS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}
