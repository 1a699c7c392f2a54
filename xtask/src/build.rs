//! `cargo xtask build`: the deployable artefacts.

use std::path::PathBuf;

use crate::install::{cmd, root, wasm_opt};

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
    let dist = root().join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    let out = dist.join("jwtgate_envoy.wasm");
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

pub fn run() -> Result<(), String> {
    crate::install::run()?;
    envoy().map(|_| ())
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
