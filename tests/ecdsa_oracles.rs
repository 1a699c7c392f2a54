//! The hand-written P-256 and P-384 field and scalar arithmetic (src/crypto/ecdsa/) against
//! fiat-crypto's formally verified `p256_32`, `p256_scalar_32`, `p384_32` and
//! `p384_scalar_32`: every operation (add, sub, mul, square, inverse; scalar add, sub,
//! Montgomery product, division) on the edges that break carry chains and on seeded random
//! values. The comparisons are `fuzz/src/oracles.rs`'s, which the `ecdsa_field` fuzz target
//! runs too (`cargo xtask fuzz 60 ecdsa_field`). Needs the feature `oracle-tests`
//! (`cargo test --features oracle-tests --test ecdsa_oracles`; `cargo xtask test` has it).

#[allow(dead_code, unused_imports)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use harness::oracles::{be, check_curve, reduce_once, Curve};
use jwtgate::__oracle::{Ops, P256, P384};
use num_bigint::BigUint;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};

/// Values below m where carries and reductions go wrong: 0, 1, 2, m - 1, m - 2, 2^k and
/// 2^k ± 1 at limb boundaries, all limbs 0xffffffff (reduced), alternating limb patterns, and
/// for the field, n - 1, n and n + 1 (and for the scalars, what p - 1 reduces to).
fn edges<C: Curve>(m: &[u8]) -> Vec<Vec<u8>> {
    let len = C::LEN;
    let mm = BigUint::from_bytes_be(m);
    let mut out: Vec<BigUint> = Vec::new();
    for small in 0u32..3 {
        out.push(small.into());
        out.push(&mm - 1u32 - small);
    }
    for bit in (0..8 * len).step_by(16) {
        let p2 = BigUint::from(1u8) << bit;
        out.push(&p2 - 1u32);
        out.push(p2.clone());
        out.push(p2 + 1u32);
    }
    for pattern in [0xffu8, 0x00, 0x80, 0x7f, 0x01] {
        out.push(BigUint::from_bytes_be(&vec![pattern; len]));
    }
    // Limbs alternating all ones and zero, both phases.
    for phase in 0..2 {
        let v: Vec<u8> = (0..len)
            .map(|i| if (i / 4) % 2 == phase { 0xff } else { 0 })
            .collect();
        out.push(BigUint::from_bytes_be(&v));
    }
    for other in [C::n(), C::p()] {
        let o = BigUint::from_bytes_be(&other);
        out.extend([&o - 1u32, o.clone(), o + 1u32]);
    }
    out.into_iter().map(|v| be(&(v % &mm), len)).collect()
}

fn random(rng: &mut ChaCha8Rng, m: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; m.len()];
    rng.fill_bytes(&mut v);
    reduce_once(&v, m)
}

fn against_fiat<C: Curve>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut checked = 0;
    for m in [C::p(), C::n()] {
        let edges = edges::<C>(&m);
        for a in &edges {
            for b in &edges {
                check_curve::<C>(a, b);
                checked += 1;
            }
        }
        for _ in 0..3000 {
            let (a, b) = (random(&mut rng, &m), random(&mut rng, &m));
            check_curve::<C>(&a, &b);
            // And each random value against every edge, on either side.
            let e = &edges[rng.next_u32() as usize % edges.len()];
            check_curve::<C>(&a, e);
            check_curve::<C>(e, &b);
            checked += 3;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn p256_against_fiat_crypto() {
    against_fiat::<P256>(0x256);
}

#[test]
fn p384_against_fiat_crypto() {
    against_fiat::<P384>(0x384);
}

/// The oracle can fail: fiat-crypto's answer for a wrong value is not ours.
#[test]
fn the_oracle_sees_a_wrong_answer() {
    use harness::oracles::Fiat;
    let p = P384::p();
    let a = be(&(BigUint::from_bytes_be(&p) - 5u32), 48);
    let b = be(&BigUint::from(7u32), 48);
    let right = <P384 as Curve>::Field::mul(&a, &b);
    assert_eq!(P384::fmul(&a, &b), right);
    let mut wrong = right.clone();
    wrong[47] ^= 1;
    assert_ne!(P384::fmul(&a, &b), wrong);
}
