//! The web front door's Rust functions, in wasm under Node (wasm-bindgen-test): the edges the
//! JS layer smooths over, so that what the package's plain exports (src/web/abi.rs) call stays
//! safe whoever calls it. The crate's wasm imports the engine's `Number` (`jwtgate.number`),
//! which pkg/client-wasm.js gives the package's; here tests/web_bindings/jwtgate.js gives it
//! the same way (`cargo xtask test` puts it on NODE_PATH, where the runner's glue finds it).
#![cfg(all(target_arch = "wasm32", feature = "web"))]

mod common;

use common::*;
use jwtgate::web::{check_options, decode, expires_in, RawSession, RawVerifier};
use jwtgate::Algorithm;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use wasm_bindgen::prelude::{wasm_bindgen, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "jwtgate")]
extern "C" {
    /// Gives tests/web_bindings/jwtgate.js this wasm's memory, which `number` reads.
    fn share(memory: JsValue);
}

/// The import's module set up, before anything parses a number past the fast path.
fn setup() {
    share(wasm_bindgen::memory());
}

/// An error, as the JS layer reads it.
fn thrown(e: String) -> Value {
    json(&e)
}

/// An error passed in band, as JSON text.
fn json(e: &str) -> Value {
    serde_json::from_str(e).expect("JSON")
}

/// An answer that is text, or its error in band: a NUL, then its JSON text.
fn in_band(answer: String) -> Result<String, Value> {
    match answer.strip_prefix('\0') {
        Some(error) => Err(json(error)),
        None => Ok(answer),
    }
}

/// The error `decode` answers with.
fn decode_error(token: &str) -> Value {
    in_band(decode(token)).expect_err("an error")
}

/// The error behind `expiresIn`'s NaN, as `pkg/token.js` asks for it: a `RawSession`'s
/// operation 11, and then its error text.
fn expiry_error(token: &str, now: f64) -> Value {
    assert!(expires_in(token, now).is_nan());
    let mut s = RawSession::new(0.0);
    assert!(s
        .op(11, 0, now, 0.0, Some(token.into()), None, None)
        .is_nan());
    json(&s.text(2).expect("the error"))
}

/// A time as JS passes it: `pkg/verifier-wasm.js` passes anything but a number as NaN.
fn at(seconds: f64) -> f64 {
    seconds
}

fn raw() -> RawVerifier {
    setup();
    let options = json!({"issuer": ISSUER, "audiences": [AUDIENCE]}).to_string();
    RawVerifier::new(&jwks(), &options).unwrap_or_else(|e| panic!("{e}"))
}

#[wasm_bindgen_test]
fn errors_cross_as_json_with_name_code_message_and_claim() {
    let e = thrown(
        raw()
            .verify(
                &token(Algorithm::ES256, &claims_with(json!({"exp": NOW - 3600}))),
                at(NOW as f64),
            )
            .unwrap_err(),
    );
    assert_eq!(e["name"], "JwtError");
    assert_eq!(e["code"], "expired");
    assert_eq!(e["claim"], "exp");
    assert!(e["message"].as_str().unwrap().contains("expired"));
    let e = decode_error("a.b");
    assert_eq!(
        (e["code"].as_str(), e["claim"].is_null()),
        (Some("malformed"), true)
    );
}

#[wasm_bindgen_test]
fn a_time_that_is_not_a_time_is_a_type_error_never_the_epoch() {
    // At 0 every exp is ahead: an expired token would verify if NaN were read as 0.
    let expired = token(
        Algorithm::ES256,
        &claims_with(json!({"exp": NOW - 3600, "nbf": null, "iat": null})),
    );
    // NaN is also what `pkg/verifier-wasm.js` passes for anything that is not a number
    // (`''`, `false`, null), which Node's suites (options.test.mjs) hold it to.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        let e = thrown(raw().verify(&expired, bad).unwrap_err());
        assert_eq!(e["name"], "TypeError", "{bad:?}");
        let e = in_band(raw().prepare(&expired, bad)).unwrap_err();
        assert_eq!(e["name"], "TypeError", "{bad:?}");
        let e = in_band(raw().finish(&expired, 0, bad)).unwrap_err();
        assert_eq!(e["name"], "TypeError", "{bad:?}");
    }
    // `expiresIn` takes a number: pkg/token.js passes anything else as NaN.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        assert_eq!(expiry_error(&expired, bad)["name"], "TypeError");
    }
    assert_eq!(
        thrown(raw().verify(&expired, at(NOW as f64)).unwrap_err())["code"],
        "expired"
    );
}

#[wasm_bindgen_test]
fn fractional_times_and_no_exp() {
    let t = token(Algorithm::EdDSA, &claims());
    assert_eq!(expires_in(&t, NOW as f64 + 0.5), 599.5);
    // Infinity for no `exp`, which `pkg/token.js` answers as null.
    assert_eq!(
        expires_in(
            &token(Algorithm::EdDSA, &claims_with(json!({"exp": null}))),
            0.0
        ),
        f64::INFINITY
    );
    assert!(raw().verify(&t, at(NOW as f64 + 0.999)).is_ok());
    let e = expiry_error(
        &token(Algorithm::EdDSA, &claims_with(json!({"exp": "soon"}))),
        0.0,
    );
    assert_eq!(e["code"], "invalid_claim");
}

/// The numbers the parser's fast path leaves are converted by the JS engine in the npm
/// package's wasm (the import `jwtgate.number`, `src/web/abi.rs`): side by side with Rust's correctly rounded `str::parse`
/// (serde_json's and the Envoy filter's value) on the edges of the range, long numbers and
/// any f64 written shortest; past the largest f64 refused, as there.
#[wasm_bindgen_test]
fn numbers_beyond_the_fast_path_read_as_rust_reads_them() {
    setup();
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut next = || rng.next_u64();
    let mut cases: Vec<String> = [
        "1e400",
        "-1e400",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.2250738585072011e-308",
        "9007199254740993.0",
        "-9007199254740992.5",
        "123456789012345678901234567890",
        "1e-400",
        "-0e99999",
    ]
    .map(String::from)
    .into();
    cases.push(format!("{}e-800", "7".repeat(1000)));
    cases.push(format!("8.98846567431158e307{}1", "0".repeat(900)));
    for _ in 0..3000 {
        let digits = 17 + (next() % 30) as usize;
        let mantissa: String = (0..digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        // JSON's grammar: no leading zero.
        cases.push(format!("1{mantissa}e{}", (next() % 700) as i64 - 350));
        // Any f64, written shortest: most are past the fast path's powers of ten.
        cases.push(format!("-{:e}", f64::from_bits(next() >> 2)));
    }
    for case in cases {
        let want: f64 = case.parse().unwrap();
        let t = format!(
            "{}.c2ln",
            signing_input(r#"{"alg":"ES256"}"#, &format!(r#"{{"exp":{case}}}"#))
        );
        let got = expires_in(&t, 0.0);
        if want.is_finite() {
            assert_eq!(got.to_bits(), want.to_bits(), "{case}");
        } else {
            assert_eq!(expiry_error(&t, 0.0)["code"], "malformed", "{case}");
        }
    }
}

#[wasm_bindgen_test]
fn duplicate_exp_is_malformed_even_on_the_fast_path() {
    let payload = format!(r#"{{"exp":{},"exp":{}}}"#, NOW + 600, NOW + 999_999);
    let t = token_raw(
        Algorithm::ES256,
        r#"{"alg":"ES256","kid":"p256"}"#,
        &payload,
    );
    assert_eq!(expiry_error(&t, NOW as f64)["code"], "malformed");
    assert_eq!(decode_error(&t)["code"], "malformed");
}

#[wasm_bindgen_test]
fn options_and_key_sets_at_the_boundary() {
    for (options, needle) in [
        ("[]", "options must be an object"),
        ("null", "options must be an object"),
        (r#"{"audience":"api"}"#, "did you mean audiences"),
        (
            r#"{"algorithm":"RS256","audiences":5}"#,
            r#"unknown option "algorithm" (did you mean algorithms?)"#,
        ),
        (
            r#"{"clockSkew":5}"#,
            r#"unknown option "clockSkew" (did you mean clockSkewSeconds?)"#,
        ),
        (
            r#"{"clockTolerance":5}"#,
            r#"unknown option "clockTolerance" (did you mean clockSkewSeconds?)"#,
        ),
        (r#"{"audiencesX":5}"#, r#"unknown option "audiencesX""#),
        (
            r#"{"algorithms":["RS256",5]}"#,
            "option algorithms must be an array of algorithm names",
        ),
        (
            r#"{"requiredClaims":["sub",null]}"#,
            "option requiredClaims must be an array of claim names or an object",
        ),
        (
            r#"{"spaceDelimitedClaims":"scope"}"#,
            "option spaceDelimitedClaims must be an array of claim names",
        ),
        (r#"{"maxTokenBytes":0}"#, "maxTokenBytes"),
        (r#"{"clockSkewSeconds":1.5}"#, "clockSkewSeconds"),
        (r#"{"clockSkewSeconds":86401}"#, "clockSkewSeconds"),
        (r#"{"maxTokenBytes":4294967296}"#, "maxTokenBytes"),
        (r#"{"maxTokenBytes":1048577}"#, "maxTokenBytes"),
        (r#"{"issuer":null}"#, "issuer must be a string"),
        (
            r#"{"audiences":null}"#,
            "audiences must be a non-empty string",
        ),
        (r#"{"toJSON":null}"#, "unknown option"),
        (r#"{"algorithms":["RS256","NONE"]}"#, "not an algorithm"),
        (
            r#"{"audiences":[]}"#,
            "audiences must be a non-empty string",
        ),
        (
            r#"{"audiences":["api",""]}"#,
            "audiences must be a non-empty string",
        ),
        (
            r#"{"audiences":""}"#,
            "audiences must be a non-empty string",
        ),
    ] {
        let e = json(&check_options(options).expect("refused"));
        assert_eq!(e["name"], "TypeError", "{options}");
        assert!(
            e["message"].as_str().unwrap().contains(needle),
            "{options}: {e}"
        );
    }
    assert!(check_options(
        r#"{"audiences":"api","algorithms":["HS256"],"clockSkewSeconds":86400,"maxTokenBytes":1048576}"#
    )
    .is_none());
    let e = thrown(RawVerifier::new("{\"keys\":[]}", "{}").err().unwrap());
    assert_eq!(e["code"], "jwks_unavailable");
}

/// The split the npm package verifies through (prepare, the platform's check, finish) gives
/// verify's answers, with the in-wasm primitive standing in for the platform's.
#[wasm_bindgen_test]
fn prepare_and_finish_give_verify_s_answers() {
    let keys = jwtgate::JwkSet::from_json(jwks().as_bytes()).unwrap();
    let now = at(NOW as f64);
    for alg in Algorithm::ALL.into_iter().filter(|a| !a.is_symmetric()) {
        for claims in [
            claims_with(json!({})),
            claims_with(json!({"exp": NOW - 3600})),
        ] {
            let token = token(alg, &claims);
            let plan = in_band(raw().prepare(&token, now)).unwrap();
            let mut parts = plan.split(',');
            assert_eq!(parts.next(), Some(alg.name()));
            let untrusted = jwtgate::UntrustedToken::parse(&token).unwrap();
            let hit = parts
                .map(|i| i.parse::<usize>().unwrap())
                .find(|&i| {
                    keys.keys()[i].verify(alg, untrusted.signing_input(), untrusted.signature())
                })
                .expect("a candidate verifies");
            let split = in_band(raw().finish(&token, hit as i32, now));
            let whole = raw().verify(&token, now);
            assert_eq!(split.is_ok(), whole.is_ok(), "{alg:?}");
            match (split, whole) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a, thrown(b)),
                _ => unreachable!(),
            }
            // No candidate verified: the core's verdict, not the claims'.
            let none = in_band(raw().finish(&token, -1, now)).unwrap_err();
            assert_eq!(none["code"], "invalid_signature", "{alg:?}");
        }
    }
}
