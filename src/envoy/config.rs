//! The filter's configuration: the proto3 JSON form of Envoy's `jwt_authn`
//! `JwtAuthentication`, for the subset jwtgate implements, plus jwtgate's own additions.
//!
//! Anything the filter cannot honour is an error, never ignored: a field that `jwt_authn`
//! would enforce and jwtgate silently skipped would be an open door.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::{Algorithm, AlgorithmSet, JwkSet, Policy};

/// The whole filter configuration.
#[derive(Debug)]
pub struct Config {
    /// Providers, in the order they were written.
    pub providers: Vec<Provider>,
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Let CORS preflight requests through without a token.
    pub bypass_cors_preflight: bool,
    /// A `jti` deny list (jwtgate's addition).
    pub revocation: Option<Revocation>,
    /// Every header the filter may set (`forward_payload_header`, `claim_to_headers`), once
    /// each: removed from every request so that a client can never supply one.
    pub owned_headers: Vec<String>,
}

/// One `providers.<name>` entry.
#[derive(Debug)]
pub struct Provider {
    /// The name rules refer to it by.
    pub name: String,
    /// Issuer, audiences, skew, expiration and lifetime, as a core policy.
    pub policy: Policy,
    /// The configured issuer, to route tokens under `allow_missing`.
    pub issuer: Option<String>,
    /// Where the keys come from.
    pub jwks: JwksSource,
    /// Where tokens are looked for, in order.
    pub locations: Vec<Location>,
    /// Keep the token in the request after verification (`forward`).
    pub forward: bool,
    /// Header that receives the base64url payload.
    pub forward_payload_header: Option<String>,
    /// Pad the forwarded payload with `=`.
    pub pad_forward_payload_header: bool,
    /// Claims copied to request headers: (header, claim path).
    pub claim_to_headers: Vec<(String, String)>,
    /// Verified tokens kept per worker; 0 disables the cache.
    pub jwt_cache_size: usize,
}

/// Where a provider's keys come from.
#[derive(Debug)]
pub enum JwksSource {
    /// `local_jwks.inline_string`, parsed at configuration time.
    Local(JwkSet),
    /// `remote_jwks`, fetched through a cluster.
    Remote(Remote),
}

/// An HTTP resource fetched through an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUri {
    /// The full URI, as configured.
    pub uri: String,
    /// The Envoy cluster to send the request to.
    pub cluster: String,
    /// `:authority` of the request.
    pub authority: String,
    /// `:path` of the request.
    pub path: String,
    /// How long to wait for an answer.
    pub timeout: Duration,
}

/// `remote_jwks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Where to fetch the set.
    pub http_uri: HttpUri,
    /// How long a fetched set is fresh (`cache_duration`, default 10 minutes).
    pub cache_duration: Duration,
    /// The least time between two fetches caused by an unknown `kid` (default 30 s).
    pub refetch_cooldown: Duration,
}

/// `revocation`: a list of revoked `jti` values, fetched and refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Where to fetch the list: a JSON array of strings, or `{"revoked": [...]}`.
    pub http_uri: HttpUri,
    /// How often to refresh it (default 30 s).
    pub refresh_interval: Duration,
}

/// Where a token may be found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A header (name in lower case) and the prefix before the token.
    Header {
        /// Header name, lower case.
        name: String,
        /// Text before the token, e.g. `Bearer `.
        prefix: String,
    },
    /// A query parameter.
    Param(String),
    /// A cookie.
    Cookie(String),
}

/// One `rules[]` entry.
#[derive(Debug)]
pub struct Rule {
    /// Which requests it applies to.
    pub matcher: PathMatch,
    /// What they need; `None` lets them through.
    pub requires: Option<Requirement>,
    /// Claims the verified token must have (jwtgate's addition): claim path and the
    /// accepted values, any one of which suffices.
    pub requires_claims: Vec<(String, Vec<Value>)>,
}

/// `match` of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The path (before `?`) starts with this.
    Prefix {
        /// The prefix.
        prefix: String,
        /// Whether case matters (default true).
        case_sensitive: bool,
    },
    /// The path (before `?`) is exactly this.
    Path {
        /// The path.
        path: String,
        /// Whether case matters (default true).
        case_sensitive: bool,
    },
}

/// `requires` of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A valid token from this provider (index into `providers`).
    Provider(usize),
    /// Any one of these.
    Any(Vec<Requirement>),
    /// All of these.
    All(Vec<Requirement>),
    /// No token is fine; a token present must be valid.
    AllowMissing,
    /// Always passes; valid tokens are still verified and forwarded.
    AllowMissingOrFailed,
}

/// Why a configuration cannot be used. The plugin refuses to start with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "jwtgate configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

type Result<T> = std::result::Result<T, ConfigError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ConfigError(msg.into()))
}

/// A JSON object being read field by field; fields never read are reported as unknown.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: String,
    read: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, at: impl Into<String>) -> Result<Self> {
        let at = at.into();
        match value {
            Value::Object(map) => Ok(Fields {
                map,
                at,
                read: Vec::new(),
            }),
            _ => err(format!("{at} must be an object")),
        }
    }

    /// A field by its proto name, also accepted in lowerCamelCase as proto3 JSON allows.
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        let camel = camel_case(name);
        for (key, value) in self.map {
            if key == name || *key == camel {
                self.read.push(key);
                return Some(value);
            }
        }
        None
    }

    fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    fn string(&mut self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => err(format!("{} must be a string", self.path(name))),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => err(format!("{} must be true or false", self.path(name))),
        }
    }

    fn strings(&mut self, name: &str) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => err(format!("{} must be a list of strings", self.path(name))),
                })
                .collect(),
            Some(_) => err(format!("{} must be a list of strings", self.path(name))),
        }
    }

    fn list(&mut self, name: &str) -> Result<&'a [Value]> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => err(format!("{} must be a list", self.path(name))),
        }
    }

    fn uint(&mut self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => uint(v).map(Some).ok_or_else(|| {
                ConfigError(format!(
                    "{} must be a non-negative integer",
                    self.path(name)
                ))
            }),
        }
    }

    fn duration(&mut self, name: &str) -> Result<Option<Duration>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => duration(v).map(Some).ok_or_else(|| {
                ConfigError(format!(
                    "{} must be a duration such as \"30s\" or {{\"seconds\": 30}}",
                    self.path(name)
                ))
            }),
        }
    }

    /// Errors on any field not read: unknown, misspelt, or not implemented.
    fn finish(self) -> Result<()> {
        match self.map.keys().find(|k| !self.read.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => err(format!("{}.{k} is not a field jwtgate supports", self.at)),
        }
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// proto3 JSON writes 64-bit integers as strings; 32-bit ones as numbers. Accept both.
fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A `google.protobuf.Duration`: `"1.5s"` in proto3 JSON, `{seconds, nanos}` in Envoy YAML.
fn duration(v: &Value) -> Option<Duration> {
    match v {
        Value::String(s) => {
            let secs = s.strip_suffix('s')?;
            let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
            if whole.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let nanos = if frac.is_empty() {
                0
            } else {
                format!("{frac:0<9}").parse().ok()?
            };
            Some(Duration::new(whole.parse().ok()?, nanos))
        }
        Value::Object(m) => {
            if m.keys().any(|k| k != "seconds" && k != "nanos") {
                return None;
            }
            let secs = m.get("seconds").map_or(Some(0), uint)?;
            let nanos = m.get("nanos").map_or(Some(0), uint)?;
            Some(Duration::new(
                secs,
                u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?,
            ))
        }
        _ => None,
    }
}

const DEFAULT_CACHE_DURATION: Duration = Duration::from_secs(600);
const DEFAULT_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// jwt_authn's default JWT cache size, when `jwt_cache_config` is present without a size.
const DEFAULT_JWT_CACHE_SIZE: usize = 100;
/// Bounds what one configuration can make a worker hold.
const MAX_JWT_CACHE_SIZE: usize = 100_000;

impl Config {
    /// Parses the plugin configuration.
    pub fn from_json(bytes: &[u8]) -> Result<Config> {
        let root = crate::encoding::json_value(bytes)
            .map_err(|e| ConfigError(format!("not valid JSON: {e}")))?;
        let mut f = Fields::new(&root, "configuration")?;

        let mut providers = Vec::new();
        match f.get("providers") {
            Some(Value::Object(map)) if !map.is_empty() => {
                for (name, value) in map {
                    providers.push(Provider::parse(name, value)?);
                }
            }
            _ => return err("providers must name at least one provider"),
        }

        let mut rules = Vec::new();
        for (i, value) in f.list("rules")?.iter().enumerate() {
            rules.push(Rule::parse(value, &format!("rules[{i}]"), &providers)?);
        }
        if rules.is_empty() {
            return err("rules must have at least one rule: without one no request is checked");
        }
        let bypass_cors_preflight = f.boolean("bypass_cors_preflight")?;
        let revocation = match f.get("revocation") {
            None => None,
            Some(v) => Some(Revocation::parse(v)?),
        };
        f.finish()?;
        let mut owned_headers: Vec<String> = providers
            .iter()
            .flat_map(|p| {
                p.forward_payload_header
                    .iter()
                    .chain(p.claim_to_headers.iter().map(|(h, _)| h))
                    .cloned()
            })
            .collect();
        owned_headers.sort_unstable();
        owned_headers.dedup();
        Ok(Config {
            providers,
            rules,
            bypass_cors_preflight,
            revocation,
            owned_headers,
        })
    }

    /// The first rule whose match fits `path` (the query string is ignored).
    pub fn rule_for(&self, path: &str) -> Option<&Rule> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        self.rules.iter().find(|r| r.matcher.matches(path))
    }
}

impl Provider {
    fn parse(name: &str, value: &Value) -> Result<Provider> {
        let at = format!("providers.{name}");
        let mut f = Fields::new(value, at.clone())?;
        let mut policy = Policy::new();
        let issuer = f.string("issuer")?.filter(|s| !s.is_empty());
        if let Some(iss) = &issuer {
            policy = policy.issuer(iss.clone());
        }
        for aud in f.strings("audiences")? {
            policy = policy.audience(aud);
        }
        if let Some(skew) = f.uint("clock_skew_seconds")? {
            policy = policy.clock_skew(skew);
        }
        // jwtgate requires `exp` unless told otherwise; `jwt_authn` defaults the other way.
        // An explicit `require_expiration: false` keeps the jwt_authn behaviour.
        if let Some(v) = f.get("require_expiration") {
            policy = policy.require_expiration(v.as_bool().ok_or_else(|| {
                ConfigError(format!("{at}.require_expiration must be true or false"))
            })?);
        }
        if let Some(max) = f.duration("max_lifetime")? {
            policy = policy.max_lifetime(max.as_secs());
        }
        if let Some(algs) = f.get("algorithms") {
            // jwtgate's addition: pin the algorithms a provider accepts (HS* only this way).
            let names = algs
                .as_array()
                .ok_or_else(|| ConfigError(format!("{at}.algorithms must be a list")))?;
            let mut set = AlgorithmSet::EMPTY;
            for n in names {
                let alg = n
                    .as_str()
                    .and_then(|s| Algorithm::from_name(s).ok())
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{at}.algorithms: {n} is not an algorithm jwtgate implements"
                        ))
                    })?;
                set = set.with(alg);
            }
            if set.is_empty() {
                return err(format!("{at}.algorithms must not be empty"));
            }
            policy = policy.with_algorithms(set);
        }

        let jwks = match (f.get("local_jwks"), f.get("remote_jwks")) {
            (Some(local), None) => JwksSource::Local(local_jwks(local, &at)?),
            (None, Some(remote)) => {
                JwksSource::Remote(Remote::parse(remote, &format!("{at}.remote_jwks"))?)
            }
            (Some(_), Some(_)) => return err(format!("{at} has both local_jwks and remote_jwks")),
            (None, None) => return err(format!("{at} needs local_jwks or remote_jwks")),
        };

        let mut locations = Vec::new();
        for (i, h) in f.list("from_headers")?.iter().enumerate() {
            let mut hf = Fields::new(h, format!("{at}.from_headers[{i}]"))?;
            let name = hf
                .string("name")?
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ConfigError(format!("{at}.from_headers[{i}].name is required")))?;
            let prefix = hf.string("value_prefix")?.unwrap_or_default();
            hf.finish()?;
            locations.push(Location::Header {
                name: name.to_ascii_lowercase(),
                prefix,
            });
        }
        locations.extend(f.strings("from_params")?.into_iter().map(Location::Param));
        locations.extend(f.strings("from_cookies")?.into_iter().map(Location::Cookie));
        if locations.is_empty() {
            // jwt_authn's defaults: the Bearer header, then the `access_token` parameter.
            locations.push(Location::Header {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
            });
            locations.push(Location::Param("access_token".into()));
        }

        let forward = f.boolean("forward")?;
        let forward_payload_header = f
            .string("forward_payload_header")?
            .map(|h| h.to_ascii_lowercase());
        let pad_forward_payload_header = f.boolean("pad_forward_payload_header")?;
        let mut claim_to_headers = Vec::new();
        for (i, c) in f.list("claim_to_headers")?.iter().enumerate() {
            let mut cf = Fields::new(c, format!("{at}.claim_to_headers[{i}]"))?;
            let header = cf.string("header_name")?.filter(|s| !s.is_empty());
            let claim = cf.string("claim_name")?.filter(|s| !s.is_empty());
            cf.finish()?;
            match (header, claim) {
                (Some(h), Some(c)) => claim_to_headers.push((h.to_ascii_lowercase(), c)),
                _ => {
                    return err(format!(
                        "{at}.claim_to_headers[{i}] needs header_name and claim_name"
                    ))
                }
            }
        }
        let jwt_cache_size = match f.get("jwt_cache_config") {
            None => 0,
            Some(v) => {
                let mut cf = Fields::new(v, format!("{at}.jwt_cache_config"))?;
                let size = cf
                    .uint("jwt_cache_size")?
                    .map_or(DEFAULT_JWT_CACHE_SIZE, |n| n as usize);
                cf.finish()?;
                if size > MAX_JWT_CACHE_SIZE {
                    return err(format!(
                        "{at}.jwt_cache_config.jwt_cache_size is over {MAX_JWT_CACHE_SIZE}"
                    ));
                }
                size
            }
        };
        f.finish()?;
        Ok(Provider {
            name: name.to_owned(),
            policy,
            issuer,
            jwks,
            locations,
            forward,
            forward_payload_header,
            pad_forward_payload_header,
            claim_to_headers,
            jwt_cache_size,
        })
    }
}

fn local_jwks(value: &Value, at: &str) -> Result<JwkSet> {
    let mut f = Fields::new(value, format!("{at}.local_jwks"))?;
    let inline = f.string("inline_string")?;
    if f.get("filename").is_some() {
        return err(format!(
            "{at}.local_jwks.filename: a Wasm filter cannot read files; use inline_string"
        ));
    }
    f.finish()?;
    let text = inline.ok_or_else(|| ConfigError(format!("{at}.local_jwks needs inline_string")))?;
    JwkSet::from_json(text.as_bytes()).map_err(|e| ConfigError(format!("{at}.local_jwks: {e}")))
}

impl HttpUri {
    fn parse(value: &Value, at: &str) -> Result<HttpUri> {
        let mut f = Fields::new(value, at)?;
        let uri = f
            .string("uri")?
            .ok_or_else(|| ConfigError(format!("{at}.uri is required")))?;
        let cluster = f
            .string("cluster")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ConfigError(format!("{at}.cluster is required")))?;
        let timeout = f.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        f.finish()?;
        let rest = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"))
            .ok_or_else(|| ConfigError(format!("{at}.uri must start with http:// or https://")))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return err(format!("{at}.uri has no host"));
        }
        if timeout.is_zero() {
            return err(format!("{at}.timeout must be more than zero"));
        }
        Ok(HttpUri {
            authority: authority.into(),
            path: path.into(),
            uri,
            cluster,
            timeout,
        })
    }
}

impl Remote {
    fn parse(value: &Value, at: &str) -> Result<Remote> {
        let mut f = Fields::new(value, at)?;
        let http_uri = match f.get("http_uri") {
            Some(v) => HttpUri::parse(v, &format!("{at}.http_uri"))?,
            None => return err(format!("{at}.http_uri is required")),
        };
        let cache_duration = f
            .duration("cache_duration")?
            .unwrap_or(DEFAULT_CACHE_DURATION);
        let refetch_cooldown = f
            .duration("refetch_cooldown")?
            .unwrap_or(DEFAULT_REFETCH_COOLDOWN);
        f.finish()?;
        if cache_duration < Duration::from_secs(1) {
            return err(format!("{at}.cache_duration must be at least 1s"));
        }
        Ok(Remote {
            http_uri,
            cache_duration,
            refetch_cooldown,
        })
    }
}

impl Revocation {
    fn parse(value: &Value) -> Result<Revocation> {
        let at = "revocation";
        let mut f = Fields::new(value, at)?;
        let http_uri = match f.get("http_uri") {
            Some(v) => HttpUri::parse(v, "revocation.http_uri")?,
            None => return err("revocation.http_uri is required"),
        };
        let refresh_interval = f
            .duration("refresh_interval")?
            .unwrap_or(Duration::from_secs(30));
        f.finish()?;
        if refresh_interval < Duration::from_secs(1) {
            return err("revocation.refresh_interval must be at least 1s");
        }
        Ok(Revocation {
            http_uri,
            refresh_interval,
        })
    }
}

impl Rule {
    fn parse(value: &Value, at: &str, providers: &[Provider]) -> Result<Rule> {
        let mut f = Fields::new(value, at)?;
        let matcher = match f.get("match") {
            Some(m) => PathMatch::parse(m, &format!("{at}.match"))?,
            None => return err(format!("{at}.match is required")),
        };
        let requires = match f.get("requires") {
            None => None,
            Some(r) => Some(Requirement::parse(r, &format!("{at}.requires"), providers)?),
        };
        let mut requires_claims = Vec::new();
        match f.get("requires_claims") {
            None => {}
            Some(Value::Object(claims)) => {
                for (claim, accepted) in claims {
                    let accepted = match accepted {
                        Value::Array(list) if !list.is_empty() => list.clone(),
                        Value::Array(_) => {
                            return err(format!("{at}.requires_claims.{claim} must not be empty"))
                        }
                        Value::Object(_) | Value::Null => {
                            return err(format!(
                                "{at}.requires_claims.{claim} must be a value or a list of values"
                            ))
                        }
                        one => vec![one.clone()],
                    };
                    requires_claims.push((claim.clone(), accepted));
                }
            }
            Some(_) => return err(format!("{at}.requires_claims must be an object")),
        }
        if !requires_claims.is_empty() && requires.is_none() {
            return err(format!(
                "{at}.requires_claims needs requires: there is no token to check"
            ));
        }
        f.finish()?;
        Ok(Rule {
            matcher,
            requires,
            requires_claims,
        })
    }
}

impl PathMatch {
    fn parse(value: &Value, at: &str) -> Result<PathMatch> {
        let mut f = Fields::new(value, at)?;
        let prefix = f.string("prefix")?;
        let path = f.string("path")?;
        let case_sensitive = match f.get("case_sensitive") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return err(format!("{at}.case_sensitive must be true or false")),
        };
        f.finish()?;
        match (prefix, path) {
            (Some(prefix), None) => Ok(PathMatch::Prefix {
                prefix,
                case_sensitive,
            }),
            (None, Some(path)) => Ok(PathMatch::Path {
                path,
                case_sensitive,
            }),
            _ => err(format!("{at} needs exactly one of prefix and path")),
        }
    }

    /// Whether `path` (without its query) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix {
                prefix,
                case_sensitive: true,
            } => path.starts_with(prefix.as_str()),
            PathMatch::Prefix {
                prefix,
                case_sensitive: false,
            } => path
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
            PathMatch::Path {
                path: p,
                case_sensitive: true,
            } => path == p,
            PathMatch::Path {
                path: p,
                case_sensitive: false,
            } => path.eq_ignore_ascii_case(p),
        }
    }
}

/// How deep `requires_any`/`requires_all` may nest: bounds the recursion of evaluation.
const MAX_REQUIREMENT_DEPTH: usize = 8;

impl Requirement {
    fn parse(value: &Value, at: &str, providers: &[Provider]) -> Result<Requirement> {
        Self::parse_at(value, at, providers, 0)
    }

    fn parse_at(
        value: &Value,
        at: &str,
        providers: &[Provider],
        depth: usize,
    ) -> Result<Requirement> {
        if depth > MAX_REQUIREMENT_DEPTH {
            return err(format!(
                "{at} nests deeper than {MAX_REQUIREMENT_DEPTH} levels"
            ));
        }
        let mut f = Fields::new(value, at)?;
        let mut found = Vec::new();
        if let Some(name) = f.string("provider_name")? {
            // Providers come from a JSON object, whose members the parser keeps sorted by
            // name: a binary search keeps 10,000 rules over 10,000 providers linear-ish.
            let index = providers
                .binary_search_by(|p| p.name.as_str().cmp(&name))
                .map_err(|_| {
                    ConfigError(format!("{at}.provider_name: no provider named {name:?}"))
                })?;
            found.push(Requirement::Provider(index));
        }
        for (field, any) in [("requires_any", true), ("requires_all", false)] {
            if let Some(v) = f.get(field) {
                let mut lf = Fields::new(v, format!("{at}.{field}"))?;
                let list = lf.list("requirements")?;
                lf.finish()?;
                if list.is_empty() {
                    return err(format!("{at}.{field}.requirements must not be empty"));
                }
                let parts = list
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        Self::parse_at(
                            r,
                            &format!("{at}.{field}.requirements[{i}]"),
                            providers,
                            depth + 1,
                        )
                    })
                    .collect::<Result<Vec<_>>>()?;
                found.push(if any {
                    Requirement::Any(parts)
                } else {
                    Requirement::All(parts)
                });
            }
        }
        if f.get("allow_missing").is_some() {
            found.push(Requirement::AllowMissing);
        }
        if f.get("allow_missing_or_failed").is_some() {
            found.push(Requirement::AllowMissingOrFailed);
        }
        f.finish()?;
        match found.len() {
            1 => Ok(found.pop().expect("one")),
            0 => err(format!("{at} needs one of provider_name, requires_any, requires_all, allow_missing, allow_missing_or_failed")),
            _ => err(format!("{at} has more than one requirement; use requires_any or requires_all")),
        }
    }
}
