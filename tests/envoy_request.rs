//! The Envoy filter's per-request decision, with a fake environment in place of proxy-wasm.
#![cfg(feature = "envoy")]

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use common::*;
use jwtgate::envoy::config::Config;
use jwtgate::envoy::request::{decide, Env, HeaderOp, Keys, Outcome, Request};
use jwtgate::{Algorithm, Claims, Error, JwkSet, Verifier};
use serde_json::{json, Value};

struct Fake {
    keys: Vec<Option<Rc<Verifier>>>,
    /// Keys another worker has fetched into the shared copy, picked up by `resync`.
    shared: RefCell<Option<Rc<Verifier>>>,
    resynced: RefCell<Option<Rc<Verifier>>>,
    refetch: bool,
    revoked: Option<Vec<String>>,
    cache: RefCell<HashMap<(usize, String), Rc<Claims>>>,
}

impl Fake {
    fn new(config: &Config) -> Fake {
        let keys = config
            .providers
            .iter()
            .map(|p| {
                Some(Rc::new(Verifier::new(
                    JwkSet::from_json(jwks().as_bytes()).unwrap(),
                    p.policy.clone(),
                )))
            })
            .collect();
        Fake {
            keys,
            shared: RefCell::default(),
            resynced: RefCell::default(),
            refetch: false,
            revoked: Some(Vec::new()),
            cache: RefCell::default(),
        }
    }
}

impl Env for Fake {
    fn now(&self) -> u64 {
        NOW
    }
    fn keys(&self, provider: usize) -> Keys {
        if let Some(v) = &*self.resynced.borrow() {
            return Keys::Ready(v.clone());
        }
        match &self.keys[provider] {
            Some(v) => Keys::Ready(v.clone()),
            None => Keys::Pending,
        }
    }
    fn resync(&self, _: usize) -> bool {
        match self.shared.borrow_mut().take() {
            Some(v) => {
                *self.resynced.borrow_mut() = Some(v);
                true
            }
            None => false,
        }
    }
    fn may_refetch(&self, _: usize) -> bool {
        self.refetch
    }
    fn revoked(&self, jti: &str) -> Result<bool, Error> {
        match &self.revoked {
            Some(list) => Ok(list.iter().any(|j| j == jti)),
            None => Err(Error::JwksUnavailable(jwtgate::JwksError::Fetch(
                "never".into(),
            ))),
        }
    }
    fn cached(&self, provider: usize, token: &str) -> Option<Rc<Claims>> {
        self.cache
            .borrow()
            .get(&(provider, token.to_owned()))
            .cloned()
    }
    fn remember(&self, provider: usize, token: &str, claims: Rc<Claims>) {
        self.cache
            .borrow_mut()
            .insert((provider, token.to_owned()), claims);
    }
}

fn config(v: Value) -> Config {
    Config::from_json(v.to_string().as_bytes()).unwrap()
}

fn provider(extra: Value) -> Value {
    let mut p = json!({"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": {"inline_string": jwks()},
        "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"},
                             {"header_name": "x-groups", "claim_name": "groups"},
                             {"header_name": "x-tier", "claim_name": "plan.tier"}],
        "forward_payload_header": "x-payload"});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn standard() -> Config {
    config(json!({
        "providers": {"main": provider(json!({})), "other": provider(json!({"issuer": "https://other.example", "from_headers": [{"name": "x-other"}]}))},
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/lenient"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/either"}, "requires": {"requires_any": {"requirements": [{"provider_name": "other"}, {"provider_name": "main"}]}}},
            {"match": {"prefix": "/both"}, "requires": {"requires_all": {"requirements": [{"provider_name": "main"}, {"provider_name": "other"}]}}},
            {"match": {"prefix": "/admin"}, "requires": {"provider_name": "main"}, "requires_claims": {"scope": "admin", "groups": ["ops", "sre"]}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ],
        "bypass_cors_preflight": true
    }))
}

fn run(config: &Config, env: &Fake, path: &str, headers: &[(&str, &str)]) -> Outcome {
    decide(
        config,
        env,
        &Request {
            method: "GET",
            path,
            headers,
            route: None,
        },
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The last value set or added to a header.
fn set(ops: &[HeaderOp], name: &str) -> Option<String> {
    ops.iter().rev().find_map(|op| match op {
        HeaderOp::Set(n, v) | HeaderOp::Add(n, v) if n == name => Some(v.clone()),
        _ => None,
    })
}

/// Every value added to a header, in order.
fn added(ops: &[HeaderOp], name: &str) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            HeaderOp::Add(n, v) if n == name => Some(v.clone()),
            _ => None,
        })
        .collect()
}

fn removed(ops: &[HeaderOp], name: &str) -> bool {
    ops.iter()
        .any(|op| matches!(op, HeaderOp::Remove(n) if n == name))
}

fn allowed(outcome: Outcome) -> Vec<HeaderOp> {
    match outcome {
        Outcome::Allow(ops) => ops,
        other => panic!("expected Allow, got {other:?}"),
    }
}

fn denied(outcome: Outcome) -> Error {
    match outcome {
        Outcome::Deny(e) => e,
        other => panic!("expected Deny, got {other:?}"),
    }
}

fn rich_claims() -> Value {
    claims_with(json!({"groups": ["ops", "dev"], "scope": "read admin", "plan": {"tier": "gold"}}))
}

#[test]
fn a_valid_token_is_forwarded_with_its_claims() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let token = token(Algorithm::ES256, &rich_claims());
    let ops = allowed(run(
        &c,
        &env,
        "/orders?x=1",
        &[("authorization", &bearer(&token))],
    ));
    assert_eq!(set(&ops, "x-sub").as_deref(), Some("alice"));
    // Arrays as jwt_authn sends them: the standard base64 of their JSON.
    assert_eq!(
        set(&ops, "x-groups").as_deref(),
        Some("WyJvcHMiLCJkZXYiXQ==")
    );
    assert_eq!(set(&ops, "x-tier").as_deref(), Some("gold"));
    assert_eq!(set(&ops, "x-payload").as_deref(), token.split('.').nth(1));
    assert!(
        removed(&ops, "authorization"),
        "forward is false by default: the token is stripped"
    );
}

#[test]
fn the_filter_owns_its_headers_on_every_request() {
    let (c, env) = (standard(), Fake::new(&standard()));
    for path in ["/public", "/optional", "/orders"] {
        let outcome = run(
            &c,
            &env,
            path,
            &[
                ("x-sub", "admin"),
                (
                    "authorization",
                    &bearer(&token(Algorithm::ES256, &claims())),
                ),
            ],
        );
        let ops = allowed(outcome);
        for h in ["x-sub", "x-groups", "x-tier", "x-payload"] {
            assert!(
                removed(&ops, h),
                "{path}: {h} must be cleared before any is set"
            );
        }
    }
    // Claims absent from the token leave the header removed, not spoofed.
    let ops = allowed(run(
        &c,
        &env,
        "/orders",
        &[
            ("x-tier", "platinum"),
            (
                "authorization",
                &bearer(&token(Algorithm::ES256, &claims())),
            ),
        ],
    ));
    assert_eq!(set(&ops, "x-tier"), None);
    assert!(removed(&ops, "x-tier"));
}

#[test]
fn missing_and_bad_tokens() {
    let (c, env) = (standard(), Fake::new(&standard()));
    assert_eq!(denied(run(&c, &env, "/orders", &[])), Error::MissingToken);
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/orders",
            &[("authorization", "Basic dXNlcjpwYXNz")]
        )),
        Error::MissingToken
    );
    let expired = token(Algorithm::ES256, &claims_with(json!({"exp": NOW - 3600})));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/orders",
            &[("authorization", &bearer(&expired))]
        )),
        Error::Expired
    );
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/orders",
            &[("authorization", "Bearer garbage")]
        ))
        .code(),
        "malformed"
    );
}

#[test]
fn where_tokens_are_found() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let t = token(Algorithm::EdDSA, &claims());
    allowed(run(
        &c,
        &env,
        "/orders",
        &[("authorization", &format!("Bearer   {t}"))],
    ));
    // jwt_authn's prefix is case-sensitive: it sees no token in `bearer …`; jwtgate refuses it.
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/optional",
            &[("authorization", &format!("bearer {t}"))]
        ))
        .code(),
        "malformed"
    );
    allowed(run(&c, &env, &format!("/orders?a=1&access_token={t}"), &[]));
    let custom = config(
        json!({"providers": {"p": provider(json!({"from_headers": [{"name": "X-Token", "value_prefix": "JWT "}], "from_cookies": ["sid"]}))},
                               "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}),
    );
    let env = Fake::new(&custom);
    allowed(run(&custom, &env, "/", &[("x-token", &format!("JWT {t}"))]));
    allowed(run(
        &custom,
        &env,
        "/",
        &[("cookie", &format!("a=b; sid={t}; c=d"))],
    ));
    allowed(run(
        &custom,
        &env,
        "/",
        &[("cookie", &format!("sid=\"{t}\""))],
    ));
    // Configured locations replace the defaults.
    assert_eq!(
        denied(run(&custom, &env, "/", &[("authorization", &bearer(&t))])),
        Error::MissingToken
    );
    assert_eq!(
        denied(run(&custom, &env, "/", &[("x-token", &t)])),
        Error::MissingToken,
        "prefix required"
    );
}

#[test]
fn rule_forms_behave_as_in_jwt_authn() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let good = bearer(&token(Algorithm::ES256, &claims()));
    let bad = bearer(&token(
        Algorithm::ES256,
        &claims_with(json!({"aud": "nope"})),
    ));
    allowed(run(&c, &env, "/public/x", &[]));
    allowed(run(
        &c,
        &env,
        "/public/x",
        &[("authorization", "Bearer garbage")],
    ));
    allowed(run(&c, &env, "/optional", &[]));
    assert_eq!(
        set(
            &allowed(run(&c, &env, "/optional", &[("authorization", &good)])),
            "x-sub"
        )
        .as_deref(),
        Some("alice")
    );
    assert_eq!(
        denied(run(&c, &env, "/optional", &[("authorization", &bad)])),
        Error::InvalidAudience
    );
    let ops = allowed(run(&c, &env, "/lenient", &[("authorization", &bad)]));
    assert_eq!(
        set(&ops, "x-sub"),
        None,
        "a failed token under allow_missing_or_failed forwards nothing"
    );
    allowed(run(&c, &env, "/lenient", &[]));
    // requires_any: main's token in main's place satisfies it; nothing at all is missing.
    allowed(run(&c, &env, "/either", &[("authorization", &good)]));
    assert_eq!(denied(run(&c, &env, "/either", &[])), Error::MissingToken);
    assert_eq!(
        denied(run(&c, &env, "/either", &[("authorization", &bad)])),
        Error::InvalidAudience,
        "a real failure outranks a missing token"
    );
    // requires_all needs both.
    let other = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://other.example"})),
    );
    assert_eq!(
        denied(run(&c, &env, "/both", &[("authorization", &good)])),
        Error::MissingToken
    );
    allowed(run(
        &c,
        &env,
        "/both",
        &[("authorization", &good), ("x-other", &other)],
    ));
}

#[test]
fn required_claims_give_403() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let with = |claims: Value| bearer(&token(Algorithm::ES256, &claims));
    allowed(run(
        &c,
        &env,
        "/admin",
        &[("authorization", &with(rich_claims()))],
    ));
    let no_admin = claims_with(json!({"groups": ["ops"], "scope": "read administrator"}));
    let e = denied(run(
        &c,
        &env,
        "/admin",
        &[("authorization", &with(no_admin))],
    ));
    assert_eq!(e, Error::InsufficientClaims("scope".into()));
    assert_eq!(e.http_response("r").0, 403);
    let wrong_group = claims_with(json!({"groups": "dev", "scope": "admin"}));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/admin",
            &[("authorization", &with(wrong_group))]
        )),
        Error::InsufficientClaims("groups".into())
    );
    assert_eq!(denied(run(&c, &env, "/admin", &[])), Error::MissingToken);
}

#[test]
fn claims_never_inject_headers() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let sneaky =
        claims_with(json!({"sub": "alice\r\nx-admin: true", "groups": ["a\r\nx-admin: true"]}));
    let ops = allowed(run(
        &c,
        &env,
        "/orders",
        &[("authorization", &bearer(&token(Algorithm::ES256, &sneaky)))],
    ));
    assert_eq!(set(&ops, "x-sub"), None);
    // Arrays go as base64: nothing of their content can reach the header as text.
    assert_eq!(
        set(&ops, "x-groups").as_deref(),
        Some("WyJhXHJcbngtYWRtaW46IHRydWUiXQ==")
    );
}

#[test]
fn waiting_for_keys_and_rotation() {
    let c = standard();
    let mut env = Fake::new(&c);
    env.keys[0] = None;
    let t = bearer(&token(Algorithm::ES256, &claims()));
    assert_eq!(
        run(&c, &env, "/orders", &[("authorization", &t)]),
        Outcome::Wait {
            provider: 0,
            unknown_kid: false
        }
    );
    let mut env = Fake::new(&c);
    let rotated = bearer(&token_raw(
        Algorithm::ES256,
        r#"{"alg":"ES256","kid":"new"}"#,
        &claims().to_string(),
    ));
    assert_eq!(
        denied(run(&c, &env, "/orders", &[("authorization", &rotated)])),
        Error::UnknownKey
    );
    env.refetch = true;
    assert_eq!(
        run(&c, &env, "/orders", &[("authorization", &rotated)]),
        Outcome::Wait {
            provider: 0,
            unknown_kid: true
        }
    );
}

#[test]
fn revocation_and_cache() {
    let mut c = standard();
    c.providers[0].jwt_cache_size = 10;
    let mut env = Fake::new(&c);
    let t = bearer(&token(Algorithm::ES256, &claims()));
    allowed(run(&c, &env, "/orders", &[("authorization", &t)]));
    assert_eq!(env.cache.borrow().len(), 1);
    // Served from the cache even with no keys.
    env.keys[0] = None;
    allowed(run(&c, &env, "/orders", &[("authorization", &t)]));
    // Revocation applies to cached tokens too.
    env.revoked = Some(vec!["t-1".into()]);
    assert_eq!(
        denied(run(&c, &env, "/orders", &[("authorization", &t)])),
        Error::Revoked
    );
    env.revoked = None;
    assert_eq!(
        denied(run(&c, &env, "/orders", &[("authorization", &t)])).code(),
        "jwks_unavailable"
    );
}

#[test]
fn cors_preflight_bypass() {
    let (c, env) = (standard(), Fake::new(&standard()));
    let headers = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
    ];
    let outcome = decide(
        &c,
        &env,
        &Request {
            method: "OPTIONS",
            path: "/orders",
            headers: &headers,
            route: None,
        },
    );
    allowed(outcome);
    let outcome = decide(
        &c,
        &env,
        &Request {
            method: "OPTIONS",
            path: "/orders",
            headers: &headers[..1],
            route: None,
        },
    );
    assert_eq!(denied(outcome), Error::MissingToken);
    // As jwt_authn's isCorsPreflightRequest: the method exactly `OPTIONS`, and both headers
    // non-empty. A lower-case method or an empty header is an ordinary request, which needs
    // its token (tests/envoy_parity.rs holds both filters to it).
    for (method, origin, acrm) in [
        ("options", "https://app.example", "POST"),
        ("Options", "https://app.example", "POST"),
        ("OPTIONS", "", "POST"),
        ("OPTIONS", "https://app.example", ""),
    ] {
        let outcome = decide(
            &c,
            &env,
            &Request {
                method,
                path: "/orders",
                headers: &[("origin", origin), ("access-control-request-method", acrm)],
                route: None,
            },
        );
        assert_eq!(
            denied(outcome),
            Error::MissingToken,
            "{method} origin={origin:?} acrm={acrm:?}"
        );
    }
}

#[test]
fn jwt_cache_is_bounded_and_honours_exp() {
    use jwtgate::envoy::JwtCache;
    let v = verifier();
    let claims_of = |exp: u64| {
        let t = token(Algorithm::ES256, &claims_with(json!({"exp": exp})));
        Rc::new(v.verify_at(&t, NOW).unwrap().into_claims())
    };
    let mut cache = JwtCache::new(2, 60);
    cache.put("a", claims_of(NOW + 100));
    cache.put("b", claims_of(NOW + 100));
    assert!(cache.get("a", NOW).is_some());
    cache.put("c", claims_of(NOW + 100));
    assert_eq!(cache.len(), 2);
    assert!(
        cache.get("b", NOW).is_none(),
        "the least recently used entry goes first"
    );
    assert!(cache.get("a", NOW).is_some() && cache.get("c", NOW).is_some());
    // Never past exp (plus skew): the entry is dropped, not served.
    assert!(cache.get("a", NOW + 159).is_some());
    assert!(cache.get("a", NOW + 160).is_none());
    assert_eq!(cache.len(), 1);
    cache.clear();
    assert!(cache.is_empty());
    let mut off = JwtCache::new(0, 60);
    off.put("a", claims_of(NOW + 100));
    assert!(off.is_empty());
}

#[test]
fn jwt_cache_serves_only_the_same_whole_token() {
    use jwtgate::envoy::JwtCache;
    let v = verifier();
    let t = token(Algorithm::ES256, &claims());
    let claims = Rc::new(v.verify_at(&t, NOW).unwrap().into_claims());
    let mut cache = JwtCache::new(100, 60);
    // The table places a token by its length and its end: these share a place, and differ
    // anywhere else, a byte at a time, in each of the eight-byte words compared.
    cache.put(&t, claims.clone());
    for at in 0..t.len() - 16 {
        let mut other = t.clone().into_bytes();
        other[at] = if other[at] == b'A' { b'B' } else { b'A' };
        let other = String::from_utf8(other).unwrap();
        assert!(cache.get(&other, NOW).is_none(), "byte {at}");
    }
    assert!(cache.get(&format!("{t}A"), NOW).is_none());
    assert!(cache.get(&t[..t.len() - 1], NOW).is_none());
    assert!(Rc::ptr_eq(&cache.get(&t, NOW).unwrap(), &claims));
    // Another token in the same place takes it: the first is then a miss, never the other's.
    let mut twin = t.clone().into_bytes();
    twin[0] = b'X';
    let twin = String::from_utf8(twin).unwrap();
    let twin_claims = Rc::new(v.verify_at(&t, NOW).unwrap().into_claims());
    cache.put(&twin, twin_claims.clone());
    assert_eq!(cache.len(), 1);
    assert!(cache.get(&t, NOW).is_none());
    assert!(Rc::ptr_eq(&cache.get(&twin, NOW).unwrap(), &twin_claims));
}

#[test]
fn jwt_cache_never_serves_before_nbf_and_stays_bounded_under_a_flood() {
    use jwtgate::envoy::JwtCache;
    let v = verifier();
    let mut cache = JwtCache::new(100, 60);
    // Verified with the clock ahead; served only while `now` is past nbf - skew, as the
    // verifier would decide (the clock stepping back must not open a window).
    let early = token(Algorithm::ES256, &claims_with(json!({"nbf": NOW + 10})));
    cache.put(
        &early,
        Rc::new(v.verify_at(&early, NOW + 10).unwrap().into_claims()),
    );
    assert!(cache.get(&early, NOW + 10).is_some());
    assert!(cache.get(&early, NOW - 50).is_some());
    assert!(cache.get(&early, NOW - 51).is_none());
    assert_eq!(cache.len(), 1, "a token not yet valid stays for later");
    // Ten thousand distinct verified tokens: the cache never holds more than its bound, and
    // the most recent ones are what it holds.
    let claims = Rc::new(v.verify_at(&early, NOW + 10).unwrap().into_claims());
    for i in 0..10_000 {
        cache.put(&format!("token-{i}"), claims.clone());
        assert!(cache.len() <= 100);
    }
    assert_eq!(cache.len(), 100);
    assert!(cache.get("token-9999", NOW).is_some() && cache.get("token-9899", NOW).is_none());
}

#[test]
fn an_unknown_kid_is_looked_up_in_the_shared_copy_before_a_refetch() {
    // This worker holds only the P-256 key; another worker already fetched the rotated set.
    let c = standard();
    let mut env = Fake::new(&c);
    let only_p256 = json!({"keys": [p256_jwk()]}).to_string();
    env.keys[0] = Some(Rc::new(Verifier::new(
        JwkSet::from_json(only_p256.as_bytes()).unwrap(),
        c.providers[0].policy.clone(),
    )));
    let t = bearer(&token(Algorithm::EdDSA, &claims()));
    assert_eq!(
        denied(run(&c, &env, "/orders", &[("authorization", &t)])),
        Error::UnknownKey
    );
    *env.shared.borrow_mut() = Some(Rc::new(Verifier::new(
        JwkSet::from_json(jwks().as_bytes()).unwrap(),
        c.providers[0].policy.clone(),
    )));
    allowed(run(&c, &env, "/orders", &[("authorization", &t)]));
}

fn forged() -> String {
    // A valid token's header and payload, with another signature.
    let t = token(Algorithm::ES256, &claims_with(json!({"sub": "root"})));
    let (head, _) = t.rsplit_once('.').unwrap();
    format!("{head}.AAAA")
}

#[test]
fn every_token_found_must_verify() {
    let c = config(json!({
        "providers": {"p": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-jwt"}],
                                           "from_params": ["access_token"], "from_cookies": ["jwt"]}))},
        "rules": [
            {"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/lenient"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}
        ]
    }));
    let env = Fake::new(&c);
    let good = token(Algorithm::ES256, &claims());
    let bad = forged();
    let (g, b) = (bearer(&good), bearer(&bad));
    let x_bearer_bad = format!("x Bearer {bad}");
    let good_junk = format!("{good} junk");
    let g_junk = format!("Bearer {good} junk");
    let g_comma = format!("Bearer {good},Bearer {good}");
    let half_quoted = format!("jwt=\"{good}");
    // (query, headers, the code refused with)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        // Two configured headers, one forged; the same header twice.
        (
            String::new(),
            vec![("authorization", &g), ("x-jwt", &bad)],
            "invalid_signature",
        ),
        (
            String::new(),
            vec![("authorization", &g), ("authorization", &b)],
            "invalid_signature",
        ),
        // A header and a parameter; a parameter given twice; garbage in a cookie.
        (
            format!("?access_token={bad}"),
            vec![("authorization", &g)],
            "invalid_signature",
        ),
        (
            format!("?access_token={good}&access_token=garbage"),
            vec![],
            "malformed",
        ),
        (
            String::new(),
            vec![("authorization", &g), ("cookie", "a=1; jwt=garbage")],
            "malformed",
        ),
        // The prefix anywhere in the value is a token, as jwt_authn finds it; so is an empty one.
        (
            String::new(),
            vec![("authorization", &g), ("authorization", &x_bearer_bad)],
            "invalid_signature",
        ),
        (
            String::new(),
            vec![("authorization", "Bearer !!!")],
            "malformed",
        ),
        // After the prefix, the rest of the value is the token, as jwt_authn 1.40 takes it:
        // junk after a good token, or two header lines Envoy joined with a comma, fail.
        (String::new(), vec![("authorization", &g_junk)], "malformed"),
        (
            String::new(),
            vec![("authorization", &g_comma)],
            "malformed",
        ),
        // Without a prefix the whole value is the token.
        (String::new(), vec![("x-jwt", &good_junk)], "malformed"),
        // One pair of quotes around a cookie is not part of it; a lone quote is.
        (String::new(), vec![("cookie", &half_quoted)], "malformed"),
    ];
    let other = token(Algorithm::EdDSA, &claims());
    for path in ["/", "/optional"] {
        for (query, headers, code) in &cases {
            let at = format!("{path}{query}");
            assert_eq!(
                denied(run(&c, &env, &at, headers)).code(),
                *code,
                "{at} {headers:?}"
            );
        }
        // Two good tokens pass.
        allowed(run(
            &c,
            &env,
            path,
            &[("authorization", &g), ("x-jwt", &other)],
        ));
    }
    // allow_missing_or_failed lets anything through, and forwards only what verified.
    let ops = allowed(run(
        &c,
        &env,
        "/lenient",
        &[("authorization", &bearer(&good)), ("x-jwt", &bad)],
    ));
    assert_eq!(set(&ops, "x-sub").as_deref(), Some("alice"));
}

#[test]
fn requires_any_with_a_forged_extra_token_is_refused() {
    // jwt_authn stops at the first provider that passes and never looks at the other's
    // location; jwtgate verifies every token of the providers named (stricter, documented).
    let c = standard();
    let env = Fake::new(&c);
    let good = bearer(&token(Algorithm::ES256, &claims()));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/either",
            &[("authorization", &good), ("x-other", &forged())]
        ))
        .code(),
        "invalid_issuer"
    );
    let other = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://other.example", "sub": "bob"})),
    );
    let ops = allowed(run(
        &c,
        &env,
        "/either",
        &[("authorization", &good), ("x-other", &other)],
    ));
    assert_eq!(
        set(&ops, "x-sub").as_deref(),
        Some("bob"),
        "the first requirement that passes forwards"
    );
}

#[test]
fn forward_false_strips_the_token_wherever_it_was() {
    let c = config(json!({
        "providers": {
            "p": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                                 "from_params": ["access_token"], "from_cookies": ["jwt"]})),
            "kept": provider(json!({"issuer": "https://kept.example", "from_params": ["keep"], "forward": true}))
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "p"}, {"provider_name": "kept"}]}}}]
    }));
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    let path_after = |ops: &[HeaderOp]| set(ops, ":path");
    let ops = allowed(run(
        &c,
        &env,
        &format!("/a/b?x=1&access_token={t}&y=%20&access_token={t}#f"),
        &[],
    ));
    assert_eq!(path_after(&ops).as_deref(), Some("/a/b?x=1&y=%20#f"));
    let ops = allowed(run(&c, &env, &format!("/a?access_token={t}"), &[]));
    assert_eq!(
        path_after(&ops).as_deref(),
        Some("/a"),
        "an emptied query loses its ?"
    );
    let ops = allowed(run(
        &c,
        &env,
        "/a?x=1",
        &[("cookie", &format!("a=1; jwt={t}")), ("cookie", "b=2")],
    ));
    assert!(removed(&ops, "cookie"));
    assert_eq!(set(&ops, "cookie").as_deref(), Some("a=1; b=2"));
    assert_eq!(path_after(&ops), None, "nothing to strip from the path");
    // A provider with forward: true keeps its parameter.
    let kept = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://kept.example"})),
    );
    let ops = allowed(run(&c, &env, &format!("/a?keep={kept}"), &[]));
    assert_eq!(path_after(&ops), None);
}

#[test]
fn requires_claims_compares_whole_values_except_space_delimited_claims() {
    let c = config(json!({
        "providers": {"p": provider(json!({"normalize_payload_in_metadata": {"space_delimited_claims": ["roles"]}}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"},
                   "requires_claims": {"preferred_username": "admin", "scp": "write", "roles": "ops"}}]
    }));
    let env = Fake::new(&c);
    let with = |extra: Value| bearer(&token(Algorithm::ES256, &claims_with(extra)));
    allowed(run(
        &c,
        &env,
        "/",
        &[(
            "authorization",
            &with(json!({"preferred_username": "admin", "scp": "read write", "roles": "dev ops"})),
        )],
    ));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/",
            &[(
                "authorization",
                &with(json!({"preferred_username": "eve admin", "scp": "write", "roles": "ops"}))
            )]
        )),
        Error::InsufficientClaims("preferred_username".into())
    );
    // Arrays hold values whole, never split.
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/",
            &[(
                "authorization",
                &with(
                    json!({"preferred_username": "admin", "scp": ["read write"], "roles": "ops"})
                )
            )]
        )),
        Error::InsufficientClaims("scp".into())
    );
    assert!(jwtgate::claim_holds(
        &json!(["a", "b"]),
        &[json!("b")],
        false
    ));
    assert!(!jwtgate::claim_holds(&json!("a b"), &[json!("b")], false));
    assert!(jwtgate::claim_holds(&json!("a b"), &[json!("b")], true));
    assert!(!jwtgate::claim_holds(&json!("1"), &[json!(1)], true));
}

#[test]
fn the_provider_is_picked_by_issuer_before_any_key_is_looked_at() {
    let c = standard();
    let mut env = Fake::new(&c);
    // "main" (index 0) has no keys yet: looking at them would mean waiting for a fetch.
    env.keys[0] = None;
    let other = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://other.example"})),
    );
    let ops = allowed(run(&c, &env, "/either", &[("x-other", &other)]));
    assert!(!removed(&ops, "authorization"));
    // A token of another issuer in main's own place is refused without a wait.
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/orders",
            &[("authorization", &bearer(&other))]
        )),
        Error::InvalidIssuer
    );
    // Under allow_missing too.
    let unknown = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://nobody.example"})),
    );
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/optional",
            &[("authorization", &bearer(&unknown))]
        )),
        Error::InvalidIssuer
    );
    // main's own token does wait.
    let mine = bearer(&token(Algorithm::ES256, &claims()));
    assert!(matches!(
        run(&c, &env, "/orders", &[("authorization", &mine)]),
        Outcome::Wait { provider: 0, .. }
    ));
}

#[test]
fn subjects_audiences_and_provider_and_audiences() {
    let c = config(json!({
        "providers": {"p": provider(json!({"subjects": {"prefix": "spiffe://a/"}, "audiences": ["https://api.example/"]}))},
        "rules": [
            {"match": {"prefix": "/other"}, "requires": {"provider_and_audiences": {"provider_name": "p", "audiences": ["other"]}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}
        ]
    }));
    let env = Fake::new(&c);
    let with = |extra: Value| bearer(&token(Algorithm::ES256, &claims_with(extra)));
    // jwt_authn ignores an http(s) scheme and a trailing slash on both sides.
    for aud in [
        "api.example",
        "http://api.example",
        "https://api.example/",
        "api.example/",
    ] {
        allowed(run(
            &c,
            &env,
            "/",
            &[(
                "authorization",
                &with(json!({"aud": aud, "sub": "spiffe://a/x"})),
            )],
        ));
    }
    for aud in [
        "api.example//",
        "ftp://api.example",
        "https://api.example/x",
        "API.example",
    ] {
        assert_eq!(
            denied(run(
                &c,
                &env,
                "/",
                &[(
                    "authorization",
                    &with(json!({"aud": aud, "sub": "spiffe://a/x"}))
                )]
            )),
            Error::InvalidAudience,
            "{aud}"
        );
    }
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/",
            &[(
                "authorization",
                &with(json!({"aud": "api.example", "sub": "spiffe://b/x"}))
            )]
        )),
        Error::InvalidClaim("sub".into())
    );
    allowed(run(
        &c,
        &env,
        "/other",
        &[(
            "authorization",
            &with(json!({"aud": "other", "sub": "spiffe://a/x"})),
        )],
    ));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/other",
            &[(
                "authorization",
                &with(json!({"aud": "api.example", "sub": "spiffe://a/x"}))
            )]
        )),
        Error::InvalidAudience
    );
}

#[test]
fn claim_headers_ask_for_a_new_route_when_configured() {
    let c = config(json!({
        "providers": {"p": provider(json!({"clear_route_cache": true}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    let ops = allowed(run(
        &c,
        &env,
        "/",
        &[(
            "authorization",
            &bearer(&token(Algorithm::ES256, &claims())),
        )],
    ));
    assert_eq!(ops.last(), Some(&HeaderOp::ClearRouteCache));
    let ops = allowed(run(
        &standard(),
        &Fake::new(&standard()),
        "/orders",
        &[(
            "authorization",
            &bearer(&token(Algorithm::ES256, &claims())),
        )],
    ));
    assert!(!ops.contains(&HeaderOp::ClearRouteCache));
}

#[test]
fn an_empty_forward_payload_header_is_none() {
    // proto3: "" is the field left out, as jwt_authn reads it (`if (!...empty())`). Read as a
    // name, it sent the upstream a header with no name holding the payload
    // (tests/envoy_parity.rs: "forward_payload_header empty").
    let c = config(json!({
        "providers": {"p": provider(json!({"forward_payload_header": ""}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    let t = bearer(&token(Algorithm::ES256, &claims()));
    let ops = allowed(run(&c, &env, "/", &[("authorization", &t)]));
    assert!(
        !ops.iter().any(|op| matches!(op,
            HeaderOp::Remove(n) | HeaderOp::Set(n, _) | HeaderOp::Add(n, _) if n.is_empty())),
        "{ops:?}"
    );
    assert_eq!(set(&ops, "x-sub").as_deref(), Some("alice"));
}

#[test]
fn claim_headers_as_jwt_authn_writes_them() {
    let c = config(json!({
        "providers": {"p": provider(json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-token"}],
            "claim_to_headers": [{"header_name": "x-v", "claim_name": "v"}, {"header_name": "x-sub", "claim_name": "sub"},
                                 {"header_name": "x-dotted", "claim_name": "dotted.name"},
                                 {"header_name": "x-literal", "claim_path": [{"key": "dotted.name"}]},
                                 {"header_name": "x-deep", "claim_path": [{"key": "o"}, {"key": "a.b"}]}]}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    let header = |v: Value| {
        let t = token(
            Algorithm::ES256,
            &claims_with(json!({"v": v, "dotted.name": "flat", "o": {"a.b": "deep"}})),
        );
        let ops = allowed(run(&c, &env, "/", &[("authorization", &bearer(&t))]));
        assert_eq!(set(&ops, "x-dotted"), None, "a dotted name is a path only");
        // claim_path takes each key as it is.
        assert_eq!(set(&ops, "x-literal").as_deref(), Some("flat"));
        assert_eq!(set(&ops, "x-deep").as_deref(), Some("deep"));
        set(&ops, "x-v")
    };
    assert_eq!(header(json!(42)).as_deref(), Some("42"));
    assert_eq!(header(json!(1.5)).as_deref(), Some("1.500000"));
    assert_eq!(header(json!(-7)).as_deref(), Some("-7.000000"));
    assert_eq!(
        header(json!(12345678901234567u64)).as_deref(),
        Some("12345678901234568")
    );
    assert_eq!(header(json!(true)).as_deref(), Some("true"));
    assert_eq!(header(json!("")), None);
    assert_eq!(header(json!(["a", "b"])).as_deref(), Some("WyJhIiwiYiJd"));
    assert_eq!(header(json!({"a": 1})).as_deref(), Some("eyJhIjoxfQ=="));
    // One value per verified token, in jwt_authn's order: the last extracted first.
    let alice = token(Algorithm::ES256, &claims());
    let bob = token(Algorithm::EdDSA, &claims_with(json!({"sub": "bob"})));
    let ops = allowed(run(
        &c,
        &env,
        "/",
        &[("authorization", &bearer(&alice)), ("x-token", &bob)],
    ));
    assert_eq!(added(&ops, "x-sub"), vec!["bob", "alice"]);
}

#[test]
fn the_route_can_choose_the_requirement() {
    use jwtgate::envoy::request::RouteChoice;
    let c = config(json!({
        "providers": {"p": provider(json!({})), "q": provider(json!({"issuer": "https://q.example", "from_headers": [{"name": "x-q"}]}))},
        "requirement_map": {"q_only": {"provider_name": "q"}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    let p = bearer(&token(Algorithm::ES256, &claims()));
    let q = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://q.example"})),
    );
    let headers = [("x-q", q.as_str())];
    let go = |route: Option<&RouteChoice>, headers: &[(&str, &str)]| {
        decide(
            &c,
            &env,
            &Request {
                method: "GET",
                path: "/",
                headers,
                route,
            },
        )
    };
    let only_p = [("authorization", p.as_str())];
    allowed(go(None, &only_p));
    assert_eq!(denied(go(None, &headers)), Error::MissingToken);
    let q_only = RouteChoice::Requirement("q_only".into());
    allowed(go(Some(&q_only), &headers));
    assert_eq!(denied(go(Some(&q_only), &only_p)), Error::MissingToken);
    allowed(go(Some(&RouteChoice::Disabled), &[]));
    let unknown = RouteChoice::Requirement("nope".into());
    assert_eq!(
        denied(go(Some(&unknown), &only_p)).http_response("r").0,
        403
    );
}

#[test]
fn odd_requests_never_panic_and_never_pass_without_a_good_token() {
    let c = config(json!({
        "providers": {"p": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-jwt"}],
                                           "from_params": ["access_token", "t"], "from_cookies": ["jwt"]}))},
        "rules": [{"match": {"safe_regex": {"regex": "/open/[a-z]+"}}},
                  {"match": {"prefix": "/", "headers": [{"name": "x-a", "present_match": true}]}, "requires": {"allow_missing": {}}},
                  {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    let good = token(Algorithm::ES256, &claims());
    let pieces = [
        "",
        "?",
        "??",
        "&",
        "=",
        "%",
        "%2",
        "%zz",
        "%E9",
        "é",
        "#",
        "access_token",
        "access_token=",
        "t=%41",
        ";",
        "\"",
        " ",
        "Bearer",
        "Bearer ",
        "bEARER ",
        "..",
        "a.b.c",
        "\u{7f}",
    ];
    let mut passed = Vec::new();
    for a in pieces {
        for b in pieces {
            let path = format!("/x?{a}{b}");
            let value = format!("{a}{b}");
            for headers in [
                vec![("authorization", value.as_str())],
                vec![("x-jwt", value.as_str())],
                vec![("cookie", value.as_str())],
                vec![],
            ] {
                if let Outcome::Allow(_) = run(&c, &env, &path, &headers) {
                    passed.push(format!("{path} {headers:?}"));
                }
            }
            let open = format!("/open/{a}{b}");
            let _ = run(&c, &env, &open, &[("x-a", "1"), ("authorization", &value)]);
        }
    }
    // Nothing above carried a valid token, so nothing passed.
    assert!(passed.is_empty(), "{passed:?}");
    allowed(run(&c, &env, &format!("/x?t={good}"), &[]));
}

#[test]
fn jwt_max_token_size_bounds_only_what_is_cached() {
    let c = config(json!({
        "providers": {"p": provider(json!({"jwt_cache_config": {"jwt_cache_size": 0, "jwt_max_token_size": 100}}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    assert_eq!(
        c.providers[0].jwt_cache_size, 100,
        "0 means jwt_authn's default"
    );
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    assert!(t.len() > 100);
    // Longer than jwt_max_token_size: verified as any other, as in jwt_authn, just not cached.
    allowed(run(&c, &env, "/", &[("authorization", &bearer(&t))]));
    assert!(env.cache.borrow().is_empty());
    let c = config(json!({
        "providers": {"p": provider(json!({"jwt_cache_config": {}}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    }));
    let env = Fake::new(&c);
    allowed(run(&c, &env, "/", &[("authorization", &bearer(&t))]));
    assert_eq!(env.cache.borrow().len(), 1);
}

/// `requires_all [allow_missing_or_failed, allow_missing]` where two providers name the token's
/// issuer and jwt_authn takes one of them, in its hash map's order: whether the first part takes
/// the token out depends on that pick (one refuses it, the other takes it), so the rest is
/// judged both ways, and left in, `allow_missing` refuses it. With one provider for the issuer,
/// the first part takes it out as jwt_authn does, and `allow_missing` finds no token. And
/// where the pick decides whether a later provider finds its token, it finds none.
#[test]
fn a_token_two_providers_could_take_is_judged_both_taken_and_left() {
    let all = json!([{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
        {"allow_missing_or_failed": {}}, {"allow_missing": {}}]}}}]);
    let two = config(json!({"providers": {
            "fa": provider(json!({"from_headers": [{"name": "x-jwt"}]})),
            "only-bob": provider(json!({"from_headers": [{"name": "x-token"}],
                                        "subjects": {"exact": "bob"}}))},
        "rules": all}));
    let alice = token(Algorithm::RS256, &claims());
    let env = Fake::new(&two);
    assert_eq!(
        denied(run(&two, &env, "/", &[("x-jwt", &alice)])),
        Error::InvalidClaim("sub".into())
    );
    let one = config(json!({"providers": {
            "fa": provider(json!({"from_headers": [{"name": "x-jwt"}]}))},
        "rules": all}));
    let env = Fake::new(&one);
    let ops = allowed(run(&one, &env, "/", &[("x-jwt", &alice)]));
    assert!(removed(&ops, "x-jwt"));
    // What allow_missing leaves, a later provider that does not forward takes out.
    let later = config(json!({"providers": {
            "keeps": provider(json!({"forward": true})), "takes": provider(json!({}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
            {"allow_missing": {}}, {"requires_all": {"requirements": [
                {"provider_name": "keeps"}, {"provider_name": "takes"}, {"provider_name": "takes"}]}}]}}}]}));
    let env = Fake::new(&later);
    assert_eq!(
        denied(run(
            &later,
            &env,
            "/",
            &[("authorization", &bearer(&alice))]
        )),
        Error::MissingToken
    );
}

/// A value holding a prefix in another case is passed over as another location's token only
/// where that location's token is looked at too. Providers (forwarding their tokens) reading
/// `Bearer ` and `bearer ` of `Authorization`: a requirement that reads only `bearer ` and
/// lets a missing token through must not let a forged `Bearer <token>` reach the upstream
/// unverified (it refused it before the case exception, with 401); nor may the prefix of
/// another location (`Tok `) later in the value excuse a `bearer <forged>` in front of it.
#[test]
fn a_prefix_in_another_case_is_excused_only_where_its_own_location_is_read() {
    let rules = json!([
        {"match": {"prefix": "/lower-or-none"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "lower"}, {"allow_missing": {}}]}}},
        {"match": {"prefix": "/either"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "lower"}, {"provider_name": "upper"}]}}},
        {"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}}]);
    let c = config(json!({"providers": {
            "upper": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}], "forward": true})),
            "lower": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "bearer "}], "forward": true}))},
        "rules": rules}));
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/lower-or-none",
            &[("authorization", &bearer(&forged()))]
        ))
        .code(),
        "malformed"
    );
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/lower-or-none",
            &[("authorization", &bearer(&t))]
        ))
        .code(),
        "malformed"
    );
    // Where the `Bearer ` location is read as well, its token is verified there: as jwt_authn.
    allowed(run(&c, &env, "/either", &[("authorization", &bearer(&t))]));
    allowed(run(
        &c,
        &env,
        "/optional",
        &[("authorization", &bearer(&t))],
    ));
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/optional",
            &[("authorization", &bearer(&forged()))]
        )),
        Error::InvalidSignature
    );

    let c = config(json!({"providers": {
            "upper": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}], "forward": true})),
            "tok": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Tok "}], "forward": true}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"allow_missing": {}}}]}));
    let env = Fake::new(&c);
    let value = format!("bearer {} Tok {t}", forged());
    assert_eq!(
        denied(run(&c, &env, "/optional", &[("authorization", &value)])).code(),
        "malformed"
    );
}

/// Only the whitespace Envoy's codec strips around a header value (spaces, tabs), and that
/// jwt_authn's base64 decoder passes over after a cookie's token, is not part of a token:
/// other Unicode whitespace (a no-break space, an ideographic space) is, and the token fails,
/// as in jwt_authn, which refuses it. Trimming it would let through what jwt_authn refuses.
#[test]
fn only_ascii_spaces_and_tabs_around_a_token_are_passed_over() {
    let c = config(json!({"providers": {"p": provider(json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-jwt"}],
            "from_cookies": ["session"]}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}));
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    for space in ["\u{a0}", "\u{3000}", "\u{2009}", "\u{85}"] {
        for (name, value) in [
            ("authorization", format!("Bearer {t}{space}")),
            ("x-jwt", format!("{t}{space}")),
            ("x-jwt", format!("{space}{t}")),
            ("cookie", format!("session={t}{space}; b=2")),
            ("cookie", format!("session={t}{space}")),
        ] {
            assert_eq!(
                denied(run(&c, &env, "/", &[(name, &value)])).code(),
                "malformed",
                "{name}: {value:?}"
            );
        }
    }
    for (name, value) in [
        ("authorization", format!("Bearer {t} \t")),
        ("x-jwt", format!(" \t{t}\t ")),
        ("cookie", format!("session={t} \t; b=2")),
    ] {
        allowed(run(&c, &env, "/", &[(name, &value)]));
    }
}

/// `Bearer` and a tab before the token is no `Bearer ` prefix: jwt_authn finds no token there,
/// and neither does jwtgate (nor, since RFC 7235 separates a scheme by spaces, `authenticate`
/// in the npm package: tests/node/authenticate.test.mjs).
#[test]
fn a_tab_after_bearer_is_no_prefix() {
    let c = config(json!({"providers": {"p": provider(json!({}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}));
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    let value = format!("Bearer\t{t}");
    assert_eq!(
        denied(run(&c, &env, "/", &[("authorization", &value)])),
        Error::MissingToken
    );
}

/// A `requires_all` part that verifies a token with a provider that does not forward it takes
/// out what jwt_authn's authenticator removes: the whole header, every line of it whatever its
/// prefix, and the whole parameter when its first value (the one jwt_authn reads) verified.
/// A later part finds no token there, and so is not met by another token that was there:
/// jwtgate let through (200) what jwt_authn refuses. One that did not verify must still
/// verify where a later part looks (stricter than jwt_authn, which removed it unread).
#[test]
fn requires_all_takes_out_the_whole_header_and_parameter_as_jwt_authn() {
    let lines = config(json!({"providers": {
            "a": provider(json!({"from_headers": [{"name": "x-jwt", "value_prefix": "A "}]})),
            "c": provider(json!({"from_headers": [{"name": "x-jwt", "value_prefix": "C "}], "forward": true}))},
        "rules": [
            {"match": {"prefix": "/a-missing"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/a-c-or-none"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"},
                {"requires_any": {"requirements": [{"provider_name": "c"}, {"allow_missing": {}}]}}]}}},
            {"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "c"}]}}}]}));
    let env = Fake::new(&lines);
    let t = token(Algorithm::ES256, &claims());
    let (a, c) = (format!("A {t}"), format!("C {t}"));
    assert_eq!(
        denied(run(&lines, &env, "/", &[("x-jwt", &a), ("x-jwt", &c)])),
        Error::MissingToken
    );
    let ops = allowed(run(
        &lines,
        &env,
        "/a-missing",
        &[("x-jwt", &a), ("x-jwt", &c)],
    ));
    assert!(removed(&ops, "x-jwt"));
    assert_eq!(
        added(&ops, "x-sub"),
        ["alice"],
        "the claims of a's token only"
    );
    let forged_c = format!("C {}", forged());
    assert_eq!(
        denied(run(
            &lines,
            &env,
            "/a-missing",
            &[("x-jwt", &a), ("x-jwt", &forged_c)]
        )),
        Error::InvalidSignature
    );
    // A provider that finds only a ghost judges it before it finds no token.
    allowed(run(
        &lines,
        &env,
        "/a-c-or-none",
        &[("x-jwt", &a), ("x-jwt", &c)],
    ));
    assert_eq!(
        denied(run(
            &lines,
            &env,
            "/a-c-or-none",
            &[("x-jwt", &a), ("x-jwt", &forged_c)]
        )),
        Error::InvalidSignature
    );

    let param = config(
        json!({"providers": {"a": provider(json!({"from_params": ["t"]}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
            {"allow_missing_or_failed": {}},
            {"provider_and_audiences": {"provider_name": "a", "audiences": ["other"]}}]}}}]}),
    );
    let env = Fake::new(&param);
    let other = token(Algorithm::ES256, &claims_with(json!({"aud": "other"})));
    assert_eq!(
        denied(run(&param, &env, &format!("/?t={t}&t={other}"), &[])),
        Error::MissingToken
    );
    // Its first value failed: jwt_authn took nothing out, and the next part reads it.
    allowed(run(&param, &env, &format!("/?t={other}&t={t}"), &[]));
}

/// A value holding the prefix in another case before the prefix as it is is refused: jwt_authn
/// verifies only the token after `Bearer `, and lets the request through with the token after
/// `bearer ` in front of it, which an upstream reading the scheme in any case (RFC 7235) takes
/// for the bearer token. Two `Authorization` lines, which Envoy joins with `,`, the same.
#[test]
fn a_prefix_in_another_case_before_the_prefix_is_refused() {
    let c = config(json!({"providers": {"p": provider(json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}], "forward": true}))},
        "rules": [{"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}},
                  {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}));
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    for path in ["/", "/optional"] {
        for value in [
            format!("bearer {} Bearer {t}", forged()),
            format!("bearer {},Bearer {t}", forged()),
            format!("BEARER x, Bearer {t}"),
        ] {
            assert_eq!(
                denied(run(&c, &env, path, &[("authorization", &value)])).code(),
                "malformed",
                "{path}: {value}"
            );
        }
        // Another scheme before it is not a bearer token: as jwt_authn.
        allowed(run(
            &c,
            &env,
            path,
            &[("authorization", &format!("Basic eA==, Bearer {t}"))],
        ));
    }
}

/// Only a parameter's first value, the one jwt_authn reads, takes the parameter out: where a
/// later value verified, the first stays as it was, and a later part judges it. A first value
/// of an unknown issuer is refused under `requires_any` of its provider and `allow_missing`,
/// as jwt_authn refuses it (an unknown issuer is not a missing token).
#[test]
fn a_later_value_that_verified_leaves_the_first_in_place() {
    let c = config(
        json!({"providers": {"a": provider(json!({"from_params": ["t"]}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
            {"allow_missing_or_failed": {}},
            {"requires_any": {"requirements": [{"provider_name": "a"}, {"allow_missing": {}}]}}]}}}]}),
    );
    let env = Fake::new(&c);
    let t = token(Algorithm::ES256, &claims());
    let unknown = token(
        Algorithm::ES256,
        &claims_with(json!({"iss": "https://unknown.example"})),
    );
    assert_eq!(
        denied(run(&c, &env, &format!("/?t={unknown}&t={t}"), &[])),
        Error::InvalidIssuer
    );
    // The first verified: the parameter leaves, and the unknown one with it (unread by
    // jwt_authn) is still judged.
    assert_eq!(
        denied(run(&c, &env, &format!("/?t={t}&t={unknown}"), &[])),
        Error::InvalidIssuer
    );
    allowed(run(&c, &env, &format!("/?t={t}"), &[]));
}

#[test]
fn requires_claims_are_met_by_one_token_not_pieced_together_from_several() {
    let c = config(json!({
        "providers": {
            "main": provider(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-also"}]})),
            "other": provider(json!({"issuer": "https://other.example", "from_headers": [{"name": "x-other"}]}))
        },
        "rules": [
            {"match": {"prefix": "/both"}, "requires": {"requires_all": {"requirements": [{"provider_name": "main"}, {"provider_name": "other"}]}},
             "requires_claims": {"sub": "alice", "role": "admin"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}, "requires_claims": {"sub": "alice", "role": "admin"}}
        ]
    }));
    let env = Fake::new(&c);
    let main = |extra: Value| token(Algorithm::ES256, &claims_with(extra));
    let other = |extra: Value| {
        let mut claims = claims_with(extra);
        claims["iss"] = json!("https://other.example");
        token(Algorithm::ES256, &claims)
    };
    let alice_user = main(json!({"sub": "alice", "role": "user"}));
    let bob_admin = main(json!({"sub": "bob", "role": "admin"}));
    let alice_admin = main(json!({"sub": "alice", "role": "admin"}));
    // Two tokens of one provider, each holding half of the rule: the answer names what the
    // first token found misses.
    assert!(matches!(
        denied(run(
            &c,
            &env,
            "/",
            &[
                ("authorization", &bearer(&alice_user)),
                ("x-also", &bob_admin)
            ]
        )),
        Error::InsufficientClaims(_)
    ));
    // Two providers' tokens under requires_all, each holding half of the rule.
    assert_eq!(
        denied(run(
            &c,
            &env,
            "/both",
            &[
                ("authorization", &bearer(&alice_user)),
                ("x-other", &other(json!({"sub": "bob", "role": "admin"})))
            ]
        )),
        Error::InsufficientClaims("role".into())
    );
    // One token holding all of it is enough, whichever place it is in.
    allowed(run(
        &c,
        &env,
        "/",
        &[
            ("authorization", &bearer(&bob_admin)),
            ("x-also", &alice_admin),
        ],
    ));
    allowed(run(
        &c,
        &env,
        "/both",
        &[
            ("authorization", &bearer(&alice_user)),
            ("x-other", &other(json!({"sub": "alice", "role": "admin"}))),
        ],
    ));
}
