//! One error type for every refusal, each with a stable code and one wire response.

use std::fmt;

use crate::alg::Algorithm;

/// Why a token, a key set or a request was refused.
///
/// Match on the variant for detail, or use [`Error::code`]: the stable string that both front
/// doors report (`JwtError.code` in JavaScript, `error_description` in the Envoy filter's
/// `WWW-Authenticate`). New variants may be added; codes never change meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The token is not a well-formed compact JWS.
    Malformed(Malformed),
    /// The token is longer than the policy allows, checked before any decoding.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The token's `alg` is refused.
    AlgorithmNotAllowed(AlgorithmError),
    /// No key in the set matches the token's `kid` (or, without `kid`, its algorithm).
    UnknownKey,
    /// The signature does not verify with any candidate key.
    InvalidSignature,
    /// `exp` is in the past, beyond the clock skew.
    Expired,
    /// `nbf` is in the future, beyond the clock skew.
    NotYetValid,
    /// `iss` is not the configured issuer.
    InvalidIssuer,
    /// `aud` is absent or names none of the configured audiences (HTTP 403).
    InvalidAudience,
    /// A claim the policy requires is absent.
    MissingClaim(String),
    /// A claim has the wrong type or an impossible value (for example `exp` as a string, or a
    /// lifetime longer than the policy allows).
    InvalidClaim(String),
    /// The token's `jti` is on a revocation list.
    Revoked,
    /// No usable key set is available.
    JwksUnavailable(JwksError),
    /// The request carried no token where one was required (front doors).
    MissingToken,
    /// The token is valid but a claim does not have a required value (front doors; HTTP 403).
    InsufficientClaims(String),
    /// The revocation store could not be read, so the token cannot be cleared (front doors;
    /// HTTP 503: fail closed).
    RevocationUnavailable,
}

/// The part of a compact JWS an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The protected header (first part).
    Header,
    /// The payload (second part).
    Payload,
    /// The signature (third part).
    Signature,
}

/// What is structurally wrong with a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Not exactly three dot-separated parts (the count seen, capped at 6).
    PartCount(usize),
    /// Not strict base64url without padding.
    Base64(Part),
    /// Not valid JSON, or nested deeper than the parser allows.
    Json(Part),
    /// Valid JSON but not an object.
    NotAnObject(Part),
    /// A member name appears twice in one JSON object.
    DuplicateMember(Part),
    /// A header parameter is missing or has the wrong type.
    HeaderParameter(&'static str),
    /// The header lists `crit` extensions; jwtgate understands none, so it must refuse them.
    UnsupportedCritical,
    /// `b64: false` (RFC 7797 unencoded payload) is not supported.
    UnencodedPayload,
}

/// Why an algorithm is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// `none`, in any spelling: unsecured tokens are never accepted.
    None,
    /// An algorithm jwtgate does not implement.
    Unsupported,
    /// An algorithm jwtgate implements but the policy does not allow.
    NotAllowed(Algorithm),
    /// The key named by `kid` cannot be used with this algorithm (its `kty`, `crv` or pinned
    /// `alg` says otherwise).
    KeyMismatch(Algorithm),
}

/// Why no key set is available.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Not valid JSON (or a member name appears twice).
    Json,
    /// Valid JSON but not an object with a `keys` array.
    NotAKeySet,
    /// Larger than [`crate::JwkSet::MAX_BYTES`].
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More entries than [`crate::JwkSet::MAX_KEYS`].
    TooManyKeys {
        /// The limit in entries.
        limit: usize,
    },
    /// Every entry was skipped; [`crate::JwkSet::parse_report`] says why.
    NoUsableKey,
    /// A front door could not fetch the set (the reason, for logs).
    Fetch(String),
}

impl Error {
    /// Every code [`Error::code`] can return.
    pub const CODES: [&'static str; 16] = [
        "malformed",
        "too_large",
        "algorithm_not_allowed",
        "unknown_key",
        "invalid_signature",
        "expired",
        "not_yet_valid",
        "invalid_issuer",
        "invalid_audience",
        "missing_claim",
        "invalid_claim",
        "revoked",
        "jwks_unavailable",
        "missing_token",
        "insufficient_claims",
        "revocation_unavailable",
    ];

    /// The stable code: one of the codes listed in the README, never changed.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::TooLarge { .. } => "too_large",
            Error::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Error::UnknownKey => "unknown_key",
            Error::InvalidSignature => "invalid_signature",
            Error::Expired => "expired",
            Error::NotYetValid => "not_yet_valid",
            Error::InvalidIssuer => "invalid_issuer",
            Error::InvalidAudience => "invalid_audience",
            Error::MissingClaim(_) => "missing_claim",
            Error::InvalidClaim(_) => "invalid_claim",
            Error::Revoked => "revoked",
            Error::JwksUnavailable(_) => "jwks_unavailable",
            Error::MissingToken => "missing_token",
            Error::InsufficientClaims(_) => "insufficient_claims",
            Error::RevocationUnavailable => "revocation_unavailable",
        }
    }

    /// The claim an error is about, where there is one.
    pub fn claim(&self) -> Option<&str> {
        match self {
            Error::MissingClaim(c) | Error::InvalidClaim(c) | Error::InsufficientClaims(c) => {
                Some(c)
            }
            Error::Expired => Some("exp"),
            Error::NotYetValid => Some("nbf"),
            Error::InvalidIssuer => Some("iss"),
            Error::InvalidAudience => Some("aud"),
            Error::Revoked => Some("jti"),
            _ => None,
        }
    }

    /// The HTTP answer to a request refused with this error: its status and, where the status
    /// calls for one, the `WWW-Authenticate` challenge (RFC 6750 section 3).
    ///
    /// This is the only place that decides what a refusal looks like on the wire.
    ///
    /// ```
    /// use jwtgate::Error;
    /// let (status, challenge) = Error::Expired.http_response("api");
    /// assert_eq!(status, 401);
    /// assert_eq!(
    ///     challenge.as_deref(),
    ///     Some(r#"Bearer realm="api", error="invalid_token", error_description="expired""#)
    /// );
    /// ```
    pub fn http_response(&self, realm: &str) -> (u16, Option<String>) {
        Error::http_response_for_code(self.code(), realm)
    }

    /// [`Error::http_response`] for an error known by its code (one of [`Error::CODES`]): how
    /// a front door whose checks ran elsewhere (in JavaScript) answers.
    pub fn http_response_for_code(code: &str, realm: &str) -> (u16, Option<String>) {
        let mut challenge = Vec::from(&b"Bearer realm=\""[..]);
        for b in realm.bytes() {
            // A realm is a quoted-string: escape what would end it, drop what cannot be sent.
            // Bytes, not chars: only ASCII is touched, so the text stays UTF-8.
            match b {
                b'"' | b'\\' => challenge.extend([b'\\', b]),
                b if b.is_ascii_control() => {}
                b => challenge.push(b),
            }
        }
        challenge.push(b'"');
        let mut challenge = String::from_utf8(challenge).unwrap_or_default();
        let (status, error) = match code {
            // Nothing the client can fix: no challenge. A revocation store that cannot be read
            // clears no one (fail closed).
            "jwks_unavailable" | "revocation_unavailable" => return (503, None),
            // RFC 6750 3.1: a request without credentials gets a bare challenge.
            "missing_token" => return (401, Some(challenge)),
            "insufficient_claims" => (403, "insufficient_scope"),
            // Valid, but not for this resource: jwt_authn's 403, so migrations keep statuses.
            "invalid_audience" => (403, "invalid_token"),
            _ => (401, "invalid_token"),
        };
        challenge.push_str(", error=\"");
        challenge.push_str(error);
        challenge.push_str("\", error_description=\"");
        challenge.push_str(code);
        challenge.push('"');
        (status, Some(challenge))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(m) => write!(f, "malformed token: {m}"),
            Error::TooLarge { limit } => write!(f, "token longer than {limit} bytes"),
            Error::AlgorithmNotAllowed(a) => write!(f, "algorithm not allowed: {a}"),
            Error::UnknownKey => f.write_str("no key in the key set matches the token"),
            Error::InvalidSignature => f.write_str("signature does not verify"),
            Error::Expired => f.write_str("token expired"),
            Error::NotYetValid => f.write_str("token not yet valid"),
            Error::InvalidIssuer => f.write_str("issuer not accepted"),
            Error::InvalidAudience => f.write_str("audience not accepted"),
            Error::MissingClaim(c) => write!(f, "missing required claim `{c}`"),
            Error::InvalidClaim(c) => write!(f, "claim `{c}` has an invalid value"),
            Error::Revoked => f.write_str("token revoked"),
            Error::JwksUnavailable(e) => write!(f, "no usable key set: {e}"),
            Error::MissingToken => f.write_str("no token in the request"),
            Error::InsufficientClaims(c) => write!(f, "claim `{c}` does not have a required value"),
            Error::RevocationUnavailable => f.write_str("revocation store unavailable"),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::PartCount(n) => write!(f, "expected 3 dot-separated parts, found {n}"),
            Malformed::Base64(p) => write!(f, "{p} is not base64url without padding"),
            Malformed::Json(p) => write!(f, "{p} is not valid JSON"),
            Malformed::NotAnObject(p) => write!(f, "{p} is not a JSON object"),
            Malformed::DuplicateMember(p) => write!(f, "{p} repeats a member name"),
            Malformed::HeaderParameter(name) => write!(f, "header parameter `{name}` is invalid"),
            Malformed::UnsupportedCritical => f.write_str("unsupported `crit` header"),
            Malformed::UnencodedPayload => f.write_str("`b64: false` is not supported"),
        }
    }
}

impl fmt::Display for AlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlgorithmError::None => f.write_str("unsecured (`none`) tokens are never accepted"),
            AlgorithmError::Unsupported => f.write_str("unsupported algorithm"),
            AlgorithmError::NotAllowed(a) => write!(f, "{a} is not allowed by the policy"),
            AlgorithmError::KeyMismatch(a) => write!(f, "the key named by `kid` is not for {a}"),
        }
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::Json => f.write_str("key set is not valid JSON"),
            JwksError::NotAKeySet => f.write_str("key set is not an object with a `keys` array"),
            JwksError::TooLarge { limit } => write!(f, "key set larger than {limit} bytes"),
            JwksError::TooManyKeys { limit } => write!(f, "key set has more than {limit} keys"),
            JwksError::NoUsableKey => f.write_str("key set has no usable key"),
            JwksError::Fetch(reason) => write!(f, "key set could not be fetched: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
