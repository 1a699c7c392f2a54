//! The bodies of the fuzz targets, one function per target over the raw input bytes.
//!
//! They live here rather than in `fuzz_targets/` so that `tests/fuzz.rs` can replay the seed
//! corpora and every crash ever found under a plain `cargo test`, through the same code and
//! the same assertions, without libFuzzer. A panic is a finding: besides "does not panic",
//! each target asserts properties that must hold for every input it accepts or refuses.

use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use jwtgate::{b64_encode, Algorithm, Error, JwkSet, Policy, UntrustedToken, Value, Verifier};

/// The oracle targets, `ecdsa_field` and `rsa_montgomery`: the hand-written arithmetic against
/// fiat-crypto and num-bigint (jwtgate's feature `oracle-tests`).
#[cfg(feature = "oracle-tests")]
pub mod oracles;
#[cfg(feature = "oracle-tests")]
pub use oracles::{ecdsa_field, rsa_montgomery};
/// Without jwtgate's `oracle-tests` the arithmetic is not reachable: `cargo xtask test` and
/// the fuzz crate turn it on.
#[cfg(not(feature = "oracle-tests"))]
pub fn ecdsa_field(_data: &[u8]) {}
#[cfg(not(feature = "oracle-tests"))]
pub fn rsa_montgomery(_data: &[u8]) {}

/// The time every target verifies at: the seed tokens are valid then.
pub const NOW: u64 = 1_800_000_000;
/// The issuer and audience the `verify` target's policy requires.
pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api";
/// The longest lifetime the `verify` target's policy accepts.
pub const MAX_LIFETIME: u64 = 3600;

/// The test fixtures' public keys and HMAC secret (tests/common: RSA 2048 from RFC 7515 A.2,
/// P-256 from A.3, a P-384 key, Ed25519 from RFC 8037, a 64-byte `oct` key);
/// `tests/fuzz.rs` checks this file still equals `common::jwks()`.
pub const KEYS: &str = include_str!("../keys.json");
/// The fixture HMAC secret, bytes 0 to 63: the `verify` target signs with it.
pub fn hmac_secret() -> Vec<u8> {
    (0u8..64).collect()
}

/// Errors the core verifier can give: the first eleven of `Error::CODES` (the others belong
/// to the front doors).
const CORE_CODES: &[&str] = Error::CODES.split_at(11).0;

/// Compact JWS parsing: any text is parsed or refused as malformed (or too large), and what
/// is accepted is canonical: re-encoding its parts gives the text back.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match UntrustedToken::parse(text) {
        Ok(token) => {
            let parts: Vec<&str> = text.split('.').collect();
            assert_eq!(parts.len(), 3, "accepted a token of {} parts", parts.len());
            assert_eq!(
                b64_encode(token.payload()),
                parts[1],
                "payload not canonical"
            );
            assert_eq!(
                b64_encode(token.signature()),
                parts[2],
                "signature not canonical"
            );
            assert_eq!(
                token.signing_input(),
                &text.as_bytes()[..parts[0].len() + 1 + parts[1].len()]
            );
            let header = token.header();
            assert!(matches!(
                header.members().get("alg"),
                Some(Value::String(_))
            ));
            assert!(!header.members().contains_key("crit"));
            let _ = header.algorithm();
            let _ = token.claims_unverified();
        }
        Err(e) => assert!(
            matches!(e.code(), "malformed" | "too_large"),
            "parsing gave {e:?}"
        ),
    }
}

/// jwtgate's strict JSON parser, reached through a token's payload, against serde_json: what
/// jwtgate accepts, serde_json reads as the same value.
pub fn json(data: &[u8]) {
    // {"alg":"ES256"}; an empty signature is well-formed base64url.
    let text = format!("eyJhbGciOiJFUzI1NiJ9.{}.", b64_encode(data));
    let token = match UntrustedToken::parse(&text) {
        Ok(token) => token,
        Err(e) => {
            assert!(e.code() == "too_large", "{e:?}");
            return;
        }
    };
    let reference = serde_json::from_slice::<Value>(data);
    match token.claims_unverified() {
        Ok(map) => {
            let ours = Value::Object(map);
            match reference {
                Ok(theirs) => assert_eq!(ours, theirs, "jwtgate and serde_json disagree"),
                // serde_json stops at 127 levels of nesting, jwtgate at 128.
                Err(e) => assert!(depth(&ours) == 128, "serde_json refuses it ({e}): {ours}"),
            }
        }
        Err(Error::Malformed(m)) => {
            use jwtgate::{Malformed, Part};
            match m {
                Malformed::NotAnObject(Part::Payload) => {
                    if let Ok(theirs) = reference {
                        assert!(!theirs.is_object(), "an object called not one: {theirs}");
                    }
                }
                // serde_json keeps the last duplicate, and a syntax error may come later.
                Malformed::DuplicateMember(Part::Payload) => {}
                // serde_json nests less deeply, so the only JSON it reads that jwtgate may
                // refuse has more than 32 numbers needing the exact (slow) conversion.
                Malformed::Json(Part::Payload) => {
                    if let Ok(theirs) = reference {
                        assert!(
                            numbers(&theirs) > 32,
                            "jwtgate refuses what serde_json reads: {theirs}"
                        );
                    }
                }
                other => panic!("payload refused as {other:?}"),
            }
        }
        Err(e) => panic!("payload refused with {e:?}"),
    }
}

/// Key set parsing, then every usable key against signatures made of the input: a set is
/// usable or refused with `jwks_unavailable`, and no key, however odd, panics in verification.
pub fn jwks(data: &[u8]) {
    let set = match JwkSet::from_json(data) {
        Ok(set) => set,
        Err(e) => {
            assert_eq!(e.code(), "jwks_unavailable", "{e:?}");
            return;
        }
    };
    assert!(!set.is_empty());
    assert!(set.len() + set.parse_report().len() <= JwkSet::MAX_KEYS);
    // The usable keys are the entries not skipped, in order: find each one's RSA modulus so
    // that signatures of its exact length (the only ones that reach the arithmetic) are tried.
    let entries: Vec<Value> = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(mut doc)) => match doc.remove("keys") {
            Some(Value::Array(entries)) => entries,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let skipped: Vec<usize> = set.parse_report().iter().map(|s| s.index).collect();
    let moduli = (0..entries.len())
        .filter(|i| !skipped.contains(i))
        .map(|i| modulus(&entries[i]));
    for (key, n) in set.keys().iter().zip(moduli.chain(std::iter::repeat(None))) {
        let mut signatures: Vec<Vec<u8>> = [0, 32, 48, 64, 96, 256]
            .iter()
            .map(|&len| cycle(data, len))
            .collect();
        if let Some(n) = n {
            // The modulus itself and its neighbours: a signature must be below it.
            let mut below = n.clone();
            if let Some(last) = below.last_mut() {
                *last = last.wrapping_sub(1);
            }
            signatures.push(cycle(data, n.len()));
            signatures.push(n);
            signatures.push(below);
        }
        for alg in Algorithm::ALL.into_iter().filter(|a| key.fits(*a)) {
            for signature in &signatures {
                let _ = key.verify(alg, data, signature);
            }
        }
    }
}

/// The Envoy filter's configuration parser: any bytes are a configuration or a reason.
#[cfg(feature = "envoy")]
pub fn envoy_config(data: &[u8]) {
    use jwtgate::envoy::config::Config;
    match Config::from_json(data) {
        Ok(config) => {
            assert!(!config.providers.is_empty() && !config.rules.is_empty());
            for p in &config.providers {
                assert!(
                    !p.locations.is_empty(),
                    "provider {} has nowhere to look",
                    p.name
                );
            }
            let headers = [("x-a", "b")];
            let _ = config.rule_for("/a/b?c=d", &headers);
            let _ = config.rule_for("", &[]);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Without the `envoy` feature there is no configuration parser to fuzz.
#[cfg(not(feature = "envoy"))]
pub fn envoy_config(_data: &[u8]) {}

/// Full verification against the fixture keys. The first byte picks the mode:
///
/// - even: the rest is a token, verified as it is. Nothing made by mutation verifies, so this
///   explores parsing, key choice and the signature checks.
/// - odd: the rest is `header JSON \0 payload JSON`, which the target signs with the fixture
///   HMAC key (HS256, HS384 or HS512 by the first byte) so that the claim checks are reached:
///   a token that verifies must satisfy the policy, checked here independently.
pub fn verify(data: &[u8]) {
    verify_code(data);
}

/// The `verify` target: "ok" or the error code, `None` for an input it skips.
pub fn verify_code(data: &[u8]) -> Option<&'static str> {
    let (&mode, rest) = data.split_first()?;
    // Built once: parsing the RSA key would otherwise cost more than most inputs.
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let policy = Policy::new()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .allow(Algorithm::HS256)
            .allow(Algorithm::HS384)
            .allow(Algorithm::HS512)
            .max_lifetime(MAX_LIFETIME);
        Verifier::new(JwkSet::from_json(KEYS.as_bytes()).unwrap(), policy)
    });
    let token = if mode & 1 == 0 {
        std::str::from_utf8(rest).ok()?.to_owned()
    } else {
        let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let (header, payload) = (&rest[..split], rest.get(split + 1..).unwrap_or(&[]));
        let alg =
            [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512][usize::from(mode >> 1) % 3];
        let input = format!("{}.{}", b64_encode(header), b64_encode(payload));
        let signature = hmac(alg, input.as_bytes());
        format!("{input}.{}", b64_encode(&signature))
    };
    match verifier.verify_at(&token, NOW) {
        Ok(verified) => {
            let claims = verified.claims();
            assert_eq!(
                claims.issuer(),
                Some(ISSUER),
                "verified with iss {:?}",
                claims.get("iss")
            );
            let aud_ok = match claims.get("aud") {
                Some(Value::String(a)) => a == AUDIENCE,
                Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(AUDIENCE)),
                _ => false,
            };
            assert!(aud_ok, "verified with aud {:?}", claims.get("aud"));
            let exp = claims.expiration().expect("verified without a numeric exp");
            let now = NOW as f64;
            assert!(
                now < exp + 60.0 && exp - now <= MAX_LIFETIME as f64,
                "exp {exp}"
            );
            match claims.get("nbf") {
                None => {}
                Some(nbf) => assert!(nbf.as_f64().is_some_and(|nbf| nbf <= now + 60.0)),
            }
            if let Some(iat) = claims.get("iat") {
                assert!(iat.is_number(), "verified with iat {iat}");
            }
            let alg = verified
                .header()
                .algorithm()
                .expect("verified an unknown alg");
            assert!(verifier.policy().algorithms().contains(alg));
            Some("ok")
        }
        Err(e) => {
            assert!(CORE_CODES.contains(&e.code()), "verification gave {e:?}");
            Some(e.code())
        }
    }
}

fn hmac(alg: Algorithm, input: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(input: &[u8]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(&hmac_secret()).expect("any length");
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
    match alg {
        Algorithm::HS384 => run::<Hmac<sha2::Sha384>>(input),
        Algorithm::HS512 => run::<Hmac<sha2::Sha512>>(input),
        _ => run::<Hmac<sha2::Sha256>>(input),
    }
}

/// `len` bytes of `data` repeated (zeros when it is empty).
fn cycle(data: &[u8], len: usize) -> Vec<u8> {
    if data.is_empty() {
        return vec![0; len];
    }
    data.iter().copied().cycle().take(len).collect()
}

/// An RSA entry's modulus, without leading zeros, as jwtgate reads it.
fn modulus(entry: &Value) -> Option<Vec<u8>> {
    use independent_base64::decode;
    let n = entry.get("n")?.as_str()?.trim_end_matches('=');
    let bytes = decode(n)?;
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Some(bytes[start..].to_vec())
}

/// How deeply arrays and objects nest in `v` (a scalar is 0).
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// How many numbers `v` holds.
fn numbers(v: &Value) -> usize {
    match v {
        Value::Number(_) => 1,
        Value::Array(items) => items.iter().map(numbers).sum(),
        Value::Object(map) => map.values().map(numbers).sum(),
        _ => 0,
    }
}

/// Base64url decoding written apart from jwtgate's own decoder, so that the target does not
/// share a bug with what it tests.
mod independent_base64 {
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0);
        for c in text.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            acc = (acc << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}

/// jwtgate's own P-256 (`src/crypto/ecdsa/`) against the RustCrypto `p256` crate it replaced:
/// both must accept the same keys and the same signatures. Bytes 0..32 and byte 32 (the
/// case) steer it; the rest is the message. By the case, modulo 4:
///
/// - 0: the key is written by the fuzzer (x = bytes 0..32, y = the message's first 32,
///   repeated if short), and, when both take it, so is the signature (the message's bytes
///   from 32 on, repeated to 64).
/// - 1 to 3: bytes 0..32 are a secret key (inputs the `p256` crate refuses are skipped), which
///   signs the message (RFC 6979): 1 verifies it as it is, and both must accept it; 2 XORs
///   the message's last bytes into the signature; 3 sets r or s to 0, 1, n - 1, n, p,
///   2^256 - 1 or (for s) n - s, by the case's upper bits.
///
/// It is slow under libFuzzer, about 50 inputs a second here: the instrumented `p256` crate
/// derives a key, signs and verifies for every input.
pub fn es256(data: &[u8]) {
    es256_verdict(data);
}

/// The `es256` target: whether the signature verified (both agreeing), `None` when the input
/// was skipped or the key refused by both.
pub fn es256_verdict(data: &[u8]) -> Option<bool> {
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    let (d, rest) = data.split_at_checked(32)?;
    let (&case, message) = rest.split_first()?;
    let jwk = |x: &[u8], y: &[u8]| {
        let text = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            b64_encode(x),
            b64_encode(y)
        );
        jwtgate::Jwk::from_json(text.as_bytes())
    };
    let compare = |key: &VerifyingKey, ours: &jwtgate::Jwk, message: &[u8], sig: &[u8]| {
        let theirs = Signature::from_slice(sig).is_ok_and(|s| key.verify(message, &s).is_ok());
        let got = ours.verify(Algorithm::ES256, message, sig);
        assert_eq!(got, theirs, "signature {sig:02x?} on {message:02x?}");
        got
    };
    if case % 4 == 0 {
        let y = cycle(message, 32);
        let mut point = vec![4u8];
        point.extend_from_slice(d);
        point.extend_from_slice(&y);
        let theirs = VerifyingKey::from_sec1_bytes(&point);
        let ours = jwk(d, &y);
        assert_eq!(ours.is_ok(), theirs.is_ok(), "point x {d:02x?} y {y:02x?}");
        let (Ok(theirs), Ok(ours)) = (theirs, ours) else {
            return None;
        };
        let sig = cycle(message.get(32..).unwrap_or_default(), 64);
        return Some(compare(&theirs, &ours, message, &sig));
    }
    let key = SigningKey::from_slice(d).ok()?;
    let public = *key.verifying_key();
    let sec1 = public.to_sec1_point(false);
    let ours = jwk(&sec1.as_bytes()[1..33], &sec1.as_bytes()[33..]).expect("a valid key");
    let signature: Signature = key.sign(message);
    let mut sig = signature.to_bytes().to_vec();
    match case % 4 {
        1 => {
            assert!(compare(&public, &ours, message, &sig), "a valid signature");
            return Some(true);
        }
        2 => {
            let mask = &message[message.len().saturating_sub(64)..];
            sig.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
        }
        _ => {
            const N: [u8; 32] =
                hex(b"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
            const P: [u8; 32] =
                hex(b"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
            // n - 1 and n - s by the p256 crate's own negation.
            let minus = |x: p256::Scalar| -> [u8; 32] { (-x).to_bytes().into() };
            let mut one = [0u8; 32];
            one[31] = 1;
            let specials = [
                [0; 32],
                one,
                minus(p256::Scalar::from(1u64)),
                N,
                P,
                [0xff; 32],
                minus(*signature.s()),
            ];
            let which = usize::from(case >> 2);
            let half = if which % 2 == 0 { 0 } else { 32 };
            sig[half..half + 32].copy_from_slice(&specials[(which / 2) % specials.len()]);
        }
    }
    Some(compare(&public, &ours, message, &sig))
}

/// A 64-digit hex string as 32 big-endian bytes.
const fn hex(text: &[u8; 64]) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    out
}
