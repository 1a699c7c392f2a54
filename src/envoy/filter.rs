//! The proxy-wasm glue: Envoy's callbacks in, [`decide`] in the middle, hostcalls out.
//!
//! Remote key sets and the revocation list live in proxy-wasm shared data, so every worker
//! reads one copy and one fetch serves them all. Each source has a small state entry changed
//! only by compare-and-swap: whoever swaps it to "busy" fetches, everyone else waits for the
//! version to move. Requests that need keys nobody has yet are paused and resumed when the
//! fetch ends, in whichever worker context that happens.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};
use serde_json::Value;

use super::cache::JwtCache;
use super::config::{split_uri, usable, Config, HttpUri, JwksSource};
use super::headers::HeaderMap;
use super::request::{decide, Env, HeaderOp, Keys, Outcome, Request, RouteChoice};
use crate::{Claims, Error, JwkSet, JwksError, Verifier};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|id| -> Box<dyn RootContext> { Box::new(Root { id, runtime: None }) });
}}

/// How often each root context looks at shared state.
const TICK: Duration = Duration::from_millis(100);
/// After a failed background refresh while the keys still serve, wait at least this long
/// before the next one: an issuer that is down gets one request every few seconds, not more.
const RETRY_REFRESH: u64 = 5_000;
/// The revocation list's retry after a failure.
const RETRY_REVOCATION: Duration = Duration::from_secs(1);
/// The largest fetched document accepted.
const MAX_BODY: usize = JwkSet::MAX_BYTES;

fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// What tells this sidecar apart from the rest of a fleet: its node's `id` and `cluster`,
/// or, where neither is set, the time this plugin started, in ns from the host clock.
fn sidecar_seed() -> u64 {
    let property = |name: &str| {
        // Envoy's `xds.node`: its `node` attribute is empty in a root context.
        hostcalls::get_property(vec!["xds", "node", name])
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let mut node = property("id");
    node.push(0);
    node.extend(property("cluster"));
    if node.len() == 1 {
        let started = hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        node.extend(started.to_le_bytes());
    }
    fnv1a(&node)
}

/// FNV-1a, 64 bits: a few bytes into a number, no randomness.
fn fnv1a<'a>(bytes: impl IntoIterator<Item = &'a u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Root {
    id: u32,
    runtime: Option<Rc<Runtime>>,
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize, _: usize) {
        if let Some(rt) = &self.runtime {
            rt.on_fetch_response(self, self.id, token, headers, body_size);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Config::from_json(&bytes) {
            Ok(config) => {
                self.runtime = Some(Rc::new(Runtime::new(config, sidecar_seed())));
                self.set_tick_period(TICK);
                true
            }
            Err(e) => {
                // Envoy refuses a filter whose configure fails: no request passes unchecked.
                log(LogLevel::Critical, &e.to_string());
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(rt) = self.runtime.clone() {
            rt.on_tick(self, self.id);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let rt = self.runtime.clone()?;
        Some(Box::new(Http { id: context_id, rt }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    id: u32,
    rt: Rc<Runtime>,
}

impl Context for Http {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize, _: usize) {
        let rt = self.rt.clone();
        rt.on_fetch_response(self, self.id, token, headers, body_size);
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let rt = self.rt.clone();
        rt.now.set(now_ms());
        let Some(headers) = request_header_bytes().and_then(HeaderMap::from_bytes) else {
            // Envoy always hands a well-formed map over here: never expected, and never a pass.
            log(
                LogLevel::Critical,
                "jwtgate: the request headers could not be read",
            );
            let _ = hostcalls::send_http_response(500, vec![], None);
            return Action::Pause;
        };
        // A rule's path, regex, query or header matcher would compare a value read lossily
        // where Envoy's compares its bytes, and could choose another rule than jwt_authn: such
        // a request is refused, never routed on a guess (stricter than jwt_authn, in
        // examples/envoy/README.md). Every rule reads `:path`.
        let named = |name: &String| {
            name == ":path"
                || rt.config.rules.iter().any(|r| {
                    r.headers
                        .iter()
                        .any(|m| m.name().eq_ignore_ascii_case(name))
                })
        };
        if headers.lossy().iter().any(named) {
            let body = b"malformed request header\n";
            let _ = hostcalls::send_http_response(
                400,
                vec![("content-type", "text/plain")],
                Some(body),
            );
            return Action::Pause;
        }
        let route = route_choice(&rt.config);
        rt.active.set(self.id);
        rt.handle(self, self.id, OwnedRequest { headers, route }, false)
    }
}

/// The request headers as Envoy serializes them, with one host call and no copy per header
/// (see [`HeaderMap`]); `None` if Envoy would not give them, which must not read as "no
/// token" (the SDK panicked there).
fn request_header_bytes() -> Option<Vec<u8>> {
    #[link(wasm_import_module = "env")]
    extern "C" {
        fn proxy_get_header_map_pairs(
            map_type: MapType,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> Status;
    }
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the proxy-wasm ABI: on success Envoy has allocated `size` bytes at `data`
    // through this module's `proxy_on_memory_allocate` (a boxed slice of exactly that length,
    // as the SDK's own `get_map` takes it back), and they are ours.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if data.is_null() => Some(Vec::new()),
            Status::Ok => Some(Vec::from_raw_parts(data, size, size)),
            _ => None,
        }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        // A request that ends while waiting (the client left) stops waiting.
        self.rt
            .waiters
            .borrow_mut()
            .retain(|w| w.context_id != self.id);
        // A fetch it made dies with it (Envoy cancels it, or the SDK drops its answer), while
        // other requests may wait on it: the root context takes it over.
        let mut calls = self.rt.calls.borrow_mut();
        let lost: Vec<u32> = calls
            .iter()
            .filter(|(_, call)| call.3.contains(&self.id))
            .map(|(token, _)| *token)
            .collect();
        for token in lost {
            if let Some((source, stage, ..)) = calls.remove(&token) {
                self.rt.orphans.borrow_mut().push((source, stage));
            }
        }
    }
}

/// The route's choice of requirement, from its metadata (`filter_metadata.jwtgate`): read only
/// when `requirement_map` is configured, a host call per request otherwise saved.
fn route_choice(config: &Config) -> Option<RouteChoice> {
    if config.requirement_map.is_empty() {
        return None;
    }
    let get = |field: &str| {
        hostcalls::get_property(vec![
            "xds",
            "route_metadata",
            "filter_metadata",
            "jwtgate",
            field,
        ])
        .ok()
        .flatten()
    };
    // Envoy hands a boolean over as one byte; the string "true" is not a boolean, and a
    // value of the wrong type must not turn the check off.
    if get("disabled").is_some_and(|b| b == [1]) {
        return Some(RouteChoice::Disabled);
    }
    get("requirement_name")
        .map(|b| RouteChoice::Requirement(String::from_utf8_lossy(&b).into_owned()))
}

/// A request as the filter keeps it: its headers' bytes, so that one that waits for keys can
/// be decided again later.
struct OwnedRequest {
    headers: HeaderMap,
    route: Option<RouteChoice>,
}

/// The first value of a (pseudo-)header, or "".
fn pseudo<'a>(headers: &[(&'a str, &'a str)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v)
}

/// The realm of the challenge: the request URL without its query. `jwt_authn` writes the query
/// too (its path cut at 256 bytes), so a token sent as a query parameter comes back in its
/// answer; jwtgate's does not echo it (examples/envoy/README.md, Responses).
fn realm(headers: &[(&str, &str)]) -> String {
    let path = pseudo(headers, ":path");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let scheme = match pseudo(headers, ":scheme") {
        "" => "http",
        scheme => scheme,
    };
    format!("{scheme}://{}{path}", pseudo(headers, ":authority"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jwks,
    Revocation,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Nothing was ever fetched.
    Initial,
    /// A token names a `kid` the keys lack.
    UnknownKid,
    /// The copy is getting old.
    Refresh,
}

/// What a good fetch brought.
enum Fetched {
    /// A document, and the validators to send back next time (empty when absent).
    Body {
        body: Vec<u8>,
        etag: String,
        last_modified: String,
    },
    /// `304 Not Modified`: the shared copy is still the issuer's.
    NotModified,
}

/// A document fetched through a cluster and shared between workers.
struct Source {
    kind: Kind,
    uri: HttpUri,
    state_key: String,
    data_key: String,
    /// The longest time between two refreshes (`cache_duration`, `refresh_interval`), ms.
    interval: u64,
    /// The shortest an issuer's `Cache-Control: max-age` may make it, ms.
    floor: u64,
    cooldown: u64,
    /// After a failed fetch, wait this long before the next try (ms).
    retry: u64,
    /// Past `fetched_at` plus this, the copy is dropped: `cache_duration + max_stale` (ms).
    stale_after: u64,
    /// The version this worker has parsed; when the shared copy was last fetched or confirmed
    /// (a 304), and when it is due for a refresh, as this worker last read them.
    version: Cell<u64>,
    fetched_at: Cell<u64>,
    refresh_at: Cell<u64>,
    /// With OIDC discovery: `uri` is the discovery document's, and the key set is at its
    /// `jwks_uri`.
    discovery: Option<Discovery>,
}

/// A key set found through an OIDC discovery document.
struct Discovery {
    /// What the document's `issuer` must be, exactly.
    issuer: String,
    /// The shared copy of the document, kept and revalidated like the keys.
    data_key: String,
}

/// Which request of a fetch a call is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The discovery document, before the key set it names.
    Discovery,
    /// The document itself: the key set or the deny list.
    Document,
}

/// The shared state of a source: `"version busy_until failed_at refetched_at fetched_at
/// refresh_at refreshes"`, times in ms.
#[derive(Default, Clone, Copy)]
struct SharedState {
    version: u64,
    busy_until: u64,
    failed_at: u64,
    refetched_at: u64,
    /// When the copy was last fetched or confirmed unchanged: its age counts from here.
    fetched_at: u64,
    /// When the next background refresh is due, spread over the fleet (see [`spread`]).
    refresh_at: u64,
    /// Good fetches so far: each refresh draws its own point in the window.
    refreshes: u64,
}

impl SharedState {
    fn parse(bytes: &[u8]) -> SharedState {
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        let mut n = text.split(' ').map(|s| s.parse().unwrap_or(0));
        let mut next = || n.next().unwrap_or(0);
        SharedState {
            version: next(),
            busy_until: next(),
            failed_at: next(),
            refetched_at: next(),
            fetched_at: next(),
            refresh_at: next(),
            refreshes: next(),
        }
    }

    fn text(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.version,
            self.busy_until,
            self.failed_at,
            self.refetched_at,
            self.fetched_at,
            self.refresh_at,
            self.refreshes
        )
    }
}

/// The shared copy of a document: `"version\netag\nlast_modified\nbody"`. The validators
/// are what the next fetch sends back (`If-None-Match`, `If-Modified-Since`).
struct SharedCopy<'a> {
    version: u64,
    etag: &'a [u8],
    last_modified: &'a [u8],
    body: &'a [u8],
}

impl<'a> SharedCopy<'a> {
    fn parse(data: &'a [u8]) -> Option<SharedCopy<'a>> {
        let mut parts = data.splitn(4, |b| *b == b'\n');
        let version = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        Some(SharedCopy {
            version,
            etag: parts.next()?,
            last_modified: parts.next()?,
            body: parts.next()?,
        })
    }

    fn bytes(version: u64, etag: &str, last_modified: &str, body: &[u8]) -> Vec<u8> {
        let mut data = format!("{version}\n{etag}\n{last_modified}\n").into_bytes();
        data.extend_from_slice(body);
        data
    }
}

/// The validators of a shared copy, as a conditional request sends them back; a copy without
/// either has none, and its refresh is not conditional.
#[derive(PartialEq, Eq)]
struct Validators {
    etag: String,
    last_modified: String,
}

impl Validators {
    fn of(copy: &SharedCopy<'_>) -> Option<Validators> {
        let text = |b: &[u8]| std::str::from_utf8(b).unwrap_or_default().to_owned();
        let v = Validators {
            etag: text(copy.etag),
            last_modified: text(copy.last_modified),
        };
        (!v.etag.is_empty() || !v.last_modified.is_empty()).then_some(v)
    }

    /// Whether a 304's own validators, where it sends them, are the ones sent (RFC 9111
    /// 4.3.4: a 304 updates only the stored response its validator matches). ETags compare
    /// weakly, as `If-None-Match` does (RFC 9110 8.8.3.2); a date only without an ETag.
    fn confirmed_by(&self, etag: &str, last_modified: &str) -> bool {
        let weak = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_owned();
        if !etag.is_empty() {
            return !self.etag.is_empty() && weak(etag) == weak(&self.etag);
        }
        last_modified.is_empty() || last_modified == self.last_modified
    }
}

/// Where in `[0, 1)` this sidecar's `n`-th refresh of `key` falls. No randomness: a hash of
/// what tells sidecars apart (`seed`: Envoy's `node.id` and `node.cluster`, unique per sidecar
/// where a control plane names them; the plugin's start time in ns from the host clock where
/// they are empty), of the document and of `n`. Every worker of a sidecar shares one fetch,
/// so the spread is needed between sidecars, not between workers.
fn spread(seed: u64, key: &str, n: u64) -> f64 {
    let seed = seed.to_le_bytes();
    let n = n.to_le_bytes();
    let mut h = fnv1a(seed.iter().chain(key.as_bytes()).chain(&n));
    // splitmix64's finaliser: FNV's high bits alone are poorly mixed for short inputs.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The shortest refresh an issuer's `max-age` may ask for the key set, beside
/// `refetch_cooldown`: once a second.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// The seconds of `Cache-Control: max-age`; `no-cache` and `no-store` count as 0.
fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let (name, value) = directive
            .trim()
            .split_once('=')
            .unwrap_or((directive.trim(), ""));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            age = value.trim_matches('"').parse().ok();
        }
    }
    age
}

impl Source {
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: Kind,
        uri: &HttpUri,
        discovery: Option<&str>,
        interval: Duration,
        floor: Duration,
        cooldown: Duration,
        retry: Duration,
        stale_after: Duration,
    ) -> Source {
        let id = format!(
            "{}|{}|{}",
            uri.cluster,
            uri.uri,
            discovery.unwrap_or_default()
        );
        let tag = match (kind, discovery) {
            (Kind::Jwks, None) => "jwks",
            (Kind::Jwks, Some(_)) => "discovered",
            (Kind::Revocation, _) => "revoked",
        };
        let interval = interval.as_millis() as u64;
        Source {
            kind,
            uri: uri.clone(),
            // `2`: the layout with validators and the refresh time. Shared data outlives a
            // module reloaded in the same VM id; an older layout is never misread.
            state_key: format!("jwtgate/{tag}/state2/{id}"),
            data_key: format!("jwtgate/{tag}/data2/{id}"),
            interval,
            floor: (floor.as_millis() as u64).min(interval),
            cooldown: cooldown.as_millis() as u64,
            retry: retry.as_millis() as u64,
            stale_after: u64::try_from(stale_after.as_millis()).unwrap_or(u64::MAX),
            version: Cell::new(0),
            fetched_at: Cell::new(0),
            refresh_at: Cell::new(0),
            discovery: discovery.map(|issuer| Discovery {
                issuer: issuer.to_owned(),
                data_key: format!("jwtgate/{tag}/document2/{id}"),
            }),
        }
    }

    /// When a copy fetched or confirmed `now` is next refreshed: the issuer's `max-age` held
    /// between `floor` and `interval`, and the refresh drawn between 60% and 90% of it, so a fleet started together does not ask in step, and the copy is renewed
    /// before `interval` runs out.
    fn next_refresh(&self, seed: u64, now: u64, max_age: Option<u64>, n: u64) -> u64 {
        let interval = max_age.map_or(self.interval, |secs| {
            secs.saturating_mul(1000).clamp(self.floor, self.interval)
        });
        now + (interval as f64 * (0.6 + 0.3 * spread(seed, &self.state_key, n))) as u64
    }

    /// The longest a fetch may take, ms: each of its requests' timeout (two with discovery),
    /// and a second for the rest.
    fn fetch_time(&self) -> u64 {
        let requests = if self.discovery.is_some() { 2 } else { 1 };
        self.uri.timeout.as_millis() as u64 * requests + 1_000
    }

    /// The shared copy's bytes, if any: of the document, or of the discovery document.
    fn data(&self, stage: Stage) -> Option<Vec<u8>> {
        let key = match (stage, &self.discovery) {
            (Stage::Discovery, Some(d)) => &d.data_key,
            _ => &self.data_key,
        };
        hostcalls::get_shared_data(key).ok()?.0
    }

    /// Where the document is: the configured URI, or the discovery document's `jwks_uri`.
    fn target(&self, stage: Stage) -> Result<(String, String), String> {
        if stage == Stage::Discovery || self.discovery.is_none() {
            return Ok((self.uri.authority.clone(), self.uri.path.clone()));
        }
        let data = self
            .data(Stage::Discovery)
            .ok_or("no discovery document was had")?;
        let copy = SharedCopy::parse(&data).ok_or("the discovery document's copy is unreadable")?;
        self.jwks_uri(copy.body)
    }

    /// The `jwks_uri` of a discovery document, if it may be used: a JSON object whose
    /// `issuer` is exactly the provider's, naming a key set on the discovery document's own
    /// scheme and host. Fail closed on anything else: the cluster is the one configured for
    /// that host, and a document must not send the key fetch elsewhere.
    fn jwks_uri(&self, document: &[u8]) -> Result<(String, String), String> {
        let d = self.discovery.as_ref().ok_or("no discovery")?;
        // What a document is worth (strict JSON, exactly the provider's issuer, an https
        // jwks_uri with a plain host) is the core's decision, the npm package's too.
        let uri = crate::discovery::jwks_uri(document, &d.issuer).map_err(|e| e.to_string())?;
        let (authority, path) = split_uri(&uri).map_err(|why| format!("its jwks_uri {why}"))?;
        let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_owned());
        if authority != self.uri.authority || scheme(&uri) != scheme(&self.uri.uri) {
            return Err(format!(
                "its jwks_uri {uri:?} is not on {}, the discovery document's host",
                self.uri.authority
            ));
        }
        Ok((authority.to_owned(), path.to_owned()))
    }

    /// Keeps the key set's copy serving but drops its validators: they are another URL's
    /// once the discovery document moves `jwks_uri`, and sent there they could get a 304
    /// (a file server comparing dates) for a document never had. Until the new URL answers
    /// in full, the key set is asked for unconditionally.
    fn forget_validators(&self) {
        let Ok((Some(data), cas)) = hostcalls::get_shared_data(&self.data_key) else {
            return;
        };
        if let Some(copy) = SharedCopy::parse(&data) {
            let bytes = SharedCopy::bytes(copy.version, "", "", copy.body);
            // Only over the copy read: a newer one another worker stored meanwhile stays. A
            // lost race leaves validators that the 304 check still holds to the copy sent.
            let _ = hostcalls::set_shared_data(&self.data_key, Some(&bytes), cas);
        }
    }

    fn state(&self) -> (SharedState, Option<u32>) {
        match hostcalls::get_shared_data(&self.state_key) {
            Ok((Some(bytes), cas)) => (SharedState::parse(&bytes), cas),
            Ok((None, cas)) => (SharedState::default(), cas),
            Err(_) => (SharedState::default(), None),
        }
    }

    /// Changes the shared state with compare-and-swap; false if another worker won.
    fn update(&self, change: impl Fn(&mut SharedState) -> bool) -> bool {
        for _ in 0..4 {
            let (mut state, cas) = self.state();
            if !change(&mut state) {
                return false;
            }
            match hostcalls::set_shared_data(&self.state_key, Some(state.text().as_bytes()), cas) {
                Ok(()) => return true,
                Err(Status::CasMismatch) => continue,
                Err(_) => return false,
            }
        }
        false
    }
}

struct ProviderRt {
    source: Option<usize>,
    verifier: RefCell<Option<Rc<Verifier>>>,
    cache: RefCell<JwtCache>,
}

/// A call in flight: its source, its stage, the validators it sent, if any, and the contexts
/// it lives and dies with: the one Envoy files it under (the effective context) and the one
/// the SDK hands its answer to (whose callback dispatched it).
type Call = (usize, Stage, Option<Validators>, [u32; 2]);

struct Waiter {
    context_id: u32,
    source: usize,
    since: u64,
    req: OwnedRequest,
}

struct Metrics {
    allowed: Counter,
    denied: HashMap<&'static str, Counter>,
    fetch_ok: u32,
    fetch_failed: u32,
    fetch_unusable: u32,
    fetch_not_modified: u32,
    cache_hit: Counter,
    cache_miss: Counter,
    /// Tokens held in the caches of every worker: each worker adds what changed in its own.
    cache_entries: u32,
    cache_entries_sent: Cell<i64>,
}

/// A per-request counter, counted in the VM and sent to Envoy at each tick: a host call per
/// request per counter measured about a microsecond of Envoy's CPU each.
struct Counter {
    id: u32,
    pending: Cell<i64>,
}

impl Counter {
    fn add(&self) {
        self.pending.set(self.pending.get() + 1);
    }

    fn flush(&self) {
        let n = self.pending.replace(0);
        if n > 0 {
            let _ = hostcalls::increment_metric(self.id, n);
        }
    }
}

impl Metrics {
    fn new(prefix: &str) -> Metrics {
        // `stat_prefix` goes after `jwtgate.`: jwtgate.<stat_prefix>.allowed.
        let define = |kind: MetricType, name: &str| {
            let name = match (prefix, name.strip_prefix("jwtgate.")) {
                ("", _) | (_, None) => name.to_owned(),
                (p, Some(rest)) => format!("jwtgate.{p}.{rest}"),
            };
            hostcalls::define_metric(kind, &name).unwrap_or(0)
        };
        let id = |name: &str| define(MetricType::Counter, name);
        let counter = |name: &str| Counter {
            id: id(name),
            pending: Cell::new(0),
        };
        Metrics {
            allowed: counter("jwtgate.allowed"),
            denied: Error::CODES
                .iter()
                .map(|code| (*code, counter(&format!("jwtgate.denied.{code}"))))
                .collect(),
            fetch_ok: id("jwtgate.jwks_fetch.success"),
            fetch_failed: id("jwtgate.jwks_fetch.failure"),
            fetch_unusable: id("jwtgate.jwks_fetch.unusable"),
            fetch_not_modified: id("jwtgate.jwks_fetch.not_modified"),
            cache_hit: counter("jwtgate.jwt_cache.hit"),
            cache_miss: counter("jwtgate.jwt_cache.miss"),
            cache_entries: define(MetricType::Gauge, "jwtgate.jwt_cache.entries"),
            cache_entries_sent: Cell::new(0),
        }
    }

    /// Sends a fetch's outcome at once: rare, and what operators watch when an issuer fails.
    fn bump(id: u32) {
        let _ = hostcalls::increment_metric(id, 1);
    }

    /// Sends this worker's share of the gauge: what its caches now hold, less what it sent.
    fn cache_entries(&self, held: usize) {
        let held = held as i64;
        let delta = held - self.cache_entries_sent.replace(held);
        if delta != 0 {
            // Envoy adds a positive offset to a gauge and subtracts a negative one.
            let _ = hostcalls::increment_metric(self.cache_entries, delta);
        }
    }

    fn flush(&self) {
        self.allowed.flush();
        self.cache_hit.flush();
        self.cache_miss.flush();
        self.denied.values().for_each(Counter::flush);
    }
}

struct Runtime {
    config: Config,
    sources: Vec<Source>,
    providers: Vec<ProviderRt>,
    revocation: Option<usize>,
    revoked: RefCell<Option<HashSet<String>>>,
    waiters: RefCell<Vec<Waiter>>,
    calls: RefCell<HashMap<u32, Call>>,
    /// Fetches whose call was lost with the request context that made it: the root context
    /// sends them again at its next tick.
    orphans: RefCell<Vec<(usize, Stage)>>,
    /// The context whose callback is running: the SDK files a call dispatched now under it.
    active: Cell<u32>,
    metrics: Metrics,
    now: Cell<u64>,
    /// Set while deciding for a request that has waited its turn: no more waiting.
    last_chance: Cell<bool>,
    /// What tells this sidecar apart, to spread its refreshes (see [`spread`]).
    seed: u64,
}

impl Runtime {
    fn new(config: Config, seed: u64) -> Runtime {
        let mut sources: Vec<Source> = Vec::new();
        let mut providers = Vec::new();
        for p in &config.providers {
            let (source, verifier) = match &p.jwks {
                JwksSource::Local(keys) => (
                    None,
                    Some(Rc::new(Verifier::new(keys.clone(), p.policy.clone()))),
                ),
                JwksSource::Remote(r) => {
                    let i = sources
                        .iter()
                        .position(|s| {
                            s.uri == r.http_uri
                                && s.discovery.as_ref().map(|d| &d.issuer) == r.discovery.as_ref()
                        })
                        .unwrap_or_else(|| {
                            sources.push(Source::new(
                                Kind::Jwks,
                                &r.http_uri,
                                r.discovery.as_deref(),
                                r.cache_duration,
                                r.refetch_cooldown.max(MIN_REFRESH),
                                r.refetch_cooldown,
                                r.retry_interval,
                                r.cache_duration.saturating_add(r.max_stale),
                            ));
                            sources.len() - 1
                        });
                    (Some(i), None)
                }
            };
            providers.push(ProviderRt {
                source,
                verifier: RefCell::new(verifier),
                cache: RefCell::new(JwtCache::new(p.jwt_cache_size, p.policy.clock_skew)),
            });
        }
        let revocation = config.revocation.as_ref().map(|r| {
            sources.push(Source::new(
                Kind::Revocation,
                &r.http_uri,
                None,
                r.refresh_interval,
                MIN_REFRESH,
                Duration::ZERO,
                RETRY_REVOCATION,
                r.refresh_interval.saturating_add(r.max_stale),
            ));
            sources.len() - 1
        });
        let metrics = Metrics::new(&config.stat_prefix);
        let rt = Runtime {
            config,
            sources,
            providers,
            revocation,
            revoked: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            calls: RefCell::new(HashMap::new()),
            orphans: RefCell::new(Vec::new()),
            active: Cell::new(0),
            metrics,
            now: Cell::new(now_ms()),
            last_chance: Cell::new(false),
            seed,
        };
        for (i, s) in rt.sources.iter().enumerate() {
            // Compare-and-swap cannot guard a key that does not exist yet, so create it here,
            // before any tick: later changes all go through `update`.
            if matches!(hostcalls::get_shared_data(&s.state_key), Ok((None, _))) {
                let _ = hostcalls::set_shared_data(
                    &s.state_key,
                    Some(SharedState::default().text().as_bytes()),
                    None,
                );
            }
            rt.sync(i);
        }
        rt
    }

    /// Decides for a request and carries the decision out in the current context.
    fn handle(
        &self,
        ctx: &dyn Context,
        context_id: u32,
        req: OwnedRequest,
        waited: bool,
    ) -> Action {
        self.last_chance.set(waited);
        let headers = req.headers.pairs();
        let outcome = decide(
            &self.config,
            self,
            &Request {
                method: pseudo(&headers, ":method"),
                path: pseudo(&headers, ":path"),
                headers: &headers,
                route: req.route.as_ref(),
            },
        );
        self.last_chance.set(false);
        match outcome {
            Outcome::Allow(ops) => {
                for op in ops {
                    let _ = match op {
                        HeaderOp::Remove(name) => {
                            hostcalls::set_map_value(MapType::HttpRequestHeaders, &name, None)
                        }
                        HeaderOp::Set(name, value) => hostcalls::set_map_value(
                            MapType::HttpRequestHeaders,
                            &name,
                            Some(&value),
                        ),
                        HeaderOp::Add(name, value) => {
                            hostcalls::add_map_value(MapType::HttpRequestHeaders, &name, &value)
                        }
                        // Envoy's Wasm host offers this as a foreign function.
                        HeaderOp::ClearRouteCache => {
                            hostcalls::call_foreign_function("clear_route_cache", None).map(drop)
                        }
                    };
                }
                self.metrics.allowed.add();
                Action::Continue
            }
            Outcome::Deny(e) => {
                self.deny(&e, &realm(&headers));
                Action::Pause
            }
            Outcome::Wait {
                provider,
                unknown_kid,
            } => {
                let source = self.providers[provider]
                    .source
                    .expect("waits are for remote keys");
                let reason = if unknown_kid {
                    Reason::UnknownKid
                } else {
                    Reason::Initial
                };
                self.waiters.borrow_mut().push(Waiter {
                    context_id,
                    source,
                    since: self.now.get(),
                    req,
                });
                self.fetch(ctx, context_id, source, reason);
                Action::Pause
            }
        }
    }

    fn deny(&self, e: &Error, realm: &str) {
        if let Some(counter) = self.metrics.denied.get(e.code()) {
            counter.add();
        }
        let (status, challenge) = e.http_response(realm);
        let strip = self.config.strip_failure_response;
        // strip_failure_response: the status and a bare challenge, nothing that says why.
        let challenge = challenge.map(|c| match c.find(", error=") {
            Some(i) if strip => c[..i].to_owned(),
            _ => c,
        });
        let mut headers = vec![("content-type", "text/plain")];
        if let Some(c) = &challenge {
            headers.push(("www-authenticate", c));
        }
        let body = if strip {
            String::new()
        } else {
            format!("{}\n", e.code())
        };
        let _ = hostcalls::send_http_response(status as u32, headers, Some(body.as_bytes()));
    }

    /// Starts a fetch of `source` unless one is running or the reason is not yet due.
    fn fetch(&self, ctx: &dyn Context, home: u32, source: usize, reason: Reason) {
        let s = &self.sources[source];
        let now = self.now.get();
        let won = s.update(|st| {
            if st.busy_until > now {
                return false;
            }
            let due = match reason {
                Reason::Initial => st.version == 0 && st.failed_at + s.retry <= now,
                Reason::UnknownKid => st.refetched_at + s.cooldown <= now,
                // Another worker may have refreshed since this one last looked.
                Reason::Refresh => {
                    st.refresh_at <= now && st.failed_at + s.retry.max(RETRY_REFRESH) <= now
                }
            };
            if due {
                st.busy_until = now + s.fetch_time();
                if reason == Reason::UnknownKid {
                    st.refetched_at = now;
                }
            }
            due
        });
        if !won {
            return;
        }
        let stage = if s.discovery.is_some() {
            Stage::Discovery
        } else {
            Stage::Document
        };
        self.dispatch(ctx, home, source, stage);
    }

    /// Sends one request of a fetch: the discovery document, or the document.
    fn dispatch(&self, ctx: &dyn Context, home: u32, source: usize, stage: Stage) {
        let s = &self.sources[source];
        let (authority, path) = match s.target(stage) {
            Ok(target) => target,
            Err(why) => return self.fetch_done(ctx, home, source, Err(why)),
        };
        let mut headers = vec![
            (":method", "GET"),
            (":path", path.as_str()),
            (":authority", authority.as_str()),
            ("accept", "application/json"),
            ("user-agent", "jwtgate"),
        ];
        // A conditional request for the shared copy: an issuer that supports it answers 304
        // without a body when nothing changed.
        let data = s.data(stage);
        let copy = data.as_deref().and_then(SharedCopy::parse);
        let sent = copy.as_ref().and_then(Validators::of);
        if let Some(v) = &sent {
            if !v.etag.is_empty() {
                headers.push(("if-none-match", v.etag.as_str()));
            }
            if !v.last_modified.is_empty() {
                headers.push(("if-modified-since", v.last_modified.as_str()));
            }
        }
        match ctx.dispatch_http_call(&s.uri.cluster, headers, None, vec![], s.uri.timeout) {
            Ok(token) => {
                let owners = [home, self.active.get()];
                self.calls
                    .borrow_mut()
                    .insert(token, (source, stage, sent, owners));
            }
            Err(status) => self.fetch_done(
                ctx,
                home,
                source,
                Err(format!("dispatch failed: {status:?}")),
            ),
        }
    }

    fn on_fetch_response(
        &self,
        ctx: &dyn Context,
        home: u32,
        token: u32,
        headers: usize,
        body_size: usize,
    ) {
        self.now.set(now_ms());
        self.active.set(home);
        let Some((source, stage, sent, _)) = self.calls.borrow_mut().remove(&token) else {
            return;
        };
        // A call that fails once the response has begun (the connection reset, or the
        // timeout hit mid-body) ends with no headers, and Envoy has no header map to read
        // then: asking it for `:status` gets BadArgument, on which the SDK panics, and the
        // VM dies with requests still waiting. Envoy's own answers (503 when the cluster is
        // down, 504 on a timeout before any header) do come with headers.
        if headers == 0 {
            let reason = "no response: the connection was reset or timed out mid-response";
            self.fetch_done(ctx, home, source, Err(reason.into()));
            return;
        }
        let header = |name: &str| {
            hostcalls::get_map_value(MapType::HttpCallResponseHeaders, name)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let status = header(":status");
        let validators = || (header("etag"), header("last-modified"));
        let result = if status == "304" {
            // A 304 answers for the shared copy this request named, and only if it still is
            // the copy held: a 304 to a request that named none (no validators to send), or
            // one that names another document, confirms nothing.
            let s = &self.sources[source];
            let data = s.data(stage);
            let held = data.as_deref().and_then(SharedCopy::parse);
            let held = held.as_ref().and_then(Validators::of);
            let (etag, last_modified) = validators();
            match sent {
                None => Err("304 Not Modified to a request that named no copy".to_owned()),
                Some(sent) if held.as_ref() != Some(&sent) => {
                    Err("304 Not Modified for a copy no longer held".to_owned())
                }
                Some(sent) if !sent.confirmed_by(&etag, &last_modified) => Err(format!(
                    "304 Not Modified with validators ({etag:?}, {last_modified:?}) other \
                     than those sent ({:?}, {:?})",
                    sent.etag, sent.last_modified
                )),
                Some(_) => Ok(Fetched::NotModified),
            }
        } else if status != "200" {
            // A cluster that is down answers too: with a 503 and no body, or no status at all.
            Err(format!("HTTP status {:?}", status))
        } else if body_size > MAX_BODY {
            Err(format!("body of {body_size} bytes is over {MAX_BODY}"))
        } else {
            let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            let (etag, last_modified) = validators();
            self.validate(source, stage, &body).map(|()| Fetched::Body {
                body,
                etag,
                last_modified,
            })
        };
        let max_age = max_age(&header("cache-control"));
        match stage {
            Stage::Discovery => self.discovery_done(ctx, home, source, result),
            Stage::Document => self.fetch_done(ctx, home, source, result.map(|f| (f, max_age))),
        }
    }

    /// The discovery document came (or did not): keep it and fetch the key set it names, or
    /// end the fetch as failed.
    fn discovery_done(
        &self,
        ctx: &dyn Context,
        home: u32,
        source: usize,
        result: Result<Fetched, String>,
    ) {
        let s = &self.sources[source];
        let Some(d) = &s.discovery else {
            return;
        };
        let data = s.data(Stage::Discovery);
        let result = match result {
            Ok(Fetched::NotModified) => Ok(()),
            Ok(Fetched::Body {
                body,
                etag,
                last_modified,
            }) => {
                let bytes = SharedCopy::bytes(0, &etag, &last_modified, &body);
                if data.as_deref() != Some(bytes.as_slice()) {
                    let moved = s.target(Stage::Document).ok() != s.jwks_uri(&body).ok();
                    let _ = hostcalls::set_shared_data(&d.data_key, Some(&bytes), None);
                    if moved {
                        s.forget_validators();
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => self.dispatch(ctx, home, source, Stage::Document),
            Err(why) => self.fetch_done(
                ctx,
                home,
                source,
                Err(format!("the discovery document {}: {why}", s.uri.uri)),
            ),
        }
    }

    /// Whether a fetched document is usable, before it replaces the shared copy.
    fn validate(&self, source: usize, stage: Stage, body: &[u8]) -> Result<(), String> {
        let s = &self.sources[source];
        if stage == Stage::Discovery {
            return s.jwks_uri(body).map(drop);
        }
        match s.kind {
            Kind::Jwks => JwkSet::from_json(body)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Kind::Revocation => parse_revoked(body).map(|_| ()),
        }
    }

    fn fetch_done(
        &self,
        ctx: &dyn Context,
        home: u32,
        source: usize,
        result: Result<(Fetched, Option<u64>), String>,
    ) {
        let s = &self.sources[source];
        let now = self.now.get();
        let data = s.data(Stage::Document);
        let copy = data.as_deref().and_then(SharedCopy::parse);
        // A 304 confirms the shared copy, as does a 200 bringing the same document (an issuer
        // without validators): either way the keys, and the token caches, stay as they are.
        let result = match result {
            Ok((Fetched::NotModified, max_age)) => {
                Metrics::bump(self.metrics.fetch_not_modified);
                Ok((None, max_age))
            }
            Ok((
                Fetched::Body {
                    body,
                    etag,
                    last_modified,
                },
                max_age,
            )) => {
                let same = copy.as_ref().is_some_and(|c| c.body == body.as_slice());
                let version = match &copy {
                    Some(c) if same => c.version,
                    _ => s.state().0.version + 1,
                };
                let unchanged = copy.as_ref().is_some_and(|c| {
                    same && c.etag == etag.as_bytes() && c.last_modified == last_modified.as_bytes()
                });
                if !unchanged {
                    let bytes = SharedCopy::bytes(version, &etag, &last_modified, &body);
                    let _ = hostcalls::set_shared_data(&s.data_key, Some(&bytes), None);
                }
                Metrics::bump(self.metrics.fetch_ok);
                Ok((Some(version), max_age))
            }
            Err(reason) => Err(reason),
        };
        match result {
            Ok((version, max_age)) => {
                s.update(|st| {
                    if let Some(v) = version {
                        st.version = st.version.max(v);
                    }
                    st.busy_until = 0;
                    st.failed_at = 0;
                    st.fetched_at = now;
                    st.refreshes += 1;
                    st.refresh_at = s.next_refresh(self.seed, now, max_age, st.refreshes);
                    true
                });
            }
            Err(reason) => {
                // Stale-if-error: the last good copy, if any, keeps serving.
                log(
                    LogLevel::Warn,
                    &format!("jwtgate: fetching {} failed: {reason}", s.uri.uri),
                );
                s.update(|st| {
                    st.busy_until = 0;
                    st.failed_at = now;
                    true
                });
                Metrics::bump(self.metrics.fetch_failed);
            }
        }
        self.sync(source);
        self.wake(ctx, home, source);
    }

    /// Brings this worker's parsed copy up to the shared version, and its age to the shared
    /// one (a 304 renews the age without a new version).
    fn sync(&self, source: usize) {
        let s = &self.sources[source];
        let (state, _) = s.state();
        s.fetched_at.set(state.fetched_at);
        s.refresh_at.set(state.refresh_at);
        // Keys dropped past max_stale come back from the same copy once a fetch (a 304, or
        // the same document) has renewed its age: no new version says so.
        let renewed = s.kind == Kind::Jwks
            && !self.stale_at(source)
            && self
                .providers
                .iter()
                .any(|p| p.source == Some(source) && p.verifier.borrow().is_none());
        if state.version == s.version.get() && !renewed {
            return;
        }
        let Some(data) = s.data(Stage::Document) else {
            return;
        };
        let Some(copy) = SharedCopy::parse(&data) else {
            return;
        };
        let body = copy.body;
        let ok = match s.kind {
            Kind::Jwks => match JwkSet::from_json(body) {
                Ok(keys) => {
                    for (p, rt) in self.providers.iter().enumerate() {
                        if rt.source == Some(source) {
                            let policy = self.config.providers[p].policy.clone();
                            if !usable(&keys, &policy) {
                                // Start-up cannot refuse a remote set: say so, and count it.
                                log(
                                    LogLevel::Warn,
                                    &format!(
                                        "jwtgate: the keys from {} hold no key for an algorithm \
                                         provider {} accepts; its tokens will be refused",
                                        s.uri.uri, self.config.providers[p].name
                                    ),
                                );
                                Metrics::bump(self.metrics.fetch_unusable);
                            }
                            *rt.verifier.borrow_mut() =
                                Some(Rc::new(Verifier::new(keys.clone(), policy)));
                            // A key withdrawn from the set must not live on in the cache.
                            rt.cache.borrow_mut().clear();
                        }
                    }
                    true
                }
                Err(_) => false,
            },
            Kind::Revocation => match parse_revoked(body) {
                Ok(list) => {
                    *self.revoked.borrow_mut() = Some(list);
                    true
                }
                Err(_) => false,
            },
        };
        if ok {
            s.version.set(copy.version);
        }
    }

    fn on_tick(&self, ctx: &dyn Context, home: u32) {
        self.metrics.flush();
        self.metrics
            .cache_entries(self.providers.iter().map(|p| p.cache.borrow().len()).sum());
        self.now.set(now_ms());
        self.active.set(home);
        let now = self.now.get();
        let orphans = self.orphans.take();
        for (source, stage) in orphans {
            let s = &self.sources[source];
            // Still this worker's claim, unless it ran out: then the usual fetches take over.
            let renewed = s.update(|st| {
                let claimed = st.busy_until > now;
                if claimed {
                    st.busy_until = now + s.fetch_time();
                }
                claimed
            });
            if renewed {
                self.dispatch(ctx, home, source, stage);
            }
        }
        for i in 0..self.sources.len() {
            self.sync(i);
            let s = &self.sources[i];
            if s.version.get() == 0 {
                self.fetch(ctx, home, i, Reason::Initial);
            } else if now >= s.refresh_at.get() {
                self.fetch(ctx, home, i, Reason::Refresh);
            }
            self.wake(ctx, home, i);
        }
    }

    /// Decides again for the requests waiting on `source` once no fetch is running for it,
    /// or once they have waited longer than the fetch may take.
    fn wake(&self, ctx: &dyn Context, home: u32, source: usize) {
        let s = &self.sources[source];
        let (state, _) = s.state();
        let now = self.now.get();
        let deadline = s.fetch_time();
        let busy = state.busy_until > now;
        let ready: Vec<Waiter> = {
            let mut waiters = self.waiters.borrow_mut();
            let (ready, waiting) = waiters
                .drain(..)
                .partition(|w| w.source == source && (!busy || now >= w.since + deadline));
            *waiters = waiting;
            ready
        };
        for w in ready {
            if hostcalls::set_effective_context(w.context_id).is_err() {
                continue;
            }
            // Otherwise a local reply is already sent, or a new wait has registered itself.
            if matches!(
                self.handle(ctx, w.context_id, w.req, true),
                Action::Continue
            ) {
                let _ = hostcalls::resume_http_request();
            }
        }
        // Back to the context whose callback this is: a fetch it dispatches next must belong
        // to it, not to a request that has just finished.
        let _ = hostcalls::set_effective_context(home);
    }
}

impl Runtime {
    /// Whether a provider's remote keys were fetched longer ago than `cache_duration +
    /// max_stale`: the issuer has been unreachable past the bound, and they must not serve.
    fn stale(&self, provider: usize) -> bool {
        self.providers[provider]
            .source
            .is_some_and(|source| self.stale_at(source))
    }

    /// Whether this worker's copy of a source is older than its bound.
    fn stale_at(&self, source: usize) -> bool {
        let s = &self.sources[source];
        s.version.get() > 0 && self.now.get() >= s.fetched_at.get().saturating_add(s.stale_after)
    }
}

/// A revocation list: a JSON array of `jti` strings, or `{"revoked": [...]}`.
fn parse_revoked(body: &[u8]) -> Result<HashSet<String>, String> {
    let value = crate::crypto::json::json_value(body).map_err(|e| format!("not JSON: {e}"))?;
    let list = match &value {
        Value::Array(items) => items,
        Value::Object(m) => m
            .get("revoked")
            .and_then(Value::as_array)
            .ok_or("an object without a `revoked` array")?,
        _ => return Err("neither an array nor an object".into()),
    };
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "a non-string jti".to_owned())
        })
        .collect()
}

impl Env for Runtime {
    fn now(&self) -> u64 {
        self.now.get() / 1000
    }

    fn keys(&self, provider: usize) -> Keys {
        let rt = &self.providers[provider];
        if let Some(source) = rt.source.filter(|_| self.stale(provider)) {
            self.sync(source);
            if self.stale(provider) {
                if rt.verifier.borrow_mut().take().is_some() {
                    rt.cache.borrow_mut().clear();
                    log(
                        LogLevel::Warn,
                        &format!(
                            "jwtgate: the keys from {} are older than cache_duration + max_stale; \
                             refusing tokens of provider {} until a fetch succeeds",
                            self.sources[source].uri.uri, self.config.providers[provider].name
                        ),
                    );
                }
                let (state, _) = self.sources[source].state();
                if state.busy_until > self.now.get() && !self.last_chance.get() {
                    return Keys::Pending;
                }
                return Keys::Unavailable(Error::JwksUnavailable(JwksError::Fetch(
                    "the key set is older than max_stale and could not be refreshed".into(),
                )));
            }
        }
        if let Some(v) = &*rt.verifier.borrow() {
            return Keys::Ready(v.clone());
        }
        // Another worker may have fetched them before this one's tick: look before waiting.
        if let Some(source) = rt.source {
            self.sync(source);
            if let Some(v) = &*rt.verifier.borrow() {
                return Keys::Ready(v.clone());
            }
        }
        let unavailable =
            |why: &str| Keys::Unavailable(Error::JwksUnavailable(JwksError::Fetch(why.into())));
        let Some(source) = rt.source else {
            return unavailable("no keys");
        };
        let (state, _) = self.sources[source].state();
        let now = self.now.get();
        if self.last_chance.get() {
            return unavailable("the key set could not be fetched in time");
        }
        if state.busy_until > now || state.failed_at + self.sources[source].retry <= now {
            Keys::Pending
        } else {
            unavailable("the last fetch of the key set failed")
        }
    }

    fn resync(&self, provider: usize) -> bool {
        let Some(source) = self.providers[provider].source else {
            return false;
        };
        let before = self.sources[source].version.get();
        self.sync(source);
        self.sources[source].version.get() != before
    }

    fn may_refetch(&self, provider: usize) -> bool {
        let Some(source) = self.providers[provider].source else {
            return false;
        };
        if self.last_chance.get() {
            return false;
        }
        let s = &self.sources[source];
        let (state, _) = s.state();
        let now = self.now.get();
        state.busy_until > now || state.refetched_at + s.cooldown <= now
    }

    fn revoked(&self, jti: &str) -> Result<bool, Error> {
        let Some(source) = self.revocation else {
            return Ok(false);
        };
        // A list not refreshed within `refresh_interval + max_stale` clears no one: a jti
        // revoked since would pass for as long as the list's server is down.
        if self.stale_at(source) {
            return Err(Error::RevocationUnavailable);
        }
        match &*self.revoked.borrow() {
            Some(list) => Ok(list.contains(jti)),
            // Fail closed: a configured deny list that was never had cannot clear anyone. The
            // same 503 and code as the npm package's revocation stores.
            None => Err(Error::RevocationUnavailable),
        }
    }

    fn cached(&self, provider: usize, token: &str) -> Option<Rc<Claims>> {
        // Past max_stale nothing verified with the old keys is served, from the cache either.
        if self.config.providers[provider].jwt_cache_size == 0 || self.stale(provider) {
            return None;
        }
        let hit = self.providers[provider]
            .cache
            .borrow_mut()
            .get(token, self.now());
        if hit.is_some() {
            self.metrics.cache_hit.add();
        } else {
            self.metrics.cache_miss.add();
        }
        hit
    }

    fn remember(&self, provider: usize, token: &str, claims: Rc<Claims>) {
        self.providers[provider]
            .cache
            .borrow_mut()
            .put(token, claims);
    }
}
