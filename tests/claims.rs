//! Claim policy: lifetime, required claims, optional expiration, nested lookup.

mod common;

use common::*;
use jwtgate::{Algorithm, Error, UntrustedToken};
use serde_json::json;

fn verify(policy: jwtgate::Policy, claims: serde_json::Value) -> Result<jwtgate::Claims, Error> {
    verifier_with(policy)
        .verify_at(&token(Algorithm::ES256, &claims), NOW)
        .map(|v| v.into_claims())
}

#[test]
fn max_lifetime_limits_the_time_left() {
    let p = || policy().max_lifetime(3600);
    assert!(verify(p(), claims_with(json!({"exp": NOW + 3600}))).is_ok());
    assert_eq!(
        verify(p(), claims_with(json!({"exp": NOW + 3601}))),
        Err(Error::InvalidClaim("exp".into()))
    );
    // max_lifetime implies exp, even when require_expiration is off.
    let no_exp = claims_with(json!({"exp": null}));
    assert_eq!(
        verify(p().require_expiration(false), no_exp),
        Err(Error::MissingClaim("exp".into()))
    );
}

#[test]
fn expiration_can_be_made_optional() {
    let no_exp = claims_with(json!({"exp": null}));
    assert_eq!(
        verify(policy(), no_exp.clone()),
        Err(Error::MissingClaim("exp".into()))
    );
    assert!(verify(policy().require_expiration(false), no_exp).is_ok());
    // Optional does not mean unchecked: a present exp must still be a number in the future.
    let late = claims_with(json!({"exp": NOW - 3600}));
    assert_eq!(
        verify(policy().require_expiration(false), late),
        Err(Error::Expired)
    );
}

#[test]
fn clock_skew_is_configurable() {
    let c = claims_with(json!({"exp": NOW - 30}));
    assert!(verify(policy(), c.clone()).is_ok());
    assert_eq!(verify(policy().clock_skew(0), c), Err(Error::Expired));
    // With no skew, exp equal to now has expired (RFC 7519: now must be before exp).
    assert_eq!(
        verify(policy().clock_skew(0), claims_with(json!({"exp": NOW}))),
        Err(Error::Expired)
    );
    assert!(verify(policy().clock_skew(0), claims_with(json!({"exp": NOW + 1}))).is_ok());
}

#[test]
fn required_claims_and_unchecked_issuer_audience() {
    let err = verify(policy().require_claim("scope"), claims()).unwrap_err();
    assert_eq!((err.code(), err.claim()), ("missing_claim", Some("scope")));
    assert!(verify(policy().require_claim("jti"), claims()).is_ok());
    let mut with_null = claims();
    with_null["scope"] = serde_json::Value::Null;
    let err = verify(policy().require_claim("scope"), with_null).unwrap_err();
    assert_eq!(
        err.claim(),
        Some("scope"),
        "a claim present as null is missing"
    );
    // Without issuer and audience in the policy, neither is checked.
    let foreign = claims_with(json!({"iss": "anyone", "aud": ["x"]}));
    assert!(verify(jwtgate::Policy::new(), foreign).is_ok());
}

#[test]
fn several_audiences_any_matches() {
    let p = || policy().audience("web");
    assert!(verify(p(), claims_with(json!({"aud": "web"}))).is_ok());
    assert!(verify(p(), claims_with(json!({"aud": ["x", "web"]}))).is_ok());
    assert_eq!(
        verify(p(), claims_with(json!({"aud": ["x"]}))),
        Err(Error::InvalidAudience)
    );
}

#[test]
fn nested_claims_by_path() {
    let c = verify(
        policy(),
        claims_with(json!({"realm": {"roles": ["admin"], "tier": {"name": "gold"}}, "a.b": 1})),
    )
    .unwrap();
    assert_eq!(c.lookup("realm.roles"), Some(&json!(["admin"])));
    assert_eq!(c.lookup("realm.tier.name"), Some(&json!("gold")));
    assert_eq!(
        c.lookup("a.b"),
        Some(&json!(1)),
        "a member named with a dot wins"
    );
    assert_eq!(c.lookup("realm.missing"), None);
    assert_eq!(c.lookup("sub.x"), None);
    assert_eq!(c.id(), Some("t-1"));
    assert_eq!(
        c["no-such-claim"],
        serde_json::Value::Null,
        "indexing never panics"
    );
    assert_eq!(c.issuer(), Some(ISSUER));
}

#[test]
fn token_size_limit_is_configurable() {
    let t = token(Algorithm::ES256, &claims());
    let v = verifier_with(policy().max_token_bytes(t.len()));
    assert!(v.verify_at(&t, NOW).is_ok());
    let v = verifier_with(policy().max_token_bytes(t.len() - 1));
    assert_eq!(
        v.verify_at(&t, NOW).unwrap_err(),
        Error::TooLarge { limit: t.len() - 1 }
    );
    // Parsed elsewhere with the default limit: the policy's still holds.
    let parsed = UntrustedToken::parse(&t).unwrap();
    let too_large = Error::TooLarge { limit: t.len() - 1 };
    assert_eq!(v.verify_untrusted(&parsed, NOW).unwrap_err(), too_large);
    assert_eq!(v.verify_signature(&parsed).unwrap_err(), too_large);
    let v = verifier_with(policy().max_token_bytes(t.len()));
    assert!(v.verify_untrusted(&parsed, NOW).is_ok());
    assert!(v.verify_signature(&parsed).is_ok());
}
