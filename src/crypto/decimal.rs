//! Correctly rounded decimal to f64, in Rust, for the numbers the JSON parser's fast path
//! (Clinger's) leaves: the Envoy filter's and the Rust API's. The npm package's wasm takes the
//! JS engine's conversion instead (`src/web/number.rs`): the same value, and 0.85 KB gzipped
//! less of each wasm.

use crate::prelude::*;

/// Correctly rounded decimal to f64 for the text of a JSON number the fast path leaves: big
/// integers, exact, and slow (only unusual numbers get here). Replaces `str::parse`, whose
/// 10 KB table of powers of five would be in every wasm. Overflow gives infinity, as
/// `str::parse` does.
pub(crate) fn exact(text: &str) -> f64 {
    let b = text.as_bytes();
    let negative = b.first() == Some(&b'-');
    // The significand, read into a big integer as it goes: value = num * 10^e.
    let mut num = vec![0u32];
    let mut significant = 0;
    let mut e: i64 = 0;
    let mut i = usize::from(negative);
    let mut fraction = false;
    let mut truncated = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'.' => fraction = true,
            b'0'..=b'9' => {
                if significant < 800 {
                    mul_small(&mut num, 10, u32::from(c - b'0'));
                    // Leading zeros are not significant.
                    significant += usize::from(significant > 0 || c != b'0');
                } else {
                    // Beyond 800 digits only whether any is nonzero can matter: a tie between
                    // two f64s has at most 767 significant digits.
                    truncated |= c != b'0';
                    e += 1;
                }
                e -= i64::from(fraction);
            }
            _ => break,
        }
        i += 1;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        let minus = b.get(i + 1) == Some(&b'-');
        let mut x: i64 = 0;
        for &c in b
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .filter(|c| c.is_ascii_digit())
        {
            x = (x * 10 + i64::from(c - b'0')).min(100_000);
        }
        e += if minus { -x } else { x };
    }
    if truncated {
        mul_small(&mut num, 10, 1);
        e -= 1;
    }
    let magnitude = significant as i64 + e; // the value is below 10^magnitude
    let f = if significant == 0 || magnitude < -324 {
        0.0
    } else if magnitude > 310 {
        f64::INFINITY
    } else {
        let mut den = vec![1u32];
        scale(
            if e > 0 { &mut num } else { &mut den },
            10,
            e.unsigned_abs(),
        );
        // Double one side until num / den is in [1, 2): the value is that times 2^t.
        let mut t = bits(&num) as i64 - bits(&den) as i64;
        scale(if t > 0 { &mut den } else { &mut num }, 2, t.unsigned_abs());
        if less(&num, &den) {
            mul_small(&mut num, 2, 0);
            t -= 1;
        }
        // The significant bits an f64 has at 2^t (fewer below the normal range), and one more
        // to round by: the quotient's first bits by long division, the remainder the rest.
        let keep = if t >= -1022 { 53 } else { t + 1075 };
        let mut q: u64 = 0;
        for _ in 0..keep + 1 {
            q <<= 1;
            if !less(&num, &den) {
                sub(&mut num, &den);
                q |= 1;
            }
            mul_small(&mut num, 2, 0);
        }
        let sticky = num.iter().any(|&l| l != 0);
        let mut mant = q >> 1;
        if q & 1 == 1 && (sticky || mant & 1 == 1) {
            mant += 1;
        }
        // The value is mant * 2^(t - keep + 1); 2^-1074 at the least.
        let scale = t - keep + 1;
        if t > 1023 {
            f64::INFINITY
        } else {
            let pow2 = if scale >= -1022 {
                f64::from_bits(((scale + 1023) as u64) << 52)
            } else {
                f64::from_bits(1 << (scale + 1074))
            };
            // Exact: mant has at most 53 bits (2^53 after rounding up), and the scale is in
            // range; a product past the largest f64 is infinity, as it should be.
            mant as f64 * pow2
        }
    };
    if negative {
        -f
    } else {
        f
    }
}

/// `a = a * base^n`, in steps that fit a limb multiplier.
fn scale(a: &mut Vec<u32>, base: u32, n: u64) {
    // base^9 and 2^31 both fit in 32 bits (base is 10 or 2).
    let most = if base == 10 { 9 } else { 31 };
    let mut left = n;
    while left > 0 {
        let k = left.min(most);
        mul_small(a, base.pow(k as u32), 0);
        left -= k;
    }
}

/// `a = a * m + add`, little-endian 32-bit limbs.
fn mul_small(a: &mut Vec<u32>, m: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in a.iter_mut() {
        let t = u64::from(*limb) * u64::from(m) + carry;
        *limb = t as u32;
        carry = t >> 32;
    }
    if carry != 0 {
        a.push(carry as u32);
    }
}

fn bits(a: &[u32]) -> usize {
    let used = a.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
    if used == 0 {
        0
    } else {
        used * 32 - a[used - 1].leading_zeros() as usize
    }
}

/// `a < b`, whatever their lengths.
fn less(a: &[u32], b: &[u32]) -> bool {
    let len = a.len().max(b.len());
    for i in (0..len).rev() {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b`, for `a >= b`.
fn sub(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0i64;
    for (i, limb) in a.iter_mut().enumerate() {
        let t = i64::from(*limb) - i64::from(b.get(i).copied().unwrap_or(0)) - borrow;
        *limb = t as u32;
        borrow = i64::from(t < 0);
    }
}
