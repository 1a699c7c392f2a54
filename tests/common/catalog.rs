//! The attack catalog: hostile tokens and the code each must get. The core's test runs it
//! against the verifier, the Envoy test through the filter.

use jwtgate::{b64_encode, Algorithm, AlgorithmSet, JwkSet, Verifier};
use serde_json::{json, Value};
use signature::Signer;

use super::*;

/// A token with this header over the standard claims, signed with the fixture key for `alg`.
fn headed(alg: Algorithm, header: Value) -> String {
    token_raw(alg, &header.to_string(), &claims().to_string())
}

/// A token with the standard claims and this header, signed with an HMAC `secret`.
fn hmac_with(secret: &[u8], header: Value) -> String {
    let input = signing_input(&header.to_string(), &claims().to_string());
    let mac = hmac_sign::<hmac::Hmac<sha2::Sha256>>(secret, input.as_bytes());
    format!("{input}.{}", b64_encode(&mac))
}

/// A token whose signature part is replaced.
fn resigned(token: &str, signature: &[u8]) -> String {
    let cut = token.rfind('.').unwrap();
    format!("{}.{}", &token[..cut], b64_encode(signature))
}

fn attacker_p256() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap()
}

/// An ES256 token signed with the attacker's own key.
fn attacker_token(header: Value) -> String {
    let input = signing_input(&header.to_string(), &claims().to_string());
    let sig: p256::ecdsa::Signature = attacker_p256().sign(input.as_bytes());
    format!("{input}.{}", b64_encode(&sig.to_bytes()))
}

fn attacker_jwk() -> Value {
    let point = attacker_p256().verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "x": b64_encode(&b[1..33]), "y": b64_encode(&b[33..])})
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from a raw `r || s` signature.
fn der(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        let mut out = vec![0x02];
        let pad = x[0] & 0x80 != 0;
        out.push((x.len() + pad as usize) as u8);
        if pad {
            out.push(0);
        }
        out.extend(x);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

pub struct Case {
    pub name: &'static str,
    pub token: String,
    pub verifier: &'static str,
    pub want: &'static str,
}

fn case(name: &'static str, token: String, want: &'static str) -> Case {
    Case {
        name,
        token,
        verifier: "standard",
        want,
    }
}

fn with(verifier: &'static str, name: &'static str, token: String, want: &'static str) -> Case {
    Case {
        name,
        token,
        verifier,
        want,
    }
}

pub fn catalog() -> Vec<Case> {
    use Algorithm::*;
    let good = token(ES256, &claims());
    let rsa_public = keys().rsa.to_public_key();
    let pem = {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        rsa_public.to_public_key_pem(LineEnding::LF).unwrap()
    };
    let pkcs1_pem = {
        use rsa::pkcs1::{EncodeRsaPublicKey, LineEnding};
        rsa_public.to_pkcs1_pem(LineEnding::LF).unwrap()
    };
    let der_spki = {
        use rsa::pkcs8::EncodePublicKey;
        rsa_public.to_public_key_der().unwrap().as_bytes().to_vec()
    };
    let es_sig = unb64(good.rsplit('.').next().unwrap());
    let rs = token(RS256, &claims());
    let rs_sig = unb64(rs.rsplit('.').next().unwrap());
    let (h, p) = (
        good.split('.').next().unwrap(),
        good.split('.').nth(1).unwrap(),
    );
    let sig_part = good.rsplit('.').next().unwrap();
    let other = token(ES256, &claims_with(json!({"sub": "mallory"})));
    let standard_header = json!({"alg": "ES256", "kid": "p256"});
    let signed_payload = |payload: &str| token_raw(ES256, &standard_header.to_string(), payload);
    let signed_claims = |changes: Value| token(ES256, &claims_with(changes));

    let mut cases = vec![
        case("control: a good token", good.clone(), "ok"),
        // alg none, in any spelling, signed or not.
        case(
            "alg none",
            format!("{}.{p}.", b64_encode(br#"{"alg":"none"}"#)),
            "algorithm_not_allowed",
        ),
        case(
            "alg None",
            format!("{}.{p}.", b64_encode(br#"{"alg":"None"}"#)),
            "algorithm_not_allowed",
        ),
        case(
            "alg NONE",
            format!("{}.{p}.", b64_encode(br#"{"alg":"NONE"}"#)),
            "algorithm_not_allowed",
        ),
        case(
            "alg nOnE with a signature",
            format!(
                "{}.{p}.{sig_part}",
                b64_encode(br#"{"alg":"nOnE","kid":"p256"}"#)
            ),
            "algorithm_not_allowed",
        ),
        // Algorithm confusion: HMAC keyed with the RSA public key.
        case(
            "HS256 keyed with RSA PEM (HMAC not allowed)",
            hmac_with(pem.as_bytes(), json!({"alg": "HS256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        with(
            "hs",
            "HS256 keyed with RSA PEM, kid of the RSA key",
            hmac_with(pem.as_bytes(), json!({"alg": "HS256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        with(
            "hs",
            "HS256 keyed with RSA PKCS#1 PEM, kid of the RSA key",
            hmac_with(pkcs1_pem.as_bytes(), json!({"alg": "HS256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        with(
            "hs",
            "HS256 keyed with RSA DER, kid of the RSA key",
            hmac_with(&der_spki, json!({"alg": "HS256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        with(
            "hs",
            "HS256 keyed with RSA DER, no kid",
            hmac_with(&der_spki, json!({"alg": "HS256"})),
            "invalid_signature",
        ),
        with(
            "rsa_only_hs",
            "HS256 keyed with RSA PEM over an RSA-only set, no kid",
            hmac_with(pem.as_bytes(), json!({"alg": "HS256"})),
            "unknown_key",
        ),
        // Empty and short HMAC secrets.
        with(
            "empty_secret",
            "HS256 with an empty secret and its kid",
            hmac_with(b"", json!({"alg": "HS256", "kid": "empty"})),
            "unknown_key",
        ),
        with(
            "empty_secret",
            "HS256 with an empty secret, no kid",
            hmac_with(b"", json!({"alg": "HS256"})),
            "invalid_signature",
        ),
        with(
            "empty_secret",
            "HS256 whose kid names a 16-byte secret",
            hmac_with(&[1; 16], json!({"alg": "HS256", "kid": "short"})),
            "algorithm_not_allowed",
        ),
        // Signature stripped, swapped, tampered.
        case(
            "stripped signature",
            format!("{h}.{p}."),
            "invalid_signature",
        ),
        case(
            "signature of another token",
            resigned(&good, &unb64(other.rsplit('.').next().unwrap())),
            "invalid_signature",
        ),
        case(
            "payload tampered",
            format!("{h}.{}.{sig_part}", other.split('.').nth(1).unwrap()),
            "invalid_signature",
        ),
        case(
            "header tampered (typ changed)",
            format!(
                "{}.{p}.{sig_part}",
                b64_encode(br#"{"alg":"ES256","kid":"p256","typ":"at+jwt"}"#)
            ),
            "invalid_signature",
        ),
        // ECDSA signature encodings.
        case(
            "ES256 all-zero signature (CVE-2022-21449)",
            resigned(&good, &[0; 64]),
            "invalid_signature",
        ),
        case(
            "ES256 with r = 0",
            resigned(&good, &[[0u8; 32], [1u8; 32]].concat()),
            "invalid_signature",
        ),
        case(
            "ES256 DER-encoded signature",
            resigned(&good, &der(&es_sig)),
            "invalid_signature",
        ),
        case(
            "ES256 truncated signature (63 bytes)",
            resigned(&good, &es_sig[..63]),
            "invalid_signature",
        ),
        case(
            "ES256 signature with a byte appended",
            resigned(&good, &[&es_sig[..], &[0]].concat()),
            "invalid_signature",
        ),
        case(
            "RS256 signature one byte short",
            resigned(&rs, &rs_sig[1..]),
            "invalid_signature",
        ),
        case(
            "RS256 signature with a leading zero",
            resigned(&rs, &[&[0][..], &rs_sig].concat()),
            "invalid_signature",
        ),
        with(
            "hs",
            "HS256 MAC truncated to 16 bytes",
            resigned(&token(HS256, &claims()), &sign(HS256, b"x")[..16]),
            "invalid_signature",
        ),
        // Key choice.
        case(
            "ES256 token whose kid names the RSA key",
            headed(ES256, json!({"alg": "ES256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        case(
            "EdDSA token whose kid names the P-256 key",
            headed(EdDSA, json!({"alg": "EdDSA", "kid": "p256"})),
            "algorithm_not_allowed",
        ),
        with(
            "pinned",
            "key pinned to RS256 used with PS256",
            headed(PS256, json!({"alg": "PS256", "kid": "rsa"})),
            "algorithm_not_allowed",
        ),
        with(
            "pinned",
            "control: key pinned to RS256 used with RS256",
            headed(RS256, json!({"alg": "RS256", "kid": "rsa"})),
            "ok",
        ),
        case(
            "unknown kid",
            headed(ES256, json!({"alg": "ES256", "kid": "nobody"})),
            "unknown_key",
        ),
        case(
            "embedded jwk, attacker key, no kid (CVE-2018-0114)",
            attacker_token(json!({"alg": "ES256", "jwk": attacker_jwk()})),
            "invalid_signature",
        ),
        case(
            "embedded jwk, attacker key, attacker kid",
            attacker_token(json!({"alg": "ES256", "kid": "attacker", "jwk": attacker_jwk()})),
            "unknown_key",
        ),
        case(
            "embedded jwk, attacker key, our kid",
            attacker_token(json!({"alg": "ES256", "kid": "p256", "jwk": attacker_jwk()})),
            "invalid_signature",
        ),
        case(
            "jku to the attacker's set",
            attacker_token(
                json!({"alg": "ES256", "kid": "attacker", "jku": "https://attacker.example/jwks.json"}),
            ),
            "unknown_key",
        ),
        case(
            "x5u to the attacker's certificate",
            attacker_token(
                json!({"alg": "ES256", "kid": "p256", "x5u": "https://attacker.example/cert.pem"}),
            ),
            "invalid_signature",
        ),
        case(
            "x5c with the attacker's certificate",
            attacker_token(json!({"alg": "ES256", "x5c": ["MIIBattacker"]})),
            "invalid_signature",
        ),
        case(
            "control: our signature with a jku header (never fetched)",
            headed(
                ES256,
                json!({"alg": "ES256", "kid": "p256", "jku": "https://attacker.example/jwks.json"}),
            ),
            "ok",
        ),
        with(
            "hs",
            "kid path traversal to /dev/null with an empty secret",
            hmac_with(
                b"",
                json!({"alg": "HS256", "kid": "../../../../../../dev/null"}),
            ),
            "unknown_key",
        ),
        with(
            "hs",
            "kid SQL injection",
            hmac_with(b"x", json!({"alg": "HS256", "kid": "x' UNION SELECT 'x"})),
            "unknown_key",
        ),
        // Header extensions.
        case(
            "unknown crit",
            headed(
                ES256,
                json!({"alg": "ES256", "kid": "p256", "crit": ["exp"], "exp": 1}),
            ),
            "malformed",
        ),
        case(
            "empty crit",
            headed(ES256, json!({"alg": "ES256", "kid": "p256", "crit": []})),
            "malformed",
        ),
        case(
            "b64 false with crit",
            headed(
                ES256,
                json!({"alg": "ES256", "kid": "p256", "b64": false, "crit": ["b64"]}),
            ),
            "malformed",
        ),
        case(
            "b64 false without crit",
            headed(ES256, json!({"alg": "ES256", "kid": "p256", "b64": false})),
            "malformed",
        ),
        case(
            "alg not a string",
            headed(ES256, json!({"alg": ["ES256"], "kid": "p256"})),
            "malformed",
        ),
        case(
            "alg missing",
            headed(ES256, json!({"kid": "p256"})),
            "malformed",
        ),
        case(
            "kid not a string",
            headed(ES256, json!({"alg": "ES256", "kid": 7})),
            "malformed",
        ),
        case(
            "alg in lower case",
            headed(ES256, json!({"alg": "es256", "kid": "p256"})),
            "algorithm_not_allowed",
        ),
        case(
            "alg with a trailing space",
            headed(ES256, json!({"alg": "ES256 ", "kid": "p256"})),
            "algorithm_not_allowed",
        ),
        with(
            "no_eddsa",
            "EdDSA when the policy leaves it out",
            token(EdDSA, &claims()),
            "algorithm_not_allowed",
        ),
        // Time.
        case(
            "expired",
            signed_claims(json!({"exp": now() - 3600})),
            "expired",
        ),
        case(
            "control: expired within the clock skew",
            signed_claims(json!({"exp": now() - 30})),
            "ok",
        ),
        case(
            "not yet valid",
            signed_claims(json!({"nbf": now() + 3600})),
            "not_yet_valid",
        ),
        case(
            "control: nbf within the clock skew",
            signed_claims(json!({"nbf": now() + 30})),
            "ok",
        ),
        case(
            "exp as a string",
            signed_claims(json!({"exp": (now() + 600).to_string()})),
            "invalid_claim",
        ),
        case(
            "exp as null",
            token(ES256, &{
                let mut c = claims();
                c["exp"] = Value::Null;
                c
            }),
            "invalid_claim",
        ),
        case(
            "exp as a boolean",
            signed_claims(json!({"exp": true})),
            "invalid_claim",
        ),
        case(
            "nbf as a string",
            signed_claims(json!({"nbf": "0"})),
            "invalid_claim",
        ),
        case(
            "iat as an object",
            signed_claims(json!({"iat": {}})),
            "invalid_claim",
        ),
        case(
            "exp missing",
            signed_claims(json!({"exp": null})),
            "missing_claim",
        ),
        case(
            "control: exp as a fraction",
            signed_claims(json!({"exp": now() as f64 + 600.5})),
            "ok",
        ),
        // Issuer.
        case(
            "wrong issuer",
            signed_claims(json!({"iss": "https://other.example"})),
            "invalid_issuer",
        ),
        case(
            "missing issuer",
            signed_claims(json!({"iss": null})),
            "missing_claim",
        ),
        case(
            "issuer with a suffix",
            signed_claims(json!({"iss": "https://issuer.example.evil.com"})),
            "invalid_issuer",
        ),
        case(
            "issuer with a trailing slash",
            signed_claims(json!({"iss": "https://issuer.example/"})),
            "invalid_issuer",
        ),
        case(
            "issuer prefix",
            signed_claims(json!({"iss": "https://issuer.exampl"})),
            "invalid_issuer",
        ),
        case(
            "issuer in upper case",
            signed_claims(json!({"iss": "HTTPS://ISSUER.EXAMPLE"})),
            "invalid_issuer",
        ),
        case(
            "issuer with a NUL suffix",
            signed_claims(json!({"iss": "https://issuer.example\u{0}"})),
            "invalid_issuer",
        ),
        case(
            "issuer as an array",
            signed_claims(json!({"iss": [ISSUER]})),
            "invalid_claim",
        ),
        // Audience.
        case(
            "wrong audience",
            signed_claims(json!({"aud": "other"})),
            "invalid_audience",
        ),
        case(
            "missing audience",
            signed_claims(json!({"aud": null})),
            "invalid_audience",
        ),
        case(
            "empty audience array",
            signed_claims(json!({"aud": []})),
            "invalid_audience",
        ),
        case(
            "audience with a trailing space",
            signed_claims(json!({"aud": "api "})),
            "invalid_audience",
        ),
        case(
            "audience as a number",
            signed_claims(json!({"aud": 1})),
            "invalid_claim",
        ),
        case(
            "audience array with a non-string",
            signed_claims(json!({"aud": ["api", 1]})),
            "invalid_claim",
        ),
        case(
            "control: audience in an array",
            signed_claims(json!({"aud": ["other", "api"]})),
            "ok",
        ),
        // Structure.
        case("two parts", format!("{h}.{p}"), "malformed"),
        case("four parts", format!("{good}.{sig_part}"), "malformed"),
        case(
            "five parts (JWE shape)",
            format!("{h}.{p}.{p}.{p}.{sig_part}"),
            "malformed",
        ),
        case("empty string", String::new(), "malformed"),
        case("only dots", "..".into(), "malformed"),
        case(
            "padding on the header",
            format!("{h}=.{p}.{sig_part}"),
            "malformed",
        ),
        case(
            "padding on the signature",
            format!("{h}.{p}.{sig_part}=="),
            "malformed",
        ),
        // Standard-alphabet characters, placed so that every run has them: a re-encoded
        // signature can by chance contain none (one time in fifteen for ES256).
        case(
            "'+' (standard base64) in the signature",
            format!("{h}.{p}.+{}", &sig_part[1..]),
            "malformed",
        ),
        case(
            "'/' (standard base64) in the payload",
            format!("{h}./{}.{sig_part}", &p[1..]),
            "malformed",
        ),
        case(
            "whitespace inside",
            format!("{h}.{p} .{sig_part}"),
            "malformed",
        ),
        case("trailing newline", format!("{good}\n"), "malformed"),
        case(
            "non-JSON header",
            format!("{}.{p}.{sig_part}", b64_encode(b"alg=ES256")),
            "malformed",
        ),
        case(
            "header is a JSON array",
            format!("{}.{p}.{sig_part}", b64_encode(br#"["ES256"]"#)),
            "malformed",
        ),
        case(
            "non-JSON payload, signed",
            signed_payload("sub=alice"),
            "malformed",
        ),
        case(
            "JSON array payload, signed",
            signed_payload(r#"[{"sub":"alice"}]"#),
            "malformed",
        ),
        case(
            "JSON string payload, signed",
            signed_payload(r#""alice""#),
            "malformed",
        ),
        case(
            "duplicate alg in the header",
            token_raw(
                ES256,
                r#"{"alg":"HS256","alg":"ES256","kid":"p256"}"#,
                &claims().to_string(),
            ),
            "malformed",
        ),
        case(
            "duplicate sub in the payload",
            signed_payload(&format!(
                r#"{{"sub":"alice","sub":"admin",{}"#,
                &claims().to_string()[1..]
            )),
            "malformed",
        ),
        case(
            "deeply nested header",
            token_raw(
                ES256,
                &format!(r#"{{"alg":"ES256","kid":"p256","x":{}}}"#, nested(200)),
                &claims().to_string(),
            ),
            "malformed",
        ),
        case(
            "deeply nested payload, signed",
            signed_payload(&format!(
                r#"{{"x":{},{}"#,
                nested(200),
                &claims().to_string()[1..]
            )),
            "malformed",
        ),
        case(
            "deeply nested objects in the payload",
            signed_payload(&format!("{}1{}", r#"{"a":"#.repeat(300), "}".repeat(300))),
            "malformed",
        ),
        case(
            "oversized token",
            format!("{h}.{}.{sig_part}", "A".repeat(17 * 1024)),
            "too_large",
        ),
        case("oversized garbage", "x".repeat(1 << 20), "too_large"),
        case(
            "non-ASCII in the header part",
            format!("é{h}.{p}.{sig_part}"),
            "malformed",
        ),
    ];
    // Each part of a good token, cut anywhere, never panics and is never accepted.
    for cut in (1..good.len()).step_by(7) {
        cases.push(Case {
            name: "truncated good token",
            token: good[..cut].to_string(),
            verifier: "standard",
            want: "refused",
        });
    }
    cases
}

/// The verifier variants the catalog's cases name.
pub const VARIANTS: [&str; 6] = [
    "standard",
    "hs",
    "rsa_only_hs",
    "empty_secret",
    "pinned",
    "no_eddsa",
];

/// A variant, described once for every front door: its key set and the algorithms it accepts
/// (`None`: the default, every asymmetric one). Issuer and audience are always the standard ones.
pub struct Variant {
    pub jwks: Value,
    pub algorithms: Option<Vec<Algorithm>>,
}

pub fn variant(name: &str) -> Variant {
    let asymmetric = || AlgorithmSet::default().iter().collect::<Vec<_>>();
    let with_hs = || Some([asymmetric(), vec![Algorithm::HS256]].concat());
    let all: Value = serde_json::from_str(&jwks()).unwrap();
    match name {
        "standard" => Variant {
            jwks: all,
            algorithms: None,
        },
        "hs" => Variant {
            jwks: all,
            algorithms: with_hs(),
        },
        "rsa_only_hs" => Variant {
            jwks: json!({"keys": [rsa_jwk()]}),
            algorithms: with_hs(),
        },
        "empty_secret" => Variant {
            jwks: json!({"keys": [hmac_jwk(), {"kty": "oct", "kid": "empty", "k": ""},
                                  {"kty": "oct", "kid": "short", "k": b64_encode(&[1; 16])}]}),
            algorithms: with_hs(),
        },
        "pinned" => {
            let mut jwk = rsa_jwk();
            jwk["alg"] = json!("RS256");
            Variant {
                jwks: json!({"keys": [jwk]}),
                algorithms: None,
            }
        }
        "no_eddsa" => Variant {
            jwks: all,
            algorithms: Some(
                asymmetric()
                    .into_iter()
                    .filter(|a| *a != Algorithm::EdDSA)
                    .collect(),
            ),
        },
        other => panic!("no verifier variant {other}"),
    }
}

pub fn verifier_named(name: &str) -> Verifier {
    let v = variant(name);
    let mut p = policy();
    if let Some(algs) = v.algorithms {
        p = p.with_algorithms(algs.into_iter().collect());
    }
    Verifier::new(JwkSet::from_json(v.jwks.to_string().as_bytes()).unwrap(), p)
}
