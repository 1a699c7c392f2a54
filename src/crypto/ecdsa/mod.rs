//! ECDSA verification on the NIST curves P-256 and P-384, written for wasm32, one code for
//! both: the arithmetic is generic over the number of 32-bit limbs (8 or 12) and over a
//! [`Curve`], which gives the constants and the field product with its special-form reduction
//! (`p256.rs`, `p384.rs`).
//!
//! Why it exists: WebAssembly has no 64×64→128-bit product, so the RustCrypto `p256` and
//! `p384` crates' generic 64-bit-limb arithmetic (crypto-bigint) turns every limb product into
//! a call to `__multi3`. Here the field uses 32-bit limbs, where each limb product is a single
//! `i64.mul`, the special form of p (Solinas reduction), a dedicated squaring, and a
//! verification split into 32-bit scalar multiplications with precomputed tables, so that only
//! 32 doublings remain (64-bit parts and 64 doublings until issue 20). Measured when P-256
//! replaced the `p256` crate (one ES256 check, fastest of several batches on a busy 2-core
//! machine): natively about 370 µs there against 66-73 µs here; in wasm under Node, about
//! 1,300-1,900 µs against 150-235 µs. SECURITY.md keeps the current figures, P-384's included,
//! and what issue 20 tried.
//!
//! Variable time on purpose: this only verifies, and everything it sees (the key, the
//! message, the signature) is public. It must never be used with secret scalars.
//!
//! What guards it: the unit tests below (RFC 6979 known answers, field and scalar identities
//! over many random values against a slow reference, each closed-form reduction against the
//! generic fold, the exceptional cases of addition, n·G = ∞, on both curves),
//! `tests/ecdsa_oracles.rs` (every field and scalar operation against fiat-crypto's formally
//! verified code), `tests/ecdsa_differential.rs` (thousands of signatures, valid and mutated,
//! against the `p256` and `p384` crates' verifiers) and the Wycheproof ECDSA P-256 and P-384
//! vectors in `tests/wycheproof.rs`, which aim at the edge cases of exactly this kind of code.

use core::marker::PhantomData;

/// Runs `$body` with `$i` bound to each listed index in turn. The limb products of a field
/// multiplication are written out with it: left to the optimiser, the nested loops stayed
/// rolled (the limbs then live in linear memory instead of locals) and P-384's product took
/// 4× P-256's instead of (12/8)².
macro_rules! unroll {
    ([$($n:literal),*], $i:ident => $body:expr) => {{
        #[allow(clippy::identity_op, clippy::erasing_op)]
        {
            $({
                let $i: usize = $n;
                $body;
            })*
        }
    }};
}

/// The columns (see below) of a·b, `$w` = 2L of them, the limb loops written out by `$unroll`.
macro_rules! product_columns {
    ($unroll:ident, $w:literal, $a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        let mut col = [0u64; $w];
        $unroll!(i => $unroll!(j => {
            let t = u64::from(a[i]) * u64::from(b[j]);
            col[i + j] += t & 0xffff_ffff;
            col[i + j + 1] += t >> 32;
        }));
        col
    }};
}

/// The columns of a², computing each cross product once (L(L + 1)/2 limb products).
macro_rules! square_columns {
    ($unroll:ident, $w:literal, $a:expr) => {{
        let a = $a;
        let mut col = [0u64; $w];
        $unroll!(i => $unroll!(j => {
            if j >= i {
                let t = u64::from(a[i]) * u64::from(a[j]);
                let twice = if j > i { 1 } else { 0 };
                col[i + j] += (t & 0xffff_ffff) << twice;
                col[i + j + 1] += (t >> 32) << twice;
            }
        }));
        col
    }};
}

mod p256;
mod p384;

pub use self::p256::P256;
pub use self::p384::P384;

/// A P-256 public key.
pub(crate) type P256Key = PublicKey<8, P256>;
/// A P-384 public key.
pub(crate) type P384Key = PublicKey<12, P384>;

/// What a curve y² = x³ - 3x + b over a prime field of `L` 32-bit limbs gives the generic
/// code: its constants (little-endian limbs) and the field product, whose reduction uses the
/// special form of its p.
pub(crate) trait Curve<const L: usize>:
    Copy + Clone + core::fmt::Debug + PartialEq + Eq + Sized + 'static
{
    /// The field prime.
    const P: [u32; L];
    /// The group order.
    const N: [u32; L];
    const B: [u32; L];
    const GX: [u32; L];
    const GY: [u32; L];
    /// -n^-1 mod 2^32 (Montgomery arithmetic mod n).
    const N_INV: u32 = neg_inv(Self::N[0]);

    /// a·b mod p, for a, b < p.
    fn mul(a: &[u32; L], b: &[u32; L]) -> [u32; L];
    /// a² mod p, for a < p.
    fn sqr(a: &[u32; L]) -> [u32; L];
    /// The odd multiples of G and of its 2^(32i) multiples: built once per process, on the
    /// curve's first verification.
    fn g_tables() -> &'static [Affine<L, Self>];
}

/// -x^-1 mod 2^32 for an odd x, by Newton's iteration (each step doubles the correct bits).
pub(crate) const fn neg_inv(x: u32) -> u32 {
    let mut y = 1u32;
    let mut i = 0;
    while i < 5 {
        y = y.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(y)));
        i += 1;
    }
    y.wrapping_neg()
}

/// Parses 8·L hex digits (big-endian) at compile time, so constants read as in the standards.
pub(crate) const fn limbs<const L: usize>(hex: &str) -> [u32; L] {
    let h = hex.as_bytes();
    assert!(h.len() == 8 * L);
    let mut out = [0u32; L];
    let mut i = 0;
    while i < 8 * L {
        let d = match h[i] {
            b'0'..=b'9' => h[i] - b'0',
            b'a'..=b'f' => h[i] - b'a' + 10,
            _ => panic!("not a hex digit"),
        };
        out[L - 1 - i / 8] |= (d as u32) << (4 * (7 - i % 8));
        i += 1;
    }
    out
}

const fn one<const L: usize>() -> [u32; L] {
    let mut out = [0u32; L];
    out[0] = 1;
    out
}

/// Each scalar is cut into 32-bit parts, each multiplying its own base point (G, 2^32·G,
/// 2^64·G, …, and the same for Q): the doublings, most of the cost of a single scalar
/// multiplication, are shared by all parts and run over 32 bits only, L parts. The additions
/// stay about 32L/(w + 1) per scalar for a window w, the tables grow with the parts. Measured
/// in wasm (issue 20): 64-bit parts cost about a fifth more a verification, 16-bit parts
/// about 3% less, for twice the tables and half as much again the first verification of a key.
/// Any part size that divides 32, or 64, works (the tests hold the tables to a reference).
const PART_BITS: usize = 32;
const _: () = assert!(PART_BITS == 64 || 32 % PART_BITS == 0);
/// A wNAF of a `PART_BITS`-bit number has at most one digit more.
const NAF_LEN: usize = PART_BITS + 1;
/// wNAF window for G: its tables are built once per process (on the first verification), so
/// they can be large: 2^(w-2) = 64 odd multiples per part (P-256: 8 × 64 × 64 bytes = 32 KiB;
/// P-384: 12 × 64 × 96 bytes = 72 KiB). 8 is also the widest an `i8` digit holds; 9 and 10
/// measured no more than 2% faster.
const G_WINDOW: u32 = 8;
/// wNAF window for a key: its tables are built on its first verification and kept with the
/// key, 16 points per part (P-256: 8 KiB; P-384: 18 KiB). 7 measured 2-3% faster a
/// verification for a first verification half as costly again and twice the memory.
const Q_WINDOW: u32 = 6;

/// The 4·L big-endian bytes `b` as limbs; `None` for another length.
pub(crate) fn from_be_bytes<const L: usize>(b: &[u8]) -> Option<[u32; L]> {
    if b.len() != 4 * L {
        return None;
    }
    let mut out = [0u32; L];
    for (i, chunk) in b.chunks_exact(4).enumerate() {
        out[L - 1 - i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    Some(out)
}

#[cfg(any(test, feature = "oracle-tests"))]
pub(crate) fn to_be_bytes<const L: usize>(a: &[u32; L]) -> Vec<u8> {
    a.iter().rev().flat_map(|l| l.to_be_bytes()).collect()
}

/// a + b and the carry out.
#[inline]
fn adc<const L: usize>(a: &[u32; L], b: &[u32; L]) -> ([u32; L], bool) {
    let mut out = [0u32; L];
    let mut carry = 0u64;
    for i in 0..L {
        let t = u64::from(a[i]) + u64::from(b[i]) + carry;
        out[i] = t as u32;
        carry = t >> 32;
    }
    (out, carry != 0)
}

/// a - b and the borrow out.
#[inline]
fn sbb<const L: usize>(a: &[u32; L], b: &[u32; L]) -> ([u32; L], bool) {
    let mut out = [0u32; L];
    let mut borrow = 0u64;
    for i in 0..L {
        let t = u64::from(a[i])
            .wrapping_sub(u64::from(b[i]))
            .wrapping_sub(borrow);
        out[i] = t as u32;
        borrow = t >> 63;
    }
    (out, borrow != 0)
}

fn lt<const L: usize>(a: &[u32; L], b: &[u32; L]) -> bool {
    sbb(a, b).1
}

fn is_zero<const L: usize>(a: &[u32; L]) -> bool {
    a.iter().all(|&l| l == 0)
}

/// (a + b) mod m, for a, b < m.
#[inline]
pub(crate) fn add_mod<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
    let (sum, carry) = adc(a, b);
    let (reduced, borrow) = sbb(&sum, m);
    if carry || !borrow {
        reduced
    } else {
        sum
    }
}

/// (a - b) mod m, for a, b < m.
#[inline]
pub(crate) fn sub_mod<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
    let (diff, borrow) = sbb(a, b);
    if borrow {
        adc(&diff, m).0
    } else {
        diff
    }
}

/// x / 2^k mod m, for x < m, m odd, 0 < k < 32 and m_inv = -m^-1 mod 2^32: x + t·m, with t
/// below 2^k chosen to make it divisible by 2^k, shifted right (below m, as x and t·m are below
/// m and (2^k - 1)·m). One pass for k halvings.
fn shr_mod<const L: usize>(x: &[u32; L], k: u32, m: &[u32; L], m_inv: u32) -> [u32; L] {
    let t = u64::from(x[0].wrapping_mul(m_inv) & ((1 << k) - 1));
    let mut sum = [0u32; L];
    let mut carry = 0u64;
    for i in 0..L {
        let v = u64::from(x[i]) + t * u64::from(m[i]) + carry;
        sum[i] = v as u32;
        carry = v >> 32;
    }
    let mut out = [0u32; L];
    for i in 0..L - 1 {
        out[i] = (sum[i] >> k) | (sum[i + 1] << (32 - k));
    }
    out[L - 1] = (sum[L - 1] >> k) | ((carry as u32) << (32 - k));
    out
}

/// x >> k for 0 < k < 32.
fn shr<const L: usize>(x: &mut [u32; L], k: u32) {
    for i in 0..L - 1 {
        x[i] = (x[i] >> k) | (x[i + 1] << (32 - k));
    }
    x[L - 1] >>= k;
}

/// x / a mod m for an odd prime m and 0 < a < m, by the binary extended Euclidean algorithm:
/// variable time, which the public inputs allow, and cheaper than Fermat's exponentiation.
/// Each run of trailing zeros is shifted out at once (`shr_mod`), not one bit at a time.
/// Returns 0 for a = 0 rather than looping.
pub(crate) fn div_mod<const L: usize>(x: &[u32; L], a: &[u32; L], m: &[u32; L]) -> [u32; L] {
    let (zero, one) = ([0u32; L], one::<L>());
    if is_zero(a) {
        return zero;
    }
    // Invariants: x1·a ≡ u·x and x2·a ≡ v·x (mod m); gcd(u, v) = gcd(a, m) = 1.
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2) = (*x, zero);
    let m_inv = neg_inv(m[0]);
    while u != one && v != one {
        // The trailing zeros of u (and v), up to 31 at a time: u is never zero (gcd 1).
        while u[0] & 1 == 0 {
            let k = u[0].trailing_zeros().min(31);
            shr(&mut u, k);
            x1 = shr_mod(&x1, k, m, m_inv);
        }
        while v[0] & 1 == 0 {
            let k = v[0].trailing_zeros().min(31);
            shr(&mut v, k);
            x2 = shr_mod(&x2, k, m, m_inv);
        }
        let (d, borrow) = sbb(&u, &v);
        if borrow {
            v = sbb(&v, &u).0;
            x2 = sub_mod(&x2, &x1, m);
        } else {
            u = d;
            x1 = sub_mod(&x1, &x2, m);
        }
    }
    if u == one {
        x1
    } else {
        x2
    }
}

/// a·b·2^-(32L) mod n for a, b < n (Montgomery multiplication, CIOS): with w = 2^(32L)/s from
/// one inversion, e·w and r·w are then e/s and r/s, for one inversion instead of two.
pub(crate) fn mont_mul_n<const L: usize, C: Curve<L>>(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
    let n = &C::N;
    // t[L] and t[L + 1]: the two limbs above.
    let mut t = [0u32; L];
    let mut t_l = 0u32;
    for &bi in b {
        let mut carry = 0u64;
        for j in 0..L {
            let x = u64::from(t[j]) + u64::from(a[j]) * u64::from(bi) + carry;
            t[j] = x as u32;
            carry = x >> 32;
        }
        let x = u64::from(t_l) + carry;
        t_l = x as u32;
        let t_l1 = (x >> 32) as u32;
        // t + m·n is divisible by 2^32.
        let m = t[0].wrapping_mul(C::N_INV);
        let mut carry = (u64::from(t[0]) + u64::from(m) * u64::from(n[0])) >> 32;
        for j in 1..L {
            let x = u64::from(t[j]) + u64::from(m) * u64::from(n[j]) + carry;
            t[j - 1] = x as u32;
            carry = x >> 32;
        }
        let x = u64::from(t_l) + carry;
        t[L - 1] = x as u32;
        t_l = t_l1 + (x >> 32) as u32;
    }
    // t < 2n.
    let (reduced, borrow) = sbb(&t, n);
    if t_l != 0 || !borrow {
        reduced
    } else {
        t
    }
}

// Field arithmetic mod p. Elements are always fully reduced (< p): equality and the zero test
// are then plain comparisons, and the reduction's final subtraction is cheap next to a product.

fn fadd<const L: usize, C: Curve<L>>(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
    add_mod(a, b, &C::P)
}

fn fsub<const L: usize, C: Curve<L>>(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
    sub_mod(a, b, &C::P)
}

// The products (in p256.rs, p384.rs) are summed in 64-bit columns, each limb product split in
// its 32-bit halves, with no carry propagated until the reduction: the additions are then
// independent of each other (no long carry chain), and the reduction, linear in the columns,
// takes them as they are. A column is a sum of at most 2L halves, below 2^37.

/// Signed word sums w, with value Σ w_i·2^(32i), reduced mod a p for which
/// 2^(32L) ≡ Σ sign·2^(32·offset) (mod p), the `fold` terms: the top word's bits above 32 (a
/// multiple of 2^(32L)) folded in first, so that the carry pass seldom leaves anything above
/// 2^(32L), and what it leaves folded back in until nothing is (|top| ≤ 1 after the first
/// pass); then one conditional subtraction (p > 2^(32L-1)), skipped when the top limb is below
/// p's, as it almost always is. Each carry pass is a chain of dependent steps, the longest
/// part of a field product: one pass instead of two, and no subtraction chain, measured
/// about 10% off a verification in wasm (issue 20).
#[inline]
pub(crate) fn finish<const L: usize>(
    mut w: [i64; L],
    fold: &[(usize, i64)],
    p: &[u32; L],
) -> [u32; L] {
    let high = w[L - 1] >> 32;
    w[L - 1] &= 0xffff_ffff;
    for &(offset, sign) in fold {
        w[offset] += sign * high;
    }
    let (mut r, mut top) = carry_out(w);
    while top != 0 {
        let mut w = r.map(i64::from);
        for &(offset, sign) in fold {
            w[offset] += sign * top;
        }
        (r, top) = carry_out(w);
    }
    if r[L - 1] < p[L - 1] {
        return r;
    }
    let (reduced, borrow) = sbb(&r, p);
    if borrow {
        r
    } else {
        reduced
    }
}

/// Signed columns to limbs, and what carries out of the top (as a signed multiple of 2^(32L)).
#[inline]
pub(crate) fn carry_out<const L: usize>(w: [i64; L]) -> ([u32; L], i64) {
    let mut r = [0u32; L];
    let mut carry = 0i64;
    for i in 0..L {
        let t = w[i] + carry;
        r[i] = t as u32;
        carry = t >> 32;
    }
    (r, carry)
}

fn finv<const L: usize, C: Curve<L>>(a: &[u32; L]) -> [u32; L] {
    div_mod(&one::<L>(), a, &C::P)
}

/// An affine point, never the point at infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine<const L: usize, C> {
    x: [u32; L],
    y: [u32; L],
    curve: PhantomData<C>,
}

impl<const L: usize, C: Curve<L>> Affine<L, C> {
    const G: Self = Affine::new(C::GX, C::GY);

    const fn new(x: [u32; L], y: [u32; L]) -> Self {
        Affine {
            x,
            y,
            curve: PhantomData,
        }
    }

    fn neg(&self) -> Self {
        Affine::new(self.x, fsub::<L, C>(&[0; L], &self.y))
    }

    fn on_curve(&self) -> bool {
        // y² = x³ - 3x + b
        let x3 = C::mul(&C::sqr(&self.x), &self.x);
        let three_x = fadd::<L, C>(&fadd::<L, C>(&self.x, &self.x), &self.x);
        C::sqr(&self.y) == fadd::<L, C>(&fsub::<L, C>(&x3, &three_x), &C::B)
    }
}

/// (X, Y, Z) for the affine point (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian<const L: usize, C> {
    x: [u32; L],
    y: [u32; L],
    z: [u32; L],
    curve: PhantomData<C>,
}

impl<const L: usize, C: Curve<L>> Jacobian<L, C> {
    const INFINITY: Self = Jacobian::new(one::<L>(), one::<L>(), [0; L]);

    const fn new(x: [u32; L], y: [u32; L], z: [u32; L]) -> Self {
        Jacobian {
            x,
            y,
            z,
            curve: PhantomData,
        }
    }

    fn from_affine(p: &Affine<L, C>) -> Self {
        Jacobian::new(p.x, p.y, one::<L>())
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// dbl-2001-b (a = -3), 3M + 5S. Neither curve has a point of order 2, so Y ≠ 0 here.
    fn double(&self) -> Self {
        if self.is_infinity() {
            return *self;
        }
        let (add, sub) = (fadd::<L, C>, fsub::<L, C>);
        let delta = C::sqr(&self.z);
        let gamma = C::sqr(&self.y);
        let beta = C::mul(&self.x, &gamma);
        let t = C::mul(&sub(&self.x, &delta), &add(&self.x, &delta));
        let alpha = add(&add(&t, &t), &t);
        let beta2 = add(&beta, &beta);
        let beta4 = add(&beta2, &beta2);
        let beta8 = add(&beta4, &beta4);
        let x = sub(&C::sqr(&alpha), &beta8);
        let z = sub(&sub(&C::sqr(&add(&self.y, &self.z)), &gamma), &delta);
        let gamma2 = C::sqr(&gamma);
        let gamma4 = add(&gamma2, &gamma2);
        let gamma8 = add(&gamma4, &gamma4);
        let y = sub(&C::mul(&alpha, &sub(&beta4, &x)), &add(&gamma8, &gamma8));
        Jacobian::new(x, y, z)
    }

    /// self + q, madd-2007-bl (7M + 4S), with the cases the formula does not cover: either
    /// point at infinity, equal points (a doubling) and opposite points (infinity). ECDSA
    /// inputs can be chosen to reach them, so they are handled, not assumed away.
    fn add_affine(&self, q: &Affine<L, C>) -> Self {
        if self.is_infinity() {
            return Jacobian::from_affine(q);
        }
        let (add, sub) = (fadd::<L, C>, fsub::<L, C>);
        let z1z1 = C::sqr(&self.z);
        let u2 = C::mul(&q.x, &z1z1);
        let s2 = C::mul(&q.y, &C::mul(&self.z, &z1z1));
        let h = sub(&u2, &self.x);
        let r = sub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = C::sqr(&h);
        let i = add(&add(&hh, &hh), &add(&hh, &hh));
        let j = C::mul(&h, &i);
        let r = add(&r, &r);
        let v = C::mul(&self.x, &i);
        let x = sub(&sub(&C::sqr(&r), &j), &add(&v, &v));
        let y1j = C::mul(&self.y, &j);
        let y = sub(&C::mul(&r, &sub(&v, &x)), &add(&y1j, &y1j));
        let z = sub(&sub(&C::sqr(&add(&self.z, &h)), &z1z1), &hh);
        Jacobian::new(x, y, z)
    }
}

/// Affine forms of points none of which is at infinity, with one field inversion for all
/// (Montgomery's trick).
fn to_affine<const L: usize, C: Curve<L>>(points: &[Jacobian<L, C>]) -> Vec<Affine<L, C>> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = one::<L>();
    for p in points {
        debug_assert!(!p.is_infinity());
        acc = C::mul(&acc, &p.z);
        prefix.push(acc);
    }
    let mut inv = finv::<L, C>(&acc);
    let mut out = vec![Affine::new([0; L], [0; L]); points.len()];
    for i in (0..points.len()).rev() {
        let zinv = if i == 0 {
            inv
        } else {
            C::mul(&inv, &prefix[i - 1])
        };
        inv = C::mul(&inv, &points[i].z);
        let zinv2 = C::sqr(&zinv);
        out[i] = Affine::new(
            C::mul(&points[i].x, &zinv2),
            C::mul(&points[i].y, &C::mul(&zinv2, &zinv)),
        );
    }
    out
}

/// For each of `p`, 2^32·p, 2^64·p, …: its odd multiples 1·, 3·, …, (2^(w-1) - 1)·, part
/// after part.
fn tables<const L: usize, C: Curve<L>>(p: &Affine<L, C>, window: u32) -> Vec<Affine<L, C>> {
    let parts = parts::<L>();
    let per_part = 1usize << (window - 2);
    let mut bases = vec![Jacobian::from_affine(p)];
    for _ in 1..parts {
        let mut b = bases[bases.len() - 1];
        for _ in 0..PART_BITS {
            b = b.double();
        }
        bases.push(b);
    }
    let bases = to_affine(&bases);
    let doubled = to_affine(
        &bases
            .iter()
            .map(|b| Jacobian::from_affine(b).double())
            .collect::<Vec<_>>(),
    );
    let mut all = Vec::with_capacity(parts * per_part);
    for (base, twice) in bases.iter().zip(&doubled) {
        let mut m = Jacobian::from_affine(base);
        all.push(m);
        for _ in 1..per_part {
            m = m.add_affine(twice);
            all.push(m);
        }
    }
    to_affine(&all)
}

/// G's tables, for a curve's `g_tables`.
fn g_tables<const L: usize, C: Curve<L>>() -> Vec<Affine<L, C>> {
    tables(&Affine::G, G_WINDOW)
}

/// The width-`window` NAF of `k`: digits odd and below 2^(w-1) in absolute value, any two
/// non-zero digits at least `window` apart.
fn wnaf(k: u64, window: u32) -> [i8; NAF_LEN] {
    // k + 2^(w-1) may not fit in 64 bits.
    let mut n = u128::from(k);
    let mut out = [0i8; NAF_LEN];
    let mut i = 0;
    while n != 0 {
        let zeros = n.trailing_zeros();
        n >>= zeros;
        i += zeros as usize;
        let mut d = (n as u32 & ((1 << window) - 1)) as i32;
        if d >= 1 << (window - 1) {
            d -= 1 << window;
        }
        // Leaves the low `window` bits zero.
        n = n.wrapping_sub(d as u128);
        out[i] = d as i8;
    }
    out
}

/// Bits `PART_BITS`·part to `PART_BITS`·(part + 1) - 1 of k.
fn part<const L: usize>(k: &[u32; L], part: usize) -> u64 {
    let bit = part * PART_BITS;
    let lo = bit / 32;
    let hi = k.get(lo + 1).map_or(0, |&l| u64::from(l));
    let v = (u64::from(k[lo]) | hi << 32) >> (bit % 32);
    if PART_BITS == 64 {
        v
    } else {
        v & ((1 << (PART_BITS % 64)) - 1)
    }
}

/// How many parts a scalar of `L` limbs is cut into.
const fn parts<const L: usize>() -> usize {
    32 * L / PART_BITS
}

/// u1·G + u2·Q, by one interleaved wNAF pass over all parts of both scalars.
fn double_mul<const L: usize, C: Curve<L>>(
    u1: &[u32; L],
    u2: &[u32; L],
    q_tables: &[Affine<L, C>],
) -> Jacobian<L, C> {
    let g_tables = C::g_tables();
    let g_per = 1usize << (G_WINDOW - 2);
    let q_per = 1usize << (Q_WINDOW - 2);
    let mut terms = Vec::with_capacity(2 * parts::<L>());
    for part in 0..parts::<L>() {
        terms.push((
            wnaf(self::part(u1, part), G_WINDOW),
            &g_tables[part * g_per..(part + 1) * g_per],
        ));
        terms.push((
            wnaf(self::part(u2, part), Q_WINDOW),
            &q_tables[part * q_per..(part + 1) * q_per],
        ));
    }
    let mut acc = Jacobian::INFINITY;
    for i in (0..NAF_LEN).rev() {
        acc = acc.double();
        for (naf, table) in &terms {
            let d = naf[i];
            // Digit d = ±(2j + 1) selects table[j].
            if d > 0 {
                acc = acc.add_affine(&table[(d / 2) as usize]);
            } else if d < 0 {
                acc = acc.add_affine(&table[(-d / 2) as usize].neg());
            }
        }
    }
    acc
}

/// A public key, checked to be on the curve.
#[derive(Clone)]
pub(crate) struct PublicKey<const L: usize, C: Curve<L>> {
    q: Affine<L, C>,
    /// Odd multiples of Q, 2^32·Q, 2^64·Q, …, made on the first verification (which costs
    /// about four verifications): a key set may hold keys never used, and parsing stays
    /// cheap.
    tables: std::sync::OnceLock<Vec<Affine<L, C>>>,
}

impl<const L: usize, C: Curve<L>> PublicKey<L, C> {
    /// The key (x, y), big-endian coordinates of 4·L bytes: refused unless both are below p
    /// and the point is on the curve. (The point at infinity has no such encoding.)
    pub(crate) fn from_coordinates(x: &[u8], y: &[u8]) -> Option<Self> {
        let q = Affine::new(from_be_bytes(x)?, from_be_bytes(y)?);
        (lt(&q.x, &C::P) && lt(&q.y, &C::P) && q.on_curve()).then(|| PublicKey {
            q,
            tables: std::sync::OnceLock::new(),
        })
    }

    /// Checks an ECDSA signature `r || s` (big-endian, 4·L bytes each) over a digest as long
    /// as the field (SHA-256 for P-256, SHA-384 for P-384). Both s and n - s are accepted, as
    /// JWS (RFC 7518 3.4) allows.
    pub(crate) fn verify(&self, digest: &[u8], signature: &[u8]) -> bool {
        let n = &C::N;
        let (Some(r), Some(s), Some(mut e)) = (
            from_be_bytes::<L>(signature.get(..4 * L).unwrap_or_default()),
            from_be_bytes::<L>(signature.get(4 * L..).unwrap_or_default()),
            from_be_bytes::<L>(digest),
        ) else {
            return false;
        };
        if is_zero(&r) || is_zero(&s) || !lt(&r, n) || !lt(&s, n) {
            return false;
        }
        // FIPS 186-4 6.4: the digest's leftmost bits, as many as n has (all of it), mod n.
        if !lt(&e, n) {
            e = sbb(&e, n).0;
        }
        // 2^(32L) mod n = 2^(32L) - n.
        let w = div_mod(&sbb(&[0; L], n).0, &s, n);
        let u1 = mont_mul_n::<L, C>(&e, &w);
        let u2 = mont_mul_n::<L, C>(&r, &w);
        let tables = self.tables.get_or_init(|| tables(&self.q, Q_WINDOW));
        let point = double_mul(&u1, &u2, tables);
        if point.is_infinity() {
            return false;
        }
        // x(R) mod n == r, without inverting Z: x(R) = X/Z² is r or r + n (the latter only
        // if r + n < p, since x(R) < p).
        let z2 = C::sqr(&point.z);
        if C::mul(&r, &z2) == point.x {
            return true;
        }
        let (rn, carry) = adc(&r, n);
        !carry && lt(&rn, &C::P) && C::mul(&rn, &z2) == point.x
    }
}

/// The field and scalar operations, exposed (feature `oracle-tests`, never in a release) for
/// `tests/ecdsa_oracles.rs` and the `ecdsa_field` fuzz target to hold against fiat-crypto.
/// Values are big-endian bytes, fully reduced; each curve's field elements are plain residues
/// (no Montgomery form), the scalar product is Montgomery's (a·b·2^-(32L) mod n).
#[cfg(feature = "oracle-tests")]
pub mod oracle {
    use super::*;

    /// One hand-written curve's operations on big-endian bytes.
    pub trait Ops {
        /// Bytes of a field element or scalar.
        const LEN: usize;
        /// p, big-endian.
        fn p() -> Vec<u8>;
        /// n, big-endian.
        fn n() -> Vec<u8>;
        /// a + b mod p.
        fn fadd(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a - b mod p.
        fn fsub(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a·b mod p.
        fn fmul(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a² mod p.
        fn fsqr(a: &[u8]) -> Vec<u8>;
        /// 1/a mod p (0 for 0).
        fn finv(a: &[u8]) -> Vec<u8>;
        /// a + b mod n.
        fn nadd(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a - b mod n.
        fn nsub(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a·b·2^-(32L) mod n.
        fn nmont(a: &[u8], b: &[u8]) -> Vec<u8>;
        /// a / b mod n (0 for b = 0).
        fn ndiv(a: &[u8], b: &[u8]) -> Vec<u8>;
    }

    fn l<const L: usize>(a: &[u8]) -> [u32; L] {
        from_be_bytes(a).expect("4·L bytes")
    }

    macro_rules! ops {
        ($curve:ty, $l:literal) => {
            impl Ops for $curve {
                const LEN: usize = 4 * $l;
                fn p() -> Vec<u8> {
                    to_be_bytes(&<$curve as Curve<$l>>::P)
                }
                fn n() -> Vec<u8> {
                    to_be_bytes(&<$curve as Curve<$l>>::N)
                }
                fn fadd(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&fadd::<$l, $curve>(&l(a), &l(b)))
                }
                fn fsub(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&fsub::<$l, $curve>(&l(a), &l(b)))
                }
                fn fmul(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&<$curve as Curve<$l>>::mul(&l(a), &l(b)))
                }
                fn fsqr(a: &[u8]) -> Vec<u8> {
                    to_be_bytes(&<$curve as Curve<$l>>::sqr(&l(a)))
                }
                fn finv(a: &[u8]) -> Vec<u8> {
                    to_be_bytes(&finv::<$l, $curve>(&l(a)))
                }
                fn nadd(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&add_mod(&l(a), &l(b), &<$curve as Curve<$l>>::N))
                }
                fn nsub(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&sub_mod(&l(a), &l(b), &<$curve as Curve<$l>>::N))
                }
                fn nmont(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&mont_mul_n::<$l, $curve>(&l(a), &l(b)))
                }
                fn ndiv(a: &[u8], b: &[u8]) -> Vec<u8> {
                    to_be_bytes(&div_mod(&l(a), &l(b), &<$curve as Curve<$l>>::N))
                }
            }
        };
    }
    ops!(P256, 8);
    ops!(P384, 12);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::json::tests::Gen;

    /// The JSON tests' small deterministic generator, 32 bits at a time: the tests need many
    /// values, not quality.
    struct Rng(Gen);

    impl Rng {
        fn next_u32(&mut self) -> u32 {
            (self.0.next() >> 32) as u32
        }

        /// Below m, with a bias towards the edges (all ones, all zeros, near m) where carries
        /// and reductions go wrong.
        fn below<const L: usize>(&mut self, m: &[u32; L]) -> [u32; L] {
            loop {
                let mut a = [0u32; L];
                let kind = self.next_u32() % 8;
                for l in a.iter_mut() {
                    *l = match kind {
                        0 => 0xffff_ffff,
                        1 => [0, 0xffff_ffff, 1][(self.next_u32() % 3) as usize],
                        _ => self.next_u32(),
                    };
                }
                if kind == 2 {
                    // m - small
                    let mut small = [0u32; L];
                    small[0] = self.next_u32() % 5 + 1;
                    a = sbb(m, &small).0;
                }
                if lt(&a, m) {
                    return a;
                }
            }
        }
    }

    /// The columns of a·b (W = 2L).
    #[inline]
    fn columns<const L: usize, const W: usize>(a: &[u32; L], b: &[u32; L]) -> [u64; W] {
        let mut col = [0u64; W];
        for i in 0..L {
            for j in 0..L {
                let t = u64::from(a[i]) * u64::from(b[j]);
                col[i + j] += t & 0xffff_ffff;
                col[i + j + 1] += t >> 32;
            }
        }
        col
    }

    /// The reference the curves' closed-form reductions are held to: each column from the
    /// top down folded into the ones below it by 2^(32L) ≡ Σ sign·2^(32·offset) (mod p).
    fn fold_reduce<const L: usize, const W: usize>(
        col: &[u64; W],
        fold: &[(usize, i64)],
        p: &[u32; L],
    ) -> [u32; L] {
        let mut w = col.map(|c| c as i64);
        for k in (L..W).rev() {
            for &(offset, sign) in fold {
                w[k - L + offset] += sign * w[k];
            }
        }
        finish(w[..L].try_into().unwrap(), fold, p)
    }

    fn small<const L: usize>(v: u32) -> [u32; L] {
        let mut out = [0u32; L];
        out[0] = v;
        out
    }

    /// a·b mod m by double-and-add: slow, but built on add_mod alone, so independent of the
    /// multiplication and reduction it checks.
    fn mul_ref<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
        let mut acc = [0; L];
        for i in (0..32 * L).rev() {
            acc = add_mod(&acc, &acc, m);
            if b[i / 32] >> (i % 32) & 1 == 1 {
                acc = add_mod(&acc, a, m);
            }
        }
        acc
    }

    /// k·p by plain double-and-add from the top bit, a reference for the wNAF code.
    fn mul_simple<const L: usize, C: Curve<L>>(p: &Affine<L, C>, k: &[u32; L]) -> Jacobian<L, C> {
        let mut acc = Jacobian::INFINITY;
        for i in (0..32 * L).rev() {
            acc = acc.double();
            if k[i / 32] >> (i % 32) & 1 == 1 {
                acc = acc.add_affine(p);
            }
        }
        acc
    }

    fn affine<const L: usize, C: Curve<L>>(p: &Jacobian<L, C>) -> Option<Affine<L, C>> {
        (!p.is_infinity()).then(|| to_affine(&[*p])[0])
    }

    fn add_sub_reference_identities<const L: usize, C: Curve<L>>(seed: u64) {
        let mut rng = Rng(Gen(seed));
        for m in [&C::P, &C::N] {
            for _ in 0..2000 {
                let (a, b) = (rng.below(m), rng.below(m));
                let s = add_mod(&a, &b, m);
                assert!(lt(&s, m));
                assert_eq!(sub_mod(&s, &b, m), a);
                assert_eq!(add_mod(&sub_mod(&a, &b, m), &b, m), a);
                // x / 2^k: times 2^k, a again.
                let k = rng.next_u32() % 31 + 1;
                let q = shr_mod(&a, k, m, neg_inv(m[0]));
                assert!(lt(&q, m));
                let mut back = q;
                for _ in 0..k {
                    back = add_mod(&back, &back, m);
                }
                assert_eq!(back, a);
            }
        }
    }

    #[test]
    fn add_sub_identities() {
        add_sub_reference_identities::<8, P256>(1);
        add_sub_reference_identities::<12, P384>(11);
    }

    fn field_mul_against_reference<const L: usize, C: Curve<L>>(seed: u64) {
        let mut rng = Rng(Gen(seed));
        for _ in 0..2000 {
            let (a, b) = (rng.below(&C::P), rng.below(&C::P));
            let ab = C::mul(&a, &b);
            assert_eq!(ab, mul_ref(&a, &b, &C::P), "{a:x?} {b:x?}");
            assert_eq!(C::sqr(&a), C::mul(&a, &a));
            assert_eq!(C::mul(&b, &a), ab);
            // The generic reduction agrees with each curve's product.
            assert_eq!(fold_reduce_of::<L, C>(&a, &b), ab);
        }
        // The edges: p - 1 squared is 1, and products of all-ones patterns.
        let pm1 = sbb(&C::P, &one()).0;
        assert_eq!(C::sqr(&pm1), one());
        assert_eq!(C::mul(&pm1, &one()), pm1);
        assert_eq!(C::mul(&[0; L], &pm1), [0; L]);
    }

    /// Each curve's product through the generic reduction.
    fn fold_reduce_of<const L: usize, C: Curve<L>>(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
        fn cast<const M: usize>(x: &[u32]) -> [u32; M] {
            x.try_into().unwrap()
        }
        match L {
            8 => {
                let r = fold_reduce(&columns::<8, 16>(&cast(a), &cast(b)), &p256::FOLD, &P256::P);
                cast(&r)
            }
            _ => {
                let r = fold_reduce(
                    &columns::<12, 24>(&cast(a), &cast(b)),
                    &p384::FOLD,
                    &P384::P,
                );
                cast(&r)
            }
        }
    }

    #[test]
    fn field_mul() {
        field_mul_against_reference::<8, P256>(2);
        field_mul_against_reference::<12, P384>(12);
    }

    fn montgomery_mod_n<const L: usize, C: Curve<L>>(seed: u64) {
        let mut rng = Rng(Gen(seed));
        let r_mod_n = sbb(&[0; L], &C::N).0;
        assert_eq!(C::N[0].wrapping_mul(C::N_INV), u32::MAX);
        for _ in 0..2000 {
            let (a, b) = (rng.below(&C::N), rng.below(&C::N));
            let m = mont_mul_n::<L, C>(&a, &b);
            assert!(lt(&m, &C::N));
            assert_eq!(mul_ref(&m, &r_mod_n, &C::N), mul_ref(&a, &b, &C::N));
            // What verify does: e·(2^(32L)/s)·2^-(32L) = e/s.
            if !is_zero(&b) {
                let w = div_mod(&r_mod_n, &b, &C::N);
                assert_eq!(mont_mul_n::<L, C>(&a, &w), div_mod(&a, &b, &C::N));
            }
        }
    }

    #[test]
    fn montgomery() {
        montgomery_mod_n::<8, P256>(6);
        montgomery_mod_n::<12, P384>(16);
    }

    fn inversion_of<const L: usize, C: Curve<L>>(seed: u64) {
        let mut rng = Rng(Gen(seed));
        for m in [&C::P, &C::N] {
            for _ in 0..500 {
                let (a, b) = (rng.below(m), rng.below(m));
                if is_zero(&b) {
                    continue;
                }
                let q = div_mod(&a, &b, m);
                assert_eq!(mul_ref(&q, &b, m), a);
                let inv = div_mod(&one(), &b, m);
                assert_eq!(mul_ref(&mul_ref(&a, &b, m), &inv, m), a);
            }
            assert_eq!(div_mod(&one(), &one(), m), one());
            let mm1 = sbb(m, &one()).0;
            assert_eq!(div_mod(&one(), &mm1, m), mm1);
        }
        assert_eq!(
            finv::<L, C>(&C::sqr(&small(2))),
            div_mod(&one(), &small(4), &C::P)
        );
    }

    #[test]
    fn inversion() {
        inversion_of::<8, P256>(3);
        inversion_of::<12, P384>(13);
    }

    fn group_law_edges_of<const L: usize, C: Curve<L>>() {
        let g_aff = Affine::<L, C>::G;
        let g = Jacobian::from_affine(&g_aff);
        assert!(g_aff.on_curve());
        // G + G through the exceptional path of the mixed addition is the doubling.
        let two = affine(&g.add_affine(&g_aff)).unwrap();
        assert_eq!(two, affine(&g.double()).unwrap());
        assert!(two.on_curve());
        // G + (-G) is infinity; infinity + G is G.
        assert!(g.add_affine(&g_aff.neg()).is_infinity());
        assert_eq!(affine(&Jacobian::INFINITY.add_affine(&g_aff)), Some(g_aff));
        assert!(Jacobian::<L, C>::INFINITY.double().is_infinity());
        // 3G two ways.
        let three = affine(&g.double().add_affine(&g_aff)).unwrap();
        assert_eq!(
            Some(three),
            affine(&Jacobian::from_affine(&two).add_affine(&g_aff))
        );
        // n·G = ∞ and (n - 1)·G = -G.
        assert!(mul_simple(&g_aff, &C::N).is_infinity());
        let nm1 = sbb(&C::N, &one()).0;
        assert_eq!(affine(&mul_simple(&g_aff, &nm1)), Some(g_aff.neg()));
        assert!(double_mul(&nm1, &one(), &tables(&g_aff, Q_WINDOW)).is_infinity());
        assert!(double_mul(&one(), &nm1, &tables(&g_aff, Q_WINDOW)).is_infinity());
    }

    #[test]
    fn group_law_edges() {
        group_law_edges_of::<8, P256>();
        group_law_edges_of::<12, P384>();
    }

    #[test]
    fn wnaf_digits() {
        let mut rng = Rng(Gen(4));
        for _ in 0..2000 {
            let k = rng.below(&P384::N);
            // The parts put back together are k.
            let mut whole = [0u32; 12];
            for part in 0..parts::<12>() {
                let (bit, v) = (part * PART_BITS, self::part(&k, part));
                assert!(PART_BITS == 64 || v >> PART_BITS == 0);
                for b in 0..PART_BITS {
                    whole[(bit + b) / 32] |= ((v >> b & 1) as u32) << ((bit + b) % 32);
                }
            }
            assert_eq!(whole, k);
            for window in [Q_WINDOW, G_WINDOW, 2] {
                for part in 0..parts::<12>() {
                    let naf = wnaf(self::part(&k, part), window);
                    // Σ d_i 2^i.
                    let v = naf.iter().rev().fold(0i128, |v, &d| 2 * v + i128::from(d));
                    assert_eq!(v, i128::from(self::part(&k, part)));
                    assert!(naf[NAF_LEN - 1] >= 0);
                    for w in naf.windows(window as usize) {
                        assert!(w.iter().filter(|&&d| d != 0).count() <= 1);
                    }
                    assert!(
                        naf.iter()
                            .all(|&d| d == 0
                                || (d % 2 != 0 && i32::from(d).abs() < 1 << (window - 1)))
                    );
                }
            }
        }
    }

    /// Every entry of a table, (2j + 1)·2^(PART_BITS·i)·P for part i, against the plain
    /// double-and-add, for G's tables (as a curve keeps them) and a key's.
    fn tables_against_simple_of<const L: usize, C: Curve<L>>(seed: u64) {
        let g = Affine::<L, C>::G;
        let q = affine(&mul_simple(&g, &Rng(Gen(seed)).below(&C::N))).unwrap();
        for (base, window, table) in [
            (g, G_WINDOW, C::g_tables().to_vec()),
            (q, Q_WINDOW, tables(&q, Q_WINDOW)),
        ] {
            let per_part = 1usize << (window - 2);
            assert_eq!(table.len(), parts::<L>() * per_part);
            for (index, entry) in table.iter().enumerate() {
                let (part, j) = (index / per_part, index % per_part);
                let bit = part * PART_BITS;
                // 2j + 1 < 2^7 shifted by less than 32L - 31 bits stays within L limbs.
                let mut k = [0u32; L];
                let m = (2 * j as u64 + 1) << (bit % 32);
                k[bit / 32] = m as u32;
                if bit / 32 + 1 < L {
                    k[bit / 32 + 1] = (m >> 32) as u32;
                }
                assert_eq!(
                    affine(&mul_simple(&base, &k)),
                    Some(*entry),
                    "part {part}, {j}"
                );
                assert!(entry.on_curve());
            }
        }
    }

    #[test]
    fn tables_against_simple() {
        tables_against_simple_of::<8, P256>(7);
        tables_against_simple_of::<12, P384>(17);
    }

    fn double_mul_against_simple_of<const L: usize, C: Curve<L>>(seed: u64) {
        let mut rng = Rng(Gen(seed));
        let g = Affine::<L, C>::G;
        let q = affine(&mul_simple(&g, &rng.below(&C::N))).unwrap();
        let q_tables = tables(&q, Q_WINDOW);
        // Scalars whose parts are all ones, or alternately all ones and zero, where a part's
        // wNAF carries into its top digit (the next part's weight).
        let nm1 = sbb(&C::N, &one()).0;
        let ones_low = {
            let mut k = [u32::MAX; L];
            k[L - 1] = 0;
            k
        };
        let alternate: [u32; L] = core::array::from_fn(|i| if i % 2 == 0 { u32::MAX } else { 0 });
        let edges = [nm1, ones_low, alternate, one(), [0; L]];
        let pairs = edges
            .iter()
            .flat_map(|a| edges.iter().map(move |b| (*a, *b)))
            .chain((0..20).map(|_| (rng.below(&C::N), rng.below(&C::N))))
            .collect::<Vec<_>>();
        for (a, b) in pairs {
            let want = match (affine(&mul_simple(&g, &a)), affine(&mul_simple(&q, &b))) {
                (Some(ag), Some(bq)) => affine(&Jacobian::from_affine(&ag).add_affine(&bq)),
                (ag, None) => ag,
                (None, bq) => bq,
            };
            assert_eq!(affine(&double_mul(&a, &b, &q_tables)), want);
        }
    }

    #[test]
    fn double_mul_against_simple() {
        double_mul_against_simple_of::<8, P256>(5);
        double_mul_against_simple_of::<12, P384>(15);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    // RFC 6979 A.2.5: P-256 with SHA-256.
    const UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
    const UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

    fn rfc6979() -> [(Vec<u8>, Vec<u8>); 2] {
        use sha2::{Digest, Sha256};
        let sig = |r: &str, s: &str| [hex(r), hex(s)].concat();
        [
            (
                Sha256::digest(b"sample").to_vec(),
                sig(
                    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
                    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
                ),
            ),
            (
                Sha256::digest(b"test").to_vec(),
                sig(
                    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
                    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
                ),
            ),
        ]
    }

    #[test]
    fn rfc6979_known_answers() {
        let key = P256Key::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        for (digest, sig) in rfc6979() {
            assert!(key.verify(&digest, &sig));
            // n - s verifies too (no low-s rule).
            let mut high = sig.clone();
            let s: [u32; 8] = from_be_bytes(&sig[32..]).unwrap();
            high[32..].copy_from_slice(&to_be_bytes(&sbb(&P256::N, &s).0));
            assert!(key.verify(&digest, &high));
            for bit in 0..512 {
                let mut bad = sig.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!key.verify(&digest, &bad), "signature bit {bit}");
            }
            for bit in 0..256 {
                let mut bad = digest.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!key.verify(&bad, &sig), "digest bit {bit}");
            }
            // Wrong lengths are refused, not read past.
            assert!(!key.verify(&digest[..31], &sig));
            assert!(!key.verify(&digest, &sig[..63]));
        }
        // The two signatures do not verify each other's messages.
        let [(d1, s1), (d2, s2)] = rfc6979();
        assert!(!key.verify(&d1, &s2) && !key.verify(&d2, &s1));
        // A clone verifies too, with or without its tables made.
        assert!(key.clone().verify(&d1, &s1));
        let fresh = P256Key::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        assert!(fresh.clone().verify(&d2, &s2));
        // The P-256 key is no P-384 key.
        assert!(P384Key::from_coordinates(&hex(UX), &hex(UY)).is_none());
    }

    #[test]
    fn refused_keys_and_scalars() {
        let (x, y) = (hex(UX), hex(UY));
        let p = to_be_bytes(&P256::P);
        assert!(P256Key::from_coordinates(&x, &p).is_none());
        assert!(P256Key::from_coordinates(&p, &y).is_none());
        let mut off = y.clone();
        off[31] ^= 1;
        assert!(P256Key::from_coordinates(&x, &off).is_none());
        assert!(P256Key::from_coordinates(&[0; 32], &[0; 32]).is_none());
        let key = P256Key::from_coordinates(&x, &y).unwrap();
        let (digest, sig) = rfc6979()[0].clone();
        let n = to_be_bytes(&P256::N);
        let n_plus_r = to_be_bytes(&adc(&P256::N, &from_be_bytes(&sig[..32]).unwrap()).0);
        for r in [vec![0; 32], n.clone(), n_plus_r, p.clone()] {
            let mut bad = sig.clone();
            bad[..32].copy_from_slice(&r);
            assert!(!key.verify(&digest, &bad));
        }
        for s in [vec![0; 32], n, p, vec![0xff; 32]] {
            let mut bad = sig.clone();
            bad[32..].copy_from_slice(&s);
            assert!(!key.verify(&digest, &bad));
        }
    }

    /// The r + n branch of the final comparison. x(R) ≥ n happens for one R in 2^128 or more,
    /// so the test makes one: a point R with x(R) in [n, p) used as the key Q, and the
    /// signature (r, s) = (x(R) - n, x(R) - n) over e = 0, for which u1 = 0, u2 = 1, R = Q.
    fn r_plus_n_branch_of<const L: usize, C: Curve<L>>() {
        // sqrt(a) = a^((p + 1)/4), as p ≡ 3 (mod 4) for both curves.
        let mut exp = adc(&C::P, &one()).0;
        shr(&mut exp, 2);
        let sqrt = |a: &[u32; L]| {
            let mut acc = one();
            for i in (0..32 * L).rev() {
                acc = C::sqr(&acc);
                if exp[i / 32] >> (i % 32) & 1 == 1 {
                    acc = C::mul(&acc, a);
                }
            }
            (C::sqr(&acc) == *a).then_some(acc)
        };
        // From n + 1: x = n is P-384's x of a point, and would make r = 0.
        let mut x = adc(&C::N, &one()).0;
        let point = loop {
            let rhs = fadd::<L, C>(
                &fsub::<L, C>(&C::mul(&C::sqr(&x), &x), &C::mul(&x, &small(3))),
                &C::B,
            );
            if let Some(y) = sqrt(&rhs) {
                break Affine::<L, C>::new(x, y);
            }
            x = adc(&x, &one()).0;
        };
        assert!(point.on_curve() && !lt(&point.x, &C::N) && lt(&point.x, &C::P));
        let key =
            PublicKey::<L, C>::from_coordinates(&to_be_bytes(&point.x), &to_be_bytes(&point.y))
                .unwrap();
        let r = to_be_bytes(&sbb(&point.x, &C::N).0);
        let sig = [r.clone(), r].concat();
        assert!(key.verify(&vec![0; 4 * L], &sig));
        // e = n is e = 0 after the reduction mod n.
        assert!(key.verify(&to_be_bytes(&C::N), &sig));
        assert!(!key.verify(&to_be_bytes(&one::<L>()), &sig));
        // r = x(R) itself is not below n: refused before any arithmetic.
        let mut sig = sig;
        sig[..4 * L].copy_from_slice(&to_be_bytes(&point.x));
        assert!(!key.verify(&vec![0; 4 * L], &sig));
    }

    #[test]
    fn r_plus_n_branch() {
        r_plus_n_branch_of::<8, P256>();
        r_plus_n_branch_of::<12, P384>();
    }

    /// Not a test: `cargo test --release --lib ecdsa::tests::timing -- --ignored --nocapture`
    /// prints the time of one verification on each curve (the fastest of 20 batches: the
    /// machine may be busy), and of a key's first, which builds its tables. Built for wasm32-wasip1 and run under Node's WASI, the same in
    /// wasm (see SECURITY.md).
    #[test]
    #[ignore]
    fn timing() {
        use sha2::{Digest, Sha384};
        use std::hint::black_box;
        fn fastest(batches: u32, rounds: u32, mut f: impl FnMut()) -> std::time::Duration {
            (0..batches)
                .map(|_| {
                    let start = std::time::Instant::now();
                    for _ in 0..rounds {
                        f();
                    }
                    start.elapsed() / rounds
                })
                .min()
                .unwrap()
        }
        let k256 = P256Key::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        let (d256, s256) = rfc6979()[0].clone();
        // RFC 6979 A.2.6: P-384 with SHA-384, message "sample".
        let k384 = P384Key::from_coordinates(
            &hex("ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13"),
            &hex("8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720"),
        )
        .unwrap();
        let d384 = Sha384::digest(b"sample").to_vec();
        let s384 = [
            hex("94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80fabe46"),
            hex("99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a38628ac8"),
        ]
        .concat();
        assert!(k256.verify(&d256, &s256) && k384.verify(&d384, &s384));
        // The RustCrypto crates this code replaced, on the same keys and signatures.
        use ::p256::ecdsa::signature::hazmat::PrehashVerifier;
        let crate_key = |x: &[u8], y: &[u8]| [&[4u8][..], x, y].concat();
        let r256 =
            ::p256::ecdsa::VerifyingKey::from_sec1_bytes(&crate_key(&hex(UX), &hex(UY))).unwrap();
        let r256_sig = ::p256::ecdsa::Signature::from_slice(&s256).unwrap();
        let r384 = ::p384::ecdsa::VerifyingKey::from_sec1_bytes(&crate_key(
            &to_be_bytes(&k384.q.x),
            &to_be_bytes(&k384.q.y),
        ))
        .unwrap();
        let r384_sig = ::p384::ecdsa::Signature::from_slice(&s384).unwrap();
        assert!(r256.verify_prehash(&d256, &r256_sig).is_ok());
        assert!(r384.verify_prehash(&d384, &r384_sig).is_ok());
        // Batches alternate, so that all see the same load.
        let mut best = [std::time::Duration::MAX; 4];
        for _ in 0..40 {
            let times = [
                fastest(1, 30, || assert!(k256.verify(black_box(&d256), &s256))),
                fastest(1, 10, || assert!(k384.verify(black_box(&d384), &s384))),
                fastest(1, 3, || {
                    assert!(r256.verify_prehash(black_box(&d256), &r256_sig).is_ok())
                }),
                fastest(1, 1, || {
                    assert!(r384.verify_prehash(black_box(&d384), &r384_sig).is_ok())
                }),
            ];
            for (b, t) in best.iter_mut().zip(times) {
                *b = (*b).min(t);
            }
        }
        let [p256, p384, crate256, crate384] = best;
        println!(
            "ecdsa: verify P-256 {p256:?}, P-384 {p384:?}; p256 crate {crate256:?}, \
             p384 crate {crate384:?}"
        );
        // A key's first verification, which builds its tables (G's are built by now).
        let first256 = fastest(20, 1, || {
            let key = P256Key::from_coordinates(&hex(UX), &hex(UY)).unwrap();
            assert!(key.verify(black_box(&d256), &s256));
        });
        let first384 = fastest(20, 1, || {
            let (x, y) = (to_be_bytes(&k384.q.x), to_be_bytes(&k384.q.y));
            let key = P384Key::from_coordinates(&x, &y).unwrap();
            assert!(key.verify(black_box(&d384), &s384));
        });
        println!("  a key's first verification: P-256 {first256:?}, P-384 {first384:?}");
        fn parts<const L: usize, C: Curve<L>>() {
            let a = sbb(&C::P, &small(12345)).0;
            let b = sbb(&C::N, &small(777)).0;
            let mul = fastest(20, 20000, || {
                black_box(C::mul(black_box(&a), &b));
            });
            let sqr = fastest(20, 20000, || {
                black_box(C::sqr(black_box(&a)));
            });
            let inv = fastest(20, 200, || {
                black_box(div_mod(&one(), black_box(&b), &C::N));
            });
            let mont = fastest(20, 20000, || {
                black_box(mont_mul_n::<L, C>(black_box(&a), &b));
            });
            let add = fastest(20, 20000, || {
                black_box(fsub::<L, C>(&fadd::<L, C>(black_box(&a), &b), &a));
            });
            println!(
                "  {L} limbs: field mul {mul:?}, square {sqr:?}, add + sub {add:?}, \
                 inversion mod n {inv:?}, Montgomery mod n {mont:?}"
            );
        }
        parts::<8, P256>();
        parts::<12, P384>();
    }
}
