//! One error type for every refusal, each with a stable code and one wire response.

use crate::prelude::*;
use core::fmt;

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
    /// An OIDC discovery (metadata) document that names no usable key set for the issuer:
    /// another issuer's, or a `jwks_uri` that is missing or not https (the reason, for logs).
    Discovery(String),
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
        // By its place in `CODES`: a match on the texts compiled to a comparison apiece
        // (167 bytes gzipped of the npm package's wasm); a code not listed is `invalid_token`.
        let (status, error) = match Error::CODES.iter().position(|c| *c == code) {
            // Nothing the client can fix: no challenge. A revocation store that cannot be read
            // clears no one (fail closed).
            Some(JWKS_UNAVAILABLE | REVOCATION_UNAVAILABLE) => return (503, None),
            // RFC 6750 3.1: a request without credentials gets a bare challenge.
            Some(MISSING_TOKEN) => return (401, Some(challenge)),
            Some(INSUFFICIENT_CLAIMS) => (403, "insufficient_scope"),
            // Valid, but not for this resource: jwt_authn's 403, so migrations keep statuses.
            Some(INVALID_AUDIENCE) => (403, "invalid_token"),
            _ => (401, "invalid_token"),
        };
        // One `pieces`, not a `push_str` apiece: each inlined its own growth code in the wasm.
        pieces(
            &mut challenge,
            &[", error=\"", error, "\", error_description=\"", code, "\""],
        );
        (status, Some(challenge))
    }
}

// The places in `Error::CODES` of the codes `http_response_for_code` answers apart, each held
// to its text when the crate compiles.
const INVALID_AUDIENCE: usize = code_at(8, "invalid_audience");
const JWKS_UNAVAILABLE: usize = code_at(12, "jwks_unavailable");
const MISSING_TOKEN: usize = code_at(13, "missing_token");
const INSUFFICIENT_CLAIMS: usize = code_at(14, "insufficient_claims");
const REVOCATION_UNAVAILABLE: usize = code_at(15, "revocation_unavailable");

/// `at`, once `Error::CODES[at]` is `code` (a build error otherwise).
const fn code_at(at: usize, code: &str) -> usize {
    let (listed, code) = (Error::CODES[at].as_bytes(), code.as_bytes());
    assert!(listed.len() == code.len());
    let mut i = 0;
    while i < code.len() {
        assert!(listed[i] == code[i]);
        i += 1;
    }
    at
}

// The messages are written without `core::fmt`: the npm package's wasm then carries none of
// the formatting machinery for them. `Display` gives the same text.

impl Error {
    /// The message, as `Display` writes it.
    #[cfg(feature = "web-client")]
    pub(crate) fn message(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        let mut number = String::new();
        pieces(out, &self.parts(&mut number));
    }

    /// The message in pieces, `number` holding the decimal one where there is one: every
    /// message is then written by one `pieces` (a `push_str` apiece inlined its growth code
    /// in the wasm).
    fn parts<'a>(&'a self, number: &'a mut String) -> [&'a str; 4] {
        match self {
            Error::Malformed(m) => {
                let [a, b, c] = m.parts(number);
                ["malformed token: ", a, b, c]
            }
            Error::TooLarge { limit } => {
                *number = decimal(*limit as u64);
                ["token longer than ", number, " bytes", ""]
            }
            Error::Expired => ["token expired", "", "", ""],
            Error::InvalidClaim(c) => ["claim `", c, "` has an invalid value", ""],
            // `jwtgate/client`'s wasm (decode, expiry, the session) produces only the errors
            // above: the other texts and their writers would be bytes every SPA downloads and
            // never shows (0.2 KB gzipped). There the code stands in for them.
            #[cfg(all(feature = "web-client", not(feature = "web")))]
            _ => [self.code(), "", "", ""],
            #[cfg(not(all(feature = "web-client", not(feature = "web"))))]
            _ => self.verifier_parts(number),
        }
    }

    /// The messages of the errors only verification and the front doors produce.
    #[cfg(not(all(feature = "web-client", not(feature = "web"))))]
    fn verifier_parts<'a>(&'a self, number: &'a mut String) -> [&'a str; 4] {
        let one = |text| [text, "", "", ""];
        match self {
            Error::AlgorithmNotAllowed(a) => {
                let [a, b] = a.parts();
                ["algorithm not allowed: ", a, b, ""]
            }
            Error::UnknownKey => one("no key in the key set matches the token"),
            Error::InvalidSignature => one("signature does not verify"),
            Error::NotYetValid => one("token not yet valid"),
            Error::InvalidIssuer => one("issuer not accepted"),
            Error::InvalidAudience => one("audience not accepted"),
            Error::MissingClaim(c) => ["missing required claim `", c, "`", ""],
            Error::Revoked => one("token revoked"),
            Error::JwksUnavailable(e) => {
                let [a, b, c] = e.parts(number);
                ["no usable key set: ", a, b, c]
            }
            Error::MissingToken => one("no token in the request"),
            Error::InsufficientClaims(c) => ["claim `", c, "` does not have a required value", ""],
            Error::RevocationUnavailable => one("revocation store unavailable"),
            // Given by `parts`.
            Error::Malformed(_)
            | Error::TooLarge { .. }
            | Error::Expired
            | Error::InvalidClaim(_) => self.parts(number),
        }
    }
}

/// `pieces` appended to `out`: one loop where a `push_str` apiece inlines its own growth code.
pub(crate) fn pieces(out: &mut String, pieces: &[&str]) {
    for piece in pieces {
        out.push_str(piece);
    }
}

/// `pieces` joined into a new string: `[…].concat()` without its overflow panic, whose
/// formatting code the npm package's wasm would carry.
pub(crate) fn joined(parts: &[&str]) -> String {
    let mut out = String::new();
    pieces(&mut out, parts);
    out
}

/// `n` in decimal, without `core::fmt`.
pub(crate) fn decimal(n: u64) -> String {
    // The higher digits first, by recursion: at most 20 deep, and less code than a reversal.
    let mut out = if n >= 10 {
        decimal(n / 10)
    } else {
        String::new()
    };
    out.push(char::from(b'0' + (n % 10) as u8));
    out
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        }
    }
}

impl Malformed {
    fn write(&self, out: &mut String) {
        let mut number = String::new();
        pieces(out, &self.parts(&mut number));
    }

    fn parts<'a>(&'a self, number: &'a mut String) -> [&'a str; 3] {
        match self {
            Malformed::PartCount(n) => {
                *number = decimal(*n as u64);
                ["expected 3 dot-separated parts, found ", number, ""]
            }
            Malformed::Base64(p) => [p.name(), " is not base64url without padding", ""],
            Malformed::Json(p) => [p.name(), " is not valid JSON", ""],
            Malformed::NotAnObject(p) => [p.name(), " is not a JSON object", ""],
            Malformed::DuplicateMember(p) => [p.name(), " repeats a member name", ""],
            Malformed::HeaderParameter(name) => ["header parameter `", name, "` is invalid"],
            Malformed::UnsupportedCritical => ["unsupported `crit` header", "", ""],
            Malformed::UnencodedPayload => ["`b64: false` is not supported", "", ""],
        }
    }
}

impl AlgorithmError {
    fn write(&self, out: &mut String) {
        pieces(out, &self.parts());
    }

    fn parts(&self) -> [&'static str; 2] {
        match self {
            AlgorithmError::None => ["unsecured (`none`) tokens are never accepted", ""],
            AlgorithmError::Unsupported => ["unsupported algorithm", ""],
            AlgorithmError::NotAllowed(a) => [a.name(), " is not allowed by the policy"],
            AlgorithmError::KeyMismatch(a) => ["the key named by `kid` is not for ", a.name()],
        }
    }
}

impl JwksError {
    fn write(&self, out: &mut String) {
        let mut number = String::new();
        pieces(out, &self.parts(&mut number));
    }

    fn parts<'a>(&'a self, number: &'a mut String) -> [&'a str; 3] {
        match self {
            JwksError::Json => ["key set is not valid JSON", "", ""],
            JwksError::NotAKeySet => ["key set is not an object with a `keys` array", "", ""],
            JwksError::TooLarge { limit } => {
                *number = decimal(*limit as u64);
                ["key set larger than ", number, " bytes"]
            }
            JwksError::TooManyKeys { limit } => {
                *number = decimal(*limit as u64);
                ["key set has more than ", number, " keys"]
            }
            JwksError::NoUsableKey => ["key set has no usable key", "", ""],
            JwksError::Fetch(reason) => ["key set could not be fetched: ", reason, ""],
            JwksError::Discovery(reason) => {
                ["the issuer's discovery document is refused: ", reason, ""]
            }
        }
    }
}

/// `Display` for the error types, from their fmt-free `write`.
macro_rules! display_by_write {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = String::new();
                self.write(&mut out);
                f.write_str(&out)
            }
        }
    )*};
}

display_by_write!(Error, Malformed, AlgorithmError, JwksError);

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_texts_display_always_gave() {
        let cases: &[(Error, &str)] = &[
            (
                Error::Malformed(Malformed::PartCount(12)),
                "malformed token: expected 3 dot-separated parts, found 12",
            ),
            (
                Error::Malformed(Malformed::Base64(Part::Signature)),
                "malformed token: signature is not base64url without padding",
            ),
            (
                Error::Malformed(Malformed::HeaderParameter("kid")),
                "malformed token: header parameter `kid` is invalid",
            ),
            (
                Error::TooLarge { limit: 16384 },
                "token longer than 16384 bytes",
            ),
            (Error::TooLarge { limit: 0 }, "token longer than 0 bytes"),
            (Error::RevocationUnavailable, "revocation store unavailable"),
            (
                Error::AlgorithmNotAllowed(AlgorithmError::NotAllowed(Algorithm::ES256)),
                "algorithm not allowed: ES256 is not allowed by the policy",
            ),
            (
                Error::InvalidClaim("exp".into()),
                "claim `exp` has an invalid value",
            ),
            (
                Error::JwksUnavailable(JwksError::TooManyKeys { limit: 256 }),
                "no usable key set: key set has more than 256 keys",
            ),
            (
                Error::JwksUnavailable(JwksError::Fetch("HTTP 503".into())),
                "no usable key set: key set could not be fetched: HTTP 503",
            ),
            // Every other shape of message, since they are written in pieces.
            (
                Error::Malformed(Malformed::DuplicateMember(Part::Header)),
                "malformed token: header repeats a member name",
            ),
            (
                Error::Malformed(Malformed::UnencodedPayload),
                "malformed token: `b64: false` is not supported",
            ),
            (
                Error::AlgorithmNotAllowed(AlgorithmError::KeyMismatch(Algorithm::RS256)),
                "algorithm not allowed: the key named by `kid` is not for RS256",
            ),
            (
                Error::AlgorithmNotAllowed(AlgorithmError::None),
                "algorithm not allowed: unsecured (`none`) tokens are never accepted",
            ),
            (Error::InvalidAudience, "audience not accepted"),
            (
                Error::MissingClaim("sub".into()),
                "missing required claim `sub`",
            ),
            (
                Error::InsufficientClaims("scope".into()),
                "claim `scope` does not have a required value",
            ),
            (
                Error::JwksUnavailable(JwksError::TooLarge { limit: 524288 }),
                "no usable key set: key set larger than 524288 bytes",
            ),
            (
                Error::JwksUnavailable(JwksError::Discovery("not https".into())),
                "no usable key set: the issuer's discovery document is refused: not https",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), *text);
        }
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string());
    }
}
