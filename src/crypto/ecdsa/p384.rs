//! P-384 (FIPS 186-4 D.1.2.4) for the generic code: its constants, and the field product
//! reduced by the special form p = 2^384 - 2^128 - 2^96 + 2^32 - 1.

use std::sync::OnceLock;

use super::{finish, limbs, Affine, Curve};

type Limbs = [u32; 12];

/// 2^384 ≡ 2^128 + 2^96 - 2^32 + 1 (mod p), as (32-bit word offset, sign).
pub(super) const FOLD: [(usize, i64); 4] = [(0, 1), (1, -1), (3, 1), (4, 1)];

/// Runs `$body` for each limb index.
macro_rules! unroll12 {
    ($i:ident => $body:expr) => {
        unroll!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], $i => $body)
    };
}

/// The curve P-384 (secp384r1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P384;

impl Curve<12> for P384 {
    const P: Limbs = limbs(
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    );
    const N: Limbs = limbs(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    );
    const B: Limbs = limbs(
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    );
    const GX: Limbs = limbs(
        "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
    );
    const GY: Limbs = limbs(
        "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
    );

    fn mul(a: &Limbs, b: &Limbs) -> Limbs {
        reduce(&product_columns!(unroll12, 24, a, b))
    }

    /// a²: 78 limb products instead of 144.
    fn sqr(a: &Limbs) -> Limbs {
        reduce(&square_columns!(unroll12, 24, a))
    }

    fn g_tables() -> &'static [Affine<12, P384>] {
        static TABLES: OnceLock<Vec<Affine<12, P384>>> = OnceLock::new();
        TABLES.get_or_init(super::g_tables)
    }
}

/// A product, as columns c with value Σ c_i·2^(32i), reduced mod p by the special form of p
/// (FIPS 186-4 D.2.4): each word of the residue a signed sum of columns, FOLD applied from the
/// top column down, written out (the tests hold it to that fold). Linear in the c_i, so it
/// holds for columns wider than 32 bits (below 2^37): the sums stay below 2^41.
#[inline]
fn reduce(col: &[u64; 24]) -> Limbs {
    let c = |i: usize| col[i] as i64;
    let w = [
        c(0) + c(12) + c(20) + c(21) - c(23),
        c(1) - c(12) + c(13) - c(20) + c(22) + c(23),
        c(2) - c(13) + c(14) - c(21) + c(23),
        c(3) + c(12) - c(14) + c(15) + c(20) + c(21) - c(22) - c(23),
        c(4) + c(12) + c(13) - c(15) + c(16) + c(20) + 2 * c(21) + c(22) - 2 * c(23),
        c(5) + c(13) + c(14) - c(16) + c(17) + c(21) + 2 * c(22) + c(23),
        c(6) + c(14) + c(15) - c(17) + c(18) + c(22) + 2 * c(23),
        c(7) + c(15) + c(16) - c(18) + c(19) + c(23),
        c(8) + c(16) + c(17) - c(19) + c(20),
        c(9) + c(17) + c(18) - c(20) + c(21),
        c(10) + c(18) + c(19) - c(21) + c(22),
        c(11) + c(19) + c(20) - c(22) + c(23),
    ];
    finish(w, &FOLD, &P384::P)
}
