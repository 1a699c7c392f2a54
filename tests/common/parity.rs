//! The side-by-side machinery of the parity tests (`tests/envoy_parity.rs`, the hand-written
//! cases, and `tests/envoy_parity_random.rs`, the generated ones): one Envoy with a listener
//! pair per configuration, jwtgate and `jwt_authn`, the same requests to both, and what each
//! let through compared.

use std::collections::BTreeMap;

use jwtgate::Algorithm;
use serde_json::{json, Value};

use super::envoy::{Envoy, Pair};
use super::http::{request, Resp};
use super::*;

/// Headers that differ between any two listeners whatever the filter does.
pub const PER_LISTENER: &[&str] = &[
    "host",
    "x-request-id",
    "x-forwarded-proto",
    "x-envoy-expected-rq-timeout-ms",
    "content-length",
];

/// What may differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Status,
    Path,
    Header(String),
}

/// One request.
pub struct Probe {
    pub name: String,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

pub fn probe(name: impl Into<String>, path: impl Into<String>, headers: &[(&str, &str)]) -> Probe {
    Probe {
        name: name.into(),
        method: "GET",
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// What one listener answered: the status, and when the upstream answered, what reached it.
#[derive(Debug, PartialEq)]
pub struct Seen {
    pub status: u16,
    pub path: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// The body of an answer the filter gave itself, which says why: jwtgate's error code,
    /// `jwt_authn`'s message. Not compared; a rule for a deliberate difference may read it.
    pub refusal: Option<String>,
}

pub fn seen(r: &Resp) -> Seen {
    let echoed = (r.status == 200)
        .then(|| serde_json::from_slice::<Value>(&r.body).ok())
        .flatten()
        .filter(|v| v.get("headers").is_some());
    let Some(echoed) = echoed else {
        return Seen {
            status: r.status,
            path: None,
            headers: BTreeMap::new(),
            refusal: Some(r.text().trim().to_owned()),
        };
    };
    let headers = echoed["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !PER_LISTENER.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    Seen {
        status: r.status,
        path: echoed["path"].as_str().map(str::to_owned),
        headers,
        refusal: None,
    }
}

/// Every part in which the two answers differ, with both values.
pub fn compare(ours: &Seen, theirs: &Seen) -> Vec<(Part, String)> {
    // Tokens are long: a value is cut to its first 60 characters and its length.
    let show = |v: Option<&String>| match v {
        None => "(absent)".to_owned(),
        Some(s) if s.chars().count() > 60 => {
            let head: String = s.chars().take(60).collect();
            format!("{head:?}… ({} bytes)", s.len())
        }
        Some(s) => format!("{s:?}"),
    };
    if ours.status != theirs.status {
        return vec![(
            Part::Status,
            format!(
                "status: jwtgate {}, jwt_authn {}",
                ours.status, theirs.status
            ),
        )];
    }
    let mut out = Vec::new();
    if ours.path != theirs.path {
        out.push((
            Part::Path,
            format!(
                "path: jwtgate {}, jwt_authn {}",
                show(ours.path.as_ref()),
                show(theirs.path.as_ref())
            ),
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        ours.headers.keys().chain(theirs.headers.keys()).collect();
    for name in names {
        let (a, b) = (ours.headers.get(name), theirs.headers.get(name));
        if a != b && !same_json_object(a, b) {
            out.push((
                Part::Header(name.clone()),
                format!("header {name}: jwtgate {}, jwt_authn {}", show(a), show(b)),
            ));
        }
    }
    out
}

/// Whether both values are the base64 of JSON objects with the same members. jwt_authn writes
/// a claim that is an object (`claim_to_headers`) with its members in its own map's order,
/// which changes from one Envoy run to the next, so such values are compared as JSON.
pub fn same_json_object(a: Option<&String>, b: Option<&String>) -> bool {
    use base64ct::{Base64, Encoding};
    let object = |v: Option<&String>| {
        let bytes = Base64::decode_vec(v?).ok()?;
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    matches!((object(a), object(b)), (Some(x), Some(y)) if x == y)
}

pub const ISSUER_B: &str = "https://b.example";

pub fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// A token from provider `a` (RS256, [`ISSUER`], audience `api`) with these claim changes.
pub fn a_token(changes: Value) -> String {
    token(Algorithm::RS256, &claims_with(changes))
}

/// A token from provider `b` (ES256, [`ISSUER_B`]).
pub fn b_token(changes: Value) -> String {
    let mut c = claims_with(json!({"iss": ISSUER_B, "sub": "bob"}));
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    token(Algorithm::ES256, &c)
}

/// A well-formed token whose signature does not fit its payload (claims swapped in).
pub fn forged(good: &str) -> String {
    forged_with(good, json!({}))
}

/// [`forged`] with these claim changes too.
pub fn forged_with(good: &str, changes: Value) -> String {
    let parts: Vec<&str> = good.split('.').collect();
    let claims = claims_with(merge(json!({"sub": "mallory"}), changes));
    let payload = jwtgate::b64_encode(claims.to_string().as_bytes());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

pub fn keys_of(keys: &[Value]) -> Value {
    json!({"inline_string": json!({"keys": keys}).to_string()})
}

/// Provider `a`: the RSA key, [`ISSUER`], audience `api`, `extra` merged in.
pub fn provider_a(extra: Value) -> Value {
    merge(
        json!({"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": keys_of(&[rsa_jwk()])}),
        extra,
    )
}

/// Provider `b`: the P-256 key, [`ISSUER_B`], audience `api`, `extra` merged in.
pub fn provider_b(extra: Value) -> Value {
    merge(
        json!({"issuer": ISSUER_B, "audiences": [AUDIENCE], "local_jwks": keys_of(&[p256_jwk()])}),
        extra,
    )
}

pub fn merge(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// One Envoy with a listener pair per configuration (see [`Envoy::start_pairs`]); a failure
/// to start panics with Envoy's complaints, not the whole start-up log. A listener port taken
/// between its choice and Envoy's bind (other tests run beside) is a new start on new ports,
/// up to three.
pub fn start_pairs(pairs: &[Pair], clusters: &[(&'static str, u16)], upstream: u16) -> Envoy {
    let mut tries = 0;
    loop {
        let log = match Envoy::start_pairs(pairs, clusters, upstream, 1) {
            Ok(envoy) => return envoy,
            Err(log) => log,
        };
        tries += 1;
        if tries < 3 && log.contains("Address already in use") {
            continue;
        }
        // Envoy's start-up log lists every extension it has: only its complaints matter here.
        let complaints: Vec<&str> = log
            .lines()
            .filter(|l| {
                ["critical", "error", "warning"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .collect();
        panic!("Envoy did not start:\n{}", complaints.join("\n"))
    }
}

/// What `port` answered to `p`; an I/O failure panics, naming `context` and the probe.
pub fn send(port: u16, p: &Probe, context: &str) -> Seen {
    let headers: Vec<(&str, &str)> = p
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    seen(
        &request(port, p.method, &p.path, &headers)
            .unwrap_or_else(|e| panic!("[{context}] {}: {e}", p.name)),
    )
}

/// `examples/envoy/README.md` with line breaks and runs of spaces as one space, and `words`,
/// which does the same to the words a deliberate difference quotes from it.
pub fn readme_words() -> String {
    words(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/envoy/README.md"
        ))
        .unwrap(),
    )
}

pub fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
