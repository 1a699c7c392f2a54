//! Every algorithm jwtgate accepts, signed here and verified by jwtgate.

mod common;

use common::*;
use jwtgate::{Algorithm, JwkSet, Verifier};
use serde_json::json;

#[test]
fn every_algorithm_round_trips() {
    let verifier = verifier_with(
        policy()
            .allow(Algorithm::HS256)
            .allow(Algorithm::HS384)
            .allow(Algorithm::HS512),
    );
    for alg in Algorithm::ALL {
        let token = token(alg, &claims());
        let verified = verifier
            .verify_at(&token, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.claims().subject(), Some("alice"), "{alg}");
        assert_eq!(verified.header().kid(), Some(kid_for(alg)), "{alg}");
        assert_eq!(verified.claims()["exp"], NOW + 600, "{alg}");
    }
}

#[test]
fn tokens_without_kid_find_their_key() {
    let verifier = verifier_with(policy().allow(Algorithm::HS256));
    for alg in Algorithm::ALL
        .into_iter()
        .filter(|a| !a.is_symmetric() || *a == Algorithm::HS256)
    {
        let header = json!({"alg": alg.name()}).to_string();
        let token = token_raw(alg, &header, &claims().to_string());
        assert_eq!(outcome(&verifier, &token), "ok", "{alg}");
    }
}

#[test]
fn a_signature_from_another_algorithm_of_the_same_key_fails() {
    let verifier = verifier();
    // An RS256 signature relabelled PS256 (same RSA key): padding differs, must not verify.
    let input = signing_input(r#"{"alg":"PS256","kid":"rsa"}"#, &claims().to_string());
    let sig = sign(Algorithm::RS256, input.as_bytes());
    let token = format!("{input}.{}", jwtgate::b64_encode(&sig));
    assert_eq!(outcome(&verifier, &token), "invalid_signature");
}

#[test]
fn key_rotation_by_replacing_the_set() {
    let only_p256 = json!({"keys": [p256_jwk()]}).to_string();
    let mut verifier = Verifier::new(JwkSet::from_json(only_p256.as_bytes()).unwrap(), policy());
    let token = token(Algorithm::EdDSA, &claims());
    assert_eq!(outcome(&verifier, &token), "unknown_key");
    verifier.set_keys(JwkSet::from_json(jwks().as_bytes()).unwrap());
    assert_eq!(outcome(&verifier, &token), "ok");
}
