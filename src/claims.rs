//! Registered-claim checks (RFC 7519 section 4.1) and access to verified claims.

use crate::prelude::*;
use core::ops::Index;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::verify::Policy;

/// The claims of a token whose signature and claims have been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    pub(crate) fn new(map: Map<String, Value>) -> Claims {
        Claims(map)
    }

    /// A top-level claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A claim by name or, failing that, by a dotted path into nested objects (`realm.roles`).
    /// A member whose own name contains dots wins over the path, as in Envoy's `jwt_authn`.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        lookup(&self.0, path)
    }

    /// `sub`, if it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// `iss`, if it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.get("iss").and_then(Value::as_str)
    }

    /// `exp` in seconds since the epoch, if it is a number.
    pub fn expiration(&self) -> Option<f64> {
        self.get("exp").and_then(Value::as_f64)
    }

    /// `jti`, if it is a string.
    pub fn id(&self) -> Option<&str> {
        self.get("jti").and_then(Value::as_str)
    }

    /// Every claim.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Every claim, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl Index<&str> for Claims {
    type Output = Value;

    /// The claim, or `Value::Null` when absent (never a panic).
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.0.get(name).unwrap_or(&NULL)
    }
}

/// `invalid_claim` for `name`. Out of line, as is [`missing`]: each error built in place
/// inlined its string's allocation in the npm package's wasm.
#[inline(never)]
fn invalid(name: &str) -> Error {
    Error::InvalidClaim(name.into())
}

/// `missing_claim` for `name`.
#[inline(never)]
fn missing(name: &str) -> Error {
    Error::MissingClaim(name.into())
}

/// A NumericDate (RFC 7519 section 2): a JSON number, never a string or null.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| invalid(name)),
        Some(_) => Err(invalid(name)),
    }
}

/// Whether a claim holds one of the accepted values: equal to one as a whole, or an array
/// containing one. A string is split on spaces only when `space_delimited` (the OAuth `scope`
/// convention, for claims a configuration names): `"eve admin"` never holds `"admin"` otherwise.
/// The one place both front doors decide "the token has this claim value".
pub fn claim_holds(have: &Value, accepted: &[Value], space_delimited: bool) -> bool {
    accepted.iter().any(|want| match (have, want) {
        (Value::Array(items), want) => items.contains(want),
        (Value::String(s), Value::String(w)) if space_delimited => {
            s.split(' ').any(|word| word == w)
        }
        (have, want) => have == want,
    })
}

fn lookup<'m>(claims: &'m Map<String, Value>, path: &str) -> Option<&'m Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let first = claims.get(parts.next()?)?;
    parts.try_fold(first, |v, name| v.as_object()?.get(name))
}

/// `requires_claims` for one claim: whether the claim at `path` (a name or a dotted path, as
/// [`Claims::lookup`] finds it) holds one of `accepted`. Only `scope`, `scp` and the claims in
/// `space_delimited` are split on spaces. The Envoy filter's rules and the npm package's
/// `requiredClaims` object both decide through this.
pub fn claim_requirement_holds(
    claims: &Claims,
    path: &str,
    accepted: &[Value],
    space_delimited: &[String],
) -> bool {
    requirement_holds(&claims.0, path, accepted, space_delimited)
}

fn requirement_holds(
    claims: &Map<String, Value>,
    path: &str,
    accepted: &[Value],
    space_delimited: &[String],
) -> bool {
    let split = matches!(path, "scope" | "scp") || space_delimited.iter().any(|c| c == path);
    lookup(claims, path).is_some_and(|have| claim_holds(have, accepted, split))
}

/// Exact audience comparison, the default.
pub(crate) fn same_audience(configured: &str, aud: &str) -> bool {
    configured == aud
}

/// jwt_authn's audience comparison: an `http://` or `https://` scheme and one trailing `/` are
/// ignored, on both sides, so `https://api.example/` and `api.example` are the same audience.
/// Reached only through [`Policy::audience_urls_as_jwt_authn`], so a build that never turns it
/// on (the npm package) carries none of it.
pub(crate) fn same_audience_url(configured: &str, aud: &str) -> bool {
    fn key(aud: &str) -> &str {
        let rest = aud
            .strip_prefix("http://")
            .or_else(|| aud.strip_prefix("https://"))
            .unwrap_or(aud);
        rest.strip_suffix('/').unwrap_or(rest)
    }
    key(configured) == key(aud)
}

/// Checks time, issuer, audience, lifetime and required claims against the policy, with
/// `audiences` in place of the policy's when a caller overrides them.
pub(crate) fn check_with(
    claims: &Map<String, Value>,
    policy: &Policy,
    audiences: &[String],
    now: u64,
) -> Result<(), Error> {
    let now = now as f64;
    let skew = policy.clock_skew as f64;
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    numeric_date(claims, "iat")?;

    match exp {
        Some(exp) if now >= exp + skew => return Err(Error::Expired),
        None if policy.require_expiration || policy.max_lifetime.is_some() => {
            return Err(missing("exp"))
        }
        _ => {}
    }
    if nbf.is_some_and(|nbf| now + skew < nbf) {
        return Err(Error::NotYetValid);
    }
    if let (Some(max), Some(exp)) = (policy.max_lifetime, exp) {
        // Envoy's meaning: the time left until `exp`, so a stolen long-lived token is refused.
        if exp - now > max as f64 {
            return Err(invalid("exp"));
        }
    }

    if let Some(issuer) = &policy.issuer {
        match claims.get("iss") {
            None => return Err(missing("iss")),
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(_)) => return Err(Error::InvalidIssuer),
            Some(_) => return Err(invalid("iss")),
        }
    }

    if !audiences.is_empty() {
        let accepted = |aud: &str| audiences.iter().any(|a| (policy.same_audience)(a, aud));
        let matched = match claims.get("aud") {
            // An absent audience names none of ours: as jwt_authn has it, a 403, not a 401.
            None => return Err(Error::InvalidAudience),
            Some(Value::String(aud)) => accepted(aud),
            Some(Value::Array(auds)) => {
                let mut any = false;
                for aud in auds {
                    any |= accepted(aud.as_str().ok_or_else(|| invalid("aud"))?);
                }
                any
            }
            Some(_) => return Err(invalid("aud")),
        };
        if !matched {
            return Err(Error::InvalidAudience);
        }
    }

    check_required(claims, policy)
}

/// The policy's required claims: present, then holding their required values.
pub(crate) fn check_required(claims: &Map<String, Value>, policy: &Policy) -> Result<(), Error> {
    // A claim present as `null` is no claim.
    let absent = |c: &&String| claims.get(c.as_str()).is_none_or(Value::is_null);
    if let Some(name) = policy.required_claims.iter().find(absent) {
        return Err(missing(name));
    }
    // Last, as the Envoy filter checks `requires_claims` after everything else: a value the
    // caller lacks is a 403, which must not hide a 401 the token deserves.
    for (claim, accepted) in &policy.required_values {
        if !requirement_holds(claims, claim, accepted, &policy.space_delimited_claims) {
            return Err(Error::InsufficientClaims(claim.clone()));
        }
    }
    Ok(())
}
