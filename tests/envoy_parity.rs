//! jwtgate side by side with Envoy's own `jwt_authn`, in one real Envoy: every configuration
//! below is given unchanged to both filters (a listener each, same routes, same upstream), the
//! same requests go to both, and the statuses and what reaches the upstream (path with its
//! query, and every header but those Envoy makes up per listener) must agree.
//!
//! A difference is either listed in its case as deliberate, naming the words of
//! `examples/envoy/README.md` that document it (the test checks they are there), or a failure;
//! all failures are reported at once. A listed difference that no longer shows is a failure
//! too, so the list cannot go stale.
//!
//! A configuration jwtgate refuses because it uses a field listed in [`PENDING`] is skipped
//! and named in the output; one refused for any other reason fails, and so does a pending
//! field jwtgate has started to accept (take it off the list).
#![cfg(feature = "envoy")]

mod common;

use common::envoy::{keyset, Pair};
use common::http::{echo, Server};
use common::parity::*;
use common::*;
use jwtgate::envoy::config::Config;
use jwtgate::Algorithm;
use serde_json::{json, Value};

/// Fields jwtgate does not take yet, and so refuses at start-up: a case using one is skipped,
/// and listed in the output, until it is implemented.
const PENDING: &[&str] = &[];

/// A difference that is meant: which request, what part, and the words of
/// `examples/envoy/README.md` that document it.
struct Deliberate {
    probe: &'static str,
    part: Part,
    readme: &'static str,
}

/// One configuration and the requests sent to it.
struct Case {
    name: &'static str,
    config: Value,
    routes: Option<Value>,
    probes: Vec<Probe>,
    deliberate: Vec<Deliberate>,
}

impl Case {
    fn new(name: &'static str, config: Value, probes: Vec<Probe>) -> Case {
        Case {
            name,
            config,
            routes: None,
            probes,
            deliberate: Vec::new(),
        }
    }

    fn deliberate(mut self, probe: &'static str, part: Part, readme: &'static str) -> Case {
        self.deliberate.push(Deliberate {
            probe,
            part,
            readme,
        });
        self
    }

    /// [`Case::deliberate`] for each of `probes`.
    fn deliberate_each(
        mut self,
        probes: &[&'static str],
        part: Part,
        readme: &'static str,
    ) -> Case {
        for probe in probes {
            self = self.deliberate(probe, part.clone(), readme);
        }
        self
    }

    fn routes(mut self, routes: Value) -> Case {
        self.routes = Some(routes);
        self
    }
}

/// Names of every object member in `v`, at any depth.
fn field_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                field_names(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| field_names(v, out)),
        _ => {}
    }
}

// Tokens and configurations.

fn sub_header(header: &str) -> Value {
    json!([{"header_name": header, "claim_name": "sub"}])
}

fn everything_to(provider: &str) -> Value {
    json!([{"match": {"prefix": "/"}, "requires": {"provider_name": provider}}])
}

// The cases.

/// Two configured headers: every token found must verify.
fn two_headers() -> Case {
    let good = a_token(json!({}));
    let bob = a_token(json!({"sub": "bob"}));
    let bad = forged(&good);
    let config = json!({"providers": {"a": provider_a(json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-token"}],
            "claim_to_headers": sub_header("x-jwt-sub"),
            "forward_payload_header": "x-jwt-payload"}))},
        "rules": everything_to("a")});
    let (g, b, bb) = (bearer(&good), bearer(&bad), bearer(&bob));
    Case::new(
        "two headers",
        config,
        vec![
            probe("no token", "/", &[]),
            probe("valid in authorization", "/", &[("authorization", &g)]),
            probe("valid in x-token", "/", &[("x-token", &good)]),
            probe(
                "valid + forged in x-token",
                "/",
                &[("authorization", &g), ("x-token", &bad)],
            ),
            probe(
                "forged + valid in x-token",
                "/",
                &[("authorization", &b), ("x-token", &good)],
            ),
            probe(
                "valid + garbage in x-token",
                "/",
                &[("authorization", &g), ("x-token", "garbage")],
            ),
            probe(
                "the same token twice",
                "/",
                &[("authorization", &g), ("x-token", &good)],
            ),
            probe(
                "alice and bob",
                "/",
                &[("authorization", &g), ("x-token", &bob)],
            ),
            probe(
                "bob and alice",
                "/",
                &[("authorization", &bb), ("x-token", &good)],
            ),
            probe(
                "valid on two x-token lines",
                "/",
                &[("x-token", &good), ("x-token", &good)],
            ),
            probe(
                "valid + a client's x-jwt-sub",
                "/",
                &[("authorization", &g), ("x-jwt-sub", "mallory")],
            ),
            // Envoy strips spaces and tabs around a value, no other whitespace: a no-break
            // space is part of the token, which fails.
            probe(
                "valid, a no-break space after it",
                "/",
                &[("authorization", &format!("{g}\u{a0}"))],
            ),
            probe(
                "valid in x-token, an em space before it",
                "/",
                &[("x-token", &format!("\u{2003}{good}"))],
            ),
            probe(
                "valid, spaces and a tab after it",
                "/",
                &[("x-token", &format!("{good} \t "))],
            ),
            // A bearer token in another case in front of the valid one.
            probe(
                "forged after bearer, then valid after Bearer",
                "/",
                &[("authorization", &format!("bearer {bad} {g}"))],
            ),
            probe(
                "forged after bearer, valid after Bearer, two lines",
                "/",
                &[
                    ("authorization", &format!("bearer {bad}")),
                    ("authorization", &g),
                ],
            ),
        ],
    )
    .deliberate_each(
        &[
            "forged after bearer, then valid after Bearer",
            "forged after bearer, valid after Bearer, two lines",
        ],
        Part::Status,
        "as is one holding it in another case before the prefix as it is",
    )
}

/// Header and query tokens, with `forward` as given.
fn header_and_query(forward: bool) -> Case {
    let good = a_token(json!({}));
    let bad = forged(&good);
    let config = json!({"providers": {"a": provider_a(json!({
            "forward": forward, "claim_to_headers": sub_header("x-jwt-sub")}))},
        "rules": everything_to("a")});
    let g = bearer(&good);
    let case = Case::new(
        if forward {
            "header and query, forward: true"
        } else {
            "header and query, forward: false"
        },
        config,
        vec![
            probe("no token", "/q", &[]),
            probe("valid in the header", "/q?x=1", &[("authorization", &g)]),
            probe("valid in the query", format!("/q?access_token={good}"), &[]),
            probe(
                "valid in the query among others",
                format!("/q?a=1&access_token={good}&b=2"),
                &[],
            ),
            probe(
                "valid header + forged query",
                format!("/q?access_token={bad}"),
                &[("authorization", &g)],
            ),
            probe(
                "valid header + garbage query",
                "/q?access_token=garbage",
                &[("authorization", &g)],
            ),
            probe(
                "forged header + valid query",
                format!("/q?access_token={good}"),
                &[("authorization", &bearer(&bad))],
            ),
            probe(
                "valid header + valid query",
                format!("/q?access_token={good}"),
                &[("authorization", &g)],
            ),
            probe(
                "valid query twice",
                format!("/q?access_token={good}&access_token={good}"),
                &[],
            ),
            probe(
                "valid query, then forged",
                format!("/q?access_token={good}&access_token={bad}"),
                &[],
            ),
            probe(
                "lower-case bearer",
                "/q",
                &[("authorization", &format!("bearer {good}"))],
            ),
            probe("empty query value", "/q?access_token=", &[]),
            probe(
                "valid in the query among encoded and bare parameters",
                format!("/q?b=2&a=%26x%3Dy&flag&access_token={good}"),
                &[],
            ),
        ],
    )
    .deliberate(
        "valid query, then forged",
        Part::Status,
        "each value of a repeated query parameter or cookie",
    );
    if forward {
        return case;
    }
    case.deliberate(
        "valid in the query among encoded and bare parameters",
        Part::Path,
        "writes the parameters left back percent-decoded, sorted by name",
    )
}

/// Two providers looking in the same places (the default ones): a token is theirs by `iss`.
fn shared_locations() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({"claim_to_headers": sub_header("x-a-sub")})),
                                      "c": provider_b(json!({"claim_to_headers": sub_header("x-c-sub")}))},
        "rules": [
            {"match": {"prefix": "/all"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "c"}]}}},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "c"}]}}},
            {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let (a, c) = (a_token(json!({})), b_token(json!({})));
    let a_signed_as_c = {
        // iss of provider c, signed with a's key: c has no such key.
        token(Algorithm::RS256, &claims_with(json!({"iss": ISSUER_B})))
    };
    let mut probes = Vec::new();
    for path in ["/all", "/any", "/missing", "/a"] {
        let with = |name: &str, query: Option<&str>, auth: Option<&str>| {
            let full = query.map_or(path.to_owned(), |t| format!("{path}?access_token={t}"));
            let auth = auth.map(bearer);
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|v| ("authorization", v.as_str())).collect();
            probe(format!("{name} on {path}"), full, &headers)
        };
        probes.extend([
            with("a", None, Some(&a)),
            with("c", None, Some(&c)),
            with("a and c", Some(&c), Some(&a)),
            with("c's issuer, a's key", None, Some(&a_signed_as_c)),
            with(
                "a and c's issuer with a's key",
                Some(&a_signed_as_c),
                Some(&a),
            ),
        ]);
    }
    Case::new("shared locations", config, probes).deliberate(
        "a and c's issuer with a's key on /missing",
        Part::Status,
        "refuses the request when one fails",
    )
}

/// Where a token is taken from, and what does not count as one.
fn extraction() -> Case {
    let good = a_token(json!({}));
    let bob = a_token(json!({"sub": "bob"}));
    let config = json!({"providers": {
            "a": provider_a(json!({"claim_to_headers": sub_header("x-jwt-sub")})),
            "custom": provider_a(json!({"from_headers": [{"name": "x-auth", "value_prefix": "Token "}],
                "forward": true, "claim_to_headers": sub_header("x-custom-sub")})),
            "no-issuer": merge(provider_a(json!({"claim_to_headers": sub_header("x-any-sub")})),
                json!({"issuer": ""})),
            "raw": provider_a(json!({"from_headers": [{"name": "x-raw"}], "from_cookies": ["jwt"]}))},
        "rules": [
            {"match": {"prefix": "/custom"}, "requires": {"provider_name": "custom"}},
            {"match": {"prefix": "/no-issuer"}, "requires": {"provider_name": "no-issuer"}},
            {"match": {"prefix": "/maybe"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/raw"}, "requires": {"provider_name": "raw"}},
            {"match": {"prefix": "/sep", "case_sensitive": false}},
            {"match": {"path_separated_prefix": "/Docs", "case_sensitive": false}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let (g, b) = (bearer(&good), bearer(&bob));
    let other_issuer = a_token(json!({"iss": "https://elsewhere.example"}));
    let no_iss = a_token(json!({"iss": null}));
    Case::new(
        "extraction",
        config,
        vec![
            probe(
                "after another scheme",
                "/",
                &[("authorization", &format!("Basic eA==, {g}"))],
            ),
            probe(
                "two spaces",
                "/",
                &[("authorization", &format!("Bearer  {good}"))],
            ),
            probe("prefix only", "/", &[("authorization", "Bearer ")]),
            probe(
                "junk after the token",
                "/",
                &[("authorization", &format!("Bearer {good} junk"))],
            ),
            probe(
                "a comma after the token",
                "/",
                &[("authorization", &format!("Bearer {good},x"))],
            ),
            probe(
                "a plus after the token",
                "/",
                &[("authorization", &format!("Bearer {good}+x"))],
            ),
            probe(
                "junk after a token in a header without a prefix",
                "/raw",
                &[("x-raw", &format!("{good} junk"))],
            ),
            probe(
                "a quoted cookie",
                "/raw",
                &[("cookie", &format!("jwt=\"{good}\""))],
            ),
            probe(
                "a cookie with one quote",
                "/raw",
                &[("cookie", &format!("jwt=\"{good}"))],
            ),
            probe(
                "a space before the cookie's = where a token may be missing",
                "/maybe",
                &[("cookie", &format!("jwt ={good}"))],
            ),
            probe(
                "lower-case bearer",
                "/",
                &[("authorization", &format!("bearer {good}"))],
            ),
            probe(
                "lower-case bearer where a token may be missing",
                "/maybe",
                &[("authorization", &format!("bearer {good}"))],
            ),
            probe("no prefix", "/", &[("authorization", &good)]),
            probe(
                "two authorization headers",
                "/",
                &[("authorization", &g), ("authorization", &b)],
            ),
            probe(
                "a valid and a garbage authorization header",
                "/",
                &[("authorization", &g), ("authorization", "Bearer garbage")],
            ),
            probe(
                "query name in capitals",
                format!("/?Access_Token={good}"),
                &[],
            ),
            probe(
                "query token, percent-encoded dot",
                format!("/?access_token={}", good.replacen('.', "%2E", 1)),
                &[],
            ),
            probe(
                "custom prefix",
                "/custom",
                &[("x-auth", &format!("Token {good}"))],
            ),
            probe("custom header, bearer prefix", "/custom", &[("x-auth", &g)]),
            probe(
                "custom header, authorization",
                "/custom",
                &[("authorization", &g)],
            ),
            probe(
                "no issuer configured, any iss",
                "/no-issuer",
                &[("authorization", &bearer(&other_issuer))],
            ),
            probe(
                "no issuer configured, no iss",
                "/no-issuer",
                &[("authorization", &bearer(&no_iss))],
            ),
            probe(
                "other issuer",
                "/",
                &[("authorization", &bearer(&other_issuer))],
            ),
            probe("no iss", "/", &[("authorization", &bearer(&no_iss))]),
            probe("caseless prefix rule", "/SEP/x", &[]),
            probe("caseless separated prefix", "/docs/x", &[]),
            probe("caseless separated prefix, longer word", "/docsx", &[]),
            probe(
                "path with a fragment-like %23",
                "/x%23y",
                &[("authorization", &g)],
            ),
        ],
    )
    .deliberate(
        "lower-case bearer where a token may be missing",
        Part::Status,
        "`bearer` in lower case is refused",
    )
    .deliberate(
        "a space before the cookie's = where a token may be missing",
        Part::Status,
        "a cookie of that name only with whitespace around the name is refused",
    )
    .deliberate(
        "a quoted cookie",
        Part::Header("cookie".into()),
        "removes the token cookie too",
    )
}

/// One header read with its prefix in two cases: a value is the token of the location whose
/// prefix it holds as it is, never refused as the other's in another case.
fn prefix_in_two_cases() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "},
                             {"name": "authorization", "value_prefix": "bearer "}],
            "claim_to_headers": sub_header("x-jwt-sub")}))},
        "rules": [
            {"match": {"prefix": "/maybe"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let good = a_token(json!({}));
    let mut probes = Vec::new();
    for path in ["/", "/maybe"] {
        for prefix in ["Bearer ", "bearer ", "BEARER "] {
            probes.push(probe(
                format!("{prefix:?} on {path}"),
                path,
                &[("authorization", &format!("{prefix}{good}"))],
            ));
        }
    }
    Case::new("a prefix in two cases", config, probes).deliberate(
        "\"BEARER \" on /maybe",
        Part::Status,
        "a value holding the prefix only in another case is refused",
    )
}

/// One header read with its prefix in two cases by two providers: a value holding one is
/// passed over by the other only where the requirement reads both, so a token there is
/// verified; where it reads only the other, it is refused (jwt_authn lets it through
/// unverified when tokens may be missing).
fn prefix_in_two_cases_apart() -> Case {
    let config = json!({"providers": {
            "a": provider_a(json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                                   "forward": true, "claim_to_headers": sub_header("x-jwt-sub")})),
            "b": provider_b(json!({"from_headers": [{"name": "authorization", "value_prefix": "bearer "}],
                                   "forward": true, "claim_to_headers": sub_header("x-jwt-sub")}))},
        "rules": [
            {"match": {"prefix": "/b-or-none"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "b"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/either"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "b"}, {"provider_name": "a"}]}}},
            {"match": {"prefix": "/"}, "requires": {"allow_missing": {}}}]});
    let good = a_token(json!({}));
    let bad = forged(&good);
    let mut probes = Vec::new();
    for path in ["/", "/either", "/b-or-none"] {
        for (name, t) in [("good", &good), ("forged", &bad)] {
            probes.push(probe(
                format!("{name} after \"Bearer \" on {path}"),
                path,
                &[("authorization", &bearer(t))],
            ));
        }
    }
    Case::new("a prefix in two cases, two providers", config, probes).deliberate_each(
        &[
            "good after \"Bearer \" on /b-or-none",
            "forged after \"Bearer \" on /b-or-none",
        ],
        Part::Status,
        "a value holding the prefix only in another case is refused",
    )
}

/// requires_any, requires_all, allow_missing, allow_missing_or_failed over two providers.
fn requirements() -> Case {
    let a = a_token(json!({}));
    let a_expired = a_token(json!({"exp": now() - 3600, "iat": now() - 7200, "nbf": now() - 7200}));
    let a_other_aud = a_token(json!({"aud": "other"}));
    let b = b_token(json!({}));
    let b_bad = {
        let p: Vec<&str> = b.split('.').collect();
        let payload = jwtgate::b64_encode(
            claims_with(json!({"iss": ISSUER_B, "sub": "mallory"}))
                .to_string()
                .as_bytes(),
        );
        format!("{}.{payload}.{}", p[0], p[2])
    };
    let config = json!({
        "providers": {
            "a": provider_a(json!({"claim_to_headers": sub_header("x-a-sub")})),
            "b": provider_b(json!({"from_headers": [{"name": "x-b-token"}],
                                   "claim_to_headers": sub_header("x-b-sub")}))},
        "rules": [
            {"match": {"prefix": "/a"}, "requires": {"provider_name": "a"}},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "b"}]}}},
            {"match": {"prefix": "/all"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "b"}]}}},
            {"match": {"prefix": "/optional"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "a"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/failed"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/b-and-optional-a"}, "requires": {"requires_all": {"requirements": [
                {"requires_any": {"requirements": [{"provider_name": "a"}, {"allow_missing": {}}]}},
                {"provider_name": "b"}]}}},
            {"match": {"prefix": "/open"}}]});
    let tokens: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("none", vec![]),
        ("a", vec![("authorization", bearer(&a))]),
        ("a expired", vec![("authorization", bearer(&a_expired))]),
        (
            "a other audience",
            vec![("authorization", bearer(&a_other_aud))],
        ),
        ("b", vec![("x-b-token", b.clone())]),
        (
            "a + b",
            vec![("authorization", bearer(&a)), ("x-b-token", b.clone())],
        ),
        (
            "a + forged b",
            vec![("authorization", bearer(&a)), ("x-b-token", b_bad)],
        ),
        (
            "expired a + b",
            vec![
                ("authorization", bearer(&a_expired)),
                ("x-b-token", b.clone()),
            ],
        ),
        ("b in a's header", vec![("authorization", bearer(&b))]),
        ("garbage", vec![("authorization", "Bearer garbage".into())]),
        ("a in the query", vec![]),
    ];
    let mut probes = Vec::new();
    for path in [
        "/a",
        "/any",
        "/all",
        "/optional",
        "/missing",
        "/failed",
        "/b-and-optional-a",
        "/open",
    ] {
        for (name, headers) in &tokens {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let full = if *name == "a in the query" {
                format!("{path}?access_token={a}")
            } else {
                path.to_owned()
            };
            probes.push(probe(format!("{name} on {path}"), full, &headers));
        }
    }
    Case::new("requirements", config, probes)
        .deliberate(
            "a + forged b on /missing",
            Part::Status,
            "refuses the request when one fails",
        )
        .deliberate_each(
            &["a + forged b on /failed"],
            Part::Header("x-b-token".into()),
            "removes from the request every token it looked at",
        )
        .deliberate_each(
            &[
                "a expired on /failed",
                "a other audience on /failed",
                "expired a + b on /failed",
                "b in a's header on /failed",
                "garbage on /failed",
            ],
            Part::Header("authorization".into()),
            "a token that failed included",
        )
}

/// `requires_all` whose parts read the same places: a part that verified a token with a
/// provider that does not forward it takes the token out of the request, and the parts after
/// it no longer find it.
fn all_in_one_place() -> Case {
    let config = json!({"providers": {
            "f": provider_a(json!({"claim_to_headers": sub_header("x-f-sub")})),
            "t": provider_a(json!({"forward": true, "claim_to_headers": sub_header("x-t-sub")})),
            "no-space": provider_a(json!({"forward": true,
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer"}]}))},
        "rules": [
            {"match": {"prefix": "/ff"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "f"}, {"provider_name": "f"}]}}},
            {"match": {"prefix": "/ft"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "f"}, {"provider_name": "t"}]}}},
            {"match": {"prefix": "/tf"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "t"}, {"provider_name": "f"}]}}},
            {"match": {"prefix": "/f-missing"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "f"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/any-t"}, "requires": {"requires_all": {"requirements": [
                {"requires_any": {"requirements": [{"provider_name": "f"}, {"provider_name": "t"}]}},
                {"provider_name": "t"}]}}},
            {"match": {"prefix": "/f-no-space"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "f"}, {"provider_name": "no-space"}]}}},
            {"match": {"prefix": "/failed-missing"}, "requires": {"requires_all": {"requirements": [
                {"allow_missing_or_failed": {}}, {"allow_missing": {}}]}}}]});
    let good = a_token(json!({}));
    let g = bearer(&good);
    let mut probes = Vec::new();
    for path in ["/ff", "/ft", "/tf", "/f-missing", "/any-t", "/f-no-space"] {
        probes.push(probe(
            format!("in the header on {path}"),
            path,
            &[("authorization", &g)],
        ));
        probes.push(probe(
            format!("in the query on {path}"),
            format!("{path}?a=1&access_token={good}"),
            &[],
        ));
    }
    // A value of the parameter that did not verify is still there for the next part.
    let bad = forged(&good);
    probes.extend([
        probe(
            "forged, then valid, in the query on /failed-missing",
            format!("/failed-missing?access_token={bad}&access_token={good}"),
            &[],
        ),
        probe(
            "valid, then forged, in the query on /failed-missing",
            format!("/failed-missing?access_token={good}&access_token={bad}"),
            &[],
        ),
    ]);
    Case::new("requires_all over one place", config, probes)
        .deliberate_each(
            &["in the header on /f-missing", "in the query on /f-missing"],
            Part::Header("x-f-sub".into()),
            "jwtgate sends the claim headers of every token that verified",
        )
        .deliberate(
            "valid, then forged, in the query on /failed-missing",
            Part::Status,
            "each value of a repeated query parameter or cookie",
        )
}

/// `requires_any` whose first requirement fails after verifying a token it takes out: the
/// requirements after it no longer see that token.
fn any_after_a_failed_part() -> Case {
    let config = json!({"providers": {
            "b": provider_b(json!({})),
            "any-issuer": {"local_jwks": keys_of(&[p256_jwk()]),
                           "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}]}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "b"},
            {"requires_all": {"requirements": [
                {"provider_and_audiences": {"provider_name": "any-issuer", "audiences": ["other"]}},
                {"provider_name": "b"}]}}]}}}]});
    let (good, other) = (b_token(json!({})), b_token(json!({"aud": "other"})));
    Case::new(
        "requires_any after a failed requirement",
        config,
        vec![
            probe(
                "another audience in the header, valid in the query",
                format!("/?access_token={good}"),
                &[("authorization", &bearer(&other))],
            ),
            probe(
                "valid in the header and the query",
                format!("/?access_token={good}"),
                &[("authorization", &bearer(&good))],
            ),
        ],
    )
}

/// A `requires_all` part that takes a token out takes its whole header, every line whatever its
/// prefix, and its whole parameter when the first value verified: a later part finds no token
/// there, and is not met by another that left with it.
fn requires_all_takes_the_whole_place() -> Case {
    let config = json!({"providers": {
            "a": provider_a(json!({"from_headers": [{"name": "x-jwt", "value_prefix": "A "}],
                                   "from_params": ["t"], "claim_to_headers": sub_header("x-a-sub")})),
            "c": provider_b(json!({"from_headers": [{"name": "x-jwt", "value_prefix": "C "}],
                                   "forward": true, "claim_to_headers": sub_header("x-c-sub")}))},
        "rules": [
            {"match": {"prefix": "/ac"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "c"}]}}},
            {"match": {"prefix": "/a-missing"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/a-c-or-none"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "a"},
                {"requires_any": {"requirements": [{"provider_name": "c"}, {"allow_missing": {}}]}}]}}},
            {"match": {"prefix": "/failed-other"}, "requires": {"requires_all": {"requirements": [
                {"allow_missing_or_failed": {}},
                {"provider_and_audiences": {"provider_name": "a", "audiences": ["other"]}}]}}}]});
    let (a, c) = (a_token(json!({})), b_token(json!({})));
    let other = a_token(json!({"aud": "other"}));
    let (la, lc, lf) = (
        format!("A {a}"),
        format!("C {c}"),
        format!("C {}", forged(&c)),
    );
    let probes = vec![
        probe(
            "a and c lines on /ac",
            "/ac",
            &[("x-jwt", &la), ("x-jwt", &lc)],
        ),
        probe(
            "c and a lines on /ac",
            "/ac",
            &[("x-jwt", &lc), ("x-jwt", &la)],
        ),
        probe(
            "a and c lines on /a-missing",
            "/a-missing",
            &[("x-jwt", &la), ("x-jwt", &lc)],
        ),
        probe(
            "a and forged c lines on /a-missing",
            "/a-missing",
            &[("x-jwt", &la), ("x-jwt", &lf)],
        ),
        probe(
            "a and c lines on /a-c-or-none",
            "/a-c-or-none",
            &[("x-jwt", &la), ("x-jwt", &lc)],
        ),
        probe(
            "a and forged c lines on /a-c-or-none",
            "/a-c-or-none",
            &[("x-jwt", &la), ("x-jwt", &lf)],
        ),
        probe(
            "valid, then another audience, on /failed-other",
            format!("/failed-other?t={a}&t={other}"),
            &[],
        ),
        probe(
            "another audience, then valid, on /failed-other",
            format!("/failed-other?t={other}&t={a}"),
            &[],
        ),
    ];
    Case::new("requires_all takes the whole place", config, probes)
        .deliberate_each(
            &[
                "a and forged c lines on /a-missing",
                "a and forged c lines on /a-c-or-none",
            ],
            Part::Status,
            "must still verify where a later part looks",
        )
        .deliberate(
            "a and c lines on /a-missing",
            Part::Header("x-a-sub".into()),
            "jwtgate sends the claim headers of every token that verified",
        )
        .deliberate(
            "another audience, then valid, on /failed-other",
            Part::Header("x-a-sub".into()),
            "each value of a repeated query parameter or cookie",
        )
}

/// `allow_missing` and `allow_missing_or_failed` take a token's provider by its issuer, wherever
/// that provider reads: here `named`, the only provider naming [`ISSUER`], for a token of that
/// issuer at the default places of `open`, which names none, or at `open-ec`'s header.
fn allow_missing_by_issuer() -> Case {
    let config = json!({"providers": {
            "open": {"audiences": [], "local_jwks": keys_of(&[rsa_jwk()]),
                     "claim_to_headers": sub_header("x-open-sub")},
            "open-ec": {"local_jwks": keys_of(&[p256_jwk()]), "from_headers": [{"name": "x-token"}]},
            "named": provider_a(json!({"from_headers": [{"name": "x-jwt", "value_prefix": "JWT "}],
                "forward": true, "claim_to_headers": sub_header("x-named-sub")}))},
        "rules": [
            {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/failed"}, "requires": {"allow_missing_or_failed": {}}}]});
    let good = a_token(json!({}));
    let other_aud = a_token(json!({"aud": "other"}));
    let mut probes = Vec::new();
    for path in ["/missing", "/failed"] {
        probes.extend([
            probe(
                format!("valid in the header on {path}"),
                path,
                &[("authorization", &bearer(&good))],
            ),
            probe(
                format!("another audience in the query on {path}"),
                format!("{path}?access_token={other_aud}"),
                &[],
            ),
            probe(
                format!("valid where only a provider without its key reads on {path}"),
                path,
                &[("x-token", &good)],
            ),
        ]);
    }
    Case::new("allow_missing takes the provider by issuer", config, probes).deliberate(
        "another audience in the query on /failed",
        Part::Path,
        "a token that failed included",
    )
}

/// Rule matches beyond prefix and path.
fn route_matches() -> Case {
    let good = bearer(&a_token(json!({})));
    let config = json!({"providers": {"a": provider_a(json!({}))},
        "rules": [
            {"match": {"prefix": "/", "headers": [{"name": "x-open", "string_match": {"exact": "yes"}}]}},
            {"match": {"prefix": "/", "headers": [{"name": "x-present", "present_match": true}]}},
            {"match": {"prefix": "/", "headers": [{"name": "x-not-closed", "string_match": {"exact": "closed"}, "invert_match": true}, {"name": "x-inv", "present_match": true}]}},
            {"match": {"prefix": "/", "query_parameters": [{"name": "open", "string_match": {"exact": "1"}}]}},
            {"match": {"prefix": "/", "query_parameters": [{"name": "flag", "present_match": true}]}},
            {"match": {"safe_regex": {"regex": "/re/[a-z]+"}}},
            {"match": {"path_separated_prefix": "/docs"}},
            {"match": {"prefix": "/CI", "case_sensitive": false}},
            {"match": {"path": "/Exact"}},
            {"match": {"path": "/loose", "case_sensitive": false}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let p = |name: &str, path: &str, headers: &[(&str, &str)]| probe(name, path, headers);
    Case::new(
        "route matches",
        config,
        vec![
            p("protected", "/x", &[]),
            p("protected with a token", "/x", &[("authorization", &good)]),
            p("header exact", "/x", &[("x-open", "yes")]),
            p("header exact, other value", "/x", &[("x-open", "no")]),
            p("header exact, other case", "/x", &[("x-open", "YES")]),
            p("header present", "/x", &[("x-present", "")]),
            p(
                "header inverted",
                "/x",
                &[("x-not-closed", "open"), ("x-inv", "1")],
            ),
            p(
                "header inverted, value",
                "/x",
                &[("x-not-closed", "closed"), ("x-inv", "1")],
            ),
            p("header inverted, absent", "/x", &[("x-inv", "1")]),
            p("query exact", "/x?open=1", &[]),
            p("query exact among others", "/x?a=b&open=1", &[]),
            p("query other value", "/x?open=2", &[]),
            p("query encoded", "/x?open=%31", &[]),
            p("query twice", "/x?open=2&open=1", &[]),
            p("query present", "/x?flag", &[]),
            p("query present, empty", "/x?flag=", &[]),
            p("regex", "/re/abc", &[]),
            p("regex, whole path only", "/re/abc1", &[]),
            p("regex with a query", "/re/abc?x=1", &[]),
            p("separated prefix itself", "/docs", &[]),
            p("separated prefix, below", "/docs/a", &[]),
            p("separated prefix, longer word", "/docsx", &[]),
            p("separated prefix, query", "/docs?x", &[]),
            p("separated prefix, fragment", "/docs#x", &[]),
            p("caseless prefix", "/ci/x", &[]),
            p("caseless prefix, mixed", "/cI", &[]),
            p("exact path", "/Exact", &[]),
            p("exact path, other case", "/exact", &[]),
            p("exact path with a query", "/Exact?x=1", &[]),
            p("caseless path", "/LOOSE", &[]),
            p("caseless path, longer", "/loose/x", &[]),
        ],
    )
}

/// Provider `a`'s token for each value of `claim`, sent to each path.
fn claim_grid(claim: &str, paths: &[&str], values: &[(&str, Value)]) -> Vec<Probe> {
    let mut probes = Vec::new();
    for path in paths {
        for (name, value) in values {
            let t = bearer(&a_token(json!({ claim: value })));
            probes.push(probe(
                format!("{name} on {path}"),
                *path,
                &[("authorization", &t)],
            ));
        }
    }
    probes
}

/// `subjects`, a string matcher on `sub`.
fn subjects() -> Case {
    let config = json!({"providers": {
            "prefix": provider_a(json!({"subjects": {"prefix": "spiffe://example.org/"}})),
            "exact": provider_a(json!({"subjects": {"exact": "Alice", "ignore_case": true}})),
            "regex": provider_a(json!({"subjects": {"safe_regex": {"regex": "user-[0-9]+"}}})),
            "suffix": provider_a(json!({"subjects": {"suffix": "@example.org"}})),
            "contains": provider_a(json!({"subjects": {"contains": "team"}}))},
        "rules": [
            {"match": {"prefix": "/prefix"}, "requires": {"provider_name": "prefix"}},
            {"match": {"prefix": "/exact"}, "requires": {"provider_name": "exact"}},
            {"match": {"prefix": "/regex"}, "requires": {"provider_name": "regex"}},
            {"match": {"prefix": "/suffix"}, "requires": {"provider_name": "suffix"}},
            {"match": {"prefix": "/contains"}, "requires": {"provider_name": "contains"}}]});
    let subs: Vec<(&str, Value)> = vec![
        ("spiffe", json!("spiffe://example.org/ns/a")),
        ("other spiffe", json!("spiffe://other.org/ns/a")),
        ("Alice", json!("Alice")),
        ("ALICE", json!("ALICE")),
        ("user-12", json!("user-12")),
        ("user-12x", json!("user-12x")),
        ("mail", json!("eve@example.org")),
        ("team", json!("a-team-b")),
        ("no sub", Value::Null),
        ("numeric sub", json!(12)),
    ];
    let probes = claim_grid(
        "sub",
        &["/prefix", "/exact", "/regex", "/suffix", "/contains"],
        &subs,
    );
    Case::new("subjects", config, probes)
}

/// `provider_and_audiences` overrides the provider's audiences.
fn provider_and_audiences() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({}))},
        "rules": [
            {"match": {"prefix": "/other"}, "requires": {"provider_and_audiences":
                {"provider_name": "a", "audiences": ["other"]}}},
            {"match": {"prefix": "/none"}, "requires": {"provider_and_audiences":
                {"provider_name": "a"}}},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_and_audiences": {"provider_name": "a", "audiences": ["x"]}},
                {"provider_and_audiences": {"provider_name": "a", "audiences": ["y"]}}]}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let auds: Vec<(&str, Value)> = vec![
        ("api", json!("api")),
        ("other", json!("other")),
        ("both", json!(["api", "other"])),
        ("y", json!("y")),
        ("no aud", Value::Null),
    ];
    let probes = claim_grid("aud", &["/other", "/none", "/any", "/"], &auds);
    Case::new("provider_and_audiences", config, probes)
}

/// Audiences as jwt_authn compares them: scheme and trailing slash ignored.
fn audience_forms() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({
            "audiences": ["https://api", "api2/", "http://api3/"]}))},
        "rules": everything_to("a")});
    let auds = [
        "api",
        "https://api",
        "https://api/",
        "http://api",
        "api/",
        "API",
        "api2",
        "api2/",
        "https://api2",
        "https://api2/",
        "api3",
        "https://api3",
        "http://api3/",
        "api3//",
        "ftp://api",
        "https://api/x",
    ];
    let mut probes: Vec<Probe> = auds
        .iter()
        .map(|aud| {
            let t = bearer(&a_token(json!({ "aud": aud })));
            probe(format!("aud {aud}"), "/", &[("authorization", &t)])
        })
        .collect();
    // jwt_authn reads the audience of a token before its signature.
    let other = a_token(json!({"aud": "other"}));
    let unknown_kid = token_raw(
        Algorithm::RS256,
        r#"{"alg":"RS256","kid":"nobody"}"#,
        &claims_with(json!({"aud": "other"})).to_string(),
    );
    probes.extend([
        probe(
            "another audience, forged",
            "/",
            &[(
                "authorization",
                &bearer(&forged_with(&other, json!({"aud": "other"}))),
            )],
        ),
        probe(
            "another audience, unknown kid",
            "/",
            &[("authorization", &bearer(&unknown_kid))],
        ),
    ]);
    Case::new("audience forms", config, probes).deliberate_each(
        &["another audience, forged", "another audience, unknown kid"],
        Part::Status,
        "checks a token's audience before its signature",
    )
}

/// claim_to_headers of every JSON type, and the payload header with and without padding.
fn claim_headers() -> Case {
    let claims = [
        ("x-c-str", "str"),
        ("x-c-int", "int"),
        ("x-c-neg", "neg"),
        ("x-c-big", "big"),
        ("x-c-float", "float"),
        ("x-c-true", "yes"),
        ("x-c-false", "no"),
        ("x-c-null", "nothing"),
        ("x-c-empty", "empty"),
        ("x-c-comma", "comma"),
        ("x-c-array", "list"),
        ("x-c-mixed", "mixed"),
        ("x-c-object", "obj"),
        ("x-c-nested", "obj.k"),
        ("x-c-nested-num", "obj.n"),
        ("x-c-deep", "obj.inner.deep"),
        ("x-c-through-array", "list.0"),
        ("x-c-missing", "absent"),
        ("x-c-missing-nested", "obj.absent"),
        ("x-c-dotted", "dotted.name"),
    ];
    let mut to_headers: Vec<Value> = claims
        .iter()
        .map(|(h, c)| json!({"header_name": h, "claim_name": c}))
        .collect();
    // claim_path (Envoy 1.40) names each key as it is, dots and all.
    to_headers.extend([
        json!({"header_name": "x-p-dotted", "claim_path": [{"key": "dotted.name"}]}),
        json!({"header_name": "x-p-nested", "claim_path": [{"key": "obj"}, {"key": "k"}]}),
        json!({"header_name": "x-p-deep",
               "claim_path": [{"key": "obj"}, {"key": "inner"}, {"key": "deep"}]}),
        json!({"header_name": "x-p-missing", "claim_path": [{"key": "obj"}, {"key": "absent"}]}),
    ]);
    let config = json!({"providers": {
            "pad": provider_a(json!({"claim_to_headers": to_headers,
                "forward_payload_header": "x-payload", "pad_forward_payload_header": true})),
            "nopad": provider_a(json!({"forward_payload_header": "x-payload-raw"}))},
        "rules": [
            {"match": {"prefix": "/pad"}, "requires": {"provider_name": "pad"}},
            {"match": {"prefix": "/nopad"}, "requires": {"provider_name": "nopad"}},
            {"match": {"prefix": "/open"}}]});
    // The payload's length is picked, by the `pad` claim, so that its base64url needs padding.
    let full = ["", "x", "xx"]
        .iter()
        .map(|pad| {
            a_token(
                json!({"str": "s v", "int": 42, "neg": -7, "big": 12345678901234567u64,
                "float": 1.5, "yes": true, "no": false, "nothing": null, "empty": "",
                "comma": "a,b", "list": ["a", "b"], "mixed": ["a", 1, true, {"k": "v"}],
                "obj": {"k": "v", "n": 3, "inner": {"deep": "d"}}, "dotted.name": "flat",
                "pad": pad}),
            )
        })
        .find(|t| unb64(t.split('.').nth(1).unwrap()).len() % 3 != 0)
        .unwrap();
    let plain = a_token(json!({}));
    let f = bearer(&full);
    Case::new(
        "claim headers",
        config,
        vec![
            probe("every type", "/pad", &[("authorization", &f)]),
            probe("no padding", "/nopad", &[("authorization", &f)]),
            probe(
                "a client's claim headers, the token lacks the claims",
                "/pad",
                &[
                    ("authorization", &bearer(&plain)),
                    ("x-c-str", "forged"),
                    ("x-c-missing", "forged"),
                    ("x-payload-raw", "forged"),
                ],
            ),
            probe(
                "a client's claim headers, no token, open path",
                "/open",
                &[("x-c-str", "forged"), ("x-payload", "forged")],
            ),
        ],
    )
}

/// jwtgate requires `exp` unless told otherwise.
fn expiration() -> Case {
    let config = json!({"providers": {
            "default": provider_a(json!({})),
            "explicit": provider_a(json!({"require_expiration": false}))},
        "rules": [
            {"match": {"prefix": "/explicit"}, "requires": {"provider_name": "explicit"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "default"}}]});
    let no_exp = bearer(&a_token(json!({"exp": null})));
    Case::new(
        "expiration",
        config,
        vec![
            probe("no exp", "/", &[("authorization", &no_exp)]),
            probe(
                "no exp, require_expiration false",
                "/explicit",
                &[("authorization", &no_exp)],
            ),
        ],
    )
    .deliberate(
        "no exp",
        Part::Status,
        "`require_expiration` defaults to **true**",
    )
}

/// `max_lifetime` and `clock_skew_seconds`.
fn lifetimes() -> Case {
    let config = json!({"providers": {
            "life": provider_a(json!({"max_lifetime": "300s"})),
            "skew": provider_a(json!({"clock_skew_seconds": 5})),
            "no-skew": provider_a(json!({"clock_skew_seconds": 0, "require_expiration": false}))},
        "rules": [
            {"match": {"prefix": "/life"}, "requires": {"provider_name": "life"}},
            {"match": {"prefix": "/skew"}, "requires": {"provider_name": "skew"}},
            {"match": {"prefix": "/no-skew"}, "requires": {"provider_name": "no-skew"}}]});
    let n = now();
    let exps: Vec<(&str, Value)> = vec![
        ("exp in 10 minutes", json!({"exp": n + 600})),
        ("exp in 200 s", json!({"exp": n + 200})),
        // max_lifetime bounds the time left until exp, not exp - iat: this one passes both.
        (
            "issued 1000 s ago, exp in 200 s",
            json!({"iat": n - 1000, "exp": n + 200}),
        ),
        ("no exp", json!({"exp": null})),
        ("expired 30 s ago", json!({"exp": n - 30})),
        ("nbf in 30 s", json!({"nbf": n + 30})),
    ];
    let mut probes = Vec::new();
    for path in ["/life", "/skew", "/no-skew"] {
        for (name, changes) in &exps {
            let t = bearer(&a_token(changes.clone()));
            probes.push(probe(
                format!("{name} on {path}"),
                path,
                &[("authorization", &t)],
            ));
        }
    }
    Case::new("max_lifetime and clock_skew_seconds", config, probes)
        .deliberate(
            "no exp on /skew",
            Part::Status,
            "`require_expiration` defaults to **true**",
        )
        .deliberate_each(
            &["expired 30 s ago on /no-skew", "nbf in 30 s on /no-skew"],
            Part::Status,
            "`0` is no skew",
        )
}

/// Tokens in cookies.
fn cookies() -> Case {
    let good = a_token(json!({}));
    let bad = forged(&good);
    let config = json!({"providers": {"a": provider_a(json!({
            "from_cookies": ["session"], "claim_to_headers": sub_header("x-jwt-sub")}))},
        "rules": everything_to("a")});
    let cookie = |name: &str, value: String| probe(name, "/", &[("cookie", &value)]);
    Case::new(
        "from_cookies",
        config,
        vec![
            probe("no cookie", "/", &[]),
            cookie("valid", format!("session={good}")),
            cookie("valid among others", format!("a=1; session={good}; b=2")),
            cookie("forged", format!("session={bad}")),
            cookie(
                "valid, then forged",
                format!("session={good}; session={bad}"),
            ),
            cookie("garbage", "session=garbage".to_owned()),
            // Envoy's cookie parser skips spaces before a name and takes the rest as it is.
            cookie("a space before the =", format!("session ={good}")),
            cookie("a space after the =", format!("session= {good}")),
            cookie("spaces after the value", format!("session={good} ; b=2")),
            cookie("a tab after the value", format!("session={good}\t; b=2")),
            // Other whitespace after it is part of the token, which fails.
            cookie(
                "a no-break space after the value",
                format!("session={good}\u{a0}; b=2"),
            ),
            cookie(
                "an ideographic space at the end",
                format!("session={good}\u{3000}"),
            ),
            cookie("a tab before the name", format!("a=1;\tsession={good}")),
            cookie("spaces before the name", format!("a=1;  session={good}")),
            probe(
                "a bearer header is not looked at",
                "/",
                &[("authorization", &bearer(&good))],
            ),
        ],
    )
    .deliberate_each(
        &[
            "valid",
            "valid among others",
            "spaces before the name",
            "spaces after the value",
            "a tab after the value",
        ],
        Part::Header("cookie".into()),
        "removes the token cookie too",
    )
    .deliberate(
        "valid, then forged",
        Part::Status,
        "each value of a repeated query parameter or cookie",
    )
}

/// `jwt_max_token_size` below the size of the token: the token is verified, not cached.
fn max_token_size() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({
            "jwt_cache_config": {"jwt_cache_size": 10, "jwt_max_token_size": 100}}))},
        "rules": everything_to("a")});
    let good = bearer(&a_token(json!({})));
    let twice = |name: &str| probe(name, "/", &[("authorization", &good)]);
    Case::new(
        "jwt_max_token_size below the token",
        config,
        vec![
            twice("a valid token longer than the size"),
            twice("the same token again"),
        ],
    )
}

/// Routes chosen on a claim header, with and without `clear_route_cache`.
fn route_cache() -> Case {
    let config = json!({"providers": {
            "clear": provider_a(json!({"clear_route_cache": true,
                "claim_to_headers": sub_header("x-jwt-sub")})),
            "keep": provider_a(json!({"claim_to_headers": sub_header("x-jwt-sub")}))},
        "rules": [
            {"match": {"prefix": "/clear"}, "requires": {"provider_name": "clear"}},
            {"match": {"prefix": "/keep"}, "requires": {"provider_name": "keep"}}]});
    // Alice's requests go to a route of their own, which answers 203 itself.
    let routes = json!([
        {"match": {"prefix": "/", "headers": [{"name": "x-jwt-sub", "string_match": {"exact": "alice"}}]},
         "direct_response": {"status": 203, "body": {"inline_string": "alice's route"}}},
        {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]);
    let (alice, bob) = (
        bearer(&a_token(json!({}))),
        bearer(&a_token(json!({"sub": "bob"}))),
    );
    let mut probes = Vec::new();
    for path in ["/clear", "/keep"] {
        probes.push(probe(
            format!("alice on {path}"),
            path,
            &[("authorization", &alice)],
        ));
        probes.push(probe(
            format!("bob on {path}"),
            path,
            &[("authorization", &bob)],
        ));
        probes.push(probe(
            format!("bob claiming to be alice on {path}"),
            path,
            &[("authorization", &bob), ("x-jwt-sub", "alice")],
        ));
    }
    Case::new("clear_route_cache", config, probes)
        .routes(routes)
        .deliberate(
            "alice on /keep",
            Part::Status,
            "the route always follows the verified claim headers",
        )
        .deliberate(
            "bob claiming to be alice on /keep",
            Part::Status,
            "the route always follows the verified claim headers",
        )
}

/// Header matchers on a header the request lacks, sent empty, or sent twice: what
/// `treat_missing_header_as_empty`, `present_match: false` and `range_match` make of them.
fn header_matchers_at_the_edges() -> Case {
    let h = |rule: Value| {
        json!({"name": "x-h"})
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain(rule.as_object().unwrap().clone())
            .collect::<serde_json::Map<_, _>>()
    };
    let open = |path: &str, rule: Value| json!({"match": {"path": path, "headers": [h(rule)]}});
    let config = json!({"providers": {"a": provider_a(json!({}))},
        "rules": [
            open("/pm", json!({"present_match": true, "treat_missing_header_as_empty": true})),
            open("/pa", json!({"present_match": false})),
            open("/pae", json!({"present_match": false, "treat_missing_header_as_empty": true})),
            open("/pi", json!({"present_match": true, "invert_match": true})),
            open("/pie", json!({"present_match": true, "invert_match": true, "treat_missing_header_as_empty": true})),
            open("/ee", json!({"string_match": {"exact": ""}, "treat_missing_header_as_empty": true})),
            open("/e", json!({"string_match": {"exact": ""}})),
            open("/ie", json!({"string_match": {"exact": "v"}, "invert_match": true, "treat_missing_header_as_empty": true})),
            open("/i", json!({"string_match": {"exact": "v"}, "invert_match": true})),
            open("/r", json!({"range_match": {"start": 0, "end": 10}})),
            open("/re", json!({"range_match": {"start": 0, "end": 10}, "treat_missing_header_as_empty": true})),
            open("/j", json!({"string_match": {"exact": "a,b"}})),
            open("/k1", json!({"string_match": {"exact": "a"}})),
            open("/k2", json!({"string_match": {"exact": "b"}})),
            open("/k3", json!({"string_match": {"exact": "a, b"}})),
            open("/k4", json!({"string_match": {"contains": "b"}})),
            open("/k5", json!({"string_match": {"suffix": "b"}})),
            open("/k6", json!({"present_match": true})),
            open("/k7", json!({"string_match": {"prefix": "a,"}})),
            open("/k8", json!({"safe_regex_match": {"regex": "a"}})),
            open("/k9", json!({"string_match": {"exact": "v"}, "invert_match": true})),
            open("/k10", json!({"string_match": {"safe_regex": {"regex": "[ab]"}}})),
            // `host` is `:authority` to Envoy's matcher: a guarded rule on it, then an open one.
            {"match": {"path": "/host", "headers": [{"name": "Host", "string_match": {"prefix": "127.0.0.1:"}}]},
             "requires": {"provider_name": "a"}},
            {"match": {"path": "/host"}},
            {"match": {"path": "/authority", "headers": [{"name": ":authority", "present_match": true}]}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let mut probes = vec![
        probe("host, no token", "/host", &[]),
        probe(
            "host, a token",
            "/host",
            &[("authorization", &bearer(&a_token(json!({}))))],
        ),
        probe(":authority, no token", "/authority", &[]),
    ];
    for path in [
        "/pm", "/pa", "/pae", "/pi", "/pie", "/ee", "/e", "/ie", "/i", "/r", "/re", "/j", "/k1",
        "/k2", "/k3", "/k4", "/k5", "/k6", "/k7", "/k8", "/k9", "/k10",
    ] {
        probes.push(probe(format!("{path} without the header"), path, &[]));
        probes.push(probe(format!("{path} with it empty"), path, &[("x-h", "")]));
        probes.push(probe(format!("{path} with v"), path, &[("x-h", "v")]));
        probes.push(probe(format!("{path} with 5"), path, &[("x-h", "5")]));
        probes.push(probe(
            format!("{path} with a and b"),
            path,
            &[("x-h", "a"), ("x-h", "b")],
        ));
        probes.push(probe(
            format!("{path} with v and w"),
            path,
            &[("x-h", "v"), ("x-h", "w")],
        ));
        probes.push(probe(
            format!("{path} with 5 and 50"),
            path,
            &[("x-h", "5"), ("x-h", "50")],
        ));
        probes.push(probe(format!("{path} with a,b"), path, &[("x-h", "a,b")]));
    }
    Case::new("header matchers at the edges", config, probes)
}

/// A parameter and a cookie named "", which jwt_authn takes: `?=<token>` and `Cookie:
/// =<token>` are tokens there.
fn a_parameter_without_a_name() -> Case {
    let good = a_token(json!({}));
    let bad = forged(&good);
    let config = json!({"providers": {"a": provider_a(json!({"from_params": [""], "from_cookies": [""]}))},
        "rules": [{"match": {"prefix": "/maybe"}, "requires": {"allow_missing": {}}},
                  {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let mut probes = Vec::new();
    for path in ["/", "/maybe"] {
        for (name, query) in [
            ("good", format!("={good}")),
            ("forged", format!("={bad}")),
            ("forged after another", format!("a=1&={bad}")),
            ("good, no =", good.clone()),
            ("empty pairs", "&&".to_owned()),
            ("one empty pair", "&".to_owned()),
            ("a trailing &", format!("x={bad}&")),
            ("nothing after ?", String::new()),
        ] {
            probes.push(probe(
                format!("{name} on {path}"),
                format!("{path}?{query}"),
                &[],
            ));
        }
    }
    for (name, cookie) in [
        ("cookie, good", format!("={good}")),
        ("cookie, forged", format!("={bad}")),
        ("cookie, forged after another", format!("a=1; ={bad}")),
        ("cookie, no =", bad.clone()),
    ] {
        probes.push(probe(name, "/maybe", &[("cookie", &cookie)]));
    }
    Case::new("from_params with an empty name", config, probes).deliberate(
        "cookie, good",
        Part::Header("cookie".into()),
        "removes the token cookie too",
    )
}

/// A query token with percent-encoded whitespace after it: `jwt_authn` decodes it and its
/// base64 decoder passes over it; jwtgate takes the decoded value as it is, which fails.
fn query_token_with_encoded_space() -> Case {
    let good = a_token(json!({}));
    let config = json!({"providers": {"a": provider_a(json!({}))}, "rules": everything_to("a")});
    let tails = ["%20", "%09", "%0A", "%0D", "+", "%20%20", "%0B", "%0C"];
    Case::new(
        "query token with encoded whitespace",
        config,
        tails
            .iter()
            .map(|t| {
                probe(
                    format!("then {t}"),
                    format!("/?access_token={good}{t}"),
                    &[],
                )
            })
            .collect(),
    )
    .deliberate_each(
        &[
            "then %20",
            "then %09",
            "then %0A",
            "then %0D",
            "then %20%20",
            "then %0B",
            "then %0C",
        ],
        Part::Status,
        "a token followed by percent-encoded whitespace",
    )
}

/// CORS preflight requests.
fn cors() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({}))},
        "rules": everything_to("a"), "bypass_cors_preflight": true});
    let mut preflight = probe(
        "preflight",
        "/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    preflight.method = "OPTIONS";
    let mut no_origin = probe("OPTIONS without origin", "/x", &[]);
    no_origin.method = "OPTIONS";
    // jwt_authn bypasses only the method exactly `OPTIONS` with both headers non-empty.
    let mut lower = probe(
        "preflight with the method in lower case",
        "/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    lower.method = "options";
    let mut empty_origin = probe(
        "preflight with an empty origin",
        "/x",
        &[("origin", ""), ("access-control-request-method", "GET")],
    );
    empty_origin.method = "OPTIONS";
    let mut empty_method = probe(
        "preflight with an empty access-control-request-method",
        "/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", ""),
        ],
    );
    empty_method.method = "OPTIONS";
    Case::new(
        "bypass_cors_preflight",
        config,
        vec![preflight, no_origin, lower, empty_origin, empty_method],
    )
}

/// A harmless top-level or provider field: the same decisions with it as without.
fn harmless(name: &'static str, top: Value, provider: Value) -> Case {
    let config = merge(
        json!({"providers": {"a": provider_a(provider)}, "rules": everything_to("a")}),
        top,
    );
    let good = bearer(&a_token(json!({})));
    Case::new(
        name,
        config,
        vec![
            probe("valid", "/", &[("authorization", &good)]),
            probe("no token", "/", &[]),
            probe("garbage", "/", &[("authorization", "Bearer garbage")]),
        ],
    )
}

/// Keys fetched through a cluster (the test's key server, cluster `jwks`), with the fetch
/// options jwt_authn has.
fn remote(name: &'static str, extra: Value) -> Case {
    let remote = merge(
        json!({"http_uri": {"uri": "http://keys.example/jwks.json", "cluster": "jwks",
                            "timeout": "2s"}, "cache_duration": "300s"}),
        extra,
    );
    let provider = json!({"issuer": ISSUER, "audiences": [AUDIENCE], "remote_jwks": remote,
                          "claim_to_headers": sub_header("x-jwt-sub")});
    let config = json!({"providers": {"a": provider}, "rules": everything_to("a")});
    let unknown_kid = token_raw(
        Algorithm::ES256,
        r#"{"alg":"ES256","kid":"nobody"}"#,
        &claims().to_string(),
    );
    Case::new(
        name,
        config,
        vec![
            probe(
                "valid RS256",
                "/",
                &[("authorization", &bearer(&a_token(json!({}))))],
            ),
            probe(
                "valid ES256",
                "/",
                &[(
                    "authorization",
                    &bearer(&token(Algorithm::ES256, &claims())),
                )],
            ),
            probe(
                "unknown kid",
                "/",
                &[("authorization", &bearer(&unknown_kid))],
            ),
            probe(
                "forged",
                "/",
                &[("authorization", &bearer(&forged(&a_token(json!({})))))],
            ),
            probe("no token", "/", &[]),
        ],
    )
}

/// `requirement_map`, named from a rule and from the route's per-route configuration.
fn requirement_map() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({})), "b": provider_b(json!({}))},
        "requirement_map": {"need-a": {"provider_name": "a"}, "need-b": {"provider_name": "b"}},
        "rules": [
            {"match": {"prefix": "/rule-b"}, "requirement_name": "need-b"},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]});
    let per_route = |name: &str, per: Value| {
        json!({"match": {"prefix": name}, "route": {"cluster": "upstream"},
            "typed_per_filter_config": {"envoy.filters.http.jwt_authn": merge(json!({
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"}),
                per.clone())},
            // jwtgate reads the same choice from the route's metadata (examples/envoy/README.md).
            "metadata": {"filter_metadata": {"jwtgate": per}}})
    };
    let routes = json!([
        per_route("/route-b", json!({"requirement_name": "need-b"})),
        per_route("/route-off", json!({"disabled": true})),
        {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]);
    let (a, b) = (bearer(&a_token(json!({}))), bearer(&b_token(json!({}))));
    let mut probes = Vec::new();
    for path in ["/rule-b", "/route-b", "/route-off", "/other"] {
        probes.push(probe(format!("none on {path}"), path, &[]));
        probes.push(probe(
            format!("a on {path}"),
            path,
            &[("authorization", &a)],
        ));
        probes.push(probe(
            format!("b on {path}"),
            path,
            &[("authorization", &b)],
        ));
    }
    Case::new("requirement_map", config, probes).routes(routes)
}

/// A route that turns the check off, in a configuration without `requirement_map`.
fn disabled_route() -> Case {
    let config = json!({"providers": {"a": provider_a(json!({}))}, "rules": everything_to("a")});
    let per = json!({"disabled": true});
    let routes = json!([
        {"match": {"prefix": "/off"}, "route": {"cluster": "upstream"},
         "typed_per_filter_config": {"envoy.filters.http.jwt_authn": merge(json!({
             "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"}),
             per.clone())},
         "metadata": {"filter_metadata": {"jwtgate": per}}},
        {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]);
    Case::new(
        "per-route disabled without requirement_map",
        config,
        vec![
            probe("no token on /off", "/off", &[]),
            probe("no token on /on", "/on", &[]),
        ],
    )
    .routes(routes)
    .deliberate(
        "no token on /off",
        Part::Status,
        "is read only when `requirement_map` is set",
    )
}

fn cases() -> Vec<Case> {
    vec![
        two_headers(),
        header_and_query(false),
        header_and_query(true),
        requirements(),
        all_in_one_place(),
        prefix_in_two_cases(),
        prefix_in_two_cases_apart(),
        requires_all_takes_the_whole_place(),
        allow_missing_by_issuer(),
        any_after_a_failed_part(),
        extraction(),
        shared_locations(),
        route_matches(),
        header_matchers_at_the_edges(),
        a_parameter_without_a_name(),
        query_token_with_encoded_space(),
        subjects(),
        provider_and_audiences(),
        audience_forms(),
        claim_headers(),
        expiration(),
        cors(),
        route_cache(),
        lifetimes(),
        cookies(),
        max_token_size(),
        requirement_map(),
        remote("remote_jwks", json!({})),
        remote(
            "remote_jwks with async_fetch and retry_policy",
            json!({"async_fetch": {"fast_listener": false, "failed_refetch_duration": "1s"},
                   "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "0.5s",
                                    "max_interval": "5s"}, "retry_on": "5xx,gateway-error"}}),
        ),
        disabled_route(),
        harmless("stat_prefix", json!({"stat_prefix": "parity"}), json!({})),
        harmless(
            "local_jwks.inline_bytes",
            json!({}),
            json!({"local_jwks": {"inline_bytes": <base64ct::Base64 as base64ct::Encoding>::encode_string(
                json!({"keys": [rsa_jwk()]}).to_string().as_bytes())}}),
        ),
        harmless(
            "strip_failure_response",
            json!({"strip_failure_response": true}),
            json!({}),
        ),
        harmless(
            "jwt_cache_config",
            json!({}),
            json!({"jwt_cache_config": {"jwt_cache_size": 10, "jwt_max_token_size": 4096}}),
        ),
        harmless(
            "clear_route_cache",
            json!({}),
            json!({"clear_route_cache": true}),
        ),
        // proto3: an empty string is the field left out, as jwt_authn reads it.
        harmless(
            "forward_payload_header empty",
            json!({}),
            json!({"forward_payload_header": ""}),
        ),
        harmless(
            "normalize_payload_in_metadata",
            json!({}),
            json!({"normalize_payload_in_metadata": {"space_delimited_claims": ["scope"]}}),
        ),
    ]
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn the_same_configuration_makes_the_same_decisions_as_jwt_authn() {
    use_live_clock();
    let readme = readme_words();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut running = Vec::new();
    for case in cases() {
        let mut fields = Vec::new();
        field_names(&case.config, &mut fields);
        let pending: Vec<&str> = PENDING
            .iter()
            .copied()
            .filter(|p| fields.iter().any(|f| f == p))
            .collect();
        match Config::from_json(case.config.to_string().as_bytes()) {
            Ok(_) if !pending.is_empty() => failures.push(format!(
                "[{}] jwtgate now accepts {pending:?}: take them off PENDING",
                case.name
            )),
            Ok(_) => running.push(case),
            Err(e) if !pending.is_empty() => skipped.push(format!("{} ({e})", case.name)),
            Err(e) => failures.push(format!(
                "[{}] jwtgate refuses the configuration: {e}",
                case.name
            )),
        }
    }
    for case in &running {
        for d in &case.deliberate {
            if !readme.contains(&words(d.readme)) {
                failures.push(format!(
                    "[{}] {}: examples/envoy/README.md does not say {:?}",
                    case.name, d.probe, d.readme
                ));
            }
        }
    }

    let upstream = echo();
    // The key server of the remote_jwks cases, behind the cluster `jwks`.
    let jwks_server = Server::start(|_| keyset(&[rsa_jwk(), p256_jwk()]));
    let pairs: Vec<Pair> = running
        .iter()
        .map(|c| Pair {
            config: c.config.clone(),
            routes: c.routes.clone(),
        })
        .collect();
    let envoy = start_pairs(&pairs, &[("jwks", jwks_server.port)], upstream.port);

    let mut probes = 0;
    let mut deliberate_seen = Vec::new();
    for (case, (ours, theirs)) in running.iter().zip(&envoy.pairs) {
        let mut used = vec![false; case.deliberate.len()];
        for p in &case.probes {
            probes += 1;
            let (a, b) = (send(*ours, p, case.name), send(*theirs, p, case.name));
            for (part, text) in compare(&a, &b) {
                let meant = case
                    .deliberate
                    .iter()
                    .position(|d| d.probe == p.name && d.part == part);
                match meant {
                    Some(i) => {
                        used[i] = true;
                        deliberate_seen.push(format!(
                            "[{}] {}: {text} (README: {:?})",
                            case.name, p.name, case.deliberate[i].readme
                        ));
                    }
                    None => failures.push(format!("[{}] {}: {text}", case.name, p.name)),
                }
            }
        }
        for (d, used) in case.deliberate.iter().zip(used) {
            if !used {
                failures.push(format!(
                    "[{}] {}: the deliberate difference in {:?} no longer shows: take it off",
                    case.name, d.probe, d.part
                ));
            }
        }
    }
    println!(
        "{} configurations, {probes} requests to each filter; skipped, pending fields: {}",
        running.len(),
        if skipped.is_empty() {
            "none".to_owned()
        } else {
            skipped.join("; ")
        }
    );
    for d in &deliberate_seen {
        println!("deliberate: {d}");
    }
    assert_all_passed(&failures, probes);
}

/// A configuration that sets the field a row of the README's field table names, for the
/// fields the table says jwtgate refuses, and the name the refusal must give: the field's own,
/// or its parent's for a field refused with its parent.
fn setting(field: &str) -> Option<(Value, String)> {
    let with_provider =
        |extra: Value| json!({"providers": {"a": provider_a(extra)}, "rules": everything_to("a")});
    let with_match = |extra: Value| {
        json!({"providers": {"a": provider_a(json!({}))},
               "rules": [{"match": merge(json!({"prefix": "/"}), extra), "requires": {"provider_name": "a"}}]})
    };
    let with_requires = |requires: Value| {
        json!({"providers": {"a": provider_a(json!({}))},
               "rules": [{"match": {"prefix": "/"}, "requires": requires}]})
    };
    let local =
        |extra: Value| with_provider(json!({"local_jwks": merge(keys_of(&[rsa_jwk()]), extra)}));
    let filter_state = json!({"providers": {"a": provider_a(json!({}))}, "rules": everything_to("a"),
        "filter_state_rules": {"name": "selector", "requires": {"x": {"provider_name": "a"}}}});
    let named = match field {
        "FilterStateRule.name" | "FilterStateRule.requires" => "filter_state_rules",
        "JwtClaimToHeader.PathSegment.key" => "claim_path",
        "ExtractOnlyWithoutValidation.verification_status_header" => {
            "extract_only_without_validation"
        }
        _ => field.rsplit('.').next().unwrap(),
    };
    let config = match field {
        "filter_state_rules" | "FilterStateRule.name" | "FilterStateRule.requires" => filter_state,
        "payload_in_metadata" => with_provider(json!({"payload_in_metadata": "payload"})),
        "header_in_metadata" => with_provider(json!({"header_in_metadata": "header"})),
        "failed_status_in_metadata" => {
            with_provider(json!({"failed_status_in_metadata": "failure"}))
        }
        "JwtClaimToHeader.claim_path" | "JwtClaimToHeader.PathSegment.key" => with_provider(
            json!({"claim_to_headers": [{"header_name": "x-sub", "claim_path": [{"key": "sub"}]}]}),
        ),
        "JwtRequirement.extract_only_without_validation" => {
            with_requires(json!({"extract_only_without_validation": {}}))
        }
        "ExtractOnlyWithoutValidation.verification_status_header" => with_requires(
            json!({"extract_only_without_validation": {"verification_status_header": "x-status"}}),
        ),
        "DataSource.filename" => {
            with_provider(json!({"local_jwks": {"filename": "/etc/jwks.json"}}))
        }
        "DataSource.environment_variable" => local(json!({"environment_variable": "JWKS"})),
        "DataSource.watched_directory" => local(json!({"watched_directory": {"path": "/etc"}})),
        "RouteMatch.connect_matcher" => json!({"providers": {"a": provider_a(json!({}))},
            "rules": [{"match": {"connect_matcher": {}}, "requires": {"provider_name": "a"}}]}),
        "RouteMatch.path_match_policy" => json!({"providers": {"a": provider_a(json!({}))},
            "rules": [{"match": {"path_match_policy": {"name": "p", "typed_config": {}}},
                       "requires": {"provider_name": "a"}}]}),
        "RouteMatch.runtime_fraction" => with_match(
            json!({"runtime_fraction": {"default_value": {"numerator": 50}, "runtime_key": "k"}}),
        ),
        "RouteMatch.grpc" => with_match(json!({"grpc": {}})),
        "RouteMatch.cookies" => {
            with_match(json!({"cookies": [{"name": "c", "string_match": {"exact": "v"}}]}))
        }
        "RouteMatch.tls_context" => with_match(json!({"tls_context": {"presented": true}})),
        "RouteMatch.dynamic_metadata" => with_match(
            json!({"dynamic_metadata": [{"filter": "f", "path": [{"key": "k"}], "value": {"present_match": true}}]}),
        ),
        "RouteMatch.filter_state" => {
            with_match(json!({"filter_state": [{"key": "k", "string_match": {"exact": "v"}}]}))
        }
        _ => return None,
    };
    Some((config, named.to_owned()))
}

/// The rows of the README's field table whose answer starts with `refused`: their fields.
fn refused_in_the_table() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/envoy/README.md"
    ))
    .unwrap();
    let mut fields = Vec::new();
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        if cells.len() < 2 || !cells[1].starts_with("refused") {
            continue;
        }
        fields.extend(cells[0].split('`').skip(1).step_by(2).map(str::to_owned));
    }
    fields
}

#[test]
fn every_field_the_table_refuses_stops_the_plugin_and_is_named() {
    use_live_clock();
    let refused = refused_in_the_table();
    assert!(
        refused.len() >= 15,
        "the table lists {refused:?} as refused"
    );
    let mut failures = Vec::new();
    for field in &refused {
        let Some((config, key)) = setting(field) else {
            failures.push(format!("{field}: the test has no configuration for it"));
            continue;
        };
        match Config::from_json(config.to_string().as_bytes()) {
            Ok(_) => failures.push(format!(
                "{field}: jwtgate accepts it, the table says refused"
            )),
            Err(e) if !e.to_string().contains(key.as_str()) => failures.push(format!(
                "{field}: refused, but the reason does not name it: {e}"
            )),
            Err(_) => {}
        }
    }
    assert_all_passed(&failures, refused.len());
}
