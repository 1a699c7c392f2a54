//! The hand-written RSA Montgomery arithmetic (src/crypto/rsa.rs) against num-bigint: the
//! product, the square, the reduction, R² mod n and s^e mod n, on seeded random moduli of
//! 2048 to 8192 bits (and odd limb counts), some with the top limb all ones (R - n small, so
//! every carry out of the top happens), with edge operands (0, 1, 2, n - 1, n - 2, all
//! ones below n, 2^k ± 1) and random ones. The comparisons are `fuzz/src/oracles.rs`'s, which
//! the `rsa_montgomery` fuzz target runs too (`cargo xtask fuzz 60 rsa_montgomery`). Needs
//! the feature `oracle-tests` (`cargo test --features oracle-tests --test rsa_oracles`).

#[allow(dead_code, unused_imports)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use harness::oracles::{be, check_rsa};
use jwtgate::__oracle::RsaModulus;
use num_bigint::BigUint;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};

fn modulus(rng: &mut ChaCha8Rng, bytes: usize, near_r: bool) -> Vec<u8> {
    let mut n = vec![0u8; bytes];
    rng.fill_bytes(&mut n);
    n[0] |= 0x80;
    if near_r {
        n[..4].fill(0xff);
    }
    n[bytes - 1] |= 1;
    n
}

fn operands(rng: &mut ChaCha8Rng, n: &[u8]) -> Vec<BigUint> {
    let nn = BigUint::from_bytes_be(n);
    let mut out: Vec<BigUint> = vec![
        0u32.into(),
        1u32.into(),
        2u32.into(),
        &nn - 1u32,
        &nn - 2u32,
        BigUint::from_bytes_be(&vec![0xff; n.len()]) % &nn,
        (BigUint::from(1u8) << (8 * n.len() - 1)) - 1u32,
        (BigUint::from(1u8) << 1024u32) + 1u32,
    ];
    for _ in 0..3 {
        let mut v = vec![0u8; n.len()];
        rng.fill_bytes(&mut v);
        out.push(BigUint::from_bytes_be(&v) % &nn);
    }
    out
}

#[test]
fn montgomery_arithmetic_against_num_bigint() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x45a);
    let mut checked = 0;
    // Bytes: 2048, 3072, 4096, 8192 bits, and 65, 97, 255 limbs, and a byte count that is
    // no whole number of limbs (2056 bits).
    for bytes in [256, 384, 512, 1024, 260, 388, 1020, 257] {
        for (near_r, e) in [(false, 65537u64), (true, (1 << 33) - 1)] {
            let n = modulus(&mut rng, bytes, near_r);
            let key = RsaModulus::new(&n, &e.to_be_bytes()).unwrap();
            let ops = operands(&mut rng, &n);
            // Every pair would make 8192-bit keys slow in a debug build: each operand with
            // the edges and a random one.
            for (i, a) in ops.iter().enumerate() {
                for b in ops.iter().take(3).chain([&ops[(i + 5) % ops.len()]]) {
                    check_rsa(&key, &n, e, &be(a, bytes), &be(b, bytes));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 8 * 2 * 11 * 4, "{checked}");
}
