//! One request's decision: find the rule, extract tokens, evaluate the requirement, check
//! required claims, and say which headers to change. No proxy-wasm here: the filter supplies
//! an [`Env`] and carries out the [`Outcome`].

use std::rc::Rc;

use serde_json::Value;

use super::config::{Config, Location, Requirement, Rule};
use crate::{Claims, Error, UntrustedToken, Verifier};

/// What the filter knows that the decision needs.
pub trait Env {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> u64;
    /// The provider's keys.
    fn keys(&self, provider: usize) -> Keys;
    /// Brings this worker's copy of the provider's keys up to the shared one; true if it
    /// changed. Another worker may have fetched what this one has not seen yet.
    fn resync(&self, provider: usize) -> bool;
    /// Whether an unknown `kid` may trigger a re-fetch now (cooldown and in-flight checks).
    fn may_refetch(&self, provider: usize) -> bool;
    /// Whether `jti` is revoked; `Err` when a configured list was never had.
    fn revoked(&self, jti: &str) -> Result<bool, Error>;
    /// A verified token's claims from the cache, if cached and not expired.
    fn cached(&self, provider: usize, token: &str) -> Option<Rc<Claims>>;
    /// Remember a verified token.
    fn remember(&self, provider: usize, token: &str, claims: Rc<Claims>);
}

/// A provider's key state.
pub enum Keys {
    /// Keys to verify with.
    Ready(Rc<Verifier>),
    /// None yet; a fetch may bring them: wait.
    Pending,
    /// None, and the last fetch failed.
    Unavailable(Error),
}

/// What to do with the request.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Let it through after these header changes.
    Allow(Vec<HeaderOp>),
    /// Refuse it.
    Deny(Error),
    /// Wait for this provider's keys to be fetched, then decide again.
    Wait {
        /// The provider whose keys are needed.
        provider: usize,
        /// Whether the wait is for a re-fetch on an unknown `kid`.
        unknown_kid: bool,
    },
}

/// A change to the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderOp {
    /// Remove every header of this name.
    Remove(String),
    /// Set this header, replacing any value.
    Set(String, String),
}

/// The parts of a request the decision reads.
pub struct Request<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    /// Every header, names in lower case as Envoy gives them.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A token found for a provider, and where.
#[derive(Clone)]
struct Found<'r> {
    provider: usize,
    token: &'r str,
    location: &'r Location,
}

struct Verified<'r> {
    found: Found<'r>,
    claims: Rc<Claims>,
}

enum Failure {
    Deny(Error),
    Wait { provider: usize, unknown_kid: bool },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Deny(e)
    }
}

/// Decides what to do with `req`.
pub fn decide(config: &Config, env: &dyn Env, req: &Request<'_>) -> Outcome {
    // Headers the filter owns are removed on every request, so a client can never supply one.
    let mut ops: Vec<HeaderOp> = config
        .owned_headers
        .iter()
        .cloned()
        .map(HeaderOp::Remove)
        .collect();
    if config.bypass_cors_preflight
        && req.method.eq_ignore_ascii_case("OPTIONS")
        && req.header("origin").is_some()
        && req.header("access-control-request-method").is_some()
    {
        return Outcome::Allow(ops);
    }
    let Some(rule) = config.rule_for(req.path) else {
        return Outcome::Allow(ops);
    };
    let Some(requirement) = &rule.requires else {
        return Outcome::Allow(ops);
    };
    let found: Vec<Found<'_>> = (0..config.providers.len())
        .filter_map(|p| find_token(config, p, req))
        .collect();
    let verified = match evaluate(config, env, requirement, &found) {
        Ok(v) => v,
        Err(Failure::Deny(e)) => return Outcome::Deny(e),
        Err(Failure::Wait {
            provider,
            unknown_kid,
        }) => {
            return Outcome::Wait {
                provider,
                unknown_kid,
            }
        }
    };
    if let Err(e) = check_required_claims(rule, &verified) {
        return Outcome::Deny(e);
    }
    for v in &verified {
        forward(config, v, &mut ops);
    }
    Outcome::Allow(ops)
}

/// The first token at the provider's locations.
fn find_token<'r>(config: &'r Config, provider: usize, req: &Request<'r>) -> Option<Found<'r>> {
    config.providers[provider]
        .locations
        .iter()
        .find_map(|location| {
            let token = match location {
                Location::Header { name, prefix } => req
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .find_map(|(_, v)| after_prefix(v, prefix)),
                Location::Param(name) => query_param(req.path, name),
                Location::Cookie(name) => req
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .find_map(|(_, v)| cookie(v, name)),
            }?;
            Some(Found {
                provider,
                token,
                location,
            })
        })
}

/// The token after `prefix`; the `Bearer` scheme is matched case-insensitively (RFC 7235).
fn after_prefix<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    let value = value.trim();
    let rest = match value.get(..prefix.len()) {
        Some(head) if head == prefix => &value[prefix.len()..],
        Some(head)
            if prefix.trim_end().eq_ignore_ascii_case("bearer")
                && head.eq_ignore_ascii_case(prefix) =>
        {
            &value[prefix.len()..]
        }
        _ => return None,
    };
    let token = rest.trim_start();
    // The token runs to the first character that cannot be in a compact JWS. Bytes, not
    // chars: every byte of a non-ASCII character stops it too, and this runs per request.
    let end = token
        .bytes()
        .position(|b| {
            !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'/'))
        })
        .unwrap_or(token.len());
    Some(&token[..end]).filter(|t| !t.is_empty())
}

fn query_param<'p>(path: &'p str, name: &str) -> Option<&'p str> {
    let (_, query) = path.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

fn cookie<'v>(header: &'v str, name: &str) -> Option<&'v str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name && !v.is_empty()).then_some(v.trim_matches('"'))
    })
}

fn evaluate<'r>(
    config: &Config,
    env: &dyn Env,
    requirement: &Requirement,
    found: &[Found<'r>],
) -> Result<Vec<Verified<'r>>, Failure> {
    match requirement {
        Requirement::Provider(p) => {
            let f = found
                .iter()
                .find(|f| f.provider == *p)
                .ok_or(Error::MissingToken)?;
            Ok(vec![verify(config, env, f)?])
        }
        Requirement::All(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(evaluate(config, env, part, found)?);
            }
            Ok(all)
        }
        Requirement::Any(parts) => {
            // A real failure says more than a missing token, so it wins the report.
            let mut first: Option<Failure> = None;
            for part in parts {
                match evaluate(config, env, part, found) {
                    Ok(v) => return Ok(v),
                    Err(wait @ Failure::Wait { .. }) => return Err(wait),
                    Err(f) => {
                        let missing =
                            matches!(first, None | Some(Failure::Deny(Error::MissingToken)));
                        if missing {
                            first = Some(f);
                        }
                    }
                }
            }
            Err(first.unwrap_or(Failure::Deny(Error::MissingToken)))
        }
        Requirement::AllowMissing => any_token(config, env, found).map(|v| v.into_iter().collect()),
        Requirement::AllowMissingOrFailed => match any_token(config, env, found) {
            Ok(v) => Ok(v.into_iter().collect()),
            Err(wait @ Failure::Wait { .. }) => Err(wait),
            Err(Failure::Deny(_)) => Ok(Vec::new()),
        },
    }
}

/// Under `allow_missing`: no token is fine; a token present must verify with a provider that
/// found it and whose issuer it claims.
fn any_token<'r>(
    config: &Config,
    env: &dyn Env,
    found: &[Found<'r>],
) -> Result<Option<Verified<'r>>, Failure> {
    let Some(first) = found.first() else {
        return Ok(None);
    };
    let iss = UntrustedToken::parse(first.token)
        .ok()
        .and_then(|t| t.claims_unverified().ok())
        .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned));
    let mut failure = None;
    for f in found.iter().filter(|f| f.token == first.token) {
        let issuer = config.providers[f.provider].issuer.as_deref();
        if issuer.is_some() && issuer != iss.as_deref() {
            continue;
        }
        match verify(config, env, f) {
            Ok(v) => return Ok(Some(v)),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    Err(failure.unwrap_or(Failure::Deny(Error::InvalidIssuer)))
}

fn verify<'r>(config: &Config, env: &dyn Env, found: &Found<'r>) -> Result<Verified<'r>, Failure> {
    let p = found.provider;
    let claims = match env.cached(p, found.token) {
        Some(claims) => claims,
        None => {
            let verifier = match env.keys(p) {
                Keys::Ready(v) => v,
                Keys::Pending => {
                    return Err(Failure::Wait {
                        provider: p,
                        unknown_kid: false,
                    })
                }
                Keys::Unavailable(e) => return Err(e.into()),
            };
            let mut result = verifier.verify_at(found.token, env.now());
            // An unknown kid may be known already to the shared copy: look there before
            // asking for a fetch.
            if matches!(result, Err(Error::UnknownKey)) && env.resync(p) {
                if let Keys::Ready(fresh) = env.keys(p) {
                    result = fresh.verify_at(found.token, env.now());
                }
            }
            match result {
                Ok(v) => {
                    let claims = Rc::new(v.into_claims());
                    if config.providers[p].jwt_cache_size > 0 {
                        env.remember(p, found.token, claims.clone());
                    }
                    claims
                }
                Err(Error::UnknownKey) if env.may_refetch(p) => {
                    return Err(Failure::Wait {
                        provider: p,
                        unknown_kid: true,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    // Checked on every request, cached or not: a revocation takes effect at once.
    if let Some(jti) = claims.id() {
        if env.revoked(jti)? {
            return Err(Error::Revoked.into());
        }
    }
    Ok(Verified {
        found: found.clone(),
        claims,
    })
}

/// `requires_claims`: every listed claim must hold one of its accepted values in some
/// verified token.
fn check_required_claims(rule: &Rule, verified: &[Verified<'_>]) -> Result<(), Error> {
    if rule.requires_claims.is_empty() {
        return Ok(());
    }
    if verified.is_empty() {
        return Err(Error::MissingToken);
    }
    for (claim, accepted) in &rule.requires_claims {
        let ok = verified.iter().any(|v| {
            v.claims
                .lookup(claim)
                .is_some_and(|have| holds(have, accepted))
        });
        if !ok {
            return Err(Error::InsufficientClaims(claim.clone()));
        }
    }
    Ok(())
}

/// Whether a claim holds one of the accepted values: equal to it, an array containing it, or
/// (the OAuth `scope` convention) a space-separated string containing it as a word.
fn holds(have: &Value, accepted: &[Value]) -> bool {
    accepted.iter().any(|want| match (have, want) {
        (Value::Array(items), want) => items.contains(want),
        (Value::String(s), Value::String(w)) => s == w || s.split(' ').any(|word| word == w),
        (have, want) => have == want,
    })
}

fn forward(config: &Config, v: &Verified<'_>, ops: &mut Vec<HeaderOp>) {
    let provider = &config.providers[v.found.provider];
    if !provider.forward {
        if let Location::Header { name, .. } = v.found.location {
            ops.push(HeaderOp::Remove(name.clone()));
        }
    }
    if let Some(header) = &provider.forward_payload_header {
        let payload = v.found.token.split('.').nth(1).unwrap_or_default();
        let mut value = payload.to_owned();
        if provider.pad_forward_payload_header {
            value.push_str(match payload.len() % 4 {
                2 => "==",
                3 => "=",
                _ => "",
            });
        }
        ops.push(HeaderOp::Set(header.clone(), value));
    }
    for (header, claim) in &provider.claim_to_headers {
        if let Some(value) = v.claims.lookup(claim).and_then(header_value) {
            ops.push(HeaderOp::Set(header.clone(), value));
        }
    }
}

/// A claim as a header value: strings as they are, numbers and booleans as JSON, arrays
/// joined by commas. Objects, and anything with a control character, are not sent.
fn header_value(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(_) | Value::Bool(_) => Some(i.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?
            .join(","),
        Value::Object(_) | Value::Null => return None,
    };
    (!text.chars().any(|c| c.is_control())).then_some(text)
}
