//! OIDC discovery in the Envoy filter: a provider names its issuer's discovery document
//! (`remote_jwks.discovery.http_uri`) instead of a key set; the document must name exactly
//! the provider's `issuer`, and its `jwks_uri` must be on the document's own host, since both
//! are fetched through the one configured cluster. Real Envoy against a loopback issuer.
#![cfg(feature = "envoy")]

mod common;

use std::time::Duration;

use common::envoy::{eventually, Envoy, Setup};
use common::http::{get, Resp, Server};
use common::issuer::Issuer;
use common::*;
use jwtgate::Algorithm;
use serde_json::{json, Value};

const DISCOVERY: &str = "/.well-known/openid-configuration";

/// A discovery document naming `issuer`, its keys at `jwks_uri`.
fn document(issuer: &str, jwks_uri: &str) -> String {
    json!({"issuer": issuer, "jwks_uri": jwks_uri,
           "authorization_endpoint": format!("{issuer}/auth"),
           "id_token_signing_alg_values_supported": ["ES256", "EdDSA"]})
    .to_string()
}

/// The provider as a user writes it: the issuer, and its discovery document through the
/// `idp` cluster.
fn config(remote: Value) -> Value {
    let mut r = json!({"discovery": {"http_uri": {"uri": format!("{ISSUER}{DISCOVERY}"),
                                                  "cluster": "idp", "timeout": "1s"}}});
    for (k, v) in remote.as_object().unwrap() {
        r[k] = v.clone();
    }
    json!({"providers": {"main": {"issuer": ISSUER, "audiences": [AUDIENCE], "remote_jwks": r}},
           "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]})
}

fn start(issuer: &Issuer, upstream: &Server, config: Value) -> Result<Envoy, String> {
    Envoy::start(Setup {
        jwtgate: config,
        jwt_authn: None,
        clusters: vec![("idp", issuer.server.port)],
        upstream: upstream.port,
        workers: 2,
    })
}

fn call(envoy: &Envoy, token: &str) -> Resp {
    get(
        envoy.port,
        "/",
        &[("authorization", &format!("Bearer {token}"))],
    )
}

fn code_of(r: &Resp) -> String {
    r.text().trim().to_owned()
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn keys_found_by_discovery_verify_and_follow_a_rotation() {
    use_live_clock();
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    let issuer = Issuer::start(
        None,
        vec![
            (DISCOVERY, document(ISSUER, "https://issuer.example/keys")),
            ("/keys", json!({"keys": [p256_jwk()]}).to_string()),
            ("/keys-2", json!({"keys": [p384_jwk()]}).to_string()),
        ],
    );
    let envoy = start(&issuer, &upstream, config(json!({"cache_duration": "1s"})))
        .unwrap_or_else(|log| panic!("{log}"));
    let p256 = token(Algorithm::ES256, &claims());
    assert_eq!(call(&envoy, &p256).status, 200);
    assert!(issuer.count(DISCOVERY, true) == 1 && issuer.count("/keys", true) == 1);

    // Refreshes ask again for both, conditionally: the document first, then its key set.
    assert!(eventually(Duration::from_secs(10), || issuer
        .count("/keys", false)
        >= 2));
    assert!(issuer.count(DISCOVERY, false) >= 2);

    // The issuer rotates: the next refresh brings the new key set, no restart.
    issuer.replace("/keys", json!({"keys": [ed25519_jwk()]}).to_string());
    let ed = token(Algorithm::EdDSA, &claims());
    assert!(eventually(Duration::from_secs(10), || call(&envoy, &ed)
        .status
        == 200));
    assert!(eventually(Duration::from_secs(5), || call(&envoy, &p256)
        .status
        == 401));

    // The document moves the key set (on the same host): the next refresh follows it.
    issuer.replace(DISCOVERY, document(ISSUER, "https://issuer.example/keys-2"));
    let p384 = token(Algorithm::ES384, &claims());
    assert!(eventually(Duration::from_secs(10), || call(&envoy, &p384)
        .status
        == 200));
    assert!(eventually(Duration::from_secs(5), || call(&envoy, &ed)
        .status
        == 401));
    assert!(issuer.count("/keys-2", true) == 1);
}

/// A document that may not be used: the provider's tokens get 503 `jwks_unavailable`, and the
/// key set it names is never asked for.
fn refused(doc: String, why: &str) {
    use_live_clock();
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    let issuer = Issuer::start(
        None,
        vec![
            (DISCOVERY, doc),
            ("/keys", json!({"keys": [p256_jwk()]}).to_string()),
        ],
    );
    let envoy = start(&issuer, &upstream, config(json!({}))).unwrap_or_else(|log| panic!("{log}"));
    let r = call(&envoy, &token(Algorithm::ES256, &claims()));
    assert_eq!(
        (r.status, code_of(&r).as_str()),
        (503, "jwks_unavailable"),
        "{why}"
    );
    assert!(issuer.count(DISCOVERY, true) >= 1);
    assert!(issuer.fetches("/keys").is_empty(), "{why}: keys fetched");
    assert!(
        eventually(Duration::from_secs(15), || envoy.log_text().contains(why)),
        "no {why:?} in the log"
    );
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_discovery_document_naming_another_issuer_is_refused() {
    refused(
        document("https://issuer.example.evil", "https://issuer.example/keys"),
        "it names issuer \"https://issuer.example.evil\"",
    );
    // Not even a trailing slash.
    refused(
        document(&format!("{ISSUER}/"), "https://issuer.example/keys"),
        "it names issuer",
    );
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_jwks_uri_on_another_host_is_refused() {
    refused(
        document(ISSUER, "https://keys.elsewhere.example/keys"),
        "not on issuer.example",
    );
    refused(
        document(ISSUER, "http://issuer.example/keys"),
        "must be https",
    );
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_discovery_configuration_the_filter_cannot_use_stops_the_plugin() {
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    let issuer = Issuer::start(None, vec![]);
    let mut no_issuer = config(json!({}));
    no_issuer["providers"]["main"]
        .as_object_mut()
        .unwrap()
        .remove("issuer");
    let both =
        config(json!({"http_uri": {"uri": "https://issuer.example/keys", "cluster": "idp"}}));
    let untyped = config(json!({"discovery": {"http_uri": "https://issuer.example"}}));
    for (config, why) in [
        (no_issuer, "discovery needs the provider's issuer"),
        (both, "has both http_uri and discovery"),
        (untyped, "discovery.http_uri must be an object"),
    ] {
        let log = start(&issuer, &upstream, config)
            .err()
            .expect("Envoy must not start");
        assert!(log.contains(why), "{why}: {log}");
    }
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_moved_jwks_uri_is_not_asked_with_the_old_key_sets_validators() {
    // A static-file issuer: each key set has its own Last-Modified and answers 304 to an
    // If-Modified-Since at or after it (as a file server compares dates). /keys-2 is older
    // than /keys: asked with /keys's date, it says "not modified" about a document the
    // filter never had.
    use std::sync::{Arc, Mutex};
    use_live_clock();
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    let jwks_uri = Arc::new(Mutex::new("https://issuer.example/keys".to_owned()));
    let u = jwks_uri.clone();
    let server = Server::start(move |req| {
        let doc = |body: String, date: &str, newer: &[&str]| {
            let ims = req.header("if-modified-since");
            let mut r = if ims.is_some_and(|d| d == date || newer.contains(&d)) {
                Resp::new(304, "")
            } else {
                Resp::new(200, body)
            };
            r.headers.push(("last-modified".into(), date.into()));
            r
        };
        const OLD: &str = "Mon, 30 Nov 2026 08:00:00 GMT";
        const NEW: &str = "Mon, 30 Nov 2026 09:00:00 GMT";
        match req.path.as_str() {
            DISCOVERY => Resp::new(200, document(ISSUER, &u.lock().unwrap())),
            "/keys" => doc(json!({"keys": [p256_jwk()]}).to_string(), NEW, &[]),
            "/keys-2" => doc(json!({"keys": [p384_jwk()]}).to_string(), OLD, &[NEW]),
            _ => Resp::new(404, ""),
        }
    });
    let envoy = Envoy::start(Setup {
        jwtgate: config(json!({"cache_duration": "1s"})),
        jwt_authn: None,
        clusters: vec![("idp", server.port)],
        upstream: upstream.port,
        workers: 2,
    })
    .unwrap_or_else(|log| panic!("{log}"));
    let p256 = token(Algorithm::ES256, &claims());
    assert_eq!(call(&envoy, &p256).status, 200);
    *jwks_uri.lock().unwrap() = "https://issuer.example/keys-2".to_owned();
    let p384 = token(Algorithm::ES384, &claims());
    assert!(
        eventually(Duration::from_secs(10), || call(&envoy, &p384).status
            == 200),
        "the moved key set was never fetched whole: {}",
        code_of(&call(&envoy, &p384))
    );
    assert!(eventually(Duration::from_secs(5), || call(&envoy, &p256)
        .status
        == 401));
}
