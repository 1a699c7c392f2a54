//! Whether a public point is on its curve, without the signature arithmetic: what a build
//! without the in-wasm primitives (the npm package, whose platform verifies) checks when a key
//! set is loaded, so that it refuses the keys the in-wasm build refuses. Public data only, once
//! per key: plain schoolbook arithmetic on 32-bit limbs, neither fast nor constant-time.

use crate::prelude::*;

use super::hex;

/// Little-endian 32-bit limbs, without high zero limbs.
type Num = Vec<u32>;

// No indexing and no `rchunks` (whose length is a division) here: nothing left to panic, so
// the npm package's wasm carries no bounds-check or division-by-zero panics for them.

fn from_be(bytes: &[u8]) -> Num {
    let mut n: Num = vec![0; bytes.len().div_ceil(4)];
    for (i, &b) in bytes.iter().rev().enumerate() {
        if let Some(limb) = n.get_mut(i / 4) {
            *limb |= u32::from(b) << (8 * (i % 4));
        }
    }
    trim(&mut n);
    n
}

fn trim(n: &mut Num) {
    while n.last() == Some(&0) {
        n.pop();
    }
}

fn less(a: &[u32], b: &[u32]) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    a.iter().rev().cmp(b.iter().rev()).is_lt()
}

fn sub(a: &mut Num, b: &[u32]) {
    let mut borrow = 0i64;
    for (i, limb) in a.iter_mut().enumerate() {
        let d = i64::from(*limb) - i64::from(b.get(i).copied().unwrap_or(0)) - borrow;
        borrow = i64::from(d < 0);
        *limb = d.rem_euclid(1 << 32) as u32;
    }
    trim(a);
}

fn add(a: &[u32], b: &[u32], m: &[u32]) -> Num {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u64;
    for i in 0..a.len().max(b.len()) {
        let s = u64::from(a.get(i).copied().unwrap_or(0))
            + u64::from(b.get(i).copied().unwrap_or(0))
            + carry;
        out.push(s as u32);
        carry = s >> 32;
    }
    out.push(carry as u32);
    rem(out, m)
}

/// `a - b mod m`, both already reduced.
fn sub_mod(a: &[u32], b: &[u32], m: &[u32]) -> Num {
    let mut a = a.to_vec();
    if less(&a, b) {
        a = add(&a, m, &[]);
    }
    sub(&mut a, b);
    a
}

fn mul(a: &[u32], b: &[u32], m: &[u32]) -> Num {
    let mut out = vec![0u32; a.len() + b.len() + 1];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        let row = out.get_mut(i..).unwrap_or_default();
        for (o, &y) in row.iter_mut().zip(b) {
            let t = u64::from(x) * u64::from(y) + u64::from(*o) + carry;
            *o = t as u32;
            carry = t >> 32;
        }
        if let Some(o) = row.get_mut(b.len()) {
            *o = carry as u32;
        }
    }
    rem(out, m)
}

/// `a mod m`, a bit at a time; `m` empty means no reduction.
fn rem(mut a: Num, m: &[u32]) -> Num {
    trim(&mut a);
    if m.is_empty() || less(&a, m) {
        return a;
    }
    let mut r: Num = Vec::with_capacity(m.len() + 1);
    for i in (0..a.len() * 32).rev() {
        // r = 2r + bit
        let mut carry = bit(&a, i);
        for limb in r.iter_mut() {
            let next = *limb >> 31;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry != 0 {
            r.push(carry);
        }
        if !less(&r, m) {
            sub(&mut r, m);
        }
    }
    r
}

/// Bit `i` of `n`.
fn bit(n: &[u32], i: usize) -> u32 {
    n.get(i / 32).map_or(0, |limb| (limb >> (i % 32)) & 1)
}

fn pow(base: &[u32], exp: &[u32], m: &[u32]) -> Num {
    let mut out = vec![1];
    for i in (0..exp.len() * 32).rev() {
        out = mul(&out, &out, m);
        if bit(exp, i) == 1 {
            out = mul(&out, base, m);
        }
    }
    out
}

/// A short Weierstrass curve with a = -3 (P-256, P-384): its prime and `b`, big-endian.
pub(crate) struct Weierstrass {
    p: &'static [u8],
    b: &'static [u8],
}

pub(crate) const P256: Weierstrass = Weierstrass {
    p: &hex::<32>("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    b: &hex::<32>("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
};

pub(crate) const P384: Weierstrass = Weierstrass {
    p: &hex::<48>("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff"),
    b: &hex::<48>("b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef"),
};

impl Weierstrass {
    /// Whether (x, y), big-endian and each below p, satisfies y² = x³ - 3x + b. The point at
    /// infinity has no affine coordinates, so it is never one.
    pub(crate) fn on_curve(&self, x: &[u8], y: &[u8]) -> bool {
        let (p, b) = (from_be(self.p), from_be(self.b));
        let (x, y) = (from_be(x), from_be(y));
        if !less(&x, &p) || !less(&y, &p) {
            return false;
        }
        let three_x = add(&add(&x, &x, &p), &x, &p);
        let rhs = add(
            &sub_mod(&mul(&mul(&x, &x, &p), &x, &p), &three_x, &p),
            &b,
            &p,
        );
        mul(&y, &y, &p) == rhs
    }
}

/// Whether `y` (an Ed25519 encoding with its sign bit cleared, little-endian, below 2^255 - 19)
/// is the y of a point on the curve: whether (y² - 1) / (d·y² + 1) is a square mod p.
pub(crate) fn ed25519_y_on_curve(y_le: &[u8; 32]) -> bool {
    let p = from_be(&super::ED25519_P);
    let d = from_be(&hex::<32>(
        "52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3",
    ));
    let mut be = *y_le;
    be.reverse();
    let y = from_be(&be);
    let yy = mul(&y, &y, &p);
    let u = sub_mod(&yy, &[1], &p);
    let v = add(&mul(&d, &yy, &p), &[1], &p);
    let w = mul(&u, &v, &p);
    if w.is_empty() {
        return true;
    }
    // Euler's criterion: w^((p-1)/2) is 1 for a square.
    let mut half = p.clone();
    sub(&mut half, &[1]);
    let half = rem_shift_right(half);
    pow(&w, &half, &p) == [1]
}

fn rem_shift_right(mut n: Num) -> Num {
    let mut carry = 0;
    for limb in n.iter_mut().rev() {
        let next = *limb & 1;
        *limb = (*limb >> 1) | (carry << 31);
        carry = next;
    }
    trim(&mut n);
    n
}
