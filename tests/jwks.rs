//! Key set parsing: unusable entries are skipped with a reason; unusable sets are errors.

mod common;

use common::*;
use jwtgate::{b64_encode, Algorithm, Error, JwkSet, JwksError, SkipReason};
use serde_json::{json, Value};

/// The reason the only entry of a one-key set (padded with a good key) was skipped.
fn skip_reason(entry: Value) -> SkipReason {
    let set =
        JwkSet::from_json(json!({"keys": [entry, p256_jwk()]}).to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1, "the entry must be skipped");
    let report = set.parse_report();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].index, 0);
    report[0].reason
}

/// `entry` with `name` set to `value`.
fn with(mut entry: Value, name: &str, value: Value) -> Value {
    entry[name] = value;
    entry
}

fn rsa_with(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "kid": "weak", "n": b64_encode(n), "e": b64_encode(e)})
}

/// An odd number of exactly `bits` bits (not a real modulus: size is checked first).
fn modulus(bits: usize) -> Vec<u8> {
    let mut n = vec![0xA5; bits.div_ceil(8)];
    n[0] = 1 << ((bits - 1) % 8);
    *n.last_mut().unwrap() |= 1;
    n
}

#[test]
fn weak_and_invalid_keys_are_skipped_with_reasons() {
    let good_n = unb64(rsa_jwk()["n"].as_str().unwrap());
    let p256 = p256_jwk();
    let mut off_curve = p256.clone();
    let mut y = unb64(p256["y"].as_str().unwrap());
    y[31] ^= 1;
    off_curve["y"] = json!(b64_encode(&y));
    let mut short_x = p256.clone();
    short_x["x"] = json!(b64_encode(&unb64(p256["x"].as_str().unwrap())[1..]));
    let mut p384_as_p256 = p384_jwk();
    p384_as_p256["crv"] = json!("P-256");

    let cases: Vec<(&str, Value, SkipReason)> = vec![
        (
            "RSA 1024",
            rsa_with(&modulus(1024), &[1, 0, 1]),
            SkipReason::RsaKeyTooSmall,
        ),
        (
            "RSA 2047",
            rsa_with(&modulus(2047), &[1, 0, 1]),
            SkipReason::RsaKeyTooSmall,
        ),
        (
            "RSA 2048 with leading zeros padding it to 4096",
            rsa_with(&[vec![0; 256], modulus(1024)].concat(), &[1, 0, 1]),
            SkipReason::RsaKeyTooSmall,
        ),
        (
            "RSA 16384",
            rsa_with(&modulus(16384), &[1, 0, 1]),
            SkipReason::RsaKeyTooLarge,
        ),
        (
            "RSA e = 1",
            rsa_with(&good_n, &[1]),
            SkipReason::WeakRsaExponent,
        ),
        (
            "RSA e = 3",
            rsa_with(&good_n, &[3]),
            SkipReason::WeakRsaExponent,
        ),
        (
            "RSA e even",
            rsa_with(&good_n, &[1, 0, 2]),
            SkipReason::WeakRsaExponent,
        ),
        (
            "RSA e huge",
            rsa_with(&good_n, &[1; 16]),
            SkipReason::WeakRsaExponent,
        ),
        (
            "RSA even modulus",
            rsa_with(&[&good_n[..255], &[0]].concat(), &[1, 0, 1]),
            SkipReason::InvalidRsaModulus,
        ),
        (
            "RSA n missing",
            json!({"kty": "RSA", "e": "AQAB"}),
            SkipReason::InvalidParameter("n"),
        ),
        (
            "RSA n not base64url",
            json!({"kty": "RSA", "n": "a+b/", "e": "AQAB"}),
            SkipReason::InvalidParameter("n"),
        ),
        (
            "RSA n a number",
            json!({"kty": "RSA", "n": 12345, "e": "AQAB"}),
            SkipReason::InvalidParameter("n"),
        ),
        (
            "EC point off the curve",
            off_curve,
            SkipReason::PointNotOnCurve,
        ),
        ("EC short x", short_x, SkipReason::InvalidLength),
        (
            "P-384 point labelled P-256",
            p384_as_p256,
            SkipReason::InvalidLength,
        ),
        (
            "EC P-521",
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            SkipReason::UnsupportedCurve,
        ),
        (
            "EC secp256k1",
            json!({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}),
            SkipReason::UnsupportedCurve,
        ),
        (
            "OKP Ed448",
            json!({"kty": "OKP", "crv": "Ed448", "x": "AA"}),
            SkipReason::UnsupportedCurve,
        ),
        (
            "OKP X25519",
            json!({"kty": "OKP", "crv": "X25519", "x": b64_encode(&[9; 32])}),
            SkipReason::UnsupportedCurve,
        ),
        (
            "Ed25519 short",
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64_encode(&[9; 31])}),
            SkipReason::InvalidLength,
        ),
        (
            "oct empty",
            json!({"kty": "oct", "k": ""}),
            SkipReason::InvalidLength,
        ),
        (
            "kty missing",
            json!({"n": "AQAB"}),
            SkipReason::UnsupportedKeyType,
        ),
        (
            "kty unknown",
            json!({"kty": "DSA"}),
            SkipReason::UnsupportedKeyType,
        ),
        (
            "kty lower case",
            json!({"kty": "rsa", "n": "AQAB", "e": "AQAB"}),
            SkipReason::UnsupportedKeyType,
        ),
        (
            "use enc",
            {
                let mut k = rsa_jwk();
                k["use"] = json!("enc");
                k
            },
            SkipReason::NotForSignatures,
        ),
        (
            "key_ops without verify",
            {
                let mut k = rsa_jwk();
                k["key_ops"] = json!(["encrypt"]);
                k
            },
            SkipReason::NotForSignatures,
        ),
        (
            "alg RSA-OAEP",
            {
                let mut k = rsa_jwk();
                k["alg"] = json!("RSA-OAEP");
                k
            },
            SkipReason::UnsupportedAlgorithm,
        ),
        (
            "RSA key pinned to HS256",
            {
                let mut k = rsa_jwk();
                k["alg"] = json!("HS256");
                k
            },
            SkipReason::UnsupportedAlgorithm,
        ),
        (
            "P-256 key pinned to ES384",
            {
                let mut k = p256_jwk();
                k["alg"] = json!("ES384");
                k
            },
            SkipReason::UnsupportedAlgorithm,
        ),
        (
            "alg none",
            {
                let mut k = p256_jwk();
                k["alg"] = json!("none");
                k
            },
            SkipReason::UnsupportedAlgorithm,
        ),
        (
            "kid a number",
            {
                let mut k = p256_jwk();
                k["kid"] = json!(1);
                k
            },
            SkipReason::InvalidParameter("kid"),
        ),
        ("an array entry", json!(["RSA"]), SkipReason::NotAnObject),
        ("a string entry", json!("RSA"), SkipReason::NotAnObject),
        // A published private key proves nothing: anyone who read the set can sign with it.
        // The `d` is not read, only its presence (a wrong one would be no safer).
        (
            "an EC private key",
            with(p256_jwk(), "d", json!("AAAA")),
            SkipReason::PrivateKey,
        ),
        (
            "an RSA private key",
            with(rsa_jwk(), "d", json!("AAAA")),
            SkipReason::PrivateKey,
        ),
        (
            "an OKP private key",
            with(ed25519_jwk(), "d", json!("AAAA")),
            SkipReason::PrivateKey,
        ),
        (
            "a d of null",
            with(p256_jwk(), "d", json!(null)),
            SkipReason::PrivateKey,
        ),
    ];
    for (name, entry, want) in cases {
        assert_eq!(skip_reason(entry), want, "{name}");
    }
}

#[test]
fn keys_that_are_kept() {
    let mut padded = rsa_jwk();
    padded["n"] = json!(format!("{}=", padded["n"].as_str().unwrap()));
    let mut sig_use = p256_jwk();
    sig_use["use"] = json!("sig");
    sig_use["key_ops"] = json!(["verify"]);
    sig_use["alg"] = json!("ES256");
    sig_use["x5c"] = json!(["ignored"]);
    let leading_zero = {
        let mut k = rsa_jwk();
        let n = unb64(k["n"].as_str().unwrap());
        k["n"] = json!(b64_encode(&[&[0u8][..], &n].concat()));
        k
    };
    let set = JwkSet::from_json(
        json!({"keys": [padded, sig_use, leading_zero]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(set.len(), 3, "{:?}", set.parse_report());
    assert_eq!(set.keys()[1].alg(), Some(Algorithm::ES256));
    assert_eq!(set.keys()[0].key_type(), "RSA");
    assert!(set.contains_kid("p256"));
}

#[test]
fn unusable_sets_are_errors() {
    let unavailable = |e| Error::JwksUnavailable(e);
    let parse = |s: &str| JwkSet::from_json(s.as_bytes()).unwrap_err();
    assert_eq!(parse("not json"), unavailable(JwksError::Json));
    assert_eq!(
        parse(r#"{"keys":[],"keys":[]}"#),
        unavailable(JwksError::Json)
    );
    assert_eq!(parse("[]"), unavailable(JwksError::NotAKeySet));
    assert_eq!(
        parse(r#"{"kty":"RSA"}"#),
        unavailable(JwksError::NotAKeySet)
    );
    assert_eq!(parse(r#"{"keys":{}}"#), unavailable(JwksError::NotAKeySet));
    assert_eq!(parse(r#"{"keys":[]}"#), unavailable(JwksError::NoUsableKey));
    assert_eq!(
        parse(r#"{"keys":[{"kty":"RSA"}]}"#),
        unavailable(JwksError::NoUsableKey)
    );
    let many = json!({"keys": vec![p256_jwk(); JwkSet::MAX_KEYS + 1]}).to_string();
    assert_eq!(
        parse(&many),
        unavailable(JwksError::TooManyKeys {
            limit: JwkSet::MAX_KEYS
        })
    );
    let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(JwkSet::MAX_BYTES));
    assert_eq!(
        parse(&big),
        unavailable(JwksError::TooLarge {
            limit: JwkSet::MAX_BYTES
        })
    );
    assert_eq!(parse("{}").code(), "jwks_unavailable");
}

#[test]
fn duplicate_kids_are_all_candidates() {
    // Two keys share a kid (a rotation mid-flight): the token verifies with whichever fits.
    let mut old = p256_jwk();
    let attacker = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
    let point = attacker.verifying_key().to_sec1_point(false);
    old["x"] = json!(b64_encode(&point.as_bytes()[1..33]));
    old["y"] = json!(b64_encode(&point.as_bytes()[33..]));
    let set = JwkSet::from_json(json!({"keys": [old, p256_jwk()]}).to_string().as_bytes()).unwrap();
    let verifier = jwtgate::Verifier::new(set, policy());
    assert_eq!(
        outcome(&verifier, &token(Algorithm::ES256, &claims())),
        "ok"
    );
}

#[test]
fn keys_without_kid_serve_any_kid() {
    // As in Envoy's jwt_authn: a key without kid is a candidate whatever the token names.
    let mut anonymous = ed25519_jwk();
    anonymous.as_object_mut().unwrap().remove("kid");
    let set = JwkSet::from_json(json!({"keys": [anonymous]}).to_string().as_bytes()).unwrap();
    let verifier = jwtgate::Verifier::new(set, policy());
    assert_eq!(
        outcome(&verifier, &token(Algorithm::EdDSA, &claims())),
        "ok"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let set = JwkSet::from_json(json!({"keys": [hmac_jwk()]}).to_string().as_bytes()).unwrap();
    let shown = format!("{set:?}");
    assert!(shown.contains("oct") && shown.contains("hmac"));
    assert!(!shown.contains(&format!("{:?}", &keys().hmac[..8])));
}

#[test]
fn an_unknown_kid_is_unknown_even_beside_kid_less_keys() {
    // A rotation the verifier has not seen must read as unknown_key, the re-fetch trigger,
    // not as a mismatch or a bad signature because a kid-less key was tried.
    let mut anonymous = rsa_jwk();
    anonymous.as_object_mut().unwrap().remove("kid");
    let set = JwkSet::from_json(json!({"keys": [anonymous]}).to_string().as_bytes()).unwrap();
    let verifier = jwtgate::Verifier::new(set, policy());
    let rotated =
        |alg: Algorithm| headed_token(alg, json!({"alg": alg.name(), "kid": "rotated-new"}));
    assert_eq!(
        outcome(&verifier, &rotated(Algorithm::ES256)),
        "unknown_key"
    );
    assert_eq!(
        outcome(&verifier, &rotated(Algorithm::EdDSA)),
        "unknown_key"
    );
    // The kid-less RSA key still serves an RS256 token whatever kid it names.
    assert_eq!(outcome(&verifier, &rotated(Algorithm::RS256)), "ok");
}

fn headed_token(alg: Algorithm, header: Value) -> String {
    token_raw(alg, &header.to_string(), &claims().to_string())
}

#[test]
fn one_token_costs_at_most_max_attempts_signature_checks() {
    // Kid-less P-256 keys that do not verify, then the right one: a token without kid finds it
    // only while it is within the first MAX_ATTEMPTS fitting keys.
    let decoy = |i: u8| {
        let key = p256::ecdsa::SigningKey::from_slice(&[i + 1; 32]).unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": b64_encode(&point.as_bytes()[1..33]),
               "y": b64_encode(&point.as_bytes()[33..])})
    };
    let mut right = p256_jwk();
    right.as_object_mut().unwrap().remove("kid");
    let token = headed_token(Algorithm::ES256, json!({"alg": "ES256"}));
    for (decoys, want) in [
        (JwkSet::MAX_ATTEMPTS - 1, "ok"),
        (JwkSet::MAX_ATTEMPTS, "invalid_signature"),
    ] {
        let mut keys: Vec<Value> = (0..decoys as u8).map(decoy).collect();
        keys.push(right.clone());
        let set = JwkSet::from_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
        assert_eq!(
            outcome(&jwtgate::Verifier::new(set, policy()), &token),
            want,
            "{decoys} decoys"
        );
    }
}
