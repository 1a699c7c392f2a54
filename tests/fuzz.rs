//! The fuzz targets under a plain `cargo test`: every seed in `fuzz/corpus/` and every crash
//! ever found (`tests/data/fuzz/<target>/`) replayed through the targets' own code
//! (`fuzz/src/lib.rs`), so a fixed crash stays fixed without libFuzzer or a nightly flag.
//! `cargo xtask fuzz` runs the targets themselves.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::*;
use jwtgate::Algorithm;
use serde_json::{json, Value};

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("token", harness::token),
    ("json", harness::json),
    ("jwks", harness::jwks),
    ("envoy_config", harness::envoy_config),
    ("verify", harness::verify),
    ("es256", harness::es256),
    ("ecdsa_field", harness::ecdsa_field),
    ("rsa_montgomery", harness::rsa_montgomery),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

#[test]
fn seeds_and_past_crashes_pass_every_target() {
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        let seeds = files(&root().join("fuzz/corpus").join(name));
        assert!(seeds.len() >= 3, "fuzz/corpus/{name} has too few seeds");
        let crashes = files(&root().join("tests/data/fuzz").join(name));
        for file in seeds.iter().chain(&crashes) {
            let data = std::fs::read(file).unwrap();
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "targets panicked on:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_verify_seeds_verify() {
    // A seed that fails verification explores only refusals: the policy oracle in the
    // `verify` target would never run.
    let seeds = files(&root().join("fuzz/corpus/verify"));
    for file in seeds {
        let data = std::fs::read(&file).unwrap();
        assert_eq!(
            harness::verify_code(&data),
            Some("ok"),
            "{}",
            file.display()
        );
    }
    // Signed by the target but expired: refused, and the target says so.
    let mut expired = vec![1u8];
    expired.extend_from_slice(br#"{"alg":"HS256","kid":"hmac"}"#);
    expired.push(0);
    expired.extend_from_slice(br#"{"iss":"https://issuer.example","aud":"api","exp":1}"#);
    assert_eq!(harness::verify_code(&expired), Some("expired"));
}

#[test]
fn the_es256_seeds_reach_both_verdicts() {
    let verdict = |name: &str| {
        let data = std::fs::read(root().join("fuzz/corpus/es256").join(name)).unwrap();
        harness::es256_verdict(&data)
    };
    assert_eq!(verdict("valid"), Some(true));
    assert_eq!(verdict("n-minus-s"), Some(true), "neither enforces low s");
    assert_eq!(verdict("mutated"), Some(false));
    assert_eq!(verdict("r-zero"), Some(false));
    assert_eq!(
        verdict("point"),
        Some(false),
        "the key is taken, the signature is not"
    );
}

#[test]
fn the_key_set_and_configuration_seeds_are_accepted() {
    // Seeds that are refused at once start the fuzzer far from the code worth exploring.
    for file in files(&root().join("fuzz/corpus/jwks")) {
        let set = jwtgate::JwkSet::from_json(&std::fs::read(&file).unwrap()).unwrap();
        assert!(set.parse_report().is_empty(), "{}", file.display());
    }
    #[cfg(feature = "envoy")]
    for file in files(&root().join("fuzz/corpus/envoy_config")) {
        let bytes = std::fs::read(&file).unwrap();
        if let Err(e) = jwtgate::envoy::config::Config::from_json(&bytes) {
            panic!("{}: {e}", file.display());
        }
    }
}

#[test]
fn fuzz_keys_are_the_fixture_keys() {
    let theirs: Value = serde_json::from_str(harness::KEYS).unwrap();
    let ours: Value = serde_json::from_str(&jwks()).unwrap();
    assert_eq!(
        theirs, ours,
        "fuzz/keys.json: regenerate with write_seed_corpora"
    );
    assert_eq!(harness::hmac_secret(), keys().hmac);
}

/// The seed corpora, from real tokens, key sets and configurations: run after changing the
/// fixtures with `cargo test --features envoy --test fuzz -- --ignored write_seed_corpora`.
#[test]
#[ignore]
fn write_seed_corpora() {
    let fuzz = root().join("fuzz");
    std::fs::write(fuzz.join("keys.json"), jwks()).unwrap();
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    let claims_text = claims().to_string();
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
    ] {
        write(
            "token",
            alg.name(),
            token(alg, &json!({"sub": "alice"})).as_bytes(),
        );
    }
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ] {
        let mut data = vec![0u8];
        data.extend_from_slice(token(alg, &claims()).as_bytes());
        write("verify", alg.name(), &data);
    }
    for (i, alg) in ["HS256", "HS384", "HS512"].iter().enumerate() {
        let mut data = vec![1 + 2 * i as u8];
        data.extend_from_slice(json!({"alg": alg, "kid": "hmac"}).to_string().as_bytes());
        data.push(0);
        data.extend_from_slice(claims_text.as_bytes());
        write("verify", &format!("signed-{alg}"), &data);
    }
    // es256: the fixture P-256 key signs a token's signing input (cases 1 to 3), and its
    // public point comes with a signature that does not verify (case 0).
    let d = keys().p256.to_bytes();
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
    for (name, case) in [
        ("valid", 1u8),
        ("mutated", 2),
        ("r-zero", 3),
        ("n-minus-s", 3 + 4 * 13),
    ] {
        let mut data = d.to_vec();
        data.push(case);
        data.extend_from_slice(message);
        write("es256", name, &data);
    }
    let point = keys().p256.verifying_key().to_sec1_point(false);
    let mut data = point.as_bytes()[1..33].to_vec();
    data.push(0);
    data.extend_from_slice(&point.as_bytes()[33..]);
    data.extend_from_slice(&[0x5a; 64]);
    write("es256", "point", &data);
    write("json", "claims", claims_text.as_bytes());
    write(
        "json",
        "numbers",
        br#"{"a":[0,-0,1.5,-1e-7,1e308,5e-324,18446744073709551615,-9223372036854775808,123456789012345678901234567890,2.2250738585072011e-308,0.1e1]}"#,
    );
    write(
        "json",
        "strings",
        br#"{"s":"\u00e9\ud83d\ude00\n\t\"\\\/","k\u0000":[true,false,null,{"n":{}}]}"#,
    );
    write("jwks", "fixtures", jwks().as_bytes());
    for (name, key) in [
        ("rsa", rsa_jwk()),
        ("p256", p256_jwk()),
        ("ed25519", ed25519_jwk()),
    ] {
        let mut key = key;
        key["alg"] = json!(match name {
            "rsa" => "RS256",
            "p256" => "ES256",
            _ => "EdDSA",
        });
        key["use"] = json!("sig");
        write(
            "jwks",
            name,
            json!({ "keys": [key] }).to_string().as_bytes(),
        );
    }
    let local = json!({"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": {"inline_string": jwks()},
        "from_headers": [{"name": "x-jwt", "value_prefix": "Bearer "}], "forward": true,
        "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
        "jwt_cache_config": {"jwt_cache_size": 10}});
    let remote = json!({"issuer": ISSUER, "remote_jwks": {"http_uri": {"uri": "https://issuer.example/jwks",
        "cluster": "issuer", "timeout": "2s"}, "cache_duration": {"seconds": 300}, "refetch_cooldown": "1.5s"},
        "from_params": ["token"], "from_cookies": ["jwt"], "maxLifetime": "3600s"});
    write(
        "envoy_config",
        "local",
        json!({"providers": {"local": local}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "local"}}]})
            .to_string()
            .as_bytes(),
    );
    write(
        "envoy_config",
        "remote",
        json!({"providers": {"remote": remote, "local": local}, "bypass_cors_preflight": true,
            "rules": [{"match": {"path": "/health", "case_sensitive": false}},
                      {"match": {"prefix": "/api"}, "requires": {"requires_any": {"requirements": [
                          {"provider_name": "remote"}, {"requires_all": {"requirements": [{"provider_name": "local"}, {"allow_missing": {}}]}}]}},
                       "requires_claims": {"scope": ["read", "write"], "tenant": "t1"}}],
            "revocation": {"http_uri": {"uri": "http://revoked.example/list", "cluster": "rev"}, "refresh_interval": {"seconds": 60}}})
            .to_string()
            .as_bytes(),
    );
    write(
        "envoy_config",
        "algorithms",
        json!({"providers": {"h": {"algorithms": ["HS256", "ES256"], "require_expiration": false,
            "local_jwks": {"inline_string": jwks()}}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"allow_missing_or_failed": {}}}]})
        .to_string()
        .as_bytes(),
    );
}
