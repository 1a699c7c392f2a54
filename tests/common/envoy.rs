//! Real Envoy, started on loopback by the test: one listener with the jwtgate filter and,
//! where asked, one with Envoy's native jwt_authn over the same provider configuration.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http::{free_ports, get, try_get, Resp};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn binary() -> PathBuf {
    root().join(".tools/envoy/envoy")
}

pub fn filter_wasm() -> PathBuf {
    root().join("dist/jwtgate_envoy.wasm")
}

pub struct Envoy {
    child: Child,
    /// The listener with the jwtgate filter.
    pub port: u16,
    /// The listener with jwt_authn, if asked for.
    pub native_port: Option<u16>,
    pub admin: u16,
    pub log: PathBuf,
    /// (jwtgate, jwt_authn) listener ports, one pair per [`Pair`] of [`Envoy::start_pairs`].
    pub pairs: Vec<(u16, u16)>,
    /// One port per [`Listener`] of [`Envoy::start_listeners`], in their order.
    pub ports: Vec<u16>,
    _dir: TempDir,
}

/// A listener for [`Envoy::start_listeners`]: its HTTP filters (the router is added last)
/// and its routes (`None`: everything to the upstream).
pub struct Listener {
    pub filters: Vec<Value>,
    pub routes: Option<Value>,
}

/// One configuration for [`Envoy::start_pairs`], given unchanged to both filters.
pub struct Pair {
    /// The `JwtAuthentication` JSON (without `@type`).
    pub config: Value,
    /// The route configuration's `routes` for both listeners (per-route configuration and
    /// metadata go here); `None`: everything to the upstream.
    pub routes: Option<Value>,
}

/// What to start: the jwtgate configuration, an optional jwt_authn one, and clusters by port.
pub struct Setup {
    pub jwtgate: Value,
    pub jwt_authn: Option<Value>,
    pub clusters: Vec<(&'static str, u16)>,
    pub upstream: u16,
    /// Envoy worker threads (`--concurrency`).
    pub workers: u32,
}

/// The filter's entry; a string configuration is passed as it is, anything else as JSON text.
fn wasm_filter(config: &Value) -> Value {
    jwtgate_filter("jwtgate", config)
}

/// [`wasm_filter`] under a plugin name of its own: the plugins of one Envoy share one VM.
pub fn jwtgate_filter(name: &str, config: &Value) -> Value {
    let text = match config {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    };
    json!({"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": name, "root_id": "jwtgate",
            "vm_config": {"vm_id": "jwtgate", "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": filter_wasm()}}},
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": text}}}})
}

/// Envoy's own jwt_authn over `config`.
pub fn native_filter(config: &Value) -> Value {
    let mut typed = config.clone();
    typed["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
    json!({"name": "envoy.filters.http.jwt_authn", "typed_config": typed})
}

fn listener(name: &str, port: u16, filter: Value) -> Value {
    listener_with_routes(name, port, vec![filter], &default_routes())
}

/// One route: everything to the upstream.
fn default_routes() -> Value {
    json!([{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}])
}

fn listener_with_routes(name: &str, port: u16, mut filters: Vec<Value>, routes: &Value) -> Value {
    filters.push(
        json!({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}),
    );
    // Without SO_REUSEPORT: another Envoy that took the same port (tests run beside) makes
    // this one fail to start, rather than share the port's connections with it.
    json!({"name": name, "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "enable_reuse_port": false,
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"],
                    "routes": routes}]},
                "http_filters": filters}}]}]})
}

fn cluster(name: &str, port: u16) -> Value {
    json!({"name": name, "type": "STATIC", "connect_timeout": "0.5s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}})
}

impl Envoy {
    /// Starts Envoy and waits until it is ready; `Err` carries its log when it never is.
    pub fn start(setup: Setup) -> Result<Envoy, String> {
        Envoy::start_edited(setup, |_| {})
    }

    /// [`Envoy::start`] with the bootstrap changed by `edit` before Envoy reads it (a node
    /// name, a cluster's source address).
    pub fn start_edited(setup: Setup, edit: impl FnOnce(&mut Value)) -> Result<Envoy, String> {
        let dir = TempDir::new();
        // Three different ports: free_port twice may hand out one port twice.
        let [port, admin, native] = free_ports(3)[..] else {
            unreachable!("free_ports(3) gives three")
        };
        let mut listeners = vec![listener("jwtgate", port, wasm_filter(&setup.jwtgate))];
        let native_port = setup.jwt_authn.as_ref().map(|config| {
            listeners.push(listener("native", native, native_filter(config)));
            native
        });
        let mut envoy = launch(
            dir,
            listeners,
            &setup.clusters,
            setup.upstream,
            setup.workers,
            admin,
            edit,
        )?;
        envoy.port = port;
        envoy.native_port = native_port;
        Ok(envoy)
    }

    /// One Envoy with a listener pair per [`Pair`]: the jwtgate plugin and native jwt_authn,
    /// each given the pair's configuration unchanged, over the same routes. All jwtgate plugins
    /// share one VM, so a start costs one compilation of the filter, not one per pair.
    /// The ports come back in the pairs' order, in `pairs`.
    pub fn start_pairs(
        pairs: &[Pair],
        clusters: &[(&'static str, u16)],
        upstream: u16,
        workers: u32,
    ) -> Result<Envoy, String> {
        let listeners: Vec<Listener> = pairs
            .iter()
            .enumerate()
            .flat_map(|(i, pair)| {
                [
                    jwtgate_filter(&format!("jwtgate_{i}"), &pair.config),
                    native_filter(&pair.config),
                ]
                .map(|filter| Listener {
                    filters: vec![filter],
                    routes: pair.routes.clone(),
                })
            })
            .collect();
        let mut envoy = Envoy::start_listeners(&listeners, clusters, upstream, workers)?;
        envoy.pairs = envoy.ports.chunks(2).map(|p| (p[0], p[1])).collect();
        envoy.port = envoy.ports.first().copied().unwrap_or(0);
        envoy.native_port = envoy.ports.get(1).copied();
        Ok(envoy)
    }

    /// One Envoy with these listeners; their ports, in order, in `ports`.
    pub fn start_listeners(
        listeners: &[Listener],
        clusters: &[(&'static str, u16)],
        upstream: u16,
        workers: u32,
    ) -> Result<Envoy, String> {
        let dir = TempDir::new();
        let mut ports = free_ports(listeners.len() + 1);
        let admin = ports.pop().expect("the admin port");
        let config = listeners
            .iter()
            .zip(&ports)
            .enumerate()
            .map(|(i, (l, port))| {
                let routes = l.routes.clone().unwrap_or_else(default_routes);
                listener_with_routes(&format!("listener_{i}"), *port, l.filters.clone(), &routes)
            })
            .collect();
        let mut envoy = launch(dir, config, clusters, upstream, workers, admin, |_| {})?;
        envoy.ports = ports;
        Ok(envoy)
    }

    /// Envoy with a configuration file as a user would run it, from the repository root.
    pub fn from_file(path: &str, port: u16, admin: u16) -> Result<Envoy, String> {
        let dir = TempDir::new();
        let log = dir.0.join("envoy.log");
        let child = spawn(path, 1, &log)?;
        let envoy = Envoy {
            child,
            port,
            native_port: None,
            admin,
            log,
            pairs: Vec::new(),
            ports: Vec::new(),
            _dir: dir,
        };
        envoy.wait_ready()
    }

    fn wait_ready(mut self) -> Result<Envoy, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("Envoy exited ({status}):\n{}", self.log_text()));
            }
            if try_get(self.admin, "/ready").is_some_and(|r| r.status == 200) {
                return Ok(self);
            }
            if Instant::now() > deadline {
                return Err(format!("Envoy not ready in 60 s:\n{}", self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Envoy process's id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A counter from the admin interface (`wasmcustom.` prefixed for the filter's own).
    pub fn counter(&self, name: &str) -> u64 {
        let stats = get(self.admin, &format!("/stats?filter=^{name}$"), &[]).text();
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: "))?.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a bootstrap with these listeners and clusters (`upstream` first) and starts Envoy
/// on it; ready, or `Err` with its log.
fn launch(
    dir: TempDir,
    listeners: Vec<Value>,
    clusters: &[(&'static str, u16)],
    upstream: u16,
    workers: u32,
    admin: u16,
    edit: impl FnOnce(&mut Value),
) -> Result<Envoy, String> {
    assert!(
        binary().exists(),
        "no Envoy at {}: run `cargo xtask test`",
        binary().display()
    );
    assert!(
        filter_wasm().exists(),
        "no filter at {}: run `cargo xtask test`",
        filter_wasm().display()
    );
    let mut all = vec![cluster("upstream", upstream)];
    all.extend(clusters.iter().map(|(name, port)| cluster(name, *port)));
    let mut bootstrap = json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"listeners": listeners, "clusters": all}
    });
    edit(&mut bootstrap);
    let config = dir.0.join("envoy.json");
    std::fs::write(&config, bootstrap.to_string()).unwrap();
    let log = dir.0.join("envoy.log");
    let child = spawn(config.to_str().unwrap(), workers, &log)?;
    Envoy {
        child,
        port: 0,
        native_port: None,
        admin,
        log,
        pairs: Vec::new(),
        ports: Vec::new(),
        _dir: dir,
    }
    .wait_ready()
}

/// Envoy on `config` (relative paths in it resolve from the repository root) with `workers`
/// worker threads, logging to `log`.
fn spawn(config: &str, workers: u32, log: &std::path::Path) -> Result<Child, String> {
    Command::new(binary())
        .current_dir(root())
        .args(["-c", config, "--concurrency", &workers.to_string()])
        .args([
            "--disable-hot-restart",
            "-l",
            "info",
            "--log-path",
            log.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("jwtgate-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A key set as a JWKS server's answer.
pub fn keyset(keys: &[Value]) -> Resp {
    Resp::new(200, json!({ "keys": keys }).to_string())
}

/// Polls `f` until it holds or `limit` passes; true if it held. For waiting on Envoy's
/// background work (a fetch, a refresh) by its effect, never by a fixed sleep.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
