//! The verification policy, and the verifier that applies it: untrusted token to verified claims.

use crate::alg::{Algorithm, AlgorithmSet};
use crate::claims::{self, Claims, Tree};
use crate::crypto::json::json_document;
use crate::crypto::SignatureCheck;
use crate::error::{AlgorithmError, Error, Part};
use crate::jwks::{Jwk, JwkSet};
use crate::prelude::*;
use crate::token::{self, Header, UntrustedToken, DEFAULT_MAX_TOKEN_BYTES};
use serde_json::{Map, Value};

/// What a token must satisfy besides its signature.
///
/// The defaults are strict: every asymmetric algorithm and no HMAC, `exp` required, 60 seconds
/// of clock skew, tokens up to 16 KiB, issuer and audience unchecked until set.
///
/// ```
/// use jwtgate::{Algorithm, Policy};
/// let policy = Policy::new()
///     .issuer("https://issuer.example")
///     .audience("api")
///     .allow(Algorithm::HS256)
///     .clock_skew(30);
/// assert!(policy.algorithms().contains(Algorithm::HS256));
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) issuer: Option<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) clock_skew: u64,
    pub(crate) require_expiration: bool,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) max_token_bytes: usize,
    pub(crate) required_claims: Vec<String>,
    /// Claims that must hold one of their accepted values, each value as JSON text, which the
    /// npm package compares with a claim without building either; with the claims split on
    /// spaces besides `scope` and `scp`.
    pub(crate) required_values: Vec<(String, Vec<Vec<u8>>)>,
    pub(crate) space_delimited_claims: Vec<String>,
    /// How a configured audience is compared with the token's.
    pub(crate) same_audience: fn(&str, &str) -> bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            issuer: None,
            audiences: Vec::new(),
            algorithms: AlgorithmSet::default(),
            clock_skew: 60,
            require_expiration: true,
            max_lifetime: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            required_claims: Vec::new(),
            required_values: Vec::new(),
            space_delimited_claims: Vec::new(),
            same_audience: claims::same_audience,
        }
    }
}

impl Policy {
    /// The default policy.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Requires `iss` to equal `issuer` exactly.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Policy {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` (a string or an array) names `audience`. May be called
    /// several times: any one configured audience suffices.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Policy {
        self.audiences.push(audience.into());
        self
    }

    /// Replaces the set of accepted algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Policy {
        self.algorithms = algorithms;
        self
    }

    /// Adds an algorithm, for example `HS256`, which is never accepted by default.
    #[must_use]
    pub fn allow(mut self, alg: Algorithm) -> Policy {
        self.algorithms = self.algorithms.with(alg);
        self
    }

    /// The tolerance for `exp` and `nbf`, in seconds (default 60).
    #[must_use]
    pub fn clock_skew(mut self, seconds: u64) -> Policy {
        self.clock_skew = seconds;
        self
    }

    /// Whether a token without `exp` is refused (default `true`).
    #[must_use]
    pub fn require_expiration(mut self, required: bool) -> Policy {
        self.require_expiration = required;
        self
    }

    /// Refuses tokens whose `exp` is more than `seconds` away; implies `exp` is required.
    #[must_use]
    pub fn max_lifetime(mut self, seconds: u64) -> Policy {
        self.max_lifetime = Some(seconds);
        self
    }

    /// The longest token accepted, in bytes (default 16 KiB).
    #[must_use]
    pub fn max_token_bytes(mut self, bytes: usize) -> Policy {
        self.max_token_bytes = bytes;
        self
    }

    /// The longest token this policy reads, in bytes.
    pub fn token_size_limit(&self) -> usize {
        self.max_token_bytes
    }

    /// Requires a claim to be present.
    #[must_use]
    pub fn require_claim(mut self, name: impl Into<String>) -> Policy {
        self.required_claims.push(name.into());
        self
    }

    /// Requires a claim to hold one of `accepted`, as the Envoy filter's `requires_claims`
    /// decides it ([`crate::claim_requirement_holds`]); otherwise [`crate::Error::InsufficientClaims`],
    /// checked after every other claim.
    #[must_use]
    pub fn require_claim_value(
        mut self,
        name: impl Into<String>,
        accepted: Vec<serde_json::Value>,
    ) -> Policy {
        self.required_values
            .push((name.into(), claims::texts(&accepted)));
        self
    }

    /// Splits this claim's string on spaces when checking required values, as `scope` and
    /// `scp` always are (Envoy's `space_delimited_claims`).
    #[must_use]
    pub fn space_delimited_claim(mut self, name: impl Into<String>) -> Policy {
        self.space_delimited_claims.push(name.into());
        self
    }

    /// Compares audiences as Envoy's `jwt_authn` does: an `http://` or `https://` scheme and
    /// one trailing `/` are ignored on both sides (default `false`: exact comparison).
    #[must_use]
    pub fn audience_urls_as_jwt_authn(mut self, on: bool) -> Policy {
        self.same_audience = if on {
            claims::same_audience_url
        } else {
            claims::same_audience
        };
        self
    }

    /// The accepted algorithms.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }
}

/// A token whose signature and claims have been verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    header: Header,
    claims: Claims,
}

impl VerifiedToken {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified claims, owned.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

/// A key set and a policy: verifies tokens into claims.
///
/// Time is injected: [`Verifier::verify_at`] takes the current time, which is how the front
/// doors supply Envoy's or JavaScript's clock and how tests pin one. [`Verifier::verify`] reads
/// the system clock where the target has one.
///
/// ```
/// use jwtgate::{JwkSet, Policy, Verifier};
/// # let (jwks, token) = jwtgate::__doc_example();
/// let keys = JwkSet::from_json(jwks.as_bytes())?;
/// let verifier = Verifier::new(keys, Policy::new().issuer("https://issuer.example"));
/// let verified = verifier.verify_at(token, 1_800_000_000)?;
/// assert_eq!(verified.claims().subject(), Some("alice"));
///
/// let err = verifier.verify_at(token, 4_200_000_000).unwrap_err();
/// assert_eq!(err.code(), "expired");
/// # Ok::<(), jwtgate::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: JwkSet,
    policy: Policy,
}

impl Verifier {
    /// A verifier over `keys` applying `policy`.
    pub fn new(keys: JwkSet, policy: Policy) -> Verifier {
        Verifier { keys, policy }
    }

    /// The key set.
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }

    /// Replaces the key set, for rotation.
    pub fn set_keys(&mut self, keys: JwkSet) {
        self.keys = keys;
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Verifies `token` at `now`, in seconds since the Unix epoch, with the in-wasm primitives.
    #[cfg(feature = "rust-crypto")]
    pub fn verify_at(&self, token: &str, now: u64) -> Result<VerifiedToken, Error> {
        self.verify_at_with_audiences(token, now, &self.policy.audiences)
    }

    /// [`Verifier::verify_at`] with `audiences` in place of the policy's: one key set and
    /// policy serving several audience lists (jwt_authn's `provider_and_audiences`).
    #[cfg(feature = "rust-crypto")]
    pub fn verify_at_with_audiences(
        &self,
        token: &str,
        now: u64,
        audiences: &[String],
    ) -> Result<VerifiedToken, Error> {
        let untrusted = UntrustedToken::parse_with_limit(token, self.policy.max_token_bytes)?;
        self.verify_parsed(&crate::RustCrypto, &untrusted, now, audiences)
    }

    /// Verifies `token` at `now`, the signature's primitive supplied by `crypto`.
    pub fn verify_at_with(
        &self,
        crypto: &dyn SignatureCheck,
        token: &str,
        now: u64,
    ) -> Result<VerifiedToken, Error> {
        let untrusted = UntrustedToken::parse_with_limit(token, self.policy.max_token_bytes)?;
        self.verify_untrusted_with(crypto, &untrusted, now)
    }

    /// Verifies a token already parsed: the policy's size limit (parsing may have used
    /// another), the signature, then the claims.
    #[cfg(feature = "rust-crypto")]
    pub fn verify_untrusted(
        &self,
        untrusted: &UntrustedToken<'_>,
        now: u64,
    ) -> Result<VerifiedToken, Error> {
        self.verify_untrusted_with(&crate::RustCrypto, untrusted, now)
    }

    /// [`Verifier::verify_untrusted`] with `audiences` in place of the policy's.
    #[cfg(feature = "rust-crypto")]
    pub fn verify_untrusted_with_audiences(
        &self,
        untrusted: &UntrustedToken<'_>,
        now: u64,
        audiences: &[String],
    ) -> Result<VerifiedToken, Error> {
        self.verify_parsed(&crate::RustCrypto, untrusted, now, audiences)
    }

    /// [`Verifier::verify_untrusted_with_audiences`] (the policy's audiences when `audiences`
    /// is `None`) for a token whose payload the caller has parsed already, with
    /// [`UntrustedToken::claims_unverified`] on this same token, to read its issuer: those
    /// claims are checked, not parsed a second time. Only the claims come back.
    #[cfg(feature = "envoy")]
    pub(crate) fn verify_untrusted_parsed(
        &self,
        untrusted: &UntrustedToken<'_>,
        claims: Option<Map<String, Value>>,
        now: u64,
        audiences: Option<&[String]>,
    ) -> Result<Claims, Error> {
        let pending = self.prepare(untrusted)?;
        let verified = pending.find(&crate::RustCrypto);
        let audiences = audiences.unwrap_or(&self.policy.audiences);
        pending.checked(verified, now, audiences, claims)
    }

    /// [`Verifier::verify_untrusted`] with the primitive supplied by `crypto`.
    pub fn verify_untrusted_with(
        &self,
        crypto: &dyn SignatureCheck,
        untrusted: &UntrustedToken<'_>,
        now: u64,
    ) -> Result<VerifiedToken, Error> {
        self.verify_parsed(crypto, untrusted, now, &self.policy.audiences)
    }

    fn verify_parsed(
        &self,
        crypto: &dyn SignatureCheck,
        untrusted: &UntrustedToken<'_>,
        now: u64,
        audiences: &[String],
    ) -> Result<VerifiedToken, Error> {
        self.within_limit(untrusted)?;
        let pending = self.prepare(untrusted)?;
        let verified = pending.find(crypto);
        pending.conclude(verified, now, audiences)
    }

    /// Verifies `token` at the system clock's time.
    #[cfg(all(
        feature = "rust-crypto",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ))]
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_at(token, now)
    }

    /// Checks only the algorithm policy and the signature, returning the key that verified it.
    /// For payloads that are not JWT claims; [`Verifier::verify_at`] does this and more.
    #[cfg(feature = "rust-crypto")]
    pub fn verify_signature(&self, token: &UntrustedToken<'_>) -> Result<&Jwk, Error> {
        self.within_limit(token)?;
        let pending = self.prepare(token)?;
        match pending.find(&crate::RustCrypto) {
            Some(index) => Ok(&self.keys.keys()[index]),
            None => Err(pending.fail),
        }
    }

    /// The policy's size limit for a token parsed elsewhere, perhaps with a larger one
    /// ([`UntrustedToken::parse`]'s default): the token's length, recounted from its parts,
    /// as [`UntrustedToken::parse_with_limit`] measures it.
    fn within_limit(&self, token: &UntrustedToken<'_>) -> Result<(), Error> {
        let signature = (token.signature().len() * 4).div_ceil(3);
        let length = token.signing_input().len() + 1 + signature;
        if length > self.policy.max_token_bytes {
            return Err(Error::TooLarge {
                limit: self.policy.max_token_bytes,
            });
        }
        Ok(())
    }

    /// The first half of a verification whose primitive runs elsewhere (asynchronously, as
    /// WebCrypto does): the algorithm policy, the key choice and the signature's form. The
    /// front door checks the signature against [`Pending::candidates`] in order, and hands the
    /// first that verified to [`Pending::finish`], which decides the error and checks the
    /// claims.
    pub fn prepare<'a>(&'a self, token: &'a UntrustedToken<'a>) -> Result<Pending<'a>, Error> {
        let alg = token.header().algorithm()?;
        let (candidates, fail) = self.plan(alg, token.header().kid(), token.signature())?;
        Ok(Pending {
            verifier: self,
            token,
            alg,
            candidates,
            fail,
        })
    }

    /// The algorithm policy and the key choice for a signature: the keys to try, in order, and
    /// the error if none verifies. A signature of the wrong form for a key fails with it,
    /// without reaching a primitive.
    pub(crate) fn plan(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        signature: &[u8],
    ) -> Result<(Vec<usize>, Error), Error> {
        if !self.policy.algorithms.contains(alg) {
            return Err(Error::AlgorithmNotAllowed(AlgorithmError::NotAllowed(alg)));
        }
        let (mut candidates, fail) = self.keys.select(alg, kid);
        // Through `get`: `select`'s positions are in range, and no bounds check is left to
        // panic (one that cannot drops the candidate: fail closed).
        let keys = self.keys.keys();
        candidates.retain(|&i| {
            keys.get(i)
                .is_some_and(|key| key.material().well_formed(alg, signature))
        });
        Ok((candidates, fail))
    }
}

/// A token waiting for its signature check: see [`Verifier::prepare`].
pub struct Pending<'a> {
    verifier: &'a Verifier,
    token: &'a UntrustedToken<'a>,
    alg: Algorithm,
    candidates: Vec<usize>,
    fail: Error,
}

impl<'a> Pending<'a> {
    /// The token's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The keys to try, in order, with their positions in [`JwkSet::keys`]. Empty when no key
    /// can have made this signature: [`Pending::finish`] then gives the reason.
    pub fn candidates(&self) -> impl Iterator<Item = (usize, &'a Jwk)> + '_ {
        let keys = self.verifier.keys.keys();
        self.candidates.iter().map(move |&i| (i, &keys[i]))
    }

    /// The first candidate `crypto` verifies the signature with.
    fn find(&self, crypto: &dyn SignatureCheck) -> Option<usize> {
        let (input, signature) = (self.token.signing_input(), self.token.signature());
        self.candidates()
            .find(|(_, key)| crypto.verify(self.alg, key, input, signature))
            .map(|(i, _)| i)
    }

    /// The verdict: `verified` names the candidate whose signature check succeeded (a position
    /// not among the candidates counts as none), then the claims are checked at `now`.
    pub fn finish(self, verified: Option<usize>, now: u64) -> Result<VerifiedToken, Error> {
        let audiences = &self.verifier.policy.audiences;
        self.conclude(verified, now, audiences)
    }

    /// [`Pending::finish`]'s verdict alone, for a caller that reads the claims elsewhere (the
    /// npm package hands JS the payload's text): the claims are read by the scanner, and no
    /// value is built, neither the claims' map nor the header's copy.
    pub fn judge(self, verified: Option<usize>, now: u64) -> Result<(), Error> {
        let this = self.signed(verified)?;
        let claims =
            json_document(this.token.payload()).map_err(|e| token::json_error(e, Part::Payload))?;
        let policy = &this.verifier.policy;
        claims::check_with(claims, policy, &policy.audiences, now)
    }

    /// [`Pending::finish`] with `audiences` in place of the policy's.
    fn conclude(
        self,
        verified: Option<usize>,
        now: u64,
        audiences: &[String],
    ) -> Result<VerifiedToken, Error> {
        let header = self.token.header();
        let claims = self.checked(verified, now, audiences, None)?;
        Ok(VerifiedToken {
            header: header.clone(),
            claims,
        })
    }

    /// Itself if the signature verified (see [`Pending::finish`]), else the error.
    fn signed(self, verified: Option<usize>) -> Result<Self, Error> {
        if verified.is_some_and(|i| self.candidates.contains(&i)) {
            Ok(self)
        } else {
            Err(self.fail)
        }
    }

    /// The claims, if the signature verified (see [`Pending::finish`]) and they pass at
    /// `now`: `parsed` if given (the payload already parsed), otherwise parsed here.
    fn checked(
        self,
        verified: Option<usize>,
        now: u64,
        audiences: &[String],
        parsed: Option<Map<String, Value>>,
    ) -> Result<Claims, Error> {
        let this = self.signed(verified)?;
        let claims = match parsed {
            Some(claims) => claims,
            None => token::object(this.token.payload(), Part::Payload)?,
        };
        claims::check_with(Tree::Map(&claims), &this.verifier.policy, audiences, now)?;
        Ok(Claims::new(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64_encode;

    /// `judge` (the claims read by the scanner's reader, required values as their JSON text)
    /// and `finish` (the claims as a map, as the Rust API gives them) decide alike on required
    /// values the scanner's document limits would refuse: the text written for them is read
    /// whole, never as a list cut short (which would have let these tokens through).
    #[test]
    fn required_values_past_the_scanner_limits_are_read_whole() {
        let deep = (0..200).fold(Value::from(1), |v, _| Value::Array(vec![v]));
        let slow = Value::Array(vec![serde_json::from_str("1e-310").unwrap(); 33]);
        let thirty_two = vec!["1e-310"; 32].join(",");
        let cases = [
            (
                deep.clone(),
                r#"{"exp":4000000000,"x":[[]]}"#.to_string(),
                false,
            ),
            (deep, r#"{"exp":4000000000,"x":[]}"#.to_string(), false),
            (
                slow,
                format!(r#"{{"exp":4000000000,"x":[[{thirty_two}]]}}"#),
                false,
            ),
            (
                Value::from(1),
                r#"{"exp":4000000000,"x":[1]}"#.to_string(),
                true,
            ),
        ];
        let keys = JwkSet::from_json(include_bytes!("../fuzz/keys.json")).unwrap();
        for (want, payload, holds) in cases {
            let verifier = Verifier::new(
                keys.clone(),
                Policy::new().require_claim_value("x", vec![want]),
            );
            let header = b64_encode(br#"{"alg":"RS256","kid":"rsa"}"#);
            let token = [
                header,
                b64_encode(payload.as_bytes()),
                b64_encode(&[1; 256]),
            ]
            .join(".");
            let untrusted = UntrustedToken::parse(&token).unwrap();
            let pending = || verifier.prepare(&untrusted).unwrap();
            let key = pending().candidates().next().unwrap().0;
            let judged = pending().judge(Some(key), 1_700_000_000);
            let finished = pending().finish(Some(key), 1_700_000_000).map(drop);
            assert_eq!(judged.is_ok(), holds, "judge: {payload}");
            assert_eq!(finished.is_ok(), holds, "finish: {payload}");
        }
    }
}
