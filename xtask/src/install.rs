//! What the tests need, installed only where missing, so every run on a fresh machine and
//! every run after it is the same command.

use std::process::{Command, Stdio};

/// Something the build or the tests need, with a check and an install step.
struct Need {
    what: &'static str,
    present: fn() -> bool,
    install: fn() -> Result<(), String>,
}

const NEEDS: &[Need] = &[
    Need {
        what: "rustup targets wasm32-unknown-unknown and wasm32-wasip1",
        present: || {
            let installed = output("rustup", &["target", "list", "--installed"]);
            ["wasm32-unknown-unknown", "wasm32-wasip1"]
                .iter()
                .all(|t| installed.lines().any(|l| l.trim() == *t))
        },
        install: || {
            cmd(
                "rustup",
                &["target", "add", "wasm32-unknown-unknown", "wasm32-wasip1"],
            )
        },
    },
    Need {
        what: "rustfmt and clippy",
        present: || {
            succeeds("cargo", &["fmt", "--version"]) && succeeds("cargo", &["clippy", "--version"])
        },
        install: || cmd("rustup", &["component", "add", "rustfmt", "clippy"]),
    },
];

pub fn run() -> Result<(), String> {
    for need in NEEDS {
        if (need.present)() {
            continue;
        }
        eprintln!("xtask: installing {}", need.what);
        (need.install)()?;
        if !(need.present)() {
            return Err(format!("{} still missing after installing it", need.what));
        }
    }
    Ok(())
}

/// Runs a command with inherited output; an error names it.
pub fn cmd(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
