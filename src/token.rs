//! Compact JWS parsing: the untrusted start of the type-state chain.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::crypto::base64::b64_decode;
#[cfg(any(feature = "web-client", test))]
use crate::crypto::base64::b64_decode_into;
use crate::crypto::json::{has_byte, json_members, json_object, Json, JsonError, Member};
use crate::error::{Error, Malformed, Part};

/// The default limit on a token's length in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token's protected header. Two are equal when their members are (as their maps would be:
/// in any order, escapes decoded), whatever their spacing.
#[derive(Clone)]
pub struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// The header's JSON, decoded: its map is built only when asked for
    /// ([`Header::members`]), which the npm package never does.
    json: Vec<u8>,
}

/// The header members jwtgate reads, in the order [`header_rules`] takes them.
const HEADER_NAMES: [&str; 4] = ["alg", "kid", "crit", "b64"];

/// The header's rules, on the members [`HEADER_NAMES`] lists: `Ok` or why it is refused. One
/// place for both the parsed header and `jwtgate/client`'s scan.
fn header_rules([alg, kid, crit, b64]: [Option<Member>; 4]) -> Result<(), Error> {
    let bad = |name| Err(Error::Malformed(Malformed::HeaderParameter(name)));
    if alg != Some(Member::String) {
        return bad("alg");
    }
    if !matches!(kid, None | Some(Member::String)) {
        return bad("kid");
    }
    // RFC 7515 4.1.11: a recipient must refuse a `crit` it does not understand, and jwtgate
    // implements no extension; an empty or ill-typed `crit` is invalid on its own.
    if crit.is_some() {
        return Err(Error::Malformed(Malformed::UnsupportedCritical));
    }
    // RFC 7797: `b64: false` changes what is signed. Refuse it even without `crit`, so that
    // no reading of the token differs from another verifier's.
    match b64 {
        None | Some(Member::True) => Ok(()),
        Some(_) => Err(Error::Malformed(Malformed::UnencodedPayload)),
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Header) -> bool {
        // Their maps, not `json::same`: that looks each member up in the other header, a walk
        // per member (quadratic in two senders' headers; it is for a configured value against
        // a claim). Only the Rust API compares headers.
        self.members() == other.members()
    }
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The header's text, not its bytes as numbers.
        f.debug_struct("Header")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .field("json", &String::from_utf8_lossy(&self.json))
            .finish()
    }
}

impl Header {
    fn read(json: Vec<u8>) -> Result<Header, Error> {
        let members = json_members(&json, HEADER_NAMES)
            .map_err(|e| json_error(e, Part::Header))?
            .0;
        header_rules(members)?;
        // Strings, as the rules have just found `alg` and `kid`.
        let header = Json::scanned(&json);
        let text = |name| header.get(name).and_then(Json::str);
        let (alg, kid, typ) = (text("alg").unwrap_or_default(), text("kid"), text("typ"));
        Ok(Header {
            alg,
            kid,
            typ,
            json,
        })
    }

    /// The `alg` as written in the token.
    pub fn alg_name(&self) -> &str {
        &self.alg
    }

    /// The `alg`, if it is one jwtgate implements; `none` in any spelling is an error.
    pub fn algorithm(&self) -> Result<Algorithm, Error> {
        Algorithm::from_name(&self.alg)
    }

    /// The `kid`, if present.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `typ`, if present and a string.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Every header member, parsed on request.
    pub fn members(&self) -> Map<String, Value> {
        // Checked when the token was parsed: never the default.
        json_object(&self.json).unwrap_or_default()
    }
}

/// A compact JWS whose structure has been checked and whose signature has not.
///
/// Parsing refuses anything that is not exactly three parts of strict base64url, a header that
/// is not a JSON object with a string `alg`, duplicate header members, `crit`, and `b64: false`.
/// The payload is kept as bytes: it is parsed as claims only after the signature verifies
/// (see [`crate::Verifier`]), or on request with [`UntrustedToken::claims_unverified`].
///
/// ```
/// use jwtgate::UntrustedToken;
/// let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
/// let untrusted = UntrustedToken::parse(token)?;
/// assert_eq!(untrusted.header().alg_name(), "ES256");
/// assert_eq!(untrusted.claims_unverified()?["sub"], "alice");
/// # Ok::<(), jwtgate::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct UntrustedToken<'a> {
    signing_input: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> UntrustedToken<'a> {
    /// Parses with the default size limit, [`DEFAULT_MAX_TOKEN_BYTES`].
    pub fn parse(token: &'a str) -> Result<Self, Error> {
        Self::parse_with_limit(token, DEFAULT_MAX_TOKEN_BYTES)
    }

    /// Parses a token of at most `max_bytes` bytes; the length is checked before anything else.
    pub fn parse_with_limit(token: &'a str, max_bytes: usize) -> Result<Self, Error> {
        let ([h, p, _], [header_bytes, payload, signature]) = decoded(token.as_bytes(), max_bytes)?;
        let header = Header::read(header_bytes)?;
        Ok(UntrustedToken {
            // Always there (the token is `h.p.s`); `get` because a slice that can fail links
            // `core`'s panic formatting, Unicode tables included, into the npm package.
            signing_input: token.get(..h.len() + 1 + p.len()).unwrap_or_default(),
            header,
            payload,
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload bytes, unverified.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The payload parsed as a claims object, without any verification: for display and for
    /// scheduling a refresh, never for an access decision.
    pub fn claims_unverified(&self) -> Result<Map<String, Value>, Error> {
        object(&self.payload, Part::Payload)
    }
}

/// The three parts of a compact JWS of at most `max_bytes` bytes, the length checked first.
/// Bytes, not text: base64url refuses anything but ASCII, so `jwtgate/client`'s `decode` need
/// not check the token's UTF-8 first.
pub(crate) fn split(token: &[u8], max_bytes: usize) -> Result<[&[u8]; 3], Error> {
    if token.len() > max_bytes {
        return Err(Error::TooLarge { limit: max_bytes });
    }
    let parts = split_dot(token).and_then(|(h, rest)| split_dot(rest).map(|(p, s)| [h, p, s]));
    match parts {
        Some(parts @ [_, _, s]) if split_dot(s).is_none() => Ok(parts),
        _ => {
            let count = token.iter().filter(|&&b| b == b'.').count() + 1;
            Err(Error::Malformed(Malformed::PartCount(count.min(6))))
        }
    }
}

/// `s.split_once('.')`, eight bytes at a time (core's search takes four in wasm32, and was a
/// twentieth of `decode`); out of line: inlined at each of `split`'s three, it was bytes of the
/// client's wasm.
#[inline(never)]
fn split_dot(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut at = 0;
    while let Some(&word) = b.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        if has_byte(u64::from_le_bytes(word), b'.') {
            break;
        }
        at += 8;
    }
    at += b.get(at..)?.iter().position(|&c| c == b'.')?;
    Some((b.get(..at)?, b.get(at + 1..)?))
}

/// The three parts of a compact JWS of at most `max_bytes` bytes, as text and decoded.
#[allow(clippy::type_complexity)]
fn decoded(token: &[u8], max_bytes: usize) -> Result<([&[u8]; 3], [Vec<u8>; 3]), Error> {
    let parts = split(token, max_bytes)?;
    let decode =
        |i: usize, part| b64_decode(parts[i]).ok_or(Error::Malformed(Malformed::Base64(part)));
    let bytes = [
        decode(0, Part::Header)?,
        decode(1, Part::Payload)?,
        decode(2, Part::Signature)?,
    ];
    Ok((parts, bytes))
}

/// Appends the header JSON of a token that [`UntrustedToken::parse_with_limit`] would accept
/// and whose payload is a strict JSON object, then `between`, then the payload JSON, to `out`:
/// the same checks in the same order, without building the header's map, the claims or the
/// signature's bytes, for `jwtgate/client`'s `decode`, which hands JS the text in one piece.
#[cfg(any(feature = "web-client", test))]
pub(crate) fn unverified_parts(
    token: &[u8],
    max_bytes: usize,
    between: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let [h, p, s] = split(token, max_bytes)?;
    let bad = |part| Err(Error::Malformed(Malformed::Base64(part)));
    let header_start = out.len();
    if !b64_decode_into(h, out) {
        return bad(Part::Header);
    }
    let header_end = out.len();
    out.extend_from_slice(between);
    let payload_start = out.len();
    if !b64_decode_into(p, out) {
        return bad(Part::Payload);
    }
    // Checked as verify would decode it, in the room the buffer has left (the decoded
    // parts are shorter than the token), then dropped: nothing is allocated for it.
    let payload_end = out.len();
    let signature = b64_decode_into(s, out);
    out.truncate(payload_end);
    if !signature {
        return bad(Part::Signature);
    }
    let part = |from, to| out.get(from..to).unwrap_or_default();
    let members = json_members(part(header_start, header_end), HEADER_NAMES)
        .map_err(|e| json_error(e, Part::Header))?
        .0;
    header_rules(members)?;
    check_object(part(payload_start, payload_end), Part::Payload)
}

/// Whether one part of the token is a strict JSON object, with [`object`]'s verdict, without
/// building it: `decode` hands JS the text, so the map would be built only to be dropped.
#[cfg(any(feature = "web-client", test))]
pub(crate) fn check_object(bytes: &[u8], part: Part) -> Result<(), Error> {
    json_members(bytes, [])
        .map(drop)
        .map_err(|e| json_error(e, part))
}

/// A strict JSON object from one part of the token.
pub(crate) fn object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Error> {
    json_object(bytes).map_err(|e| json_error(e, part))
}

pub(crate) fn json_error(e: JsonError, part: Part) -> Error {
    Error::Malformed(match e {
        JsonError::Syntax => Malformed::Json(part),
        JsonError::NotAnObject => Malformed::NotAnObject(part),
        JsonError::DuplicateMember => Malformed::DuplicateMember(part),
    })
}

/// A token's `exp` and `iat`, read without verifying it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Times {
    pub exp: Option<f64>,
    pub iat: Option<f64>,
}

/// Reads `exp` and `iat`, checking only what finding them needs: three parts and a strict
/// JSON payload, not the header or signature. For clients deciding when to refresh, never for
/// trusting a token.
pub(crate) fn times(token: &str) -> Result<Times, Error> {
    let [_, payload, _] = split(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES)?;
    let bytes = b64_decode(payload).ok_or(Error::Malformed(Malformed::Base64(Part::Payload)))?;
    let ([exp, iat], _) =
        json_members(&bytes, ["exp", "iat"]).map_err(|e| json_error(e, Part::Payload))?;
    // Read in place, and one error built for either (`exp`'s first): a claim's own error
    // and its moves were bytes of the client's wasm apiece.
    let time = |v: &Option<Member>| match v {
        None => Some(None),
        Some(Member::Number(n)) => Some(Some(*n)),
        Some(_) => None,
    };
    match (time(&exp), time(&iat)) {
        (Some(exp), Some(iat)) => Ok(Times { exp, iat }),
        (exp, _) => Err(Error::InvalidClaim(
            if exp.is_none() { "exp" } else { "iat" }.into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::base64::b64_encode;
    use crate::crypto::json::tests::Gen;

    /// Headers are equal as their member maps are, as when `Header` held its map.
    #[test]
    fn headers_are_equal_by_their_members() {
        let header = |json: &str| Header::read(json.as_bytes().to_vec()).unwrap();
        let a = header(r#"{"alg":"ES256","kid":"k"}"#);
        assert_eq!(a, header(r#"{ "kid" : "k", "alg" : "\u0045S256" }"#));
        assert_eq!(
            a.members(),
            header(r#"{"kid":"k","alg":"ES256"}"#).members()
        );
        assert_ne!(a, header(r#"{"alg":"ES256","kid":"j"}"#));
        assert_ne!(a, header(r#"{"alg":"ES256","kid":"k","typ":"JWT"}"#));
        assert_ne!(a, header(r#"{"alg":"ES256"}"#));
    }

    /// `times` reads numbers only, and names the first claim (in `exp`, `iat` order) that is
    /// present and not one.
    #[test]
    fn times_names_the_claim_that_is_not_a_number() {
        let times_of =
            |payload: &str| times(&format!("e30.{}.c2ln", b64_encode(payload.as_bytes())));
        let invalid = |claim: &str| Err(Error::InvalidClaim(claim.into()));
        let (exp, iat) = (Some(1.8e9), Some(1.5));
        assert_eq!(
            times_of(r#"{"exp":1.8e9,"iat":1.5}"#),
            Ok(Times { exp, iat })
        );
        assert_eq!(
            times_of("{}"),
            Ok(Times {
                exp: None,
                iat: None
            })
        );
        assert_eq!(times_of(r#"{"exp":"1","iat":1.5}"#), invalid("exp"));
        assert_eq!(times_of(r#"{"exp":1.8e9,"iat":true}"#), invalid("iat"));
        assert_eq!(times_of(r#"{"iat":null,"exp":[1]}"#), invalid("exp"));
    }

    /// `decode`'s path (one buffer, the signature checked in the room left) gives the verdict
    /// and error `UntrustedToken::parse` and `claims_unverified` give, and their bytes.
    #[test]
    fn unverified_parts_agree_with_parse() {
        let part = |json: &str| b64_encode(json.as_bytes());
        let headers = [
            r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"ES256","alg":"ES256"}"#,
            r#"{"alg":"ES256","crit":["x"]}"#,
            r#"{"alg":"ES256","b64":false}"#,
            r#"{"alg":1}"#,
            r#"{"kid":"k1"}"#,
            r#"["alg"]"#,
            r#"{"alg":"ES256""#,
        ];
        let payloads = [
            r#"{"sub":"a","exp":1800000000,"n":{"x":[1,2.5,"é"]}}"#,
            r#"{"a":1,"a":2}"#,
            "[]",
            "{",
            "{}",
        ];
        let signatures = [
            "", "c2ln", "c2lnbg", "c2lnbmE", "c2lnbh", "c2lnbmF", "c2l", "c2!n",
        ];
        let mut tokens = Vec::new();
        for h in headers {
            for p in payloads {
                for s in signatures {
                    tokens.push(format!("{}.{}.{s}", part(h), part(p)));
                }
            }
        }
        // Every kind of one-character change of a good token, dots and bad bytes included.
        let good = tokens[1].clone();
        let mut gen = Gen(0x16d);
        for _ in 0..3000 {
            let mut t = good.clone().into_bytes();
            let at = (gen.next() % t.len() as u64) as usize;
            match gen.next() % 3 {
                0 => {
                    t[at] = *b"A_-=+/ .{\x7fa9Qw"
                        .get((gen.next() % 14) as usize)
                        .unwrap()
                }
                1 => {
                    t.remove(at);
                }
                _ => t.insert(at, *b"A.=_".get((gen.next() % 4) as usize).unwrap()),
            }
            tokens.extend(String::from_utf8(t));
        }
        tokens.extend(["".into(), "a.b".into(), "a.b.c.d".into(), "..".into()]);
        tokens.push(format!(
            "{}.{}.",
            part(headers[0]),
            "e".repeat(DEFAULT_MAX_TOKEN_BYTES)
        ));
        let (mut accepted, mut refused) = (0, 0);
        for t in &tokens {
            let theirs = UntrustedToken::parse(t).and_then(|u| {
                u.claims_unverified()?;
                let header = b64_decode(t.split('.').next().unwrap_or_default());
                Ok([header.unwrap_or_default(), vec![0], u.payload().to_vec()].concat())
            });
            let mut out = b"room".to_vec();
            let ours = unverified_parts(t.as_bytes(), DEFAULT_MAX_TOKEN_BYTES, b"\0", &mut out)
                .map(|()| out.split_off(4));
            assert_eq!(ours, theirs, "{t}");
            if ours.is_ok() {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        assert!(
            accepted > 10 && refused > 1000,
            "{accepted} accepted, {refused} refused"
        );
    }
}
