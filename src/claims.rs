//! Registered-claim checks (RFC 7519 section 4.1) and access to verified claims.

use crate::prelude::*;
use alloc::borrow::Cow;
use core::ops::Index;

use serde_json::{Map, Value};

use crate::crypto::json::{json_value, same, Json};

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
        match lookup(Tree::Map(&self.0), path)? {
            Tree::Value(v) => Some(v),
            Tree::Map(_) => None,
        }
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

/// What the claim checks read of a claims object and its values: one set of rules over either
/// reader, the scanner's [`Json`] (the npm package, which builds no value tree) or a parsed
/// map (the Rust API's [`Claims`], the Envoy filter).
pub(crate) trait Read<'a>: Copy {
    /// The member `name` of an object; `None` for another kind.
    fn get(self, name: &str) -> Option<Self>;
    /// A number, as `serde_json::Number::as_f64` gives it; `None` for another kind.
    fn date(self) -> Option<f64>;
    /// A string's text; `None` for another kind.
    fn text(self) -> Option<Cow<'a, str>>;
    /// An array's items; `None` for another kind.
    fn items(self) -> Option<Vec<Self>>;
    fn is_null(self) -> bool;
    /// Whether the value equals `want`, as `serde_json::Value`'s `==` has it.
    fn same(self, want: Json<'_>) -> bool;
}

impl<'a> Read<'a> for Json<'a> {
    fn get(self, name: &str) -> Option<Self> {
        Json::get(self, name)
    }
    fn date(self) -> Option<f64> {
        self.number()?.as_f64()
    }
    fn text(self) -> Option<Cow<'a, str>> {
        self.str().map(Cow::Owned)
    }
    fn items(self) -> Option<Vec<Self>> {
        Json::items(self)
    }
    fn is_null(self) -> bool {
        Json::is_null(self)
    }
    fn same(self, want: Json<'_>) -> bool {
        same(self, want)
    }
}

/// A parsed claims map, or a value in it.
#[derive(Clone, Copy)]
pub(crate) enum Tree<'a> {
    Map(&'a Map<String, Value>),
    Value(&'a Value),
}

impl<'a> Read<'a> for Tree<'a> {
    fn get(self, name: &str) -> Option<Self> {
        let map = match self {
            Tree::Map(map) => map,
            Tree::Value(v) => v.as_object()?,
        };
        map.get(name).map(Tree::Value)
    }
    fn date(self) -> Option<f64> {
        match self {
            Tree::Value(Value::Number(n)) => n.as_f64(),
            _ => None,
        }
    }
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Tree::Value(Value::String(s)) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }
    fn items(self) -> Option<Vec<Self>> {
        match self {
            Tree::Value(Value::Array(items)) => Some(items.iter().map(Tree::Value).collect()),
            _ => None,
        }
    }
    fn is_null(self) -> bool {
        matches!(self, Tree::Value(Value::Null))
    }
    fn same(self, want: Json<'_>) -> bool {
        // No path names the whole claims object: only a value is compared.
        matches!((self, json_value(want.text())), (Tree::Value(v), Ok(w)) if *v == w)
    }
}

/// A NumericDate (RFC 7519 section 2): a JSON number, never a string or null.
fn numeric_date<'a>(claims: impl Read<'a>, name: &str) -> Result<Option<f64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.date().map(Some).ok_or_else(|| invalid(name)),
    }
}

/// Values a claim may be required to hold, as JSON text, the form the policy keeps them in.
pub(crate) fn texts(values: &[Value]) -> Vec<Vec<u8>> {
    values
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap_or_default())
        .collect()
}

/// Whether a claim holds one of the accepted values: equal to one as a whole, or an array
/// containing one. A string is split on spaces only when `space_delimited` (the OAuth `scope`
/// convention, for claims a configuration names): `"eve admin"` never holds `"admin"` otherwise.
/// The one place both front doors decide "the token has this claim value".
pub fn claim_holds(have: &Value, accepted: &[Value], space_delimited: bool) -> bool {
    holds(Tree::Value(have), accepted, space_delimited)
}

/// A value a claim may be required to hold, as a reader's claim is compared with it: the
/// policy's JSON text (the npm package's options, read by the scanner) or a `Value` (the Envoy
/// filter's configuration, compared with its parsed claims as before, with no text between).
pub(crate) trait Accepted<'a, R: Read<'a>> {
    /// A string's text; `None` for another kind.
    fn text(&self) -> Option<Cow<'_, str>>;
    /// Whether `have` equals the value, as `serde_json::Value`'s `==` has it.
    fn equals(&self, have: R) -> bool;
}

impl<'a, R: Read<'a>> Accepted<'a, R> for Vec<u8> {
    fn text(&self) -> Option<Cow<'_, str>> {
        Json::scanned(self).str().map(Cow::Owned)
    }
    fn equals(&self, have: R) -> bool {
        have.same(Json::scanned(self))
    }
}

impl<'a> Accepted<'a, Tree<'a>> for Value {
    fn text(&self) -> Option<Cow<'_, str>> {
        self.as_str().map(Cow::Borrowed)
    }
    fn equals(&self, have: Tree<'a>) -> bool {
        matches!(have, Tree::Value(v) if v == self)
    }
}

/// [`claim_holds`] on either reader, and either form of the accepted values.
fn holds<'a, R: Read<'a>>(
    have: R,
    accepted: &[impl Accepted<'a, R>],
    space_delimited: bool,
) -> bool {
    let (items, text) = (have.items(), have.text());
    accepted
        .iter()
        .any(|want| match (&items, &text, want.text()) {
            (Some(items), _, _) => items.iter().any(|item| want.equals(*item)),
            (None, Some(s), Some(w)) if space_delimited => s.split(' ').any(|word| word == w),
            _ => want.equals(have),
        })
}

/// A claim by name or, failing that, by a dotted path into nested objects.
fn lookup<'a, R: Read<'a>>(claims: R, path: &str) -> Option<R> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let first = claims.get(parts.next()?)?;
    parts.try_fold(first, |v, name| v.get(name))
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
    requirement_holds(Tree::Map(&claims.0), path, accepted, space_delimited)
}

fn requirement_holds<'a, R: Read<'a>>(
    claims: R,
    path: &str,
    accepted: &[impl Accepted<'a, R>],
    space_delimited: &[String],
) -> bool {
    let split = matches!(path, "scope" | "scp") || space_delimited.iter().any(|c| c == path);
    lookup(claims, path).is_some_and(|have| holds(have, accepted, split))
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
pub(crate) fn check_with<'a>(
    claims: impl Read<'a>,
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
        match claims.get("iss").map(|v| v.text()) {
            None => return Err(missing("iss")),
            Some(Some(iss)) if *iss == **issuer => {}
            Some(Some(_)) => return Err(Error::InvalidIssuer),
            Some(None) => return Err(invalid("iss")),
        }
    }

    if !audiences.is_empty() {
        let accepted = |aud: &str| audiences.iter().any(|a| (policy.same_audience)(a, aud));
        // An absent audience names none of ours: as jwt_authn has it, a 403, not a 401.
        let aud = claims.get("aud").ok_or(Error::InvalidAudience)?;
        let matched = match (aud.text(), aud.items()) {
            (Some(aud), _) => accepted(&aud),
            (None, Some(auds)) => {
                let mut any = false;
                for aud in auds {
                    any |= accepted(&aud.text().ok_or_else(|| invalid("aud"))?);
                }
                any
            }
            (None, None) => return Err(invalid("aud")),
        };
        if !matched {
            return Err(Error::InvalidAudience);
        }
    }

    check_required(claims, policy)
}

/// The policy's required claims: present, then holding their required values.
pub(crate) fn check_required<'a>(claims: impl Read<'a>, policy: &Policy) -> Result<(), Error> {
    // A claim present as `null` is no claim.
    let absent = |c: &&String| claims.get(c.as_str()).is_none_or(|v| v.is_null());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::json::tests::{small_value, Gen};
    use crate::crypto::json::{json_document, json_object};
    use crate::error::Part;
    use crate::token::object;

    /// The rule as it was decided on `serde_json::Value`s alone, before the scanner's reader:
    /// the oracle for [`requirement_holds`].
    fn value_holds(
        claims: &Map<String, Value>,
        path: &str,
        accepted: &[Value],
        split: bool,
    ) -> bool {
        let have = claims.get(path).or_else(|| {
            let mut parts = path.split('.');
            let first = claims.get(parts.next()?)?;
            parts.try_fold(first, |v, name| v.as_object()?.get(name))
        });
        have.is_some_and(|have| {
            accepted.iter().any(|want| match (have, want) {
                (Value::Array(items), want) => items.contains(want),
                (Value::String(s), Value::String(w)) if split => s.split(' ').any(|word| word == w),
                (have, want) => have == want,
            })
        })
    }

    /// A claims object with the registered claims of every type, nested and dotted names.
    fn claims_text(gen: &mut Gen) -> String {
        let names = [
            "exp", "nbf", "iat", "iss", "aud", "sub", "scope", "realm", "a", "b", "x.y", "x",
        ];
        let mut members = Vec::new();
        for name in names {
            if gen.next() % 3 == 0 || (name == "nbf" && gen.next() % 2 == 0) {
                continue;
            }
            let value = match (name, gen.next() % 4) {
                ("exp", _) => gen
                    .pick(&[
                        "1800000000",
                        "1.8e9",
                        "1800000000",
                        "1000",
                        "1e400",
                        "\"1\"",
                    ])
                    .into(),
                ("nbf" | "iat", _) => gen
                    .pick(&["1000", "1.5e3", "1000", "1800000000", "null", "\"1\""])
                    .into(),
                ("iss", 0 | 1) => gen
                    .pick(&["\"https://i\"", "\"https://\\u0069\"", "\"o\""])
                    .into(),
                ("aud", 0) => gen.pick(&["\"api\"", "\"a\\u0070i\"", "\"other\""]).into(),
                ("aud", 1) => gen
                    .pick(&["[\"x\",\"api\"]", "[\"x\"]", "[]", "[\"api\",1]"])
                    .into(),
                ("realm" | "x", 0 | 1) => format!(
                    "{{\"roles\":{},\"y\":{}}}",
                    small_value(gen, 1),
                    small_value(gen, 1)
                ),
                ("scope", 0 | 1) => gen.pick(&["\"a b\"", "\"a\"", "\"b a\""]).into(),
                _ => small_value(gen, 0),
            };
            members.push(format!("\"{name}\":{value}"));
        }
        format!("{{{}}}", members.join(","))
    }

    fn policy(gen: &mut Gen) -> Policy {
        let mut policy = Policy::new()
            .require_expiration(gen.next() % 4 == 0)
            .clock_skew(gen.next() % 2 * 60);
        if gen.next() % 3 == 0 {
            policy = policy.issuer("https://i");
        }
        if gen.next() % 3 == 0 {
            policy = policy.audience("api");
        }
        if gen.next() % 3 == 0 {
            policy = policy.max_lifetime(1_000_000_000);
        }
        for name in ["sub", "a", "realm"] {
            if gen.next() % 4 == 0 {
                policy = policy.require_claim(name);
            }
        }
        for _ in 0..gen.next() % 2 {
            let path = gen.pick(&["a", "b", "scope", "realm.roles", "x.y", "realm.y", "sub"]);
            let accepted = (0..1 + gen.next() % 3)
                .map(|_| serde_json::from_str(&small_value(gen, 1)).unwrap())
                .collect();
            policy = policy.require_claim_value(path, accepted);
        }
        if gen.next() % 3 == 0 {
            policy = policy.space_delimited_claim(gen.pick(&["a", "b", "x.y"]));
        }
        policy
    }

    /// The checks on the scanner's reader (the npm package) and on a parsed map (the Rust API,
    /// the Envoy filter) give the same verdict and error, and required values are decided as
    /// `Value`'s equality decided them.
    #[test]
    fn both_readers_decide_alike() {
        let mut gen = Gen(0x7a3d_11c5_0b1e_55ed);
        let (mut passed, mut failed, mut held, mut missed) = (0, 0, 0, 0);
        for _ in 0..40_000 {
            let text = claims_text(&mut gen);
            let bytes = if gen.next() % 8 == 0 {
                gen.mutate(text)
            } else {
                text.into_bytes()
            };
            let policy = policy(&mut gen);
            let now = [1_700_000_000, 1_700_000_000, 1_800_000_030, 0][(gen.next() % 4) as usize];
            let ours = json_document(&bytes)
                .map_err(|e| crate::token::json_error(e, Part::Payload))
                .and_then(|doc| check_with(doc, &policy, &policy.audiences, now));
            let theirs = object(&bytes, Part::Payload)
                .and_then(|map| check_with(Tree::Map(&map), &policy, &policy.audiences, now));
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(&bytes));
            if ours.is_ok() {
                passed += 1;
            } else {
                failed += 1;
            }
            let (Ok(doc), Ok(map)) = (json_document(&bytes), json_object(&bytes)) else {
                continue;
            };
            for (path, accepted) in &policy.required_values {
                let split = path == "scope" || policy.space_delimited_claims.contains(path);
                let values: Vec<Value> = accepted
                    .iter()
                    .map(|text| serde_json::from_slice(text).unwrap())
                    .collect();
                let oracle = value_holds(&map, path, &values, split);
                let sd = &policy.space_delimited_claims;
                assert_eq!(
                    requirement_holds(doc, path, accepted, sd),
                    oracle,
                    "{path} in {}",
                    String::from_utf8_lossy(&bytes)
                );
                assert_eq!(
                    requirement_holds(Tree::Map(&map), path, accepted, sd),
                    oracle
                );
                // The Envoy filter's way: its configuration's values, not their text.
                assert_eq!(
                    requirement_holds(Tree::Map(&map), path, &values, sd),
                    oracle
                );
                if oracle {
                    held += 1;
                } else {
                    missed += 1;
                }
            }
        }
        let counts = [passed, failed, held, missed];
        assert!(counts.iter().all(|&n| n > 1_000), "{counts:?}");
    }
}
