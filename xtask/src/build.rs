//! `cargo xtask build`: the deployable artefacts.

use std::path::PathBuf;

use crate::exports::{self, leb};
use crate::install::{cmd, root, wasm_opt};

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
    // Only the callbacks the filter implements: Envoy calls every one exported.
    let lean = root().join("target/wasm32-wasip1/release/jwtgate_envoy_exports.wasm");
    let wasm = std::fs::read(&built).map_err(|e| e.to_string())?;
    std::fs::write(&lean, exports::keep(&wasm, exports::ENVOY_FILTER)?)
        .map_err(|e| e.to_string())?;
    // -O3, not -Oz: the filter is on every request's path; size matters less there.
    cmd(
        wasm_opt().to_str().unwrap(),
        &[
            "-O3",
            "--strip-debug",
            "--strip-producers",
            lean.to_str().unwrap(),
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
        "xtask: {} ({} bytes, budget {ENVOY_BUDGET}; imports from {})",
        out.display(),
        bytes.len(),
        modules.join(", ")
    );
    Ok(out)
}

/// The Envoy filter's size ceiling, not gzipped (Envoy reads the file as it is). Envoy keeps a
/// copy per worker's VM and compiles it on every configuration push, so growth should be a
/// decision: 570,631 bytes before the typed JSON reader, 579,622 after; this is that with a
/// little room.
pub const ENVOY_BUDGET: u64 = 580 * 1024;

/// One wasm of the npm package: the crate built with `features` (never the in-wasm signature
/// primitives), `pkg/<dir>/<name>_bg.wasm` with only `exports`, which the hand-written
/// `pkg/client-wasm.js` (and `pkg/verifier-wasm.js`) calls: no wasm-bindgen glue.
fn web_wasm(features: &str, dir: &str, name: &str, exports: &[&str]) -> Result<(), String> {
    cmd(
        "cargo",
        &[
            "build",
            "--profile",
            "web",
            "--lib",
            "-p",
            "jwtgate",
            "--no-default-features",
            "--features",
            features,
            "--target",
            "wasm32-unknown-unknown",
        ],
    )?;
    let built = root().join("target/wasm32-unknown-unknown/web/jwtgate.wasm");
    let out = root().join("pkg").join(dir);
    let wasm = out.join(format!("{name}_bg.wasm"));
    // Whatever an earlier build left there (a wasm-bindgen glue) goes.
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&built).map_err(|e| e.to_string())?;
    std::fs::write(&wasm, exports::keep(&bytes, exports)?).map_err(|e| e.to_string())?;
    cmd(
        wasm_opt().to_str().unwrap(),
        // --converge: -Oz again until nothing shrinks (a few dozen bytes, each build).
        // --zero-filled-memory: the module defines its memory, so it starts zeroed and data
        // segments need not write zeros; --low-memory-unused: rustc links the stack first
        // (data from 1 MiB up), so nothing lives in the first 1 KiB and wasm-opt may fold
        // constant offsets into loads. 0.1 KB off the client's wasm, 0.35 KB the full one's.
        // --strip-target-features: the section that tells a linker which wasm features the code
        // uses; nothing reads it at run time (0.1 KB gzipped).
        &[
            "-Oz",
            "--converge",
            "--zero-filled-memory",
            "--low-memory-unused",
            "--strip-debug",
            "--strip-producers",
            "--strip-target-features",
            wasm.to_str().unwrap(),
            "-o",
            wasm.to_str().unwrap(),
        ],
    )?;
    let bytes = std::fs::read(&wasm).map_err(|e| e.to_string())?;
    // pkg/client-wasm.js gives it one import module, its own (`imports`).
    if import_modules(&bytes)?.iter().any(|m| m != "jwtgate") {
        return Err(format!(
            "{}: imports from outside pkg/client-wasm.js's `imports`",
            wasm.display()
        ));
    }
    if let Some(found) = signature_arithmetic(&bytes) {
        return Err(format!(
            "{}: holds signature arithmetic ({found}); the platform verifies",
            wasm.display()
        ));
    }
    Ok(())
}

/// The npm package's generated part: `pkg/wasm/` (the core without signature primitives) and
/// `pkg/wasm-client/` (`jwtgate/client`'s: no key sets, no verification). Prints what an app
/// pays, bundled as the budgets measure it; returns those sizes.
pub fn web() -> Result<Sizes, String> {
    // The check must see what it looks for: the Envoy filter carries all of it.
    if let Ok(envoy) = std::fs::read(envoy_wasm()) {
        if signature_arithmetic(&envoy).is_none() {
            return Err("the signature-arithmetic check finds none in the Envoy filter".into());
        }
    }
    web_wasm(
        "web",
        "wasm",
        "jwtgate",
        &[exports::CLIENT, exports::VERIFIER].concat(),
    )?;
    web_wasm(
        "web-client",
        "wasm-client",
        "jwtgate_client",
        exports::CLIENT,
    )?;
    let sizes = bundle_sizes()?;
    for (what, size, budget, target) in [
        (
            "jwtgate/client (TokenSession, decode, expiresIn, isExpired)",
            sizes.client,
            CLIENT_BUDGET,
            CLIENT_TARGET,
        ),
        (
            "jwtgate, the whole browser entry",
            sizes.full,
            FULL_BUDGET,
            FULL_TARGET,
        ),
    ] {
        eprintln!(
            "xtask: {what}: {size} bytes gzipped, JS bundle and wasm \
             (ceiling {budget}, issue 16's target {target})"
        );
    }
    eprintln!(
        "xtask: the npm package's wasm + loader: {} bytes gzipped (budget {WEB_BUDGET})",
        sizes.wasm_glue
    );
    Ok(sizes)
}

/// What an app pays for the package, as the issue measures it: an entry importing the named
/// exports, `esbuild --bundle --minify --format=esm --platform=browser`, then `gzip -9`. The
/// wasm is not inlined: the glue fetches it beside the bundle, so it is an asset, counted
/// gzipped beside the bundle.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// `import { TokenSession, decode, expiresIn, isExpired } from 'jwtgate/client'`.
    pub client: u64,
    /// `export * from 'jwtgate'` with its `init`: every export of the browser entry.
    pub full: u64,
    /// The full package's wasm and its loader (`client-wasm.js`, `verifier-wasm.js`),
    /// unbundled: what the core costs.
    pub wasm_glue: u64,
}

/// The ceilings the size test holds, gzipped: `jwtgate/client` for an SPA, and the whole
/// browser entry. Issue 16 asks for 18 KB and 30 KB ([`CLIENT_TARGET`], [`FULL_TARGET`]); the
/// whole entry's is not reached, so these are the sizes as built with a little room: growth
/// stops here, and each reduction lowers them. How they came down from 31,198 and 62,369, step
/// by step, and what was tried and dropped (`opt-level = "z"` among them: 1.7 KB off the full
/// wasm, but `decode` 0.62x and `expiresIn` 0.43x as fast), is in bench/ANALYSIS.md, "Sizes".
pub const CLIENT_BUDGET: u64 = 16 * 1024 + 128;
pub const FULL_BUDGET: u64 = 40 * 1024 + 768;
/// Issue 16's budgets: printed beside the sizes until the ceilings come down to them.
pub const CLIENT_TARGET: u64 = 18 * 1024;
pub const FULL_TARGET: u64 = 30 * 1024;

/// The size budget of the full package's wasm and its loaders (`client-wasm.js`,
/// `verifier-wasm.js`, unminified), gzipped, so the core's share cannot grow unnoticed behind
/// a smaller JS. It was 87 KB with the signature primitives in the wasm; 35,825 bytes as built
/// now, with a little room (history in bench/ANALYSIS.md, "Sizes").
pub const WEB_BUDGET: u64 = 35 * 1024 + 256;

pub fn bundle_sizes() -> Result<Sizes, String> {
    let dir = root().join("target/size");
    let modules = dir.join("node_modules");
    std::fs::create_dir_all(&modules).map_err(|e| e.to_string())?;
    // Resolved as an installed package is, through its `exports` and the browser conditions.
    let link = modules.join("jwtgate");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(root().join("pkg"), &link).map_err(|e| e.to_string())?;
    let bundle = |name: &str, source: &str, wasm: &str| -> Result<u64, String> {
        let out = bundle(&crate::install::esbuild(), &dir, name, source)?;
        let (_, js) = sizes(&out)?;
        let (_, wasm) = sizes(&root().join("pkg").join(wasm))?;
        eprintln!("xtask: {name}: bundle {js} + wasm {wasm} bytes gzipped");
        Ok(js + wasm)
    };
    Ok(Sizes {
        client: bundle(
            "client",
            "import init, { TokenSession, decode, expiresIn, isExpired } from 'jwtgate/client';\n\
             await init();\nglobalThis.use = [TokenSession, decode, expiresIn, isExpired];\n",
            "wasm-client/jwtgate_client_bg.wasm",
        )?,
        full: bundle(
            "full",
            "export * from 'jwtgate';\nexport { default } from 'jwtgate';\n",
            "wasm/jwtgate_bg.wasm",
        )?,
        wasm_glue: ["wasm/jwtgate_bg.wasm", "client-wasm.js", "verifier-wasm.js"]
            .iter()
            .map(|file| sizes(&root().join("pkg").join(file)).map(|(_, gz)| gz))
            .sum::<Result<u64, String>>()?,
    })
}

/// Bundles `source` (an ES module) with `esbuild` as an app would for browsers (`--bundle
/// --minify --format=esm --platform=browser`), the way the size budgets measure; returns the
/// bundle's path.
pub fn bundle(
    esbuild: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    source: &str,
) -> Result<PathBuf, String> {
    let entry = dir.join(format!("{name}.mjs"));
    std::fs::write(&entry, source).map_err(|e| e.to_string())?;
    let out = dir.join(format!("{name}.bundle.js"));
    cmd(
        esbuild.to_str().unwrap(),
        &[
            entry.to_str().unwrap(),
            "--bundle",
            "--minify",
            "--format=esm",
            "--platform=browser",
            "--log-level=warning",
            &format!("--outfile={}", out.display()),
        ],
    )?;
    Ok(out)
}

/// A sign of signature arithmetic in a wasm the platform verifies for: the name of a
/// primitive's code left in the binary (wasm-bindgen keeps Rust's panic locations and the
/// names of crates), or a SHA-2 round constant table. None when it is clean.
pub fn signature_arithmetic(wasm: &[u8]) -> Option<String> {
    // SHA-256's first round constants, little-endian as a u32 table is laid out in memory;
    // SHA-512's first, as a u64 table.
    let sha256: &[u8] = &[0x98, 0x2f, 0x8a, 0x42, 0x91, 0x44, 0x37, 0x71];
    let sha512: &[u8] = &[0x22, 0xae, 0x28, 0xd7, 0x98, 0x2f, 0x8a, 0x42];
    for (what, needle) in [
        ("the SHA-256 constants", sha256),
        ("the SHA-512 constants", sha512),
    ] {
        if wasm.windows(needle.len()).any(|w| w == needle) {
            return Some(what.into());
        }
    }
    for name in [
        "rsa.rs",
        "crypto/ecdsa",
        "ed25519",
        "curve25519",
        "p384",
        "primeorder",
        "elliptic",
        "hmac",
        "sha2",
    ] {
        if wasm.windows(name.len()).any(|w| w == name.as_bytes()) {
            return Some(format!("the name {name:?}"));
        }
    }
    None
}

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
