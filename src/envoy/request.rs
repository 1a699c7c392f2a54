//! One request's decision: find the rule, extract tokens, evaluate the requirement, check
//! required claims, and say which headers to change. No proxy-wasm here: the filter supplies
//! an [`Env`] and carries out the [`Outcome`].

use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::config::{percent_decode, query_values, Config, Location, Requirement, Rule};
use crate::{claim_requirement_holds, Claims, Error, UntrustedToken, Verifier};

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
    /// Add a value to this header (jwt_authn adds claim headers once per verified token).
    Add(String, String),
    /// Ask Envoy to choose the route again (`clear_route_cache`).
    ClearRouteCache,
}

/// The parts of a request the decision reads.
pub struct Request<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    /// Every header, names in lower case as Envoy gives them.
    pub headers: &'a [(&'a str, &'a str)],
    /// What the route's metadata chose, in place of `rules` (jwt_authn's per-route config).
    pub route: Option<&'a RouteChoice>,
}

/// jwt_authn's `PerRouteConfig`, which a Wasm filter cannot see, carried instead in the route's
/// metadata under `filter_metadata.jwtgate`: `{"requirement_name": "<name in
/// requirement_map>"}` or `{"disabled": true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChoice {
    /// `disabled: true`: no token is checked on this route.
    Disabled,
    /// `requirement_name`: this requirement of `requirement_map`, whatever the rules say.
    Requirement(String),
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// A token found in the request: where (an index into [`Config::locations`]) and its text.
struct Entry<'r> {
    location: usize,
    token: Cow<'r, str>,
    /// The locations whose prefix, as it is, stands where this header value holds this
    /// location's prefix in another case (see [`header_token`]): a check that reads them too
    /// verifies the token there and passes this entry over; any other refuses it.
    theirs: Vec<usize>,
}

/// A token that verified for a provider, with its claims.
#[derive(Clone)]
struct Used {
    entry: usize,
    provider: usize,
    claims: Rc<Claims>,
    /// Whether this verification takes the token out depends on jwt_authn's pick: see
    /// [`Eval::allow`].
    either: bool,
}

#[derive(Clone)]
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
    // As jwt_authn decides a preflight: the method exactly `OPTIONS` (methods are
    // case-sensitive) and both headers non-empty. An empty `Origin` is no preflight, and
    // must not be a way past the check.
    let filled = |name: &str| req.header(name).is_some_and(|v| !v.is_empty());
    if config.bypass_cors_preflight
        && req.method == "OPTIONS"
        && filled("origin")
        && filled("access-control-request-method")
    {
        return Outcome::Allow(ops);
    }
    let (requirement, rule) = match req.route {
        Some(RouteChoice::Disabled) => return Outcome::Allow(ops),
        // As jwt_authn: a route naming a requirement the map lacks is refused with 403.
        Some(RouteChoice::Requirement(name)) => match config.requirement(name) {
            Some(r) => (r, None),
            None => return Outcome::Deny(Error::InsufficientClaims("requirement_name".into())),
        },
        None => {
            let Some(rule) = config.rule_for(req.path, req.headers) else {
                return Outcome::Allow(ops);
            };
            let Some(requirement) = &rule.requires else {
                return Outcome::Allow(ops);
            };
            (requirement, Some(rule))
        }
    };
    let entries = extract(config, req);
    let eval = Eval {
        config,
        env,
        parsed: entries.iter().map(|_| OnceCell::new()).collect(),
        entries: &entries,
        issuers: entries.iter().map(|_| OnceCell::new()).collect(),
        payloads: RefCell::new(entries.iter().map(|_| None).collect()),
        memo: RefCell::new(Vec::new()),
        removed: RefCell::new(Vec::new()),
        ghosts: RefCell::new(vec![false; entries.len()]),
        either: Cell::new(false),
        leave_either: Cell::new(false),
    };
    let used = match eval.run(requirement) {
        Ok(used) => used,
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
    if let Some(rule) = rule {
        if let Err(e) = check_required_claims(config, rule, &used) {
            return Outcome::Deny(e);
        }
    }
    eval.strip(requirement, req, &mut ops);
    let mut clear_route_cache = false;
    for u in &used {
        clear_route_cache |= forward(config, &eval.entries[u.entry], u, &mut ops);
    }
    if clear_route_cache {
        ops.push(HeaderOp::ClearRouteCache);
    }
    Outcome::Allow(ops)
}

/// Every token at every configured location, each location looked at once. Every value counts:
/// two `Authorization` headers are two tokens, a parameter given twice is two tokens.
fn extract<'r>(config: &Config, req: &Request<'r>) -> Vec<Entry<'r>> {
    let mut entries: Vec<Entry<'r>> = Vec::new();
    for (location, at) in config.locations.iter().enumerate() {
        // The same value twice in a parameter or cookie is one token (jwt_authn reads one),
        // on two header lines two, as jwt_authn verifies each line and adds its claim headers.
        // Looked up, not searched for: a query may hold thousands of values.
        let mut seen: HashSet<Cow<'r, str>> = HashSet::new();
        let mut push = |token: Cow<'r, str>| {
            if seen.insert(token.clone()) {
                entries.push(Entry {
                    location,
                    token,
                    theirs: Vec::new(),
                });
            }
        };
        match at {
            Location::Header { name, prefix } => req
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .filter_map(|(_, v)| header_token(v, name, prefix, &config.locations))
                .for_each(|(t, theirs)| {
                    entries.push(Entry {
                        location,
                        token: Cow::Borrowed(t),
                        theirs,
                    })
                }),
            Location::Param(name) => query_values(req.path, name).for_each(|t| push(Cow::Owned(t))),
            Location::Cookie(name) => req
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                .flat_map(|(_, v)| cookies(v, name))
                .for_each(|t| push(Cow::Borrowed(t))),
        }
    }
    entries
}

/// The whitespace around a token that is not part of it: spaces and tabs, which Envoy's codec
/// strips from a header value, and which jwt_authn's base64 decoder (absl's) passes over after
/// a cookie's token. Other whitespace (a no-break space, U+00A0) is part of the token, which
/// then fails, as in jwt_authn: trimming it would let through what jwt_authn refuses.
const SPACE: [char; 2] = [' ', '\t'];

/// The token in a header value. With a prefix, as jwt_authn finds one: the prefix anywhere in
/// the value, case-sensitive. A value that holds the prefix but no token is an empty token,
/// which fails, never a missing one. A value holding the prefix only in another case
/// (`bearer …`) is also an empty token: jwt_authn does not see a token there and refuses a
/// request that needs one, while a token there must never pass unverified under
/// `allow_missing`, so jwtgate refuses both. Unless each place the value holds the prefix in
/// another case is where another location of that header finds its own prefix, as it is
/// (`Bearer ` beside `bearer `): the token is that location's, and the locations returned
/// with the empty token say so. A check that reads them too verifies the token there and
/// passes the empty one over; one that does not read them refuses it, as before, since there
/// the token would reach the upstream unverified. So is a value holding the prefix in another
/// case before the prefix as it is (`bearer <a> Bearer <b>`, or two `Authorization` lines
/// joined): jwt_authn verifies `<b>` only, and `<a>`, which an upstream reading the scheme
/// in any case takes for the token, would pass unverified.
fn header_token<'v>(
    value: &'v str,
    name: &str,
    prefix: &str,
    locations: &[Location],
) -> Option<(&'v str, Vec<usize>)> {
    let value = value.trim_matches(SPACE);
    // Without a prefix the whole value is the token, as in jwt_authn: `<token> junk` fails.
    if prefix.is_empty() {
        return Some((value, Vec::new()));
    }
    if let Some(at) = value.find(prefix) {
        let before = value[..at].to_ascii_lowercase();
        if before.contains(&prefix.to_ascii_lowercase()) {
            return Some(("", Vec::new()));
        }
        return Some((token_after(&value[at + prefix.len()..]), Vec::new()));
    }
    // ASCII case changes no byte offsets: `at` is a place in `value` too.
    let mut theirs = Vec::new();
    for (at, _) in value
        .to_ascii_lowercase()
        .match_indices(&prefix.to_ascii_lowercase())
    {
        let owner = locations.iter().position(|l| {
            matches!(l, Location::Header { name: n, prefix: other }
                if n == name && other.eq_ignore_ascii_case(prefix)
                    && value[at..].starts_with(other.as_str()))
        });
        match owner {
            Some(l) if !theirs.contains(&l) => theirs.push(l),
            Some(_) => {}
            None => return Some(("", Vec::new())),
        }
    }
    (!theirs.is_empty()).then_some(("", theirs))
}

/// The token after a prefix, as jwt_authn 1.40 takes it: from the first base64url character
/// (or `.`) to the end of the value. `<token> junk` and `<token>,Bearer <other>` (two header
/// lines Envoy joined) are one token that fails, never a valid token with the rest ignored.
fn token_after(text: &str) -> &str {
    let start = text
        .bytes()
        .position(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .unwrap_or(text.len());
    &text[start..]
}

/// The cookies `name` in one `Cookie` value, as Envoy's cookie parser (jwt_authn's) reads
/// them: spaces before a name skipped, the name up to `=` and the value after it taken as
/// they are, only one pair of double quotes around the value removed. `name= <token>` is a
/// token with a space, which fails. Spaces and tabs after the value (`name=<token> ; b=2`) are
/// not part of the token: jwt_authn's decoder passes over them (see [`SPACE`]). A cookie
/// named so only with other whitespace around the name (`name =<token>`) is an empty token,
/// which fails: jwt_authn does not see a token there, and as with `bearer` in lower case, a
/// token there must never pass unverified under `allow_missing`.
fn cookies<'v>(header: &'v str, name: &str) -> Vec<&'v str> {
    header
        .split(';')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v)
                .trim_end_matches(SPACE);
            match k.trim_start_matches(' ') {
                k if k == name => Some(v),
                k if k.trim() == name => Some(""),
                _ => None,
            }
        })
        .collect()
}

/// One request's evaluation: the tokens found, and what each verification gave, so that a
/// token is verified at most once per provider however many requirements look at it.
struct Eval<'c, 'e, 'r> {
    config: &'c Config,
    env: &'c dyn Env,
    entries: &'e [Entry<'r>],
    /// Each token parsed once, when first needed: for its `iss`, for why it names no provider,
    /// and for its verification by each provider.
    parsed: Vec<OnceCell<Result<UntrustedToken<'e>, Error>>>,
    /// Each token's `iss`, by entry (as `parsed`, looked up rather than searched for: a query
    /// may hold thousands of values).
    issuers: Vec<OnceCell<Issuer>>,
    /// A token's payload parsed for its `iss`, kept for its verification, which takes it
    /// rather than parsing the payload again.
    payloads: RefCell<Vec<Option<Map<String, Value>>>>,
    memo: RefCell<Vec<(Key<'c>, Verdict)>>,
    /// Entries an earlier part of a `requires_all` took out of the request: see
    /// [`Eval::take_out`].
    removed: RefCell<Vec<usize>>,
    /// Entries that left the request with a token an earlier part verified, without having
    /// verified themselves (see [`Eval::take_out`]): a later part that looks where they were
    /// must still verify them, but is not met by them, as jwt_authn's finds none there. By
    /// entry, so that a request with thousands of query values costs no search per look.
    ghosts: RefCell<Vec<bool>>,
    /// Whether a token `allow_missing` verified may or may not have been taken out, as
    /// jwt_authn's pick among the providers for it decides (see [`Eval::allow`]) ...
    either: Cell<bool>,
    /// ... and whether this evaluation leaves such tokens in (else takes them out).
    leave_either: Cell<bool>,
}

/// A token's unverified `iss`: a string, or `None` when absent or of another type; or why the
/// token could not be read at all.
type Issuer = Result<Option<String>, Error>;
/// What verifying a token with a provider gave.
type Verdict = Result<Rc<Claims>, Failure>;

/// A verification: which token, by which provider, with which audience override.
type Key<'c> = (usize, usize, Option<&'c [String]>);

fn same_key(a: &Key<'_>, b: &Key<'_>) -> bool {
    a.0 == b.0
        && a.1 == b.1
        && match (a.2, b.2) {
            (None, None) => true,
            (Some(x), Some(y)) => std::ptr::eq(x, y),
            _ => false,
        }
}

impl<'c, 'e> Eval<'c, 'e, '_> {
    /// The request's requirement. Where a token `allow_missing` verified leaves the request
    /// or not as jwt_authn's pick among the providers for it decides, and a later part of a
    /// `requires_all` looks, jwtgate judges it both ways and lets the request through only if
    /// it passes both: never what one of jwt_authn's picks refuses.
    fn run(&self, requirement: &'c Requirement) -> Result<Vec<Used>, Failure> {
        let used = self.requirement(requirement)?;
        if self.either.get() {
            self.removed.borrow_mut().clear();
            self.ghosts.borrow_mut().fill(false);
            self.leave_either.set(true);
            self.requirement(requirement)?;
        }
        Ok(used)
    }

    fn requirement(&self, requirement: &'c Requirement) -> Result<Vec<Used>, Failure> {
        match requirement {
            Requirement::Provider(p) => self.leaf(*p, None),
            Requirement::ProviderAndAudiences(p, auds) => self.leaf(*p, Some(auds)),
            Requirement::All(parts) => {
                let mut used = Vec::new();
                let mut wait = None;
                for part in parts {
                    match self.requirement(part) {
                        Ok(u) => {
                            self.take_out(&u);
                            used.extend(u)
                        }
                        Err(Failure::Deny(e)) => return Err(Failure::Deny(e)),
                        Err(w) => wait = wait.or(Some(w)),
                    }
                }
                wait.map_or(Ok(used), Err)
            }
            Requirement::Any(parts) => self.any(parts),
            Requirement::AllowMissing => self.allow(false),
            Requirement::AllowMissingOrFailed => self.allow(true),
        }
    }

    /// One provider: it needs a token, and every token at its locations must verify with it
    /// (jwt_authn's authenticator: a good token beside a bad one is refused).
    fn leaf(&self, p: usize, audiences: Option<&'c [String]>) -> Result<Vec<Used>, Failure> {
        let ids: Vec<usize> = self.at_provider(p).collect();
        if ids.is_empty() {
            return Err(Error::MissingToken.into());
        }
        let mut used = Vec::new();
        let mut wait = None;
        // From the back, as jwt_authn's authenticator takes them: its claim headers go in that
        // order, and a token that fails stops it with the ones after it verified and already
        // taken out (`forward: false`), out of sight of the requirements after this one.
        for &e in ids.iter().rev() {
            match self.verify(e, p, audiences) {
                Ok(_) if self.ghost(e) => {}
                Ok(claims) => used.push(Used {
                    entry: e,
                    provider: p,
                    claims,
                    either: false,
                }),
                Err(Failure::Deny(err)) => {
                    self.take_out(&used);
                    return Err(Failure::Deny(err));
                }
                Err(w) => wait = wait.or(Some(w)),
            }
        }
        match wait {
            Some(w) => Err(w),
            None if used.is_empty() => Err(Error::MissingToken.into()),
            None => Ok(used),
        }
    }

    /// `requires_any`, as jwt_authn has it: the first requirement that passes wins; when none
    /// does, a real failure outranks an unknown issuer, which outranks a missing token.
    /// `allow_missing` and `allow_missing_or_failed` among them are not alternatives but
    /// modes: they turn a missing token, or any failure, into a pass. jwtgate adds one rule:
    /// unless failures are allowed, every token at the locations of the providers named here
    /// must verify with one of them, so a forged token beside a good one never goes upstream.
    fn any(&self, parts: &'c [Requirement]) -> Result<Vec<Used>, Failure> {
        let allow_missing = parts.contains(&Requirement::AllowMissing);
        let allow_failed = parts.contains(&Requirement::AllowMissingOrFailed);
        let regular: Vec<&'c Requirement> = parts
            .iter()
            .filter(|r| {
                !matches!(
                    r,
                    Requirement::AllowMissing | Requirement::AllowMissingOrFailed
                )
            })
            .collect();
        if regular.is_empty() {
            return self.allow(allow_failed);
        }
        let mut results = Vec::new();
        for part in &regular {
            let result = self.requirement(part);
            if let Ok(used) = result {
                if !allow_failed {
                    self.every_token_verifies(&regular)?;
                }
                return Ok(used);
            }
            results.push(result);
        }
        if let Some(Err(wait)) = results
            .iter()
            .find(|r| matches!(r, Err(Failure::Wait { .. })))
        {
            return Err(wait.clone());
        }
        if allow_failed {
            return Ok(Vec::new());
        }
        let rank = |e: &Error| match e {
            Error::MissingToken => 0,
            Error::InvalidIssuer => 1,
            _ => 2,
        };
        let mut worst = Error::MissingToken;
        for r in results {
            if let Err(Failure::Deny(e)) = r {
                if rank(&e) > rank(&worst) {
                    worst = e;
                }
            }
        }
        if allow_missing && worst == Error::MissingToken {
            return Ok(Vec::new());
        }
        Err(worst.into())
    }

    /// jwtgate's rule for `requires_any`: each token at a location of these requirements'
    /// providers verifies with one of those providers whose issuer it names.
    fn every_token_verifies(&self, parts: &[&'c Requirement]) -> Result<(), Failure> {
        let mut leaves = Vec::new();
        for part in parts {
            self.leaves(part, &mut leaves);
        }
        let locations = self.locations_of(&leaves);
        for (e, entry) in self.entries.iter().enumerate() {
            if !locations.contains(&entry.location)
                || !self.present(e)
                || self.theirs(e, &locations)
            {
                continue;
            }
            let iss = self.issuer(e)?;
            let mut failure: Option<Failure> = None;
            let mut ok = false;
            for (p, auds) in &leaves {
                let provider = &self.config.providers[*p];
                if !provider.location_ids.contains(&entry.location)
                    || provider
                        .issuer
                        .as_ref()
                        .is_some_and(|i| Some(i) != iss.as_ref())
                {
                    continue;
                }
                match self.verify(e, *p, *auds) {
                    Ok(_) => {
                        ok = true;
                        break;
                    }
                    Err(f @ Failure::Wait { .. }) => failure = Some(f),
                    Err(f) => failure = failure.or(Some(f)),
                }
            }
            if !ok {
                return Err(failure.unwrap_or_else(|| self.issuer_error(e).into()));
            }
        }
        Ok(())
    }

    /// The locations these provider requirements read.
    fn locations_of(&self, leaves: &[(usize, Option<&'c [String]>)]) -> Vec<usize> {
        leaves
            .iter()
            .flat_map(|(p, _)| self.config.providers[*p].location_ids.iter().copied())
            .collect()
    }

    /// The provider requirements in a requirement, with their audience overrides.
    fn leaves(&self, r: &'c Requirement, out: &mut Vec<(usize, Option<&'c [String]>)>) {
        match r {
            Requirement::Provider(p) => out.push((*p, None)),
            Requirement::ProviderAndAudiences(p, a) => out.push((*p, Some(a))),
            // allow_missing(_or_failed) beside other requirements is a mode, not a verifier:
            // jwt_authn extracts nothing more for it.
            Requirement::Any(parts) if parts.iter().any(|p| !is_mode(p)) => parts
                .iter()
                .filter(|p| !is_mode(p))
                .for_each(|p| self.leaves(p, out)),
            Requirement::Any(parts) | Requirement::All(parts) => {
                parts.iter().for_each(|p| self.leaves(p, out))
            }
            Requirement::AllowMissing | Requirement::AllowMissingOrFailed => {
                out.extend((0..self.config.providers.len()).map(|p| (p, None)))
            }
        }
    }

    /// `allow_missing` (`failed` false) and `allow_missing_or_failed` on their own: tokens at
    /// every provider's locations, each taken by the providers jwt_authn may verify it with.
    /// As jwt_authn: the token's location must take its issuer (a provider reading there
    /// names it, or names none), and the providers for it are those naming its issuer,
    /// wherever they read, or if none does, those naming none. jwt_authn verifies with the
    /// first of them in its hash map's order; jwtgate with each, so it never lets through what
    /// jwt_authn's choice would refuse. Under `allow_missing` every token must verify; jwt_authn,
    /// stricter here, moves on past a bad token to a good one.
    fn allow(&self, failed: bool) -> Result<Vec<Used>, Failure> {
        let providers = &self.config.providers;
        let mut used = Vec::new();
        let mut wait = None;
        for (e, entry) in self.entries.iter().enumerate() {
            // Every location is read here, the one whose token an entry may be too.
            if !self.present(e) || !entry.theirs.is_empty() {
                continue;
            }
            let iss = match self.issuer(e) {
                Ok(iss) => iss,
                Err(_) if failed => continue,
                Err(err) => return Err(err.into()),
            };
            let names = |p: &usize| providers[*p].issuer.is_some() && providers[*p].issuer == iss;
            let open = |p: &usize| providers[*p].issuer.is_none();
            let taken_here = (0..providers.len())
                .filter(|p| providers[*p].location_ids.contains(&entry.location))
                .any(|p| names(&p) || open(&p));
            let mut tier: Vec<usize> = (0..providers.len()).filter(names).collect();
            if tier.is_empty() {
                tier = (0..providers.len()).filter(open).collect();
            }
            if !taken_here {
                tier.clear();
            }
            if tier.is_empty() && !failed {
                return Err(self.issuer_error(e).into());
            }
            // Where jwt_authn's pick among several decides whether the token leaves the
            // request (one takes it out, another forwards or refuses it), the later parts of
            // a requires_all are judged both ways: see `run`.
            let (mut takes, mut leaves) = (false, false);
            let from = used.len();
            for &p in &tier {
                match self.verify(e, p, None) {
                    Ok(_) if self.ghost(e) => {}
                    Ok(claims) => {
                        if providers[p].forward {
                            leaves = true;
                        } else {
                            takes = true;
                        }
                        used.push(Used {
                            entry: e,
                            provider: p,
                            claims,
                            either: false,
                        })
                    }
                    Err(w @ Failure::Wait { .. }) => wait = wait.or(Some(w)),
                    Err(_) if failed => leaves = true,
                    Err(f) => return Err(f),
                }
            }
            if takes && leaves {
                used[from..].iter_mut().for_each(|u| u.either = true);
            }
        }
        used.reverse();
        wait.map_or(Ok(used), Err)
    }

    fn at_provider(&self, p: usize) -> impl Iterator<Item = usize> + use<'_, 'c, 'e> {
        let ids = &self.config.providers[p].location_ids;
        (0..self.entries.len()).filter(move |e| {
            ids.contains(&self.entries[*e].location) && self.present(*e) && !self.theirs(*e, ids)
        })
    }

    /// Whether entry `e`, for a check reading `locations`, is another location's token (see
    /// [`Entry::theirs`]) that the check verifies there.
    fn theirs(&self, e: usize, locations: &[usize]) -> bool {
        let theirs = &self.entries[e].theirs;
        !theirs.is_empty() && theirs.iter().all(|l| locations.contains(l))
    }

    /// Whether entry `e` is still in the request for the requirement looking now.
    fn present(&self, e: usize) -> bool {
        !self.removed.borrow().contains(&e)
    }

    /// Whether entry `e` is a ghost: see [`Eval::ghosts`].
    fn ghost(&self, e: usize) -> bool {
        self.ghosts.borrow()[e]
    }

    /// What jwt_authn's authenticator does as a part of `requires_all` passes: each token it
    /// verified with a provider that does not forward it leaves the request at once with its
    /// whole header (every line, whatever its prefix) or its whole parameter (cookies stay),
    /// so the parts after it do not see them, and one that needs a token there finds none.
    /// Of what leaves, the tokens that verified leave jwtgate's sight; one that did not is a
    /// ghost ([`Eval::ghosts`]): a later part that looks there must still verify it, but is
    /// not met by it. jwt_authn reads a parameter's first value only: where the value that
    /// verified is not the first, it took nothing out, so only the values that verified
    /// leave, and the others stay as they were. One that `allow_missing` verified, whose
    /// leaving jwt_authn's pick decides, leaves or stays as this evaluation says (see
    /// [`Eval::run`]). What leaves is removed from the request at the end ([`Eval::strip`]:
    /// a token verified by a provider that does not forward it takes its header or parameter
    /// with it); the tokens stay in `entries`, for the headers set and taken out then.
    fn take_out(&self, used: &[Used]) {
        let memo = self.memo.borrow();
        let verified = |e: usize| memo.iter().any(|((me, _, _), r)| *me == e && r.is_ok());
        let leave: Vec<usize> = used
            .iter()
            .filter(|u| u.either && self.leave_either.get())
            .map(|u| u.entry)
            .collect();
        let mut removed = self.removed.borrow_mut();
        let mut ghosts = self.ghosts.borrow_mut();
        let before = removed.len();
        for u in used {
            self.either.set(self.either.get() || u.either);
            if self.config.providers[u.provider].forward || leave.contains(&u.entry) {
                continue;
            }
            let at = self.entries[u.entry].location;
            let gone = &self.config.locations[at];
            let whole = match gone {
                Location::Param(_) => {
                    let first = (0..self.entries.len()).find(|e| {
                        self.entries[*e].location == at && !removed[..before].contains(e)
                    });
                    first == Some(u.entry)
                }
                _ => true,
            };
            for (e, entry) in self.entries.iter().enumerate() {
                let same = match (gone, &self.config.locations[entry.location]) {
                    (Location::Header { name: a, .. }, Location::Header { name: b, .. }) => a == b,
                    (Location::Param(a), Location::Param(b)) => a == b,
                    _ => false,
                };
                if !same || leave.contains(&e) || removed.contains(&e) {
                    continue;
                }
                if verified(e) {
                    removed.push(e);
                } else if whole {
                    ghosts[e] = true;
                }
            }
        }
    }

    /// Entry `e`'s token, parsed (with the default size limit, every provider's).
    fn parsed(&self, e: usize) -> &Result<UntrustedToken<'e>, Error> {
        self.parsed[e].get_or_init(|| UntrustedToken::parse(&self.entries[e].token))
    }

    /// The token's `iss`, unverified: only to pick the provider, before any key is looked at.
    fn issuer(&self, e: usize) -> Result<Option<String>, Error> {
        self.issuers[e]
            .get_or_init(|| match self.parsed(e) {
                Ok(t) => t.claims_unverified().map(|claims| {
                    let iss = claims.get("iss").and_then(Value::as_str).map(str::to_owned);
                    self.payloads.borrow_mut()[e] = Some(claims);
                    iss
                }),
                Err(err) => Err(err.clone()),
            })
            .clone()
    }

    /// Why a token's `iss` names no provider: absent, not a string, or another issuer.
    fn issuer_error(&self, e: usize) -> Error {
        let iss = match self.parsed(e) {
            Ok(t) => t.claims_unverified().map(|c| c.get("iss").cloned()),
            Err(err) => Err(err.clone()),
        };
        match iss {
            Ok(None) => Error::MissingClaim("iss".into()),
            Ok(Some(Value::String(_))) => Error::InvalidIssuer,
            Ok(Some(_)) => Error::InvalidClaim("iss".into()),
            Err(e) => e,
        }
    }

    fn verify(
        &self,
        e: usize,
        p: usize,
        audiences: Option<&'c [String]>,
    ) -> Result<Rc<Claims>, Failure> {
        let key = (e, p, audiences);
        if let Some((_, r)) = self.memo.borrow().iter().find(|(k, _)| same_key(k, &key)) {
            return r.clone();
        }
        let r = self.verify_once(e, p, audiences);
        self.memo.borrow_mut().push((key, r.clone()));
        r
    }

    fn verify_once(
        &self,
        e: usize,
        p: usize,
        audiences: Option<&'c [String]>,
    ) -> Result<Rc<Claims>, Failure> {
        let (config, env) = (self.config, self.env);
        let provider = &config.providers[p];
        let token: &str = &self.entries[e].token;
        let cacheable = audiences.is_none()
            && provider.jwt_cache_size > 0
            && token.len() <= provider.jwt_cache_max_token_bytes;
        let cached = if cacheable {
            env.cached(p, token)
        } else {
            None
        };
        let claims = match cached {
            // Cached by this provider: its issuer was checked then.
            Some(claims) => claims,
            None => {
                // The issuer before the keys: a token naming another issuer never makes this
                // provider wait for, or fetch, its keys.
                if let Some(want) = &provider.issuer {
                    if self.issuer(e)?.as_ref() != Some(want) {
                        return Err(self.issuer_error(e).into());
                    }
                }
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
                // The token as parsed for its issuer, not parsed again, unless this provider
                // reads fewer bytes than the parse allowed.
                let limit = provider.policy.token_size_limit();
                let reparsed;
                let untrusted = match self.parsed(e) {
                    Ok(t) if token.len() <= limit => t,
                    Ok(_) => {
                        reparsed = UntrustedToken::parse_with_limit(token, limit)?;
                        &reparsed
                    }
                    Err(err) => return Err(err.clone().into()),
                };
                let run = |v: &Verifier, payload| {
                    v.verify_untrusted_parsed(untrusted, payload, env.now(), audiences)
                };
                // The payload as parsed for the issuer, if it was: the first verification by
                // any provider takes it.
                let payload = self.payloads.borrow_mut()[e].take();
                let mut result = run(&verifier, payload);
                // An unknown kid may be known already to the shared copy: look there before
                // asking for a fetch.
                if matches!(result, Err(Error::UnknownKey)) && env.resync(p) {
                    if let Keys::Ready(fresh) = env.keys(p) {
                        result = run(&fresh, None);
                    }
                }
                match result {
                    Ok(claims) => {
                        let claims = Rc::new(claims);
                        if cacheable {
                            env.remember(p, token, claims.clone());
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
        if let Some(subjects) = &provider.subjects {
            if !claims.subject().is_some_and(|s| subjects.matches(s)) {
                return Err(Error::InvalidClaim("sub".into()).into());
            }
        }
        // Checked on every request, cached or not: a revocation takes effect at once.
        if let Some(jti) = claims.id() {
            if env.revoked(jti)? {
                return Err(Error::Revoked.into());
            }
        }
        Ok(claims)
    }

    /// `forward: false`: each token of the requirement's providers leaves the request, from
    /// wherever it was found: the header, the query (`:path` rewritten without the
    /// parameter, as jwt_authn does) or the cookie (jwt_authn leaves cookies; jwtgate does
    /// not). A token that verified with a provider that forwards it stays.
    fn strip(&self, requirement: &'c Requirement, req: &Request<'_>, ops: &mut Vec<HeaderOp>) {
        let mut leaves = Vec::new();
        self.leaves(requirement, &mut leaves);
        let read = self.locations_of(&leaves);
        let memo = self.memo.borrow();
        let verified_by = |e: usize, p: usize| {
            memo.iter()
                .any(|((me, mp, _), r)| *me == e && *mp == p && r.is_ok())
        };
        let mut params: Vec<&str> = Vec::new();
        let mut cookie_names: Vec<&str> = Vec::new();
        let strips = |p: usize| !self.config.providers[p].forward;
        for (e, entry) in self.entries.iter().enumerate() {
            if self.theirs(e, &read) {
                continue;
            }
            let owners = || {
                leaves.iter().map(|(p, _)| *p).filter(|p| {
                    self.config.providers[*p]
                        .location_ids
                        .contains(&entry.location)
                })
            };
            // The providers it verified with decide, wherever they read (`allow_missing` takes
            // a token's provider by its issuer); if none, any provider looking there.
            let verified: Vec<usize> = leaves
                .iter()
                .map(|(p, _)| *p)
                .filter(|p| verified_by(e, *p))
                .collect();
            let strip = if verified.is_empty() {
                owners().any(strips)
            } else {
                verified.into_iter().any(strips)
            };
            if !strip {
                continue;
            }
            match &self.config.locations[entry.location] {
                Location::Header { name, .. } => {
                    let op = HeaderOp::Remove(name.clone());
                    if !ops.contains(&op) {
                        ops.push(op);
                    }
                }
                // Each name once: every pair of the query is compared with them.
                Location::Param(name) if !params.contains(&name.as_str()) => params.push(name),
                Location::Cookie(name) if !cookie_names.contains(&name.as_str()) => {
                    cookie_names.push(name)
                }
                Location::Param(_) | Location::Cookie(_) => {}
            }
        }
        if !params.is_empty() {
            ops.push(HeaderOp::Set(
                ":path".into(),
                without_params(req.path, &params),
            ));
        }
        if !cookie_names.is_empty() {
            let kept: Vec<&str> = req
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                .flat_map(|(_, v)| v.split(';'))
                .map(str::trim)
                .filter(|pair| {
                    let name = pair.split_once('=').map_or(*pair, |(k, _)| k).trim();
                    !pair.is_empty() && !cookie_names.contains(&name)
                })
                .collect();
            ops.push(HeaderOp::Remove("cookie".into()));
            if !kept.is_empty() {
                ops.push(HeaderOp::Set("cookie".into(), kept.join("; ")));
            }
        }
    }
}

fn is_mode(r: &Requirement) -> bool {
    matches!(
        r,
        Requirement::AllowMissing | Requirement::AllowMissingOrFailed
    )
}

/// `path` without the query parameters named (every value of each); the other parameters
/// stay byte for byte, and a query left empty loses its `?`.
fn without_params(path: &str, names: &[&str]) -> String {
    let (before, fragment) = match path.find('#') {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    let Some((base, query)) = before.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !names.contains(&percent_decode(key).as_str())
        })
        .collect();
    let mut out = base.to_owned();
    if kept.iter().any(|p| !p.is_empty()) {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out
}

/// `requires_claims`: one verified token must hold every listed claim, each one of its
/// accepted values. Not a claim from one token and the next from another: a caller holding
/// tenant A's read token and tenant B's write token must not get write on A (Istio leaves a
/// request with several tokens undefined; Envoy Gateway ands claims within one token). Only
/// `scope`, `scp` and the provider's `space_delimited_claims` are split on spaces; every other
/// claim is compared whole.
fn check_required_claims(config: &Config, rule: &Rule, used: &[Used]) -> Result<(), Error> {
    if rule.requires_claims.is_empty() {
        return Ok(());
    }
    // The claim the first token misses, as a one-token request's answer names it.
    let mut missed = None;
    for u in used {
        let split = &config.providers[u.provider].space_delimited_claims;
        match rule
            .requires_claims
            .iter()
            .find(|(claim, accepted)| !claim_requirement_holds(&u.claims, claim, accepted, split))
        {
            None => return Ok(()),
            Some((claim, _)) => {
                missed.get_or_insert_with(|| claim.clone());
            }
        }
    }
    Err(missed.map_or(Error::MissingToken, Error::InsufficientClaims))
}

/// Sets the verified token's payload and claim headers; true if the route cache should be
/// cleared for them (`clear_route_cache` and a claim header set).
fn forward(config: &Config, entry: &Entry<'_>, u: &Used, ops: &mut Vec<HeaderOp>) -> bool {
    let provider = &config.providers[u.provider];
    if let Some(header) = &provider.forward_payload_header {
        let payload = entry.token.split('.').nth(1).unwrap_or_default();
        let mut value = payload.to_owned();
        if provider.pad_forward_payload_header {
            value.push_str(match payload.len() % 4 {
                2 => "==",
                3 => "=",
                _ => "",
            });
        }
        ops.push(HeaderOp::Add(header.clone(), value));
    }
    let mut set_claim = false;
    for (header, claim) in &provider.claim_to_headers {
        if let Some(value) = claim_at(&u.claims, claim).and_then(header_value) {
            ops.push(HeaderOp::Add(header.clone(), value));
            set_claim = true;
        }
    }
    provider.clear_route_cache && set_claim
}

/// A claim as jwt_authn writes it to a header: a string as it is (an empty one not at all), a
/// number as a C++ double prints (`42`, `1.500000`, `-7.000000`), a boolean as `true` or
/// `false`, an array or object as the standard base64 of its JSON. jwtgate adds one rule:
/// anything with a control character is not sent.
fn header_value(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let d = n.as_f64()?;
            if d >= 0.0 && d < u64::MAX as f64 && d.fract() == 0.0 {
                (d as u64).to_string()
            } else {
                format!("{d:.6}")
            }
        }
        Value::Array(_) | Value::Object(_) => {
            let url = crate::b64_encode(v.to_string().as_bytes());
            let mut std: String = url
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            while std.len() % 4 != 0 {
                std.push('=');
            }
            std
        }
        Value::Null => return None,
    };
    (!text.chars().any(|c| c.is_control())).then_some(text)
}

/// A claim by its path of keys, as jwt_authn's claim_to_headers finds it: a claim whose own
/// name holds a dot is reached only through `claim_path`.
fn claim_at<'v>(claims: &'v Claims, path: &[String]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))
}
