//! ECDSA P-256 verification, written for wasm32.
//!
//! Why it exists: WebAssembly has no 64×64→128-bit product, so the RustCrypto `p256` crate's
//! generic 64-bit-limb arithmetic (crypto-bigint) turns every limb product into a call to
//! `__multi3`. Here the field uses 8 × 32-bit limbs, where each limb product is a single
//! `i64.mul`, the special form of p (Solinas reduction), a dedicated squaring, and a
//! verification split into eight 64-bit scalar multiplications with precomputed tables, so
//! that only 64 doublings remain. Measured when it replaced the `p256` crate (one ES256
//! check, fastest of several batches on a busy 2-core machine): natively about 370 µs there
//! against 66-73 µs here; in the npm package under Node, about 1,300-1,900 µs against
//! 150-235 µs, and the Node bench's "verify ES256" went from 733 to 5,263 tokens/s.
//!
//! Variable time on purpose: this only verifies, and everything it sees (the key, the
//! message, the signature) is public. It must never be used with secret scalars.
//!
//! What guards it: the unit tests below (RFC 6979 known answers, field and scalar identities
//! over many random values against a slow reference, the exceptional cases of addition,
//! n·G = ∞), `tests/p256_differential.rs` (thousands of signatures, valid and mutated, checked
//! against the `p256` crate's verifier) and the Wycheproof ECDSA P-256 vectors in
//! `tests/wycheproof.rs`, which aim at the edge cases of exactly this kind of code.

use std::sync::OnceLock;

/// A 256-bit integer, least significant limb first.
type Limbs = [u32; 8];

/// Runs `$body` with `$i` bound to 0, 1, …, 7 in turn. The limb loops are written out with it
/// because the npm build optimises for size (opt-level "s"), where LLVM leaves them rolled:
/// the limbs then live in linear memory instead of locals, and a verification took 1.75× as
/// long as with the same code at opt-level 3.
macro_rules! unroll8 {
    ($i:ident => $body:expr) => {{
        #[allow(clippy::identity_op, clippy::erasing_op)]
        {
            {
                let $i: usize = 0;
                $body;
            }
            {
                let $i: usize = 1;
                $body;
            }
            {
                let $i: usize = 2;
                $body;
            }
            {
                let $i: usize = 3;
                $body;
            }
            {
                let $i: usize = 4;
                $body;
            }
            {
                let $i: usize = 5;
                $body;
            }
            {
                let $i: usize = 6;
                $body;
            }
            {
                let $i: usize = 7;
                $body;
            }
        }
    }};
}

/// Parses 64 hex digits (big-endian) at compile time, so constants read as in the standards.
const fn limbs(hex: &str) -> Limbs {
    let h = hex.as_bytes();
    assert!(h.len() == 64);
    let mut out = [0u32; 8];
    let mut i = 0;
    while i < 64 {
        let d = match h[i] {
            b'0'..=b'9' => h[i] - b'0',
            b'a'..=b'f' => h[i] - b'a' + 10,
            _ => panic!("not a hex digit"),
        };
        out[7 - i / 8] |= (d as u32) << (4 * (7 - i % 8));
        i += 1;
    }
    out
}

// FIPS 186-4 D.1.2.3.
const P: Limbs = limbs("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
const N: Limbs = limbs("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
const B: Limbs = limbs("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");
const GX: Limbs = limbs("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const GY: Limbs = limbs("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
const ONE: Limbs = [1, 0, 0, 0, 0, 0, 0, 0];
const ZERO: Limbs = [0; 8];

/// Each scalar is cut into this many parts, each multiplying its own base point (G, 2^64·G,
/// 2^128·G, 2^192·G, and the same for Q): the doublings, most of the cost of a single scalar
/// multiplication, are shared by all parts and run over 64 bits only.
const PARTS: usize = 4;
const PART_BITS: usize = 64;
/// A wNAF of a `PART_BITS`-bit number has at most one digit more.
const NAF_LEN: usize = PART_BITS + 1;
/// wNAF window for G: its tables are built once per process (on the first verification), so
/// they can be large: 2^(w-2) = 64 odd multiples per part, 4 × 64 × 64 bytes = 16 KiB.
const G_WINDOW: u32 = 8;
/// wNAF window for a key: its tables are built on its first verification and kept with the key,
/// 4 × 16 points = 4 KiB.
const Q_WINDOW: u32 = 6;

/// The 32 big-endian bytes `b` as limbs.
fn from_be_bytes(b: &[u8]) -> Limbs {
    debug_assert_eq!(b.len(), 32);
    let mut out = [0u32; 8];
    for (i, chunk) in b.chunks_exact(4).enumerate() {
        out[7 - i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    out
}

#[cfg(test)]
fn to_be_bytes(a: &Limbs) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&a[7 - i].to_be_bytes());
    }
    out
}

/// a + b and the carry out.
#[inline]
fn adc(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u32; 8];
    let mut carry = 0u64;
    unroll8!(i => {
        let t = u64::from(a[i]) + u64::from(b[i]) + carry;
        out[i] = t as u32;
        carry = t >> 32;
    });
    (out, carry != 0)
}

/// a - b and the borrow out.
#[inline]
fn sbb(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u32; 8];
    let mut borrow = 0u64;
    unroll8!(i => {
        let t = u64::from(a[i])
            .wrapping_sub(u64::from(b[i]))
            .wrapping_sub(borrow);
        out[i] = t as u32;
        borrow = t >> 63;
    });
    (out, borrow != 0)
}

fn lt(a: &Limbs, b: &Limbs) -> bool {
    sbb(a, b).1
}

fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|&l| l == 0)
}

/// (a + b) mod m, for a, b < m.
#[inline]
fn add_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
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
fn sub_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (diff, borrow) = sbb(a, b);
    if borrow {
        adc(&diff, m).0
    } else {
        diff
    }
}

/// x / 2 mod m, for x < m and m odd.
fn half_mod(x: &Limbs, m: &Limbs) -> Limbs {
    // An odd x becomes the even x + m, whose 257th bit the shift brings back in.
    let (mut x, top) = if x[0] & 1 == 0 {
        (*x, false)
    } else {
        adc(x, m)
    };
    shr1(&mut x);
    x[7] |= u32::from(top) << 31;
    x
}

fn shr1(x: &mut Limbs) {
    for i in 0..7 {
        x[i] = (x[i] >> 1) | (x[i + 1] << 31);
    }
    x[7] >>= 1;
}

/// x / a mod m for an odd prime m and 0 < a < m, by the binary extended Euclidean algorithm:
/// variable time, which the public inputs allow, and cheaper than Fermat's exponentiation.
/// Returns 0 for a = 0 rather than looping.
fn div_mod(x: &Limbs, a: &Limbs, m: &Limbs) -> Limbs {
    if is_zero(a) {
        return ZERO;
    }
    // Invariants: x1·a ≡ u·x and x2·a ≡ v·x (mod m); gcd(u, v) = gcd(a, m) = 1.
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2) = (*x, ZERO);
    while u != ONE && v != ONE {
        while u[0] & 1 == 0 {
            shr1(&mut u);
            x1 = half_mod(&x1, m);
        }
        while v[0] & 1 == 0 {
            shr1(&mut v);
            x2 = half_mod(&x2, m);
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
    if u == ONE {
        x1
    } else {
        x2
    }
}

/// -n^-1 mod 2^32, by Newton's iteration (each step doubles the correct low bits).
const N_INV: u32 = {
    let mut x = 1u32;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u32.wrapping_sub(N[0].wrapping_mul(x)));
        i += 1;
    }
    x.wrapping_neg()
};

/// a·b·2^-256 mod n for a, b < n (Montgomery multiplication, CIOS): with w = 2^256/s from
/// one inversion, e·w and r·w are then e/s and r/s, for one inversion instead of two.
fn mont_mul_n(a: &Limbs, b: &Limbs) -> Limbs {
    let mut t = [0u32; 10];
    for &bi in b {
        let mut carry = 0u64;
        for j in 0..8 {
            let x = u64::from(t[j]) + u64::from(a[j]) * u64::from(bi) + carry;
            t[j] = x as u32;
            carry = x >> 32;
        }
        let x = u64::from(t[8]) + carry;
        t[8] = x as u32;
        t[9] = (x >> 32) as u32;
        // t + m·n is divisible by 2^32.
        let m = t[0].wrapping_mul(N_INV);
        let mut carry = (u64::from(t[0]) + u64::from(m) * u64::from(N[0])) >> 32;
        for j in 1..8 {
            let x = u64::from(t[j]) + u64::from(m) * u64::from(N[j]) + carry;
            t[j - 1] = x as u32;
            carry = x >> 32;
        }
        let x = u64::from(t[8]) + carry;
        t[7] = x as u32;
        t[8] = t[9] + (x >> 32) as u32;
    }
    // t < 2n.
    let mut r = ZERO;
    r.copy_from_slice(&t[..8]);
    let (reduced, borrow) = sbb(&r, &N);
    if t[8] != 0 || !borrow {
        reduced
    } else {
        r
    }
}

// Field arithmetic mod p. Elements are always fully reduced (< p): equality and the zero test
// are then plain comparisons, and the reduction's final subtraction is cheap next to a product.

fn fadd(a: &Limbs, b: &Limbs) -> Limbs {
    add_mod(a, b, &P)
}

fn fsub(a: &Limbs, b: &Limbs) -> Limbs {
    sub_mod(a, b, &P)
}

// The products are summed in 64-bit columns, each limb product split in its 32-bit halves,
// with no carry propagated until the reduction: the additions are then independent of each
// other (no 64-step carry chain), and the reduction, linear in the columns, takes them as
// they are. A column is a sum of at most 16 halves, below 2^36.

fn fmul(a: &Limbs, b: &Limbs) -> Limbs {
    let mut col = [0u64; 16];
    unroll8!(i => unroll8!(j => {
        let t = u64::from(a[i]) * u64::from(b[j]);
        col[i + j] += t & 0xffff_ffff;
        col[i + j + 1] += t >> 32;
    }));
    reduce(&col)
}

/// a², computing each cross product once: 36 limb products instead of 64.
fn fsqr(a: &Limbs) -> Limbs {
    let mut col = [0u64; 16];
    unroll8!(i => unroll8!(j => {
        if j >= i {
            let t = u64::from(a[i]) * u64::from(a[j]);
            let twice = if j > i { 1 } else { 0 };
            col[i + j] += (t & 0xffff_ffff) << twice;
            col[i + j + 1] += (t >> 32) << twice;
        }
    }));
    reduce(&col)
}

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
    let (mut r, mut top) = carry_out(w);
    // The sum lies within ±2^265: fold top·2^256 ≡ top·(2^224 - 2^192 - 2^96 + 1) back in
    // until nothing is left above 2^256 (at most three passes: after the first, |top| ≤ 1).
    while top != 0 {
        let mut w = r.map(i64::from);
        w[0] += top;
        w[3] -= top;
        w[6] -= top;
        w[7] += top;
        (r, top) = carry_out(w);
    }
    let (reduced, borrow) = sbb(&r, &P);
    if borrow {
        r
    } else {
        reduced
    }
}

/// Signed columns to limbs, and what carries out of the top (as a signed multiple of 2^256).
#[inline]
fn carry_out(w: [i64; 8]) -> (Limbs, i64) {
    let mut r = [0u32; 8];
    let mut carry = 0i64;
    unroll8!(i => {
        let t = w[i] + carry;
        r[i] = t as u32;
        carry = t >> 32;
    });
    (r, carry)
}

fn finv(a: &Limbs) -> Limbs {
    div_mod(&ONE, a, &P)
}

/// An affine point, never the point at infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    x: Limbs,
    y: Limbs,
}

impl Affine {
    const G: Affine = Affine { x: GX, y: GY };

    fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: fsub(&ZERO, &self.y),
        }
    }

    fn on_curve(&self) -> bool {
        // y² = x³ - 3x + b
        let x3 = fmul(&fsqr(&self.x), &self.x);
        let three_x = fadd(&fadd(&self.x, &self.x), &self.x);
        fsqr(&self.y) == fadd(&fsub(&x3, &three_x), &B)
    }
}

/// (X, Y, Z) for the affine point (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

impl Jacobian {
    const INFINITY: Jacobian = Jacobian {
        x: ONE,
        y: ONE,
        z: ZERO,
    };

    fn from_affine(p: &Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: ONE,
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// dbl-2001-b (a = -3), 3M + 5S. P-256 has no point of order 2, so Y ≠ 0 here.
    fn double(&self) -> Jacobian {
        if self.is_infinity() {
            return *self;
        }
        let delta = fsqr(&self.z);
        let gamma = fsqr(&self.y);
        let beta = fmul(&self.x, &gamma);
        let t = fmul(&fsub(&self.x, &delta), &fadd(&self.x, &delta));
        let alpha = fadd(&fadd(&t, &t), &t);
        let beta2 = fadd(&beta, &beta);
        let beta4 = fadd(&beta2, &beta2);
        let beta8 = fadd(&beta4, &beta4);
        let x = fsub(&fsqr(&alpha), &beta8);
        let z = fsub(&fsub(&fsqr(&fadd(&self.y, &self.z)), &gamma), &delta);
        let gamma2 = fsqr(&gamma);
        let gamma4 = fadd(&gamma2, &gamma2);
        let gamma8 = fadd(&gamma4, &gamma4);
        let y = fsub(&fmul(&alpha, &fsub(&beta4, &x)), &fadd(&gamma8, &gamma8));
        Jacobian { x, y, z }
    }

    /// self + q, madd-2007-bl (7M + 4S), with the cases the formula does not cover: either
    /// point at infinity, equal points (a doubling) and opposite points (infinity). ECDSA
    /// inputs can be chosen to reach them, so they are handled, not assumed away.
    fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from_affine(q);
        }
        let z1z1 = fsqr(&self.z);
        let u2 = fmul(&q.x, &z1z1);
        let s2 = fmul(&q.y, &fmul(&self.z, &z1z1));
        let h = fsub(&u2, &self.x);
        let r = fsub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = fsqr(&h);
        let i = fadd(&fadd(&hh, &hh), &fadd(&hh, &hh));
        let j = fmul(&h, &i);
        let r = fadd(&r, &r);
        let v = fmul(&self.x, &i);
        let x = fsub(&fsub(&fsqr(&r), &j), &fadd(&v, &v));
        let y1j = fmul(&self.y, &j);
        let y = fsub(&fmul(&r, &fsub(&v, &x)), &fadd(&y1j, &y1j));
        let z = fsub(&fsub(&fsqr(&fadd(&self.z, &h)), &z1z1), &hh);
        Jacobian { x, y, z }
    }
}

/// Affine forms of points none of which is at infinity, with one field inversion for all
/// (Montgomery's trick).
fn to_affine(points: &[Jacobian]) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = ONE;
    for p in points {
        debug_assert!(!p.is_infinity());
        acc = fmul(&acc, &p.z);
        prefix.push(acc);
    }
    let mut inv = finv(&acc);
    let mut out = vec![Affine { x: ZERO, y: ZERO }; points.len()];
    for i in (0..points.len()).rev() {
        let zinv = if i == 0 {
            inv
        } else {
            fmul(&inv, &prefix[i - 1])
        };
        inv = fmul(&inv, &points[i].z);
        let zinv2 = fsqr(&zinv);
        out[i] = Affine {
            x: fmul(&points[i].x, &zinv2),
            y: fmul(&points[i].y, &fmul(&zinv2, &zinv)),
        };
    }
    out
}

/// For each of `p`, 2^64·p, 2^128·p, 2^192·p: its odd multiples 1·, 3·, …, (2^(w-1) - 1)·,
/// part after part.
fn tables(p: &Affine, window: u32) -> Vec<Affine> {
    let per_part = 1usize << (window - 2);
    let mut bases = vec![Jacobian::from_affine(p)];
    for _ in 1..PARTS {
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
    let mut all = Vec::with_capacity(PARTS * per_part);
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

fn g_tables() -> &'static [Affine] {
    static TABLES: OnceLock<Vec<Affine>> = OnceLock::new();
    TABLES.get_or_init(|| tables(&Affine::G, G_WINDOW))
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

/// Bits 64·part to 64·part + 63 of k.
fn part(k: &Limbs, part: usize) -> u64 {
    u64::from(k[2 * part]) | u64::from(k[2 * part + 1]) << 32
}

/// u1·G + u2·Q, by one interleaved wNAF pass over all parts of both scalars.
fn double_mul(u1: &Limbs, u2: &Limbs, q_tables: &[Affine]) -> Jacobian {
    let g_tables = g_tables();
    let g_per = 1usize << (G_WINDOW - 2);
    let q_per = 1usize << (Q_WINDOW - 2);
    let mut terms = Vec::with_capacity(2 * PARTS);
    for part in 0..PARTS {
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

/// A P-256 public key, checked to be on the curve.
#[derive(Clone)]
pub(crate) struct PublicKey {
    q: Affine,
    /// Odd multiples of Q, 2^64·Q, 2^128·Q and 2^192·Q, made on the first verification (which
    /// costs about three verifications): a key set may hold keys never used, and parsing stays
    /// cheap.
    tables: OnceLock<Vec<Affine>>,
}

impl PublicKey {
    /// The key (x, y), big-endian coordinates: refused unless both are below p and the point
    /// is on the curve. (The point at infinity has no such encoding.)
    pub(crate) fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Option<PublicKey> {
        let q = Affine {
            x: from_be_bytes(x),
            y: from_be_bytes(y),
        };
        (lt(&q.x, &P) && lt(&q.y, &P) && q.on_curve()).then(|| PublicKey {
            q,
            tables: OnceLock::new(),
        })
    }

    /// Checks an ECDSA signature `r || s` (big-endian, 32 bytes each) over a SHA-256 digest.
    /// Both s and n - s are accepted, as the `p256` crate did before this module and as
    /// JWS (RFC 7518 3.4) allows.
    pub(crate) fn verify(&self, digest: &[u8; 32], signature: &[u8; 64]) -> bool {
        let r = from_be_bytes(&signature[..32]);
        let s = from_be_bytes(&signature[32..]);
        if is_zero(&r) || is_zero(&s) || !lt(&r, &N) || !lt(&s, &N) {
            return false;
        }
        // FIPS 186-4 6.4: the digest's leftmost 256 bits (all of it) as an integer, mod n.
        let mut e = from_be_bytes(digest);
        if !lt(&e, &N) {
            e = sbb(&e, &N).0;
        }
        // 2^256 mod n = 2^256 - n.
        let w = div_mod(&sbb(&ZERO, &N).0, &s, &N);
        let u1 = mont_mul_n(&e, &w);
        let u2 = mont_mul_n(&r, &w);
        let tables = self.tables.get_or_init(|| tables(&self.q, Q_WINDOW));
        let point = double_mul(&u1, &u2, tables);
        if point.is_infinity() {
            return false;
        }
        // x(R) mod n == r, without inverting Z: x(R) = X/Z² is r or r + n (the latter only
        // if r + n < p, since x(R) < p).
        let z2 = fsqr(&point.z);
        if fmul(&r, &z2) == point.x {
            return true;
        }
        let (rn, carry) = adc(&r, &N);
        !carry && lt(&rn, &P) && fmul(&rn, &z2) == point.x
    }
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
        fn below(&mut self, m: &Limbs) -> Limbs {
            loop {
                let mut a = [0u32; 8];
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
                    a = sbb(m, &[self.next_u32() % 5 + 1, 0, 0, 0, 0, 0, 0, 0]).0;
                }
                if lt(&a, m) {
                    return a;
                }
            }
        }
    }

    fn hex(s: &str) -> [u8; 32] {
        to_be_bytes(&limbs(s))
    }

    /// a·b mod m by double-and-add: slow, but built on add_mod alone, so independent of the
    /// multiplication and reduction it checks.
    fn mul_ref(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
        let mut acc = ZERO;
        for i in (0..256).rev() {
            acc = add_mod(&acc, &acc, m);
            if b[i / 32] >> (i % 32) & 1 == 1 {
                acc = add_mod(&acc, a, m);
            }
        }
        acc
    }

    /// k·p by plain double-and-add from the top bit, a reference for the wNAF code.
    fn mul_simple(p: &Affine, k: &Limbs) -> Jacobian {
        let mut acc = Jacobian::INFINITY;
        for i in (0..256).rev() {
            acc = acc.double();
            if k[i / 32] >> (i % 32) & 1 == 1 {
                acc = acc.add_affine(p);
            }
        }
        acc
    }

    fn affine(p: &Jacobian) -> Option<Affine> {
        (!p.is_infinity()).then(|| to_affine(&[*p])[0])
    }

    #[test]
    fn add_sub_reference_identities() {
        let mut rng = Rng(Gen(1));
        for m in [&P, &N] {
            for _ in 0..2000 {
                let (a, b) = (rng.below(m), rng.below(m));
                let s = add_mod(&a, &b, m);
                assert!(lt(&s, m));
                assert_eq!(sub_mod(&s, &b, m), a);
                assert_eq!(add_mod(&sub_mod(&a, &b, m), &b, m), a);
                assert_eq!(half_mod(&add_mod(&a, &a, m), m), a);
            }
        }
    }

    #[test]
    fn field_mul_against_reference() {
        let mut rng = Rng(Gen(2));
        for _ in 0..3000 {
            let (a, b) = (rng.below(&P), rng.below(&P));
            let ab = fmul(&a, &b);
            assert_eq!(ab, mul_ref(&a, &b, &P), "{a:x?} {b:x?}");
            assert_eq!(fsqr(&a), fmul(&a, &a));
            assert_eq!(fmul(&b, &a), ab);
        }
        // The edges: p - 1 squared is 1, and products of all-ones patterns.
        let pm1 = sbb(&P, &ONE).0;
        assert_eq!(fsqr(&pm1), ONE);
        assert_eq!(fmul(&pm1, &ONE), pm1);
        assert_eq!(fmul(&ZERO, &pm1), ZERO);
    }

    #[test]
    fn montgomery_mod_n() {
        let mut rng = Rng(Gen(6));
        let r_mod_n = sbb(&ZERO, &N).0;
        assert_eq!(N[0].wrapping_mul(N_INV), u32::MAX);
        for _ in 0..3000 {
            let (a, b) = (rng.below(&N), rng.below(&N));
            let m = mont_mul_n(&a, &b);
            assert!(lt(&m, &N));
            assert_eq!(mul_ref(&m, &r_mod_n, &N), mul_ref(&a, &b, &N));
            // What verify does: e·(2^256/s)·2^-256 = e/s.
            if !is_zero(&b) {
                let w = div_mod(&r_mod_n, &b, &N);
                assert_eq!(mont_mul_n(&a, &w), div_mod(&a, &b, &N));
            }
        }
    }

    #[test]
    fn inversion() {
        let mut rng = Rng(Gen(3));
        for m in [&P, &N] {
            for _ in 0..1000 {
                let (a, b) = (rng.below(m), rng.below(m));
                if is_zero(&b) {
                    continue;
                }
                let q = div_mod(&a, &b, m);
                assert_eq!(mul_ref(&q, &b, m), a);
                let inv = div_mod(&ONE, &b, m);
                assert_eq!(mul_ref(&mul_ref(&a, &b, m), &inv, m), a);
            }
            assert_eq!(div_mod(&ONE, &ONE, m), ONE);
            let mm1 = sbb(m, &ONE).0;
            assert_eq!(div_mod(&ONE, &mm1, m), mm1);
        }
        assert_eq!(
            finv(&fsqr(&limbs(
                "0000000000000000000000000000000000000000000000000000000000000002"
            ))),
            div_mod(&ONE, &[4, 0, 0, 0, 0, 0, 0, 0], &P)
        );
    }

    #[test]
    fn group_law_edges() {
        let g = Jacobian::from_affine(&Affine::G);
        assert!(Affine::G.on_curve());
        // G + G through the exceptional path of the mixed addition is the doubling.
        let two = affine(&g.add_affine(&Affine::G)).unwrap();
        assert_eq!(two, affine(&g.double()).unwrap());
        assert!(two.on_curve());
        // G + (-G) is infinity; infinity + G is G.
        assert!(g.add_affine(&Affine::G.neg()).is_infinity());
        assert_eq!(
            affine(&Jacobian::INFINITY.add_affine(&Affine::G)),
            Some(Affine::G)
        );
        assert!(Jacobian::INFINITY.double().is_infinity());
        // 3G two ways.
        let three = affine(&g.double().add_affine(&Affine::G)).unwrap();
        assert_eq!(
            Some(three),
            affine(&Jacobian::from_affine(&two).add_affine(&Affine::G))
        );
        // n·G = ∞ and (n - 1)·G = -G.
        assert!(mul_simple(&Affine::G, &N).is_infinity());
        let nm1 = sbb(&N, &ONE).0;
        assert_eq!(affine(&mul_simple(&Affine::G, &nm1)), Some(Affine::G.neg()));
        assert!(double_mul(&nm1, &ONE, &tables(&Affine::G, Q_WINDOW)).is_infinity());
        assert!(double_mul(&ONE, &nm1, &tables(&Affine::G, Q_WINDOW)).is_infinity());
    }

    #[test]
    fn wnaf_digits() {
        let mut rng = Rng(Gen(4));
        for _ in 0..2000 {
            let k = rng.below(&N);
            for window in [Q_WINDOW, G_WINDOW, 2] {
                for part in 0..PARTS {
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

    #[test]
    fn double_mul_against_simple() {
        let mut rng = Rng(Gen(5));
        let q = affine(&mul_simple(&Affine::G, &rng.below(&N))).unwrap();
        let q_tables = tables(&q, Q_WINDOW);
        for _ in 0..30 {
            let (a, b) = (rng.below(&N), rng.below(&N));
            let want = mul_simple(&Affine::G, &a);
            let want = match affine(&want) {
                Some(w) => {
                    Jacobian::from_affine(&w).add_affine(&affine(&mul_simple(&q, &b)).unwrap())
                }
                None => mul_simple(&q, &b),
            };
            assert_eq!(affine(&double_mul(&a, &b, &q_tables)), affine(&want));
        }
    }

    // RFC 6979 A.2.5: P-256 with SHA-256.
    const UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
    const UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

    fn rfc6979() -> [([u8; 32], [u8; 64]); 2] {
        use sha2::{Digest, Sha256};
        let sig = |r: &str, s: &str| {
            let mut out = [0u8; 64];
            out[..32].copy_from_slice(&hex(r));
            out[32..].copy_from_slice(&hex(s));
            out
        };
        [
            (
                Sha256::digest(b"sample").into(),
                sig(
                    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
                    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
                ),
            ),
            (
                Sha256::digest(b"test").into(),
                sig(
                    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
                    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
                ),
            ),
        ]
    }

    #[test]
    fn rfc6979_known_answers() {
        let key = PublicKey::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        for (digest, sig) in rfc6979() {
            assert!(key.verify(&digest, &sig));
            // n - s verifies too (no low-s rule).
            let mut high = sig;
            let s = from_be_bytes(&sig[32..]);
            high[32..].copy_from_slice(&to_be_bytes(&sbb(&N, &s).0));
            assert!(key.verify(&digest, &high));
            for bit in 0..512 {
                let mut bad = sig;
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!key.verify(&digest, &bad), "signature bit {bit}");
            }
            for bit in 0..256 {
                let mut bad = digest;
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!key.verify(&bad, &sig), "digest bit {bit}");
            }
        }
        // The two signatures do not verify each other's messages.
        let [(d1, s1), (d2, s2)] = rfc6979();
        assert!(!key.verify(&d1, &s2) && !key.verify(&d2, &s1));
        // A clone verifies too, with or without its tables made.
        assert!(key.clone().verify(&d1, &s1));
        let fresh = PublicKey::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        assert!(fresh.clone().verify(&d2, &s2));
    }

    #[test]
    fn refused_keys_and_scalars() {
        let (x, y) = (hex(UX), hex(UY));
        let p = to_be_bytes(&P);
        assert!(PublicKey::from_coordinates(&x, &p).is_none());
        assert!(PublicKey::from_coordinates(&p, &y).is_none());
        let mut off = y;
        off[31] ^= 1;
        assert!(PublicKey::from_coordinates(&x, &off).is_none());
        assert!(PublicKey::from_coordinates(&[0; 32], &[0; 32]).is_none());
        // x + p, y + p are the same point but not canonical: only possible if x < 2^256 - p.
        let key = PublicKey::from_coordinates(&x, &y).unwrap();
        let (digest, sig) = rfc6979()[0];
        let n = to_be_bytes(&N);
        let n_plus_r = to_be_bytes(&adc(&N, &from_be_bytes(&sig[..32])).0);
        for r in [[0; 32], n, n_plus_r, p] {
            let mut bad = sig;
            bad[..32].copy_from_slice(&r);
            assert!(!key.verify(&digest, &bad));
        }
        for s in [[0; 32], n, p, [0xff; 32]] {
            let mut bad = sig;
            bad[32..].copy_from_slice(&s);
            assert!(!key.verify(&digest, &bad));
        }
    }

    /// The r + n branch of the final comparison. x(R) ≥ n happens for one R in 2^128 or so,
    /// so the test makes one: a point R with x(R) in [n, p) used as the key Q, and the
    /// signature (r, s) = (x(R) - n, x(R) - n) over e = 0, for which u1 = 0, u2 = 1, R = Q.
    #[test]
    fn r_plus_n_branch() {
        // sqrt(a) = a^((p + 1)/4), as p ≡ 3 (mod 4).
        let mut exp = adc(&P, &ONE).0;
        shr1(&mut exp);
        shr1(&mut exp);
        let sqrt = |a: &Limbs| {
            let mut acc = ONE;
            for i in (0..256).rev() {
                acc = fsqr(&acc);
                if exp[i / 32] >> (i % 32) & 1 == 1 {
                    acc = fmul(&acc, a);
                }
            }
            (fsqr(&acc) == *a).then_some(acc)
        };
        let mut x = N;
        let point = loop {
            let rhs = fadd(
                &fsub(&fmul(&fsqr(&x), &x), &fmul(&x, &[3, 0, 0, 0, 0, 0, 0, 0])),
                &B,
            );
            if let Some(y) = sqrt(&rhs) {
                break Affine { x, y };
            }
            x = adc(&x, &ONE).0;
        };
        assert!(point.on_curve() && !lt(&point.x, &N) && lt(&point.x, &P));
        let key =
            PublicKey::from_coordinates(&to_be_bytes(&point.x), &to_be_bytes(&point.y)).unwrap();
        let r = sbb(&point.x, &N).0;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&to_be_bytes(&r));
        sig[32..].copy_from_slice(&to_be_bytes(&r));
        assert!(key.verify(&[0; 32], &sig));
        // e = n is e = 0 after the reduction mod n.
        assert!(key.verify(&to_be_bytes(&N), &sig));
        assert!(!key.verify(&to_be_bytes(&ONE), &sig));
        // r = x(R) itself is not below n: refused before any arithmetic.
        sig[..32].copy_from_slice(&to_be_bytes(&point.x));
        assert!(!key.verify(&[0; 32], &sig));
    }

    /// Not a test: `cargo test --release --lib ecdsa -- --ignored --nocapture` prints the
    /// time of one verification and of its parts (the fastest of 20 batches: the machine may
    /// be busy).
    #[test]
    #[ignore]
    fn timing() {
        use std::hint::black_box;
        fn fastest(rounds: u32, mut f: impl FnMut()) -> std::time::Duration {
            (0..20)
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
        let key = PublicKey::from_coordinates(&hex(UX), &hex(UY)).unwrap();
        let (digest, sig) = rfc6979()[0];
        assert!(key.verify(&digest, &sig));
        let verify = fastest(200, || assert!(key.verify(black_box(&digest), &sig)));
        let first = fastest(20, || {
            let fresh = PublicKey::from_coordinates(&hex(UX), &hex(UY)).unwrap();
            assert!(fresh.verify(black_box(&digest), &sig));
        });
        let s = from_be_bytes(&sig[32..]);
        let inv = fastest(200, || {
            black_box(div_mod(&ONE, black_box(&s), &N));
        });
        let a = from_be_bytes(&digest);
        let mul = fastest(20000, || {
            black_box(fmul(black_box(&a), &s));
        });
        let sqr = fastest(20000, || {
            black_box(fsqr(black_box(&a)));
        });
        println!(
            "nistp256: verify {verify:?} (first with a key {first:?}), inversion mod n {inv:?}, \
             field mul {mul:?}, square {sqr:?}"
        );
    }
}
