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
    /// Every distinct token location of every provider; providers refer to them by index, so a
    /// token found once is verified once however many providers look there.
    pub locations: Vec<Location>,
    /// `strip_failure_response`: refusals carry no body and no `error_description`.
    pub strip_failure_response: bool,
    /// `stat_prefix`: inserted in every counter name, `jwtgate.<stat_prefix>.…`.
    pub stat_prefix: String,
    /// `requirement_map`, by name: chosen by `rules[].requirement_name`, or per route by the
    /// route's metadata (`filter_metadata.jwtgate.requirement_name`).
    pub requirement_map: Vec<(String, Requirement)>,
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
    /// The same locations as indices into [`Config::locations`].
    pub location_ids: Vec<usize>,
    /// `subjects`: what `sub` must match, if set.
    pub subjects: Option<StringMatcher>,
    /// Claims split on spaces by `requires_claims` besides `scope` and `scp`
    /// (`normalize_payload_in_metadata.space_delimited_claims`).
    pub space_delimited_claims: Vec<String>,
    /// `clear_route_cache`: ask Envoy to route again after claim headers are set.
    pub clear_route_cache: bool,
    /// Keep the token in the request after verification (`forward`).
    pub forward: bool,
    /// Header that receives the base64url payload.
    pub forward_payload_header: Option<String>,
    /// Pad the forwarded payload with `=`.
    pub pad_forward_payload_header: bool,
    /// Claims copied to request headers: (header, claim path).
    pub claim_to_headers: Vec<(String, Vec<String>)>,
    /// Verified tokens kept per worker (default 100, also without `jwt_cache_config`); 0 when
    /// `jwt_cache_config.disabled`.
    pub jwt_cache_size: usize,
    /// The longest token the cache keeps (`jwt_cache_config.jwt_max_token_size`, default
    /// 4096 as in jwt_authn); longer ones are verified on every request.
    pub jwt_cache_max_token_bytes: usize,
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
    /// Where to fetch the set; with `discovery`, where to fetch the discovery document whose
    /// `jwks_uri` names the set.
    pub http_uri: HttpUri,
    /// `discovery` (jwtgate's addition): the issuer the discovery document must name, exactly.
    pub discovery: Option<String>,
    /// How long a fetched set is fresh (`cache_duration`, default 10 minutes).
    pub cache_duration: Duration,
    /// The least time between two fetches caused by an unknown `kid` (default 30 s).
    pub refetch_cooldown: Duration,
    /// How long the last good keys may serve after they should have been refreshed, while
    /// the issuer cannot be reached (`max_stale`, jwtgate's addition, default 1 day). Past it
    /// they are dropped and requests get 503 `jwks_unavailable`.
    pub max_stale: Duration,
    /// How long to wait after a failed fetch before the next one (`retry_policy.retry_back_off
    /// .base_interval` or `async_fetch.failed_refetch_duration`, default 1 s).
    pub retry_interval: Duration,
}

/// `revocation`: a list of revoked `jti` values, fetched and refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Where to fetch the list: a JSON array of strings, or `{"revoked": [...]}`.
    pub http_uri: HttpUri,
    /// How often to refresh it (default 30 s).
    pub refresh_interval: Duration,
    /// How long past `refresh_interval` the last list had keeps deciding while refreshes fail
    /// (jwtgate's, default 5 min); past it, a token with a `jti` gets 503.
    pub max_stale: Duration,
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
    /// Which paths it applies to.
    pub matcher: PathMatch,
    /// `match.headers`: every one must match.
    pub headers: Vec<HeaderMatcher>,
    /// `match.query_parameters`: every one must match.
    pub query_parameters: Vec<QueryMatcher>,
    /// What they need; `None` lets them through.
    pub requires: Option<Requirement>,
    /// Claims the verified token must have (jwtgate's addition): claim path and the
    /// accepted values, any one of which suffices.
    pub requires_claims: Vec<(String, Vec<Value>)>,
}

/// `match` of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The whole `:path`, query included, starts with this (as jwt_authn matches a prefix).
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
    /// The path (before `?`) is this prefix, or continues it after a `/`.
    SeparatedPrefix {
        /// The prefix, without a trailing `/`.
        prefix: String,
        /// Whether case matters (default true).
        case_sensitive: bool,
    },
    /// The path (before `?`) matches this RE2-syntax regex as a whole.
    Regex(Pattern),
}

/// A compiled `safe_regex`: RE2 syntax, matched against the whole value, byte by byte with
/// ASCII classes as RE2 has them. Compared by its source.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// Bounds what one configured regex may cost to compile and hold.
const MAX_REGEX_BYTES: usize = 1 << 20;

impl Pattern {
    fn parse(value: &Value, at: &str) -> Result<Pattern> {
        let mut f = Fields::new(value, at)?;
        // Envoy's proto validation refuses an empty regex, which would meet only "".
        let source = f
            .string("regex")?
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ConfigError(format!("{at}.regex is required")))?;
        // `google_re2` only tunes RE2's program size limit; ours is fixed.
        if let Some(mut g) = f.message("google_re2")? {
            g.uint32("max_program_size")?;
            g.finish()?;
        }
        f.finish()?;
        let regex = regex_lite::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map_err(|e| ConfigError(format!("{at}.regex: {e}")))?;
        Ok(Pattern { source, regex })
    }

    /// Whether `text` matches as a whole.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// An Envoy `type.matcher.v3.StringMatcher`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringMatcher {
    kind: StringMatch,
    ignore_case: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StringMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(Pattern),
}

impl StringMatcher {
    fn parse(value: &Value, at: &str) -> Result<StringMatcher> {
        let mut f = Fields::new(value, at)?;
        let mut kinds = Vec::new();
        for (name, make) in [
            ("exact", StringMatch::Exact as fn(String) -> StringMatch),
            ("prefix", StringMatch::Prefix),
            ("suffix", StringMatch::Suffix),
            ("contains", StringMatch::Contains),
        ] {
            if let Some(text) = f.string(name)? {
                // Envoy's proto validation: only `exact` may be empty. An empty prefix,
                // suffix or substring would meet every value (every subject, every header),
                // where Envoy refuses the configuration.
                if text.is_empty() && name != "exact" {
                    return err(format!("{at}.{name} must not be empty"));
                }
                kinds.push(make(text));
            }
        }
        if let Some(v) = f.get("safe_regex") {
            kinds.push(StringMatch::Regex(Pattern::parse(
                v,
                &f.path("safe_regex"),
            )?));
        }
        let ignore_case = f.boolean("ignore_case")?;
        f.refuse(
            "custom",
            "custom string matchers are extensions a Wasm filter cannot load",
        )?;
        f.finish()?;
        match (kinds.pop(), kinds.is_empty()) {
            (Some(kind), true) => Ok(StringMatcher { kind, ignore_case }),
            _ => err(format!(
                "{at} needs exactly one of exact, prefix, suffix, contains, safe_regex"
            )),
        }
    }

    /// Whether `text` matches, as Envoy's StringMatcher decides (`ignore_case` is ASCII).
    pub fn matches(&self, text: &str) -> bool {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        };
        match &self.kind {
            StringMatch::Exact(want) => fold(text) == fold(want),
            StringMatch::Prefix(want) => fold(text).starts_with(&fold(want)),
            StringMatch::Suffix(want) => fold(text).ends_with(&fold(want)),
            StringMatch::Contains(want) => fold(text).contains(&fold(want)),
            StringMatch::Regex(p) => p.matches(text),
        }
    }
}

/// An Envoy route `HeaderMatcher`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatcher {
    name: String,
    rule: HeaderRule,
    invert: bool,
    missing_as_empty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HeaderRule {
    Present(bool),
    Value(StringMatcher),
    Range(i64, i64),
}

impl HeaderMatcher {
    fn parse(value: &Value, at: &str) -> Result<HeaderMatcher> {
        let mut f = Fields::new(value, at)?;
        let name = match f.required("name")?.to_ascii_lowercase() {
            // Envoy's header map reads `host` as `:authority`, the only name it holds the
            // request's host under: a rule on `host` must not fall through for want of it.
            name if name == "host" => ":authority".to_owned(),
            name => name,
        };
        let mut rules = Vec::new();
        if let Some(v) = f.get("string_match") {
            rules.push(HeaderRule::Value(StringMatcher::parse(
                v,
                &f.path("string_match"),
            )?));
        }
        // The deprecated one-field forms, still valid in v3.
        for (field, kind) in [
            ("exact_match", "exact"),
            ("prefix_match", "prefix"),
            ("suffix_match", "suffix"),
            ("contains_match", "contains"),
        ] {
            if let Some(text) = f.string(field)? {
                let m = serde_json::json!({ kind: text });
                rules.push(HeaderRule::Value(StringMatcher::parse(&m, &f.path(field))?));
            }
        }
        if let Some(v) = f.get("safe_regex_match") {
            rules.push(HeaderRule::Value(StringMatcher {
                kind: StringMatch::Regex(Pattern::parse(v, &f.path("safe_regex_match"))?),
                ignore_case: false,
            }));
        }
        if let Some(v) = f.get("present_match") {
            match v {
                Value::Bool(b) => rules.push(HeaderRule::Present(*b)),
                _ => return err(format!("{at}.present_match must be true or false")),
            }
        }
        if let Some(mut r) = f.message("range_match")? {
            let bound = |r: &mut Fields<'_>, name: &str| -> Result<i64> {
                match r.get(name) {
                    None => Some(0),
                    Some(Value::Number(n)) => n.as_i64(),
                    Some(Value::String(s)) => s.parse().ok(),
                    Some(_) => None,
                }
                .ok_or_else(|| ConfigError(format!("{} must be an integer", r.path(name))))
            };
            let (start, end) = (bound(&mut r, "start")?, bound(&mut r, "end")?);
            r.finish()?;
            rules.push(HeaderRule::Range(start, end));
        }
        let invert = f.boolean("invert_match")?;
        let missing_as_empty = f.boolean("treat_missing_header_as_empty")?;
        f.finish()?;
        match (rules.pop(), rules.is_empty()) {
            (Some(rule), true) => Ok(HeaderMatcher {
                name,
                rule,
                invert,
                missing_as_empty,
            }),
            // Envoy matches on presence when no rule is given.
            (None, _) => Ok(HeaderMatcher {
                name,
                rule: HeaderRule::Present(true),
                invert,
                missing_as_empty,
            }),
            _ => err(format!("{at} has more than one match rule")),
        }
    }

    /// The header's name, in lower case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the request's headers match, as Envoy 1.40's rule matcher decides: a header
    /// sent on several lines matches when one of its values does (not the values joined by
    /// `,`: `a` and `b` meet `exact: a`, never `exact: "a,b"`), `invert_match` then turning
    /// the answer; a missing header matches only a presence rule that asks for absence,
    /// or is one empty value with `treat_missing_header_as_empty`.
    pub fn matches(&self, headers: &[(&str, &str)]) -> bool {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&self.name))
            .map(|(_, v)| *v)
            .collect();
        if values.is_empty() {
            if !self.missing_as_empty {
                return match self.rule {
                    HeaderRule::Present(want) => want == self.invert,
                    _ => false,
                };
            }
            values.push("");
        }
        let hit = match &self.rule {
            HeaderRule::Present(want) => *want,
            HeaderRule::Value(m) => values.iter().any(|v| m.matches(v)),
            HeaderRule::Range(start, end) => values
                .iter()
                .any(|v| v.parse::<i64>().is_ok_and(|n| *start <= n && n < *end)),
        };
        hit != self.invert
    }
}

/// An Envoy route `QueryParameterMatcher`: the first value of the parameter, as sent (not decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryMatcher {
    name: String,
    value: Option<StringMatcher>,
}

impl QueryMatcher {
    fn parse(value: &Value, at: &str) -> Result<QueryMatcher> {
        let mut f = Fields::new(value, at)?;
        let name = f.required("name")?;
        let matcher = match f.get("string_match") {
            Some(v) => Some(StringMatcher::parse(v, &f.path("string_match"))?),
            None => None,
        };
        let present = match f.get("present_match") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return err(format!("{at}.present_match must be true or false")),
        };
        f.finish()?;
        if matcher.is_some() && present.is_some() {
            return err(format!("{at} has both string_match and present_match"));
        }
        if present == Some(false) {
            return err(format!(
                "{at}.present_match: false is not a match Envoy defines; leave the matcher out"
            ));
        }
        Ok(QueryMatcher {
            name,
            value: matcher,
        })
    }

    /// Whether the request's query matches: the first value, raw (not percent-decoded), as
    /// jwt_authn compares it.
    pub fn matches(&self, path: &str) -> bool {
        match query_pairs(path).find(|(k, _)| *k == self.name) {
            None => false,
            Some((_, v)) => self.value.as_ref().is_none_or(|m| m.matches(v)),
        }
    }
}

/// The raw `key=value` pairs of `path`'s query, in order, as Envoy's query parser reads
/// them: a pair without `=` has an empty value, and an empty pair (`&&`, a leading `&`) is a
/// parameter with an empty name and value; only what follows the last `&`, when empty, is
/// none (`?a=1&` is one parameter, `?` none).
fn query_pairs(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let any = !query.is_empty();
    query
        .strip_suffix('&')
        .unwrap_or(query)
        .split('&')
        .filter(move |_| any)
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Every value of the query parameter `name` in `path`, percent-decoded, in order: where
/// jwt_authn looks for a token. A parameter configured as `""` is found too, as jwt_authn
/// finds it: `?=<token>`, and the empty pairs of `?&&`.
pub fn query_values<'p>(path: &'p str, name: &'p str) -> impl Iterator<Item = String> + 'p {
    query_pairs(path)
        .filter(move |(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

/// `%XX` decoded; an invalid escape stays as it is, as in Envoy's decoder.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `requires` of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A token at this provider's locations (index into `providers`), and every token there
    /// valid for it.
    Provider(usize),
    /// `provider_and_audiences`: the provider, with these audiences in place of its own.
    ProviderAndAudiences(usize, Vec<String>),
    /// Any one of these; `AllowMissing`/`AllowMissingOrFailed` among others are modes, not
    /// alternatives (see `request`).
    Any(Vec<Requirement>),
    /// All of these.
    All(Vec<Requirement>),
    /// On its own: no token is fine; every token present must be valid.
    AllowMissing,
    /// On its own: always passes; tokens are still verified and the valid ones forwarded.
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

    /// A string that must be there and not empty: a name, a key, a cluster.
    fn required(&mut self, name: &str) -> Result<String> {
        self.string(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError(format!("{} is required", self.path(name))))
    }

    fn boolean(&mut self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => err(format!("{} must be true or false", self.path(name))),
        }
    }

    /// A `google.protobuf.Empty`: present only as `{}`. `false`, `null` or `"x"` is an error,
    /// never read as "set": `allow_missing: false` must not allow a missing token.
    fn empty(&mut self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Object(m)) if m.is_empty() => Ok(true),
            Some(_) => err(format!(
                "{} is a google.protobuf.Empty: write {{}} or leave it out",
                self.path(name)
            )),
        }
    }

    /// A nested message, if present.
    fn message(&mut self, name: &str) -> Result<Option<Fields<'a>>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => Fields::new(v, self.path(name)).map(Some),
        }
    }

    /// Refuses a field a Wasm filter cannot honour, saying why and what to use instead.
    fn refuse(&mut self, name: &str, why: &str) -> Result<()> {
        match self.get(name) {
            None => Ok(()),
            Some(_) => err(format!("{}: {why}", self.path(name))),
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

    /// A `uint32` (or `UInt32Value`): a larger number is no value of the field, and Envoy
    /// refuses the configuration; it must never be read as a longer clock skew.
    fn uint32(&mut self, name: &str) -> Result<Option<u32>> {
        match self.uint(name)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                ConfigError(format!(
                    "{} must be a non-negative integer of at most {} (a uint32)",
                    self.path(name),
                    u32::MAX
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
/// A day: long enough to ride out an issuer's outage over a night, short enough that a key the
/// issuer withdrew stops being trusted the next day even if the issuer never comes back.
const DEFAULT_MAX_STALE: Duration = Duration::from_secs(86_400);
/// `revocation.max_stale` when not given: a deny list goes stale far sooner than keys do (a
/// withdrawn key is rare; a revoked token is the list's whole point).
const DEFAULT_REVOCATION_MAX_STALE: Duration = Duration::from_secs(300);
/// jwt_authn's default wait before fetching again after a failure.
const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Verified tokens kept per worker and provider when `jwt_cache_config` is absent or gives no
/// size: jwt_authn's default when its cache is on. It bounds what a flood of distinct valid
/// tokens can make a worker hold at 100 tokens of at most `jwt_max_token_size` (4 KiB) and
/// their claims: a couple of MiB per worker and provider at the very worst, a few hundred KiB
/// for tokens of a kilobyte. An eviction scans the entries (a hundred: well under a
/// microsecond), paid only by a token just verified, which cost tens of microseconds.
const DEFAULT_JWT_CACHE_SIZE: usize = 100;
/// jwt_authn's default for `jwt_max_token_size`: the longest token its cache keeps.
const DEFAULT_JWT_CACHE_MAX_TOKEN_BYTES: usize = 4096;
/// Bounds what one configuration can make a worker hold.
const MAX_JWT_CACHE_SIZE: usize = 100_000;

impl Config {
    /// Parses the plugin configuration.
    pub fn from_json(bytes: &[u8]) -> Result<Config> {
        let root = crate::crypto::json::json_value(bytes)
            .map_err(|e| ConfigError(format!("not valid JSON: {e}")))?;
        let mut f = Fields::new(&root, "configuration")?;

        let mut providers: Vec<Provider> = Vec::new();
        match f.get("providers") {
            Some(Value::Object(map)) if !map.is_empty() => {
                for (name, value) in map {
                    providers.push(Provider::parse(name, value)?);
                }
            }
            _ => return err("providers must name at least one provider"),
        }

        let mut requirement_map = Vec::new();
        if let Some(v) = f.get("requirement_map") {
            let Value::Object(map) = v else {
                return err("requirement_map must be an object");
            };
            for (name, r) in map {
                let at = format!("requirement_map.{name}");
                requirement_map.push((name.clone(), Requirement::parse(r, &at, &providers)?));
            }
        }
        let mut rules = Vec::new();
        for (i, value) in f.list("rules")?.iter().enumerate() {
            rules.push(Rule::parse(
                value,
                &format!("rules[{i}]"),
                &providers,
                &requirement_map,
            )?);
        }
        if rules.is_empty() {
            return err("rules must have at least one rule: without one no request is checked");
        }
        let bypass_cors_preflight = f.boolean("bypass_cors_preflight")?;
        let strip_failure_response = f.boolean("strip_failure_response")?;
        let stat_prefix = f.string("stat_prefix")?.unwrap_or_default();
        if !stat_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return err("stat_prefix may hold only letters, digits, `_`, `-` and `.`");
        }
        f.refuse(
            "filter_state_rules",
            "a Wasm filter cannot read the Router::StringAccessor another filter sets; \
             choose the requirement with rules[].match (headers, query_parameters) instead",
        )?;
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
        // jwt_authn removes the headers it sets before it looks for tokens: where one is also
        // where a token is read, it never finds that token (Envoy 1.40: 401 "Jwt is missing"
        // for a valid token there), and jwtgate, which reads the request as it came, let the
        // token through. A header both read as a credential and vouched for as a claim is a
        // configuration no filter can honour: the plugin stops.
        if let Some(h) = owned_headers.iter().find(|h| {
            providers
                .iter()
                .flat_map(|p| &p.locations)
                .any(|l| match l {
                    Location::Header { name, .. } => name == *h,
                    Location::Cookie(_) => h.as_str() == "cookie",
                    Location::Param(_) => false,
                })
        }) {
            return err(format!(
                "{h} is set from verified claims (forward_payload_header or claim_to_headers) \
                 and also read for a token (from_headers, Authorization by default, or the \
                 cookie of from_cookies): jwt_authn removes it before looking for the token \
                 and never finds one there; set the claims in another header"
            ));
        }
        // In jwt_authn's extraction order: headers by name and prefix, then parameters, then
        // cookies, each by name. Its authenticator works through the tokens from the back, and
        // claim headers are added in that order.
        let mut locations: Vec<Location> =
            providers.iter().flat_map(|p| p.locations.clone()).collect();
        let order = |l: &Location| match l {
            Location::Header { name, prefix } => (0, format!("{name}{prefix}")),
            Location::Param(name) => (1, name.clone()),
            Location::Cookie(name) => (2, name.clone()),
        };
        locations.sort_by_key(order);
        locations.dedup();
        for p in &mut providers {
            p.location_ids = p
                .locations
                .iter()
                .filter_map(|l| locations.iter().position(|k| k == l))
                .collect();
        }
        Ok(Config {
            providers,
            rules,
            bypass_cors_preflight,
            revocation,
            owned_headers,
            locations,
            strip_failure_response,
            stat_prefix,
            requirement_map,
        })
    }

    /// A requirement of `requirement_map` by name.
    pub fn requirement(&self, name: &str) -> Option<&Requirement> {
        self.requirement_map
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r)
    }

    /// The first rule whose match fits the request: `path` is the whole `:path`, query
    /// included, and `headers` every request header (pseudo-headers too).
    pub fn rule_for(&self, path: &str, headers: &[(&str, &str)]) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.matcher.matches(path)
                && r.headers.iter().all(|h| h.matches(headers))
                && r.query_parameters.iter().all(|q| q.matches(path))
        })
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
        policy = policy.audience_urls_as_jwt_authn(true);
        for aud in f.strings("audiences")? {
            policy = policy.audience(aud);
        }
        if let Some(skew) = f.uint32("clock_skew_seconds")? {
            policy = policy.clock_skew(skew.into());
        }
        // jwtgate requires `exp` unless told otherwise; `jwt_authn` defaults the other way.
        // An explicit `require_expiration: false` keeps the jwt_authn behaviour.
        if f.get("require_expiration").is_some() {
            policy = policy.require_expiration(f.boolean("require_expiration")?);
        }
        let subjects = match f.get("subjects") {
            Some(v) => Some(StringMatcher::parse(v, &format!("{at}.subjects"))?),
            None => None,
        };
        let mut space_delimited_claims = Vec::new();
        if let Some(mut nf) = f.message("normalize_payload_in_metadata")? {
            space_delimited_claims = nf.strings("space_delimited_claims")?;
            nf.finish()?;
        }
        for (field, instead) in [
            ("payload_in_metadata", "claims reach other filters as headers: claim_to_headers or forward_payload_header (which jwtgate strips from every incoming request); for Istio AuthorizationPolicy use conditions on those headers, or rules[].requires_claims"),
            ("header_in_metadata", "a Wasm filter cannot write jwt_authn's dynamic metadata that other filters read; forward_payload_header carries the payload"),
            ("failed_status_in_metadata", "a Wasm filter cannot write jwt_authn's dynamic metadata that other filters read; the failure is in the response's WWW-Authenticate error_description and the jwtgate.denied.<code> counters"),
        ] {
            f.refuse(field, instead)?;
        }
        if let Some(max) = f.duration("max_lifetime")? {
            policy = policy.max_lifetime(max.as_secs());
        }
        if f.get("algorithms").is_some() {
            f.list("algorithms")?;
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
            (None, Some(remote)) => JwksSource::Remote(Remote::parse(
                remote,
                &format!("{at}.remote_jwks"),
                issuer.as_deref(),
            )?),
            (Some(_), Some(_)) => return err(format!("{at} has both local_jwks and remote_jwks")),
            (None, None) => return err(format!("{at} needs local_jwks or remote_jwks")),
        };

        let mut locations = Vec::new();
        for (i, h) in f.list("from_headers")?.iter().enumerate() {
            let mut hf = Fields::new(h, format!("{at}.from_headers[{i}]"))?;
            let name = hf.required("name")?;
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
        let clear_route_cache = f.boolean("clear_route_cache")?;
        // proto3: "" is the field left out, as jwt_authn reads it; never a header with no name.
        let forward_payload_header = f
            .string("forward_payload_header")?
            .filter(|h| !h.is_empty())
            .map(|h| h.to_ascii_lowercase());
        let pad_forward_payload_header = f.boolean("pad_forward_payload_header")?;
        let mut claim_to_headers = Vec::new();
        for (i, c) in f.list("claim_to_headers")?.iter().enumerate() {
            let at = format!("{at}.claim_to_headers[{i}]");
            let mut cf = Fields::new(c, at.clone())?;
            let header = cf.required("header_name")?;
            // A dotted claim_name is a path; claim_path (1.40) names each key as it is, dots
            // and all. Exactly one of them, as jwt_authn requires.
            let name = cf.string("claim_name")?.filter(|s| !s.is_empty());
            let mut path = Vec::new();
            for (j, seg) in cf.list("claim_path")?.iter().enumerate() {
                let mut sf = Fields::new(seg, format!("{at}.claim_path[{j}]"))?;
                let key = sf.required("key")?;
                sf.finish()?;
                path.push(key);
            }
            cf.finish()?;
            let path = match (name, path.is_empty()) {
                (Some(name), true) => name.split('.').map(str::to_owned).collect(),
                (None, false) => path,
                _ => {
                    return err(format!(
                        "{at} needs exactly one of claim_name and claim_path"
                    ))
                }
            };
            claim_to_headers.push((header.to_ascii_lowercase(), path));
        }
        let mut jwt_cache_max_token_bytes = DEFAULT_JWT_CACHE_MAX_TOKEN_BYTES;
        let jwt_cache_size = match f.get("jwt_cache_config") {
            // Unlike jwt_authn, which verifies every request unless told to cache: a cached
            // token is still held to its exp, nbf, the deny list and the provider's current
            // keys, so caching decides as verifying would, at a fraction of the cost.
            None => DEFAULT_JWT_CACHE_SIZE,
            Some(v) => {
                let mut cf = Fields::new(v, format!("{at}.jwt_cache_config"))?;
                // jwt_authn reads 0 as "not set": the default size.
                let size = match cf.uint32("jwt_cache_size")? {
                    None | Some(0) => DEFAULT_JWT_CACHE_SIZE,
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                };
                // Only what is cached: a longer token is verified as any other, as in jwt_authn.
                if let Some(max) = cf.uint32("jwt_max_token_size")?.filter(|m| *m > 0) {
                    jwt_cache_max_token_bytes = usize::try_from(max).unwrap_or(usize::MAX);
                }
                // jwtgate's addition: the cache is on by default, so a way to turn it off
                // (to measure, or to hold no token text in memory at all).
                let disabled = cf.boolean("disabled")?;
                cf.finish()?;
                if size > MAX_JWT_CACHE_SIZE {
                    return err(format!(
                        "{at}.jwt_cache_config.jwt_cache_size is over {MAX_JWT_CACHE_SIZE}"
                    ));
                }
                if disabled {
                    0
                } else {
                    size
                }
            }
        };
        f.finish()?;
        if let JwksSource::Local(keys) = &jwks {
            if !usable(keys, &policy) {
                return err(format!(
                    "{at}.local_jwks has no key for any algorithm the provider accepts ({}): \
                     HMAC (oct) keys need HS256/384/512 listed in {at}.algorithms",
                    policy
                        .algorithms()
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(Provider {
            name: name.to_owned(),
            policy,
            issuer,
            jwks,
            location_ids: Vec::new(),
            subjects,
            space_delimited_claims,
            clear_route_cache,
            locations,
            forward,
            forward_payload_header,
            pad_forward_payload_header,
            claim_to_headers,
            jwt_cache_size,
            jwt_cache_max_token_bytes,
        })
    }
}

/// Whether some key of the set can verify some algorithm the policy accepts: a set of only
/// HMAC keys under a policy without HS* would refuse every token.
pub fn usable(keys: &JwkSet, policy: &Policy) -> bool {
    keys.keys()
        .iter()
        .any(|k| policy.algorithms().iter().any(|alg| k.fits(alg)))
}

fn local_jwks(value: &Value, at: &str) -> Result<JwkSet> {
    let mut f = Fields::new(value, format!("{at}.local_jwks"))?;
    let inline = f.string("inline_string")?;
    // proto3 JSON writes `bytes` as base64, standard or URL-safe, padded or not.
    let bytes = match f.string("inline_bytes")? {
        None => None,
        Some(b64) => {
            let url: String = b64
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '+' => '-',
                    '/' => '_',
                    c => c,
                })
                .collect();
            Some(crate::crypto::base64::b64_decode(&url).ok_or_else(|| {
                ConfigError(format!("{at}.local_jwks.inline_bytes is not base64"))
            })?)
        }
    };
    let reason = "a Wasm filter cannot read files or the environment; use inline_string";
    for field in ["filename", "environment_variable", "watched_directory"] {
        f.refuse(field, reason)?;
    }
    f.finish()?;
    let text = match (inline, bytes) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(bytes)) => bytes,
        _ => {
            return err(format!(
                "{at}.local_jwks needs inline_string or inline_bytes"
            ))
        }
    };
    JwkSet::from_json(&text).map_err(|e| ConfigError(format!("{at}.local_jwks: {e}")))
}

/// The authority and path of an `http://` or `https://` URI (`/` when it has none).
pub fn split_uri(uri: &str) -> std::result::Result<(&str, &str), &'static str> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err("has no host");
    }
    Ok((authority, path))
}

impl HttpUri {
    fn parse(value: &Value, at: &str) -> Result<HttpUri> {
        let mut f = Fields::new(value, at)?;
        let uri = f
            .string("uri")?
            .ok_or_else(|| ConfigError(format!("{at}.uri is required")))?;
        let cluster = f.required("cluster")?;
        let timeout = f.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        f.finish()?;
        let (authority, path) =
            split_uri(&uri).map_err(|why| ConfigError(format!("{at}.uri {why}")))?;
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
    fn parse(value: &Value, at: &str, issuer: Option<&str>) -> Result<Remote> {
        let mut f = Fields::new(value, at)?;
        let discovery = match f.message("discovery")? {
            None => None,
            Some(mut df) => {
                let uri = match df.get("http_uri") {
                    Some(v) => HttpUri::parse(v, &format!("{at}.discovery.http_uri"))?,
                    None => return err(format!("{at}.discovery.http_uri is required")),
                };
                df.finish()?;
                // The document is trusted for its keys only if it names this issuer.
                let Some(issuer) = issuer else {
                    return err(format!(
                        "{at}.discovery needs the provider's issuer: a discovery document is \
                         used only when its issuer is exactly the provider's"
                    ));
                };
                Some((uri, issuer.to_owned()))
            }
        };
        let http_uri = match (f.get("http_uri"), discovery.as_ref()) {
            (Some(v), None) => HttpUri::parse(v, &format!("{at}.http_uri"))?,
            (None, Some((uri, _))) => uri.clone(),
            (Some(_), Some(_)) => {
                return err(format!(
                    "{at} has both http_uri and discovery: name the key set or the discovery \
                     document, not both"
                ))
            }
            (None, None) => return err(format!("{at}.http_uri is required")),
        };
        let discovery = discovery.map(|(_, issuer)| issuer);
        let cache_duration = f
            .duration("cache_duration")?
            .unwrap_or(DEFAULT_CACHE_DURATION);
        let refetch_cooldown = f
            .duration("refetch_cooldown")?
            .unwrap_or(DEFAULT_REFETCH_COOLDOWN);
        let max_stale = f.duration("max_stale")?.unwrap_or(DEFAULT_MAX_STALE);
        let mut retry_interval = DEFAULT_RETRY_INTERVAL;
        // jwtgate always fetches in the background, at start and before the copy goes stale,
        // shared by all workers: what async_fetch asks for. A listener cannot be held back
        // from a Wasm filter, so fast_listener is what happens either way.
        if let Some(mut af) = f.message("async_fetch")? {
            af.boolean("fast_listener")?;
            if let Some(d) = af.duration("failed_refetch_duration")? {
                retry_interval = d;
            }
            af.finish()?;
        }
        if let Some(mut rp) = f.message("retry_policy")? {
            // Failed fetches are retried without limit while keys are missing or stale, every
            // base_interval: num_retries bounds nothing jwtgate would otherwise do.
            rp.uint32("num_retries")?;
            if let Some(mut bo) = rp.message("retry_back_off")? {
                if let Some(d) = bo.duration("base_interval")? {
                    retry_interval = d;
                }
                bo.duration("max_interval")?;
                bo.finish()?;
            }
            // One string of conditions ("5xx,gateway-error"), as Envoy reads it.
            rp.string("retry_on")?;
            rp.refuse(
                "retry_priority",
                "retry priorities are extensions a Wasm filter cannot load",
            )?;
            rp.refuse(
                "retry_host_predicate",
                "retry host predicates are extensions a Wasm filter cannot load",
            )?;
            rp.uint("host_selection_retry_max_attempts")?;
            rp.finish()?;
        }
        f.finish()?;
        if cache_duration < Duration::from_secs(1) {
            return err(format!("{at}.cache_duration must be at least 1s"));
        }
        if retry_interval < Duration::from_millis(100) {
            return err(format!("{at}: the retry interval must be at least 0.1s"));
        }
        Ok(Remote {
            http_uri,
            discovery,
            cache_duration,
            refetch_cooldown,
            max_stale,
            retry_interval,
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
        // A list that cannot be refreshed stops clearing tokens: a jti revoked since it was
        // had would otherwise pass for as long as the list's server is down.
        let max_stale = f
            .duration("max_stale")?
            .unwrap_or(DEFAULT_REVOCATION_MAX_STALE);
        f.finish()?;
        if refresh_interval < Duration::from_secs(1) {
            return err("revocation.refresh_interval must be at least 1s");
        }
        Ok(Revocation {
            http_uri,
            refresh_interval,
            max_stale,
        })
    }
}

impl Rule {
    fn parse(
        value: &Value,
        at: &str,
        providers: &[Provider],
        requirement_map: &[(String, Requirement)],
    ) -> Result<Rule> {
        let mut f = Fields::new(value, at)?;
        let (matcher, headers, query_parameters) = match f.get("match") {
            Some(m) => PathMatch::parse(m, &format!("{at}.match"))?,
            None => return err(format!("{at}.match is required")),
        };
        let mut requires = match f.get("requires") {
            None => None,
            Some(r) => Some(Requirement::parse(r, &format!("{at}.requires"), providers)?),
        };
        if let Some(name) = f.string("requirement_name")? {
            if requires.is_some() {
                return err(format!("{at} has both requires and requirement_name"));
            }
            let found = requirement_map.iter().find(|(n, _)| *n == name);
            requires = Some(
                found
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{at}.requirement_name: requirement_map has no {name:?}"
                        ))
                    })?
                    .1
                    .clone(),
            );
        }
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
            headers,
            query_parameters,
            requires,
            requires_claims,
        })
    }
}

impl PathMatch {
    /// A rule's `match`: the path rule, and the header and query conditions beside it.
    fn parse(
        value: &Value,
        at: &str,
    ) -> Result<(PathMatch, Vec<HeaderMatcher>, Vec<QueryMatcher>)> {
        let mut f = Fields::new(value, at)?;
        let case_sensitive = match f.get("case_sensitive") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return err(format!("{at}.case_sensitive must be true or false")),
        };
        let mut found = Vec::new();
        if let Some(prefix) = f.string("prefix")? {
            found.push(PathMatch::Prefix {
                prefix,
                case_sensitive,
            });
        }
        if let Some(path) = f.string("path")? {
            found.push(PathMatch::Path {
                path,
                case_sensitive,
            });
        }
        if let Some(prefix) = f.string("path_separated_prefix")? {
            if prefix.ends_with('/') || prefix.contains(['?', '#']) {
                return err(format!(
                    "{at}.path_separated_prefix must not end in / nor hold ? or #"
                ));
            }
            found.push(PathMatch::SeparatedPrefix {
                prefix,
                case_sensitive,
            });
        }
        if let Some(v) = f.get("safe_regex") {
            found.push(PathMatch::Regex(Pattern::parse(v, &f.path("safe_regex"))?));
        }
        let headers = f
            .list("headers")?
            .iter()
            .enumerate()
            .map(|(i, h)| HeaderMatcher::parse(h, &format!("{at}.headers[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let query = f
            .list("query_parameters")?
            .iter()
            .enumerate()
            .map(|(i, q)| QueryMatcher::parse(q, &format!("{at}.query_parameters[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        for (field, why) in [
            (
                "connect_matcher",
                "CONNECT requests are not matched by jwtgate",
            ),
            (
                "path_match_policy",
                "path match policies are extensions a Wasm filter cannot load",
            ),
            (
                "runtime_fraction",
                "a Wasm filter cannot read Envoy's runtime",
            ),
            // jwt_authn accepts and ignores it. Honouring it would let other requests fall
            // through to a later rule; ignoring it would mislead: refused.
            (
                "grpc",
                "jwt_authn ignores it and jwtgate will not guess; match the content-type in headers",
            ),
            (
                "cookies",
                "jwt_authn ignores it and jwtgate will not guess; match the cookie header in headers",
            ),
            (
                "tls_context",
                "a Wasm filter cannot see the TLS context of a route match",
            ),
            (
                "dynamic_metadata",
                "a Wasm filter cannot match on dynamic metadata here",
            ),
            (
                "filter_state",
                "a Wasm filter cannot match on filter state here",
            ),
        ] {
            f.refuse(field, why)?;
        }
        f.finish()?;
        if found.len() != 1 {
            return err(format!(
                "{at} needs exactly one of prefix, path, path_separated_prefix and safe_regex"
            ));
        }
        Ok((found.pop().expect("one"), headers, query))
    }

    /// Whether the request's `:path` matches: a prefix is compared with the whole of it, as in
    /// jwt_authn, the other forms with the path before `?`.
    pub fn matches(&self, full: &str) -> bool {
        // Only the query comes off, as in jwt_authn: a fragment (which Envoy refuses anyway)
        // must never make a rule without `requires` match more paths.
        let path = full.split_once('?').map_or(full, |(p, _)| p);
        let starts = |text: &str, prefix: &str, case_sensitive: bool| {
            text.get(..prefix.len()).is_some_and(|head| {
                if case_sensitive {
                    head == prefix
                } else {
                    head.eq_ignore_ascii_case(prefix)
                }
            })
        };
        match self {
            PathMatch::Prefix {
                prefix,
                case_sensitive,
            } => starts(full, prefix, *case_sensitive),
            PathMatch::Path {
                path: p,
                case_sensitive: true,
            } => path == p,
            PathMatch::Path {
                path: p,
                case_sensitive: false,
            } => path.eq_ignore_ascii_case(p),
            PathMatch::SeparatedPrefix {
                prefix,
                case_sensitive,
            } => {
                starts(path, prefix, *case_sensitive)
                    && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
            }
            PathMatch::Regex(p) => p.matches(path),
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
        // Providers come from a JSON object, whose members the parser keeps sorted by
        // name: a binary search keeps 10,000 rules over 10,000 providers linear-ish.
        let find = |name: &str, at: String| {
            providers
                .binary_search_by(|p| p.name.as_str().cmp(name))
                .map_err(|_| ConfigError(format!("{at}: no provider named {name:?}")))
        };
        if let Some(name) = f.string("provider_name")? {
            found.push(Requirement::Provider(find(&name, f.path("provider_name"))?));
        }
        if let Some(mut pf) = f.message("provider_and_audiences")? {
            let name = pf.string("provider_name")?.unwrap_or_default();
            let audiences = pf.strings("audiences")?;
            let index = find(&name, pf.path("provider_name"))?;
            pf.finish()?;
            found.push(if audiences.is_empty() {
                // jwt_authn: no audiences means the provider's own.
                Requirement::Provider(index)
            } else {
                Requirement::ProviderAndAudiences(index, audiences)
            });
        }
        for (field, any) in [("requires_any", true), ("requires_all", false)] {
            if let Some(v) = f.get(field) {
                let mut lf = Fields::new(v, format!("{at}.{field}"))?;
                let list = lf.list("requirements")?;
                lf.finish()?;
                if list.len() < 2 {
                    // jwt_authn's proto validation: min_items 2.
                    return err(format!(
                        "{at}.{field}.requirements needs at least 2 requirements"
                    ));
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
        f.refuse(
            "extract_only_without_validation",
            "jwtgate never forwards claims it has not verified; allow_missing_or_failed forwards the verified ones and lets the rest through",
        )?;
        if f.empty("allow_missing")? {
            found.push(Requirement::AllowMissing);
        }
        if f.empty("allow_missing_or_failed")? {
            found.push(Requirement::AllowMissingOrFailed);
        }
        f.finish()?;
        match found.len() {
            1 => Ok(found.pop().expect("one")),
            0 => err(format!("{at} needs one of provider_name, provider_and_audiences, requires_any, requires_all, allow_missing, allow_missing_or_failed")),
            _ => err(format!("{at} has more than one requirement; use requires_any or requires_all")),
        }
    }
}
