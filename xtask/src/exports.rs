//! The Envoy filter's exports, cut to the callbacks it implements.
//!
//! The proxy-wasm SDK exports every callback of the ABI, and Envoy calls each one that is
//! exported: for every request, the response's headers and body, the log and the end of the
//! stream, whose SDK defaults do nothing for jwtgate. A callback that is not exported is not
//! called (proxy-wasm-cpp-host checks each before calling it), and each such call into V8 cost
//! about 0.15 µs of Envoy's CPU per request on the bench machine (`bench/ANALYSIS.md`).

/// What the filter uses: the ABI version, memory for the host's copies, the plugin's start,
/// configuration and timer, the HTTP contexts' creation, request headers and deletion (which
/// frees the context), and the answers to its fetches. Everything else the SDK exports is a
/// callback left at its default (`Continue`, `true`, nothing), which the host assumes for a
/// callback that is absent.
pub const ENVOY_FILTER: &[&str] = &[
    "_initialize",
    "memory",
    "proxy_abi_version_0_2_1",
    "proxy_on_memory_allocate",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_tick",
    "proxy_on_context_create",
    "proxy_on_request_headers",
    "proxy_on_delete",
    "proxy_on_http_call_response",
];

/// `jwtgate/client`'s wasm interface (src/web/abi.rs, called by pkg/client-wasm.js); the linker
/// adds `__data_end` and `__heap_base`, which nothing reads.
pub const CLIENT: &[&str] = &[
    "memory",
    "buf",
    "at",
    "decode",
    "expires",
    "check",
    "session",
    "session_op",
    "session_text",
    "session_free",
];

/// What the whole package's wasm (feature `web`) exports besides [`CLIENT`]: the verifier's
/// interface (src/web/abi.rs, called by pkg/verifier-wasm.js).
pub const VERIFIER: &[&str] = &[
    "verifier",
    "verifier_free",
    "verifier_key",
    "verifier_length",
    "verifier_prepare",
    "verifier_finish",
    "verifier_candidates",
    "jwks_length",
    "option_names",
    "check_options",
    "discovery_urls",
    "discovered_jwks_uri",
    "http_answer",
    "decode_accepted",
    "check_claims",
];

/// `wasm` with only the exports named in `keep`; an error if one of them is missing.
pub fn keep(wasm: &[u8], keep: &[&str]) -> Result<Vec<u8>, String> {
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0") {
        return Err("not a wasm module".into());
    }
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    let mut seen = Vec::new();
    while at < wasm.len() {
        let id = wasm[at];
        let start = at;
        at += 1;
        let size = leb(wasm, &mut at)?;
        let body = wasm.get(at..at + size).ok_or("truncated wasm")?;
        at += size;
        if id != 7 {
            out.extend_from_slice(&wasm[start..at]);
            continue;
        }
        // The export section: a count, then (name, kind, index) each.
        let mut i = 0;
        let mut kept = Vec::new();
        let mut count = 0;
        for _ in 0..leb(body, &mut i)? {
            let from = i;
            let len = leb(body, &mut i)?;
            let name = body.get(i..i + len).ok_or("truncated wasm")?;
            let name = std::str::from_utf8(name).map_err(|e| e.to_string())?;
            i += len + 1;
            leb(body, &mut i)?;
            if keep.contains(&name) {
                kept.extend_from_slice(&body[from..i]);
                count += 1;
                seen.push(name.to_owned());
            }
        }
        let mut section = uleb(count);
        section.extend(kept);
        out.push(7);
        out.extend(uleb(section.len()));
        out.extend(section);
    }
    match keep.iter().find(|k| !seen.iter().any(|s| s == *k)) {
        Some(missing) => Err(format!("the wasm does not export {missing}")),
        None => Ok(out),
    }
}

/// An unsigned LEB128 number at `at`, which moves past it.
pub fn leb(bytes: &[u8], at: &mut usize) -> Result<usize, String> {
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

fn uleb(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}
