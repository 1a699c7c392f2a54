//! `cargo xtask <command>`: the project's commands, so a fresh clone needs nothing but cargo.

mod bench;
mod build;
mod demo;
mod exports;
mod fuzz;
mod install;
mod test;
mod web;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

  test      install what is missing, then build and run every test
            (test node [NAME…]: only the npm package's suites, by file name)
  build     dist/jwtgate_envoy.wasm (the Envoy filter) and pkg/ (the npm package)
  demo      start the demo app, token issuer and API behind Envoy on loopback; prints the URL
            (demo verify …: verify a token against a JWKS; cargo xtask demo --help)
  install   install what the tests need (idempotent)
  fuzz      [SECONDS] [TARGET…]: each fuzz target under libFuzzer for SECONDS (default 60)
  bench     [--quick] [--no-build]: jwtgate beside jwt_authn, jose and jwt-decode;
            writes bench/RESULTS.md (about 20 minutes; not part of the tests)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") if args.get(1).is_some_and(|a| a == "node") => test::node_only(&args[2..]),
        Some("test") => test::run(),
        Some("demo") => return demo::main(&args[1..]),
        Some("install") => install::run(),
        Some("build") => build::run(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
