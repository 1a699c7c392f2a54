//! `cargo xtask demo`: the demo app, identity provider and API behind Envoy, on loopback; and
//! `cargo xtask demo verify`: verify a token against a JWKS file and print the claims or the code.

use std::io::Read;
use std::process::ExitCode;

use jwtgate::{Algorithm, JwkSet, Policy, Verifier};
use serde_json::{json, Value};

const HELP: &str = "\
usage: cargo xtask demo verify [--jwks FILE] [options] [TOKEN | -]

Verifies TOKEN (or the token on standard input) against the key set in FILE and prints
{\"ok\":true,\"header\":…,\"claims\":…} or {\"ok\":false,\"code\":…,\"message\":…}.
Exit status: 0 verified, 1 refused, 2 usage error.
With no arguments, verifies a built-in example token so you can see both answers.

options:
  --jwks FILE        the JSON Web Key Set
  --issuer ISS       require iss to be ISS
  --audience AUD     accept aud AUD (repeatable)
  --alg ALG          accept only these algorithms (repeatable; HS256 etc. only this way)
  --now SECONDS      verify at this Unix time instead of the clock
  --clock-skew SECS  tolerance for exp and nbf (default 60)
  --no-exp           accept tokens without exp
";

pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("verify") => verify_main(&args[1..]),
        None => stack(8080),
        Some("--port") => match args.get(1).and_then(|p| p.parse().ok()) {
            Some(port) => stack(port),
            None => usage("--port needs a port number"),
        },
        Some("--help" | "-h") => {
            print!("{STACK_HELP}\n{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => usage(&format!("unknown argument {other}")),
    }
}

const STACK_HELP: &str = "\
usage: cargo xtask demo [--port PORT]

Builds both front doors and starts the demo on loopback (default port 8080): an identity
provider (oidc-provider: sign-in in a popup with PKCE, JWT access tokens, rotating refresh
tokens, JWKS, and a list of revoked access tokens), an API behind Envoy with the jwtgate
filter, and the demo app using TokenSession. Prints the URL; Ctrl-C stops everything.
";

fn usage(problem: &str) -> ExitCode {
    eprintln!("xtask demo: {problem}\n\n{STACK_HELP}\n{HELP}");
    ExitCode::from(2)
}

/// The whole demo: what `www/server/demo.mjs` starts, with the artefacts built here.
fn stack(port: u16) -> ExitCode {
    let built = crate::install::run()
        .and_then(|()| crate::build::envoy())
        .and_then(|_| crate::build::web());
    if let Err(e) = built {
        eprintln!("xtask demo: {e}");
        return ExitCode::FAILURE;
    }
    let root = crate::install::root();
    // On Node 24: oidc-provider, the demo's identity provider, needs Node 22 or later.
    let status = std::process::Command::new(crate::install::node_lts())
        .arg(root.join("www/server/demo.mjs"))
        .arg(crate::install::envoy())
        .arg(crate::build::envoy_wasm())
        .arg(root.join("pkg"))
        .arg(crate::install::node_module(""))
        .arg(port.to_string())
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask demo: node: {e}");
            ExitCode::FAILURE
        }
    }
}

fn verify_main(args: &[String]) -> ExitCode {
    if args.is_empty() {
        return example();
    }
    match parse(args).and_then(|o| verify(&o)) {
        Ok((verified, out)) => {
            println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
            if verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(usage) => {
            eprintln!("xtask demo: {usage}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

#[derive(Default)]
struct Options {
    jwks: Option<String>,
    token: Option<String>,
    policy: Policy,
    algorithms: Vec<Algorithm>,
    now: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--jwks" => o.jwks = Some(value("--jwks")?),
            "--issuer" => o.policy = o.policy.issuer(value("--issuer")?),
            "--audience" => o.policy = o.policy.audience(value("--audience")?),
            "--alg" => o
                .algorithms
                .push(value("--alg")?.parse().map_err(|e| format!("--alg: {e}"))?),
            "--now" => o.now = Some(value("--now")?.parse().map_err(|_| "--now takes seconds")?),
            "--clock-skew" => {
                let secs = value("--clock-skew")?
                    .parse()
                    .map_err(|_| "--clock-skew takes seconds")?;
                o.policy = o.policy.clock_skew(secs);
            }
            "--no-exp" => o.policy = o.policy.require_expiration(false),
            "-" => o.token = Some(read_stdin()?),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            token if o.token.is_none() => o.token = Some(token.to_owned()),
            _ => return Err("more than one token".into()),
        }
    }
    if !o.algorithms.is_empty() {
        o.policy = o
            .policy
            .with_algorithms(o.algorithms.iter().copied().collect());
    }
    if o.token.is_none() {
        o.token = Some(read_stdin()?);
    }
    Ok(o)
}

fn read_stdin() -> Result<String, String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(s.trim().to_owned())
}

/// Verifies and builds the printed answer; `Err` only for usage problems.
fn verify(o: &Options) -> Result<(bool, Value), String> {
    let path = o.jwks.as_deref().ok_or("--jwks FILE is required")?;
    let jwks = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let token = o.token.as_deref().unwrap_or_default();
    Ok(answer(&jwks, token, o.policy.clone(), o.now))
}

fn answer(jwks: &[u8], token: &str, policy: Policy, now: Option<u64>) -> (bool, Value) {
    let result = JwkSet::from_json(jwks).and_then(|keys| {
        let verifier = Verifier::new(keys, policy);
        match now {
            Some(now) => verifier.verify_at(token, now),
            None => verifier.verify(token),
        }
    });
    match result {
        Ok(v) => (
            true,
            json!({"ok": true, "header": v.header().members(), "claims": v.claims().as_map()}),
        ),
        Err(e) => (
            false,
            json!({"ok": false, "code": e.code(), "message": e.to_string()}),
        ),
    }
}

fn example() -> ExitCode {
    let (jwks, token) = jwtgate::__doc_example();
    println!("A token verified against its key set:\n");
    println!("  jwks:  {jwks}\n  token: {token}\n");
    let (_, good) = answer(
        jwks.as_bytes(),
        token,
        Policy::new().issuer("https://issuer.example"),
        None,
    );
    println!("{}\n", serde_json::to_string_pretty(&good).expect("JSON"));
    println!("The same token with a wrong issuer required:\n");
    let (_, bad) = answer(
        jwks.as_bytes(),
        token,
        Policy::new().issuer("https://other.example"),
        None,
    );
    println!("{}\n", serde_json::to_string_pretty(&bad).expect("JSON"));
    println!(
        "Yours: cargo xtask demo verify --jwks jwks.json [--issuer ISS] [--audience AUD] TOKEN"
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISTIO: &str = include_str!("../../tests/data/istio-samples.json");

    fn istio() -> (String, String, String) {
        let v: Value = serde_json::from_str(ISTIO).unwrap();
        (
            v["jwks"].to_string(),
            v["tokens"]["demo"].as_str().unwrap().into(),
            v["issuer"].as_str().unwrap().into(),
        )
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn istio_sample_token_verifies_and_prints_claims() {
        let (jwks, token, issuer) = istio();
        let (ok, out) = answer(
            jwks.as_bytes(),
            &token,
            Policy::new().issuer(&issuer),
            Some(1_700_000_000),
        );
        assert!(ok, "{out}");
        assert_eq!(out["claims"]["foo"], "bar");
        assert_eq!(out["header"]["alg"], "RS256");
        let (ok, out) = answer(
            jwks.as_bytes(),
            &token,
            Policy::new().audience("x"),
            Some(1_700_000_000),
        );
        assert!(!ok);
        assert_eq!(out["code"], "invalid_audience");
    }

    #[test]
    fn options_reach_the_policy() {
        let (jwks, token, _) = istio();
        let dir = std::env::temp_dir().join(format!("jwtgate-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, jwks).unwrap();
        let path = path.to_str().unwrap();
        let o = parse(&args(&[
            "--jwks",
            path,
            "--alg",
            "ES256",
            "--now",
            "1700000000",
            &token,
        ]))
        .unwrap();
        let (ok, out) = verify(&o).unwrap();
        assert!(!ok);
        assert_eq!(out["code"], "algorithm_not_allowed");
        let o = parse(&args(&[
            "--jwks",
            path,
            "--issuer",
            "nobody",
            "--now",
            "1700000000",
            &token,
        ]))
        .unwrap();
        assert_eq!(verify(&o).unwrap().1["code"], "invalid_issuer");
        assert!(parse(&args(&["--alg", "none", "t"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
        assert!(
            verify(&parse(&args(&["t"])).unwrap()).is_err(),
            "--jwks is required"
        );
    }
}
