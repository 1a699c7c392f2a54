//! P-256 (FIPS 186-4 D.1.2.3) for the generic code: its constants, and the field product
//! reduced by the special form of p (FIPS 186-4 D.2.3), written out word by word.

use std::sync::OnceLock;

use super::{finish, limbs, Affine, Curve};

type Limbs = [u32; 8];

/// Runs `$body` for each limb index.
macro_rules! unroll8 {
    ($i:ident => $body:expr) => {
        unroll!([0, 1, 2, 3, 4, 5, 6, 7], $i => $body)
    };
}

/// The curve P-256 (secp256r1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P256;

impl Curve<8> for P256 {
    const P: Limbs = limbs("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    const N: Limbs = limbs("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    const B: Limbs = limbs("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");
    const GX: Limbs = limbs("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
    const GY: Limbs = limbs("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");

    fn mul(a: &Limbs, b: &Limbs) -> Limbs {
        reduce(&product_columns!(unroll8, 16, a, b))
    }

    /// a²: 36 limb products instead of 64.
    fn sqr(a: &Limbs) -> Limbs {
        reduce(&square_columns!(unroll8, 16, a))
    }

    fn g_tables() -> &'static [Affine<8, P256>] {
        static TABLES: OnceLock<Vec<Affine<8, P256>>> = OnceLock::new();
        TABLES.get_or_init(super::g_tables)
    }
}

/// 2^256 ≡ 2^224 - 2^192 - 2^96 + 1 (mod p), as (32-bit word offset, sign).
pub(super) const FOLD: [(usize, i64); 4] = [(0, 1), (3, -1), (6, -1), (7, 1)];

/// A product, as columns c with value Σ c_i·2^(32i), reduced mod p by the special form of p
/// (FIPS 186-4 D.2.3): the residue is s1 + 2·s2 + 2·s3 + s4 + s5 - s6 - s7 - s8 - s9, each s
/// a 256-bit arrangement of the words, here summed word by word in signed 64-bit columns. The
/// identity is linear in the c_i, so it holds for columns wider than 32 bits (below 2^36).
#[inline]
fn reduce(col: &[u64; 16]) -> Limbs {
    let c = |i: usize| col[i] as i64;
    let w = [
        c(0) + c(8) + c(9) - c(11) - c(12) - c(13) - c(14),
        c(1) + c(9) + c(10) - c(12) - c(13) - c(14) - c(15),
        c(2) + c(10) + c(11) - c(13) - c(14) - c(15),
        c(3) + 2 * (c(11) + c(12)) + c(13) - c(15) - c(8) - c(9),
        c(4) + 2 * (c(12) + c(13)) + c(14) - c(9) - c(10),
        c(5) + 2 * (c(13) + c(14)) + c(15) - c(10) - c(11),
        c(6) + 3 * c(14) + 2 * c(15) + c(13) - c(8) - c(9),
        c(7) + 3 * c(15) + c(8) - c(10) - c(11) - c(12) - c(13),
    ];
    finish(w, &FOLD, &P256::P)
}
