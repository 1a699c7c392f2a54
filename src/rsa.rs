//! RSA signature verification (RFC 8017): RSASSA-PKCS1-v1_5 and RSASSA-PSS, public key only.
//!
//! Written for size on wasm32: 32-bit limbs with 64-bit products (wasm has a native 64-bit
//! multiply; 128-bit arithmetic is emulated), Montgomery multiplication, and no constant-time
//! care, since every value here (key, signature, message) is public.

use std::sync::OnceLock;

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::alg::Hash;

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
    /// -n^-1 mod 2^32.
    n0: u32,
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
        // Newton's iteration for the inverse mod 2^32: x = n is right to 3 bits (odd squares are
        // 1 mod 8) and each step doubles that, so 4 steps give 48 >= 32.
        let mut inv = n_low;
        for _ in 0..4 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n_low.wrapping_mul(inv)));
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

    /// What one verification with this key costs, in units of a 2048-bit key with e = 65537.
    pub(crate) fn cost(&self) -> usize {
        // Montgomery products are quadratic in the limbs, and `public_op` takes one per bit of
        // e after the first and one per further set bit: 2048 bits, e = 65537, is 64² × 17.
        let limbs = self.n.len();
        let steps = (63 - self.e.leading_zeros() + self.e.count_ones() - 1) as usize;
        (limbs * limbs * steps).div_ceil(64 * 64 * 17)
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
        // Square-and-multiply over e's bits, in Montgomery form (x -> xR mod n).
        let base = self.mont_mul(&s, self.rr());
        let mut acc = base.clone();
        for i in (0..63 - self.e.leading_zeros()).rev() {
            acc = self.mont_mul(&acc, &acc);
            if (self.e >> i) & 1 == 1 {
                acc = self.mont_mul(&acc, &base);
            }
        }
        // Out of Montgomery form: a product with 1 divides by R.
        let mut one = vec![0u32; self.n.len()];
        if let Some(limb) = one.first_mut() {
            *limb = 1;
        }
        let m = self.mont_mul(&acc, &one);
        Some(limbs_to_be(&m, self.k))
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
            x = self.mont_mul(&x, &x);
        }
        x
    }

    /// a * b / R mod n (Montgomery product, CIOS: Koç, Acar and Kaliski 1996), for a < R and
    /// b < n, fully reduced.
    fn mont_mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        // t < 2n between rounds, so t fits in n.len() + 1 limbs; one more holds a round's
        // intermediate t + a_i * b.
        let mut t = vec![0u32; self.n.len() + 2];
        let [body @ .., top, top2] = &mut t[..] else {
            return t;
        };
        for &ai in a {
            // t += a_i * b
            let mut carry = 0u64;
            for (tj, &bj) in body.iter_mut().zip(b) {
                let s = u64::from(*tj) + u64::from(ai) * u64::from(bj) + carry;
                *tj = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(*top) + carry;
            *top = s as u32;
            *top2 = (s >> 32) as u32;

            // t = (t + m * n) / 2^32, with m chosen to make the low limb zero.
            let Some(&t0) = body.first() else {
                return t;
            };
            let m = u64::from(t0.wrapping_mul(self.n0));
            let mut limbs = body.iter_mut().zip(&self.n);
            let Some((first, &n0)) = limbs.next() else {
                return t;
            };
            let mut carry = (u64::from(*first) + m * u64::from(n0)) >> 32;
            let mut prev = first;
            for (tj, &nj) in limbs {
                let s = u64::from(*tj) + m * u64::from(nj) + carry;
                *prev = s as u32;
                carry = s >> 32;
                prev = tj;
            }
            let s = u64::from(*top) + carry;
            *prev = s as u32;
            *top = (u64::from(*top2) + (s >> 32)) as u32;
            *top2 = 0;
        }
        if *top != 0 || !less(body, &self.n) {
            // t < 2n: one subtraction; its borrow out of body cancels top.
            sub_in_place(body, &self.n);
        }
        t.truncate(self.n.len());
        t
    }
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

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
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
            assert_eq!(
                key.n[0].wrapping_mul(key.n0),
                u32::MAX,
                "n0 = -1/n mod 2^32"
            );
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
        assert_eq!(key(8192, &[1, 0xff, 0xff, 0xff, 0xff]), 61);
    }
}
