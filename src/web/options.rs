//! The JavaScript `Verifier` options, as JSON, to a core [`Policy`].

use crate::crypto::json::Json;
use crate::prelude::*;

use crate::error::joined;
use crate::{Algorithm, AlgorithmSet, Policy};

/// Options that are not a policy: mistakes in them are the caller's, reported as `TypeError`.
#[derive(Debug, PartialEq, Eq)]
pub struct OptionsError(pub String);

/// The largest `clockSkewSeconds`: a day. A clock a day off is broken, and a larger skew is a
/// mistake in units (milliseconds for seconds) that would let expired tokens verify.
const MAX_CLOCK_SKEW: u64 = 86_400;

/// The largest `maxTokenBytes`: 1 MiB, far above any header a server takes, and well inside
/// wasm32's `usize`, which a larger number would wrap.
const MAX_TOKEN_BYTES_LIMIT: u64 = 1 << 20;

/// The option names, comma-separated (one string: cheaper in the wasm than a list joined),
/// which the JS side reads by property access, getters and prototypes included, before it
/// hands the options over as JSON.
pub const KNOWN: &str =
    "issuer,audiences,algorithms,clockSkewSeconds,requireExpiration,maxTokenBytes,requiredClaims,spaceDelimitedClaims";

/// Names people write for an option, and the option they mean.
const HINTS: [(&str, &str); 4] = [
    ("audience", "audiences"),
    ("algorithm", "algorithms"),
    ("clockSkew", "clockSkewSeconds"),
    ("clockTolerance", "clockSkewSeconds"),
];

/// A name as the caller wrote it, quoted as JSON quotes it: `Debug`'s quoting would link
/// `core`'s Unicode tables and escaping into the npm package's wasm for two messages. (The
/// messages are `joined`, not `format!`ted: that linked `core::fmt`'s padding and writer,
/// 1.7 KB gzipped of the whole browser entry.)
fn quoted(name: &str) -> String {
    let mut out = String::new();
    crate::crypto::json::push_json_string(&mut out, name);
    out
}

/// Reads `{issuer, audiences, algorithms, clockSkewSeconds, requireExpiration, maxTokenBytes,
/// requiredClaims}`. Unknown names are refused: a misspelt `audience` must not silently turn
/// the audience check off.
pub(crate) fn policy(options: Json<'_>) -> Result<Policy, OptionsError> {
    let members = options.members().unwrap_or_default();
    // The first unknown name in sorted order, as the map these options were once read into
    // named it.
    if let Some(unknown) = members
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !KNOWN.split(',').any(|known| known == k.as_str()))
        .min()
    {
        // A table, not a match: a match compiled to a comparison per name.
        let hint = HINTS
            .iter()
            .find(|(name, _)| name == unknown)
            .map_or(["", "", ""], |(_, meant)| [" (did you mean ", meant, "?)"]);
        return Err(OptionsError(joined(&[
            "unknown option ",
            &quoted(unknown),
            hint[0],
            hint[1],
            hint[2],
        ])));
    }
    // Its fields set in place: each builder call moved the whole policy (14 copies of it in
    // the wasm). Filled by `read`, which owns nothing, so that its many refusals drop nothing
    // (each dropped the policy and the options: 30 bytes gzipped).
    let mut policy = Policy::new();
    read(options, &mut policy)?;
    Ok(policy)
}

/// The options' values into `policy`, once the names are known.
#[inline(never)]
fn read(options: Json<'_>, policy: &mut Policy) -> Result<(), OptionsError> {
    // Left out, the issuer is not checked. null is refused, not read as left out: it is what
    // `config.issuer ?? null` gives for a missing setting, and must not switch the check off.
    if let Some(iss) = options.get("issuer") {
        policy.issuer = Some(
            iss.str()
                .ok_or_else(|| bad("issuer", "a string (leave it out to skip the check)"))?,
        );
    }
    // An empty list is a mistake (`env.split(',').filter(Boolean)` on an unset variable), not
    // "any audience": refused, as are null and an empty name, which no audience is meant to be.
    // Left out, the audience is not checked.
    let given = options.get("audiences").is_some();
    let audiences = Some(options.get("audiences"))
        .filter(|v| !v.is_some_and(Json::is_null))
        .and_then(|v| strings(v, true))
        .filter(|a| !(given && a.is_empty()) && a.iter().all(|aud| !aud.is_empty()))
        .ok_or_else(|| {
            bad(
                "audiences",
                "a non-empty string or a non-empty array of them (leave it out to skip the check)",
            )
        })?;
    policy.audiences = audiences;
    if let Some(algs) = options.get("algorithms").filter(|v| !v.is_null()) {
        let names = strings(Some(algs), false)
            .ok_or_else(|| bad("algorithms", "an array of algorithm names"))?;
        let mut set = AlgorithmSet::EMPTY;
        for name in names {
            let alg = Algorithm::from_name(&name).map_err(|_| {
                OptionsError(joined(&[
                    "option algorithms: ",
                    &quoted(&name),
                    " is not an algorithm jwtgate implements",
                ]))
            })?;
            set = set.with(alg);
        }
        if set.is_empty() {
            return Err(bad("algorithms", "a non-empty array"));
        }
        policy.algorithms = set;
    }
    if let Some(v) = options.get("clockSkewSeconds").filter(|v| !v.is_null()) {
        policy.clock_skew = whole(v).filter(|n| *n <= MAX_CLOCK_SKEW).ok_or_else(|| {
            bad(
                "clockSkewSeconds",
                "a whole number of seconds, 0 to 86400 (a day)",
            )
        })?;
    }
    if let Some(v) = options.get("requireExpiration").filter(|v| !v.is_null()) {
        policy.require_expiration = v
            .bool()
            .ok_or_else(|| bad("requireExpiration", "true or false"))?;
    }
    if let Some(v) = options.get("maxTokenBytes").filter(|v| !v.is_null()) {
        let n = whole(v)
            .filter(|n| *n > 0 && *n <= MAX_TOKEN_BYTES_LIMIT)
            .ok_or_else(|| bad("maxTokenBytes", "a whole number from 1 to 1048576 (1 MiB)"))?;
        policy.max_token_bytes = n as usize;
    }
    // An object is the Envoy filter's `requires_claims`: claim -> a value or any of a list,
    // checked in the order of the claims' names (as a map of them held them).
    let required = options.get("requiredClaims");
    if let Some(mut required) = required.and_then(Json::members) {
        // Smallest name first, one at a time: a sort linked 3 KB of wasm, for a handful.
        while let Some((at, _)) = required
            .iter()
            .enumerate()
            .min_by(|a, b| a.1 .0.cmp(&b.1 .0))
        {
            let (claim, accepted) = required.swap_remove(at);
            policy.required_values.push((
                claim,
                accepted_values(accepted).ok_or_else(|| {
                    bad(
                        "requiredClaims",
                        "claim names or an object of values (each a value or a non-empty array)",
                    )
                })?,
            ));
        }
    } else {
        policy.required_claims = strings(required, false).ok_or_else(|| {
            bad(
                "requiredClaims",
                "an array of claim names or an object of required values",
            )
        })?;
    }
    policy.space_delimited_claims = strings(options.get("spaceDelimitedClaims"), false)
        .ok_or_else(|| bad("spaceDelimitedClaims", "an array of claim names"))?;
    Ok(())
}

/// What `requires_claims` accepts for one claim, as the Envoy filter's configuration reads it:
/// a value, or a non-empty array of them; never an object or null.
/// Each as its JSON text (`crypto::json::canon_value`), as the policy holds them.
fn accepted_values(v: Json<'_>) -> Option<Vec<Vec<u8>>> {
    let list = match v.items() {
        Some(list) if !list.is_empty() => list,
        Some(_) => return None,
        None if v.is_null() || v.is_object() => return None,
        None => vec![v],
    };
    Some(list.into_iter().map(|v| v.text().to_vec()).collect())
}

/// An absent value, a string (when `one` is allowed) or an array of strings.
fn strings(v: Option<Json<'_>>, one: bool) -> Option<Vec<String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    match (v.str(), v.items()) {
        (Some(s), _) if one => out.push(s),
        (_, Some(items)) => {
            for item in items {
                out.push(item.str()?);
            }
        }
        _ => return None,
    }
    Some(out)
}

/// `option NAME must be WHAT`. Out of line: each message built in place was bytes of the wasm.
#[inline(never)]
fn bad(name: &str, what: &str) -> OptionsError {
    OptionsError(joined(&["option ", name, " must be ", what]))
}

fn whole(v: Json<'_>) -> Option<u64> {
    let v = v.number()?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && *f < 1e15 && *f % 1.0 == 0.0)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::json::tests::{small_value, Gen};
    use crate::crypto::json::{json_document, json_object};
    use serde_json::{Map, Value};

    // The options as they were read into a `serde_json::Value` map: the oracle for the
    // scanner's reader. Required values are returned beside the policy, as `Value`s.
    fn value_policy(
        mut options: Map<String, Value>,
        required_values: &mut Vec<(String, Vec<Value>)>,
    ) -> Result<Policy, OptionsError> {
        if let Some(unknown) = options
            .keys()
            .find(|k| !KNOWN.split(',').any(|known| known == k.as_str()))
        {
            let hint = HINTS
                .iter()
                .find(|(name, _)| name == unknown)
                .map_or(["", "", ""], |(_, meant)| [" (did you mean ", meant, "?)"]);
            return Err(OptionsError(joined(&[
                "unknown option ",
                &quoted(unknown),
                hint[0],
                hint[1],
                hint[2],
            ])));
        }
        let mut policy = Policy::new();
        value_read(&mut options, &mut policy, required_values)?;
        Ok(policy)
    }

    fn value_read(
        options: &mut Map<String, Value>,
        policy: &mut Policy,
        required_values: &mut Vec<(String, Vec<Value>)>,
    ) -> Result<(), OptionsError> {
        match options.get("issuer") {
            None => {}
            Some(Value::String(iss)) => policy.issuer = Some(iss.clone()),
            Some(_) => return Err(bad("issuer", "a string (leave it out to skip the check)")),
        }
        let given = options.contains_key("audiences");
        let audiences = Some(options.get("audiences"))
            .filter(|v| !v.is_some_and(Value::is_null))
            .and_then(|v| value_strings(v, true))
            .filter(|a| !(given && a.is_empty()) && a.iter().all(|aud| !aud.is_empty()))
            .ok_or_else(|| {
                bad(
                    "audiences",
                    "a non-empty string or a non-empty array of them (leave it out to skip the check)",
                )
            })?;
        policy.audiences = audiences;
        if let Some(algs) = options.get("algorithms").filter(|v| !v.is_null()) {
            let names = value_strings(Some(algs), false)
                .ok_or_else(|| bad("algorithms", "an array of algorithm names"))?;
            let mut set = AlgorithmSet::EMPTY;
            for name in names {
                let alg = Algorithm::from_name(&name).map_err(|_| {
                    OptionsError(joined(&[
                        "option algorithms: ",
                        &quoted(&name),
                        " is not an algorithm jwtgate implements",
                    ]))
                })?;
                set = set.with(alg);
            }
            if set.is_empty() {
                return Err(bad("algorithms", "a non-empty array"));
            }
            policy.algorithms = set;
        }
        if let Some(v) = options.get("clockSkewSeconds").filter(|v| !v.is_null()) {
            policy.clock_skew =
                value_whole(v)
                    .filter(|n| *n <= MAX_CLOCK_SKEW)
                    .ok_or_else(|| {
                        bad(
                            "clockSkewSeconds",
                            "a whole number of seconds, 0 to 86400 (a day)",
                        )
                    })?;
        }
        match options.get("requireExpiration") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => policy.require_expiration = *b,
            Some(_) => return Err(bad("requireExpiration", "true or false")),
        }
        if let Some(v) = options.get("maxTokenBytes").filter(|v| !v.is_null()) {
            let n = value_whole(v)
                .filter(|n| *n > 0 && *n <= MAX_TOKEN_BYTES_LIMIT)
                .ok_or_else(|| bad("maxTokenBytes", "a whole number from 1 to 1048576 (1 MiB)"))?;
            policy.max_token_bytes = n as usize;
        }
        let required = options.get_mut("requiredClaims").map(core::mem::take);
        if let Some(Value::Object(required)) = required {
            for (claim, accepted) in required {
                required_values.push((
                    claim,
                    value_accepted(accepted).ok_or_else(|| {
                        bad(
                            "requiredClaims",
                            "claim names or an object of values (each a value or a non-empty array)",
                        )
                    })?,
                ));
            }
        } else {
            policy.required_claims = value_strings(required.as_ref(), false).ok_or_else(|| {
                bad(
                    "requiredClaims",
                    "an array of claim names or an object of required values",
                )
            })?;
        }
        policy.space_delimited_claims =
            value_strings(options.get("spaceDelimitedClaims"), false)
                .ok_or_else(|| bad("spaceDelimitedClaims", "an array of claim names"))?;
        Ok(())
    }

    fn value_accepted(v: Value) -> Option<Vec<Value>> {
        match v {
            Value::Array(list) if !list.is_empty() => Some(list),
            Value::Array(_) | Value::Object(_) | Value::Null => None,
            one => Some(vec![one]),
        }
    }

    fn value_strings(v: Option<&Value>, one: bool) -> Option<Vec<String>> {
        let mut out = Vec::new();
        match v {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if one => out.push(s.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    out.push(item.as_str()?.into());
                }
            }
            Some(_) => return None,
        }
        Some(out)
    }

    fn value_whole(v: &Value) -> Option<u64> {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && *f < 1e15 && *f % 1.0 == 0.0)
                .map(|f| f as u64)
        })
    }

    /// Generated options, names known, unknown and escaped, values of every type: the same
    /// policy, or the same `TypeError` message, from both readings.
    #[test]
    fn options_are_read_as_the_value_reading_read_them() {
        let mut gen = Gen(0x6a09_e667_f3bc_c908);
        let (mut read, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut names: Vec<&str> = KNOWN.split(',').collect();
            names.extend([
                "audience",
                "zeta",
                "Issuer",
                "a\\u0075diences",
                "clockTolerance",
            ]);
            let mut members = Vec::new();
            for name in names {
                if gen.next() % 4 != 0 || (name.len() < 7 && gen.next() % 4 != 0) {
                    continue;
                }
                let value = match gen.next() % 6 {
                    0 => small_value(&mut gen, 1),
                    1 => gen
                        .pick(&[
                            "0", "60", "86400", "86401", "1.5", "-1", "1e3", "1048576", "1048577",
                            "6e1",
                        ])
                        .into(),
                    2 => gen
                        .pick(&[
                            "\"https://i\"",
                            "\"\"",
                            "[\"api\",\"x\"]",
                            "[\"api\",\"\"]",
                            "[]",
                            "[\"RS256\",\"ES256\"]",
                            "[\"none\"]",
                            "[\"scope\",\"a\"]",
                        ])
                        .into(),
                    3 if name == "requiredClaims" => {
                        let claims: Vec<String> = (0..gen.next() % 4)
                            .map(|i| {
                                let claim = gen.pick(&["sub", "scope", "b", "a.b", "\\u0061"]);
                                let v = match gen.next() % 3 {
                                    0 => format!("[{}]", small_value(&mut gen, 2)),
                                    _ => small_value(&mut gen, 1),
                                };
                                format!("\"{claim}{}\":{v}", if i % 2 == 0 { "" } else { "2" })
                            })
                            .collect();
                        format!("{{{}}}", claims.join(","))
                    }
                    _ => gen
                        .pick(&["null", "true", "false", "\"RS256\"", "[\"sub\"]"])
                        .into(),
                };
                members.push(format!("\"{name}\":{value}"));
            }
            // In any order: unknown names are reported by the first in sorted order.
            if gen.next() % 2 == 0 {
                members.reverse();
            }
            let text = format!("{{{}}}", members.join(","));
            let (Ok(doc), Ok(map)) = (json_document(text.as_bytes()), json_object(text.as_bytes()))
            else {
                // A repeated name (an escaped one): both readers refuse the text alike.
                assert!(json_document(text.as_bytes()).is_err(), "{text}");
                continue;
            };
            let mut required_values = Vec::new();
            let theirs = value_policy(map, &mut required_values);
            match (policy(doc), theirs) {
                (Ok(ours), Ok(theirs)) => {
                    assert_eq!(ours.issuer, theirs.issuer, "{text}");
                    assert_eq!(ours.audiences, theirs.audiences, "{text}");
                    assert!(ours.algorithms == theirs.algorithms, "{text}");
                    assert_eq!(ours.clock_skew, theirs.clock_skew, "{text}");
                    assert_eq!(ours.require_expiration, theirs.require_expiration, "{text}");
                    assert_eq!(ours.max_token_bytes, theirs.max_token_bytes, "{text}");
                    assert_eq!(ours.required_claims, theirs.required_claims, "{text}");
                    assert_eq!(ours.space_delimited_claims, theirs.space_delimited_claims);
                    let ours: Vec<(String, Vec<Value>)> = ours
                        .required_values
                        .iter()
                        .map(|(claim, texts)| {
                            let values = texts.iter().map(|t| serde_json::from_slice(t).unwrap());
                            (claim.clone(), values.collect())
                        })
                        .collect();
                    assert_eq!(ours, required_values, "{text}");
                    read += 1;
                }
                (Err(ours), Err(theirs)) => {
                    assert_eq!(ours, theirs, "{text}");
                    refused += 1;
                }
                (ours, theirs) => panic!("{text}: {:?} / {:?}", ours.err(), theirs.err()),
            }
        }
        assert!(
            read > 1_000 && refused > 1_000,
            "{read} read, {refused} refused"
        );
    }
}
