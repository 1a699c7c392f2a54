//! What each hostile input of tests/hostile_inputs/ costs: `cargo bench --bench hostile`
//! prints the median time of each (optimised build), so that "bounded" is a number.
//! `cargo bench --bench hostile -- FILTER` times only the cases whose names contain FILTER.
//!
//! A plain timing loop rather than a benchmark framework: the inputs cost micro- to
//! milliseconds each, and a median over a fixed time is all the question needs.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/hostile_inputs/mod.rs"]
mod hostile_inputs;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Each case runs for about this long (at least 3 times, at most 1000).
const BUDGET: Duration = Duration::from_millis(300);

fn main() {
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cases = hostile_inputs::cases(true);
    println!(
        "{:>12} {:>12}  {:<28} case",
        "median µs", "max µs", "answer"
    );
    for case in &cases {
        if !filter.is_empty() && !filter.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        let mut times = Vec::new();
        let start = Instant::now();
        let mut answer = String::new();
        while times.len() < 3 || (start.elapsed() < BUDGET && times.len() < 1000) {
            let t = Instant::now();
            let outcome = black_box(hostile_inputs::run(black_box(&case.input)));
            times.push(t.elapsed());
            if answer.is_empty() {
                answer = short(&outcome);
            }
        }
        times.sort();
        let median = times[times.len() / 2];
        let max = times[times.len() - 1];
        println!(
            "{:>12.1} {:>12.1}  {:<28} {}",
            median.as_secs_f64() * 1e6,
            max.as_secs_f64() * 1e6,
            answer,
            case.name
        );
    }
}

/// The outcome in a few words: the error code, or what was accepted.
fn short(outcome: &hostile_inputs::Outcome) -> String {
    use hostile_inputs::Outcome::*;
    match outcome {
        KeySet(skipped) => format!("key set ({} skipped)", skipped.len()),
        Verified => "verified".into(),
        Refused(e) => e.code().into(),
        Configured => "configured".into(),
        ConfigRefused(_) => "configuration refused".into(),
    }
}
