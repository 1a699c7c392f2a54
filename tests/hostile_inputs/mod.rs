//! Hostile inputs and the answer each must get, shared by `tests/hostile.rs` (the answers) and
//! `benches/hostile.rs` (the cost of each: `cargo bench --bench hostile`).
//!
//! Needs `mod common;` beside it in the crate that includes it.
#![allow(dead_code)]

use jwtgate::{
    b64_encode, AlgorithmError, Error, JwkSet, JwksError, Malformed, Part, SkipReason, Verifier,
};
use serde_json::{json, Value};

use crate::common::*;

/// What is fed to jwtgate.
pub enum Input {
    /// `JwkSet::from_json`.
    Jwks(Vec<u8>),
    /// `Verifier::verify_at(token, NOW)`.
    Token(Box<Verifier>, String),
    /// `envoy::config::Config::from_json`.
    EnvoyConfig(Vec<u8>),
}

/// What jwtgate answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A key set parsed, with the entries skipped for these reasons, in order.
    KeySet(Vec<SkipReason>),
    /// A token verified.
    Verified,
    /// Refused with this error.
    Refused(Error),
    /// A configuration accepted.
    Configured,
    /// A configuration refused with this message.
    ConfigRefused(String),
}

/// The answer a case must get.
pub enum Want {
    /// Exactly this outcome.
    Is(Outcome),
    /// A refused configuration whose message says this.
    ConfigSays(&'static str),
}

pub struct Case {
    pub name: String,
    pub input: Input,
    pub want: Want,
}

pub fn run(input: &Input) -> Outcome {
    match input {
        Input::Jwks(bytes) => match JwkSet::from_json(bytes) {
            Ok(set) => Outcome::KeySet(set.parse_report().iter().map(|s| s.reason).collect()),
            Err(e) => Outcome::Refused(e),
        },
        Input::Token(verifier, token) => match verifier.verify_at(token, now()) {
            Ok(_) => Outcome::Verified,
            Err(e) => Outcome::Refused(e),
        },
        Input::EnvoyConfig(bytes) => envoy_config(bytes),
    }
}

#[cfg(feature = "envoy")]
fn envoy_config(bytes: &[u8]) -> Outcome {
    match jwtgate::envoy::config::Config::from_json(bytes) {
        Ok(_) => Outcome::Configured,
        Err(e) => Outcome::ConfigRefused(e.to_string()),
    }
}

#[cfg(not(feature = "envoy"))]
fn envoy_config(_: &[u8]) -> Outcome {
    Outcome::ConfigRefused("the envoy feature is off".into())
}

fn case(name: impl Into<String>, input: Input, want: Outcome) -> Case {
    Case {
        name: name.into(),
        input,
        want: Want::Is(want),
    }
}

fn set(keys: Vec<Value>) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

fn unavailable(e: JwksError) -> Outcome {
    Outcome::Refused(Error::JwksUnavailable(e))
}

fn malformed(m: Malformed) -> Outcome {
    Outcome::Refused(Error::Malformed(m))
}

/// A P-256 public key that is not the fixture's, as a JWK with this `kid`.
fn p256_decoy(seed: u8, kid: &str) -> Value {
    let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64_encode(&point.as_bytes()[1..33]),
           "y": b64_encode(&point.as_bytes()[33..])})
}

/// An RSA JWK of the fixture modulus with exponent `e`, or of `bits` of modulus.
fn rsa_e(e: &[u8]) -> Value {
    let mut k = rsa_jwk();
    k["e"] = json!(b64_encode(e));
    k
}

/// An odd number of exactly `bits` bits (size is checked before anything else).
fn modulus(bits: usize) -> Vec<u8> {
    let mut n = vec![0xA5; bits.div_ceil(8)];
    n[0] = 1 << ((bits - 1) % 8);
    *n.last_mut().unwrap() |= 1;
    n
}

fn with_coordinate(mut jwk: Value, name: &str, bytes: &[u8]) -> Value {
    jwk[name] = json!(b64_encode(bytes));
    jwk
}

/// `header` and the standard claims, signed with the fixture key for ES256.
fn es256(header: &str) -> String {
    token_raw(jwtgate::Algorithm::ES256, header, &claims().to_string())
}

/// A header `{"alg":"ES256","kid":"p256","n":<value>}` whose base64url makes the token as
/// close to `limit` bytes as `open` and `close` repeated allow.
fn nested_header(open: &str, close: &str, limit: usize) -> String {
    let fixed = r#"{"alg":"ES256","kid":"p256","n":}"#.len();
    // base64url is 4/3 of the bytes; leave room for the payload and the 64-byte signature.
    let payload = b64_encode(claims().to_string().as_bytes()).len() + 86 + 2;
    let budget = (limit - payload) * 3 / 4 - fixed;
    let n = budget / (open.len() + close.len());
    format!(
        r#"{{"alg":"ES256","kid":"p256","n":{}{}}}"#,
        open.repeat(n),
        close.repeat(n)
    )
}

/// Every hostile input, with its answer. `full` gives the sizes the benchmark times; without
/// it the few inputs that are slow only because they are big (an unoptimised test build
/// takes seconds over them) are made smaller, with the same answers.
pub fn cases(full: bool) -> Vec<Case> {
    let scale = |n: usize, small: usize| if full { n } else { small };
    let limit = jwtgate::DEFAULT_MAX_TOKEN_BYTES;
    let mut cases = Vec::new();

    // Key sets.
    let tiny = json!({"kty": "oct", "k": "AA"});
    cases.push(case(
        "JWKS of 10,000 small entries (under 512 KiB)",
        Input::Jwks(set(vec![tiny; 10_000])),
        unavailable(JwksError::TooManyKeys {
            limit: JwkSet::MAX_KEYS,
        }),
    ));
    cases.push(case(
        "JWKS of 10,000 real P-256 keys (1.3 MB)",
        Input::Jwks(set(vec![p256_jwk(); 10_000])),
        unavailable(JwksError::TooLarge {
            limit: JwkSet::MAX_BYTES,
        }),
    ));
    let one_mb = json!({"keys": [p256_jwk()], "pad": "x".repeat(1 << 20)});
    cases.push(case(
        "1 MiB JWKS",
        Input::Jwks(one_mb.to_string().into_bytes()),
        unavailable(JwksError::TooLarge {
            limit: JwkSet::MAX_BYTES,
        }),
    ));
    let head = json!({"keys": [p256_jwk()], "pad": ""}).to_string();
    let at_limit = head.replacen(
        r#""pad":"""#,
        &format!(r#""pad":"{}""#, "x".repeat(JwkSet::MAX_BYTES - head.len())),
        1,
    );
    assert_eq!(at_limit.len(), JwkSet::MAX_BYTES);
    cases.push(case(
        "JWKS of exactly 512 KiB",
        Input::Jwks(at_limit.into_bytes()),
        Outcome::KeySet(vec![]),
    ));
    // The most expensive set to parse: as many keys as allowed, each of the largest size,
    // sharing one kid (each key's Montgomery constants are computed once, here).
    let big_rsa = json!({"kty": "RSA", "kid": "same", "n": b64_encode(&modulus(8192)),
                         "e": b64_encode(&[1, 0xff, 0xff, 0xff, 0xff])});
    let count = scale(JwkSet::MAX_KEYS, JwkSet::MAX_ATTEMPTS);
    let big_rsa_set = set(vec![big_rsa.clone(); count]);
    assert!(big_rsa_set.len() <= JwkSet::MAX_BYTES);
    cases.push(case(
        "JWKS of one RSA-8192 key, e = 2^33 - 1",
        Input::Jwks(set(vec![big_rsa])),
        Outcome::KeySet(vec![]),
    ));
    cases.push(case(
        format!("JWKS of {count} RSA-8192 keys, e = 2^33 - 1, sharing one kid"),
        Input::Jwks(big_rsa_set.clone()),
        Outcome::KeySet(vec![]),
    ));
    let same_kid: Vec<Value> = (0..JwkSet::MAX_KEYS)
        .map(|i| p256_decoy((i % 250) as u8 + 2, "p256"))
        .collect();
    cases.push(case(
        "JWKS of 256 P-256 keys sharing one kid",
        Input::Jwks(set(same_kid.clone())),
        Outcome::KeySet(vec![]),
    ));
    cases.push(case(
        "JWKS with RSA-1024 beside a good key",
        Input::Jwks(set(vec![
            json!({"kty": "RSA", "n": b64_encode(&modulus(1024)), "e": "AQAB"}),
            p256_jwk(),
        ])),
        Outcome::KeySet(vec![SkipReason::RsaKeyTooSmall]),
    ));
    cases.push(case(
        "JWKS of only RSA-1024",
        Input::Jwks(set(vec![
            json!({"kty": "RSA", "n": b64_encode(&modulus(1024)), "e": "AQAB"}),
        ])),
        unavailable(JwksError::NoUsableKey),
    ));
    cases.push(case(
        "JWKS with RSA exponent 1 and 3",
        Input::Jwks(set(vec![rsa_e(&[1]), rsa_e(&[3]), p256_jwk()])),
        Outcome::KeySet(vec![SkipReason::WeakRsaExponent; 2]),
    ));
    let p256 = p256_jwk();
    let mut y = unb64(p256["y"].as_str().unwrap());
    y[31] ^= 1;
    let p384 = p384_jwk();
    let mut y384 = unb64(p384["y"].as_str().unwrap());
    y384[47] ^= 1;
    let mut ed_off = [0u8; 32];
    ed_off[0] = 2; // y = 2: (y^2 - 1) / (d y^2 + 1) has no square root mod 2^255 - 19
    cases.push(case(
        "JWKS of EC and Ed25519 points not on their curves",
        Input::Jwks(set(vec![
            with_coordinate(p256.clone(), "y", &y),
            with_coordinate(with_coordinate(p256.clone(), "x", &[0; 32]), "y", &[0; 32]),
            with_coordinate(p384, "y", &y384),
            with_coordinate(ed25519_jwk(), "x", &ed_off),
            rsa_jwk(),
        ])),
        Outcome::KeySet(vec![SkipReason::PointNotOnCurve; 4]),
    ));

    // Tokens against the fixture keys.
    let v = || Box::new(verifier());
    let arrays = nested_header("[", "]", limit);
    let objects = nested_header(r#"{"a":"#, "}", limit);
    for (what, header) in [("arrays", arrays), ("objects", objects)] {
        let token = es256(&header);
        assert!(
            token.len() <= limit && token.len() > limit - 16,
            "{}",
            token.len()
        );
        cases.push(case(
            format!("16 KiB token: header of nested {what}"),
            Input::Token(v(), token),
            malformed(Malformed::Json(Part::Header)),
        ));
    }
    let deep = |n: usize| {
        let mut c = claims();
        c["n"] = serde_json::from_str(&format!("{}{}", "[".repeat(n), "]".repeat(n))).unwrap();
        c.to_string()
    };
    // serde_json builds the payload, and stops at 127 levels: add the last by hand.
    let too_deep = deep(127)
        .replacen(r#""n":"#, r#""n":["#, 1)
        .replacen("]", "]]", 1);
    let header = r#"{"alg":"ES256","kid":"p256"}"#;
    cases.push(case(
        "signed payload nested 129 deep (one over)",
        Input::Token(v(), token_raw(jwtgate::Algorithm::ES256, header, &too_deep)),
        malformed(Malformed::Json(Part::Payload)),
    ));
    cases.push(case(
        "signed payload nested 128 deep (the limit)",
        Input::Token(
            v(),
            token_raw(jwtgate::Algorithm::ES256, header, &deep(127)),
        ),
        Outcome::Verified,
    ));
    let too_long = format!("{}.{}.", "a".repeat(limit / 2), "b".repeat(limit / 2));
    cases.push(case(
        "token one byte over 16 KiB",
        Input::Token(v(), too_long[..limit + 1].to_owned()),
        Outcome::Refused(Error::TooLarge { limit }),
    ));
    cases.push(case(
        "16 KiB of dots",
        Input::Token(v(), ".".repeat(limit)),
        malformed(Malformed::PartCount(6)),
    ));
    // Numbers that need the exact big-number conversion: 32 are allowed, the 33rd is not.
    let slow = |count: usize, digits: usize| {
        let number = format!("1{}e-300", "7".repeat(digits));
        let list = vec![number; count].join(",");
        format!(r#"{{"alg":"ES256","kid":"p256","n":[{list}]}}"#)
    };
    cases.push(case(
        "16 KiB token: header of 32 numbers of 300 digits",
        Input::Token(v(), es256(&slow(32, 300))),
        Outcome::Verified,
    ));
    cases.push(case(
        "token: header of 33 numbers needing the exact conversion",
        Input::Token(v(), es256(&slow(33, 30))),
        malformed(Malformed::Json(Part::Header)),
    ));
    // Duplicate kids: every key carrying the token's kid is a candidate, at most
    // MAX_ATTEMPTS of them are tried, in document order.
    let mut decoys: Vec<Value> = same_kid[..JwkSet::MAX_KEYS - 1].to_vec();
    decoys.push(p256_jwk());
    let crowded = JwkSet::from_json(&set(decoys)).unwrap();
    cases.push(case(
        "token whose kid 256 keys share, the right one last",
        Input::Token(
            Box::new(Verifier::new(crowded, policy())),
            token(jwtgate::Algorithm::ES256, &claims()),
        ),
        Outcome::Refused(Error::InvalidSignature),
    ));
    let mut first: Vec<Value> = vec![p256_jwk()];
    first.extend_from_slice(&same_kid[..JwkSet::MAX_KEYS - 1]);
    cases.push(case(
        "token whose kid 256 keys share, the right one first",
        Input::Token(
            Box::new(Verifier::new(
                JwkSet::from_json(&set(first)).unwrap(),
                policy(),
            )),
            token(jwtgate::Algorithm::ES256, &claims()),
        ),
        Outcome::Verified,
    ));

    // The most a token can cost: one RSA-8192 check with the largest exponent, which spends
    // the whole attempt budget (JwkSet::MAX_ATTEMPTS).
    let header = json!({"alg": "RS512", "kid": "same"}).to_string();
    let input = signing_input(&header, &claims().to_string());
    let worst = format!("{input}.{}", b64_encode(&[0x5a; 1024]));
    cases.push(case(
        format!("RS512 token against {count} RSA-8192 keys (e = 2^33 - 1) sharing its kid"),
        Input::Token(
            Box::new(Verifier::new(
                JwkSet::from_json(&big_rsa_set).unwrap(),
                policy(),
            )),
            worst,
        ),
        Outcome::Refused(Error::InvalidSignature),
    ));

    // Header parameters of every JSON type.
    let types: [(&str, Value); 8] = [
        ("null", json!(null)),
        ("true", json!(true)),
        ("false", json!(false)),
        ("an integer", json!(1)),
        ("a float", json!(-1.5e300)),
        ("a string", json!("ES256")),
        ("an array", json!(["ES256"])),
        ("an object", json!({"alg": "ES256"})),
    ];
    for (param, answer) in [
        ("alg", "HeaderParameter"),
        ("kid", "HeaderParameter"),
        ("crit", "crit"),
        ("b64", "b64"),
        ("typ", "accepted"),
        ("cty", "accepted"),
        ("jwk", "accepted"),
        ("jku", "accepted"),
        ("x5c", "accepted"),
        ("zip", "accepted"),
        ("unknown", "accepted"),
    ] {
        for (type_name, value) in &types {
            let mut header = json!({"alg": "ES256", "kid": "p256"});
            header[param] = value.clone();
            let want = match (answer, param, value) {
                // A string `alg` is the algorithm: "ES256" is right here.
                (_, "alg", Value::String(_)) => Outcome::Verified,
                // A string `kid` is looked up: "ES256" names no key.
                (_, "kid", Value::String(_)) => Outcome::Refused(Error::UnknownKey),
                ("HeaderParameter", p, _) => malformed(Malformed::HeaderParameter(if p == "alg" {
                    "alg"
                } else {
                    "kid"
                })),
                ("crit", ..) => malformed(Malformed::UnsupportedCritical),
                ("b64", _, Value::Bool(true)) => Outcome::Verified,
                ("b64", ..) => malformed(Malformed::UnencodedPayload),
                _ => Outcome::Verified,
            };
            cases.push(case(
                format!("header {param} as {type_name}"),
                Input::Token(v(), es256(&header.to_string())),
                want,
            ));
        }
    }
    for (name, alg) in [("NONE", "NONE"), ("empty", ""), ("HS256", "HS256")] {
        let header = json!({"alg": alg, "kid": "p256"}).to_string();
        cases.push(case(
            format!("header alg {name}"),
            Input::Token(v(), es256(&header)),
            Outcome::Refused(Error::AlgorithmNotAllowed(match alg {
                "NONE" => AlgorithmError::None,
                "" => AlgorithmError::Unsupported,
                _ => AlgorithmError::NotAllowed(jwtgate::Algorithm::HS256),
            })),
        ));
    }

    cases.extend(envoy_cases(full));
    cases
}

#[cfg(not(feature = "envoy"))]
fn envoy_cases(_: bool) -> Vec<Case> {
    Vec::new()
}

/// The Envoy configuration: written by an operator, not an attacker, but a typo or a
/// generated file must not hang the proxy either.
#[cfg(feature = "envoy")]
fn envoy_cases(full: bool) -> Vec<Case> {
    let scale = |n: usize, small: usize| if full { n } else { small };
    let config = |providers: Value, rules: Value| {
        json!({"providers": providers, "rules": rules})
            .to_string()
            .into_bytes()
    };
    let says = |name: &str, input: Vec<u8>, text: &'static str| Case {
        name: name.into(),
        input: Input::EnvoyConfig(input),
        want: Want::ConfigSays(text),
    };
    let remote = |i: usize| {
        json!({"issuer": format!("https://issuer-{i}.example"),
               "remote_jwks": {"http_uri": {"uri": format!("https://issuer-{i}.example/jwks"),
                                            "cluster": "issuer"}}})
    };
    let local = json!({"local_jwks": {"inline_string": jwks()}});
    let all = json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]);
    let mut cases = Vec::new();

    let depth = 10_000;
    let nested = format!(
        r#"{{"providers":{{"p":{}{}}},"rules":[]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    cases.push(says(
        "configuration nested 10,000 deep",
        nested.into_bytes(),
        "not valid JSON",
    ));
    let mut providers = serde_json::Map::new();
    let mut rules = Vec::new();
    let n = scale(10_000, 1_000);
    for i in 0..n {
        providers.insert(format!("p{i}"), remote(i));
        rules.push(json!({"match": {"prefix": format!("/{i}/")},
                          "requires": {"provider_name": format!("p{i}")}}));
    }
    cases.push(case(
        format!("configuration of {n} providers and {n} rules naming them"),
        Input::EnvoyConfig(config(Value::Object(providers), Value::Array(rules))),
        Outcome::Configured,
    ));
    let mut providers = serde_json::Map::new();
    let n = scale(1_000, 100);
    for i in 0..n {
        providers.insert(format!("p{i}"), local.clone());
    }
    let first = json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "p0"}}]);
    cases.push(case(
        format!("configuration of {n} providers with local key sets"),
        Input::EnvoyConfig(config(Value::Object(providers), first)),
        Outcome::Configured,
    ));
    let n = scale(10_000, 1_000);
    let headers: Vec<Value> = (0..n)
        .map(|i| json!({"header_name": format!("x-claim-{i}"), "claim_name": "sub"}))
        .collect();
    let mut p = local.clone();
    p["claim_to_headers"] = Value::Array(headers);
    cases.push(case(
        format!("provider copying claims to {n} headers"),
        Input::EnvoyConfig(config(json!({ "p": p }), all.clone())),
        Outcome::Configured,
    ));
    let mut p = local.clone();
    let mib = scale(16, 1);
    p["issuer"] = json!("i".repeat(mib << 20));
    cases.push(case(
        format!("{mib} MiB issuer"),
        Input::EnvoyConfig(config(json!({ "p": p }), all.clone())),
        Outcome::Configured,
    ));
    let mut p = local.clone();
    p["x".repeat(1 << 20)] = json!(1);
    cases.push(says(
        "1 MiB unknown field name",
        config(json!({ "p": p }), all.clone()),
        "is not a field jwtgate supports",
    ));
    let mut p = local;
    p["local_jwks"]["inline_string"] =
        json!(format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(1 << 20)));
    cases.push(says(
        "provider with a 1 MiB inline key set",
        config(json!({ "p": p }), all),
        "larger than",
    ));
    let n = scale(100_000, 10_000);
    let wide: Vec<Value> = (0..n).map(|_| json!({"provider_name": "p"})).collect();
    cases.push(case(
        format!("requires_any of {n} requirements"),
        Input::EnvoyConfig(config(
            json!({"p": {"local_jwks": {"inline_string": jwks()}}}),
            json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": wide}}}]),
        )),
        Outcome::Configured,
    ));
    cases
}
