//! Public-key material and the signature checks, each guarded by its signature length.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use signature::Verifier as _;

use crate::alg::{Algorithm, Hash};
use crate::{nistp256, rsa};

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: bounds the cost of one verification.
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// Verification-ready key material, parsed once when the key set is loaded.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    Rsa(Box<rsa::PublicKey>),
    P256(nistp256::PublicKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Oct(Box<[u8]>),
}

/// Why key material was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    RsaTooSmall,
    RsaTooLarge,
    RsaExponent,
    RsaModulus,
    NotOnCurve,
    Length,
}

impl KeyMaterial {
    /// What one verification costs, in units of the cheapest (an RSA-2048 or EC check): how
    /// [`crate::JwkSet`] keeps the keys one token may be tried against cheap.
    pub(crate) fn cost(&self) -> usize {
        match self {
            KeyMaterial::Rsa(key) => key.cost(),
            _ => 1,
        }
    }

    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<KeyMaterial, KeyError> {
        let n = crate::rsa::strip_leading_zeros(n);
        let e = crate::rsa::strip_leading_zeros(e);
        let bits = bit_len(n);
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall);
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::RsaTooLarge);
        }
        // Small exponents (1, 3) make forgeries against lax PKCS#1 parsers practical and no
        // modern issuer uses them: 65537 is the floor. RSA needs it odd, and capping it below
        // 2^33 (as other implementations do) bounds the cost of a verification.
        if !(17..=33).contains(&bit_len(e)) || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::RsaExponent);
        }
        rsa::PublicKey::new(n, e)
            .map(|k| KeyMaterial::Rsa(Box::new(k)))
            .ok_or(KeyError::RsaModulus)
    }

    pub(crate) fn p256(x: &[u8], y: &[u8]) -> Result<KeyMaterial, KeyError> {
        // RFC 7518 6.2.1.2: coordinates are full length, leading zeros kept.
        let (Ok(x), Ok(y)) = (x.try_into(), y.try_into()) else {
            return Err(KeyError::Length);
        };
        nistp256::PublicKey::from_coordinates(x, y)
            .map(KeyMaterial::P256)
            .ok_or(KeyError::NotOnCurve)
    }

    pub(crate) fn p384(x: &[u8], y: &[u8]) -> Result<KeyMaterial, KeyError> {
        let point = uncompressed_point(x, y, 48)?;
        p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
            .map(KeyMaterial::P384)
            .map_err(|_| KeyError::NotOnCurve)
    }

    pub(crate) fn ed25519(x: &[u8]) -> Result<KeyMaterial, KeyError> {
        let x: &[u8; 32] = x.try_into().map_err(|_| KeyError::Length)?;
        ed25519_dalek::VerifyingKey::from_bytes(x)
            .map(KeyMaterial::Ed25519)
            .map_err(|_| KeyError::NotOnCurve)
    }

    pub(crate) fn oct(k: &[u8]) -> Result<KeyMaterial, KeyError> {
        if k.is_empty() {
            return Err(KeyError::Length);
        }
        Ok(KeyMaterial::Oct(k.into()))
    }

    /// The `kty` this material came from.
    pub(crate) fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa(_) => "RSA",
            KeyMaterial::P256(_) | KeyMaterial::P384(_) => "EC",
            KeyMaterial::Ed25519(_) => "OKP",
            KeyMaterial::Oct(_) => "oct",
        }
    }

    /// Whether this key can verify `alg` at all: the JWK's type and curve must fit the
    /// algorithm, and an HMAC secret must be at least as long as the hash (RFC 7518 3.2).
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyMaterial::Rsa(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyMaterial::P256(_) => alg == ES256,
            KeyMaterial::P384(_) => alg == ES384,
            KeyMaterial::Ed25519(_) => alg == EdDSA,
            KeyMaterial::Oct(k) => alg.is_symmetric() && k.len() >= alg.hash().len(),
        }
    }

    /// Checks `signature` over `message`. The caller has checked [`KeyMaterial::fits`].
    ///
    /// The length is checked first so that no malformed signature reaches the arithmetic.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match self {
            KeyMaterial::Rsa(key) => {
                signature.len() == key.size() && verify_rsa(key, alg, message, signature)
            }
            KeyMaterial::P256(key) => <&[u8; 64]>::try_from(signature)
                .is_ok_and(|sig| key.verify(&Sha256::digest(message).into(), sig)),
            KeyMaterial::P384(key) => {
                signature.len() == 96
                    && p384::ecdsa::Signature::from_slice(signature)
                        .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
            KeyMaterial::Ed25519(key) => {
                let Ok(sig) = <&[u8; 64]>::try_from(signature) else {
                    return false;
                };
                // Strict: refuses non-canonical and small-order encodings (malleability).
                key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(sig))
                    .is_ok()
            }
            KeyMaterial::Oct(secret) => {
                signature.len() == alg.hash().len() && verify_hmac(secret, alg, message, signature)
            }
        }
    }
}

fn verify_rsa(key: &rsa::PublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    use Algorithm::*;
    let hash = alg.hash();
    match alg {
        RS256 | RS384 | RS512 => {
            key.verify_pkcs1v15(hash, &rsa::hash_parts(hash, &[message]), signature)
        }
        // RFC 7518 3.5: the salt is as long as the hash (verify_pss insists on it).
        PS256 | PS384 | PS512 => {
            key.verify_pss(hash, &rsa::hash_parts(hash, &[message]), signature)
        }
        _ => false,
    }
}

fn verify_hmac(secret: &[u8], alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    fn check<M: Mac + KeyInit>(secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
            return false;
        };
        mac.update(message);
        // Constant-time comparison.
        mac.verify_slice(signature).is_ok()
    }
    match alg.hash() {
        Hash::Sha256 => check::<Hmac<Sha256>>(secret, message, signature),
        Hash::Sha384 => check::<Hmac<Sha384>>(secret, message, signature),
        Hash::Sha512 => check::<Hmac<Sha512>>(secret, message, signature),
    }
}

fn uncompressed_point(x: &[u8], y: &[u8], len: usize) -> Result<Vec<u8>, KeyError> {
    // RFC 7518 6.2.1.2: coordinates are full length, leading zeros kept.
    if x.len() != len || y.len() != len {
        return Err(KeyError::Length);
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&b) => be.len() * 8 - b.leading_zeros() as usize,
    }
}
