//! The npm package's tests: packed and installed into a scratch project as a user would, then
//! Node's test runner over it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::root;

/// A scratch project with the packed package installed; returns its directory.
pub fn scratch_install() -> Result<PathBuf, String> {
    let scratch = root().join("target/npm-scratch");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let pack = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&scratch)
        .current_dir(root().join("pkg"))
        .output()
        .map_err(|e| format!("npm pack: {e}"))?;
    if !pack.status.success() {
        return Err(format!(
            "npm pack failed: {}",
            String::from_utf8_lossy(&pack.stderr)
        ));
    }
    let tarball = String::from_utf8_lossy(&pack.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    std::fs::write(
        scratch.join("package.json"),
        r#"{"name":"scratch","private":true,"type":"module"}"#,
    )
    .map_err(|e| e.to_string())?;
    let status = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--offline",
            &format!("./{tarball}"),
        ])
        .current_dir(&scratch)
        .status()
        .map_err(|e| format!("npm install: {e}"))?;
    if !status.success() {
        return Err("npm install of the packed package failed".into());
    }
    Ok(scratch)
}

/// What a `node --test` run reported.
pub struct NodeRun {
    pub passed: u64,
    pub failed: u64,
    /// Whether node exited 0: a crash before any test is a failure with nothing counted.
    pub ok: bool,
}

/// Runs `node --test` (TAP, so the counts can be read) on `files` inside `dir`, with the Node
/// at `runtime`.
pub fn node_tests(
    runtime: &Path,
    dir: &Path,
    files: &[PathBuf],
    fixtures: &Path,
) -> Result<NodeRun, String> {
    let mut node = Command::new(runtime);
    // A test that never settles is cancelled after ten minutes (each sets its own, shorter,
    // limit where it can), and a file whose tests are done exits even if a handle leaked: a
    // hang must fail the run, not hold CI until its own deadline.
    node.arg("--test")
        .arg("--test-timeout=600000")
        .arg("--test-force-exit")
        .arg("--test-reporter=tap")
        .args(files)
        .current_dir(dir)
        .env("JWTGATE_FIXTURES", fixtures)
        .env("PLAYWRIGHT_CORE", crate::install::playwright_core())
        .env("CHROMIUM", crate::install::CHROMIUM)
        .env("WORKERD", crate::install::workerd())
        .env("TSC", crate::install::tsc())
        .env("AXIOS", crate::install::axios().join("index.js"))
        .env("NODE_TOOLS", crate::install::node_module(""))
        .env("REDIS_SERVER", crate::install::REDIS_SERVER)
        .env("PYTHON_TOOLS", crate::install::python_tools())
        .env("ENVOY", crate::install::envoy())
        // Node 24 for what needs a current Node whichever Node runs the suite (oidc-provider).
        .env("NODE_LTS", crate::install::node_lts())
        .env("JWTGATE_ENVOY_WASM", crate::build::envoy_wasm())
        .env("JWTGATE_ROOT", root());
    let mut text = String::new();
    let status = crate::test::echo(&mut node, |line| {
        text.push_str(line);
        text.push('\n');
    })?;
    let count = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(NodeRun {
        passed: count("# pass "),
        // A cancelled test (timed out, or its file ended before it did) failed.
        failed: count("# fail ") + count("# cancelled "),
        ok: status.success(),
    })
}

/// Copies the Node test files next to the installed package, so `import 'jwtgate'` resolves
/// the way it does in a user's project.
pub fn copy_tests(from: &Path, to: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "mjs" || e == "ts") {
            let dest = to.join(path.file_name().unwrap());
            std::fs::copy(&path, &dest).map_err(|e| e.to_string())?;
            if path.to_string_lossy().ends_with(".test.mjs") {
                files.push(dest);
            }
        }
    }
    files.sort();
    Ok(files)
}

pub fn fixtures() -> PathBuf {
    root().join("target/tmp/jwtgate-fixtures.json")
}
