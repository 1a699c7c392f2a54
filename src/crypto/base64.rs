//! Strict base64url without padding (RFC 4648 5, RFC 7515 2): the three parts of a compact JWS
//! and the members of a JWK. Hand-written: a table lookup per character that refuses padding,
//! other alphabets, whitespace and non-canonical trailing bits (one encoding per byte string).
//! What holds it: `tests::base64url_agrees_with_base64ct` (every one-character change of
//! encodings of random bytes, against the `base64ct` crate) and the token fuzz targets.

use crate::prelude::*;

/// The base64url alphabet (RFC 4648 5).
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's 6-bit value in [`B64`], or 0xff for bytes outside it (`=` included).
const B64_VALUE: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 64 {
        t[B64[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Decodes base64url without padding, refusing any other alphabet, padding, whitespace or
/// non-canonical trailing bits.
///
/// A table lookup per character, not constant time: it decodes tokens, which the verifier
/// reads in the clear anyway, not keys it must keep. Measured in the npm package, the
/// constant-time decoder it replaces was half the time of `expiresIn`.
pub(crate) fn b64_decode(input: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    let input = input.as_ref();
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    b64_decode_into(input, &mut out).then_some(out)
}

/// [`b64_decode`], appending to `out` (left partly written when false): `decode` writes a
/// token's header and payload into the one buffer it hands JS, with no copy between.
pub(crate) fn b64_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let chunks = input.chunks_exact(4);
    let rest = chunks.remainder();
    let Some(n) = tail(rest) else {
        return false;
    };
    let start = out.len();
    out.resize(start + input.len() / 4 * 3, 0);
    // Slices matched whole, never indexed: no bounds check is left to panic, so the npm
    // package's wasm carries no panic formatting for one (xtask/src/build.rs).
    // Written by position: zipped with `chunks_exact_mut(3)`, whose length is a division by
    // a size the compiler could not see as nonzero, the wasm carried a panic for it.
    let mut at = start;
    for c in chunks {
        let (&[a, b, d, e], Some([x, y, z])) = (c, out.get_mut(at..at + 3)) else {
            return false;
        };
        at += 3;
        let (a, b, d, e) = (value(a), value(b), value(d), value(e));
        if (a | b | d | e) > 63 {
            return false;
        }
        let n = a << 18 | b << 12 | d << 6 | e;
        (*x, *y, *z) = ((n >> 16) as u8, (n >> 8) as u8, n as u8);
    }
    let whole = rest.len().saturating_sub(1);
    out.extend_from_slice(
        [(n >> 16) as u8, (n >> 8) as u8]
            .get(..whole)
            .unwrap_or_default(),
    );
    true
}

/// Each byte's 6-bit value, or 0xff (more than 63) outside the alphabet.
fn value(c: u8) -> u32 {
    u32::from(B64_VALUE[usize::from(c)])
}

/// The characters after the last whole group of four (`rest`, at most three) as bits, if they
/// are valid: never one alone, each in the alphabet, and the bits after the last whole byte
/// zero (one encoding per byte string).
fn tail(rest: &[u8]) -> Option<u32> {
    let mut n = 0;
    for (i, &c) in rest.iter().enumerate() {
        let v = value(c);
        if v > 63 {
            return None;
        }
        n |= v << (18 - 6 * i);
    }
    let spare = match rest.len() {
        0 => 0,
        1 => return None,
        extra => (n >> (16 - 8 * (extra - 1))) & 0xff,
    };
    (spare == 0).then_some(n)
}

/// Encodes as base64url without padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=c.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::json::tests::Gen;

    #[test]
    fn base64url_agrees_with_base64ct() {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let mut gen = Gen(0x51_7cc1_b727_220a);
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| gen.next() as u8).collect();
            let text = b64_encode(&bytes);
            assert_eq!(text, Base64UrlUnpadded::encode_string(&bytes));
            assert_eq!(b64_decode(&text).as_deref(), Some(&bytes[..]));
            // Appended after what the buffer holds, as `decode` writes header then payload.
            let mut out = b"{".to_vec();
            assert!(b64_decode_into(text.as_bytes(), &mut out));
            assert_eq!((out.first(), out.get(1..)), (Some(&b'{'), Some(&bytes[..])));
            // Every one-character change, including to bytes outside the alphabet.
            for _ in 0..20 {
                let mut t = text.clone().into_bytes();
                let ours_in = match gen.next() % 3 {
                    0 if !t.is_empty() => {
                        let at = (gen.next() % t.len() as u64) as usize;
                        t[at] = *b"A_-=+/ .\xffa9Qw".get((gen.next() % 13) as usize).unwrap();
                        t
                    }
                    1 if !t.is_empty() => {
                        t.pop();
                        t
                    }
                    _ => {
                        t.push(*b"AgQw=_".get((gen.next() % 6) as usize).unwrap());
                        t
                    }
                };
                let Ok(s) = core::str::from_utf8(&ours_in) else {
                    continue;
                };
                assert_eq!(
                    b64_decode(s),
                    Base64UrlUnpadded::decode_vec(s).ok(),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        for bad in ["aGk=", "aG k", "a+8", "a/8", " aGk", "aGk\n", "a", "aGl"] {
            assert_eq!(b64_decode(bad), None, "{bad:?} must be refused");
        }
    }

    /// Not a test: `cargo test --release --lib base64::tests::timing -- --ignored --nocapture`
    /// prints the time of decoding a typical claims part here and with the `base64` crate
    /// (`URL_SAFE_NO_PAD`, which is as strict), alternating batches, fastest of 40. Built for
    /// wasm32-wasip1 and run under Node's WASI, the same in wasm (SECURITY.md has both).
    #[test]
    #[ignore]
    fn timing() {
        use ::base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use ::base64::Engine as _;
        use std::hint::black_box;
        use std::time::{Duration, Instant};
        let mut gen = Gen(7);
        let bytes: Vec<u8> = (0..300).map(|_| gen.next() as u8).collect();
        let text = b64_encode(&bytes);
        assert_eq!(URL_SAFE_NO_PAD.decode(&text).ok(), b64_decode(&text));
        let batch = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..2000 {
                f();
            }
            start.elapsed() / 2000
        };
        let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
        for _ in 0..40 {
            ours = ours.min(batch(&|| {
                black_box(b64_decode(black_box(&text)));
            }));
            theirs = theirs.min(batch(&|| {
                black_box(URL_SAFE_NO_PAD.decode(black_box(&text)).ok());
            }));
        }
        println!("base64url decode of 400 characters: here {ours:?}, base64 crate {theirs:?}");
    }
}
