//! The signature algorithms jwtgate implements, and sets of them for a policy.

use core::fmt;

use crate::error::{AlgorithmError, Error};

/// A JWS signature algorithm (RFC 7518 section 3, RFC 8037 for `EdDSA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC with SHA-256: only with an `oct` key and only when the policy allows it.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt of 32 bytes.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature as `r || s` (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384, signature as `r || s` (96 bytes).
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// The hash behind an RSA or HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

impl Algorithm {
    /// Every algorithm jwtgate implements.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The registered name, as it appears in a JWS header.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a registered name. Names are case-sensitive (RFC 7515 section 4.1.1), except that
    /// `none` is recognised in any spelling so that it can be refused as such.
    pub fn from_name(name: &str) -> Result<Algorithm, Error> {
        if let Some(alg) = Algorithm::ALL.into_iter().find(|a| a.name() == name) {
            return Ok(alg);
        }
        Err(Error::AlgorithmNotAllowed(
            if name.eq_ignore_ascii_case("none") {
                AlgorithmError::None
            } else {
                AlgorithmError::Unsupported
            },
        ))
    }

    /// Whether the algorithm is an HMAC, which needs a shared secret.
    pub fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    pub(crate) fn hash(self) -> Hash {
        match self {
            Algorithm::HS256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => {
                Hash::Sha256
            }
            Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
                Hash::Sha384
            }
            // Ed25519 hashes internally with SHA-512.
            Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => {
                Hash::Sha512
            }
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Algorithm::from_name(s)
    }
}

/// A set of algorithms a policy accepts.
///
/// The default is every asymmetric algorithm; HMAC must be added explicitly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// No algorithm at all.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// Whether `alg` is in the set.
    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// The set with `alg` added.
    #[must_use]
    pub fn with(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 | alg.bit())
    }

    /// The set with `alg` removed.
    #[must_use]
    pub fn without(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 & !alg.bit())
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl Default for AlgorithmSet {
    fn default() -> Self {
        Algorithm::ALL
            .into_iter()
            .filter(|a| !a.is_symmetric())
            .collect()
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::EMPTY, AlgorithmSet::with)
    }
}

impl fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
