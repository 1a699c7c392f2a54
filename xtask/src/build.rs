//! `cargo xtask build`: the deployable artefacts.

use std::path::PathBuf;

use crate::install::{cmd, root, wasm_bindgen, wasm_opt};

/// Where `envoy()` puts the filter.
pub fn envoy_wasm() -> PathBuf {
    root().join("dist/jwtgate_envoy.wasm")
}

/// The Envoy filter, optimised: `dist/jwtgate_envoy.wasm`.
pub fn envoy() -> Result<PathBuf, String> {
    cmd(
        "cargo",
        &[
            "build",
            "--release",
            "--lib",
            "-p",
            "jwtgate",
            "--features",
            "envoy",
            "--target",
            "wasm32-wasip1",
        ],
    )?;
    let built = root().join("target/wasm32-wasip1/release/jwtgate.wasm");
    let out = envoy_wasm();
    std::fs::create_dir_all(out.parent().unwrap()).map_err(|e| e.to_string())?;
    // -O3, not -Oz: the filter is on every request's path; size matters less there.
    cmd(
        wasm_opt().to_str().unwrap(),
        &[
            "-O3",
            "--strip-debug",
            "--strip-producers",
            built.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    )?;
    let bytes = std::fs::read(&out).map_err(|e| e.to_string())?;
    let modules = import_modules(&bytes)?;
    // Envoy provides the proxy-wasm ABI ("env") and WASI; anything else would not load.
    if let Some(other) = modules
        .iter()
        .find(|m| *m != "env" && *m != "wasi_snapshot_preview1")
    {
        return Err(format!("the Envoy filter imports from {other:?}"));
    }
    eprintln!(
        "xtask: {} ({} bytes; imports from {})",
        out.display(),
        bytes.len(),
        modules.join(", ")
    );
    Ok(out)
}

/// The npm package's generated part: `pkg/wasm/` (glue and optimised wasm). Returns the
/// gzipped size of the wasm and its glue, the figure the budget holds.
pub fn web() -> Result<u64, String> {
    cmd(
        "cargo",
        &[
            "build",
            "--profile",
            "web",
            "--lib",
            "-p",
            "jwtgate",
            "--features",
            "web",
            "--target",
            "wasm32-unknown-unknown",
        ],
    )?;
    let built = root().join("target/wasm32-unknown-unknown/web/jwtgate.wasm");
    let out = root().join("pkg/wasm");
    cmd(
        wasm_bindgen().to_str().unwrap(),
        &[
            built.to_str().unwrap(),
            "--target",
            "web",
            "--out-dir",
            out.to_str().unwrap(),
            "--out-name",
            "jwtgate",
            "--no-typescript",
            "--weak-refs",
        ],
    )?;
    ascii_fast_path(&out.join("jwtgate.js"))?;
    let wasm = out.join("jwtgate_bg.wasm");
    cmd(
        wasm_opt().to_str().unwrap(),
        &[
            "-Oz",
            "--strip-debug",
            "--strip-producers",
            wasm.to_str().unwrap(),
            "-o",
            wasm.to_str().unwrap(),
        ],
    )?;
    let pkg = root().join("pkg");
    // The budget counts what the issue names, the wasm and its wasm-bindgen glue; the
    // hand-written API is printed beside it, so the whole is never hidden.
    let mut budgeted = 0;
    for file in ["wasm/jwtgate_bg.wasm", "wasm/jwtgate.js"] {
        let (raw, gz) = sizes(&pkg.join(file))?;
        eprintln!("xtask: pkg/{file:<22} {raw:>7} bytes, {gz:>6} gzipped");
        budgeted += gz;
    }
    let mut api = 0;
    for file in ["api.js", "session.js", "state.js", "web.js"] {
        let (raw, gz) = sizes(&pkg.join(file))?;
        eprintln!("xtask: pkg/{file:<22} {raw:>7} bytes, {gz:>6} gzipped");
        api += gz;
    }
    eprintln!(
        "xtask: the npm package: wasm + glue {budgeted} bytes gzipped (budget {WEB_BUDGET}); \
         with the browser entry and API, {} bytes",
        budgeted + api
    );
    Ok(budgeted)
}

/// Gives the glue's string passing a native copy for ASCII strings.
///
/// wasm-bindgen 0.2.130 copies a string into wasm memory a UTF-16 unit at a time in a JS loop
/// before it falls back to `TextEncoder.encodeInto`; on a 400-character token that loop was a
/// fifth of `expiresIn`'s time. `encodeInto` into exactly `len` bytes reads every unit only if
/// every one is ASCII (anything else takes two bytes or more), so the fast path returns only
/// then and otherwise leaves the loop to start over. The pattern is checked: a wasm-bindgen
/// that changes it fails the build here rather than silently losing the path.
fn ascii_fast_path(glue: &std::path::Path) -> Result<(), String> {
    const LOOP: &str = "    let offset = 0;\n\n    for (; offset < len; offset++) {";
    const FAST: &str = "    let offset = 0;\n    \
        // xtask/src/build.rs: ASCII in one native copy.\n    \
        if (cachedTextEncoder.encodeInto(arg, mem.subarray(ptr, ptr + len)).read === len) {\n        \
        WASM_VECTOR_LEN = len;\n        return ptr;\n    }\n\n    \
        for (; offset < len; offset++) {";
    let text = std::fs::read_to_string(glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    if text.matches(LOOP).count() != 1 {
        return Err(format!(
            "{}: passStringToWasm0 is not the one ascii_fast_path knows (wasm-bindgen changed?)",
            glue.display()
        ));
    }
    std::fs::write(glue, text.replace(LOOP, FAST)).map_err(|e| format!("{}: {e}", glue.display()))
}

/// The size budget of the npm package's wasm and glue, gzipped: 87 KB. 80 KB held the
/// verifier; TokenSession's state machine, which the issue puts in Rust, measured 6,852 bytes
/// more (5,874 of wasm, 978 of glue for its fifteen methods), and got 6 KB. `authenticate`'s
/// core side (the HTTP mapping, `requiredClaims` values through `claim_holds`, the per-call
/// check: two exports) measured 3,389 bytes more, trimmed, and got 1 KB.
pub const WEB_BUDGET: u64 = 87 * 1024;

/// A file's size, raw and gzipped (`gzip -9`).
pub fn sizes(path: &std::path::Path) -> Result<(u64, u64), String> {
    let raw = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let out = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    Ok((raw, out.stdout.len() as u64))
}

pub fn run() -> Result<(), String> {
    crate::install::run()?;
    envoy()?;
    web().map(|_| ())
}

/// The module names in a wasm binary's import section.
pub fn import_modules(wasm: &[u8]) -> Result<Vec<String>, String> {
    fn leb(bytes: &[u8], at: &mut usize) -> Result<usize, String> {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let b = *bytes.get(*at).ok_or("truncated wasm")?;
            *at += 1;
            value |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }
    fn name(bytes: &[u8], at: &mut usize) -> Result<String, String> {
        let len = leb(bytes, at)?;
        let s = bytes.get(*at..*at + len).ok_or("truncated wasm")?;
        *at += len;
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    if wasm.get(..4) != Some(b"\0asm") {
        return Err("not a wasm module".into());
    }
    let mut at = 8;
    let mut modules = Vec::new();
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at)?;
        let end = at + size;
        if id == 2 {
            for _ in 0..leb(wasm, &mut at)? {
                let module = name(wasm, &mut at)?;
                name(wasm, &mut at)?;
                // The import's kind and type: skip by kind.
                match wasm.get(at).ok_or("truncated wasm")? {
                    0 => {
                        at += 1;
                        leb(wasm, &mut at)?;
                    }
                    1 => {
                        at += 2;
                        let flags = leb(wasm, &mut at)?;
                        leb(wasm, &mut at)?;
                        if flags & 1 == 1 {
                            leb(wasm, &mut at)?;
                        }
                    }
                    2 => {
                        at += 1;
                        let flags = leb(wasm, &mut at)?;
                        leb(wasm, &mut at)?;
                        if flags & 1 == 1 {
                            leb(wasm, &mut at)?;
                        }
                    }
                    3 => at += 3,
                    k => return Err(format!("unknown import kind {k}")),
                }
                if !modules.contains(&module) {
                    modules.push(module);
                }
            }
        }
        at = end;
    }
    Ok(modules)
}
