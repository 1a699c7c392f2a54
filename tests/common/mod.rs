//! Keys and a signer for the tests: jwtgate only verifies, so tests sign with the RustCrypto
//! crates directly.
#![allow(dead_code)]

use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use jwtgate::{b64_encode, Algorithm};
use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};
use signature::{RandomizedSigner, SignatureEncoding, Signer};

/// Fails with every case's failure at once, rather than stopping at the first.
pub fn assert_all_passed(failures: &[String], cases: usize) {
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cases the npm suites replay through the package in Node, headless Chromium and workerd: a
/// key set, the npm `Verifier`'s options, a token, a time, and the code the core gave here with
/// its in-wasm primitives (the Envoy filter's), which the package must give too. Written to
/// `target/tmp/vectors/<family>.json`.
#[derive(Default)]
pub struct Exported(Vec<Value>);

impl Exported {
    /// Records `verifier`'s answer for `token` at `now`, under the npm `options` that make the
    /// same policy, and returns it.
    pub fn verify(
        &mut self,
        name: &str,
        (verifier, jwks, options): (&jwtgate::Verifier, &Value, Value),
        token: &str,
        now: u64,
    ) -> &'static str {
        let got = match verifier.verify_at(token, now) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.0.push(json!({
            "name": name, "jwks": jwks, "options": options, "token": token, "now": now, "want": got
        }));
        got
    }

    pub fn write(&self, family: &str) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("vectors");
        std::fs::create_dir_all(&dir).unwrap();
        let doc = json!({ "family": family, "cases": self.0 });
        std::fs::write(dir.join(format!("{family}.json")), doc.to_string()).unwrap();
    }
}

/// The npm `algorithms` option for the default policy with `allow` added.
pub fn npm_algorithms(allow: &[&str]) -> Value {
    let mut algs: Vec<&str> = Algorithm::ALL
        .iter()
        .filter(|a| !a.is_symmetric())
        .map(|a| a.name())
        .collect();
    algs.extend_from_slice(allow);
    json!(algs)
}

/// The time every test runs at unless it says otherwise.
pub const NOW: u64 = 1_800_000_000;

static BASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(NOW);

/// The time tokens are made for: [`NOW`], or the real clock after [`use_live_clock`].
pub fn now() -> u64 {
    BASE.load(std::sync::atomic::Ordering::SeqCst)
}

/// For tests against a verifier that reads the real clock (Envoy): tokens are made for now.
pub fn use_live_clock() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    BASE.store(secs, std::sync::atomic::Ordering::SeqCst);
}
pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api";

pub struct Keys {
    pub rsa: rsa::PrivateKey,
    pub p256: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub ed25519: ed25519_dalek::SigningKey,
    pub hmac: Vec<u8>,
}

pub fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    // Embedded, not read: the wasm tests have no file system.
    V.get_or_init(|| serde_json::from_str(include_str!("../data/rfc-vectors.json")).unwrap())
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

fn big(s: &Value) -> BoxedUint {
    let bytes = unb64(s.as_str().unwrap());
    BoxedUint::from_be_slice(&bytes, (bytes.len() * 8) as u32).unwrap()
}

pub fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        // RFC 7515 A.2's 2048-bit key and A.3's P-256 key; RFC 8037 A.1's Ed25519 key.
        let a2 = &vectors()["rfc7515"]["a2"]["jwk"];
        let rsa = rsa::PrivateKey::from_components(
            big(&a2["n"]),
            big(&a2["e"]),
            big(&a2["d"]),
            vec![big(&a2["p"]), big(&a2["q"])],
        )
        .unwrap();
        let a3 = &vectors()["rfc7515"]["a3"]["jwk"];
        let p256 = p256::ecdsa::SigningKey::from_slice(&unb64(a3["d"].as_str().unwrap())).unwrap();
        let p384 = p384::ecdsa::SigningKey::from_slice(&[0x2a; 48]).unwrap();
        let ed = unb64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
        let ed25519 = ed25519_dalek::SigningKey::from_bytes(&ed.try_into().unwrap());
        Keys {
            rsa,
            p256,
            p384,
            ed25519,
            hmac: (0u8..64).collect(),
        }
    })
}

/// The `kid` under which the fixture key for `alg` is published.
pub fn kid_for(alg: Algorithm) -> &'static str {
    match alg.name().as_bytes()[0] {
        b'R' | b'P' => "rsa",
        b'H' => "hmac",
        _ if alg == Algorithm::ES256 => "p256",
        _ if alg == Algorithm::ES384 => "p384",
        _ => "ed25519",
    }
}

pub fn rsa_jwk() -> Value {
    let public = keys().rsa.to_public_key();
    json!({"kty": "RSA", "kid": "rsa", "n": b64_encode(&public.n().to_be_bytes()),
           "e": b64_encode(&strip(&public.e().to_be_bytes()))})
}

fn strip(b: &[u8]) -> Vec<u8> {
    b.iter().copied().skip_while(|&x| x == 0).collect()
}

fn ec_jwk(kid: &str, crv: &str, sec1: &[u8]) -> Value {
    let half = (sec1.len() - 1) / 2;
    json!({"kty": "EC", "kid": kid, "crv": crv,
           "x": b64_encode(&sec1[1..1 + half]), "y": b64_encode(&sec1[1 + half..])})
}

pub fn p256_jwk() -> Value {
    ec_jwk(
        "p256",
        "P-256",
        keys().p256.verifying_key().to_sec1_point(false).as_bytes(),
    )
}

pub fn p384_jwk() -> Value {
    ec_jwk(
        "p384",
        "P-384",
        keys().p384.verifying_key().to_sec1_point(false).as_bytes(),
    )
}

pub fn ed25519_jwk() -> Value {
    json!({"kty": "OKP", "kid": "ed25519", "crv": "Ed25519",
           "x": b64_encode(keys().ed25519.verifying_key().as_bytes())})
}

pub fn hmac_jwk() -> Value {
    json!({"kty": "oct", "kid": "hmac", "k": b64_encode(&keys().hmac)})
}

/// Every fixture key, public halves only (and the HMAC secret).
pub fn jwks() -> String {
    json!({"keys": [rsa_jwk(), p256_jwk(), p384_jwk(), ed25519_jwk(), hmac_jwk()]}).to_string()
}

/// Signs `input` with the fixture key for `alg`.
pub fn sign(alg: Algorithm, input: &[u8]) -> Vec<u8> {
    let k = keys();
    let mut rng = ChaCha8Rng::from_seed([7; 32]);
    use Algorithm::*;
    match alg {
        RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(k.rsa.clone())
            .sign(input)
            .to_bytes()
            .to_vec(),
        RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(k.rsa.clone())
            .sign(input)
            .to_bytes()
            .to_vec(),
        RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(k.rsa.clone())
            .sign(input)
            .to_bytes()
            .to_vec(),
        PS256 => rsa::pss::SigningKey::<Sha256>::new(k.rsa.clone())
            .sign_with_rng(&mut rng, input)
            .to_bytes()
            .to_vec(),
        PS384 => rsa::pss::SigningKey::<Sha384>::new(k.rsa.clone())
            .sign_with_rng(&mut rng, input)
            .to_bytes()
            .to_vec(),
        PS512 => rsa::pss::SigningKey::<Sha512>::new(k.rsa.clone())
            .sign_with_rng(&mut rng, input)
            .to_bytes()
            .to_vec(),
        ES256 => Signer::<p256::ecdsa::Signature>::sign(&k.p256, input)
            .to_bytes()
            .to_vec(),
        ES384 => Signer::<p384::ecdsa::Signature>::sign(&k.p384, input)
            .to_bytes()
            .to_vec(),
        EdDSA => k.ed25519.sign(input).to_bytes().to_vec(),
        HS256 => hmac_sign::<Hmac<Sha256>>(&k.hmac, input),
        HS384 => hmac_sign::<Hmac<Sha384>>(&k.hmac, input),
        HS512 => hmac_sign::<Hmac<Sha512>>(&k.hmac, input),
    }
}

pub fn hmac_sign<M: Mac + KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// `header.payload` from JSON texts, unsigned.
pub fn signing_input(header: &str, payload: &str) -> String {
    format!(
        "{}.{}",
        b64_encode(header.as_bytes()),
        b64_encode(payload.as_bytes())
    )
}

/// A token with exactly these header and payload texts, signed for `alg`.
pub fn token_raw(alg: Algorithm, header: &str, payload: &str) -> String {
    let input = signing_input(header, payload);
    let sig = sign(alg, input.as_bytes());
    format!("{input}.{}", b64_encode(&sig))
}

/// A token for `alg` with the fixture `kid` and these claims.
pub fn token(alg: Algorithm, claims: &Value) -> String {
    let header = json!({"alg": alg.name(), "kid": kid_for(alg), "typ": "JWT"});
    token_raw(alg, &header.to_string(), &claims.to_string())
}

/// Claims that pass the standard policy at [`NOW`].
pub fn claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now - 10, "nbf": now - 10,
           "exp": now + 600, "jti": "t-1"})
}

/// `claims()` with members replaced (`null` removes one).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

pub fn policy() -> jwtgate::Policy {
    jwtgate::Policy::new().issuer(ISSUER).audience(AUDIENCE)
}

pub fn verifier_with(policy: jwtgate::Policy) -> jwtgate::Verifier {
    jwtgate::Verifier::new(
        jwtgate::JwkSet::from_json(jwks().as_bytes()).unwrap(),
        policy,
    )
}

pub fn verifier() -> jwtgate::Verifier {
    verifier_with(policy())
}

/// The error code for verifying `token` with `verifier` at [`now`], or "ok".
pub fn outcome(verifier: &jwtgate::Verifier, token: &str) -> &'static str {
    match verifier.verify_at(token, now()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

pub mod catalog;
pub mod envoy;
pub mod http;
pub mod issuer;
pub mod parity;
