//! jwtgate's own ECDSA verifier (src/crypto/ecdsa/) against the RustCrypto crates: `p256`,
//! which it replaced for ES256, and `p384`, which it replaced for ES384. Random keys sign
//! random messages, and both must give the same answer on every signature, valid or
//! mutated, through jwtgate's public path (`Jwk::from_json`, then `Jwk::verify`).
//!
//! The mutations aim at what a hand-written verifier gets wrong: flipped bits in r, s and the
//! message; r or s set to 0, 1, n - 1, n, p, all ones; s replaced by n - s (accepted by both:
//! neither enforces low s); r and s swapped; another key's signature; a short signature.

/// One curve's tests, against `$krate` (same API for both crates).
macro_rules! differential {
    ($module:ident, $krate:ident, $crv:literal, $alg:ident, $len:literal, $n:literal, $p:literal, $seed:literal) => {
        mod $module {
        use jwtgate::{b64_encode, Algorithm, Jwk};
        use $krate::ecdsa::signature::{RandomizedSigner, Verifier};
        use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};
        use rand::rngs::ChaCha8Rng;
        use rand::{Rng, SeedableRng};
        use serde_json::json;

        const LEN: usize = $len;
        const CRV: &str = $crv;
        const ALG: Algorithm = Algorithm::$alg;
        const N: &str = $n;
        const P: &str = $p;
        const SEED: u64 = $seed;


        fn hexn(s: &str) -> [u8; LEN] {
            let mut out = [0u8; LEN];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
            }
            out
        }

        /// a - b for big-endian numbers of LEN bytes, a ≥ b.
        fn sub(a: &[u8; LEN], b: &[u8]) -> [u8; LEN] {
            let mut out = [0u8; LEN];
            let mut borrow = 0i16;
            for i in (0..LEN).rev() {
                let t = i16::from(a[i]) - i16::from(b[i]) - borrow;
                out[i] = t.rem_euclid(256) as u8;
                borrow = i16::from(t < 0);
            }
            out
        }

        /// A random signing key: LEN random bytes, drawn again in the rare case they are not below n.
        fn random_key(rng: &mut ChaCha8Rng) -> SigningKey {
            loop {
                let mut d = [0u8; LEN];
                rng.fill_bytes(&mut d);
                if let Ok(key) = SigningKey::from_slice(&d) {
                    return key;
                }
            }
        }

        fn jwk(key: &VerifyingKey) -> Jwk {
            let point = key.to_sec1_point(false);
            let bytes = point.as_bytes();
            let jwk = json!({"kty": "EC", "crv": CRV,
                             "x": b64_encode(&bytes[1..=LEN]), "y": b64_encode(&bytes[LEN + 1..])});
            Jwk::from_json(jwk.to_string().as_bytes()).unwrap()
        }

        /// The reference crate's answer, as jwtgate gave it before: a signature `Signature::from_slice`
        /// refuses (r or s zero or not below n) does not verify.
        fn reference(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
            Signature::from_slice(sig).is_ok_and(|s| key.verify(message, &s).is_ok())
        }

        struct Counts {
            checks: usize,
            accepted: usize,
        }

        fn check(
            counts: &mut Counts,
            ours: &Jwk,
            theirs: &VerifyingKey,
            message: &[u8],
            sig: &[u8],
            what: &str,
        ) {
            let want = reference(theirs, message, sig);
            let got = ours.verify(ALG, message, sig);
            assert_eq!(
                got, want,
                "{what}: jwtgate {got}, reference {want}\nmessage {message:02x?}\nsignature {sig:02x?}"
            );
            counts.checks += 1;
            counts.accepted += usize::from(got);
        }

        #[test]
        fn agrees_with_the_reference_crate() {
            let mut rng = ChaCha8Rng::seed_from_u64(SEED);
            let n = hexn(N);
            let one = hexn(&format!("{:0w$x}", 1, w = 2 * LEN));
            let specials = [
                ("0", [0; LEN]),
                ("1", one),
                ("n - 1", sub(&n, &one)),
                ("n", n),
                ("p", hexn(P)),
                ("2^(8·LEN) - 1", [0xff; LEN]),
            ];

            let keys: Vec<SigningKey> = (0..16).map(|_| random_key(&mut rng)).collect();
            let public: Vec<VerifyingKey> = keys.iter().map(|k| *k.verifying_key()).collect();
            let jwks: Vec<Jwk> = public.iter().map(jwk).collect();
            let mut counts = Counts {
                checks: 0,
                accepted: 0,
            };
            let mut high_s = 0;
            for round in 0..2400 {
                let k = round % keys.len();
                let other = (k + 1 + round % (keys.len() - 1)) % keys.len();
                let (ours, theirs) = (&jwks[k], &public[k]);
                let mut message = vec![0u8; (rng.next_u32() % 200) as usize];
                rng.fill_bytes(&mut message);
                let sig: Signature = keys[k].sign_with_rng(&mut rng, &message);
                let sig = sig.to_bytes().to_vec();
                assert!(reference(theirs, &message, &sig));
                check(&mut counts, ours, theirs, &message, &sig, "valid");

                // n - s: both accept it.
                let s: [u8; LEN] = sig[LEN..].try_into().unwrap();
                let mut flipped = sig.clone();
                flipped[LEN..].copy_from_slice(&sub(&n, &s));
                check(&mut counts, ours, theirs, &message, &flipped, "n - s");
                if s[0] >= 0x80 {
                    high_s += 1;
                }

                let bit = (rng.next_u32() % (8 * LEN as u32)) as usize;
                for (half, name) in [(0, "r"), (LEN, "s")] {
                    let (what, value) = specials[round % specials.len()];
                    let mut flipped = sig.clone();
                    flipped[half + bit / 8] ^= 1 << (bit % 8);
                    let mut special = sig.clone();
                    special[half..half + LEN].copy_from_slice(&value);
                    for (bad, label) in [
                        (flipped, format!("{name} bit {bit}")),
                        (special, format!("{name} = {what}")),
                    ] {
                        check(&mut counts, ours, theirs, &message, &bad, &label);
                    }
                }
                if !message.is_empty() {
                    let mut bad = message.clone();
                    let i = rng.next_u32() as usize % bad.len();
                    bad[i] ^= 1 << (rng.next_u32() % 8);
                    check(&mut counts, ours, theirs, &bad, &sig, "message bit");
                }
                let mut appended = message.clone();
                appended.push(0);
                check(&mut counts, ours, theirs, &appended, &sig, "message + 0");

                let mut swapped = sig[LEN..].to_vec();
                swapped.extend_from_slice(&sig[..LEN]);
                check(
                    &mut counts,
                    ours,
                    theirs,
                    &message,
                    &swapped,
                    "r and s swapped",
                );
                check(
                    &mut counts,
                    &jwks[other],
                    &public[other],
                    &message,
                    &sig,
                    "other key",
                );
                check(&mut counts, ours, theirs, &message, &sig[..2 * LEN - 1], "one byte short");
            }
            println!(
                "{CRV} differential: {} checks, {} accepted, {high_s} signatures with high s",
                counts.checks, counts.accepted
            );
            // Each round accepts its signature and n - s, and nothing else (with overwhelming
            // probability): a count off by one would mean a mutation verified in both.
            assert_eq!(counts.accepted, 2 * 2400);
            assert!(
                high_s > 1000,
                "the signer normalises s: the n - s checks test less than meant"
            );
        }

        /// Keys: jwtgate refuses exactly what the reference crate refuses, for coordinates at and
        /// around the edges and for random points off the curve.
        #[test]
        fn key_parsing_agrees() {
            let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
            let p = hexn(P);
            let key = *random_key(&mut rng).verifying_key();
            let sec1 = key.to_sec1_point(false);
            let (x, y): ([u8; LEN], [u8; LEN]) = (
                sec1.as_bytes()[1..=LEN].try_into().unwrap(),
                sec1.as_bytes()[LEN + 1..].try_into().unwrap(),
            );
            let one = hexn(&format!("{:0w$x}", 1, w = 2 * LEN));
            let mut cases = vec![
                (x, y),
                (p, y),
                (x, p),
                ([0; LEN], [0; LEN]),
                ([0xff; LEN], y),
                (x, sub(&p, &y)),
                (sub(&p, &one), y),
            ];
            // A negated y is the point -Q: on the curve.
            for _ in 0..500 {
                let mut a = [0u8; LEN];
                let mut b = [0u8; LEN];
                rng.fill_bytes(&mut a);
                rng.fill_bytes(&mut b);
                cases.push((a, b));
                cases.push((x, b));
            }
            let mut accepted = 0;
            for (x, y) in cases {
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let want = VerifyingKey::from_sec1_bytes(&point).is_ok();
                let jwk = json!({"kty": "EC", "crv": CRV, "x": b64_encode(&x), "y": b64_encode(&y)});
                let got = Jwk::from_json(jwk.to_string().as_bytes()).is_ok();
                assert_eq!(got, want, "x {x:02x?} y {y:02x?}");
                accepted += usize::from(got);
            }
            assert_eq!(accepted, 2, "Q and -Q");
        }

        /// Not a test: `cargo test --release --test ecdsa_differential -- --ignored --nocapture` prints
        /// the time of one verification here and in the reference crate (the fastest of 20 batches:
        /// the machine may be busy).
        #[test]
        #[ignore]
        fn timing() {
            fn fastest(mut f: impl FnMut()) -> std::time::Duration {
                (0..20)
                    .map(|_| {
                        let start = std::time::Instant::now();
                        for _ in 0..100 {
                            f();
                        }
                        start.elapsed() / 100
                    })
                    .min()
                    .unwrap()
            }
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let key = random_key(&mut rng);
            let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
            let sig: Signature = key.sign_with_rng(&mut rng, message);
            let sig = sig.to_bytes();
            let ours = jwk(key.verifying_key());
            let ours_time = fastest(|| assert!(ours.verify(ALG, message, &sig)));
            let theirs = *key.verifying_key();
            let theirs_time = fastest(|| assert!(reference(&theirs, message, &sig)));
            println!("{ALG:?} verify: jwtgate {ours_time:?}, reference crate {theirs_time:?}");
        }
        }
    };
}

differential!(
    p256,
    p256,
    "P-256",
    ES256,
    32,
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    0x9256
);

differential!(
    p384,
    p384,
    "P-384",
    ES384,
    48,
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    0x9384
);
