//! The JWS examples of RFC 7515 Appendix A and RFC 7520 section 4 (compact serialization),
//! with the clock injected. Vectors: tests/data/rfc-vectors.json (sources inside).

mod common;

use common::{npm_algorithms, unb64, vectors, Exported};
use jwtgate::{
    Algorithm, AlgorithmError, Error, JwkSet, JwksError, Policy, UntrustedToken, Verifier,
};
use serde_json::{json, Value};

/// The RFC 7515 examples' `exp`.
const EXP_7515: u64 = 1_300_819_380;

/// The RFCs give their keys whole; a key set publishes an asymmetric key's public part only
/// (an entry with `d` is skipped).
fn public(jwk: &Value) -> Value {
    let mut jwk = jwk.clone();
    if jwk["kty"] != "oct" {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            jwk.as_object_mut().unwrap().remove(private);
        }
    }
    jwk
}

fn set(jwk: &Value) -> JwkSet {
    JwkSet::from_json(json!({ "keys": [public(jwk)] }).to_string().as_bytes()).unwrap()
}

fn a(name: &str) -> &'static Value {
    &vectors()["rfc7515"][name]
}

/// The npm options of the default policy, with `allow` added.
fn npm(allow: &[&str]) -> Value {
    json!({ "algorithms": npm_algorithms(allow) })
}

/// Checks the RFC 7515 claims, and exports the answers before and after `exp` for the npm
/// suites under `name`.
fn check_7515_claims(
    name: &str,
    (verifier, jwk, options): (&Verifier, &Value, Value),
    token: &str,
) {
    let mut exported = Exported::default();
    let jwks = json!({ "keys": [jwk] });
    for (when, now) in [
        ("before exp", EXP_7515 - 3600),
        ("after exp", EXP_7515 + 3600),
    ] {
        let npm = (verifier, &jwks, options.clone());
        exported.verify(&format!("{name} {when}"), npm, token, now);
    }
    exported.write(&format!("rfc7515-{name}"));
    let verified = verifier.verify_at(token, EXP_7515 - 3600).unwrap();
    let claims = verified.claims();
    assert_eq!(claims.issuer(), Some("joe"));
    assert_eq!(claims["http://example.com/is_root"], true);
    assert_eq!(claims.expiration(), Some(EXP_7515 as f64));
    // The same token an hour after `exp`, with the default 60 s of skew, has expired.
    assert_eq!(
        verifier.verify_at(token, EXP_7515 + 3600).unwrap_err(),
        Error::Expired
    );
}

#[test]
fn a1_hs256_with_crlf_header() {
    let token = a("a1")["token"].as_str().unwrap();
    let untrusted = UntrustedToken::parse(token).unwrap();
    assert_eq!(untrusted.header().typ(), Some("JWT"));
    assert!(untrusted
        .signing_input()
        .starts_with(b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."));

    let jwk = &a("a1")["jwk"];
    let hs = Verifier::new(set(jwk), Policy::new().allow(Algorithm::HS256));
    check_7515_claims("a1", (&hs, jwk, npm(&["HS256"])), token);

    // HMAC is refused unless the policy names it.
    let default = Verifier::new(set(jwk), Policy::new());
    assert_eq!(
        default.verify_at(token, EXP_7515 - 3600).unwrap_err(),
        Error::AlgorithmNotAllowed(AlgorithmError::NotAllowed(Algorithm::HS256))
    );
    let mut exported = Exported::default();
    let jwks = json!({ "keys": [jwk] });
    let got = exported.verify(
        "a1 by default",
        (&default, &jwks, npm(&[])),
        token,
        EXP_7515,
    );
    assert_eq!(got, "algorithm_not_allowed");
    // A5, unsecured, with and without HMAC allowed.
    let none = a("a5")["token"].as_str().unwrap();
    for (name, verifier, options) in [
        ("default", &default, npm(&[])),
        ("HS256", &hs, npm(&["HS256"])),
    ] {
        exported.verify(
            &format!("a5 ({name})"),
            (verifier, &jwks, options),
            none,
            EXP_7515,
        );
    }
    exported.write("rfc7515-a1-a5-refused");
}

#[test]
fn a2_rs256() {
    let jwk = &a("a2")["jwk"];
    let public = public(jwk);
    check_7515_claims(
        "a2",
        (
            &Verifier::new(set(&public), Policy::new()),
            &public,
            npm(&[]),
        ),
        a("a2")["token"].as_str().unwrap(),
    );
}

#[test]
fn a3_es256() {
    let jwk = &a("a3")["jwk"];
    let public = public(jwk);
    check_7515_claims(
        "a3",
        (
            &Verifier::new(set(&public), Policy::new()),
            &public,
            npm(&[]),
        ),
        a("a3")["token"].as_str().unwrap(),
    );
}

#[test]
fn a4_es512_is_refused_as_unsupported() {
    // P-521 keys are skipped, so a set of only that key has no usable key.
    let err = JwkSet::from_json(
        json!({"keys": [public(&a("a4")["jwk"])]})
            .to_string()
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err, Error::JwksUnavailable(JwksError::NoUsableKey));
    let verifier = Verifier::new(set(&a("a3")["jwk"]), Policy::new());
    let err = verifier
        .verify_at(a("a4")["token"].as_str().unwrap(), EXP_7515)
        .unwrap_err();
    assert_eq!(err, Error::AlgorithmNotAllowed(AlgorithmError::Unsupported));
}

#[test]
fn a5_unsecured_is_refused() {
    let token = a("a5")["token"].as_str().unwrap();
    assert!(token.ends_with('.'));
    for policy in [Policy::new(), Policy::new().allow(Algorithm::HS256)] {
        let verifier = Verifier::new(set(&a("a1")["jwk"]), policy);
        let err = verifier.verify_at(token, EXP_7515 - 3600).unwrap_err();
        assert_eq!(err, Error::AlgorithmNotAllowed(AlgorithmError::None));
        assert_eq!(err.code(), "algorithm_not_allowed");
    }
}

fn cookbook(section: &str) -> &'static str {
    vectors()["rfc7520"][section].as_str().unwrap()
}

fn cookbook_keys() -> JwkSet {
    let keys = &vectors()["rfc7520"]["keys"];
    JwkSet::from_json(
        json!({"keys": [public(&keys["rsa"]), keys["oct"], public(&keys["p521"])]})
            .to_string()
            .as_bytes(),
    )
    .unwrap()
}

#[test]
fn rfc7520_signatures_verify_and_payload_is_the_text() {
    let payload = unb64(vectors()["rfc7520"]["payload_b64"].as_str().unwrap());
    assert!(String::from_utf8(payload.clone())
        .unwrap()
        .starts_with("It\u{2019}s a dangerous business"));
    let keys = cookbook_keys();
    // The P-521 entry is skipped and reported; the RSA and HMAC keys are usable.
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys.parse_report()[0].reason,
        jwtgate::SkipReason::UnsupportedCurve
    );
    let verifier = Verifier::new(keys, Policy::new().allow(Algorithm::HS256));

    for (section, alg, kid) in [
        ("4.1", "RS256", "bilbo.baggins@hobbiton.example"),
        ("4.2", "PS384", "bilbo.baggins@hobbiton.example"),
        ("4.4", "HS256", "018c0ae5-4d9b-471b-bfd6-eef314bc7037"),
    ] {
        let token = UntrustedToken::parse(cookbook(section)).unwrap();
        assert_eq!(token.header().alg_name(), alg);
        let key = verifier
            .verify_signature(&token)
            .unwrap_or_else(|e| panic!("{section}: {e}"));
        assert_eq!(key.kid(), Some(kid), "{section}");
        assert_eq!(token.payload(), payload, "{section}");
        // The payload is prose, not claims: full verification refuses it as malformed.
        assert_eq!(
            verifier.verify_at(cookbook(section), 0).unwrap_err().code(),
            "malformed"
        );
    }
}

#[test]
fn rfc7520_tampered_and_unsupported() {
    let verifier = Verifier::new(cookbook_keys(), Policy::new().allow(Algorithm::HS256));
    let keys = &vectors()["rfc7520"]["keys"];
    let jwks = json!({"keys": [public(&keys["rsa"]), keys["oct"], public(&keys["p521"])]});
    let mut exported = Exported::default();
    let npm = || (&verifier, &jwks, npm(&["HS256"]));
    // The payload is prose: a verified signature, then malformed claims.
    for section in ["4.1", "4.2", "4.3", "4.4"] {
        exported.verify(section, npm(), cookbook(section), 0);
    }
    let es512 = UntrustedToken::parse(cookbook("4.3")).unwrap();
    assert_eq!(
        verifier.verify_signature(&es512).unwrap_err(),
        Error::AlgorithmNotAllowed(AlgorithmError::Unsupported)
    );
    // One flipped payload character invalidates each of the verifiable examples.
    for section in ["4.1", "4.2", "4.4"] {
        let original = cookbook(section);
        let dot = original.find('.').unwrap() + 1;
        let mut bytes = original.as_bytes().to_vec();
        bytes[dot] = if bytes[dot] == b'S' { b'T' } else { b'S' };
        let tampered = String::from_utf8(bytes).unwrap();
        let got = exported.verify(&format!("{section} tampered"), npm(), &tampered, 0);
        assert_eq!(got, "invalid_signature", "{section}");
        let token = UntrustedToken::parse(&tampered).unwrap();
        assert_eq!(
            verifier.verify_signature(&token).unwrap_err(),
            Error::InvalidSignature,
            "{section}"
        );
    }
    exported.write("rfc7520");
}
