//! The Istio example (`examples/envoy/istio/`) in real Envoy: jwtgate with the example's own
//! `pluginConfig`, followed by the RBAC filters Istio makes of the example's two
//! `AuthorizationPolicy`s (DENY first, then ALLOW, as Istio orders them), conditions on the
//! headers jwtgate sets from verified claims. What it shows: a client cannot put those headers
//! on a request itself, with or without a token, so the policies decide on verified claims only.
#![cfg(feature = "envoy")]

mod common;

use common::envoy::{jwtgate_filter, Envoy, Listener};
use common::http::{echo, get, Resp};
use common::*;
use jwtgate::Algorithm;
use serde_json::{json, Value};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/envoy/istio/");
const IDP: &str = "https://idp.example.com/";

fn example(file: &str) -> String {
    std::fs::read_to_string(format!("{EXAMPLE}{file}")).unwrap()
}

/// The example's `pluginConfig` (JSON, the file's last member), with its remote key set
/// swapped for the test keys: nothing else changes.
fn plugin_config() -> Value {
    let yaml = example("wasmplugin.yaml");
    let json_text = &yaml[yaml.find("pluginConfig: ").expect("pluginConfig") + 14..];
    let mut config: Value = serde_json::from_str(json_text).expect("pluginConfig is JSON");
    let provider = &mut config["providers"]["my-idp"];
    assert_eq!(provider["issuer"], IDP);
    provider.as_object_mut().unwrap().remove("remote_jwks");
    provider["local_jwks"] = json!({"inline_string": json!({"keys": [rsa_jwk()]}).to_string()});
    config
}

/// What Istio makes of `authorizationpolicy.yaml`: an RBAC filter per action, DENY first.
/// A `request.headers[name]` condition becomes a principal matching that header exactly;
/// `paths` become `url_path` permissions (`/x/*` a prefix).
fn istio_rbac() -> Vec<Value> {
    let policies = example("authorizationpolicy.yaml");
    for text in [
        "key: request.headers[x-jwt-status]\n      values: [\"suspended\"]",
        "paths: [\"/healthz\", \"/public/*\"]",
        "paths: [\"/api/*\"]\n    when:\n    - key: request.headers[x-jwt-role]\n      values: [\"reader\", \"admin\"]",
        "paths: [\"/admin/*\"]\n    when:\n    - key: request.headers[x-jwt-role]\n      values: [\"admin\"]",
    ] {
        assert!(policies.contains(text), "authorizationpolicy.yaml no longer says {text:?}");
    }
    let header = |name: &str, value: &str| json!({"header": {"name": name, "string_match": {"exact": value}}});
    let role_in = |roles: &[&str]| json!([{"or_ids": {"ids": roles.iter().map(|r| header("x-jwt-role", r)).collect::<Vec<_>>()}}]);
    let paths = |p: Value| json!([{"or_rules": {"rules": p}}]);
    let rbac = |action: &str, policies: Value| {
        json!({"name": "envoy.filters.http.rbac", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": action, "policies": policies}}})
    };
    vec![
        rbac(
            "DENY",
            json!({"ns[my-app]-policy[deny-suspended]-rule[0]": {
                "permissions": [{"any": true}],
                "principals": [{"or_ids": {"ids": [header("x-jwt-status", "suspended")]}}]}}),
        ),
        rbac(
            "ALLOW",
            json!({
                "ns[my-app]-policy[api-roles]-rule[0]": {
                    "permissions": paths(json!([{"url_path": {"path": {"exact": "/healthz"}}},
                                                {"url_path": {"path": {"prefix": "/public/"}}}])),
                    "principals": [{"any": true}]},
                "ns[my-app]-policy[api-roles]-rule[1]": {
                    "permissions": paths(json!([{"url_path": {"path": {"prefix": "/api/"}}}])),
                    "principals": role_in(&["reader", "admin"])},
                "ns[my-app]-policy[api-roles]-rule[2]": {
                    "permissions": paths(json!([{"url_path": {"path": {"prefix": "/admin/"}}}])),
                    "principals": role_in(&["admin"])}}),
        ),
    ]
}

fn bearer(claims: Value) -> String {
    let mut c = claims_with(json!({"iss": IDP, "aud": "my-app"}));
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    format!("Bearer {}", token(Algorithm::RS256, &c))
}

/// The headers that reached the upstream, when it was reached.
fn upstream_headers(r: &Resp) -> Value {
    serde_json::from_slice::<Value>(&r.body).map_or(Value::Null, |v| v["headers"].clone())
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn claim_headers_cannot_be_forged_past_the_istio_example_policies() {
    use_live_clock();
    let wasm_plugin = example("wasmplugin.yaml");
    assert!(
        wasm_plugin.contains("failStrategy: FAIL_CLOSE"),
        "the WasmPlugin example must fail closed"
    );
    let upstream = echo();
    let mut filters = vec![jwtgate_filter("jwtgate", &plugin_config())];
    filters.extend(istio_rbac());
    let envoy = Envoy::start_listeners(
        &[Listener {
            filters,
            routes: None,
        }],
        &[],
        upstream.port,
        1,
    )
    .unwrap_or_else(|log| panic!("{log}"));
    let ours = envoy.ports[0];

    let reader = bearer(json!({"role": "reader"}));
    let no_role = bearer(json!({}));
    let suspended = bearer(json!({"role": "reader", "account": {"status": "suspended"}}));
    let admin_no_scope = bearer(json!({"role": "admin"}));
    let admin = bearer(json!({"role": "admin", "scope": "read admin"}));
    let forged = [
        ("x-jwt-role", "admin"),
        ("x-jwt-sub", "mallory"),
        ("x-jwt-status", "active"),
    ];
    let with = |auth: &str, extra: &[(&'static str, &'static str)]| {
        let mut h: Vec<(&str, String)> = extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        if !auth.is_empty() {
            h.push(("authorization", auth.to_owned()));
        }
        h
    };
    // (what, path, headers, status, the claim headers the upstream must see)
    type Check<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, u16, Value);
    let checks: Vec<Check> = vec![
        (
            "a reader",
            "/api/x",
            with(&reader, &[]),
            200,
            json!({"x-jwt-role": "reader", "x-jwt-sub": "alice"}),
        ),
        (
            "a reader whose account is suspended",
            "/api/x",
            with(&suspended, &[]),
            403,
            Value::Null,
        ),
        (
            "a token without a role",
            "/api/x",
            with(&no_role, &[]),
            403,
            Value::Null,
        ),
        ("no token", "/api/x", with("", &[]), 403, Value::Null),
        (
            "no token, a forged role",
            "/api/x",
            with("", &forged),
            403,
            Value::Null,
        ),
        (
            "a token without a role, a forged role",
            "/api/x",
            with(&no_role, &forged),
            403,
            Value::Null,
        ),
        (
            "a forged role on an open path, no token",
            "/public/x",
            with("", &forged),
            200,
            json!({}),
        ),
        (
            "a forged role on an open path, a token without one",
            "/public/x",
            with(&no_role, &forged),
            200,
            json!({"x-jwt-sub": "alice"}),
        ),
        (
            "a forged suspension, a reader",
            "/api/x",
            with(&reader, &[("x-jwt-status", "suspended")]),
            200,
            json!({"x-jwt-role": "reader", "x-jwt-sub": "alice"}),
        ),
        (
            "an invalid token",
            "/api/x",
            with("Bearer garbage", &[]),
            401,
            Value::Null,
        ),
        (
            "an admin without the admin scope",
            "/admin/x",
            with(&admin_no_scope, &[]),
            403,
            Value::Null,
        ),
        (
            "an admin",
            "/admin/x",
            with(&admin, &[]),
            200,
            json!({"x-jwt-role": "admin", "x-jwt-sub": "alice"}),
        ),
    ];
    let mut failures = Vec::new();
    for (what, path, headers, status, claim_headers) in &checks {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = get(ours, path, &h);
        if r.status != *status {
            failures.push(format!(
                "{what}: status {} (want {status}): {}",
                r.status,
                r.text()
            ));
            continue;
        }
        if r.status == 200 {
            let seen = upstream_headers(&r);
            for name in ["x-jwt-role", "x-jwt-sub", "x-jwt-status"] {
                if seen.get(name) != claim_headers.get(name) {
                    failures.push(format!(
                        "{what}: upstream saw {name} = {}, want {}",
                        seen.get(name).unwrap_or(&Value::Null),
                        claim_headers.get(name).unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    assert_all_passed(&failures, checks.len());
}
