//! The npm package's wasm interface, without wasm-bindgen: plain exports that
//! `pkg/client-wasm.js` calls (`jwtgate/client`'s, feature `web-client`), and
//! `pkg/verifier-wasm.js` with it (the verifier's too, feature `web`). wasm-bindgen's glue, its shims
//! and the externref table it sets up were 2.2 KB gzipped of what an SPA downloads (1.0 KB of
//! JS, 1.3 KB of wasm) for the client's four functions and a class, and 2.2 KB of the whole
//! entry's JS alone (xtask/src/build.rs).
//!
//! Strings cross in an input buffer that only grows: JS asks for room ([`buf`]) when it needs
//! more, writes UTF-8 there and passes the byte lengths; Rust reads them as `&str`, checked as
//! UTF-8 (`decode` reads bytes, which base64url holds to ASCII), so nothing JS writes can make
//! it unsound. A text answer is kept until the next one: the export answers its length (-1 for
//! none) and [`at`] where it is. So memory holds the largest input yet (JS refuses a token over
//! the core's limit before copying it in) and the last answer (in `decode`'s buffer, which it
//! reuses, as long as the longest it gave), no more. A session crosses as a pointer to its box,
//! which JS frees once (`free`, or a FinalizationRegistry); a verifier likewise (its
//! FinalizationRegistry only). Errors cross in band, as text answers (src/web/mod.rs), never
//! thrown.
//!
//! The one import, `jwtgate.number`, is the engine's `Number` over a number's text, for the
//! core's JSON parser (see `crypto::json::exact`).
//!
//! `unsafe` is here only for what this boundary needs: the exports' names (`no_mangle`), the
//! session and verifier pointers JS holds, the cells' `Sync`, and the call to the import.
#![allow(unsafe_code)]

use core::cell::RefCell;

use crate::prelude::*;

use super::RawSession;
#[cfg(feature = "web")]
use super::RawVerifier;

/// A cell for one thread: wasm32 without the atomics feature has exactly one, and the one call
/// out to JS (`number`) reads memory without calling back in, so no borrow overlaps another.
struct Shared(RefCell<Vec<u8>>);

// SAFETY: wasm32 without the atomics feature has one thread (see `Shared`): nothing can share
// it. With threads the statics are not `Sync` and the crate does not build, as it must not.
#[cfg(not(target_feature = "atomics"))]
unsafe impl Sync for Shared {}

/// The texts JS passes in. It only grows, so JS keeps its place and a view of it between calls
/// (no call and no new view per string).
static INPUT: Shared = Shared(RefCell::new(Vec::new()));
/// The last text answer.
static ANSWER: Shared = Shared(RefCell::new(Vec::new()));

/// Makes the input buffer at least `len` bytes long, what it holds kept (JS writes several
/// strings one after another); where it is.
#[no_mangle]
pub extern "C" fn buf(len: usize) -> *mut u8 {
    let mut input = INPUT.0.borrow_mut();
    if input.len() < len {
        input.resize(len, 0);
    }
    input.as_mut_ptr()
}

/// Where the last text answer is.
#[no_mangle]
pub extern "C" fn at() -> *const u8 {
    ANSWER.0.borrow().as_ptr()
}

/// The text of `len` bytes at `from` in the input; empty if they are not UTF-8, which the
/// encoder JS writes with never gives (an empty token is refused as malformed).
fn text(input: &[u8], from: usize, len: usize) -> &str {
    input
        .get(from..from + len)
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or_default()
}

/// `answer` as the last text answer: its length, or -1 for none.
fn answer(answer: Option<String>) -> isize {
    answer.map_or(-1, |text| {
        let len = text.len() as isize;
        *ANSWER.0.borrow_mut() = text.into_bytes();
        len
    })
}

/// `decode` of the `len`-byte token in the input buffer.
#[no_mangle]
pub extern "C" fn decode(len: usize) -> isize {
    // The last answer's buffer, reused: no allocation for the answer, and its bytes are handed
    // over as they are, with no UTF-8 check (the core's scan checked every string; the rest is
    // ASCII). Taken out of its cell for the call, so that a trap leaves no borrow held.
    let mut out = core::mem::take(&mut *ANSWER.0.borrow_mut());
    out.clear();
    // Bytes: the core's base64url refuses anything but ASCII, so the token needs no UTF-8
    // check either.
    let input = INPUT.0.borrow();
    super::parts_into(
        input.get(..len).unwrap_or_default(),
        crate::DEFAULT_MAX_TOKEN_BYTES,
        &mut out,
    );
    let len = out.len() as isize;
    *ANSWER.0.borrow_mut() = out;
    len
}

/// `expiresIn` of the `len`-byte token in the input buffer.
#[no_mangle]
pub extern "C" fn expires(len: usize, now: f64) -> f64 {
    super::expires_in(text(&INPUT.0.borrow(), 0, len), now)
}

/// `checkTokenLength`.
#[no_mangle]
pub extern "C" fn check(units: f64) -> isize {
    answer(super::check_token_length(units))
}

/// A new `RawSession`, boxed; JS frees it with [`session_free`].
#[no_mangle]
pub extern "C" fn session(ahead: f64) -> *mut RawSession {
    Box::into_raw(Box::new(RawSession::new(ahead)))
}

/// What a pointer [`session`] or [`verifier`] gave points to, until [`session_free`] or
/// [`verifier_free`] takes it back.
fn held<'a, T>(p: *mut T) -> &'a mut T {
    // SAFETY: JS passes only a live pointer from `session` (a `*mut RawSession`) or `verifier`
    // (a `*mut RawVerifier`), each to the exports of its kind: `RawSession` in
    // pkg/client-wasm.js forgets it (0, trapping here) when it frees it, and `RawVerifier` in
    // pkg/verifier-wasm.js has it freed only once it is collected, when nothing can pass it.
    unsafe { p.as_mut() }.unwrap_or_else(|| core::arch::wasm32::unreachable())
}

/// Frees a box from [`session`] or [`verifier`].
fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: as in `held`; JS frees each pointer once and then forgets it.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// `RawSession.op`: texts `a`, `b` and `c` one after another in the input buffer, `la`,
/// `lb` and `lc` bytes long (`lc` -1 when there is no `c`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn session_op(
    session: *mut RawSession,
    op: u32,
    epoch: u32,
    now: f64,
    at: f64,
    la: usize,
    lb: usize,
    lc: isize,
) -> f64 {
    // Before the input is borrowed: a trap leaves a borrow held for good, and a freed session
    // must fail alone, not every later `buf` that grows the input.
    let session = held(session);
    let input = INPUT.0.borrow();
    let c = usize::try_from(lc).ok().map(|lc| text(&input, la + lb, lc));
    let texts = [text(&input, 0, la), text(&input, la, lb)];
    // Truncated as wasm-bindgen's `u8` parameter was: `pkg/session.js` passes the constants of
    // `pkg/constants.js`.
    session.lent(op as u8, epoch, [now, at], texts, c)
}

/// `RawSession.text`.
#[no_mangle]
pub extern "C" fn session_text(session: *mut RawSession, which: u32) -> isize {
    answer(held(session).text(which as u8))
}

/// Frees a session from [`session`].
#[no_mangle]
pub extern "C" fn session_free(session: *mut RawSession) {
    free(session)
}

/// The input's bytes from `from`, `len` long (none past its end).
#[cfg(feature = "web")]
fn bytes(input: &[u8], from: usize, len: usize) -> &[u8] {
    input.get(from..from + len).unwrap_or_default()
}

/// The two texts one after another in the input, `la` and `lb` bytes long.
#[cfg(feature = "web")]
fn two(la: usize, lb: usize, f: impl FnOnce(&str, &str) -> Option<String>) -> isize {
    let input = INPUT.0.borrow();
    answer(f(text(&input, 0, la), text(&input, la, lb)))
}

/// A new `RawVerifier` over the key set (`lj` bytes of JSON) and then the options (`lo` bytes)
/// in the input buffer, boxed; JS frees it with [`verifier_free`]. A number, as a pointer and
/// an error length cannot share an `isize`: the pointer, or when the key set or options are
/// refused, -1 less the length of the error's JSON text (the answer).
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier(lj: usize, lo: usize) -> f64 {
    let made = {
        let input = INPUT.0.borrow();
        RawVerifier::new(text(&input, 0, lj), text(&input, lj, lo))
    };
    match made {
        Ok(v) => Box::into_raw(Box::new(v)) as usize as f64,
        Err(e) => -1.0 - answer(Some(e)) as f64,
    }
}

/// Frees a verifier from [`verifier`].
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_free(verifier: *mut RawVerifier) {
    free(verifier)
}

/// `RawVerifier.publicKey`.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_key(verifier: *mut RawVerifier, index: usize) -> isize {
    answer(held(verifier).public_key(index))
}

/// `RawVerifier.checkLength`.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_length(verifier: *mut RawVerifier, units: f64) -> isize {
    answer(held(verifier).check_length(units))
}

/// `RawVerifier.prepare` of the `len`-byte token in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_prepare(verifier: *mut RawVerifier, len: usize, now: f64) -> isize {
    // Before the input is borrowed, as in `session_op`.
    let verifier = held(verifier);
    let plan = verifier.prepare(text(&INPUT.0.borrow(), 0, len), now);
    answer(Some(plan))
}

/// `RawVerifier.finish` of the `len`-byte token in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_finish(
    verifier: *mut RawVerifier,
    len: usize,
    verified: i32,
    now: f64,
) -> isize {
    let verifier = held(verifier);
    let verdict = verifier.finish(text(&INPUT.0.borrow(), 0, len), verified, now);
    answer(Some(verdict))
}

/// `RawVerifier.candidates`: the algorithm's name (`la` bytes), then the signature's bytes
/// (`lb`), in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn verifier_candidates(verifier: *mut RawVerifier, la: usize, lb: usize) -> isize {
    let verifier = held(verifier);
    let input = INPUT.0.borrow();
    answer(Some(
        verifier.candidates(text(&input, 0, la), bytes(&input, la, lb)),
    ))
}

/// `checkJwksLength`.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn jwks_length(bytes: f64) -> isize {
    answer(super::check_jwks_length(bytes))
}

/// `optionNames`.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn option_names() -> isize {
    answer(Some(super::option_names()))
}

/// `checkOptions` of the `len` bytes of options in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn check_options(len: usize) -> isize {
    two(len, 0, |options, _| super::check_options(options))
}

/// `discoveryUrls` of the `len`-byte issuer in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn discovery_urls(len: usize) -> isize {
    two(len, 0, |issuer, _| Some(super::discovery_urls(issuer)))
}

/// `discoveredJwksUri`: the document (`ld` bytes), then the issuer (`li`), in the input.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn discovered_jwks_uri(ld: usize, li: usize) -> isize {
    two(ld, li, |document, issuer| {
        Some(super::discovered_jwks_uri(document, issuer))
    })
}

/// `httpAnswer`: the code (`lc` bytes), then the realm (`lr`), in the input.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn http_answer(lc: usize, lr: usize) -> isize {
    two(lc, lr, |code, realm| Some(super::http_answer(code, realm)))
}

/// `decodeAccepted` of the `len`-byte token in the input buffer.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn decode_accepted(len: usize) -> isize {
    two(len, 0, |token, _| Some(super::decode_accepted(token)))
}

/// `checkClaims`: the payload (`lp` bytes), then the requirements (`lr`), in the input.
#[cfg(feature = "web")]
#[no_mangle]
pub extern "C" fn check_claims(lp: usize, lr: usize) -> isize {
    two(lp, lr, super::check_claims)
}

#[link(wasm_import_module = "jwtgate")]
extern "C" {
    /// `Number` of the `len` bytes at `at`, which `pkg/client-wasm.js` reads as text.
    fn number(at: *const u8, len: usize) -> f64;
}

/// `Number(text)` in the engine: the value `JSON.parse` gives the app for a JSON number the
/// parser has checked (see `crypto::json::exact`).
pub(crate) fn exact(text: &str) -> f64 {
    // SAFETY: the import only reads `len` bytes at `at`, which `text` holds for the call.
    unsafe { number(text.as_ptr(), text.len()) }
}
