//! The jwtgate filter in real Envoy while the JWKS server misbehaves: error statuses, garbage,
//! slow answers, huge bodies, connections cut mid-body. Whatever the issuer does, the last
//! good keys keep serving, a bad token is never let through, a request never waits longer
//! than the provider's timeout, and Envoy's memory stays bounded.
//!
//! Each test starts its own Envoy, upstream and JWKS server on loopback. The JWKS fetches
//! are driven by requests (an unknown `kid` with `refetch_cooldown: 0s` fetches at once) or
//! awaited through the filter's counters, never by sleeping a guessed time.
//! `cargo xtask test` installs Envoy, builds the filter and runs these.
#![cfg(feature = "envoy")]

mod common;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::envoy::{eventually, keyset, Envoy, Setup};
use common::http::{get, Answer, Resp, Server};
use common::*;
use jwtgate::Algorithm;
use serde_json::{json, Value};

const FAILURES: &str = "wasmcustom.jwtgate.jwks_fetch.failure";
const SUCCESSES: &str = "wasmcustom.jwtgate.jwks_fetch.success";

/// A JWKS server whose answer the test changes as the scenario goes, and which can be told
/// to hold requests unanswered (a slow issuer).
struct Issuer {
    server: Server,
    answer: Arc<Mutex<Answer>>,
    holding: Arc<AtomicBool>,
}

impl Issuer {
    fn start(first: Resp) -> Issuer {
        let answer = Arc::new(Mutex::new(Answer::Whole(first)));
        let holding = Arc::new(AtomicBool::new(false));
        let (a, h) = (answer.clone(), holding.clone());
        let server = Server::start_answering(move |_| {
            // Held for a minute at most: longer than any provider timeout here and than the
            // test client's 30 s read timeout, so a filter that waited for the answer would
            // fail the test instead of passing late.
            let until = Instant::now() + Duration::from_secs(60);
            while h.load(Ordering::SeqCst) && Instant::now() < until {
                sleep(Duration::from_millis(20));
            }
            a.lock().unwrap().clone()
        });
        Issuer {
            server,
            answer,
            holding,
        }
    }

    fn answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    fn serve(&self, r: Resp) {
        self.answer(Answer::Whole(r));
    }

    fn hold(&self, on: bool) {
        self.holding.store(on, Ordering::SeqCst);
    }

    fn hits(&self) -> usize {
        self.server.hits()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        // Let held handler threads finish rather than linger for their minute.
        self.hold(false);
    }
}

/// An upstream that answers 200 to anything.
fn upstream() -> Server {
    Server::start(|_| Resp::new(200, "upstream"))
}

/// One remote provider on cluster `jwks` (timeout 1 s), required everywhere but `/public`.
fn config(remote: Value) -> Value {
    let mut r = json!({"http_uri": {"uri": "http://jwks.test/.well-known/jwks.json",
                                    "cluster": "jwks", "timeout": "1s"}});
    for (k, v) in remote.as_object().unwrap() {
        r[k] = v.clone();
    }
    json!({"providers": {"main": {"issuer": ISSUER, "audiences": [AUDIENCE], "remote_jwks": r}},
           "rules": [{"match": {"prefix": "/public"}},
                     {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]})
}

fn start(upstream: &Server, issuer: &Issuer, config: Value, workers: u32) -> Envoy {
    Envoy::start(Setup {
        jwtgate: config,
        jwt_authn: None,
        clusters: vec![("jwks", issuer.server.port)],
        upstream: upstream.port,
        workers,
    })
    .unwrap_or_else(|log| panic!("{log}"))
}

/// Envoy in front of an upstream, with a provider on an issuer serving the P-256 key, already
/// verifying a good token: the state each fault starts from.
fn serving(remote: Value, workers: u32) -> (Server, Issuer, Envoy) {
    use_live_clock();
    let upstream = upstream();
    let issuer = Issuer::start(keyset(&[p256_jwk()]));
    let envoy = start(&upstream, &issuer, config(remote), workers);
    assert_eq!(call(&envoy, &good()).status, 200);
    (upstream, issuer, envoy)
}

fn call(envoy: &Envoy, token: &str) -> Resp {
    get(
        envoy.port,
        "/api",
        &[("authorization", &format!("Bearer {token}"))],
    )
}

/// A token the first key set (`p256` only) verifies.
fn good() -> String {
    token(Algorithm::ES256, &claims())
}

/// A token signed by a key the issuer publishes only after a rotation (`kid` "ed25519").
fn rotated() -> String {
    token(Algorithm::EdDSA, &claims())
}

/// A good token's header and signature over another payload: a forgery with a known `kid`.
fn tampered() -> String {
    let good = good();
    let other = token(Algorithm::ES256, &claims_with(json!({"sub": "mallory"})));
    let p: Vec<&str> = good.split('.').collect();
    format!("{}.{}.{}", p[0], other.split('.').nth(1).unwrap(), p[2])
}

fn alg_none() -> String {
    format!(
        "{}.{}.",
        jwtgate::b64_encode(br#"{"alg":"none","kid":"p256"}"#),
        jwtgate::b64_encode(claims().to_string().as_bytes())
    )
}

/// Asserts a 401 with `code` in the body and in the challenge's error_description.
#[track_caller]
fn assert_refused(r: &Resp, code: &str) {
    assert_eq!(
        (r.status, r.text().trim()),
        (401, code),
        "headers: {:?}",
        r.headers
    );
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(&format!("error_description=\"{code}\"")),
        "{challenge:?}"
    );
}

/// The answer when no key set was ever had: 503, the code as body, no challenge.
#[track_caller]
fn assert_unavailable(r: &Resp, what: &str) {
    assert_eq!(
        (r.status, r.text().trim()),
        (503, "jwks_unavailable"),
        "{what}"
    );
    assert_eq!(r.header("www-authenticate"), None, "{what}");
}

/// Waits until the filter has counted another failed fetch than `before`.
#[track_caller]
fn wait_for_failure(envoy: &Envoy, before: u64) {
    assert!(
        eventually(Duration::from_secs(20), || envoy.counter(FAILURES) > before),
        "no failed fetch counted after {before}:\n{}",
        envoy.log_text()
    );
}

/// Envoy and the filter are still sound. A panic kills the worker's Wasm VM, after which
/// Envoy answers every request on that worker 503, even one no rule asks a token of: that
/// is what `/public` checks. The log (flushed by Envoy every few seconds) may say it too.
#[track_caller]
fn assert_healthy(envoy: &Envoy) {
    let log = envoy.log_text();
    assert!(!log.contains("panicked"), "the filter panicked:\n{log}");
    assert_eq!(get(envoy.port, "/public", &[]).status, 200);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn error_statuses_keep_the_last_good_keys_and_refuse_bad_tokens() {
    // cache_duration 1s: background refreshes run all the time; cooldown 0s: an unknown kid
    // fetches at once, so each such request is itself a fetch the test can watch.
    let (_upstream, issuer, envoy) =
        serving(json!({"cache_duration": "1s", "refetch_cooldown": "0s"}), 2);

    // Each status carries, as its body, a key set with the rotated key: an error answer must
    // not be taken for keys, whatever its body says.
    let with_new_key = json!({"keys": [p256_jwk(), ed25519_jwk()]}).to_string();
    for status in [500, 502, 503, 504, 404, 429, 301] {
        issuer.serve(Resp::new(status, with_new_key.clone()));
        let failures = envoy.counter(FAILURES);
        let r = call(&envoy, &rotated());
        assert_refused(&r, "unknown_key");
        wait_for_failure(&envoy, failures);
        for _ in 0..3 {
            assert_eq!(call(&envoy, &good()).status, 200, "during {status}");
        }
        assert_refused(&call(&envoy, &tampered()), "invalid_signature");
        assert_eq!(call(&envoy, &alg_none()).status, 401);
    }

    // A failing issuer is not hammered: known kids need no fetch, so only the background
    // refresh (every 5 s after a failure) reaches it while good tokens flow.
    let (hits, since) = (issuer.hits(), Instant::now());
    for _ in 0..30 {
        assert_eq!(call(&envoy, &good()).status, 200);
    }
    let allowed = 2 + since.elapsed().as_secs() as usize / 5;
    assert!(
        issuer.hits() - hits <= allowed,
        "{} fetches for 30 requests with known kids",
        issuer.hits() - hits
    );

    // The issuer recovers with rotated keys, the old one withdrawn.
    issuer.serve(keyset(&[ed25519_jwk()]));
    assert!(eventually(Duration::from_secs(10), || call(
        &envoy,
        &rotated()
    )
    .status
        == 200));
    // Each worker drops the withdrawn key once it has seen the new set: at its next tick,
    // or at once when a token's kid sends it to look.
    assert!(eventually(Duration::from_secs(5), || (0..5).all(|_| {
        let r = call(&envoy, &good());
        r.status == 401 && r.text().trim() == "unknown_key"
    })));
    for _ in 0..5 {
        assert_eq!(call(&envoy, &rotated()).status, 200);
    }
    assert_healthy(&envoy);
}

/// Answers with status 200 that are not a usable key set. Those that hold the rotated key
/// would make its token pass if they were taken for keys.
fn garbage() -> Vec<(&'static str, Vec<u8>)> {
    let ed = ed25519_jwk();
    let good = json!({"keys": [p256_jwk(), ed.clone()]}).to_string();
    let many: Vec<Value> = (0..300)
        .map(|i| {
            let mut k = ed.clone();
            k["kid"] = json!(format!("ed25519-{i}"));
            k
        })
        .chain([ed.clone()])
        .collect();
    vec![
        (
            "an HTML error page",
            b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        ),
        ("an empty body", Vec::new()),
        ("bytes that are not UTF-8", vec![0xff, 0xfe, 0, 0x80, b'{']),
        ("JSON that is not an object", b"[1, 2, 3]".to_vec()),
        (
            "keys that are not an array",
            br#"{"keys": "none"}"#.to_vec(),
        ),
        (
            "the OpenID discovery document instead of its jwks_uri",
            json!({"issuer": ISSUER, "jwks_uri": "https://issuer.example/jwks"})
                .to_string()
                .into_bytes(),
        ),
        ("an empty key set", br#"{"keys": []}"#.to_vec()),
        (
            "a key set with no usable key",
            json!({"keys": [{"kty": "RSA", "kid": "ed25519", "n": "AQAB", "e": "AQAB"},
                            {"kty": "EC", "kid": "p256", "crv": "P-521", "x": "AA", "y": "AA"}]})
            .to_string()
            .into_bytes(),
        ),
        (
            "a good key set cut in half",
            good.as_bytes()[..good.len() / 2].to_vec(),
        ),
        (
            "a key set with a repeated member",
            format!(r#"{{"keys": [{ed}], "keys": [{ed}]}}"#).into_bytes(),
        ),
        (
            "a key set with more than 256 entries",
            json!({ "keys": many }).to_string().into_bytes(),
        ),
    ]
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn garbage_never_replaces_good_keys_and_never_opens_the_door() {
    use_live_clock();
    let upstream = upstream();
    let cases = garbage();
    let issuer = Issuer::start(Resp::new(200, cases[0].1.clone()));
    let envoy = start(
        &upstream,
        &issuer,
        config(json!({"cache_duration": "1s", "refetch_cooldown": "0s"})),
        2,
    );

    // Never a good key set: every token gets 503 jwks_unavailable, whatever it is.
    for (name, body) in &cases {
        issuer.serve(Resp::new(200, body.clone()));
        let failures = envoy.counter(FAILURES);
        wait_for_failure(&envoy, failures);
        for t in [good(), rotated(), tampered(), alg_none()] {
            assert_unavailable(&call(&envoy, &t), name);
        }
        // A token that is not a JWS at all is refused too (before or after the keys).
        assert_ne!(call(&envoy, "not-a-token").status, 200, "{name}");
    }
    assert_eq!(envoy.counter(SUCCESSES), 0);

    // Good keys at last: served without a restart.
    issuer.serve(keyset(&[p256_jwk()]));
    assert!(eventually(Duration::from_secs(10), || call(
        &envoy,
        &good()
    )
    .status
        == 200));

    // Then garbage again: the last good keys stay. The rotated token's kid is unknown, so
    // it makes the filter fetch the garbage now, and proves it was not taken for keys.
    for (name, body) in &cases {
        issuer.serve(Resp::new(200, body.clone()));
        let failures = envoy.counter(FAILURES);
        let r = call(&envoy, &rotated());
        assert_refused(&r, "unknown_key");
        wait_for_failure(&envoy, failures);
        assert_eq!(call(&envoy, &good()).status, 200, "{name}");
        assert_refused(&call(&envoy, &tampered()), "invalid_signature");
        assert_eq!(call(&envoy, &alg_none()).status, 401, "{name}");
    }

    // A set whose only key is a shared secret is a valid set, but this provider accepts no
    // HMAC algorithm: a token signed with the published secret gets nowhere.
    let secret = keys().hmac.clone();
    issuer.serve(keyset(&[
        json!({"kty": "oct", "kid": "hs", "k": jwtgate::b64_encode(&secret)}),
    ]));
    let forged = token_raw(
        Algorithm::HS256,
        r#"{"alg":"HS256","kid":"hs"}"#,
        &claims().to_string(),
    );
    for _ in 0..3 {
        let r = call(&envoy, &forged);
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_slow_issuer_gets_a_bounded_answer_and_envoy_keeps_serving() {
    use_live_clock();
    let upstream = upstream();
    let issuer = Issuer::start(keyset(&[p256_jwk()]));
    issuer.hold(true);
    let envoy = start(
        &upstream,
        &issuer,
        config(json!({"cache_duration": "1s", "refetch_cooldown": "0s"})),
        2,
    );

    // No keys yet and the issuer does not answer: the request gets 503 once the fetch times
    // out (1 s), not when the issuer would answer (a minute).
    std::thread::scope(|s| {
        let waiting = s.spawn(|| call(&envoy, &good()));
        assert!(eventually(Duration::from_secs(10), || issuer.hits() >= 1));
        // While that request waits on the held fetch, Envoy serves others.
        for _ in 0..5 {
            assert_eq!(get(envoy.port, "/public", &[]).status, 200);
        }
        assert_unavailable(&waiting.join().unwrap(), "while the issuer is slow");
    });
    assert!(envoy.counter(FAILURES) >= 1);

    // The issuer answers again: keys arrive without a restart.
    issuer.hold(false);
    assert!(eventually(Duration::from_secs(10), || call(
        &envoy,
        &good()
    )
    .status
        == 200));

    // Slow again with keys in hand: the background refresh hangs and times out, and good
    // tokens are served from the last keys meanwhile.
    issuer.serve(keyset(&[p256_jwk(), ed25519_jwk()]));
    issuer.hold(true);
    let (hits, failures) = (issuer.hits(), envoy.counter(FAILURES));
    assert!(eventually(Duration::from_secs(10), || issuer.hits() > hits));
    for _ in 0..5 {
        assert_eq!(call(&envoy, &good()).status, 200);
    }
    wait_for_failure(&envoy, failures);
    // An unknown kid waits for a fetch that cannot answer in time: refused when it times out.
    assert_refused(&call(&envoy, &rotated()), "unknown_key");
    assert_refused(&call(&envoy, &tampered()), "invalid_signature");

    // Prompt again: the rotated key arrives on its next token.
    issuer.hold(false);
    assert!(eventually(Duration::from_secs(10), || call(
        &envoy,
        &rotated()
    )
    .status
        == 200));
    assert_eq!(call(&envoy, &good()).status, 200);
    assert_healthy(&envoy);
}

/// Envoy's heap in use (tcmalloc's count, the `server.memory_allocated` gauge) and the
/// process's resident set, which also holds the Wasm VMs' linear memory (V8 maps it outside
/// that heap, and Envoy has no gauge for it).
fn memory(envoy: &Envoy) -> (u64, u64) {
    let allocated = envoy.counter("server.memory_allocated");
    assert!(allocated > 0, "no server.memory_allocated gauge");
    let status = std::fs::read_to_string(format!("/proc/{}/status", envoy.pid())).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    (allocated, rss_kb * 1024)
}

const MB: u64 = 1 << 20;

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn huge_answers_are_refused_and_memory_stays_bounded() {
    // One worker: every unknown kid is exactly one fetch, counted once.
    let (_upstream, issuer, envoy) = serving(json!({"refetch_cooldown": "0s"}), 1);

    // 8 MiB of well-formed JWKS holding the rotated key: only its size stands in the way.
    let filler = |i: usize| {
        let mut k = ed25519_jwk();
        k["kid"] = json!(format!("filler-{i:06}"));
        k
    };
    let count = 8 * MB as usize / filler(0).to_string().len() + 1;
    let keys: Vec<Value> = std::iter::once(ed25519_jwk())
        .chain((0..count).map(filler))
        .collect();
    let text = json!({ "keys": keys }).to_string();
    assert!(text.len() > 8 * MB as usize);
    issuer.serve(Resp::new(200, text));

    let fetch_huge = |n: usize| {
        let (hits, failures) = (issuer.hits(), envoy.counter(FAILURES));
        for _ in 0..n {
            assert_refused(&call(&envoy, &rotated()), "unknown_key");
            assert_eq!(call(&envoy, &good()).status, 200);
        }
        assert_eq!(issuer.hits() - hits, n, "one fetch per unknown kid");
        assert_eq!(envoy.counter(FAILURES) - failures, n as u64);
    };
    // Warm up: the first huge answers grow Envoy's buffers and allocator caches once.
    let start = memory(&envoy);
    fetch_huge(3);
    let warm = memory(&envoy);
    fetch_huge(20);
    let after = memory(&envoy);
    eprintln!(
        "memory (allocated, rss) in MiB: start {:?}, after 3 huge fetches {:?}, after 20 more {:?}",
        (start.0 / MB, start.1 / MB),
        (warm.0 / MB, warm.1 / MB),
        (after.0 / MB, after.1 / MB)
    );
    // 20 fetches move 160 MiB: keeping even a fifth of each would show here. The filter
    // refuses by the announced size, before copying anything into its VM.
    assert!(
        after.0 < warm.0 + 32 * MB,
        "Envoy's heap grew from {} to {} MiB over 20 huge fetches",
        warm.0 / MB,
        after.0 / MB
    );
    assert!(
        after.1 < warm.1 + 48 * MB,
        "Envoy's resident set grew from {} to {} MiB over 20 huge fetches",
        warm.1 / MB,
        after.1 / MB
    );
    // And the warm-up itself: at most a few bodies' worth, once.
    assert!(
        after.1 < start.1 + 64 * MB,
        "Envoy's resident set grew from {} to {} MiB over 23 huge fetches",
        start.1 / MB,
        after.1 / MB
    );
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_key_set_cut_short_mid_body_is_refused() {
    let (_upstream, issuer, envoy) = serving(json!({"refetch_cooldown": "0s"}), 2);
    let rotated_set = keyset(&[p256_jwk(), ed25519_jwk()]);
    let half = rotated_set.body.len() / 2;
    for (name, hang) in [
        ("stalls mid-body past the timeout", Duration::from_secs(5)),
        ("closes the connection mid-body", Duration::ZERO),
    ] {
        issuer.answer(Answer::Cut {
            resp: rotated_set.clone(),
            after: half,
            hang,
        });
        let failures = envoy.counter(FAILURES);
        assert_refused(&call(&envoy, &rotated()), "unknown_key");
        wait_for_failure(&envoy, failures);
        assert_eq!(call(&envoy, &good()).status, 200, "{name}");
    }
    // Whole again: the rotated key is fetched on its first token.
    issuer.serve(rotated_set);
    assert_eq!(call(&envoy, &rotated()).status, 200);
    // (Before the filter looked at the header count, both cuts above killed the worker's
    // VM: Envoy reports such a failure with no header map, and asking it for `:status`
    // panicked. The waiting request never got an answer, and every later one got a 503.)

    // The client whose request started a fetch leaves while it waits: the fetch it owned
    // is abandoned with its context, and nothing may stay stuck waiting for it.
    issuer.serve(keyset(&[p256_jwk(), ed25519_jwk(), p384_jwk()]));
    issuer.hold(true);
    let hits = issuer.hits();
    {
        let mut conn = TcpStream::connect(("127.0.0.1", envoy.port)).unwrap();
        let p384 = token(Algorithm::ES384, &claims());
        let req = format!("GET /api HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {p384}\r\n\r\n");
        std::io::Write::write_all(&mut conn, req.as_bytes()).unwrap();
        assert!(eventually(Duration::from_secs(10), || issuer.hits() > hits));
    }
    issuer.hold(false);
    assert!(eventually(Duration::from_secs(10), || call(
        &envoy,
        &token(Algorithm::ES384, &claims())
    )
    .status
        == 200));
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn keys_past_max_stale_are_dropped_and_requests_get_503_until_the_issuer_is_back() {
    // The keys are fresh for 1 s and may serve 2 s more while the issuer cannot be reached;
    // the JWT cache is on, so a cached token must not outlive the keys either.
    use_live_clock();
    let upstream = upstream();
    let issuer = Issuer::start(keyset(&[p256_jwk()]));
    let mut cfg = config(json!({"cache_duration": "1s", "max_stale": "2s"}));
    cfg["providers"]["main"]["jwt_cache_config"] = json!({"jwt_cache_size": 10});
    let envoy = start(&upstream, &issuer, cfg, 2);
    assert_eq!(call(&envoy, &good()).status, 200);
    issuer.serve(Resp::new(500, "down"));
    let failures = envoy.counter(FAILURES);
    wait_for_failure(&envoy, failures);
    // Past cache_duration + max_stale without a good fetch: 503, on every worker.
    assert!(
        eventually(Duration::from_secs(20), || (0..6).all(|_| {
            let r = call(&envoy, &good());
            r.status == 503 && r.text().trim() == "jwks_unavailable"
        })),
        "stale keys kept serving:\n{}",
        envoy.log_text()
    );
    assert_unavailable(&call(&envoy, &good()), "past max_stale");
    assert_eq!(call(&envoy, &tampered()).status, 503);
    // Envoy flushes its log every few seconds.
    assert!(eventually(Duration::from_secs(15), || envoy
        .log_text()
        .contains("older than cache_duration + max_stale")));
    // The issuer is back: the keys return without a restart.
    issuer.serve(keyset(&[p256_jwk()]));
    assert!(eventually(Duration::from_secs(20), || (0..6)
        .all(|_| call(&envoy, &good()).status == 200)));
    assert_refused(&call(&envoy, &tampered()), "invalid_signature");
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_token_of_another_issuer_never_fetches_this_providers_keys() {
    use_live_clock();
    let upstream = upstream();
    let issuer = Issuer::start(keyset(&[p256_jwk()]));
    // "main" fetches from the issuer and would re-fetch on every unknown kid (cooldown 0 s);
    // "other" holds its Ed25519 key locally. Both read the Authorization header.
    let mut cfg = config(json!({"refetch_cooldown": "0s"}));
    cfg["providers"]["other"] = json!({"issuer": "https://other.example",
        "local_jwks": {"inline_string": json!({"keys": [ed25519_jwk()]}).to_string()}});
    cfg["rules"] = json!([{"match": {"prefix": "/public"}},
        {"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
        {"provider_name": "main"}, {"provider_name": "other"}]}}}]);
    let envoy = start(&upstream, &issuer, cfg, 2);
    let first = call(&envoy, &good());
    assert_eq!(first.status, 200, "{}", first.text());
    let hits = issuer.hits();
    let other = token(
        Algorithm::EdDSA,
        &claims_with(json!({"iss": "https://other.example"})),
    );
    for _ in 0..20 {
        let r = call(&envoy, &other);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // A token naming an issuer nobody has is refused, without a fetch either.
    let nobody = token(
        Algorithm::EdDSA,
        &claims_with(json!({"iss": "https://nobody.example"})),
    );
    for _ in 0..5 {
        assert_refused(&call(&envoy, &nobody), "invalid_issuer");
    }
    assert_eq!(
        issuer.hits(),
        hits,
        "tokens of other issuers fetched main's keys"
    );
    // main's own token with an unknown kid does fetch: the count above could have moved.
    assert_refused(&call(&envoy, &rotated()), "unknown_key");
    assert!(issuer.hits() > hits);
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_remote_set_with_no_key_for_the_providers_algorithms_is_logged_and_counted() {
    use_live_clock();
    let upstream = upstream();
    // Only an HMAC key, and the provider accepts no HS*: start-up cannot see this coming.
    let issuer = Issuer::start(keyset(&[hmac_jwk()]));
    let envoy = start(&upstream, &issuer, config(json!({})), 1);
    let unusable = "wasmcustom.jwtgate.jwks_fetch.unusable";
    assert!(
        eventually(Duration::from_secs(10), || envoy.counter(unusable) >= 1),
        "{}",
        envoy.log_text()
    );
    assert_eq!(call(&envoy, &good()).status, 401);
    assert!(eventually(Duration::from_secs(15), || envoy
        .log_text()
        .contains("hold no key for an algorithm provider main accepts")));
    assert_healthy(&envoy);
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_flood_of_distinct_valid_tokens_keeps_the_default_cache_bounded() {
    use_live_clock();
    let upstream = upstream();
    // The default cache (no jwt_cache_config), one worker, local keys: every token verifies.
    let jwks = json!({"keys": [ed25519_jwk()]}).to_string();
    let config = json!({"providers": {"main": {"issuer": ISSUER, "audiences": [AUDIENCE],
                                                "local_jwks": {"inline_string": jwks}}},
                        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]});
    let envoy = Envoy::start(Setup {
        jwtgate: config,
        jwt_authn: None,
        clusters: vec![],
        upstream: upstream.port,
        workers: 1,
    })
    .unwrap_or_else(|log| panic!("{log}"));
    // Tokens of about 3 KiB (under jwt_max_token_size, so each is cached): a cache without a
    // bound would hold 1,500 of them and their claims, over 8 MiB.
    let padding = "x".repeat(2200);
    let flood = |from: usize, to: usize| {
        for i in from..to {
            let t = token(
                Algorithm::EdDSA,
                &claims_with(json!({"jti": format!("flood-{i}"), "pad": padding})),
            );
            assert!(t.len() < 4096);
            let r = get(
                envoy.port,
                "/api",
                &[("authorization", &format!("Bearer {t}"))],
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    const ENTRIES: &str = "wasmcustom.jwtgate.jwt_cache.entries";
    // Warm up past the bound: the cache is full, the VM's memory has grown to hold it.
    flood(0, 300);
    assert!(eventually(Duration::from_secs(5), || envoy
        .counter(ENTRIES)
        == 100));
    let (_, rss_before) = memory(&envoy);
    flood(300, 1800);
    assert!(eventually(Duration::from_secs(5), || envoy
        .counter("wasmcustom.jwtgate.allowed")
        == 1800));
    assert_eq!(envoy.counter(ENTRIES), 100, "the cache holds its bound");
    let (_, rss_after) = memory(&envoy);
    assert!(
        rss_after < rss_before + 4 * MB,
        "resident memory grew from {rss_before} to {rss_after} bytes over 1,500 distinct tokens"
    );
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_304_that_answers_no_request_of_the_filter_does_not_renew_the_keys() {
    let with = |mut r: Resp, header: Option<(&str, &str)>| {
        r.headers.extend(header.map(|(n, v)| (n.into(), v.into())));
        r
    };
    for (what, validator, answer) in [
        // The issuer sends no ETag nor Last-Modified, so no refresh is conditional: a 304 (a
        // broken issuer, or a cache in between) answers nothing the filter asked.
        ("a request naming no copy", None, None),
        // RFC 9111 4.3.4: a 304 whose validator matches no stored copy updates none.
        (
            "another ETag",
            Some(("etag", "\"a\"")),
            Some(("etag", "\"b\"")),
        ),
        (
            "another date",
            Some(("last-modified", "Mon, 30 Nov 2026 10:00:00 GMT")),
            Some(("last-modified", "Tue, 01 Dec 2026 10:00:00 GMT")),
        ),
    ] {
        use_live_clock();
        let upstream = upstream();
        let issuer = Issuer::start(with(keyset(&[p256_jwk()]), validator));
        let envoy = start(
            &upstream,
            &issuer,
            config(json!({"cache_duration": "1s", "max_stale": "2s"})),
            1,
        );
        assert_eq!(call(&envoy, &good()).status, 200);
        issuer.serve(with(Resp::new(304, ""), answer));
        // Past cache_duration + max_stale since the only full answer: the keys go.
        assert!(
            eventually(Duration::from_secs(20), || {
                let r = call(&envoy, &good());
                r.status == 503 && r.text().trim() == "jwks_unavailable"
            }),
            "keys renewed by 304s to {what} ({} counted):\n{}",
            envoy.counter("wasmcustom.jwtgate.jwks_fetch.not_modified"),
            envoy.log_text()
        );
        assert_eq!(
            envoy.counter("wasmcustom.jwtgate.jwks_fetch.not_modified"),
            0,
            "{what}"
        );
        assert_healthy(&envoy);
    }
}

#[test]
#[ignore = "needs Envoy: `cargo xtask test` runs it"]
fn a_client_leaving_does_not_lose_the_refetch_others_wait_for() {
    // Client A's unknown kid starts a refetch and A leaves while the issuer is slow; B, with
    // the same new kid, waits on that same fetch. The issuer then answers with the key.
    use_live_clock();
    let upstream = upstream();
    let issuer = Issuer::start(keyset(&[p256_jwk()]));
    let envoy = start(
        &upstream,
        &issuer,
        config(
            json!({"http_uri": {"uri": "http://jwks.test/.well-known/jwks.json",
                                   "cluster": "jwks", "timeout": "10s"}}),
        ),
        1,
    );
    assert_eq!(call(&envoy, &good()).status, 200);
    issuer.serve(keyset(&[p256_jwk(), ed25519_jwk()]));
    issuer.hold(true);
    let hits = issuer.hits();
    let active = "http.jwtgate.downstream_rq_active";
    std::thread::scope(|s| {
        let mut a = TcpStream::connect(("127.0.0.1", envoy.port)).unwrap();
        let req = format!(
            "GET /api HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
            rotated()
        );
        std::io::Write::write_all(&mut a, req.as_bytes()).unwrap();
        assert!(eventually(Duration::from_secs(10), || issuer.hits() > hits));
        let b = s.spawn(|| call(&envoy, &rotated()));
        assert!(eventually(Duration::from_secs(10), || envoy
            .counter(active)
            == 2));
        drop(a);
        assert!(eventually(Duration::from_secs(10), || envoy
            .counter(active)
            == 1));
        issuer.hold(false);
        let b = b.join().unwrap();
        assert_eq!(
            (b.status, b.text().trim().to_owned()),
            (200, "upstream".to_owned()),
            "B, waiting on the refetch A started"
        );
    });
    // And the new key is had: not refused for a whole refetch_cooldown (30 s).
    assert_eq!(call(&envoy, &rotated()).status, 200);
    assert_healthy(&envoy);
}
