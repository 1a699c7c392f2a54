//! `cargo xtask test`: every check and test suite, with one tally at the end.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use crate::install::{self, cmd};

/// Counts from every suite, and the steps that failed outright.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    broken: Vec<String>,
}

impl Tally {
    fn step(&mut self, name: &str, result: Result<(), String>) {
        if let Err(e) = result {
            eprintln!("xtask: {name} failed: {e}");
            self.broken.push(name.to_owned());
        }
    }

    /// The closing line CI reads, over every suite, and the verdict.
    fn finish(self) -> Result<(), String> {
        println!("xtask: {} passed, {} failed", self.passed, self.failed);
        if self.broken.is_empty() && self.failed == 0 {
            Ok(())
        } else {
            Err(format!("failed: {}", self.broken.join(", ")))
        }
    }
}

pub fn run() -> Result<(), String> {
    install::run()?;
    let mut tally = Tally::default();
    tally.step("rustfmt", cmd("cargo", &["fmt", "--all", "--check"]));
    tally.step(
        "clippy",
        cmd(
            "cargo",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                "envoy",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    tally.step(
        "clippy (envoy filter)",
        cmd(
            "cargo",
            &[
                "clippy",
                "-p",
                "jwtgate",
                "--features",
                "envoy",
                "--target",
                "wasm32-wasip1",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    // The npm package's two wasms: the web front door without the in-wasm primitives, and
    // jwtgate/client's without key sets either.
    for features in ["web", "web-client"] {
        tally.step(
            &format!("clippy (npm package, {features}, no signature primitives)"),
            cmd(
                "cargo",
                &[
                    "clippy",
                    "-p",
                    "jwtgate",
                    "--no-default-features",
                    "--features",
                    features,
                    "--target",
                    "wasm32-unknown-unknown",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        );
    }
    for target in ["wasm32-unknown-unknown", "wasm32-wasip1"] {
        tally.step(
            &format!("core build for {target}"),
            cmd(
                "cargo",
                &["build", "--lib", "-p", "jwtgate", "--target", target],
            ),
        );
    }
    // The end-to-end suites need the built artefacts; they are #[ignore]d for plain `cargo test`.
    tally.step(
        "build the Envoy filter, within its size budget",
        crate::build::envoy().and_then(|wasm| {
            use crate::build::ENVOY_BUDGET;
            let size = std::fs::metadata(&wasm).map_err(|e| e.to_string())?.len();
            if size > ENVOY_BUDGET {
                return Err(format!(
                    "the Envoy filter is {size} bytes, over the {ENVOY_BUDGET} budget"
                ));
            }
            Ok(())
        }),
    );
    let result = cargo_test(
        &mut tally,
        &[
            "test",
            "--workspace",
            "--features",
            "envoy,oracle-tests",
            "--",
            "--include-ignored",
        ],
    );
    tally.step("cargo test", result);

    // The web front door's unit tests on the host (its options held to the `Value` reading
    // they replaced, in src/web/options.rs): the workspace run above builds no `web`.
    let result = cargo_test(
        &mut tally,
        &["test", "--lib", "--features", "envoy,web", "--", "web::"],
    );
    tally.step("cargo test (web front door, host)", result);

    // The web front door's Rust functions in wasm under Node; the runner's glue finds the
    // crate's import module `jwtgate` (the engine's `Number`) on NODE_PATH.
    let runner = crate::install::tools().join("wasm-bindgen/bin/wasm-bindgen-test-runner");
    let modules = crate::install::root().join("tests/web_bindings");
    let result = cargo_test_env(
        &mut tally,
        &[
            "test",
            "--target",
            "wasm32-unknown-unknown",
            "--features",
            "web",
            "--test",
            "web_bindings",
        ],
        &[
            (
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                runner.to_str().unwrap(),
            ),
            ("NODE_PATH", modules.to_str().unwrap()),
        ],
    );
    tally.step("web_bindings (wasm under Node)", result);

    node_suite(&mut tally, &[]);
    tally.finish()
}

/// `cargo xtask test node [NAME…]`: only the npm package's suites, those whose file names
/// contain one of NAME (all with none). For working on the JS side without the full run.
pub fn node_only(filters: &[String]) -> Result<(), String> {
    install::run()?;
    crate::build::envoy()?;
    if !crate::web::fixtures().exists() {
        // The attack catalog's test writes the fixtures the Node suites read.
        cmd("cargo", &["test", "-q", "--test", "attacks"])?;
    }
    if !crate::web::fixtures().with_file_name("vectors").exists() {
        // And these the vectors, with the in-wasm answers.
        let tests = [
            "--test",
            "wycheproof",
            "--test",
            "rfc",
            "--test",
            "jwt_verify_lib",
        ];
        cmd("cargo", &[&["test", "-q"][..], &tests].concat())?;
    }
    let mut tally = Tally::default();
    node_suite(&mut tally, filters);
    tally.finish()
}

/// The npm package, as a user installs it, under Node's test runner.
fn node_suite(tally: &mut Tally, filters: &[String]) {
    match crate::build::web().and_then(|size| {
        // A step of its own: over budget fails the run, but the tests still run and report.
        use crate::build::{CLIENT_BUDGET, FULL_BUDGET, WEB_BUDGET};
        let over = [
            ("jwtgate/client", size.client, CLIENT_BUDGET),
            ("jwtgate", size.full, FULL_BUDGET),
            ("jwtgate's wasm + glue", size.wasm_glue, WEB_BUDGET),
        ]
        .into_iter()
        .filter(|(_, size, budget)| size > budget)
        .map(|(what, size, budget)| {
            format!("{what} is {size} bytes gzipped, over the {budget} budget")
        })
        .collect::<Vec<_>>();
        tally.step(
            "npm package size budgets",
            if over.is_empty() {
                Ok(())
            } else {
                Err(over.join("; "))
            },
        );
        let scratch = crate::web::scratch_install()?;
        let mut files =
            crate::web::copy_tests(&crate::install::root().join("tests/node"), &scratch)?;
        if !filters.is_empty() {
            files.retain(|f| {
                let name = f.file_name().unwrap_or_default().to_string_lossy();
                filters.iter().any(|x| name.contains(x.as_str()))
            });
        }
        Ok((scratch, files))
    }) {
        Ok((scratch, files)) => {
            // The machine's Node (20, the oldest the package's `engines` claims) and the
            // current LTS: every suite on both.
            for runtime in [PathBuf::from("node"), crate::install::node_lts()] {
                let version = install::output(runtime.to_str().unwrap(), &["--version"]);
                let name = format!("Node {}", version.trim());
                println!("xtask: the Node suites on {name}");
                match crate::web::node_tests(&runtime, &scratch, &files, &crate::web::fixtures()) {
                    Ok(run) => {
                        tally.passed += run.passed;
                        tally.failed += run.failed;
                        if !run.ok && run.failed == 0 {
                            tally.broken.push(format!("node tests on {name}"));
                        }
                    }
                    Err(e) => tally.step(&format!("node tests on {name}"), Err(e)),
                }
            }
        }
        Err(e) => tally.step("node tests", Err(e)),
    }
}

/// Runs `cargo test …`, echoing its output and adding up its `test result:` lines.
fn cargo_test(tally: &mut Tally, args: &[&str]) -> Result<(), String> {
    cargo_test_env(tally, args, &[])
}

fn cargo_test_env(tally: &mut Tally, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let mut cargo = Command::new("cargo");
    cargo.args(args).envs(env.iter().copied());
    let status = echo(&mut cargo, |line| {
        if let Some(rest) = line.strip_prefix("test result: ") {
            tally.passed += count(rest, " passed");
            tally.failed += count(rest, " failed");
        }
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exit {status}"))
    }
}

/// Runs `command`, echoing its standard output line by line as it comes (a long suite shows
/// where it is) and handing each line to `each`.
pub fn echo(command: &mut Command, mut each: impl FnMut(&str)) -> Result<ExitStatus, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        each(&line);
    }
    child.wait().map_err(|e| e.to_string())
}

/// The number before `label` in "ok. 3 passed; 0 failed; …".
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| part.trim().strip_suffix(label.trim_start()))
        .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_from_a_cargo_summary() {
        let s = "ok. 144 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s";
        assert_eq!(count(s, " passed"), 144);
        assert_eq!(count(s, " failed"), 2);
        assert_eq!(count("FAILED. 1 passed; 1 failed;", " failed"), 1);
    }
}
