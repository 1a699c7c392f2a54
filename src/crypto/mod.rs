//! The primitives, apart from the JWT layer (token, key set, policy, claims, errors) and the
//! front doors, so that the code which is cryptography is in one place:
//!
//! | module | what | hand-written? |
//! |---|---|---|
//! | this one | the [`SignatureCheck`] boundary, key and signature form checks, [`RustCrypto`] | — |
//! | `rsa` | RSASSA-PKCS1-v1_5 and PSS verification | yes: 3-5× the `rsa` crate's speed in wasm |
//! | `ecdsa` | ECDSA P-256 and P-384 verification, one generic code | yes: about 10× the `p256` and `p384` crates' speed in wasm |
//! | `curves` | whether a point is on its curve, for builds without the primitives | yes: tiny, no dependency |
//! | `base64` | strict base64url | yes |
//! | `json` | strict JSON, duplicate members refused | yes: serde_json costs 15 KB gzipped more |
//!
//! Ed25519 (`ed25519-dalek`), SHA-2 and HMAC are RustCrypto's.
//! SECURITY.md says what holds each hand-written module to a reference.
//!
//! The crypto boundary. Everything a JWT layer decides stays here, in the core: which keys are
//! valid (RSA size and exponent, EC points on their curve, Ed25519 encodings canonical and of
//! large order) and whether a signature has the length and form its algorithm and key allow
//! (ECDSA `r || s` in range, Ed25519 `S` canonical and `R` not of small order, RSA below the
//! modulus, HMAC of the hash's length). What is left is the primitive, "this signature over
//! these bytes verifies under this key", which a [`SignatureCheck`] supplies: [`RustCrypto`],
//! the in-wasm primitives (feature `rust-crypto`, on by default, what the Envoy filter uses), or
//! a front door's platform (`node:crypto`, WebCrypto in the npm package). Because the checks
//! above run before either, a primitive laxer than the policy cannot change an answer.

use crate::prelude::*;

pub(crate) mod base64;
// With the in-wasm primitives their own decoding checks points; tests hold the two together.
#[cfg_attr(feature = "rust-crypto", allow(dead_code))]
pub(crate) mod curves;
#[cfg(feature = "rust-crypto")]
mod ecdsa;
// Not in the npm package's wasm, whose host converts (see `json::exact`).
#[cfg(not(all(feature = "web-client", target_arch = "wasm32")))]
mod decimal;
pub(crate) mod json;
#[cfg(feature = "rust-crypto")]
mod rsa;

/// What `jwtgate::__oracle` exposes (feature `oracle-tests`).
#[cfg(feature = "oracle-tests")]
pub(crate) mod oracle {
    pub use super::ecdsa::oracle::Ops;
    pub use super::ecdsa::{P256, P384};
    pub use super::rsa::oracle::RsaModulus;
}

use crate::alg::Algorithm;
use crate::error::pieces;
use crate::Jwk;
use base64::b64_encode;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: bounds the cost of one verification.
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// The primitive the core delegates: whether `signature` over `message` verifies under `key`
/// with `alg`. Called only once the core has checked that the key fits `alg` and that the
/// signature has the length and form the algorithm and key allow; a check must not be lenient
/// beyond the algorithm's definition (RFC 7518: ECDSA as `r || s`, PSS with a salt as long as
/// the hash, HMAC compared in constant time).
pub trait SignatureCheck {
    /// Whether the signature verifies.
    fn verify(&self, alg: Algorithm, key: &Jwk, message: &[u8], signature: &[u8]) -> bool;
}

/// The in-wasm primitives: jwtgate's RSA, P-256 and P-384, ed25519-dalek and HMAC-SHA-2. What `Verifier::verify_at` uses.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

#[cfg(feature = "rust-crypto")]
impl SignatureCheck for RustCrypto {
    fn verify(&self, alg: Algorithm, key: &Jwk, message: &[u8], signature: &[u8]) -> bool {
        key.material().native.verify(alg, message, signature)
    }
}

/// Verification-ready key material, checked once when the key set is loaded: the public
/// parameters (what a platform imports), and with `rust-crypto` the parsed in-wasm key.
#[derive(Clone)]
pub(crate) struct KeyMaterial {
    public: Public,
    #[cfg(feature = "rust-crypto")]
    native: native::Key,
}

/// The public parameters, big-endian, as the JWK gave them (RSA without leading zeros).
#[derive(Clone)]
enum Public {
    Rsa { n: Box<[u8]>, e: u64 },
    P256 { x: Box<[u8]>, y: Box<[u8]> },
    P384 { x: Box<[u8]>, y: Box<[u8]> },
    Ed25519([u8; 32]),
    Oct(Box<[u8]>),
}

/// Why key material was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    RsaTooSmall,
    RsaTooLarge,
    RsaExponent,
    RsaModulus,
    NotOnCurve,
    Length,
}

/// The group orders, big-endian: ECDSA's `r` and `s` and Ed25519's `S` must be below them.
const P256_ORDER: [u8; 32] =
    hex::<32>("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
const P384_ORDER: [u8; 48] = hex::<48>(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);
const ED25519_ORDER: [u8; 32] =
    hex::<32>("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
/// 2^255 - 19, big-endian: an Ed25519 encoding's y must be below it.
pub(crate) const ED25519_P: [u8; 32] =
    hex::<32>("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
/// The y-coordinates of Ed25519's points of order 1, 2, 4 and 8, little-endian (sign bit
/// clear): 1, p - 1, 0, and the two of order 8. A key or `R` with one of them is refused.
const ED25519_SMALL_ORDER_Y: [[u8; 32]; 5] = [
    le32("0000000000000000000000000000000000000000000000000000000000000001"),
    le32("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec"),
    [0; 32],
    le32("05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826"),
    le32("7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7"),
];

const fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Big-endian bytes from hex, at compile time: the constants below are written as the
/// standards print them.
pub(crate) const fn hex<const N: usize>(h: &str) -> [u8; N] {
    let h = h.as_bytes();
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = hex_digit(h[2 * i]) << 4 | hex_digit(h[2 * i + 1]);
        i += 1;
    }
    out
}

const fn le32(h: &str) -> [u8; 32] {
    let be: [u8; 32] = hex(h);
    let mut out = [0; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = be[31 - i];
        i += 1;
    }
    out
}

/// Whether big-endian `a` is at least 1 and below `bound`, of the same length.
fn in_range(a: &[u8], bound: &[u8]) -> bool {
    a.len() == bound.len() && a < bound && a.iter().any(|&b| b != 0)
}

/// An Ed25519 encoding's y (sign bit cleared), little-endian, if it is canonical (below p).
fn ed25519_y(encoded: &[u8; 32]) -> Option<[u8; 32]> {
    let mut y = *encoded;
    y[31] &= 0x7f;
    le_below(&y, &ED25519_P).then_some(y)
}

/// Whether little-endian `le` is below big-endian `bound`, compared from the top byte down: a
/// reversed copy compared as an array was unrolled into byte swaps (0.2 KB gzipped of the npm
/// wasm).
fn le_below(le: &[u8; 32], bound: &[u8; 32]) -> bool {
    le.iter()
        .rev()
        .zip(bound)
        .find(|(a, b)| a != b)
        .is_some_and(|(a, b)| a < b)
}

fn ed25519_small_order(y: &[u8; 32]) -> bool {
    ED25519_SMALL_ORDER_Y.contains(y)
}

/// What one RSA verification costs, in units of an RSA-2048 one with e = 65537 (see
/// `rsa::PublicKey::cost`): Montgomery products are quadratic in the 32-bit limbs, and the
/// exponentiation takes a squaring per bit of e after the first (weight 3) and a product per
/// further set bit (weight 4).
pub(crate) fn rsa_cost(limbs: usize, e: u64) -> usize {
    let squarings = (63 - e.leading_zeros()) as usize;
    let products = (e.count_ones() - 1) as usize;
    (limbs * limbs * (3 * squarings + 4 * products)).div_ceil(64 * 64 * 52)
}

impl KeyMaterial {
    fn new(public: Public) -> Result<KeyMaterial, KeyError> {
        Ok(KeyMaterial {
            #[cfg(feature = "rust-crypto")]
            native: native::Key::new(&public)?,
            public,
        })
    }

    /// What one verification costs, in units of the cheapest (an RSA-2048 or EC check): how
    /// [`crate::JwkSet`] keeps the keys one token may be tried against cheap.
    pub(crate) fn cost(&self) -> usize {
        match &self.public {
            Public::Rsa { n, e } => rsa_cost(n.len().div_ceil(4), *e),
            _ => 1,
        }
    }

    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<KeyMaterial, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall);
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::RsaTooLarge);
        }
        // Small exponents (1, 3) make forgeries against lax PKCS#1 parsers practical and no
        // modern issuer uses them: 65537 is the floor. RSA needs it odd, and capping it below
        // 2^33 (as other implementations do) bounds the cost of a verification.
        if !(17..=33).contains(&bit_len(e)) || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::RsaExponent);
        }
        // An even modulus is no RSA modulus (and no Montgomery arithmetic works with it).
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::RsaModulus);
        }
        let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        KeyMaterial::new(Public::Rsa { n: n.into(), e })
    }

    pub(crate) fn p256(x: &[u8], y: &[u8]) -> Result<KeyMaterial, KeyError> {
        Self::ec(x, y, 32, &curves::P256, |x, y| Public::P256 { x, y })
    }

    pub(crate) fn p384(x: &[u8], y: &[u8]) -> Result<KeyMaterial, KeyError> {
        Self::ec(x, y, 48, &curves::P384, |x, y| Public::P384 { x, y })
    }

    #[cfg_attr(feature = "rust-crypto", allow(unused_variables))]
    fn ec(
        x: &[u8],
        y: &[u8],
        len: usize,
        curve: &curves::Weierstrass,
        public: fn(Box<[u8]>, Box<[u8]>) -> Public,
    ) -> Result<KeyMaterial, KeyError> {
        // RFC 7518 6.2.1.2: coordinates are full length, leading zeros kept.
        if x.len() != len || y.len() != len {
            return Err(KeyError::Length);
        }
        // With the in-wasm primitives, their own point decoding checks the curve equation.
        #[cfg(not(feature = "rust-crypto"))]
        if !curve.on_curve(x, y) {
            return Err(KeyError::NotOnCurve);
        }
        KeyMaterial::new(public(x.into(), y.into()))
    }

    /// An Ed25519 key: canonical (y below p: stricter than ed25519-dalek, which reduces), on
    /// the curve, and not of small order (which `verify_strict` refuses, and platforms do not).
    pub(crate) fn ed25519(x: &[u8]) -> Result<KeyMaterial, KeyError> {
        let x: &[u8; 32] = x.try_into().map_err(|_| KeyError::Length)?;
        let y = ed25519_y(x).ok_or(KeyError::NotOnCurve)?;
        if ed25519_small_order(&y) {
            return Err(KeyError::NotOnCurve);
        }
        #[cfg(not(feature = "rust-crypto"))]
        if !curves::ed25519_y_on_curve(&y) {
            return Err(KeyError::NotOnCurve);
        }
        KeyMaterial::new(Public::Ed25519(*x))
    }

    pub(crate) fn oct(k: &[u8]) -> Result<KeyMaterial, KeyError> {
        if k.is_empty() {
            return Err(KeyError::Length);
        }
        KeyMaterial::new(Public::Oct(k.into()))
    }

    /// The `kty` this material came from.
    pub(crate) fn kty(&self) -> &'static str {
        match self.public {
            Public::Rsa { .. } => "RSA",
            Public::P256 { .. } | Public::P384 { .. } => "EC",
            Public::Ed25519(_) => "OKP",
            Public::Oct(_) => "oct",
        }
    }

    /// Whether this key can verify `alg` at all: the JWK's type and curve must fit the
    /// algorithm, and an HMAC secret must be at least as long as the hash (RFC 7518 3.2).
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match &self.public {
            Public::Rsa { .. } => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Public::P256 { .. } => alg == ES256,
            Public::P384 { .. } => alg == ES384,
            Public::Ed25519(_) => alg == EdDSA,
            Public::Oct(k) => alg.is_symmetric() && k.len() >= alg.hash().len(),
        }
    }

    /// Whether `signature` has the length and form a signature by this key can have: checked
    /// before any primitive sees it, so that no malformed signature reaches the arithmetic and
    /// every primitive is asked only what they all answer alike.
    pub(crate) fn well_formed(&self, alg: Algorithm, signature: &[u8]) -> bool {
        match &self.public {
            // RFC 8017 8.2.2: as long as the modulus, and as a number below it.
            Public::Rsa { n, .. } => signature.len() == n.len() && *signature < **n,
            Public::P256 { .. } => ecdsa_form(signature, &P256_ORDER),
            Public::P384 { .. } => ecdsa_form(signature, &P384_ORDER),
            Public::Ed25519(_) => {
                let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
                    return false;
                };
                let (r, s) = signature.split_at(32);
                let (Ok(r), Ok(s)) = (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) else {
                    return false;
                };
                // RFC 8032 5.1.7: S below the group order; R canonical and (as
                // verify_strict wants) not of small order.
                le_below(s, &ED25519_ORDER)
                    && ed25519_y(r).is_some_and(|y| !ed25519_small_order(&y))
            }
            Public::Oct(_) => signature.len() == alg.hash().len(),
        }
    }

    /// The public key as a minimal JWK (JSON text): what a platform imports. Only the members
    /// its type needs, so that no `alg`, `use` or `key_ops` of the document can make an import
    /// disagree with the core's choice.
    pub(crate) fn to_jwk(&self) -> String {
        // One `pieces` per member (a `push_str` apiece inlined its growth code in the wasm);
        // the names and curves need no escaping.
        let mut out = String::new();
        pieces(&mut out, &["{\"kty\":\"", self.kty(), "\""]);
        let mut member = |name: &str, bytes: &[u8]| {
            pieces(&mut out, &[",\"", name, "\":\"", &b64_encode(bytes), "\""]);
        };
        match &self.public {
            Public::Rsa { n, e } => {
                member("n", n);
                let e = e.to_be_bytes();
                member("e", strip_leading_zeros(&e));
            }
            Public::P256 { x, y } | Public::P384 { x, y } => {
                member("x", x);
                member("y", y);
            }
            Public::Ed25519(x) => member("x", x),
            Public::Oct(k) => member("k", k),
        }
        let crv = match self.public {
            Public::P256 { .. } => "P-256",
            Public::P384 { .. } => "P-384",
            Public::Ed25519(_) => "Ed25519",
            _ => "",
        };
        if !crv.is_empty() {
            pieces(&mut out, &[",\"crv\":\"", crv, "\""]);
        }
        out.push('}');
        out
    }
}

/// ECDSA as JWS has it (RFC 7518 3.4): `r || s`, each full length and in [1, n - 1]. High `s`
/// is valid ECDSA and accepted, as JWS has no low-s rule.
fn ecdsa_form(signature: &[u8], order: &[u8]) -> bool {
    let len = order.len();
    signature.len() == 2 * len
        && in_range(&signature[..len], order)
        && in_range(&signature[len..], order)
}

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&b) => be.len() * 8 - b.leading_zeros() as usize,
    }
}

/// The in-wasm primitives behind [`RustCrypto`].
#[cfg(feature = "rust-crypto")]
mod native {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest as _, Sha256, Sha384, Sha512};

    use super::{ecdsa, rsa};
    use super::{KeyError, Public};
    use crate::alg::{Algorithm, Hash};

    #[derive(Clone)]
    pub(super) enum Key {
        Rsa(Box<rsa::PublicKey>),
        P256(ecdsa::P256Key),
        P384(ecdsa::P384Key),
        Ed25519(ed25519_dalek::VerifyingKey),
        Oct(Box<[u8]>),
    }

    impl Key {
        pub(super) fn new(public: &Public) -> Result<Key, KeyError> {
            Ok(match public {
                Public::Rsa { n, e } => {
                    let e = e.to_be_bytes();
                    Key::Rsa(Box::new(
                        rsa::PublicKey::new(n, &e).ok_or(KeyError::RsaModulus)?,
                    ))
                }
                Public::P256 { x, y } => {
                    Key::P256(ecdsa::P256Key::from_coordinates(x, y).ok_or(KeyError::NotOnCurve)?)
                }
                Public::P384 { x, y } => {
                    Key::P384(ecdsa::P384Key::from_coordinates(x, y).ok_or(KeyError::NotOnCurve)?)
                }
                Public::Ed25519(x) => Key::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(x).map_err(|_| KeyError::NotOnCurve)?,
                ),
                Public::Oct(k) => Key::Oct(k.clone()),
            })
        }

        /// The primitive; the core has checked the key fits `alg` and the signature's form.
        pub(super) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
            match self {
                Key::Rsa(key) => {
                    signature.len() == key.size() && verify_rsa(key, alg, message, signature)
                }
                Key::P256(key) => key.verify(&Sha256::digest(message), signature),
                Key::P384(key) => key.verify(&Sha384::digest(message), signature),
                Key::Ed25519(key) => {
                    let Ok(sig) = <&[u8; 64]>::try_from(signature) else {
                        return false;
                    };
                    // Strict: refuses non-canonical and small-order encodings (malleability).
                    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(sig))
                        .is_ok()
                }
                Key::Oct(secret) => {
                    signature.len() == alg.hash().len()
                        && verify_hmac(secret, alg, message, signature)
                }
            }
        }
    }

    fn verify_rsa(key: &rsa::PublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use Algorithm::*;
        let hash = alg.hash();
        match alg {
            RS256 | RS384 | RS512 => {
                key.verify_pkcs1v15(hash, &rsa::hash_parts(hash, &[message]), signature)
            }
            // RFC 7518 3.5: the salt is as long as the hash (verify_pss insists on it).
            PS256 | PS384 | PS512 => {
                key.verify_pss(hash, &rsa::hash_parts(hash, &[message]), signature)
            }
            _ => false,
        }
    }

    fn verify_hmac(secret: &[u8], alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        fn check<M: Mac + KeyInit>(secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
                return false;
            };
            mac.update(message);
            // Constant-time comparison.
            mac.verify_slice(signature).is_ok()
        }
        match alg.hash() {
            Hash::Sha256 => check::<Hmac<Sha256>>(secret, message, signature),
            Hash::Sha384 => check::<Hmac<Sha384>>(secret, message, signature),
            Hash::Sha512 => check::<Hmac<Sha512>>(secret, message, signature),
        }
    }
}

#[cfg(all(test, feature = "rust-crypto"))]
mod tests {
    use super::*;

    /// The small-order table is what ed25519-dalek calls weak, with either sign bit.
    #[test]
    fn small_order_table_is_dalek_s() {
        let mut decoded = 0;
        for y in ED25519_SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut enc = y;
                enc[31] |= sign;
                if let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&enc) {
                    assert!(key.is_weak(), "{enc:02x?}");
                    decoded += 1;
                }
            }
        }
        assert!(decoded >= 8, "{decoded}");
    }

    /// `le_below` is the order of the numbers: at, just under and just over each bound, and
    /// where the bytes differ low or high.
    #[test]
    fn le_below_compares_little_endian_with_big_endian() {
        for bound in [ED25519_P, ED25519_ORDER] {
            let mut le = bound;
            le.reverse();
            assert!(!le_below(&le, &bound));
            let mut under = le;
            under[0] -= 1;
            assert!(le_below(&under, &bound));
            let mut over = le;
            over[0] += 1;
            assert!(!le_below(&over, &bound));
            let mut high = under;
            high[31] += 1;
            assert!(!le_below(&high, &bound));
            assert!(le_below(&[0; 32], &bound));
            assert!(!le_below(&[0xff; 32], &bound));
        }
    }

    /// The curve checks of a build without the in-wasm primitives refuse exactly the points
    /// the primitives' own decoding refuses: random y for Ed25519, and EC points with one
    /// coordinate perturbed.
    #[test]
    fn curve_checks_agree_with_the_primitives() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut on = 0;
        for _ in 0..200 {
            let mut enc = [0u8; 32];
            enc.iter_mut().for_each(|b| *b = next() as u8);
            enc[31] &= 0x7f;
            if ed25519_y(&enc).is_none() {
                continue;
            }
            let dalek = curve25519_on_curve(&enc);
            assert_eq!(curves::ed25519_y_on_curve(&enc), dalek, "{enc:02x?}");
            on += usize::from(dalek);
        }
        assert!(on > 50 && on < 150, "{on} of 200 random y on the curve");
        for y in ED25519_SMALL_ORDER_Y {
            assert!(curves::ed25519_y_on_curve(&y));
        }

        let g256 = (
            hex::<32>("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
            hex::<32>("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
        );
        let g384 = (
            hex::<48>("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
            hex::<48>("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"),
        );
        for flip in 0..64 {
            let mut y = g256.1;
            if flip > 0 {
                y[flip % 32] ^= 1 << (flip % 8);
            }
            let native = ecdsa::P256Key::from_coordinates(&g256.0, &y).is_some();
            assert_eq!(curves::P256.on_curve(&g256.0, &y), native);
            assert_eq!(native, flip == 0);
            let mut y = g384.1;
            if flip > 0 {
                y[flip % 48] ^= 1 << (flip % 8);
            }
            let mut point = vec![4];
            point.extend_from_slice(&g384.0);
            point.extend_from_slice(&y);
            let native = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).is_ok();
            assert_eq!(
                ecdsa::P384Key::from_coordinates(&g384.0, &y).is_some(),
                native
            );
            assert_eq!(curves::P384.on_curve(&g384.0, &y), native);
            assert_eq!(native, flip == 0);
        }
    }

    use super::ecdsa;

    fn curve25519_on_curve(y: &[u8; 32]) -> bool {
        // Both signs: decompression fails only when the y has no x at all.
        ed25519_dalek::VerifyingKey::from_bytes(y).is_ok()
    }
}
