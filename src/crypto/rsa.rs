//! RSA signature verification (RFC 8017): RSASSA-PKCS1-v1_5 and RSASSA-PSS, public key only.
//!
//! Written for size on wasm32: 32-bit limbs with 64-bit products (wasm has a native 64-bit
//! multiply; 128-bit arithmetic is emulated), Montgomery multiplication, and no constant-time
//! care, since every value here (key, signature, message) is public.

use std::sync::OnceLock;

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::alg::Hash;
use crate::crypto::strip_leading_zeros;

/// How many Montgomery squarings `r_squared` uses (32k is a multiple of 2^5, so d is whole):
/// the cost of d·k for the doublings against 2k² per squaring is lowest around here for 2048-
/// to 8192-bit keys.
const SQUARINGS: u32 = 4;

/// An RSA public key ready for verification.
#[derive(Clone)]
pub(crate) struct PublicKey {
    /// The modulus, least significant limb first.
    n: Vec<u32>,
    /// R^2 mod n, with R = 2^(32 * n.len()): converts into Montgomery form with one product.
    /// Computed at the first verification, not at parsing: a key set of many large keys that
    /// are never used then costs nothing.
    rr: OnceLock<Vec<u32>>,
    /// -n^-1 mod 2^64: one Montgomery digit pair, so that `redc` clears two limbs a pass.
    n0: u64,
    e: u64,
    /// Modulus length in bytes (k in RFC 8017).
    k: usize,
    /// Modulus length in bits (modBits in RFC 8017).
    bits: usize,
}

impl PublicKey {
    /// Builds a key from big-endian `n` and `e`. Refuses what is not an RSA key at all (even or
    /// unit modulus, even or unit exponent, e >= n, e over 64 bits); size and exponent policy are
    /// the caller's.
    pub(crate) fn new(n_be: &[u8], e_be: &[u8]) -> Option<PublicKey> {
        let n_be = strip_leading_zeros(n_be);
        let e_be = strip_leading_zeros(e_be);
        // Both are stripped, so comparing lengths, then bytes, compares the integers.
        if e_be.len() > n_be.len() || (e_be.len() == n_be.len() && e_be >= n_be) {
            return None;
        }
        if e_be.len() > 8 || n_be == [1] {
            return None;
        }
        let e = e_be.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let n = limbs_from_be(n_be);
        let n_low = *n.first()?;
        if n_low & 1 == 0 || e & 1 == 0 || e == 1 {
            return None;
        }
        let n_low = u64::from(n_low) | u64::from(n.get(1).copied().unwrap_or(0)) << 32;
        // Newton's iteration for the inverse mod 2^64: x = n is right to 3 bits (odd squares are
        // 1 mod 8) and each step doubles that, so 5 steps give 96 >= 64.
        let mut inv = n_low;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n_low.wrapping_mul(inv)));
        }
        let bits = n_be.len() * 8 - n_be.first().map_or(0, |b| b.leading_zeros() as usize);
        Some(PublicKey {
            n,
            rr: OnceLock::new(),
            n0: inv.wrapping_neg(),
            e,
            k: n_be.len(),
            bits,
        })
    }

    /// What one verification with this key costs, in units of a 2048-bit key with e = 65537:
    /// the formula the key set's budget uses on the JWK's parameters, held to the arithmetic.
    #[cfg(test)]
    pub(crate) fn cost(&self) -> usize {
        crate::crypto::rsa_cost(self.n.len(), self.e)
    }

    /// The modulus length in bytes: the length of every signature.
    pub(crate) fn size(&self) -> usize {
        self.k
    }

    /// RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 8.2.2) of a precomputed `digest`.
    ///
    /// The expected encoding is built and compared whole, as 8.2.2 step 3 allows: the signature
    /// is never parsed, so there is no parser to fool (Bleichenbacher's 2006 forgery and its
    /// descendants all exploit lax parsing).
    pub(crate) fn verify_pkcs1v15(&self, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 9.2 note 1: DER of DigestInfo { AlgorithmIdentifier { OID, NULL }, OCTET
        // STRING } up to the digest. The OIDs are 2.16.840.1.101.3.4.2.{1,2,3}.
        let prefix: [u8; 19] = match hash {
            Hash::Sha256 => digest_info(0x31, 0x01, 0x20),
            Hash::Sha384 => digest_info(0x41, 0x02, 0x30),
            Hash::Sha512 => digest_info(0x51, 0x03, 0x40),
        };
        if digest.len() != hash.len() {
            return false;
        }
        // 0x00 0x01 PS 0x00 T, where PS is at least 8 bytes of 0xff (9.2 step 3).
        let Some(ps_len) = self.k.checked_sub(3 + prefix.len() + digest.len()) else {
            return false;
        };
        if ps_len < 8 {
            return false;
        }
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        let mut expected = Vec::with_capacity(self.k);
        expected.extend_from_slice(&[0x00, 0x01]);
        expected.resize(2 + ps_len, 0xff);
        expected.push(0x00);
        expected.extend_from_slice(&prefix);
        expected.extend_from_slice(digest);
        em == expected
    }

    /// RSASSA-PSS-VERIFY (RFC 8017 8.1.2 and 9.1.2) of a precomputed `digest`, with MGF1 over
    /// the same hash and a salt exactly as long as the hash (RFC 7518 3.5).
    pub(crate) fn verify_pss(&self, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
        let h_len = hash.len();
        if digest.len() != h_len {
            return false;
        }
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        let em_bits = self.bits - 1;
        // EM is I2OSP(m, emLen). When modBits is 1 mod 8, emLen is k - 1 and m must fit it: its
        // top byte as k bytes must be zero (8.1.2 step 2c, "integer too large").
        let em = match em.split_first() {
            Some((&0, rest)) if em_bits % 8 == 0 => rest,
            Some(_) if em_bits % 8 == 0 => return false,
            _ => &em[..],
        };
        // The bits of EM above emBits: 0 to 7 of them, at the top of the first byte.
        let top_mask = 0xffu8 >> (8 * em.len() - em_bits);
        // EM = maskedDB || H || 0xbc, with DB = PS || 0x01 || salt (9.1.2 steps 3 to 5).
        let Some((&0xbc, em)) = em.split_last() else {
            return false;
        };
        let Some((masked_db, h)) = em.len().checked_sub(h_len).map(|at| em.split_at(at)) else {
            return false;
        };
        if masked_db.len() < h_len + 1 || masked_db.first().is_some_and(|b| b & !top_mask != 0) {
            return false;
        }
        // MGF1 (B.2.1): DB = maskedDB xor (Hash(H || 0) || Hash(H || 1) || ...).
        let mut db = masked_db.to_vec();
        for (counter, chunk) in (0u32..).zip(db.chunks_mut(h_len)) {
            let mask = hash_parts(hash, &[h, &counter.to_be_bytes()]);
            chunk.iter_mut().zip(mask).for_each(|(d, m)| *d ^= m);
        }
        if let Some(first) = db.first_mut() {
            *first &= top_mask;
        }
        let Some((ps, salt)) = db.split_at_checked(db.len() - h_len) else {
            return false;
        };
        let Some((&0x01, zeros)) = ps.split_last() else {
            return false;
        };
        if zeros.iter().any(|&b| b != 0) {
            return false;
        }
        // M' = 8 zero bytes || mHash || salt (step 12); H' must equal H (step 14).
        hash_parts(hash, &[&[0; 8], digest, salt]) == h
    }

    /// RSAVP1 (RFC 8017 5.2.2) then I2OSP to k bytes: s^e mod n, for a signature of exactly k
    /// bytes that, as an integer, is below n.
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.k {
            return None;
        }
        let s = limbs_from_be(signature);
        if s.len() != self.n.len() || !less(&s, &self.n) {
            return None;
        }
        // Square-and-multiply over e's bits, in Montgomery form (x -> xR mod n). e is odd, so
        // the last step is a product by s: by s itself rather than sR, it divides by R and
        // leaves Montgomery form, which saves the product with 1 that would do it.
        let base = self.mont_mul(&s, self.rr());
        let mut acc = base.clone();
        for i in (0..63 - self.e.leading_zeros()).rev() {
            acc = self.mont_sqr(&acc);
            if (self.e >> i) & 1 == 1 {
                acc = self.mont_mul(&acc, if i == 0 { &s } else { &base });
            }
        }
        Some(limbs_to_be(&acc, self.k))
    }

    fn rr(&self) -> &[u32] {
        self.rr.get_or_init(|| self.r_squared())
    }

    /// R^2 mod n. Modular doublings from 2^(bits-1), which is below n, reach 2^(32k + d)
    /// (k limbs); then each Montgomery squaring takes 2^(32k + d·2^i) to 2^(32k + d·2^(i+1)),
    /// so `SQUARINGS` of them reach 2^(64k) with d = 32k / 2^SQUARINGS. A few squarings
    /// replace thousands of doublings: 8192-bit keys cost a third of doubling all the way.
    fn r_squared(&self) -> Vec<u32> {
        let k = self.n.len();
        let d = (32 * k) >> SQUARINGS;
        let mut x = vec![0u32; k];
        x[(self.bits - 1) / 32] = 1 << ((self.bits - 1) % 32);
        for _ in self.bits - 1..32 * k + d {
            let carry = x.iter_mut().fold(0u32, |carry, limb| {
                let out = *limb >> 31;
                *limb = (*limb << 1) | carry;
                out
            });
            if carry != 0 || !less(&x, &self.n) {
                sub_in_place(&mut x, &self.n);
            }
        }
        for _ in 0..SQUARINGS {
            x = self.mont_sqr(&x);
        }
        x
    }

    /// a * b / R mod n (Montgomery product), for a < R and b < n, fully reduced.
    fn mont_mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        self.mont_product(a, Some(b))
    }

    /// a^2 / R mod n, for a < n, fully reduced.
    fn mont_sqr(&self, a: &[u32]) -> Vec<u32> {
        self.mont_product(a, None)
    }

    /// a * b / R mod n, or a^2 / R mod n without b, for a < R and b < n, fully reduced.
    ///
    /// Separated operand scanning: the whole product, then `redc`. Both take two rows (two
    /// limbs of a, or two Montgomery digits) a pass over t, which halves the loads and stores
    /// of t and the loop overhead per multiplication: in V8 that, not the multiplications,
    /// is most of the time. One row a pass (a CIOS loop, which this replaced) made a 2048-bit
    /// `public_op` about 1.8× slower in V8; three or four rows a pass, or unrolling, measured
    /// slower or no better. A square takes the cross products a_i·a_j (i < j) once, doubled,
    /// plus the diagonal: 3/4 of a product's multiplications, and squarings are most of
    /// `public_op`.
    fn mont_product(&self, a: &[u32], b: Option<&[u32]>) -> Vec<u32> {
        // a·b fits in a.len() + n.len() limbs; the rest is room for `redc`'s carries.
        let mut t = vec![0u32; 2 * self.n.len() + 2];
        for (i, pair) in a.chunks(2).enumerate() {
            let (x0, x1) = (pair[0], pair.get(1).copied().unwrap_or(0));
            let (at, y, carry) = match b {
                Some(b) => (2 * i, b, 0),
                None => {
                    // Rows 2i and 2i + 1 of the cross products: a_2i·a_(2i+1), then
                    // (a_2i + a_(2i+1)·2^32)·a[2i+2..]. An odd length ends with an empty one.
                    let s = u64::from(t[4 * i + 1]) + u64::from(x0) * u64::from(x1);
                    t[4 * i + 1] = s as u32;
                    (4 * i + 2, a.get(2 * i + 2..).unwrap_or_default(), s >> 32)
                }
            };
            let (rows, rest) = t[at..].split_at_mut(y.len() + 1);
            // The sum so far fits below this limb, so the carry fits in it.
            rest[0] = add_rows(rows, x0, x1, y, carry) as u32;
        }
        if b.is_none() {
            let mut carry = 0u64;
            for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
                let d = u64::from(ai) * u64::from(ai);
                let lo = (u64::from(pair[0]) << 1) + (d & 0xffff_ffff) + carry;
                pair[0] = lo as u32;
                let hi = (u64::from(pair[1]) << 1) + (d >> 32) + (lo >> 32);
                pair[1] = hi as u32;
                carry = hi >> 32;
            }
        }
        self.redc(t)
    }

    /// t / R mod n (Montgomery reduction), for t < nR in 2k + 2 limbs (k = n's), fully reduced.
    fn redc(&self, mut t: Vec<u32>) -> Vec<u32> {
        let k = self.n.len();
        for i in (0..k).step_by(2) {
            // t + m·n is 0 mod 2^64 at limb i: two Montgomery digits at once.
            let m = (u64::from(t[i]) | u64::from(t[i + 1]) << 32).wrapping_mul(self.n0);
            // With an odd k the last pass clears one limb only: limb k is the result's.
            let m1 = if i + 1 < k { (m >> 32) as u32 } else { 0 };
            let (rows, rest) = t[i..].split_at_mut(k + 1);
            let mut carry = add_rows(rows, m as u32, m1, &self.n, 0);
            // Into limbs that hold t's upper half: a carry rarely goes past the first.
            for limb in rest {
                if carry == 0 {
                    break;
                }
                let s = u64::from(*limb) + carry;
                *limb = s as u32;
                carry = s >> 32;
            }
        }
        // The result, (t + m·n) / R < 2n, is limbs k..2k and at most one bit in limb 2k.
        let over = t[2 * k] != 0;
        t.copy_within(k..2 * k, 0);
        t.truncate(k);
        if over || !less(&t, &self.n) {
            // One subtraction; its borrow out of the k limbs cancels the bit above.
            sub_in_place(&mut t, &self.n);
        }
        t
    }
}

/// The Montgomery arithmetic on big-endian bytes, exposed (feature `oracle-tests`, never in a
/// release) for `tests/rsa_oracles.rs` and the `rsa_montgomery` fuzz target to hold against
/// num-bigint. R = 2^(32k) for a modulus of k 32-bit limbs.
#[cfg(feature = "oracle-tests")]
pub mod oracle {
    use super::{limbs_from_be, limbs_to_be, PublicKey};

    /// An odd modulus n and exponent e (as RSA keys take them, before the size policy).
    pub struct RsaModulus(PublicKey);

    impl RsaModulus {
        /// `None` for what is no RSA key at all (even n, e even, 1, or not below n).
        pub fn new(n: &[u8], e: &[u8]) -> Option<RsaModulus> {
            PublicKey::new(n, e).map(RsaModulus)
        }

        /// Limbs of n.
        pub fn limbs(&self) -> usize {
            self.0.n.len()
        }

        fn limbs_of(&self, a: &[u8]) -> Vec<u32> {
            let mut v = limbs_from_be(a);
            v.resize(self.limbs(), 0);
            v
        }

        fn bytes(&self, a: &[u32]) -> Vec<u8> {
            limbs_to_be(a, 4 * self.limbs())
        }

        /// a·b/R mod n, for a < R and b < n (4k bytes each).
        pub fn mont_mul(&self, a: &[u8], b: &[u8]) -> Vec<u8> {
            self.bytes(&self.0.mont_mul(&self.limbs_of(a), &self.limbs_of(b)))
        }

        /// a²/R mod n, for a < n.
        pub fn mont_sqr(&self, a: &[u8]) -> Vec<u8> {
            self.bytes(&self.0.mont_sqr(&self.limbs_of(a)))
        }

        /// t/R mod n, for t < nR (8k bytes).
        pub fn redc(&self, t: &[u8]) -> Vec<u8> {
            let mut t = limbs_from_be(t);
            t.resize(2 * self.limbs() + 2, 0);
            self.bytes(&self.0.redc(t))
        }

        /// R² mod n.
        pub fn r_squared(&self) -> Vec<u8> {
            self.bytes(self.0.rr())
        }

        /// s^e mod n, for s of n's length in bytes and below n; `None` otherwise.
        pub fn public_op(&self, s: &[u8]) -> Option<Vec<u8>> {
            self.0.public_op(s)
        }
    }
}

/// t[..=y.len()] += (x0 + x1·2^32)·y + carry_in (carry_in < 2^32), returning the carry out of
/// t[y.len()]. Two carries, since t_j + x0·y_j + c and then x1·y_(j-1) + c' each fit in 64
/// bits but not their sum.
fn add_rows(t: &mut [u32], x0: u32, x1: u32, y: &[u32], carry_in: u64) -> u64 {
    let (x0, x1) = (u64::from(x0), u64::from(x1));
    let (mut c0, mut c1, mut prev) = (carry_in, 0u64, 0u64);
    let Some((last, t)) = t.split_last_mut() else {
        return carry_in;
    };
    for (tj, &yj) in t.iter_mut().zip(y) {
        let yj = u64::from(yj);
        let s0 = u64::from(*tj) + x0 * yj + c0;
        c0 = s0 >> 32;
        let s1 = (s0 & 0xffff_ffff) + x1 * prev + c1;
        c1 = s1 >> 32;
        *tj = s1 as u32;
        prev = yj;
    }
    let s0 = u64::from(*last) + c0;
    let s1 = (s0 & 0xffff_ffff) + x1 * prev + c1;
    *last = s1 as u32;
    (s0 >> 32) + (s1 >> 32)
}

/// The DER DigestInfo prefix for a SHA-2 hash: sequence length, OID's last byte, digest length.
const fn digest_info(seq_len: u8, oid_last: u8, digest_len: u8) -> [u8; 19] {
    [
        0x30, seq_len, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
        oid_last, 0x05, 0x00, 0x04, digest_len,
    ]
}

/// The hash of the concatenation of `parts`.
pub(crate) fn hash_parts(hash: Hash, parts: &[&[u8]]) -> Vec<u8> {
    fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        parts.iter().for_each(|p| d.update(p));
        d.finalize().to_vec()
    }
    match hash {
        Hash::Sha256 => run::<Sha256>(parts),
        Hash::Sha384 => run::<Sha384>(parts),
        Hash::Sha512 => run::<Sha512>(parts),
    }
}

/// Big-endian bytes to little-endian limbs, ceil(len / 4) of them.
fn limbs_from_be(bytes: &[u8]) -> Vec<u32> {
    bytes
        .rchunks(4)
        .map(|c| c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        .collect()
}

/// Little-endian limbs to `len` big-endian bytes (I2OSP); the caller knows the value fits.
fn limbs_to_be(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().rev().enumerate() {
        *byte = (limbs.get(i / 4).copied().unwrap_or(0) >> (8 * (i % 4))) as u8;
    }
    out
}

/// a < b, for equal lengths.
fn less(a: &[u32], b: &[u32]) -> bool {
    a.iter().rev().lt(b.iter().rev())
}

/// a -= b mod 2^(32 * len).
fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(y);
        let (d, b2) = d.overflowing_sub(u32::from(borrow));
        *x = d;
        borrow = b1 || b2;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use ::rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use rand::rngs::ChaCha8Rng;
    use rand::{Rng, SeedableRng};
    use sha2::{Sha256, Sha384, Sha512};
    use signature::{RandomizedSigner, SignatureEncoding, Signer};

    use super::*;

    const HASHES: [Hash; 3] = [Hash::Sha256, Hash::Sha384, Hash::Sha512];
    const SIZES: [usize; 4] = [2048, 2049, 3072, 4096];

    struct Fixture {
        private: ::rsa::PrivateKey,
        public: PublicKey,
    }

    /// One key per size in [`SIZES`], generated once (in parallel: 4096 bits takes a while).
    fn keys() -> &'static [Fixture] {
        static KEYS: OnceLock<Vec<Fixture>> = OnceLock::new();
        KEYS.get_or_init(|| {
            std::thread::scope(|scope| {
                let handles: Vec<_> = SIZES
                    .iter()
                    .enumerate()
                    .map(|(i, &bits)| {
                        scope.spawn(move || {
                            let mut rng = ChaCha8Rng::from_seed([i as u8 + 1; 32]);
                            let private = ::rsa::PrivateKey::new(&mut rng, bits).unwrap();
                            let public = public_of(&private);
                            Fixture { private, public }
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        })
    }

    fn public_of(private: &::rsa::PrivateKey) -> PublicKey {
        PublicKey::new(&private.n().to_be_bytes(), &private.e().to_be_bytes()).unwrap()
    }

    fn sign(key: &::rsa::PrivateKey, pss: bool, hash: Hash, msg: &[u8], seed: u8) -> Vec<u8> {
        use ::rsa::{pkcs1v15, pss as p};
        let mut rng = ChaCha8Rng::from_seed([seed; 32]);
        let k = key.clone();
        match (pss, hash) {
            (false, Hash::Sha256) => pkcs1v15::SigningKey::<Sha256>::new(k).sign(msg).to_vec(),
            (false, Hash::Sha384) => pkcs1v15::SigningKey::<Sha384>::new(k).sign(msg).to_vec(),
            (false, Hash::Sha512) => pkcs1v15::SigningKey::<Sha512>::new(k).sign(msg).to_vec(),
            (true, Hash::Sha256) => p::SigningKey::<Sha256>::new(k)
                .sign_with_rng(&mut rng, msg)
                .to_vec(),
            (true, Hash::Sha384) => p::SigningKey::<Sha384>::new(k)
                .sign_with_rng(&mut rng, msg)
                .to_vec(),
            (true, Hash::Sha512) => p::SigningKey::<Sha512>::new(k)
                .sign_with_rng(&mut rng, msg)
                .to_vec(),
        }
    }

    fn verify(key: &PublicKey, pss: bool, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
        let digest = hash_parts(hash, &[msg]);
        if pss {
            key.verify_pss(hash, &digest, sig)
        } else {
            key.verify_pkcs1v15(hash, &digest, sig)
        }
    }

    /// em^d mod n, with em left-padded to k bytes: signs a hand-made encoding, for the cases
    /// the rsa crate will not produce. Slow (a full private exponent, unoptimised): use sparingly.
    fn raw_sign(key: &PublicKey, d_be: &[u8], em: &[u8]) -> Vec<u8> {
        let mut padded = vec![0u8; key.k - em.len()];
        padded.extend_from_slice(em);
        let m = limbs_from_be(&padded);
        assert!(less(&m, &key.n), "the hand-made encoding must be below n");
        let base = key.mont_mul(&m, key.rr());
        let mut one = vec![0u32; key.n.len()];
        one[0] = 1;
        let mut acc = key.mont_mul(&one, key.rr());
        for byte in d_be {
            for i in (0..8).rev() {
                acc = key.mont_mul(&acc, &acc);
                if (byte >> i) & 1 == 1 {
                    acc = key.mont_mul(&acc, &base);
                }
            }
        }
        limbs_to_be(&key.mont_mul(&acc, &one), key.k)
    }

    fn fixture_sign(f: &Fixture, em: &[u8]) -> Vec<u8> {
        raw_sign(&f.public, &f.private.d().to_be_bytes(), em)
    }

    /// EMSA-PSS-ENCODE (RFC 8017 9.1.1), with a hook to spoil DB before masking.
    fn pss_encode(
        hash: Hash,
        digest: &[u8],
        salt: &[u8],
        em_bits: usize,
        spoil: impl Fn(&mut Vec<u8>),
    ) -> Vec<u8> {
        let h_len = hash.len();
        let em_len = em_bits.div_ceil(8);
        let h = hash_parts(hash, &[&[0; 8], digest, salt]);
        let mut db = vec![0u8; em_len - salt.len() - h_len - 2];
        db.push(1);
        db.extend_from_slice(salt);
        spoil(&mut db);
        for (counter, chunk) in (0u32..).zip(db.chunks_mut(h_len)) {
            let mask = hash_parts(hash, &[&h, &counter.to_be_bytes()]);
            chunk.iter_mut().zip(mask).for_each(|(d, m)| *d ^= m);
        }
        db[0] &= 0xff >> (8 * em_len - em_bits);
        db.extend_from_slice(&h);
        db.push(0xbc);
        db
    }

    fn random_message(rng: &mut ChaCha8Rng) -> Vec<u8> {
        let mut msg = vec![0u8; 1 + (rng.next_u32() % 200) as usize];
        rng.fill_bytes(&mut msg);
        msg
    }

    fn u128_of(be: &[u8]) -> u128 {
        be.iter().fold(0, |acc, &b| (acc << 8) | u128::from(b))
    }

    #[test]
    fn modexp_matches_u128_arithmetic() {
        let mut rng = ChaCha8Rng::from_seed([9; 32]);
        for round in 0..2000 {
            // One and two limbs, odd byte lengths included, so carries cross limbs.
            let bits = 8 + (round % 57);
            let n = (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32())) >> (64 - bits)
                | 1
                | 1 << (bits - 1);
            let e = (u64::from(rng.next_u32()) % (n - 3)) | 1;
            let e = e.max(3);
            let s = (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32())) % n;
            let key = PublicKey::new(&n.to_be_bytes(), &e.to_be_bytes()).unwrap();
            assert_eq!(n.wrapping_mul(key.n0), u64::MAX, "n0 = -1/n mod 2^64");
            let sig = &s.to_be_bytes()[8 - key.size()..];
            let got = key.public_op(sig).unwrap();
            let (n, mut b, mut acc) = (u128::from(n), u128::from(s), 1u128);
            let mut e = e;
            while e > 0 {
                if e & 1 == 1 {
                    acc = acc * b % n;
                }
                b = b * b % n;
                e >>= 1;
            }
            assert_eq!(u128_of(&got), acc, "n={n} s={s}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_key() {
        let n: &[u8] = &[0xc5, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01];
        assert!(PublicKey::new(n, &[1, 0, 1]).is_some());
        let even: &[u8] = &[0xc5, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x02];
        assert!(PublicKey::new(even, &[1, 0, 1]).is_none());
        assert!(PublicKey::new(&[1], &[]).is_none());
        assert!(PublicKey::new(&[0, 0, 1], &[]).is_none());
        assert!(PublicKey::new(&[], &[]).is_none());
        assert!(PublicKey::new(&[0, 0], &[3]).is_none());
        assert!(PublicKey::new(&[3], &[3]).is_none(), "e = n");
        assert!(
            PublicKey::new(&[0xff, 0xfd], &[0xff, 0xff]).is_none(),
            "e > n"
        );
        assert!(PublicKey::new(n, n).is_none(), "e = n");
        assert!(PublicKey::new(n, &[0x01; 11]).is_none(), "e longer than n");
        assert!(PublicKey::new(n, &[0x01; 9]).is_none(), "e over 64 bits");
        assert!(PublicKey::new(n, &[1, 0, 0]).is_none(), "even e");
        assert!(PublicKey::new(n, &[0, 0, 1]).is_none(), "e = 1");
        assert!(PublicKey::new(n, &[]).is_none(), "e = 0");
        // Leading zeros are stripped again.
        let padded = [&[0u8, 0][..], n].concat();
        let key = PublicKey::new(&padded, &[0, 0, 1, 0, 1]).unwrap();
        assert_eq!(key.size(), n.len());
        assert_eq!(key.bits, 80);
    }

    #[test]
    fn montgomery_product_is_reduced_and_right() {
        let mut rng = ChaCha8Rng::from_seed([10; 32]);
        for round in 0..2000 {
            let bits = 8 + (round % 57);
            let mut n = (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32()))
                >> (64 - bits)
                | 1
                | 1 << (bits - 1);
            if round % 7 == 0 {
                // A top byte of 0xff: with 32 or 64 bits, R < 2n and t can carry out of the limbs.
                n |= 0xff << (bits - 8);
            }
            if round % 7 == 1 {
                // Within 2^32 of R: a round's t + a_i * b can then need a limb beyond R.
                n = u64::MAX - 2 * u64::from(rng.next_u32() % 1000);
            }
            let key = PublicKey::new(&n.to_be_bytes(), &[3]).unwrap();
            let limbs = |x: u64| {
                let mut v = vec![x as u32, (x >> 32) as u32];
                v.truncate(key.n.len());
                v
            };
            let (n128, r_mod_n) = (u128::from(n), (1u128 << (32 * key.n.len())) % u128::from(n));
            let value = |v: &[u32]| {
                v.iter()
                    .rev()
                    .fold(0u128, |acc, &l| acc << 32 | u128::from(l))
            };
            assert_eq!(value(key.rr()), r_mod_n * r_mod_n % n128, "R^2 mod n");
            for _ in 0..20 {
                let a = (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32())) % n;
                let b = (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32())) % n;
                let b = if rng.next_u32() % 4 == 0 { n - 1 } else { b };
                // Both near n with n near R: the case that needs the limb beyond t's top.
                let (a, b) = if round % 7 == 1 {
                    (
                        n - 1 - u64::from(rng.next_u32() >> 12),
                        n - 1 - u64::from(rng.next_u32() >> 12),
                    )
                } else {
                    (a, b)
                };
                let c = value(&key.mont_mul(&limbs(a), &limbs(b)));
                assert!(c < n128, "fully reduced");
                assert_eq!(c * r_mod_n % n128, u128::from(a) * u128::from(b) % n128);
                let c = value(&key.mont_sqr(&limbs(a)));
                assert!(c < n128, "fully reduced");
                assert_eq!(c * r_mod_n % n128, u128::from(a) * u128::from(a) % n128);
            }
        }
    }

    #[test]
    fn small_and_odd_moduli_never_panic() {
        // Too small for any encoding, or just big enough: every length check is on the path.
        let mut rng = ChaCha8Rng::from_seed([11; 32]);
        for len in 1..=140 {
            for top in [0x01, 0x80, 0xff] {
                let mut n = vec![0u8; len];
                rng.fill_bytes(&mut n);
                n[0] |= top;
                n[len - 1] |= 1;
                let Some(key) = PublicKey::new(&n, &[3]) else {
                    assert!(len == 1 && n[0] <= 3);
                    continue;
                };
                for _ in 0..3 {
                    let mut sig = vec![0u8; key.size()];
                    rng.fill_bytes(&mut sig);
                    sig[0] &= 0x7f >> n[0].leading_zeros().min(7);
                    for hash in HASHES {
                        let digest = vec![0x5a; hash.len()];
                        assert!(!key.verify_pkcs1v15(hash, &digest, &sig));
                        assert!(!key.verify_pss(hash, &digest, &sig));
                    }
                }
            }
        }
    }

    /// Goldilocks, 2^448 - 2^224 - 1: a prime used as the modulus, so that d is known without
    /// factoring. It is 2 mod 3, so with e = 3, d = (2p - 1) / 3.
    fn goldilocks() -> (PublicKey, Vec<u8>) {
        let mut p = vec![0xffu8; 56];
        p[27] = 0xfe;
        let key = PublicKey::new(&p, &[3]).unwrap();
        // 2p - 1 = 2^449 - 2^225 - 3, then long division by 3.
        let two_p_minus_1: Vec<u8> = {
            let mut v = vec![0u8; 57];
            let mut carry = 0u16;
            for (out, &b) in v.iter_mut().rev().zip(p.iter().rev().chain([&0])) {
                let x = u16::from(b) * 2 + carry;
                *out = x as u8;
                carry = x >> 8;
            }
            *v.last_mut().unwrap() -= 1;
            v
        };
        let mut rem = 0u16;
        let d = two_p_minus_1
            .iter()
            .map(|&b| {
                let x = rem << 8 | u16::from(b);
                rem = x % 3;
                (x / 3) as u8
            })
            .collect();
        assert_eq!(rem, 0);
        (key, d)
    }

    #[test]
    fn pkcs1v15_wants_eight_bytes_of_padding() {
        let (key, d) = goldilocks();
        assert_eq!(key.size(), 56);
        let m = [0x12; 40];
        let sig = raw_sign(&key, &d, &m);
        assert_eq!(key.public_op(&sig).unwrap()[16..], m, "d is right");
        // 56 bytes leave 2 bytes of PS for SHA-256: a well-formed encoding otherwise.
        let digest = hash_parts(Hash::Sha256, &[b"message"]);
        let em = [
            &[0u8, 1, 0xff, 0xff, 0][..],
            &digest_info(0x31, 0x01, 0x20),
            &digest,
        ]
        .concat();
        assert_eq!(em.len(), 56);
        let sig = raw_sign(&key, &d, &em);
        assert_eq!(key.public_op(&sig).unwrap(), em);
        assert!(!key.verify_pkcs1v15(Hash::Sha256, &digest, &sig));
    }

    #[test]
    fn digest_info_prefixes_are_rfc_8017s() {
        // RFC 8017 9.2 note 1, verbatim.
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        assert_eq!(
            digest_info(0x31, 0x01, 0x20).to_vec(),
            hex("3031300d060960864801650304020105000420")
        );
        assert_eq!(
            digest_info(0x41, 0x02, 0x30).to_vec(),
            hex("3041300d060960864801650304020205000430")
        );
        assert_eq!(
            digest_info(0x51, 0x03, 0x40).to_vec(),
            hex("3051300d060960864801650304020305000440")
        );
    }

    #[test]
    fn accepts_the_rsa_crates_signatures() {
        let mut rng = ChaCha8Rng::from_seed([3; 32]);
        for (f, bits) in keys().iter().zip(SIZES) {
            assert_eq!(f.public.bits, bits);
            assert_eq!(f.public.size(), f.private.size());
            assert_eq!(f.public.bits, f.private.n().bit_width() as usize);
            for hash in HASHES {
                for pss in [false, true] {
                    for seed in 0..2 {
                        let msg = random_message(&mut rng);
                        let sig = sign(&f.private, pss, hash, &msg, seed);
                        assert!(
                            verify(&f.public, pss, hash, &msg, &sig),
                            "{} bits",
                            f.public.bits
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_the_other_scheme_and_other_hashes() {
        for f in keys() {
            for hash in HASHES {
                for pss in [false, true] {
                    let sig = sign(&f.private, pss, hash, b"message", 1);
                    assert!(!verify(&f.public, !pss, hash, b"message", &sig));
                    for other in HASHES.into_iter().filter(|&h| h != hash) {
                        assert!(!verify(&f.public, pss, other, b"message", &sig));
                        // The right digest under the wrong label, and a digest of the wrong length.
                        let digest = hash_parts(hash, &[b"message"]);
                        assert!(!f.public.verify_pkcs1v15(other, &digest, &sig));
                        assert!(!f.public.verify_pss(other, &digest, &sig));
                    }
                    assert!(!verify(&f.public, pss, hash, b"messagf", &sig));
                }
            }
        }
    }

    #[test]
    fn refuses_flipped_bits() {
        for f in keys() {
            let k = f.public.size();
            for pss in [false, true] {
                let sig = sign(&f.private, pss, Hash::Sha256, b"message", 2);
                for bit in (0..8 * k).step_by(8 * k / 24).chain([0, 7, 8 * k - 1]) {
                    let mut bad = sig.clone();
                    bad[bit / 8] ^= 0x80 >> (bit % 8);
                    assert!(!verify(&f.public, pss, Hash::Sha256, b"message", &bad));
                }
                let digest = hash_parts(Hash::Sha256, &[b"message"]);
                for bit in (0..256).step_by(11) {
                    let mut bad = digest.clone();
                    bad[bit / 8] ^= 0x80 >> (bit % 8);
                    assert!(!f.public.verify_pkcs1v15(Hash::Sha256, &bad, &sig));
                    assert!(!f.public.verify_pss(Hash::Sha256, &bad, &sig));
                }
                // A modulus one bit off (still odd, same length) is another key.
                let n = f.private.n().to_be_bytes();
                let n = strip_leading_zeros(&n);
                for bit in [1, 100, 8 * n.len() - 2] {
                    let mut bad = n.to_vec();
                    let at = n.len() - 1 - bit / 8;
                    bad[at] ^= 1 << (bit % 8);
                    let key = PublicKey::new(&bad, &[1, 0, 1]).unwrap();
                    assert!(!verify(&key, pss, Hash::Sha256, b"message", &sig));
                }
            }
        }
    }

    #[test]
    fn refuses_out_of_range_signatures() {
        for f in keys() {
            let k = f.public.size();
            let n = f.public.n.clone();
            let plus = |delta: u32| {
                let mut v = n.clone();
                let mut carry = delta;
                for limb in v.iter_mut() {
                    let (s, c) = limb.overflowing_add(carry);
                    *limb = s;
                    carry = u32::from(c);
                }
                limbs_to_be(&v, k)
            };
            let minus_one = {
                let mut v = n.clone();
                v[0] -= 1;
                limbs_to_be(&v, k)
            };
            let valid = sign(&f.private, false, Hash::Sha256, b"m", 0);
            let mut longer = vec![0u8];
            longer.extend_from_slice(&valid);
            let mut one = vec![0u8; k];
            one[k - 1] = 1;
            let cases: [(&str, Vec<u8>); 10] = [
                ("empty", vec![]),
                ("k - 1 bytes", valid[1..].to_vec()),
                ("k + 1 bytes, leading zero", longer),
                ("k + 1 bytes", [&valid[..], &[0]].concat()),
                ("0", vec![0; k]),
                ("1", one),
                ("n - 1", minus_one.clone()),
                ("n", plus(0)),
                ("n + 1", plus(1)),
                ("all ones", vec![0xff; k]),
            ];
            for (name, sig) in cases {
                for pss in [false, true] {
                    for hash in HASHES {
                        assert!(!verify(&f.public, pss, hash, b"m", &sig), "{name}");
                    }
                }
            }
            assert!(f.public.public_op(&plus(0)).is_none(), "s = n");
            assert!(f.public.public_op(&minus_one).is_some(), "s = n - 1");
        }
    }

    #[test]
    fn pkcs1v15_is_compared_whole() {
        let f = &keys()[0];
        let digest = hash_parts(Hash::Sha256, &[b"message"]);
        let prefix = digest_info(0x31, 0x01, 0x20);
        let encode = |ps: usize, t: &[u8]| [&[0u8, 1][..], &vec![0xff; ps], &[0], t].concat();
        let t = [&prefix[..], &digest].concat();
        let ps = f.public.size() - 3 - t.len();
        // The hand-made encoding is the rsa crate's, byte for byte.
        let good = fixture_sign(f, &encode(ps, &t));
        assert_eq!(good, sign(&f.private, false, Hash::Sha256, b"message", 0));
        assert!(f.public.verify_pkcs1v15(Hash::Sha256, &digest, &good));

        // DigestInfo without the NULL parameters, which some parsers accept.
        let no_null = [
            &[0x30, 0x2f, 0x30, 0x0b][..],
            &prefix[4..15],
            &prefix[17..],
            &digest,
        ]
        .concat();
        // Garbage after the digest, in place of padding (Bleichenbacher 2006).
        let trailing = [&t[..], &[0xab; 8]].concat();
        let mut block_type_2 = encode(ps, &t);
        block_type_2[1] = 2;
        let mut zero_in_ps = encode(ps, &t);
        zero_in_ps[5] = 0;
        for em in [
            encode(ps + 2, &no_null),
            encode(ps - 8, &trailing),
            block_type_2,
            zero_in_ps,
        ] {
            let sig = fixture_sign(f, &em);
            assert!(!f.public.verify_pkcs1v15(Hash::Sha256, &digest, &sig));
        }
    }

    #[test]
    fn pss_checks_every_part() {
        let mut rng = ChaCha8Rng::from_seed([5; 32]);
        let digest = hash_parts(Hash::Sha256, &[b"message"]);
        // 2048 bits: emLen = k and EM's top bit must be zero; 2049: emLen = k - 1.
        for f in &keys()[..2] {
            let em_bits = f.public.bits - 1;
            // A salt that keeps EM's top byte small, so that the spoiled encodings stay below n.
            let salt_for = |rng: &mut ChaCha8Rng| loop {
                let mut salt = vec![0u8; 32];
                rng.fill_bytes(&mut salt);
                if pss_encode(Hash::Sha256, &digest, &salt, em_bits, |_| {})[0] < 0x08 {
                    break salt;
                }
            };
            let salt = salt_for(&mut rng);
            let encode = |spoil: &dyn Fn(&mut Vec<u8>)| {
                pss_encode(Hash::Sha256, &digest, &salt, em_bits, spoil)
            };
            let good = encode(&|_| {});
            assert!(f
                .public
                .verify_pss(Hash::Sha256, &digest, &fixture_sign(f, &good)));

            let mut bad_trailer = good.clone();
            *bad_trailer.last_mut().unwrap() = 0xbd;
            let mut bad_h = good.clone();
            let at = bad_h.len() - 2;
            bad_h[at] ^= 1;
            let mut spoiled = vec![
                bad_trailer,
                bad_h,
                encode(&|db| db[3] = 1),       // PS not all zero
                encode(&|db| db[190] ^= 0x03), // 0x01 separator became 0x02
            ];
            if em_bits % 8 == 0 {
                // emLen = k - 1: a nonzero top byte of the k-byte I2OSP is too large.
                spoiled.push([&[1u8][..], &good].concat());
            } else {
                // The bit above emBits set: masked away by a lax verifier, so the hash matches.
                let mut top = good.clone();
                top[0] |= 0x80;
                spoiled.push(top);
            }
            for em in spoiled {
                let sig = fixture_sign(f, &em);
                assert!(!f.public.verify_pss(Hash::Sha256, &digest, &sig));
            }
        }
    }

    #[test]
    fn pss_salt_must_be_as_long_as_the_hash() {
        let f = &keys()[0];
        let mut rng = ChaCha8Rng::from_seed([6; 32]);
        for salt_len in [0, 20, 31, 33, 64] {
            let sig =
                ::rsa::pss::SigningKey::<Sha256>::new_with_salt_len(f.private.clone(), salt_len)
                    .sign_with_rng(&mut rng, b"message")
                    .to_vec();
            assert!(
                !verify(&f.public, true, Hash::Sha256, b"message", &sig),
                "{salt_len}"
            );
        }
    }

    /// The Montgomery product as it was first written, the reference for `mont_mul` and
    /// `mont_sqr`: one limb of a per pass (CIOS: Koç, Acar and Kaliski 1996), for a < R and
    /// b < n, fully reduced.
    fn reference_mont_mul(key: &PublicKey, a: &[u32], b: &[u32]) -> Vec<u32> {
        let k = key.n.len();
        let n0 = key.n0 as u32;
        let mut t = vec![0u32; k + 2];
        for &ai in a {
            let mut carry = 0u64;
            for j in 0..k {
                let s = u64::from(t[j]) + u64::from(ai) * u64::from(b[j]) + carry;
                t[j] = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(t[k]) + carry;
            t[k] = s as u32;
            t[k + 1] = (s >> 32) as u32;
            let m = u64::from(t[0].wrapping_mul(n0));
            let mut carry = (u64::from(t[0]) + m * u64::from(key.n[0])) >> 32;
            for j in 1..k {
                let s = u64::from(t[j]) + m * u64::from(key.n[j]) + carry;
                t[j - 1] = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(t[k]) + carry;
            t[k - 1] = s as u32;
            t[k] = t[k + 1] + (s >> 32) as u32;
            t[k + 1] = 0;
        }
        if t[k] != 0 || !less(&t[..k], &key.n) {
            sub_in_place(&mut t[..k], &key.n);
        }
        t.truncate(k);
        t
    }

    /// s^e mod n with `reference_mont_mul` only, converting in and out as it was first written.
    fn reference_public_op(key: &PublicKey, s: &[u32]) -> Vec<u32> {
        let base = reference_mont_mul(key, s, key.rr());
        let mut acc = base.clone();
        for i in (0..63 - key.e.leading_zeros()).rev() {
            acc = reference_mont_mul(key, &acc, &acc);
            if (key.e >> i) & 1 == 1 {
                acc = reference_mont_mul(key, &acc, &base);
            }
        }
        let mut one = vec![0u32; key.n.len()];
        one[0] = 1;
        reference_mont_mul(key, &acc, &one)
    }

    /// A random odd modulus of `limbs` limbs, top bit set; with `near_r`, its top limb all
    /// ones, so that R - n is small and every carry out of the top limb happens.
    fn random_modulus(rng: &mut ChaCha8Rng, limbs: usize, e: &[u8], near_r: bool) -> PublicKey {
        let mut n = vec![0u8; 4 * limbs];
        rng.fill_bytes(&mut n);
        n[0] |= 0x80;
        if near_r {
            n[..4].fill(0xff);
        }
        n[4 * limbs - 1] |= 1;
        PublicKey::new(&n, e).unwrap()
    }

    /// Operands below n: random, small, and n - 1 - (something small), the largest there are.
    fn operands(rng: &mut ChaCha8Rng, n: &[u32]) -> Vec<Vec<u32>> {
        let below = |rng: &mut ChaCha8Rng| {
            let mut v: Vec<u32> = n.iter().map(|_| rng.next_u32()).collect();
            let top = v.len() - 1;
            v[top] %= n[top];
            v
        };
        let near_n = |delta: u32| {
            let mut v = n.to_vec();
            let (d, borrow) = v[0].overflowing_sub(delta);
            v[0] = d;
            if borrow {
                sub_in_place(&mut v[1..], &[1]);
            }
            v
        };
        let mut small = vec![0u32; n.len()];
        small[0] = rng.next_u32() | 1;
        let mut ops = vec![small, near_n(1), near_n(2)];
        for _ in 0..3 {
            ops.push(near_n(rng.next_u32() | 1));
            ops.push(below(rng));
        }
        ops
    }

    #[test]
    fn montgomery_products_match_the_reference() {
        let mut rng = ChaCha8Rng::from_seed([12; 32]);
        // 2048, 3072, 4096 and 8192 bits, and odd and small limb counts.
        for limbs in [64, 96, 128, 256, 1, 2, 3, 5, 33, 63, 65, 97, 255] {
            for near_r in [false, true] {
                let key = random_modulus(&mut rng, limbs, &[1, 0, 1], near_r);
                let ops = operands(&mut rng, &key.n);
                for a in &ops {
                    let want = reference_mont_mul(&key, a, a);
                    assert!(less(&want, &key.n));
                    assert_eq!(key.mont_sqr(a), want, "{limbs} limbs, square");
                    for b in &ops {
                        let want = reference_mont_mul(&key, a, b);
                        assert_eq!(key.mont_mul(a, b), want, "{limbs} limbs, product");
                    }
                }
            }
        }
    }

    #[test]
    fn public_op_matches_the_reference() {
        let mut rng = ChaCha8Rng::from_seed([13; 32]);
        for limbs in [64, 96, 128, 256, 1, 3, 65] {
            // 65537, and 2^33 - 1: a product after every squaring.
            for e in [&[1, 0, 1][..], &[1, 0xff, 0xff, 0xff, 0xff]] {
                if limbs == 1 && e.len() > 4 {
                    continue;
                }
                let key = random_modulus(&mut rng, limbs, e, limbs % 2 == 1);
                for s in operands(&mut rng, &key.n).iter().take(4) {
                    let want = reference_public_op(&key, s);
                    let got = key.public_op(&limbs_to_be(s, key.k)).unwrap();
                    assert_eq!(got, limbs_to_be(&want, key.k), "{limbs} limbs");
                }
            }
        }
    }

    /// What one s^e mod n costs, e = 65537 (R^2 already computed), median and fastest of a
    /// few hundred: `cargo test --release --lib rsa::tests::public_op_timing -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore = "prints timings"]
    fn public_op_timing() {
        let mut rng = ChaCha8Rng::from_seed([14; 32]);
        for bits in [2048, 3072, 4096, 8192] {
            let mut n = vec![0u8; bits / 8];
            rng.fill_bytes(&mut n);
            n[0] |= 0x80;
            n[bits / 8 - 1] |= 1;
            let key = PublicKey::new(&n, &[1, 0, 1]).unwrap();
            let mut s = vec![0u8; bits / 8];
            rng.fill_bytes(&mut s);
            s[0] = n[0] - 1;
            key.rr();
            let mut times = Vec::new();
            let start = std::time::Instant::now();
            while times.len() < 20 || start.elapsed().as_millis() < 500 {
                let t = std::time::Instant::now();
                std::hint::black_box(key.public_op(std::hint::black_box(&s)));
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "public_op, {bits} bits, e = 65537: median {:.1} µs, fastest {:.1} µs ({} runs)",
                times[times.len() / 2],
                times[0],
                times.len()
            );
        }
    }

    #[test]
    fn cost_counts_in_rsa_2048_with_e_65537() {
        let key = |bits: usize, e: &[u8]| {
            let mut n = vec![0xffu8; bits / 8];
            n[bits / 8 - 1] = 0xfd;
            PublicKey::new(&n, e).unwrap().cost()
        };
        assert_eq!(key(2048, &[1, 0, 1]), 1);
        assert_eq!(key(2048, &[3]), 1);
        assert_eq!(key(3072, &[1, 0, 1]), 3);
        assert_eq!(key(4096, &[1, 0, 1]), 4);
        assert_eq!(key(8192, &[1, 0, 1]), 16);
        // 32 squarings and 32 products: 16 × (32·3 + 32·4) / 52.
        assert_eq!(key(8192, &[1, 0xff, 0xff, 0xff, 0xff]), 69);
    }
}
