//! `cargo xtask fuzz [SECONDS] [TARGET…]`: every fuzz target (or those named) under libFuzzer
//! for SECONDS each, then one line per target; exits non-zero if any crashed.
//!
//! Not part of `cargo xtask test`: installing cargo-fuzz and building the instrumented targets
//! takes about 3.5 minutes on a fresh machine before the first input runs, and a few seconds
//! of fuzzing would find little. The seeds and every crash found are replayed by the plain
//! `cargo test` in `tests/fuzz.rs` instead.

use std::process::{Command, Stdio};

use crate::install::{self, root};

/// The targets, as in fuzz/Cargo.toml and fuzz/src/lib.rs.
const TARGETS: [&str; 8] = [
    "token",
    "json",
    "jwks",
    "envoy_config",
    "verify",
    "es256",
    "ecdsa_field",
    "rsa_montgomery",
];
const DEFAULT_SECONDS: u64 = 60;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    for arg in args {
        if let Ok(n) = arg.parse::<u64>() {
            seconds = n.max(1);
        } else if TARGETS.contains(&arg.as_str()) {
            targets.push(arg.as_str());
        } else {
            return Err(format!(
                "usage: cargo xtask fuzz [SECONDS] [TARGET…]; targets: {}",
                TARGETS.join(" ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    install::fuzz()?;
    let fuzz = root().join("fuzz");
    let built = cargo_fuzz(&["build"])
        .status()
        .map_err(|e| format!("cargo-fuzz: {e}"))?;
    if !built.success() {
        return Err("building the fuzz targets failed".into());
    }

    let mut crashed = Vec::new();
    for target in &targets {
        // New inputs go to a working corpus under target/ (ignored); the committed seeds in
        // fuzz/corpus/ stay the few files they are.
        let work = fuzz.join("target").join("work-corpus").join(target);
        let log = fuzz
            .join("target")
            .join("logs")
            .join(format!("{target}.log"));
        for dir in [&work, &fuzz.join("target").join("logs")] {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let seeds = fuzz.join("corpus").join(target);
        eprintln!(
            "xtask: fuzzing {target} for {seconds} s (log: {})",
            log.display()
        );
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = cargo_fuzz(&[
            "run",
            target,
            work.to_str().unwrap(),
            seeds.to_str().unwrap(),
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ])
        .stdout(Stdio::null())
        .stderr(out)
        .status()
        .map_err(|e| format!("cargo-fuzz: {e}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let runs = stat(&text, "stat::number_of_executed_units:");
        let corpus = std::fs::read_dir(&work).map_or(0, |d| d.count());
        if status.success() {
            println!("fuzz {target}: ok, {runs} runs in {seconds} s, working corpus {corpus}");
        } else {
            let artifact = text
                .lines()
                .find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim()))
                .unwrap_or("(no artifact: see the log)");
            println!("fuzz {target}: CRASHED after {runs} runs; input {artifact}");
            // The panic and its message, not cargo-fuzz's own backtrace after them.
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.iter().position(|l| l.contains("panicked at"));
            let from = from.or_else(|| lines.iter().position(|l| l.contains("ERROR:")));
            for line in lines.iter().skip(from.unwrap_or(0)).take(12) {
                eprintln!("  {line}");
            }
            crashed.push(*target);
        }
    }
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crashed: {}. Minimise with `RUSTC_BOOTSTRAP=1 .tools/cargo-fuzz/bin/cargo-fuzz fuzz \
             tmin TARGET INPUT`, then add the input to tests/data/fuzz/TARGET/",
            crashed.join(", ")
        ))
    }
}

/// cargo-fuzz from the repository root, at low priority: the machine is shared.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut command = Command::new("nice");
    command
        .args(["-n", "10"])
        .arg(install::cargo_fuzz())
        .arg("fuzz")
        .args(args)
        .current_dir(root())
        // cargo-fuzz passes `-Z` flags (sanitizers, coverage) that only nightly takes; this
        // lets the one stable toolchain take them, as nightly's are the same compiler.
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// The number after `key` in libFuzzer's final statistics.
fn stat(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
