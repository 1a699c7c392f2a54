//! The Envoy filter's configuration: jwt_authn's JSON accepted as it is, anything the filter
//! cannot honour refused with a reason.
#![cfg(feature = "envoy")]

mod common;

use std::time::Duration;

use common::*;
use jwtgate::envoy::config::{Config, JwksSource, Location, PathMatch, Requirement};
use serde_json::{json, Value};

fn local() -> Value {
    json!({"inline_string": jwks()})
}

fn remote() -> Value {
    json!({"http_uri": {"uri": "http://issuer.example:8080/jwks.json", "cluster": "issuer", "timeout": "2s"},
           "cache_duration": {"seconds": 300}})
}

fn parse(config: Value) -> Result<Config, String> {
    Config::from_json(config.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn one(provider: Value, rule: Value) -> Value {
    json!({"providers": {"p": provider}, "rules": [rule]})
}

#[test]
fn a_jwt_authn_configuration_moves_over() {
    let config = parse(json!({
        "providers": {
            "local": {
                "issuer": ISSUER, "audiences": [AUDIENCE, "web"], "local_jwks": local(),
                "from_headers": [{"name": "X-Token", "value_prefix": "JWT "}],
                "from_params": ["jwt"], "from_cookies": ["session"],
                "forward": true, "forward_payload_header": "X-Payload",
                "claim_to_headers": [{"header_name": "X-Sub", "claim_name": "sub"}],
                "clock_skew_seconds": 30, "require_expiration": true, "max_lifetime": "3600s",
                "jwt_cache_config": {"jwt_cache_size": 500}
            },
            "remote": {"issuer": "other", "remote_jwks": remote()}
        },
        "rules": [
            {"match": {"prefix": "/health"}},
            {"match": {"path": "/both"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "local"}, {"provider_name": "remote"}]}}},
            {"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "local"}, {"allow_missing": {}}]}}}
        ],
        "bypass_cors_preflight": true
    }))
    .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.name, "local");
    assert_eq!(
        p.locations,
        vec![
            Location::Header {
                name: "x-token".into(),
                prefix: "JWT ".into()
            },
            Location::Param("jwt".into()),
            Location::Cookie("session".into()),
        ]
    );
    assert!(p.forward);
    assert_eq!(p.forward_payload_header.as_deref(), Some("x-payload"));
    assert_eq!(
        p.claim_to_headers,
        vec![("x-sub".to_string(), vec!["sub".to_string()])]
    );
    assert_eq!(p.jwt_cache_size, 500);
    assert!(matches!(p.jwks, JwksSource::Local(ref k) if k.len() == 5));
    // Without jwt_cache_config jwtgate caches all the same, within jwt_authn's default bound.
    assert_eq!(config.providers[1].jwt_cache_size, 100);
    match &config.providers[1].jwks {
        JwksSource::Remote(r) => {
            assert_eq!(r.http_uri.cluster, "issuer");
            assert_eq!(r.http_uri.authority, "issuer.example:8080");
            assert_eq!(r.http_uri.path, "/jwks.json");
            assert_eq!(r.http_uri.timeout, Duration::from_secs(2));
            assert_eq!(r.cache_duration, Duration::from_secs(300));
            assert_eq!(r.refetch_cooldown, Duration::from_secs(30));
        }
        other => panic!("{other:?}"),
    }
    // Default locations: the Bearer header, then access_token.
    assert_eq!(
        config.providers[1].locations[1],
        Location::Param("access_token".into())
    );
    assert!(config.rules[0].requires.is_none());
    assert_eq!(
        config.rules[1].requires,
        Some(Requirement::All(vec![
            Requirement::Provider(0),
            Requirement::Provider(1)
        ]))
    );
    assert_eq!(
        config.rule_for("/health/live?x=1", &[]).map(|r| &r.matcher),
        Some(&PathMatch::Prefix {
            prefix: "/health".into(),
            case_sensitive: true
        })
    );
    assert!(config.bypass_cors_preflight);
}

#[test]
fn camel_case_and_durations_in_both_forms() {
    let config = parse(json!({
        "providers": {"p": {"issuer": ISSUER, "remoteJwks": {
            "httpUri": {"uri": "https://idp.example", "cluster": "idp", "timeout": "0.25s"},
            "cacheDuration": "600s", "refetchCooldown": {"seconds": "5", "nanos": 0}},
            "claimToHeaders": [{"headerName": "x-a", "claimName": "a.b"}]}},
        "rules": [{"match": {"prefix": "/", "caseSensitive": false}, "requires": {"providerName": "p"}}]
    }))
    .unwrap();
    match &config.providers[0].jwks {
        JwksSource::Remote(r) => {
            assert_eq!(r.http_uri.timeout, Duration::from_millis(250));
            assert_eq!(r.http_uri.path, "/");
            assert_eq!(r.refetch_cooldown, Duration::from_secs(5));
        }
        other => panic!("{other:?}"),
    }
    assert!(config.rule_for("/ANYTHING", &[]).is_some());
}

#[test]
fn jwtgate_additions() {
    let config = parse(json!({
        "providers": {"p": {"local_jwks": local(), "algorithms": ["ES256", "HS256"]}},
        "rules": [{"match": {"prefix": "/admin"}, "requires": {"provider_name": "p"},
                   "requires_claims": {"scope": "admin", "groups": ["ops", "sre"]}}],
        "revocation": {"http_uri": {"uri": "http://deny.example/list", "cluster": "deny"}, "refresh_interval": "10s"}
    }))
    .unwrap();
    assert_eq!(config.rules[0].requires_claims.len(), 2);
    let groups = config.rules[0]
        .requires_claims
        .iter()
        .find(|(c, _)| c == "groups")
        .unwrap();
    assert_eq!(groups.1, vec![json!("ops"), json!("sre")]);
    assert_eq!(
        config.revocation.unwrap().refresh_interval,
        Duration::from_secs(10)
    );
    let algs = config.providers[0].policy.algorithms();
    assert!(algs.contains(jwtgate::Algorithm::HS256) && !algs.contains(jwtgate::Algorithm::RS256));
}

#[test]
fn what_cannot_be_honoured_is_refused_with_its_reason() {
    let p = || json!({"issuer": ISSUER, "local_jwks": local()});
    let with = |field: &str, value: Value| {
        let mut provider = p();
        provider[field] = value;
        one(
            provider,
            json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}),
        )
    };
    let rule = |r: Value| one(p(), r);
    let provider_with = |fields: Value| {
        let mut provider = p();
        for (k, v) in fields.as_object().unwrap() {
            provider[k] = v.clone();
        }
        one(
            provider,
            json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}),
        )
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not an object",
            json!(null),
            "configuration must be an object",
        ),
        ("no providers", json!({"rules": []}), "providers must name"),
        (
            "no rules",
            json!({"providers": {"p": p()}}),
            "rules must have",
        ),
        (
            // jwt_authn reads an empty requirement as none: every request passes, a garbage
            // token too. A rule without `requires` says that; `{}` is refused.
            "an empty requirement",
            rule(json!({"match": {"prefix": "/"}, "requires": {}})),
            "rules[0].requires needs one of",
        ),
        (
            // jwt_authn removes the headers it sets before it looks for a token, so it finds
            // none in them: in Envoy 1.40 a valid token there got 401 "Jwt is missing" from
            // jwt_authn and 200 from jwtgate.
            "the payload header where tokens are read (Authorization by default)",
            with("forward_payload_header", json!("Authorization")),
            "authorization is set from verified claims",
        ),
        (
            "a claim header where tokens are read",
            provider_with(json!({"from_headers": [{"name": "x-jwt"}],
                "claim_to_headers": [{"header_name": "x-jwt", "claim_name": "sub"}]})),
            "x-jwt is set from verified claims",
        ),
        (
            "a claim header where another provider reads tokens",
            json!({"providers": {
                "p": {"issuer": ISSUER, "local_jwks": local(), "from_headers": [{"name": "x-jwt"}]},
                "q": {"issuer": ISSUER, "local_jwks": local(), "from_params": ["t"],
                    "claim_to_headers": [{"header_name": "X-Jwt", "claim_name": "sub"}]}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}),
            "x-jwt is set from verified claims",
        ),
        (
            "the cookie header as the payload header beside from_cookies",
            provider_with(json!({"from_cookies": ["session"], "forward_payload_header": "cookie"})),
            "cookie is set from verified claims",
        ),
        (
            "unknown provider in a rule",
            rule(json!({"match": {"prefix": "/"}, "requires": {"provider_name": "nobody"}})),
            "no provider named \"nobody\"",
        ),
        (
            "misspelt field",
            with("isuer", json!("x")),
            "providers.p.isuer is not a field",
        ),
        (
            "subjects with two rules",
            with("subjects", json!({"prefix": "spiffe://", "exact": "x"})),
            "exactly one of exact",
        ),
        (
            "payload_in_metadata",
            with("payload_in_metadata", json!("x")),
            "payload_in_metadata: claims reach other filters as headers",
        ),
        (
            "header_in_metadata",
            with("header_in_metadata", json!("x")),
            "forward_payload_header carries",
        ),
        (
            "HMAC keys without HS*",
            with(
                "local_jwks",
                json!({"inline_string": json!({"keys": [hmac_jwk()]}).to_string()}),
            ),
            "HMAC (oct) keys need HS256",
        ),
        (
            "a bad regex",
            rule(json!({"match": {"safe_regex": {"regex": "(("}}})),
            "match.safe_regex.regex",
        ),
        (
            "a regex match without regex",
            rule(json!({"match": {"safe_regex": {}}})),
            "regex is required",
        ),
        (
            "one-item requires_any",
            rule(
                json!({"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "p"}]}}}),
            ),
            "at least 2 requirements",
        ),
        (
            "requirement_name not in the map",
            rule(json!({"match": {"prefix": "/"}, "requirement_name": "nope"})),
            "requirement_map has no \"nope\"",
        ),
        (
            "runtime_fraction",
            rule(json!({"match": {"prefix": "/", "runtime_fraction": {}}})),
            "cannot read Envoy's runtime",
        ),
        (
            "claim_name and claim_path",
            with(
                "claim_to_headers",
                json!([{"header_name": "x", "claim_name": "a", "claim_path": [{"key": "a"}]}]),
            ),
            "exactly one of claim_name and claim_path",
        ),
        (
            "an empty claim_path key",
            with(
                "claim_to_headers",
                json!([{"header_name": "x", "claim_path": [{"key": ""}]}]),
            ),
            "claim_path[0].key is required",
        ),
        (
            "extract_only_without_validation",
            rule(
                json!({"match": {"prefix": "/"}, "requires": {"extract_only_without_validation": {}}}),
            ),
            "never forwards claims it has not verified",
        ),
        (
            "filter_state_rules",
            json!({"providers": {"p": p()}, "rules": [{"match": {"prefix": "/"}}], "filter_state_rules": {"name": "x", "requires": {}}}),
            "Router::StringAccessor",
        ),
        (
            "a JWKS with no usable key",
            with(
                "local_jwks",
                json!({"inline_string": "{\"keys\":[{\"kty\":\"RSA\"}]}"}),
            ),
            "key set has no usable key",
        ),
        (
            "a JWKS that is not JSON",
            with("local_jwks", json!({"inline_string": "nope"})),
            "not valid JSON",
        ),
        (
            "a JWKS file",
            with("local_jwks", json!({"filename": "/etc/jwks.json"})),
            "cannot read files",
        ),
        (
            "both key sources",
            with("remote_jwks", remote()),
            "both local_jwks and remote_jwks",
        ),
        (
            "no key source",
            one(json!({"issuer": "x"}), json!({"match": {"prefix": "/"}})),
            "needs local_jwks or remote_jwks",
        ),
        (
            "bad duration",
            with("max_lifetime", json!("ten minutes")),
            "must be a duration",
        ),
        (
            "negative skew",
            with("clock_skew_seconds", json!(-1)),
            "non-negative integer",
        ),
        (
            "unknown algorithm",
            with("algorithms", json!(["none"])),
            "not an algorithm jwtgate implements",
        ),
        (
            "empty algorithms",
            with("algorithms", json!([])),
            "must not be empty",
        ),
        (
            "prefix and path",
            rule(json!({"match": {"prefix": "/", "path": "/"}})),
            "exactly one of prefix, path",
        ),
        (
            "two requirements",
            rule(
                json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p", "allow_missing": {}}}),
            ),
            "more than one requirement",
        ),
        (
            "empty requires_any",
            rule(
                json!({"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": []}}}),
            ),
            "at least 2 requirements",
        ),
        (
            "requires_claims without requires",
            rule(json!({"match": {"prefix": "/"}, "requires_claims": {"scope": "x"}})),
            "needs requires",
        ),
        (
            "remote without cluster",
            one(
                json!({"remote_jwks": {"http_uri": {"uri": "http://x/"}}}),
                json!({"match": {"prefix": "/"}}),
            ),
            "cluster is required",
        ),
        (
            "remote uri without scheme",
            {
                let mut r = remote();
                r["http_uri"]["uri"] = json!("issuer/jwks");
                one(json!({"remote_jwks": r}), json!({"match": {"prefix": "/"}}))
            },
            "must start with http",
        ),
        (
            "cache switch of the wrong type",
            with("jwt_cache_config", json!({"disabled": "yes"})),
            "disabled must be true or false",
        ),
        (
            "cache size over the bound",
            with("jwt_cache_config", json!({"jwt_cache_size": 10_000_000})),
            "jwt_cache_size is over",
        ),
        (
            "top-level unknown",
            json!({"providers": {"p": p()}, "rules": [{"match": {"prefix": "/"}}], "bypass_cors": true}),
            "bypass_cors is not a field",
        ),
    ];
    for (name, config, want) in cases {
        match parse(config) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => assert!(e.contains(want), "{name}: {e:?} does not say {want:?}"),
        }
    }
}

#[test]
fn invalid_json_is_refused() {
    let e = Config::from_json(b"{\"providers\":")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn deep_requirement_nesting_is_bounded() {
    let mut req = json!({"provider_name": "p"});
    for _ in 0..20 {
        req = json!({"requires_any": {"requirements": [req, {"provider_name": "p"}]}});
    }
    let e = parse(one(
        json!({"local_jwks": local()}),
        json!({"match": {"prefix": "/"}, "requires": req}),
    ))
    .unwrap_err();
    assert!(e.contains("nests deeper"), "{e}");
}

#[test]
fn values_are_read_by_their_proto_type() {
    let rule = |requires: Value| {
        one(
            json!({"issuer": ISSUER, "local_jwks": local()}),
            json!({"match": {"prefix": "/"}, "requires": requires}),
        )
    };
    // google.protobuf.Empty: only {} means anything; false is not "off", it is an error.
    for field in ["allow_missing", "allow_missing_or_failed"] {
        for bad in [
            json!(false),
            json!(true),
            json!(null),
            json!("x"),
            json!({"a": 1}),
            json!([]),
        ] {
            let e = parse(rule(json!({ field: bad }))).unwrap_err();
            assert!(e.contains("google.protobuf.Empty"), "{field}: {bad}: {e}");
        }
        assert!(parse(rule(json!({ field: {} }))).is_ok());
    }
    let with = |field: &str, value: Value| {
        let mut p = json!({"issuer": ISSUER, "local_jwks": local()});
        p[field] = value;
        parse(one(
            p,
            json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}),
        ))
    };
    for (field, bad, says) in [
        ("forward", json!("true"), "true or false"),
        ("forward", json!(1), "true or false"),
        ("require_expiration", json!("false"), "true or false"),
        ("pad_forward_payload_header", json!(null), "true or false"),
        ("clear_route_cache", json!(0), "true or false"),
        ("audiences", json!("api"), "list of strings"),
        ("from_params", json!(["a", 1]), "list of strings"),
        ("from_headers", json!({"name": "x"}), "must be a list"),
        ("algorithms", json!("ES256"), "must be a list"),
        ("issuer", json!(1), "must be a string"),
        ("clock_skew_seconds", json!("ten"), "non-negative integer"),
        // A uint32 in jwt_authn's proto: Envoy 1.40 refuses 2^32 ("Unable to parse JSON as
        // proto"); read as a u64 it was a skew of 136 years, every expired token taken.
        ("clock_skew_seconds", json!(4_294_967_296u64), "a uint32"),
        ("clock_skew_seconds", json!("4294967296"), "a uint32"),
        (
            "jwt_cache_config",
            json!({"jwt_max_token_size": 4_294_967_296u64}),
            "a uint32",
        ),
        ("max_lifetime", json!(60), "must be a duration"),
        ("subjects", json!("spiffe://"), "must be an object"),
        (
            "normalize_payload_in_metadata",
            json!({"space_delimited_claims": "roles"}),
            "list of strings",
        ),
        (
            "jwt_cache_config",
            json!({"jwt_cache_size": true}),
            "non-negative integer",
        ),
    ] {
        let e = with(field, bad.clone()).unwrap_err();
        assert!(e.contains(says), "{field}: {bad}: {e}");
    }
    assert!(with("clock_skew_seconds", json!(4_294_967_295u64)).is_ok());
    // Envoy's proto validation refuses an empty prefix, suffix, substring or regex in a
    // StringMatcher (seen with `envoy --mode validate`): `subjects: {prefix: ""}` would take
    // every subject. An empty `exact` is valid in both.
    for (field, matcher) in [
        ("subjects", json!({"prefix": ""})),
        ("subjects", json!({"suffix": ""})),
        ("subjects", json!({"contains": ""})),
        ("subjects", json!({"safe_regex": {"regex": ""}})),
    ] {
        let e = with(field, matcher.clone()).unwrap_err();
        assert!(
            e.contains("must not be empty") || e.contains("regex is required"),
            "{matcher}: {e}"
        );
    }
    assert!(with("subjects", json!({"exact": ""})).is_ok());
    let rule_with = |m: Value| {
        parse(one(
            json!({"issuer": ISSUER, "local_jwks": local()}),
            json!({"match": m}),
        ))
    };
    for m in [
        json!({"prefix": "/", "headers": [{"name": "x", "string_match": {"prefix": ""}}]}),
        json!({"prefix": "/", "headers": [{"name": "x", "prefix_match": ""}]}),
        json!({"prefix": "/", "headers": [{"name": "x", "safe_regex_match": {"regex": ""}}]}),
        json!({"prefix": "/", "query_parameters": [{"name": "q", "string_match": {"contains": ""}}]}),
        json!({"safe_regex": {"regex": ""}}),
    ] {
        assert!(rule_with(m.clone()).is_err(), "{m}");
    }
    assert!(
        rule_with(json!({"prefix": "/", "headers": [{"name": "x", "exact_match": ""}]})).is_ok()
    );
    let e = parse(
        json!({"providers": {"p": {"issuer": ISSUER, "local_jwks": local()}},
        "rules": [{"match": {"prefix": "/"}}], "bypass_cors_preflight": "yes"}),
    )
    .unwrap_err();
    assert!(e.contains("true or false"), "{e}");
    let e = parse(one(
        json!({"issuer": ISSUER, "local_jwks": local()}),
        json!({"match": {"prefix": "/", "case_sensitive": "false"}}),
    ))
    .unwrap_err();
    assert!(e.contains("true or false"), "{e}");
    // RetryPolicy.retry_on is one string of conditions ("5xx,gateway-error"), as Envoy reads
    // it: a list is not a RetryPolicy jwt_authn would take.
    let remote = |retry_policy: Value| {
        parse(one(
            json!({"issuer": ISSUER, "remote_jwks": {
                "http_uri": {"uri": "http://idp/jwks", "cluster": "idp", "timeout": "1s"},
                "retry_policy": retry_policy}}),
            json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}),
        ))
    };
    assert!(remote(json!({"retry_on": "5xx"})).is_ok());
    let e = remote(json!({"retry_on": ["5xx"]})).unwrap_err();
    assert!(e.contains("retry_on must be a string"), "{e}");
    // A retry interval under 0.1 s would have a worker hammer a failing issuer.
    assert!(remote(json!({"retry_back_off": {"base_interval": "0.1s"}})).is_ok());
    let e = remote(json!({"retry_back_off": {"base_interval": "0.05s"}})).unwrap_err();
    assert!(e.contains("retry interval must be at least 0.1s"), "{e}");
    // The cache's bound bounds what a configuration can make a worker hold.
    for (size, ok) in [(100_000, true), (100_001, false)] {
        let config = one(
            json!({"issuer": ISSUER, "local_jwks": local(), "jwt_cache_config": {"jwt_cache_size": size}}),
            json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}),
        );
        assert_eq!(parse(config).is_ok(), ok, "{size}");
    }
    // stat_prefix goes into counter names: a string of the characters a name may hold.
    let with_prefix = |prefix: Value| {
        parse(
            json!({"providers": {"p": {"issuer": ISSUER, "local_jwks": local()}},
                     "rules": [{"match": {"prefix": "/"}}], "stat_prefix": prefix}),
        )
    };
    assert!(with_prefix(json!("edge-1.a_b")).is_ok());
    for bad in [json!("a b"), json!("a/b"), json!(1)] {
        assert!(
            with_prefix(bad.clone())
                .unwrap_err()
                .contains("stat_prefix"),
            "{bad}"
        );
    }
}

#[test]
fn jwt_authn_fields_honoured() {
    let config = parse(json!({
        "providers": {
            "p": {"issuer": ISSUER, "local_jwks": local(), "subjects": {"prefix": "spiffe://a/"},
                  "normalize_payload_in_metadata": {"space_delimited_claims": ["roles"]},
                  "clear_route_cache": true, "jwt_cache_config": {"jwt_cache_size": 5, "jwt_max_token_size": 4096}},
            "r": {"issuer": "other", "remote_jwks": {
                "http_uri": {"uri": "http://idp/jwks", "cluster": "idp", "timeout": "1s"},
                "async_fetch": {"fast_listener": true, "failed_refetch_duration": "2s"},
                "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "0.5s", "max_interval": "5s"},
                                 "retry_on": "5xx,gateway-error"},
                "max_stale": "3600s"}}
        },
        "requirement_map": {"strict": {"provider_and_audiences": {"provider_name": "p", "audiences": ["other-api"]}}},
        "rules": [
            {"match": {"path_separated_prefix": "/api", "headers": [{"name": "x-tenant", "string_match": {"exact": "a"}}],
                       "query_parameters": [{"name": "mode", "present_match": true}]}, "requires": {"provider_name": "p"}},
            {"match": {"safe_regex": {"regex": "/items/[0-9]+"}}, "requirement_name": "strict"},
            {"match": {"prefix": "/"}}
        ],
        "stat_prefix": "edge", "strip_failure_response": true
    }))
    .unwrap();
    let p = &config.providers[0];
    assert!(p.subjects.as_ref().unwrap().matches("spiffe://a/x"));
    assert!(!p.subjects.as_ref().unwrap().matches("spiffe://b/x"));
    assert_eq!(p.space_delimited_claims, vec!["roles".to_string()]);
    assert!(p.clear_route_cache);
    match &config.providers[1].jwks {
        JwksSource::Remote(r) => {
            assert_eq!(r.max_stale, Duration::from_secs(3600));
            assert_eq!(r.retry_interval, Duration::from_millis(500));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(config.stat_prefix, "edge");
    assert!(config.strip_failure_response);
    let tenant = [("x-tenant", "a")];
    // path_separated_prefix: /api and /api/..., never /apix; headers and query must match too.
    assert!(config
        .rule_for("/api?mode=1", &tenant)
        .unwrap()
        .requires
        .is_some());
    assert!(config
        .rule_for("/api/x?mode", &tenant)
        .unwrap()
        .requires
        .is_some());
    assert!(config
        .rule_for("/apix?mode=1", &tenant)
        .unwrap()
        .requires
        .is_none());
    assert!(config
        .rule_for("/api/x", &tenant)
        .unwrap()
        .requires
        .is_none());
    assert!(config
        .rule_for("/api/x?mode=1", &[("x-tenant", "b")])
        .unwrap()
        .requires
        .is_none());
    // safe_regex matches the whole path, query aside; requirement_name resolves from the map.
    assert_eq!(
        config.rule_for("/items/42?x=1", &[]).unwrap().requires,
        Some(Requirement::ProviderAndAudiences(
            0,
            vec!["other-api".into()]
        ))
    );
    assert!(config
        .rule_for("/items/42/x", &[])
        .unwrap()
        .requires
        .is_none());
    // A prefix is compared with the whole :path, query included, as jwt_authn does.
    let q = parse(one(
        json!({"issuer": ISSUER, "local_jwks": local()}),
        json!({"match": {"prefix": "/search?admin"}, "requires": {"provider_name": "p"}}),
    ))
    .unwrap();
    assert!(q.rule_for("/search?admin=1", &[]).is_some());
}

#[test]
fn header_matchers_as_envoy_has_them() {
    let config = parse(json!({
        "providers": {"p": {"issuer": ISSUER, "local_jwks": local()}},
        "rules": [
            {"match": {"prefix": "/present", "headers": [{"name": "x-a", "present_match": true}]}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/absent", "headers": [{"name": "x-a", "present_match": true, "invert_match": true}]}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/range", "headers": [{"name": "x-n", "range_match": {"start": 10, "end": 20}}]}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/regex", "headers": [{"name": "x-a", "safe_regex_match": {"regex": "a+b"}}]}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/case", "headers": [{"name": "x-a", "string_match": {"exact": "ABC", "ignore_case": true}}]}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/"}}
        ]
    }))
    .unwrap();
    let guarded = |path: &str, headers: &[(&str, &str)]| {
        config.rule_for(path, headers).unwrap().requires.is_some()
    };
    assert!(guarded("/present", &[("x-a", "")]));
    assert!(!guarded("/present", &[]));
    assert!(guarded("/absent", &[]));
    assert!(!guarded("/absent", &[("x-a", "1")]));
    assert!(guarded("/range", &[("x-n", "10")]) && !guarded("/range", &[("x-n", "20")]));
    assert!(!guarded("/range", &[("x-n", "x")]));
    assert!(guarded("/regex", &[("x-a", "aab")]) && !guarded("/regex", &[("x-a", "aabx")]));
    // A header on two lines matches when one of its values does, as Envoy 1.40's matcher
    // decides (tests/envoy_parity.rs, "header matchers at the edges"), never the values
    // joined by a comma: that let `x-a: ab` twice fall through to the open rule.
    assert!(guarded("/regex", &[("x-a", "ab"), ("x-a", "ab")]));
    assert!(guarded("/regex", &[("x-a", "x"), ("x-a", "ab")]));
    assert!(!guarded("/regex", &[("x-a", "x"), ("x-a", "y")]));
    assert!(guarded("/range", &[("x-n", "5"), ("x-n", "15")]));
    assert!(!guarded("/absent", &[("x-a", "1"), ("x-a", "2")]));
    // `host` is `:authority` to Envoy's matcher (tests/envoy_parity.rs: a guarded rule on
    // `Host` fell through to an open one, 200 where jwt_authn answers 401).
    let h = parse(one(
        json!({"issuer": ISSUER, "local_jwks": local()}),
        json!({"match": {"prefix": "/", "headers": [{"name": "Host", "string_match": {"exact": "api.example"}}]},
               "requires": {"provider_name": "p"}}),
    ))
    .unwrap();
    assert!(h.rule_for("/", &[(":authority", "api.example")]).is_some());
    assert!(h
        .rule_for("/", &[(":authority", "other.example")])
        .is_none());
    assert!(guarded("/case", &[("x-a", "abc")]));
    // Query values are compared raw, as jwt_authn does: %31 is not 1.
    let q = parse(one(
        json!({"issuer": ISSUER, "local_jwks": local()}),
        json!({"match": {"prefix": "/", "query_parameters": [{"name": "open", "string_match": {"exact": "1"}}]}}),
    ))
    .unwrap();
    assert!(q.rule_for("/x?a=2&open=1", &[]).is_some());
    assert!(q.rule_for("/x?open=%31", &[]).is_none());
    assert!(q.rule_for("/x?op%65n=1", &[]).is_none());
    // Pairs as Envoy's query parser reads them, empty ones too: a parameter configured as ""
    // finds `?=<token>`, as jwt_authn does (tests/envoy_parity.rs, "from_params with an empty
    // name": a forged token there went through jwtgate under allow_missing).
    use jwtgate::envoy::config::query_values;
    let values = |path: &str, name: &str| query_values(path, name).collect::<Vec<_>>();
    assert_eq!(values("/x?=t&a=1&&", ""), ["t", ""]);
    assert_eq!(values("/x?&", ""), [""]);
    assert!(values("/x?", "").is_empty() && values("/x?a=1&", "").is_empty());
    assert_eq!(values("/x?a=1&a=%32&", "a"), ["1", "2"]);
}

#[test]
fn data_sources_and_grpc_matches_are_refused() {
    use jwtgate::b64_encode;
    // inline_bytes: base64 in proto3 JSON, standard or URL-safe.
    let url = b64_encode(jwks().as_bytes());
    let standard = url.replace('-', "+").replace('_', "/");
    for b in [url, standard] {
        let c = parse(one(
            json!({"issuer": ISSUER, "local_jwks": {"inline_bytes": b}}),
            json!({"match": {"prefix": "/"}}),
        ))
        .unwrap();
        assert!(matches!(c.providers[0].jwks, JwksSource::Local(ref k) if k.len() == 5));
    }
    let e = parse(one(
        json!({"local_jwks": {"environment_variable": "JWKS"}}),
        json!({"match": {"prefix": "/"}}),
    ))
    .unwrap_err();
    assert!(e.contains("cannot read files or the environment"), "{e}");
    // jwt_authn ignores match.grpc; jwtgate refuses it rather than guess.
    let e = parse(one(
        json!({"issuer": ISSUER, "local_jwks": local()}),
        json!({"match": {"prefix": "/", "grpc": {}}, "requires": {"provider_name": "p"}}),
    ))
    .unwrap_err();
    assert!(e.contains("jwt_authn ignores it"), "{e}");
}

#[test]
fn the_jwt_cache_is_on_by_default_and_off_only_when_disabled() {
    let size = |cache: Option<Value>| {
        let mut p = json!({"issuer": ISSUER, "local_jwks": local()});
        if let Some(c) = cache {
            p["jwt_cache_config"] = c;
        }
        parse(one(p, json!({"match": {"prefix": "/"}})))
            .unwrap()
            .providers[0]
            .jwt_cache_size
    };
    assert_eq!(size(None), 100);
    assert_eq!(size(Some(json!({}))), 100);
    assert_eq!(size(Some(json!({"jwt_cache_size": 0}))), 100);
    assert_eq!(size(Some(json!({"jwt_cache_size": 7}))), 7);
    assert_eq!(size(Some(json!({"disabled": true}))), 0);
    assert_eq!(size(Some(json!({"disabled": false}))), 100);
}

#[test]
fn discovery_names_the_document_in_place_of_the_key_set() {
    let discovery = json!({"discovery": {"http_uri": {
        "uri": "https://issuer.example/.well-known/openid-configuration", "cluster": "idp"}}});
    let config = parse(one(
        json!({"issuer": ISSUER, "remote_jwks": discovery}),
        json!({"match": {"prefix": "/"}}),
    ))
    .unwrap();
    match &config.providers[0].jwks {
        JwksSource::Remote(r) => {
            assert_eq!(r.discovery.as_deref(), Some(ISSUER));
            assert_eq!(r.http_uri.cluster, "idp");
            assert_eq!(r.http_uri.path, "/.well-known/openid-configuration");
        }
        other => panic!("{other:?}"),
    }
    // Without discovery, as jwt_authn has it.
    match &parse(one(
        json!({"issuer": ISSUER, "remote_jwks": remote()}),
        json!({"match": {"prefix": "/"}}),
    ))
    .unwrap()
    .providers[0]
        .jwks
    {
        JwksSource::Remote(r) => assert_eq!(r.discovery, None),
        other => panic!("{other:?}"),
    }
    for (remote, why) in [
        (json!({"discovery": {}}), "discovery.http_uri is required"),
        (
            json!({"discovery": {"http_uri": {"uri": "issuer.example", "cluster": "idp"}}}),
            "must start with http",
        ),
        (
            json!({"discovery": {"http_uri": {"uri": "https://x/", "cluster": "idp"}, "issuer": "x"}}),
            "discovery.issuer is not a field",
        ),
    ] {
        let e = parse(one(
            json!({"issuer": ISSUER, "remote_jwks": remote}),
            json!({"match": {"prefix": "/"}}),
        ))
        .unwrap_err();
        assert!(e.contains(why), "{why}: {e}");
    }
}
