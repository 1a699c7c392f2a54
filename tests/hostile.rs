//! Hostile inputs get their specific, stable answers and never a panic: huge and crowded key
//! sets, weak and off-curve keys, deeply nested and oversized tokens, header values of every
//! JSON type, and outsized Envoy configurations. What each costs is measured by
//! `cargo bench --bench hostile` over the same inputs (tests/hostile_inputs/).

mod common;
mod hostile_inputs;

use std::panic::{catch_unwind, AssertUnwindSafe};

use hostile_inputs::{cases, run, Outcome, Want};
use jwtgate::Error;

#[test]
fn every_hostile_input_gets_its_answer() {
    let cases = cases(false);
    let mut failures = Vec::new();
    let mut codes = Vec::new();
    for case in &cases {
        let got = match catch_unwind(AssertUnwindSafe(|| run(&case.input))) {
            Ok(got) => got,
            Err(_) => {
                failures.push(format!("{}: PANIC", case.name));
                continue;
            }
        };
        if let Outcome::Refused(e) = &got {
            codes.push((case.name.as_str(), e.code()));
        }
        let ok = match (&case.want, &got) {
            (Want::Is(want), got) => want == got,
            (Want::ConfigSays(text), Outcome::ConfigRefused(message)) => message.contains(text),
            (Want::ConfigSays(_), _) => false,
        };
        if !ok {
            let want = match &case.want {
                Want::Is(want) => format!("{want:?}"),
                Want::ConfigSays(text) => format!("a configuration error saying {text:?}"),
            };
            let mut got = format!("{got:?}");
            got.truncate(300);
            failures.push(format!("{}: want {want}, got {got}", case.name));
        }
    }
    common::assert_all_passed(&failures, cases.len());

    // The codes the front doors report for some of them, spelled out.
    let code = |name: &str| codes.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
    assert_eq!(code("1 MiB JWKS"), Some("jwks_unavailable"));
    assert_eq!(
        code("JWKS of 10,000 small entries (under 512 KiB)"),
        Some("jwks_unavailable")
    );
    assert_eq!(code("token one byte over 16 KiB"), Some("too_large"));
    assert_eq!(
        code("16 KiB token: header of nested arrays"),
        Some("malformed")
    );
    assert_eq!(code("header crit as null"), Some("malformed"));
    assert_eq!(code("header alg NONE"), Some("algorithm_not_allowed"));
    assert_eq!(code("header kid as a string"), Some("unknown_key"));
    assert!(codes.iter().all(|(_, c)| Error::CODES.contains(c)));
}
