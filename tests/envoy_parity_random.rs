//! jwtgate side by side with Envoy's own `jwt_authn` on generated configurations and requests,
//! where `tests/envoy_parity.rs` runs hand-written ones: a seeded generator draws providers
//! (issuer, audiences, key set, token locations, `forward`, claim headers, time checks), rules
//! (path, header and query matchers, requirements nested with `requires_any`/`requires_all`,
//! `allow_missing`, `allow_missing_or_failed`) and adversarial requests (no, one or several
//! tokens in the same or other places, each good or bad in one way, prefixes in other cases and
//! spacings, encoded parameters, odd cookie separators, paths that nearly match a rule). Each
//! configuration gets a listener pair in one Envoy, as in the hand-written test, and the status
//! and what reached the upstream are compared.
//!
//! A difference is deliberate when one of [`DELIBERATE`]'s rules explains it: each names the
//! words of `examples/envoy/README.md` that document it (checked to be there) and says, from
//! what the generator put in the request, when it applies. Anything else fails, printed with
//! the seed, the configuration and the request, to be made a hand-written case.
//!
//! `JWTGATE_PARITY_SEEDS` (comma-separated, decimal or `0x` hex) runs other seeds, each in an
//! Envoy of its own; `JWTGATE_PARITY_CONFIGS` sets how many configurations each seed draws
//! ([`CONFIGS`] by default), with [`PROBES`] requests each.
#![cfg(feature = "envoy")]

mod common;

use common::envoy::Pair;
use common::http::echo;
use common::parity::*;
use common::*;
use jwtgate::envoy::config::{percent_decode, Config};
use jwtgate::Algorithm;
use serde_json::{json, Value};

/// The seed `cargo xtask test` runs.
const SEED: u64 = 0x6a77_7467_6174_6501;
/// Configurations per seed, each a listener pair in the seed's Envoy.
const CONFIGS: usize = 48;
/// Requests per configuration.
const PROBES: usize = 16;

/// xorshift64*: deterministic from its seed, nothing from the system.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // A zero state would stay zero.
        Rng((seed ^ 0x9e37_79b9_7f4a_7c15).max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

// Tokens.

/// Who signed a token: issuer A ([`ISSUER`], RS256) or B ([`ISSUER_B`], ES256).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Iss {
    A,
    B,
}

impl Iss {
    fn url(self) -> &'static str {
        match self {
            Iss::A => ISSUER,
            Iss::B => ISSUER_B,
        }
    }

    fn jwk(self) -> Value {
        match self {
            Iss::A => rsa_jwk(),
            Iss::B => p256_jwk(),
        }
    }

    fn alg(self) -> Algorithm {
        match self {
            Iss::A => Algorithm::RS256,
            Iss::B => Algorithm::ES256,
        }
    }
}

/// What is right or wrong with a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Valid,
    /// Valid, another subject and role.
    Bob,
    Expired,
    /// Expired 20 s ago: within the default skew of 60 s, not within 5.
    ExpiredInSkew,
    NotYetValid,
    /// `nbf` 20 s ahead.
    NotYetInSkew,
    NoExp,
    /// Valid for two hours: more than a `max_lifetime` of one.
    LongLived,
    OtherIssuer,
    NoIssuer,
    OtherAudience,
    AudienceList,
    /// `https://api/`, which `jwt_authn` compares as `api`.
    AudienceUrl,
    NoAudience,
    Forged,
    Truncated,
    Garbage,
    TwoParts,
    NoKid,
    UnknownKid,
    /// The signature's last character changed in bits base64url leaves unused.
    NonCanonical,
    AlgNone,
}

const KINDS: &[(Kind, u64)] = &[
    (Kind::Valid, 30),
    (Kind::Bob, 6),
    (Kind::Expired, 4),
    (Kind::ExpiredInSkew, 3),
    (Kind::NotYetValid, 2),
    (Kind::NotYetInSkew, 2),
    (Kind::NoExp, 3),
    (Kind::LongLived, 3),
    (Kind::OtherIssuer, 4),
    (Kind::NoIssuer, 2),
    (Kind::OtherAudience, 4),
    (Kind::AudienceList, 3),
    (Kind::AudienceUrl, 2),
    (Kind::NoAudience, 2),
    (Kind::Forged, 6),
    (Kind::Truncated, 3),
    (Kind::Garbage, 3),
    (Kind::TwoParts, 2),
    (Kind::NoKid, 3),
    (Kind::UnknownKid, 2),
    (Kind::NonCanonical, 2),
    (Kind::AlgNone, 2),
];

/// One token of each kind from each issuer, made for the time the batch starts.
struct Pool(Vec<(Kind, Iss, String)>);

impl Pool {
    fn new() -> Pool {
        let mut out = Vec::new();
        for iss in [Iss::A, Iss::B] {
            for (kind, _) in KINDS {
                out.push((*kind, iss, make_token(*kind, iss)));
            }
        }
        Pool(out)
    }

    fn get(&self, kind: Kind, iss: Iss) -> &str {
        &self
            .0
            .iter()
            .find(|(k, i, _)| *k == kind && *i == iss)
            .expect("every kind is made")
            .2
    }
}

fn make_token(kind: Kind, iss: Iss) -> String {
    let n = now();
    let mut claims = claims_with(json!({"iss": iss.url(), "role": "admin", "n": 42,
        "list": ["a", "b"], "obj": {"k": "v"}}));
    let change = |c: &mut Value, changes: Value| {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
    };
    let header = json!({"alg": iss.alg().name(), "kid": kid_for(iss.alg()), "typ": "JWT"});
    let signed = |claims: &Value, header: &Value| {
        token_raw(iss.alg(), &header.to_string(), &claims.to_string())
    };
    match kind {
        Kind::Valid => {}
        Kind::Bob => change(&mut claims, json!({"sub": "bob", "role": "user"})),
        Kind::Expired => change(
            &mut claims,
            json!({"exp": n - 3600, "iat": n - 7200, "nbf": n - 7200}),
        ),
        Kind::ExpiredInSkew => change(
            &mut claims,
            json!({"exp": n - 20, "iat": n - 600, "nbf": n - 600}),
        ),
        Kind::NotYetValid => change(&mut claims, json!({"nbf": n + 3600})),
        Kind::NotYetInSkew => change(&mut claims, json!({"nbf": n + 20})),
        Kind::NoExp => change(&mut claims, json!({"exp": null})),
        Kind::LongLived => change(&mut claims, json!({"exp": n + 7200})),
        Kind::OtherIssuer => change(&mut claims, json!({"iss": "https://elsewhere.example"})),
        Kind::NoIssuer => change(&mut claims, json!({"iss": null})),
        Kind::OtherAudience => change(&mut claims, json!({"aud": "other"})),
        Kind::AudienceList => change(&mut claims, json!({"aud": ["other", AUDIENCE]})),
        Kind::AudienceUrl => change(&mut claims, json!({"aud": "https://api/"})),
        Kind::NoAudience => change(&mut claims, json!({"aud": null})),
        Kind::Forged => return forged(&signed(&claims, &header)),
        Kind::Truncated => {
            let t = signed(&claims, &header);
            return t[..t.len() - 4].to_owned();
        }
        Kind::Garbage => return "garbage".to_owned(),
        Kind::TwoParts => {
            let t = signed(&claims, &header);
            return t[..t.rfind('.').unwrap()].to_owned();
        }
        Kind::NoKid => {
            return signed(&claims, &json!({"alg": iss.alg().name(), "typ": "JWT"}));
        }
        Kind::UnknownKid => {
            return signed(
                &claims,
                &json!({"alg": iss.alg().name(), "kid": "nobody", "typ": "JWT"}),
            );
        }
        Kind::NonCanonical => {
            // Both signatures (256 and 64 bytes) end in a character carrying 2 bits and 4
            // unused ones, zero in the canonical form.
            let t = signed(&claims, &header);
            let last = t.chars().last().unwrap();
            const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let v = B64.find(last).unwrap();
            let odd = B64.as_bytes()[v | 1] as char;
            return format!("{}{odd}", &t[..t.len() - 1]);
        }
        Kind::AlgNone => {
            let t = signed(&claims, &header);
            let payload = t.split('.').nth(1).unwrap();
            return format!(
                "{}.{payload}.",
                jwtgate::b64_encode(br#"{"alg":"none","typ":"JWT"}"#)
            );
        }
    }
    signed(&claims, &header)
}

// Configurations.

/// Where a provider looks for tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Loc {
    /// A header (name as configured, any case) and its `value_prefix`, if any.
    Header(String, Option<String>),
    Param(String),
    Cookie(String),
}

/// What the generator chose for a provider, beside its JSON.
#[derive(Clone, Debug)]
struct GenProvider {
    name: String,
    /// Whose tokens its keys verify.
    iss: Iss,
    /// Whether `require_expiration` is left out (jwtgate's default differs).
    expiration_default: bool,
    /// The locations it reads, its defaults included.
    locations: Vec<Loc>,
    forward: bool,
    /// `clock_skew_seconds: 0`, which `jwt_authn` reads as its default of 60.
    no_skew: bool,
}

/// A generated configuration: its JSON, its providers, and the paths its rules nearly match.
struct GenConfig {
    config: Value,
    providers: Vec<GenProvider>,
    /// Whether a requirement anywhere holds `allow_missing` or `allow_missing_or_failed`.
    allows_missing: bool,
    /// Whether a requirement anywhere holds `requires_all`.
    has_all: bool,
    /// Whether a requirement anywhere holds `requires_any`.
    has_any: bool,
    /// Whether two providers name the same issuer (or none).
    shared_issuer: bool,
    /// The claim and payload headers the providers set.
    owned_headers: Vec<String>,
    paths: Vec<String>,
}

const HEADER_LOCATIONS: &[(&str, Option<&str>)] = &[
    ("authorization", Some("Bearer ")),
    ("Authorization", Some("Bearer ")),
    ("authorization", Some("Bearer")),
    ("authorization", Some("bearer ")),
    ("x-token", None),
    ("X-Token", None),
    ("x-token", Some("Token ")),
    ("x-jwt", Some("JWT ")),
    ("x-jwt", None),
];
const PARAMS: &[&str] = &["access_token", "token", "jwt"];
const COOKIES: &[&str] = &["session", "jwt"];
const CLAIMS: &[&str] = &["sub", "role", "n", "list", "obj", "obj.k", "missing"];

fn gen_provider(rng: &mut Rng, i: usize) -> (GenProvider, Value) {
    let name = format!("p{i}");
    let iss = if rng.chance(50) { Iss::A } else { Iss::B };
    let mut keys = vec![iss.jwk()];
    if rng.chance(15) {
        keys.push(if iss == Iss::A { p256_jwk() } else { rsa_jwk() });
    }
    let mut p = json!({"local_jwks": {"inline_string": json!({"keys": keys}).to_string()}});
    match rng.below(10) {
        0 => {}
        1 => p["issuer"] = json!(""),
        _ => p["issuer"] = json!(iss.url()),
    }
    let audiences: Vec<&str> = rng.pick(&[
        vec![AUDIENCE],
        vec![AUDIENCE],
        vec!["other", AUDIENCE],
        vec![],
        vec!["https://api"],
        vec!["api/"],
        vec!["other"],
    ]);
    if !audiences.is_empty() || rng.chance(50) {
        p["audiences"] = json!(audiences);
    }
    let mut locations = Vec::new();
    let mut headers = Vec::new();
    for _ in 0..rng.pick(&[0, 0, 1, 1, 2]) {
        let (name, prefix) = rng.pick(HEADER_LOCATIONS);
        let loc = Loc::Header(name.to_ascii_lowercase(), prefix.map(str::to_owned));
        if !locations.contains(&loc) {
            locations.push(loc);
            headers.push(match prefix {
                Some(prefix) => json!({"name": name, "value_prefix": prefix}),
                None => json!({"name": name}),
            });
        }
    }
    if !headers.is_empty() {
        p["from_headers"] = json!(headers);
    }
    if rng.chance(35) {
        let param = rng.pick(PARAMS);
        locations.push(Loc::Param(param.to_owned()));
        p["from_params"] = json!([param]);
    }
    if rng.chance(30) {
        let cookie = rng.pick(COOKIES);
        locations.push(Loc::Cookie(cookie.to_owned()));
        p["from_cookies"] = json!([cookie]);
    }
    if locations.is_empty() {
        locations.push(Loc::Header("authorization".into(), Some("Bearer ".into())));
        locations.push(Loc::Param("access_token".into()));
    }
    let forward = match rng.below(3) {
        0 => false,
        1 => {
            p["forward"] = json!(false);
            false
        }
        _ => {
            p["forward"] = json!(true);
            true
        }
    };
    if rng.chance(20) {
        p["forward_payload_header"] = json!(rng.pick(&["x-payload", "x-payload-p"]));
        if rng.chance(40) {
            p["pad_forward_payload_header"] = json!(true);
        }
    }
    let mut claim_headers = Vec::new();
    for _ in 0..rng.pick(&[0, 0, 1, 2]) {
        let claim = rng.pick(CLAIMS);
        let header = if rng.chance(50) {
            "x-claim".to_owned()
        } else {
            format!("x-{}-{i}", claim.replace('.', "-"))
        };
        if !claim_headers
            .iter()
            .any(|c: &Value| c["header_name"] == header)
        {
            claim_headers.push(json!({"header_name": header, "claim_name": claim}));
        }
    }
    if !claim_headers.is_empty() {
        p["claim_to_headers"] = json!(claim_headers);
    }
    let skew = rng.below(6);
    let no_skew = skew == 0;
    match skew {
        0 => p["clock_skew_seconds"] = json!(0),
        1 => p["clock_skew_seconds"] = json!(5),
        2 => p["clock_skew_seconds"] = json!(300),
        _ => {}
    }
    let expiration_default = match rng.below(4) {
        0 => {
            p["require_expiration"] = json!(true);
            false
        }
        1 => {
            p["require_expiration"] = json!(false);
            false
        }
        _ => true,
    };
    if rng.chance(20) {
        p["max_lifetime"] = json!(rng.pick(&["3600s", "86400s"]));
    }
    if rng.chance(8) {
        p["subjects"] = rng.pick(&[json!({"prefix": "al"}), json!({"exact": "bob"})]);
    }
    let provider = GenProvider {
        name,
        iss,
        expiration_default,
        locations,
        forward,
        no_skew,
    };
    (provider, p)
}

/// What a configuration's requirements hold, for the rules that explain a difference.
#[derive(Default)]
struct Shape {
    allows_missing: bool,
    has_all: bool,
    has_any: bool,
}

/// A requirement over `providers`, at most `depth` lists deep, noted in `shape`.
fn gen_requirement(
    rng: &mut Rng,
    providers: &[GenProvider],
    depth: u32,
    shape: &mut Shape,
) -> Value {
    let provider = |rng: &mut Rng| providers[rng.below(providers.len())].name.clone();
    match rng.below(20) {
        0..=8 => json!({"provider_name": provider(rng)}),
        9 | 10 => json!({"provider_and_audiences": {"provider_name": provider(rng),
            "audiences": rng.pick(&[vec![AUDIENCE], vec!["other"], vec!["https://api/"]])}}),
        11 | 12 => {
            shape.allows_missing = true;
            json!({"allow_missing": {}})
        }
        13 | 14 => {
            shape.allows_missing = true;
            json!({"allow_missing_or_failed": {}})
        }
        _ if depth == 0 => json!({"provider_name": provider(rng)}),
        n => {
            let list = if n % 2 == 0 {
                "requires_any"
            } else {
                "requires_all"
            };
            let parts: Vec<Value> = (0..rng.pick(&[2, 2, 3]))
                .map(|_| gen_requirement(rng, providers, depth - 1, shape))
                .collect();
            shape.has_all |= list == "requires_all";
            shape.has_any |= list == "requires_any";
            json!({list: {"requirements": parts}})
        }
    }
}

/// A rule's path matcher and paths that match it or nearly do.
fn gen_match(rng: &mut Rng) -> (Value, Vec<String>) {
    let case_insensitive = rng.chance(20);
    let (mut m, base) = match rng.below(7) {
        0 => (json!({"prefix": "/"}), "/"),
        1 => (json!({"prefix": "/api"}), "/api"),
        2 => (json!({"prefix": "/api/"}), "/api/"),
        3 => (json!({"path": "/exact"}), "/exact"),
        4 => (json!({"safe_regex": {"regex": "/re/[a-z]+"}}), "/re/abc"),
        5 => (json!({"path_separated_prefix": "/docs"}), "/docs"),
        _ => (json!({"prefix": "/Api"}), "/Api"),
    };
    if case_insensitive && m.get("safe_regex").is_none() {
        m["case_sensitive"] = json!(false);
    }
    if rng.chance(12) {
        m["headers"] = rng.pick(&[
            json!([{"name": "x-mode", "string_match": {"exact": "open"}}]),
            json!([{"name": "x-mode", "present_match": true}]),
            json!([{"name": "x-mode", "string_match": {"exact": "open"}, "invert_match": true}]),
        ]);
    }
    if rng.chance(8) {
        m["query_parameters"] = json!([{"name": "debug", "present_match": true}]);
    }
    let trimmed = base.trim_end_matches('/');
    let mut paths = vec![
        base.to_owned(),
        format!("{base}x"),
        format!("{trimmed}/x"),
        format!("{trimmed}/"),
        base.to_ascii_uppercase(),
        format!("{}/x", trimmed.to_ascii_uppercase()),
        format!("{base}?a=1"),
        format!("/{base}"),
    ];
    // A letter percent-encoded: a near miss for every matcher here, which compare raw paths.
    if let Some(at) = base.find(|c: char| c.is_ascii_alphabetic()) {
        let c = base.as_bytes()[at];
        paths.push(format!("{}%{c:02X}{}", &base[..at], &base[at + 1..]));
    }
    (m, paths)
}

fn gen_config(rng: &mut Rng) -> GenConfig {
    let mut providers = Vec::new();
    let mut json_providers = serde_json::Map::new();
    for i in 0..rng.pick(&[1, 2, 2, 3]) {
        let (p, v) = gen_provider(rng, i);
        json_providers.insert(p.name.clone(), v);
        providers.push(p);
    }
    let mut shape = Shape::default();
    let mut rules = Vec::new();
    let mut paths = vec!["/".to_owned(), "/other".to_owned()];
    for _ in 0..rng.pick(&[1, 2, 3, 4]) {
        let (m, near) = gen_match(rng);
        paths.extend(near);
        let mut rule = json!({"match": m});
        if !rng.chance(15) {
            rule["requires"] = gen_requirement(rng, &providers, 2, &mut shape);
        }
        rules.push(rule);
    }
    if rng.chance(60) {
        rules.push(json!({"match": {"prefix": "/"},
            "requires": gen_requirement(rng, &providers, 2, &mut shape)}));
    }
    let mut config = json!({"providers": json_providers, "rules": rules});
    if rng.chance(10) {
        config["bypass_cors_preflight"] = json!(true);
    }
    paths.sort();
    paths.dedup();
    let issuers: Vec<&str> = json_providers_of(&config)
        .map(|p| p["issuer"].as_str().unwrap_or_default())
        .collect();
    let shared_issuer = (1..issuers.len()).any(|i| issuers[..i].contains(&issuers[i]));
    let owned_headers = json_providers_of(&config)
        .flat_map(|p| {
            let claims = p["claim_to_headers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let payload = p["forward_payload_header"].as_str().map(str::to_owned);
            claims
                .into_iter()
                .map(|c| c["header_name"].as_str().unwrap().to_owned())
                .chain(payload)
        })
        .collect();
    GenConfig {
        config,
        providers,
        allows_missing: shape.allows_missing,
        has_all: shape.has_all,
        has_any: shape.has_any,
        shared_issuer,
        owned_headers,
        paths,
    }
}

fn json_providers_of(config: &Value) -> impl Iterator<Item = &Value> {
    config["providers"].as_object().unwrap().values()
}

// Requests.

/// What the generator put in a request, for the rules that explain a difference.
#[derive(Default, Debug)]
struct Facts {
    /// A token without `exp` is in the request.
    no_exp: bool,
    /// A token expired, or not yet valid, by less than a minute.
    in_skew: bool,
    /// Tokens in the request, at configured locations or not.
    tokens: usize,
    /// A query parameter or a cookie is given twice or more.
    repeated_param_or_cookie: bool,
    /// A configured prefix is in a header value only in another case.
    prefix_case: bool,
    /// A token with a non-canonical base64url signature.
    non_canonical: bool,
    /// A token in a cookie.
    cookie_token: bool,
    /// A token cookie whose name has whitespace around it.
    cookie_name_space: bool,
}

/// A generated request and how it was made.
struct GenProbe {
    probe: Probe,
    facts: Facts,
}

/// `text` with the first `.` percent-encoded, or another encoding of its bytes.
fn encode_some(rng: &mut Rng, text: &str) -> String {
    match rng.below(3) {
        0 => text.replacen('.', "%2E", 1),
        1 => text.replace('.', "%2e"),
        _ => text.replacen('_', "%5F", 1),
    }
}

fn gen_probe(rng: &mut Rng, pool: &Pool, config: &GenConfig, n: usize) -> GenProbe {
    let mut facts = Facts::default();
    let mut path = rng.pick(&config.paths);
    let mut query: Vec<String> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    let mut shown: Vec<String> = Vec::new();
    let locations: Vec<Loc> = config
        .providers
        .iter()
        .flat_map(|p| p.locations.clone())
        .collect();
    let decoys = [
        Loc::Header("x-other".into(), None),
        Loc::Header("authorization".into(), Some("Bearer ".into())),
        Loc::Param("access_token".into()),
        Loc::Cookie("session".into()),
    ];
    let count = rng.pick(&[0, 1, 1, 1, 2, 2, 3]);
    for _ in 0..count {
        let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
        let mut roll = rng.next() % total;
        let kind = KINDS
            .iter()
            .find(|(_, w)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .unwrap()
            .0;
        let iss = if rng.chance(80) {
            config.providers[rng.below(config.providers.len())].iss
        } else if rng.chance(50) {
            Iss::A
        } else {
            Iss::B
        };
        let token = pool.get(kind, iss).to_owned();
        facts.tokens += 1;
        facts.no_exp |= kind == Kind::NoExp;
        facts.in_skew |= matches!(kind, Kind::ExpiredInSkew | Kind::NotYetInSkew);
        facts.non_canonical |= kind == Kind::NonCanonical;
        let loc = if rng.chance(90) {
            rng.pick(&locations)
        } else {
            rng.pick(&decoys)
        };
        let label = format!("<{iss:?} {kind:?}>");
        match &loc {
            Loc::Header(name, prefix) => {
                let name = if rng.chance(20) {
                    name.to_ascii_uppercase()
                } else {
                    name.clone()
                };
                let value = header_value(rng, prefix.as_deref(), &token);
                shown.push(format!("{name}: {}", value.replace(&token, &label)));
                headers.push((name, value));
                if rng.chance(8) {
                    // The same line twice.
                    headers.push(headers.last().unwrap().clone());
                    shown.push("(that header line again)".into());
                }
            }
            Loc::Param(name) => {
                let key = match rng.below(8) {
                    0 => name.to_ascii_uppercase(),
                    1 => encode_some(rng, name),
                    _ => name.clone(),
                };
                let value = if rng.chance(20) {
                    encode_some(rng, &token)
                } else {
                    token.clone()
                };
                let pair = format!("{key}={value}");
                shown.push(format!("?{}", pair.replace(&value, &label)));
                if rng.chance(25) {
                    query.push(format!("x{}=1", query.len()));
                }
                query.push(pair);
            }
            Loc::Cookie(name) => {
                facts.cookie_token = true;
                let value = match rng.below(6) {
                    0 => format!("\"{token}\""),
                    _ => token.clone(),
                };
                let pair = match rng.below(10) {
                    0 => format!("{name} = {value}"),
                    1 => format!("\t{name}={value}"),
                    2 => format!("{name}= {value}"),
                    _ => format!("{name}={value}"),
                };
                facts.cookie_name_space |= pair.starts_with('\t') || pair.contains(" =");
                shown.push(format!("cookie {}", pair.replace(&token, &label)));
                cookies.push(pair);
            }
        }
    }
    // Repeated parameters and cookies, as the rules see them.
    let repeated = |names: &mut dyn Iterator<Item = String>| {
        let mut seen: Vec<String> = Vec::new();
        let mut twice = false;
        for n in names {
            twice |= seen.contains(&n);
            seen.push(n);
        }
        twice
    };
    let param_names = query
        .iter()
        .map(|p| percent_decode(p.split('=').next().unwrap()));
    let cookie_names = cookies
        .iter()
        .map(|c| c.split('=').next().unwrap().trim().to_owned());
    facts.repeated_param_or_cookie =
        repeated(&mut param_names.into_iter()) || repeated(&mut cookie_names.into_iter());
    if !cookies.is_empty() {
        if rng.chance(25) {
            cookies.insert(0, "a=1".into());
        }
        if rng.chance(20) {
            cookies.push("b=2".into());
        }
        let sep = rng.pick(&["; ", ";", " ; ", ";; "]);
        if cookies.len() > 1 && rng.chance(20) {
            // Two cookie header lines.
            let last = cookies.pop().unwrap();
            headers.push(("cookie".into(), cookies.join(sep)));
            headers.push(("cookie".into(), last));
        } else {
            headers.push(("cookie".into(), cookies.join(sep)));
        }
    }
    facts.prefix_case = headers
        .iter()
        .any(|(name, value)| prefix_in_another_case(config, name, value));
    if rng.chance(10) {
        headers.push((
            "x-mode".into(),
            rng.pick(&["open", "closed", ""]).to_owned(),
        ));
        // On two lines: a matcher meets it when one of its values does.
        if rng.chance(30) {
            headers.push((
                "x-mode".into(),
                rng.pick(&["open", "closed", ""]).to_owned(),
            ));
        }
    }
    if rng.chance(10) {
        query.push("debug".into());
    }
    if rng.chance(10) {
        // A claim header the client made up: both filters remove it.
        headers.push(("x-claim".into(), "forged".into()));
    }
    if !query.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&query.join("&"));
    }
    let name = format!(
        "#{n} {} [{}]{}",
        path.split('?').next().unwrap(),
        shown.join(", "),
        headers
            .iter()
            .filter(|(k, _)| k == "x-mode" || k == "x-claim")
            .map(|(k, v)| format!(" {k}: {v:?}"))
            .collect::<String>()
    );
    let mut probe = Probe {
        name,
        method: "GET",
        path,
        headers,
    };
    if config.config.get("bypass_cors_preflight").is_some() && rng.chance(30) {
        probe.method = "OPTIONS";
        probe
            .headers
            .push(("origin".into(), "https://app.example".into()));
        if rng.chance(70) {
            probe
                .headers
                .push(("access-control-request-method".into(), "GET".into()));
        }
        probe.name.push_str(" (OPTIONS)");
    }
    GenProbe { probe, facts }
}

/// A header value carrying `token` after `prefix` in one of the ways clients send it.
fn header_value(rng: &mut Rng, prefix: Option<&str>, token: &str) -> String {
    let Some(prefix) = prefix else {
        return match rng.below(8) {
            0 => format!("Bearer {token}"),
            1 => format!("{token} junk"),
            2 => format!("{token},x"),
            _ => token.to_owned(),
        };
    };
    match rng.below(16) {
        0 => format!("{}{token}", prefix.to_ascii_lowercase()),
        1 => format!("{}{token}", prefix.to_ascii_uppercase()),
        2 => format!("{}{token}", prefix.trim_end()),
        3 => format!("{prefix} {token}"),
        4 => format!("{prefix}{token} junk"),
        5 => format!("{prefix}{token},x"),
        6 => format!("Basic eA==, {prefix}{token}"),
        7 => token.to_owned(),
        8 => format!("{}\t{token}", prefix.trim_end()),
        9 => prefix.to_owned(),
        _ => format!("{prefix}{token}"),
    }
}

/// Whether a header value holds a prefix configured for that header only in another case.
fn prefix_in_another_case(config: &GenConfig, name: &str, value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    config
        .providers
        .iter()
        .flat_map(|p| &p.locations)
        .any(|l| match l {
            Loc::Header(n, Some(prefix)) => {
                n.eq_ignore_ascii_case(name)
                    && !value.contains(prefix.as_str())
                    && lower.contains(&prefix.to_ascii_lowercase())
            }
            _ => false,
        })
}

// What may differ.

/// A rule for a deliberate difference: the words of `examples/envoy/README.md` that document
/// it, and when it explains a difference in `part` between jwtgate's answer (`ours`) and
/// `jwt_authn`'s.
struct Rule {
    readme: &'static str,
    applies: fn(&GenConfig, &Facts, &Part, &Seen, &Seen) -> bool,
}

/// jwtgate refused what `jwt_authn` let through.
fn stricter(part: &Part, ours: &Seen, theirs: &Seen) -> bool {
    *part == Part::Status && matches!(ours.status, 401 | 403) && theirs.status == 200
}

/// Both refused, with different statuses.
fn both_refuse(part: &Part, ours: &Seen, theirs: &Seen) -> bool {
    *part == Part::Status && matches!(ours.status, 401 | 403) && matches!(theirs.status, 401 | 403)
}

/// jwtgate's codes for what it checks before a token's audience, and `jwt_authn` after it.
const BEFORE_AUDIENCE: &[&str] = &[
    "malformed",
    "algorithm_not_allowed",
    "unknown_key",
    "invalid_signature",
    "invalid_claim",
];

/// `path` as `jwt_authn` writes it back when it takes a parameter out: the query's
/// parameters percent-decoded, sorted by name (the values of one name in their order), each
/// written `name=value`.
fn rewritten_by_jwt_authn(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base}?{}", query.join("&"))
}

/// The names of `path`'s query parameters, percent-decoded.
fn param_names(path: &str) -> Vec<String> {
    path.split_once('?').map_or(Vec::new(), |(_, q)| {
        q.split('&')
            .map(|pair| percent_decode(pair.split('=').next().unwrap()))
            .collect()
    })
}

/// The header names and parameter names where providers that do not forward tokens read them.
fn taken_out(c: &GenConfig) -> impl Iterator<Item = &Loc> {
    c.providers
        .iter()
        .filter(|p| !p.forward)
        .flat_map(|p| p.locations.iter())
}

const DELIBERATE: &[Rule] = &[
    Rule {
        readme: "`require_expiration` defaults to **true**",
        applies: |c, f, part, ours, theirs| {
            (stricter(part, ours, theirs) || *part != Part::Status)
                && f.no_exp
                && c.providers.iter().any(|p| p.expiration_default)
        },
    },
    Rule {
        readme: "`0` is no skew",
        applies: |c, f, part, ours, theirs| {
            // Refused, or (where failures are allowed) let through without its claims.
            (stricter(part, ours, theirs) || *part != Part::Status)
                && f.in_skew
                && c.providers.iter().any(|p| p.no_skew)
        },
    },
    Rule {
        readme: "each value of a repeated query parameter or cookie",
        applies: |c, f, part, ours, theirs| {
            f.repeated_param_or_cookie
                && (stricter(part, ours, theirs)
                    || *part == Part::Path
                    || matches!(part, Part::Header(h) if c.owned_headers.contains(h)))
        },
    },
    Rule {
        readme: "a value holding the prefix only in another case is refused",
        applies: |_, f, part, ours, theirs| stricter(part, ours, theirs) && f.prefix_case,
    },
    Rule {
        readme: "a cookie of that name only with whitespace around the name is refused",
        applies: |_, f, part, ours, theirs| stricter(part, ours, theirs) && f.cookie_name_space,
    },
    Rule {
        readme: "non-canonical base64url",
        applies: |_, f, part, ours, theirs| {
            (stricter(part, ours, theirs) || *part != Part::Status) && f.non_canonical
        },
    },
    Rule {
        readme: "refuses the request when one fails, under `allow_missing` as well",
        applies: |c, f, part, ours, theirs| {
            // jwt_authn let the request through without needing a token jwtgate refused.
            stricter(part, ours, theirs)
                && (c.allows_missing || c.has_any)
                && f.tokens >= 1
                && ours.refusal.as_deref() != Some("missing_token")
        },
    },
    Rule {
        readme: "checks a token's audience before its signature",
        applies: |_, _, part, ours, theirs| {
            *part == Part::Status
                && ours.status == 401
                && theirs.status == 403
                && theirs.refusal.as_deref() == Some("Audiences in Jwt are not allowed")
                && ours
                    .refusal
                    .as_deref()
                    .is_some_and(|code| BEFORE_AUDIENCE.contains(&code))
        },
    },
    Rule {
        readme: "jwtgate and `jwt_authn` may name different ones, and so answer 401 where the other answers 403",
        applies: |_, f, part, ours, theirs| both_refuse(part, ours, theirs) && f.tokens >= 1,
    },
    Rule {
        readme: "where providers share an issuer (or several name none) they may take different ones",
        // jwtgate verifies with every provider jwt_authn might pick: where the status differs,
        // jwtgate is the stricter.
        applies: |c, _, part, ours, theirs| {
            c.allows_missing
                && c.shared_issuer
                && (*part != Part::Status || stricter(part, ours, theirs))
        },
    },
    Rule {
        readme: "writes the parameters left back percent-decoded, sorted by name",
        applies: |_, _, part, ours, theirs| {
            *part == Part::Path && ours.path.as_deref().map(rewritten_by_jwt_authn) == theirs.path
        },
    },
    Rule {
        readme: "removes from the request every token it looked at, a token that failed included",
        applies: |c, _, part, ours, theirs| {
            // A token jwtgate took out and jwt_authn left, where a provider that does not
            // forward reads.
            let taken = |at: &dyn Fn(&Loc) -> bool| taken_out(c).any(at);
            match part {
                    Part::Header(h) => {
                        !ours.headers.contains_key(h)
                            && taken(&|l| matches!(l, Loc::Header(n, _) if n == h))
                    }
                    Part::Path => {
                        let (ours, theirs) = (
                            param_names(ours.path.as_deref().unwrap_or_default()),
                            param_names(theirs.path.as_deref().unwrap_or_default()),
                        );
                        ours.iter().all(|n| theirs.contains(n))
                            && theirs
                                .iter()
                                .filter(|n| !ours.contains(n))
                                .all(|n| taken(&|l| matches!(l, Loc::Param(p) if p == n)))
                    }
                    Part::Status => false,
                }
        },
    },
    Rule {
        readme: "removes the token cookie too",
        applies: |c, f, part, _, _| {
            // A provider that does not forward may verify a cookie it does not read
            // (`allow_missing` takes a token's provider by its issuer).
            *part == Part::Header("cookie".into())
                && f.cookie_token
                && c.providers.iter().any(|p| !p.forward)
        },
    },
    Rule {
        readme: "so the requirements after it do not see them",
        applies: |c, _, part, _, _| {
            c.has_any && matches!(part, Part::Header(h) if c.owned_headers.contains(h))
        },
    },
    Rule {
        readme: "jwtgate sends the claim headers of every token that verified",
        applies: |c, _, part, _, _| {
            c.has_all && matches!(part, Part::Header(h) if c.owned_headers.contains(h))
        },
    },
];

fn seeds() -> Vec<u64> {
    match std::env::var("JWTGATE_PARITY_SEEDS") {
        Err(_) => vec![SEED],
        Ok(list) => list
            .split(',')
            .map(|s| {
                let s = s.trim();
                match s.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse(),
                }
                .unwrap_or_else(|_| panic!("JWTGATE_PARITY_SEEDS: {s:?} is not a number"))
            })
            .collect(),
    }
}

fn configs_per_seed() -> usize {
    std::env::var("JWTGATE_PARITY_CONFIGS").map_or(CONFIGS, |n| {
        n.parse()
            .unwrap_or_else(|_| panic!("JWTGATE_PARITY_CONFIGS: {n:?} is not a number"))
    })
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn generated_configurations_make_the_same_decisions_as_jwt_authn() {
    use_live_clock();
    let readme = readme_words();
    for rule in DELIBERATE {
        assert!(
            readme.contains(&words(rule.readme)),
            "examples/envoy/README.md does not say {:?}",
            rule.readme
        );
    }
    let upstream = echo();
    let mut failures = Vec::new();
    let mut probes = 0;
    let mut explained = vec![0; DELIBERATE.len()];
    for seed in seeds() {
        let mut rng = Rng::new(seed);
        // Tokens for now, not for when a long run of many seeds began.
        use_live_clock();
        let pool = Pool::new();
        let configs: Vec<GenConfig> = (0..configs_per_seed())
            .map(|_| gen_config(&mut rng))
            .collect();
        let refused: Vec<String> = configs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let e = Config::from_json(c.config.to_string().as_bytes()).err()?;
                Some(format!(
                    "[seed {seed:#x} config {i}] jwtgate refuses it: {e}\n  {}",
                    c.config
                ))
            })
            .collect();
        if !refused.is_empty() {
            failures.extend(refused);
            continue;
        }
        let pairs: Vec<Pair> = configs
            .iter()
            .map(|c| Pair {
                config: c.config.clone(),
                routes: None,
            })
            .collect();
        let envoy = start_pairs(&pairs, &[], upstream.port);
        for (i, (c, (ours, theirs))) in configs.iter().zip(&envoy.pairs).enumerate() {
            let context = format!("seed {seed:#x} config {i}");
            let mut unexplained = Vec::new();
            for n in 0..PROBES {
                let g = gen_probe(&mut rng, &pool, c, n);
                probes += 1;
                let (a, b) = (
                    send(*ours, &g.probe, &context),
                    send(*theirs, &g.probe, &context),
                );
                for (part, text) in compare(&a, &b) {
                    match DELIBERATE
                        .iter()
                        .position(|r| (r.applies)(c, &g.facts, &part, &a, &b))
                    {
                        Some(r) => explained[r] += 1,
                        None => unexplained.push(format!(
                            "  {}: {text}\n    {} {}",
                            g.probe.name, g.probe.method, g.probe.path
                        )),
                    }
                }
            }
            if !unexplained.is_empty() {
                failures.push(format!(
                    "[{context}] {}\n{}",
                    c.config,
                    unexplained.join("\n")
                ));
                // At once too: a long run of many seeds may stop before its end.
                eprintln!("{}", failures.last().unwrap());
            }
        }
    }
    println!(
        "{probes} generated requests to each filter, seeds {:x?}",
        seeds()
    );
    for (rule, n) in DELIBERATE.iter().zip(&explained) {
        println!("deliberate ({n}): {:?}", rule.readme);
    }
    assert_all_passed(&failures, probes);
}
