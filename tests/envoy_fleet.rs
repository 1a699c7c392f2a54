//! What a fleet of jwtgate sidecars costs the issuer: conditional fetches (a `304` keeps the
//! keys, and the token caches, and renews their age; a new `ETag` replaces them), the
//! issuer's `Cache-Control: max-age` honoured within the configured bounds, and refreshes
//! spread so that sidecars started together do not ask in step.
//!
//! Real Envoy processes on loopback, each binding its fetches to its own source address so
//! that one issuer can tell them apart. No timing is asserted beyond the order of fetches and
//! how far apart the sidecars' refreshes fall.
#![cfg(feature = "envoy")]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::envoy::{eventually, Envoy, Setup};
use common::http::{get, Resp, Server};
use common::issuer::{Fetch, Issuer};
use common::*;
use jwtgate::Algorithm;
use serde_json::{json, Value};

/// A key set at `/jwks` and a deny list at `/revoked`.
fn documents() -> Vec<(&'static str, String)> {
    vec![
        ("/jwks", json!({"keys": [p256_jwk()]}).to_string()),
        ("/revoked", r#"{"revoked":["gone"]}"#.to_owned()),
    ]
}

fn config(remote: Value, revocation: bool) -> Value {
    let mut r = json!({"http_uri": {"uri": "http://issuer.test/jwks", "cluster": "issuer", "timeout": "1s"}});
    for (k, v) in remote.as_object().unwrap() {
        r[k] = v.clone();
    }
    let mut c = json!({"providers": {"main": {"issuer": ISSUER, "audiences": [AUDIENCE], "remote_jwks": r}},
                       "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]});
    if revocation {
        c["revocation"] = json!({"http_uri": {"uri": "http://issuer.test/revoked", "cluster": "issuer", "timeout": "1s"},
                                 "refresh_interval": "1s"});
    }
    c
}

/// An Envoy sidecar named `node` (its `node.id`, in cluster `fleet`) with `workers` workers,
/// whose fetches leave from `source`, a loopback address of its own.
fn sidecar(
    upstream: u16,
    issuer: &Issuer,
    config: Value,
    (node, source): (&str, &str),
    workers: u32,
) -> Envoy {
    let (node, source) = (node.to_owned(), source.to_owned());
    Envoy::start_edited(
        Setup {
            jwtgate: config,
            jwt_authn: None,
            clusters: vec![("issuer", issuer.server.port)],
            upstream,
            workers,
        },
        move |bootstrap| {
            bootstrap["node"] = json!({"id": node, "cluster": "fleet"});
            for c in bootstrap["static_resources"]["clusters"]
                .as_array_mut()
                .unwrap()
            {
                if c["name"] == "issuer" {
                    c["upstream_bind_config"] =
                        json!({"source_address": {"address": source, "port_value": 0}});
                }
            }
        },
    )
    .unwrap_or_else(|log| panic!("{log}"))
}

fn call(envoy: &Envoy, token: &str) -> Resp {
    get(
        envoy.port,
        "/",
        &[("authorization", &format!("Bearer {token}"))],
    )
}

const HITS: &str = "wasmcustom.jwtgate.jwt_cache.hit";
const MISSES: &str = "wasmcustom.jwtgate.jwt_cache.miss";

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_304_keeps_the_keys_and_renews_their_age_and_a_new_etag_replaces_them() {
    use_live_clock();
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    let issuer = Issuer::start(None, documents());
    // Keys dropped 2 s after their last fetch unless a 304 renews their age.
    let config = config(json!({"cache_duration": "1s", "max_stale": "1s"}), true);
    // One worker: each token misses the cache once, on its first call, and never again.
    let envoy = sidecar(upstream.port, &issuer, config, ("one", "127.0.0.1"), 1);
    let good = token(Algorithm::ES256, &claims_with(json!({"jti": "fine"})));
    assert!(eventually(Duration::from_secs(5), || call(&envoy, &good)
        .status
        == 200));
    let gone = token(Algorithm::ES256, &claims_with(json!({"jti": "gone"})));
    assert_eq!(call(&envoy, &gone).status, 401);

    // Four 304s for the keys: well past cache_duration + max_stale since the only full answer.
    assert!(eventually(Duration::from_secs(15), || issuer
        .count("/jwks", false)
        >= 4));
    assert!(issuer.count("/revoked", false) >= 2, "the deny list too");
    assert_eq!(
        issuer.count("/jwks", true),
        1,
        "one full answer for the keys"
    );
    assert_eq!(
        issuer.count("/revoked", true),
        1,
        "one full answer for the list"
    );
    assert!(
        envoy.counter("wasmcustom.jwtgate.jwks_fetch.not_modified") >= 6,
        "the 304s are counted"
    );
    // The keys still serve, and the token cache was kept: every call since the first was a hit.
    let misses = envoy.counter(MISSES);
    for _ in 0..4 {
        assert_eq!(call(&envoy, &good).status, 200);
        assert_eq!(call(&envoy, &gone).status, 401);
    }
    assert!(eventually(Duration::from_secs(5), || envoy.counter(HITS) >= 8));
    assert_eq!(envoy.counter(MISSES), misses, "no 304 emptied the cache");

    // A new ETag: the new keys replace the old ones, and the cache goes with them.
    issuer.replace("/jwks", json!({"keys": [ed25519_jwk()]}).to_string());
    let ed = token(Algorithm::EdDSA, &claims());
    assert!(eventually(Duration::from_secs(10), || call(&envoy, &ed)
        .status
        == 200));
    assert!(eventually(Duration::from_secs(5), || call(&envoy, &good)
        .status
        == 401));
    assert_eq!(issuer.count("/jwks", true), 2);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_fleet_started_together_fetches_once_per_sidecar_and_spreads_its_refreshes() {
    use_live_clock();
    const MAX_AGE: u64 = 4;
    let upstream = Server::start(|_| Resp::new(200, "upstream"));
    // The issuer asks for a refresh every 4 s: shorter than cache_duration, longer than the
    // 1 s floor (refetch_cooldown), so it is what the sidecars follow.
    let issuer = Issuer::start(Some(MAX_AGE), documents());
    let config = config(
        json!({"cache_duration": "300s", "refetch_cooldown": "1s"}),
        false,
    );
    let nodes = [
        ("sidecar-a", "127.0.0.2"),
        ("sidecar-b", "127.0.0.3"),
        ("sidecar-c", "127.0.0.4"),
        ("sidecar-d", "127.0.0.5"),
    ];
    // Started together, two workers each.
    let fleet: Vec<Envoy> = std::thread::scope(|scope| {
        let started: Vec<_> = nodes
            .iter()
            .map(|(node, source)| {
                let (config, issuer, upstream) = (config.clone(), &issuer, upstream.port);
                scope.spawn(move || sidecar(upstream, issuer, config, (node, source), 2))
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let good = token(Algorithm::ES256, &claims());
    for envoy in &fleet {
        assert!(eventually(Duration::from_secs(5), || call(envoy, &good)
            .status
            == 200));
    }
    let per_sidecar = |ip: &str| -> Vec<Fetch> {
        let ip: IpAddr = ip.parse().unwrap();
        issuer
            .fetches("/jwks")
            .into_iter()
            .filter(|f| f.peer == ip)
            .collect()
    };
    // Three refreshes each.
    assert!(eventually(Duration::from_secs(30), || nodes
        .iter()
        .all(|(_, ip)| per_sidecar(ip).len() >= 4)));
    let observed: Vec<Vec<Fetch>> = nodes.iter().map(|(_, ip)| per_sidecar(ip)).collect();

    // One full answer per sidecar, not per worker; every refresh after it a 304.
    assert_eq!(issuer.count("/jwks", true), nodes.len());
    for fetches in &observed {
        assert!(fetches[0].full, "{fetches:?}");
        assert!(fetches[1..].iter().all(|f| !f.full), "{fetches:?}");
        // Never before the window opens: 60% of max-age after the last fetch.
        for pair in fetches.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(
                gap >= Duration::from_millis(MAX_AGE * 600 - 100),
                "a refresh {gap:?} after the last"
            );
        }
    }
    // Bounded: a sidecar asks at most once per 60% of max-age, whatever its workers.
    let all = issuer.fetches("/jwks");
    let span = all.iter().map(|f| f.at).max().unwrap() - all.iter().map(|f| f.at).min().unwrap();
    let bound = nodes.len() as f64 * (2.0 + span.as_secs_f64() / (MAX_AGE as f64 * 0.6));
    assert!(
        (all.len() as f64) <= bound,
        "{} fetches in {span:?} from {} sidecars",
        all.len(),
        nodes.len()
    );
    // Spread: where in the window each sidecar's first refresh fell differs from sidecar to
    // sidecar, by more than the 100 ms tick on which refreshes start. Without the spread they
    // would all fall at the same point of it.
    let offsets: Vec<Duration> = observed.iter().map(|f| f[1].at - f[0].at).collect();
    let (first, last) = (offsets.iter().min().unwrap(), offsets.iter().max().unwrap());
    assert!(
        *last - *first >= Duration::from_millis(300),
        "first refreshes at {offsets:?} after each sidecar's start"
    );
    eprintln!(
        "fleet: {} sidecars x 2 workers, max-age {MAX_AGE} s: {} full answers, {} 304s; \
         first refreshes {offsets:?} after each start",
        nodes.len(),
        issuer.count("/jwks", true),
        issuer.count("/jwks", false)
    );
}
