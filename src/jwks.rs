//! JSON Web Keys (RFC 7517): parsing a key set and choosing the keys for a token.

use crate::prelude::*;
use core::fmt;

use crate::alg::Algorithm;
use crate::crypto::base64::b64_decode;
use crate::crypto::json::{json_document, Json, JsonError};
use crate::crypto::{KeyError, KeyMaterial, SignatureCheck};
use crate::error::{AlgorithmError, Error, JwksError};

/// A public key (or, for HMAC, a shared secret) from a key set, ready to verify.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    material: KeyMaterial,
}

/// Why an entry of a key set was skipped. Skipping is not fatal: a set is usable while it
/// has one usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON object.
    NotAnObject,
    /// `kty` is absent, not a string, or a type jwtgate does not verify with.
    UnsupportedKeyType,
    /// `crv` is absent or a curve jwtgate does not verify with (P-521, Ed448, X25519, …).
    UnsupportedCurve,
    /// `alg` names an algorithm jwtgate does not implement, or one the key type cannot do.
    UnsupportedAlgorithm,
    /// `use` is not `sig`, or `key_ops` does not include `verify`.
    NotForSignatures,
    /// A member is missing, of the wrong type, or not base64url.
    InvalidParameter(&'static str),
    /// An RSA modulus under 2048 bits.
    RsaKeyTooSmall,
    /// An RSA modulus over 8192 bits.
    RsaKeyTooLarge,
    /// An RSA exponent that is even, under 65537, or 2^33 and over.
    WeakRsaExponent,
    /// An RSA modulus that is not a valid odd number.
    InvalidRsaModulus,
    /// An EC or Ed25519 point that is not on its curve.
    PointNotOnCurve,
    /// A coordinate or secret of the wrong length (or an empty HMAC secret).
    InvalidLength,
    /// An RSA, EC or OKP key with its private part (`d`): whoever read the set can sign with
    /// it, so it proves nothing (jose refuses such a set whole).
    PrivateKey,
}

/// One skipped entry: where it was in the set, its `kid` if it had one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's position in `keys`.
    pub index: usize,
    /// The entry's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// A parsed JSON Web Key Set.
///
/// ```
/// let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
///     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let set = jwtgate::JwkSet::from_json(jwks.as_bytes())?;
/// assert_eq!(set.len(), 1);
/// # Ok::<(), jwtgate::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    skipped: Vec<Skipped>,
}

impl JwkSet {
    /// The largest key set document accepted, in bytes.
    pub const MAX_BYTES: usize = 512 * 1024;
    /// The most entries a key set may have: real sets have a handful, and every entry is a
    /// candidate for a token without `kid`.
    pub const MAX_KEYS: usize = 256;
    /// The most signature checks one token may cost, however many keys fit it, counted in
    /// checks with an RSA-2048 or EC key; one with a larger RSA key counts for more, but the
    /// first candidate is always tried.
    pub const MAX_ATTEMPTS: usize = 8;

    /// Parses a JWKS document. Entries that cannot be used are skipped (see
    /// [`JwkSet::parse_report`]); a set with no usable entry is an error.
    pub fn from_json(json: &[u8]) -> Result<JwkSet, Error> {
        let fail = |e| Error::JwksUnavailable(e);
        if json.len() > Self::MAX_BYTES {
            return Err(fail(JwksError::TooLarge {
                limit: Self::MAX_BYTES,
            }));
        }
        let doc = json_document(json).map_err(|e| {
            fail(match e {
                JsonError::NotAnObject => JwksError::NotAKeySet,
                JsonError::Syntax | JsonError::DuplicateMember => JwksError::Json,
            })
        })?;
        let Some(entries) = doc.get("keys").and_then(Json::items) else {
            return Err(fail(JwksError::NotAKeySet));
        };
        if entries.len() > Self::MAX_KEYS {
            return Err(fail(JwksError::TooManyKeys {
                limit: Self::MAX_KEYS,
            }));
        }
        let mut set = JwkSet::default();
        for (index, entry) in entries.into_iter().enumerate() {
            match Jwk::from_members(entry) {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push(Skipped {
                    index,
                    kid: entry.get("kid").and_then(Json::str),
                    reason,
                }),
            }
        }
        if set.keys.is_empty() {
            return Err(fail(JwksError::NoUsableKey));
        }
        Ok(set)
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The entries that were skipped, and why: for logs and diagnostics.
    pub fn parse_report(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some key carries this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys the header selects for `alg`, in the order they are tried, and the error if
    /// none verifies.
    ///
    /// Keys carrying the token's `kid` come first, then keys without `kid` (Envoy's
    /// `jwt_authn` lets those serve any token); without `kid` in the token, every key is a
    /// candidate. A candidate must fit the algorithm, and at most [`JwkSet::MAX_ATTEMPTS`]
    /// checks' worth are tried. Header `jwk`, `jku`, `x5u` and `x5c` are never consulted.
    ///
    /// A `kid` no key carries is [`Error::UnknownKey`] even when kid-less keys were tried, so
    /// that a front door knows to re-fetch after a rotation; a `kid` naming only keys of
    /// another type or algorithm is a mismatch, not a rotation.
    pub(crate) fn select(&self, alg: Algorithm, kid: Option<&str>) -> (Vec<usize>, Error) {
        let named = |k: &Jwk| kid.is_some() && k.kid.as_deref() == kid;
        let (mut named_any, mut named_fit) = (false, false);
        for key in self.keys.iter().filter(|k| named(k)) {
            named_any = true;
            named_fit |= key.fits(alg);
        }
        let anonymous = |k: &Jwk| kid.is_none() || k.kid.is_none();
        let indexed = self.keys.iter().enumerate();
        let candidates = indexed
            .clone()
            .filter(|(_, k)| named(k))
            .chain(indexed.filter(|(_, k)| anonymous(k)));
        // The first candidate is always tried; then as many as the budget allows, where a
        // large RSA key counts for many: 256 RSA-8192 keys sharing a kid must not make one
        // token cost eight 8192-bit exponentiations.
        let (mut spent, mut chosen) = (0, Vec::new());
        for (index, key) in candidates.filter(|(_, k)| k.fits(alg)) {
            let cost = key.material.cost();
            if !chosen.is_empty() && spent + cost > Self::MAX_ATTEMPTS {
                break;
            }
            spent += cost;
            chosen.push(index);
        }
        let fail = match kid {
            Some(_) if !named_any => Error::UnknownKey,
            Some(_) if !named_fit => Error::AlgorithmNotAllowed(AlgorithmError::KeyMismatch(alg)),
            None if chosen.is_empty() => Error::UnknownKey,
            _ => Error::InvalidSignature,
        };
        (chosen, fail)
    }
}

impl Jwk {
    /// Parses one JWK from its JSON text.
    pub fn from_json(json: &[u8]) -> Result<Jwk, SkipReason> {
        match json_document(json) {
            Ok(members) => Jwk::from_members(members),
            Err(_) => Err(SkipReason::NotAnObject),
        }
    }

    /// One entry of a key set, read by the scanner's reader: the same for the Envoy filter and
    /// the npm package.
    fn from_members(m: Json<'_>) -> Result<Jwk, SkipReason> {
        if !m.is_object() {
            return Err(SkipReason::NotAnObject);
        }
        let text = |name| m.get(name).and_then(Json::str);
        let kid = match m.get("kid") {
            None => None,
            Some(v) => Some(v.str().ok_or(SkipReason::InvalidParameter("kid"))?),
        };
        if m.get("use").is_some() && text("use").as_deref() != Some("sig") {
            return Err(SkipReason::NotForSignatures);
        }
        if let Some(ops) = m.get("key_ops") {
            let ops = ops.items().ok_or(SkipReason::InvalidParameter("key_ops"))?;
            if !ops.iter().any(|op| op.str().as_deref() == Some("verify")) {
                return Err(SkipReason::NotForSignatures);
            }
        }
        let alg = match m.get("alg") {
            None => None,
            Some(v) => {
                let name = v.str().ok_or(SkipReason::InvalidParameter("alg"))?;
                Some(Algorithm::from_name(&name).map_err(|_| SkipReason::UnsupportedAlgorithm)?)
            }
        };
        let kty = text("kty").ok_or(SkipReason::UnsupportedKeyType)?;
        if kty != "oct" && m.get("d").is_some() {
            return Err(SkipReason::PrivateKey);
        }
        let crv = text("crv");
        let material = match kty.as_str() {
            "RSA" => KeyMaterial::rsa(&bytes(m, "n")?, &bytes(m, "e")?),
            "EC" => {
                // The curve picked first, then one reading of the point for either.
                let curve = match crv.as_deref() {
                    Some("P-256") => KeyMaterial::p256,
                    Some("P-384") => KeyMaterial::p384,
                    _ => return Err(SkipReason::UnsupportedCurve),
                };
                curve(&bytes(m, "x")?, &bytes(m, "y")?)
            }
            "OKP" => match crv.as_deref() {
                Some("Ed25519") => KeyMaterial::ed25519(&bytes(m, "x")?),
                _ => return Err(SkipReason::UnsupportedCurve),
            },
            "oct" => KeyMaterial::oct(&bytes(m, "k")?),
            _ => return Err(SkipReason::UnsupportedKeyType),
        }
        .map_err(|e| match e {
            KeyError::RsaTooSmall => SkipReason::RsaKeyTooSmall,
            KeyError::RsaTooLarge => SkipReason::RsaKeyTooLarge,
            KeyError::RsaExponent => SkipReason::WeakRsaExponent,
            KeyError::RsaModulus => SkipReason::InvalidRsaModulus,
            KeyError::NotOnCurve => SkipReason::PointNotOnCurve,
            KeyError::Length => SkipReason::InvalidLength,
        })?;
        // A pinned algorithm must be one the key type can do: an RSA key pinned to HS256 is
        // the algorithm-confusion attack written into the key set.
        if let Some(alg) = alg {
            if !material.fits(alg) {
                return Err(SkipReason::UnsupportedAlgorithm);
            }
        }
        Ok(Jwk { kid, alg, material })
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is pinned to by its `alg`, if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The key's `kty`: `RSA`, `EC`, `OKP` or `oct`.
    pub fn key_type(&self) -> &'static str {
        self.material.kty()
    }

    /// Whether this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.alg.is_none_or(|pinned| pinned == alg) && self.material.fits(alg)
    }

    /// Checks a signature made with `alg` over `message` with the in-wasm primitives; false if
    /// the key does not fit `alg`.
    #[cfg(feature = "rust-crypto")]
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.verify_with(&crate::RustCrypto, alg, message, signature)
    }

    /// Checks a signature made with `alg` over `message` with `crypto`, after the core's own
    /// checks of the key's fit and the signature's form; false if either fails.
    pub fn verify_with(
        &self,
        crypto: &dyn SignatureCheck,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.fits(alg)
            && self.material.well_formed(alg, signature)
            && crypto.verify(alg, self, message, signature)
    }

    /// The public key as a minimal JWK (JSON text, only the members its `kty` needs): what a
    /// [`SignatureCheck`] on a platform imports. For an `oct` key this is the secret.
    pub fn public_jwk(&self) -> String {
        self.material.to_jwk()
    }

    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }
}

/// A base64url member; padding is tolerated here (some issuers pad), never in tokens.
fn bytes(m: Json<'_>, name: &'static str) -> Result<Vec<u8>, SkipReason> {
    m.get(name)
        .and_then(Json::str)
        .and_then(|s| b64_decode(s.trim_end_matches('=')))
        .ok_or(SkipReason::InvalidParameter(name))
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key bytes: an `oct` key is a secret.
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.key_type())
            .field("alg", &self.alg)
            .finish()
    }
}

impl fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSet")
            .field("keys", &self.keys)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotAnObject => f.write_str("not a JSON object"),
            SkipReason::UnsupportedKeyType => f.write_str("unsupported or missing `kty`"),
            SkipReason::UnsupportedCurve => f.write_str("unsupported or missing `crv`"),
            SkipReason::UnsupportedAlgorithm => {
                f.write_str("`alg` unsupported or unfit for the key")
            }
            SkipReason::NotForSignatures => f.write_str("not a signature verification key"),
            SkipReason::InvalidParameter(p) => write!(f, "member `{p}` missing or invalid"),
            SkipReason::RsaKeyTooSmall => f.write_str("RSA modulus under 2048 bits"),
            SkipReason::RsaKeyTooLarge => f.write_str("RSA modulus over 8192 bits"),
            SkipReason::WeakRsaExponent => {
                f.write_str("RSA exponent not odd and within 65537 to 2^33 - 1")
            }
            SkipReason::InvalidRsaModulus => f.write_str("invalid RSA modulus"),
            SkipReason::PointNotOnCurve => f.write_str("point not on the curve"),
            SkipReason::InvalidLength => f.write_str("key material of the wrong length"),
            SkipReason::PrivateKey => {
                f.write_str("a private key (`d`): published, it proves nothing")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::json::json_object;
    use crate::crypto::json::tests::{small_value, Gen};
    use serde_json::{Map, Value};

    /// How an entry was read when the key set was a `serde_json::Value` map: the oracle for
    /// the scanner's reader. The key material is left to `KeyMaterial`, which both call.
    fn value_entry(
        m: &Map<String, Value>,
    ) -> Result<(Option<String>, Option<Algorithm>, &str), SkipReason> {
        let kid = match m.get("kid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(SkipReason::InvalidParameter("kid")),
        };
        if let Some(u) = m.get("use") {
            if u.as_str() != Some("sig") {
                return Err(SkipReason::NotForSignatures);
            }
        }
        if let Some(ops) = m.get("key_ops") {
            let ops = ops
                .as_array()
                .ok_or(SkipReason::InvalidParameter("key_ops"))?;
            if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                return Err(SkipReason::NotForSignatures);
            }
        }
        let alg = match m.get("alg") {
            None => None,
            Some(Value::String(name)) => {
                Some(Algorithm::from_name(name).map_err(|_| SkipReason::UnsupportedAlgorithm)?)
            }
            Some(_) => return Err(SkipReason::InvalidParameter("alg")),
        };
        let kty = m
            .get("kty")
            .and_then(Value::as_str)
            .ok_or(SkipReason::UnsupportedKeyType)?;
        let crv = m.get("crv").and_then(Value::as_str);
        let b64 = |name: &'static str| {
            m.get(name)
                .and_then(Value::as_str)
                .and_then(|s| b64_decode(s.trim_end_matches('=')))
                .ok_or(SkipReason::InvalidParameter(name))
        };
        match (kty, crv) {
            ("RSA", _) => b64("n").and(b64("e")),
            ("EC", Some("P-256" | "P-384")) => b64("x").and(b64("y")),
            ("OKP", Some("Ed25519")) => b64("x"),
            ("oct", _) => b64("k"),
            ("EC" | "OKP", _) => Err(SkipReason::UnsupportedCurve),
            _ => Err(SkipReason::UnsupportedKeyType),
        }?;
        Ok((kid, alg, kty))
    }

    /// Generated key sets (the fuzz corpus's keys, their members retyped, dropped, escaped,
    /// repeated): the same skip reasons, kids and keys as the `Value` reading, and the same
    /// error for the set.
    #[test]
    fn entries_are_read_as_the_value_reading_read_them() {
        let keys: Value = serde_json::from_str(include_str!("../fuzz/keys.json")).unwrap();
        let keys = keys["keys"].as_array().unwrap().clone();
        let mut gen = Gen(0x3c6e_f372_fe94_f82b);
        let (mut usable, mut skipped, mut refused) = (0, 0, 0);
        for _ in 0..4_000 {
            let mut entries = Vec::new();
            for _ in 0..1 + gen.next() % 3 {
                let key = &keys[(gen.next() % keys.len() as u64) as usize];
                let mut members = Vec::new();
                for (name, v) in key.as_object().unwrap() {
                    let value = match gen.next() % 12 {
                        0 => continue,
                        1 => small_value(&mut gen, 1),
                        _ => v.to_string(),
                    };
                    members.push(format!("\"{name}\":{value}"));
                }
                for (name, values) in [
                    (
                        "kid",
                        &["\"k\"", "\"rsa\"", "\"\\u0072sa\"", "7", "null"][..],
                    ),
                    ("use", &["\"sig\"", "\"enc\"", "\"\\u0073ig\"", "1"]),
                    (
                        "key_ops",
                        &["[\"verify\"]", "[\"sign\"]", "\"verify\"", "[]"],
                    ),
                    (
                        "alg",
                        &[
                            "\"RS256\"",
                            "\"ES256\"",
                            "\"EdDSA\"",
                            "\"HS256\"",
                            "\"none\"",
                            "1",
                        ],
                    ),
                    ("crv", &["\"P-384\"", "\"Ed448\""]),
                    ("x", &["\"AA\"", "\"A=\""]),
                ] {
                    if gen.next() % 6 == 0
                        && !members
                            .iter()
                            .any(|m| m.starts_with(&format!("\"{name}\"")))
                    {
                        members.push(format!("\"{name}\":{}", gen.pick(values)));
                    }
                }
                entries.push(match gen.next() % 16 {
                    0 => small_value(&mut gen, 1),
                    _ => format!("{{{}}}", members.join(",")),
                });
            }
            let text = format!("{{\"keys\":[{}]}}", entries.join(","));
            let bytes = match gen.next() % 8 {
                0 => gen.mutate(text),
                _ => text.into_bytes(),
            };
            let ours = JwkSet::from_json(&bytes);
            let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&bytes) else {
                assert!(ours.is_err());
                refused += 1;
                continue;
            };
            let Some(Value::Array(list)) = doc.get("keys") else {
                assert!(ours.is_err());
                refused += 1;
                continue;
            };
            // Duplicates: serde_json keeps one, the scanner refuses the set.
            if json_object(&bytes).is_err() {
                assert!(ours.is_err());
                refused += 1;
                continue;
            }
            let mut want_keys = Vec::new();
            let mut want_skipped = Vec::new();
            for (index, entry) in list.iter().enumerate() {
                let read = match entry {
                    Value::Object(m) => value_entry(m),
                    _ => Err(SkipReason::NotAnObject),
                };
                let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
                // The material's own checks are `KeyMaterial`'s, the same for both readers:
                // whatever it refused, the scanner's set must name this entry as skipped.
                let parsed = Jwk::from_json(entry.to_string().as_bytes());
                match (read, parsed) {
                    (Ok((kid, alg, kty)), Ok(key)) => {
                        assert_eq!(
                            (key.kid(), key.alg(), key.key_type()),
                            (kid.as_deref(), alg, kty)
                        );
                        want_keys.push(key);
                    }
                    (Ok(_), Err(reason)) => {
                        use SkipReason::*;
                        // Refused by the material, which both readers hand the same bytes.
                        assert!(
                            matches!(
                                reason,
                                RsaKeyTooSmall
                                    | RsaKeyTooLarge
                                    | WeakRsaExponent
                                    | InvalidRsaModulus
                                    | PointNotOnCurve
                                    | InvalidLength
                                    | UnsupportedAlgorithm
                            ),
                            "{entry}: {reason:?}"
                        );
                        want_skipped.push(Skipped { index, kid, reason })
                    }
                    (Err(reason), Err(_)) => want_skipped.push(Skipped { index, kid, reason }),
                    (Err(reason), Ok(_)) => panic!("{entry}: {reason:?} for the Value reading"),
                }
            }
            match ours {
                Ok(set) => {
                    assert_eq!(set.parse_report(), &want_skipped[..]);
                    assert_eq!(format!("{:?}", set.keys()), format!("{want_keys:?}"));
                    usable += set.len();
                    skipped += want_skipped.len();
                }
                Err(e) => {
                    assert!(want_keys.is_empty(), "{e}");
                    refused += 1;
                }
            }
        }
        assert!(
            usable > 1_000 && skipped > 1_000 && refused > 200,
            "{usable} {skipped} {refused}"
        );
    }
}
