//! OIDC discovery: where an issuer publishes its metadata (OpenID Connect Discovery 1.0 §4,
//! RFC 8414 §3), and the key set URL a metadata document names, taken only from a document
//! that names the configured issuer exactly. Both front doors fetch; this decides what a
//! document is worth, so that they decide alike.

use crate::crypto::json::{json_document, push_json_string, Json};
use crate::error::{joined, JwksError};
use crate::prelude::*;

/// Where `issuer`'s metadata is, in the order to try it: OpenID Connect Discovery's
/// `<issuer>/.well-known/openid-configuration` (what OIDC providers serve), then RFC 8414's
/// `/.well-known/oauth-authorization-server` inserted before the issuer's path (what
/// OAuth-only servers serve), which a front door reads only when the first answers 404.
/// For an issuer without a path both are at the origin. `Err` says why the issuer cannot be
/// discovered: see [`check_url`].
pub fn metadata_urls(issuer: &str) -> Result<[String; 2], &'static str> {
    // RFC 8414 §2: an issuer identifier has no query or fragment. Whitespace and controls a
    // URL parser drops or escapes: what it fetched would not be the issuer documents name.
    if issuer
        .bytes()
        .any(|b| b == b'?' || b == b'#' || b <= b' ' || b == 0x7f)
    {
        return Err("an issuer to discover must have no query, fragment, whitespace or controls");
    }
    let (origin, path) = check_url(issuer, true)?;
    // Both specifications drop one terminating "/" before adding their part.
    let path = match path.as_bytes() {
        [.., b'/'] => path.get(..path.len() - 1).unwrap_or(path),
        _ => path,
    };
    let oidc = joined(&[origin, path, "/.well-known/openid-configuration"]);
    let oauth = joined(&[origin, "/.well-known/oauth-authorization-server", path]);
    Ok([oidc, oauth])
}

/// The `jwks_uri` of a metadata document read for `issuer`: the document must be a strict
/// JSON object (no member twice) whose `issuer` is exactly `issuer` (OIDC Discovery §4.3,
/// RFC 8414 §3.3: no other issuer's keys), with a `jwks_uri` that [`check_url`] takes. It
/// may be http only where the issuer itself is http, on a loopback host.
pub fn jwks_uri(document: &[u8], issuer: &str) -> Result<String, JwksError> {
    let bad = |reason: &str| JwksError::Discovery(reason.into());
    let document = json_document(document).map_err(|_| bad("not a strict JSON object"))?;
    match document.get("issuer").and_then(Json::str) {
        Some(named) if named == issuer => {}
        Some(named) => {
            let mut reason = String::from("it names issuer ");
            push_json_string(&mut reason, &named);
            return Err(JwksError::Discovery(reason));
        }
        None => return Err(bad("it has no issuer string")),
    }
    let Some(uri) = document.get("jwks_uri").and_then(Json::str) else {
        return Err(bad("it has no jwks_uri string"));
    };
    // An issuer over http is one on loopback (`metadata_urls` takes no other).
    let http = issuer.starts_with("http://") && check_url(issuer, true).is_ok();
    check_url(&uri, http).map_err(bad)?;
    Ok(uri)
}

/// Splits an absolute URL into its origin (`scheme://host[:port]`) and the rest, for a URL
/// discovery may fetch: https, or http on a loopback host (`localhost`, `127.0.0.0/8`,
/// `[::1]`) when `http` allows it; a key set over plain http elsewhere is anyone's on the way.
/// The host is read strictly (letters, digits, `.`, `-`, an IPv6 literal, a port; no user
/// info, escapes or whitespace), so that no two URL parsers can disagree on which host it is.
/// Byte by byte: the npm package's wasm carries this, and string patterns cost it kilobytes.
fn check_url(url: &str, http: bool) -> Result<(&str, &str), &'static str> {
    const NOT_A_HOST: &str = "a discovered URL's host must be a plain host name or address";
    let b = url.as_bytes();
    let (start, plain) = if b.starts_with(b"https://") {
        (8, false)
    } else if b.starts_with(b"http://") {
        (7, true)
    } else {
        return Err("a discovered URL must start with https:// (http:// only on a loopback host)");
    };
    let mut end = start;
    while b.get(end).is_some_and(|c| !matches!(c, b'/' | b'?' | b'#')) {
        end += 1;
    }
    // Slices by `get`, never by index: a slice that can panic brings the formatting code of
    // its panic message into the wasm.
    let authority = b.get(start..end).unwrap_or_default();
    let v6 = authority.first() == Some(&b'[');
    let (host, port) = if v6 {
        let close = authority
            .iter()
            .position(|&c| c == b']')
            .ok_or(NOT_A_HOST)?;
        (authority.get(1..close), authority.get(close + 1..))
    } else {
        let colon = authority
            .iter()
            .position(|&c| c == b':')
            .unwrap_or(authority.len());
        (authority.get(..colon), authority.get(colon..))
    };
    let (host, port) = (host.unwrap_or_default(), port.unwrap_or_default());
    let port = match port {
        [] => port,
        [b':', digits @ ..] => digits,
        _ => return Err(NOT_A_HOST),
    };
    let host_ok = !host.is_empty()
        && host.iter().all(|&c| match c {
            b':' => v6,
            b'-' => !v6,
            _ => c.is_ascii_alphanumeric() || c == b'.',
        });
    if !host_ok || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err(NOT_A_HOST);
    }
    if plain && !(http && is_loopback(host)) {
        return Err("a discovered URL must be https (http only on a loopback host, for an http issuer there)");
    }
    // `end` is at an ASCII byte or the end: a character boundary, so both parts are there.
    Ok((
        url.get(..end).unwrap_or(url),
        url.get(end..).unwrap_or_default(),
    ))
}

/// `localhost`, `::1`, or 127.0.0.0/8 written as four decimal parts, the first `127`: nothing
/// else a URL parser might read as an address (hex, octal, fewer parts) is taken for one.
fn is_loopback(host: &[u8]) -> bool {
    if host.eq_ignore_ascii_case(b"localhost") || host == b"::1" {
        return true;
    }
    let mut parts = 0;
    for part in host.split(|&c| c == b'.') {
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let n = part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        if n > 255 || (parts == 0 && part != b"127") {
            return false;
        }
        parts += 1;
    }
    parts == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_both_specifications() {
        assert_eq!(
            metadata_urls("https://id.example").unwrap(),
            [
                "https://id.example/.well-known/openid-configuration",
                "https://id.example/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            metadata_urls("https://id.example/").unwrap(),
            [
                "https://id.example/.well-known/openid-configuration",
                "https://id.example/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            metadata_urls("https://id.example:8443/realms/a/").unwrap(),
            [
                "https://id.example:8443/realms/a/.well-known/openid-configuration",
                "https://id.example:8443/.well-known/oauth-authorization-server/realms/a"
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:9000/t").unwrap()[0],
            "http://127.0.0.1:9000/t/.well-known/openid-configuration"
        );
        assert!(metadata_urls("http://[::1]:9000").is_ok());
        assert!(metadata_urls("http://localhost:9000").is_ok());
        for refused in [
            "http://id.example",
            "http://127.0.0.1.example.com",
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://localhost@id.example",
            "http://127.0.0.1\\@id.example",
            "https://id.example?x=1",
            "https://id.example/#f",
            "https://",
            "https://id example",
            "https://id.example/a b",
            "https://id.example/a\n",
            "HTTPS://id.example",
            "urn:id",
            "https://id.example:99999x",
            "https://[::1",
            "http://0177.0.0.1",
            "http://127.0.0.256",
            "http://127.0.0.1.1",
            "http://127.0.0",
        ] {
            assert!(metadata_urls(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_document_counts_only_for_its_own_issuer() {
        let iss = "https://id.example";
        let doc = |iss: &str, uri: &str| format!(r#"{{"issuer":"{iss}","jwks_uri":"{uri}"}}"#);
        assert_eq!(
            jwks_uri(doc(iss, "https://keys.example/jwks").as_bytes(), iss).unwrap(),
            "https://keys.example/jwks"
        );
        for (document, why) in [
            (
                doc("https://id.example/", "https://k.example"),
                "names issuer",
            ),
            (
                doc("https://evil.example", "https://k.example"),
                "names issuer",
            ),
            (doc(iss, "http://k.example"), "https"),
            (doc(iss, "http://127.0.0.1/jwks"), "https"),
            (doc(iss, "file:///etc/keys"), "https"),
            (r#"{"issuer":"https://id.example"}"#.into(), "no jwks_uri"),
            (r#"{"jwks_uri":"https://k.example"}"#.into(), "no issuer"),
            (
                r#"{"issuer":"x","issuer":"https://id.example","jwks_uri":"https://k"}"#.into(),
                "strict",
            ),
            ("[]".into(), "strict"),
        ] {
            let e = jwks_uri(document.as_bytes(), iss).unwrap_err().to_string();
            assert!(e.contains(why), "{document}: {e}");
        }
        // An http issuer on loopback may keep its keys on loopback over http.
        let local = "http://127.0.0.1:8080";
        assert!(jwks_uri(doc(local, "http://127.0.0.1:8081/jwks").as_bytes(), local).is_ok());
        assert!(jwks_uri(doc(local, "http://keys.example/jwks").as_bytes(), local).is_err());
    }
}
