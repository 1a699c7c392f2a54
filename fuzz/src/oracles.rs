//! The oracles: jwtgate's hand-written arithmetic (feature `oracle-tests`, `jwtgate::__oracle`)
//! against references of higher standing. The NIST curves' field and scalar operations
//! against fiat-crypto's `p256_32`, `p256_scalar_32`, `p384_32` and `p384_scalar_32` (code
//! generated from machine-checked proofs), compared after converting out of each side's
//! representation: fiat-crypto works in the Montgomery domain, jwtgate's fields on plain
//! residues, so a value goes in with `to_montgomery` and comes back with `from_montgomery`.
//! The RSA Montgomery product, square, reduction, R² and exponentiation against num-bigint.
//!
//! Shared by the fuzz targets (`ecdsa_field`, `rsa_montgomery`), `tests/fuzz.rs` (their seeds)
//! and `tests/ecdsa_oracles.rs`, `tests/rsa_oracles.rs` (random values and edges).

use jwtgate::__oracle::{Ops, RsaModulus, P256, P384};
use num_bigint::BigUint;

/// A fiat-crypto field (or scalar field) of one curve: big-endian bytes in and out, values
/// below the modulus.
pub trait Fiat {
    fn add(a: &[u8], b: &[u8]) -> Vec<u8>;
    fn sub(a: &[u8], b: &[u8]) -> Vec<u8>;
    fn mul(a: &[u8], b: &[u8]) -> Vec<u8>;
    fn square(a: &[u8]) -> Vec<u8>;
    /// The Montgomery product itself, on the values as they are: a·b·2^-(32L) mod m.
    fn mont_mul(a: &[u8], b: &[u8]) -> Vec<u8>;
}

/// One fiat-crypto module as a [`Fiat`]; the function names spelled out.
macro_rules! fiat {
    ($name:ident, $m:ident, $limbs:literal, $mont:ident, $plain:ident,
     $from_bytes:ident, $to_bytes:ident, $to_mont:ident, $from_mont:ident,
     $add:ident, $sub:ident, $mul:ident, $square:ident) => {
        pub struct $name;

        impl $name {
            fn limbs(a: &[u8]) -> [u32; $limbs] {
                let mut le: [u8; 4 * $limbs] = a.try_into().expect("4·L bytes");
                le.reverse();
                let mut out = [0u32; $limbs];
                fiat_crypto::$m::$from_bytes(&mut out, &le);
                out
            }

            fn bytes(a: &[u32; $limbs]) -> Vec<u8> {
                let mut le = [0u8; 4 * $limbs];
                fiat_crypto::$m::$to_bytes(&mut le, a);
                le.reverse();
                le.to_vec()
            }

            fn into_domain(a: &[u8]) -> fiat_crypto::$m::$mont {
                let mut out = fiat_crypto::$m::$mont([0; $limbs]);
                fiat_crypto::$m::$to_mont(&mut out, &fiat_crypto::$m::$plain(Self::limbs(a)));
                out
            }

            fn out_of_domain(a: &fiat_crypto::$m::$mont) -> Vec<u8> {
                let mut out = fiat_crypto::$m::$plain([0; $limbs]);
                fiat_crypto::$m::$from_mont(&mut out, a);
                Self::bytes(&out.0)
            }

            fn binary(
                op: fn(
                    &mut fiat_crypto::$m::$mont,
                    &fiat_crypto::$m::$mont,
                    &fiat_crypto::$m::$mont,
                ),
                a: &[u8],
                b: &[u8],
            ) -> Vec<u8> {
                let mut out = fiat_crypto::$m::$mont([0; $limbs]);
                op(&mut out, &Self::into_domain(a), &Self::into_domain(b));
                Self::out_of_domain(&out)
            }
        }

        impl Fiat for $name {
            fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
                Self::binary(fiat_crypto::$m::$add, a, b)
            }
            fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
                Self::binary(fiat_crypto::$m::$sub, a, b)
            }
            fn mul(a: &[u8], b: &[u8]) -> Vec<u8> {
                Self::binary(fiat_crypto::$m::$mul, a, b)
            }
            fn square(a: &[u8]) -> Vec<u8> {
                let mut out = fiat_crypto::$m::$mont([0; $limbs]);
                fiat_crypto::$m::$square(&mut out, &Self::into_domain(a));
                Self::out_of_domain(&out)
            }
            fn mont_mul(a: &[u8], b: &[u8]) -> Vec<u8> {
                let mut out = fiat_crypto::$m::$mont([0; $limbs]);
                let (a, b) = (Self::limbs(a), Self::limbs(b));
                fiat_crypto::$m::$mul(
                    &mut out,
                    &fiat_crypto::$m::$mont(a),
                    &fiat_crypto::$m::$mont(b),
                );
                Self::bytes(&out.0)
            }
        }
    };
}

fiat!(
    FiatP256,
    p256_32,
    8,
    fiat_p256_montgomery_domain_field_element,
    fiat_p256_non_montgomery_domain_field_element,
    fiat_p256_from_bytes,
    fiat_p256_to_bytes,
    fiat_p256_to_montgomery,
    fiat_p256_from_montgomery,
    fiat_p256_add,
    fiat_p256_sub,
    fiat_p256_mul,
    fiat_p256_square
);
fiat!(
    FiatP256Scalar,
    p256_scalar_32,
    8,
    fiat_p256_scalar_montgomery_domain_field_element,
    fiat_p256_scalar_non_montgomery_domain_field_element,
    fiat_p256_scalar_from_bytes,
    fiat_p256_scalar_to_bytes,
    fiat_p256_scalar_to_montgomery,
    fiat_p256_scalar_from_montgomery,
    fiat_p256_scalar_add,
    fiat_p256_scalar_sub,
    fiat_p256_scalar_mul,
    fiat_p256_scalar_square
);
fiat!(
    FiatP384,
    p384_32,
    12,
    fiat_p384_montgomery_domain_field_element,
    fiat_p384_non_montgomery_domain_field_element,
    fiat_p384_from_bytes,
    fiat_p384_to_bytes,
    fiat_p384_to_montgomery,
    fiat_p384_from_montgomery,
    fiat_p384_add,
    fiat_p384_sub,
    fiat_p384_mul,
    fiat_p384_square
);
fiat!(
    FiatP384Scalar,
    p384_scalar_32,
    12,
    fiat_p384_scalar_montgomery_domain_field_element,
    fiat_p384_scalar_non_montgomery_domain_field_element,
    fiat_p384_scalar_from_bytes,
    fiat_p384_scalar_to_bytes,
    fiat_p384_scalar_to_montgomery,
    fiat_p384_scalar_from_montgomery,
    fiat_p384_scalar_add,
    fiat_p384_scalar_sub,
    fiat_p384_scalar_mul,
    fiat_p384_scalar_square
);

/// A hand-written curve with its two fiat-crypto references.
pub trait Curve: Ops {
    type Field: Fiat;
    type Scalar: Fiat;
    const NAME: &'static str;
}

impl Curve for P256 {
    type Field = FiatP256;
    type Scalar = FiatP256Scalar;
    const NAME: &'static str = "P-256";
}

impl Curve for P384 {
    type Field = FiatP384;
    type Scalar = FiatP384Scalar;
    const NAME: &'static str = "P-384";
}

fn one(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[len - 1] = 1;
    v
}

/// Every field and scalar operation of curve `C` on a and b (both below p for the field ones,
/// below n for the scalar ones; the caller reduces), against fiat-crypto. Inversion and
/// division, which fiat-crypto has only as divstep, are checked by multiplying back with
/// fiat-crypto's product. Panics on a disagreement.
pub fn check_curve<C: Curve>(a: &[u8], b: &[u8]) {
    let name = C::NAME;
    let (p, n) = (C::p(), C::n());
    let len = C::LEN;
    let field = |v: &[u8]| v < &p[..];
    let scalar = |v: &[u8]| v < &n[..];
    if field(a) && field(b) {
        let ctx = format!("{name} field, a {a:02x?}, b {b:02x?}");
        assert_eq!(C::fadd(a, b), C::Field::add(a, b), "add: {ctx}");
        assert_eq!(C::fsub(a, b), C::Field::sub(a, b), "sub: {ctx}");
        assert_eq!(C::fmul(a, b), C::Field::mul(a, b), "mul: {ctx}");
        assert_eq!(C::fsqr(a), C::Field::square(a), "square: {ctx}");
        let inv = C::finv(a);
        if a.iter().all(|&x| x == 0) {
            assert_eq!(inv, vec![0; len], "inverse of 0: {ctx}");
        } else {
            assert_eq!(C::Field::mul(&inv, a), one(len), "inverse: {ctx}");
        }
    }
    if scalar(a) && scalar(b) {
        let ctx = format!("{name} scalar, a {a:02x?}, b {b:02x?}");
        assert_eq!(C::nadd(a, b), C::Scalar::add(a, b), "add: {ctx}");
        assert_eq!(C::nsub(a, b), C::Scalar::sub(a, b), "sub: {ctx}");
        assert_eq!(
            C::nmont(a, b),
            C::Scalar::mont_mul(a, b),
            "Montgomery: {ctx}"
        );
        let q = C::ndiv(a, b);
        if b.iter().all(|&x| x == 0) {
            assert_eq!(q, vec![0; len], "division by 0: {ctx}");
        } else {
            assert_eq!(C::Scalar::mul(&q, b), a, "division: {ctx}");
        }
    }
}

/// `v` mod m when v < 2m (so for any 4·L bytes against the NIST p and n), by one subtraction.
pub fn reduce_once(v: &[u8], m: &[u8]) -> Vec<u8> {
    if v < m {
        return v.to_vec();
    }
    let d = BigUint::from_bytes_be(v) - BigUint::from_bytes_be(m);
    be(&d, v.len())
}

/// `x` as exactly `len` big-endian bytes.
pub fn be(x: &BigUint, len: usize) -> Vec<u8> {
    let bytes = x.to_bytes_be();
    assert!(bytes.len() <= len || x.bits() == 0);
    let mut out = vec![0u8; len];
    if x.bits() > 0 {
        out[len - bytes.len()..].copy_from_slice(&bytes);
    }
    out
}

/// The `ecdsa_field` target: byte 0 picks the curve (bit 0) and whether the operands are
/// read as field elements or scalars (bit 1); the rest, repeated to two operands, is reduced
/// below the modulus by one subtraction, so that p - 1, n - 1 and all-ones patterns are easy
/// to reach.
pub fn ecdsa_field(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    fn run<C: Curve>(sel: u8, rest: &[u8]) {
        let len = C::LEN;
        let ops = super::cycle(rest, 2 * len);
        let m = if sel & 2 == 0 { C::p() } else { C::n() };
        let (a, b) = (reduce_once(&ops[..len], &m), reduce_once(&ops[len..], &m));
        check_curve::<C>(&a, &b);
    }
    if sel & 1 == 0 {
        run::<P256>(sel, rest);
    } else {
        run::<P384>(sel, rest);
    }
}

/// Every RSA Montgomery operation for `key` on a and b (below n), against num-bigint: the
/// product and square (checked as x·R ≡ a·b mod n, x < n), the reduction of t = a·b (< nR),
/// R² mod n, and s^e mod n (against `modpow`). Panics on a disagreement.
pub fn check_rsa(key: &RsaModulus, n: &[u8], e: u64, a: &[u8], b: &[u8]) {
    let k = key.limbs();
    let len = 4 * k;
    let nn = BigUint::from_bytes_be(n);
    let r = BigUint::from(1u8) << (32 * k);
    let (ai, bi) = (BigUint::from_bytes_be(a), BigUint::from_bytes_be(b));
    assert!(ai < nn && bi < nn);
    let (a, b) = (be(&ai, len), be(&bi, len));
    let ctx = || format!("{} bits, a {ai:x}, b {bi:x}", nn.bits());
    let product = BigUint::from_bytes_be(&key.mont_mul(&a, &b));
    assert!(product < nn, "product not reduced: {}", ctx());
    assert_eq!(&product * &r % &nn, &ai * &bi % &nn, "product: {}", ctx());
    let square = BigUint::from_bytes_be(&key.mont_sqr(&a));
    assert!(square < nn, "square not reduced: {}", ctx());
    assert_eq!(&square * &r % &nn, &ai * &ai % &nn, "square: {}", ctx());
    let t = &ai * &bi;
    let reduced = BigUint::from_bytes_be(&key.redc(&be(&t, 2 * len)));
    assert!(reduced < nn, "reduction not reduced: {}", ctx());
    assert_eq!(&reduced * &r % &nn, &t % &nn, "reduction: {}", ctx());
    assert_eq!(
        BigUint::from_bytes_be(&key.r_squared()),
        &r * &r % &nn,
        "R²: {}",
        ctx()
    );
    let k_bytes = n.len();
    let s = be(&ai, k_bytes);
    let got = key.public_op(&s).expect("s below n, n's length");
    assert_eq!(
        BigUint::from_bytes_be(&got),
        ai.modpow(&BigUint::from(e), &nn),
        "s^e: {}",
        ctx()
    );
}

/// The `rsa_montgomery` target: byte 0 picks the size (64 to 256 limbs, 2048 to 8192 bits,
/// and a few odd sizes) and byte 1 the exponent (65537, 2^33 - 1, or 3); the rest, repeated,
/// is the modulus (top bit and bit 0 set; bit 1 of byte 1 makes its top limb all ones, so
/// that R - n is small), then a and b, each reduced mod n.
pub fn rsa_montgomery(data: &[u8]) {
    let [size, exp, rest @ ..] = data else {
        return;
    };
    const LIMBS: [usize; 8] = [64, 96, 128, 256, 65, 97, 127, 255];
    let limbs = LIMBS[usize::from(*size) % LIMBS.len()];
    let e: u64 = match exp % 3 {
        0 => 65537,
        1 => (1 << 33) - 1,
        _ => 3,
    };
    let bytes = super::cycle(rest, 3 * 4 * limbs);
    let mut n = bytes[..4 * limbs].to_vec();
    n[0] |= 0x80;
    if exp & 4 != 0 {
        n[..4].fill(0xff);
    }
    n[4 * limbs - 1] |= 1;
    let key = RsaModulus::new(&n, &e.to_be_bytes()).expect("an odd modulus above e");
    let nn = BigUint::from_bytes_be(&n);
    let a = BigUint::from_bytes_be(&bytes[4 * limbs..8 * limbs]) % &nn;
    let b = BigUint::from_bytes_be(&bytes[8 * limbs..]) % &nn;
    check_rsa(&key, &n, e, &a.to_bytes_be(), &b.to_bytes_be());
}
