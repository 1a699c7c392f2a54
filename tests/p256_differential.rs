//! jwtgate's own P-256 verifier (src/crypto/ecdsa/) against the RustCrypto `p256` crate it
//! replaced: random keys sign random messages, and both must give the same answer on every
//! signature, valid or mutated, through jwtgate's public path (`Jwk::from_json`, then
//! `Jwk::verify` with ES256).
//!
//! The mutations aim at what a hand-written verifier gets wrong: flipped bits in r, s and the
//! message; r or s set to 0, 1, n - 1, n, p, 2^256 - 1; s replaced by n - s (accepted by both:
//! neither enforces low s); r and s swapped; another key's signature.

use jwtgate::{b64_encode, Algorithm, Jwk};
use p256::ecdsa::signature::{RandomizedSigner, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// a - b for big-endian 256-bit numbers, a ≥ b.
fn sub(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let t = i16::from(a[i]) - i16::from(b[i]) - borrow;
        out[i] = t.rem_euclid(256) as u8;
        borrow = i16::from(t < 0);
    }
    out
}

/// A random signing key: 32 random bytes, drawn again in the rare case they are not below n.
fn random_key(rng: &mut ChaCha8Rng) -> SigningKey {
    loop {
        let mut d = [0u8; 32];
        rng.fill_bytes(&mut d);
        if let Ok(key) = SigningKey::from_slice(&d) {
            return key;
        }
    }
}

fn jwk(key: &VerifyingKey) -> Jwk {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    let jwk = json!({"kty": "EC", "crv": "P-256",
                     "x": b64_encode(&bytes[1..33]), "y": b64_encode(&bytes[33..])});
    Jwk::from_json(jwk.to_string().as_bytes()).unwrap()
}

/// The `p256` crate's answer, as jwtgate gave it before: a signature `Signature::from_slice`
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
    let got = ours.verify(Algorithm::ES256, message, sig);
    assert_eq!(
        got, want,
        "{what}: jwtgate {got}, p256 {want}\nmessage {message:02x?}\nsignature {sig:02x?}"
    );
    counts.checks += 1;
    counts.accepted += usize::from(got);
}

#[test]
fn agrees_with_the_p256_crate() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x9256);
    let n = hex32(N);
    let one = hex32(&format!("{:064x}", 1));
    let specials = [
        ("0", [0; 32]),
        ("1", one),
        ("n - 1", sub(&n, &one)),
        ("n", n),
        ("p", hex32(P)),
        ("2^256 - 1", [0xff; 32]),
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
        let s: [u8; 32] = sig[32..].try_into().unwrap();
        let mut flipped = sig.clone();
        flipped[32..].copy_from_slice(&sub(&n, &s));
        check(&mut counts, ours, theirs, &message, &flipped, "n - s");
        if s[0] >= 0x80 {
            high_s += 1;
        }

        let bit = (rng.next_u32() % 256) as usize;
        for (half, name) in [(0, "r"), (32, "s")] {
            let (what, value) = specials[round % specials.len()];
            let mut flipped = sig.clone();
            flipped[half + bit / 8] ^= 1 << (bit % 8);
            let mut special = sig.clone();
            special[half..half + 32].copy_from_slice(&value);
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

        let mut swapped = sig[32..].to_vec();
        swapped.extend_from_slice(&sig[..32]);
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
        check(&mut counts, ours, theirs, &message, &sig[..63], "63 bytes");
    }
    println!(
        "p256 differential: {} checks, {} accepted, {high_s} signatures with high s",
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

/// Keys: jwtgate refuses exactly what the `p256` crate refuses, for coordinates at and
/// around the edges and for random points off the curve.
#[test]
fn key_parsing_agrees() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x256);
    let p = hex32(P);
    let key = *random_key(&mut rng).verifying_key();
    let sec1 = key.to_sec1_point(false);
    let (x, y): ([u8; 32], [u8; 32]) = (
        sec1.as_bytes()[1..33].try_into().unwrap(),
        sec1.as_bytes()[33..].try_into().unwrap(),
    );
    let one = hex32(&format!("{:064x}", 1));
    let mut cases = vec![
        (x, y),
        (p, y),
        (x, p),
        ([0; 32], [0; 32]),
        ([0xff; 32], y),
        (x, sub(&p, &y)),
        (sub(&p, &one), y),
    ];
    // A negated y is the point -Q: on the curve.
    for _ in 0..500 {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
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
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64_encode(&x), "y": b64_encode(&y)});
        let got = Jwk::from_json(jwk.to_string().as_bytes()).is_ok();
        assert_eq!(got, want, "x {x:02x?} y {y:02x?}");
        accepted += usize::from(got);
    }
    assert_eq!(accepted, 2, "Q and -Q");
}

/// Not a test: `cargo test --release --test p256_differential -- --ignored --nocapture` prints
/// the time of one ES256 verification here and in the `p256` crate (the fastest of 20 batches:
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
    let ours_time = fastest(|| assert!(ours.verify(Algorithm::ES256, message, &sig)));
    let theirs = *key.verifying_key();
    let theirs_time = fastest(|| assert!(reference(&theirs, message, &sig)));
    println!("ES256 verify: jwtgate {ours_time:?}, p256 crate {theirs_time:?}");
}
