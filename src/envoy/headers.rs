//! The request's header map as Envoy hands it over (`proxy_get_header_map_pairs`), read in
//! place: one buffer per request, views into it for each name and value.
//!
//! The SDK's `get_http_request_headers` copies every name and value into a `String` of its own
//! (measured: a third of a microsecond per request, most of what a cache hit spends in the VM
//! besides the lookup), and panics on a value that is not UTF-8, which Envoy lets through
//! (`obs-text`): one such request stopped the VM and every later request on that worker got a
//! 503. The whole map is read, never single headers by name: Envoy's
//! `proxy_get_header_map_value` gives the first value of a repeated header only, and two
//! `Authorization` headers must stay two tokens.

use std::ops::Range;

/// A request's headers, read from the form Envoy serializes them in: `count: u32`, then
/// `count` pairs of lengths (`u32` name, `u32` value), then each name and value followed by a
/// NUL byte; little-endian, as wasm is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// The names and values, each followed by NUL.
    text: String,
    /// Where each name and value is in `text`, in Envoy's order.
    spans: Vec<(Range<usize>, Range<usize>)>,
    /// The names of the headers whose name or value was not UTF-8, as read (lossily).
    lossy: Vec<String>,
}

impl HeaderMap {
    /// Reads a serialized map; `None` if the bytes do not hold one. A value (or name) that is
    /// not UTF-8 is read with each invalid sequence as U+FFFD, so a token holding one fails as
    /// malformed, as in `jwt_authn`, where its bytes fail base64url.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<HeaderMap> {
        let (start, spans) = spans(&bytes)?;
        // The names and values stay where they are, moved to the front: no copy of each.
        bytes.drain(..start);
        match String::from_utf8(bytes) {
            // Every span ends before a NUL and starts after one (or at 0): on char boundaries.
            Ok(text) => Some(HeaderMap {
                text,
                spans,
                lossy: Vec::new(),
            }),
            Err(e) => {
                let bytes = e.into_bytes();
                let mut map = HeaderMap {
                    text: String::with_capacity(bytes.len()),
                    spans: Vec::with_capacity(spans.len()),
                    lossy: Vec::new(),
                };
                let invalid = |r: &Range<usize>| std::str::from_utf8(&bytes[r.clone()]).is_err();
                let lossy_names: Vec<String> = spans
                    .iter()
                    .filter(|(n, v)| invalid(n) || invalid(v))
                    .map(|(n, _)| String::from_utf8_lossy(&bytes[n.clone()]).into_owned())
                    .collect();
                let mut push = |b: &[u8]| {
                    let at = map.text.len();
                    map.text.push_str(&String::from_utf8_lossy(b));
                    let span = at..map.text.len();
                    map.text.push('\0');
                    span
                };
                let lossy: Vec<_> = spans
                    .into_iter()
                    .map(|(n, v)| (push(&bytes[n]), push(&bytes[v])))
                    .collect();
                map.spans = lossy;
                map.lossy = lossy_names;
                Some(map)
            }
        }
    }

    /// The names of headers whose name or value was not UTF-8 and was read with U+FFFD in
    /// place of each invalid sequence: a route's header matcher must not decide on those
    /// (Envoy's compares the bytes).
    pub fn lossy(&self) -> &[String] {
        &self.lossy
    }

    /// Every header, names in lower case as Envoy gives them, a repeated header once per value.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        // Every span lies on char boundaries (see `from_bytes`): `get` never fails.
        let at = |r: &Range<usize>| self.text.get(r.clone()).unwrap_or_default();
        self.spans.iter().map(|(n, v)| (at(n), at(v))).collect()
    }
}

/// Where the names and values start in a serialized map, and where each lies from there, each
/// checked to be followed by NUL.
#[allow(clippy::type_complexity)]
fn spans(bytes: &[u8]) -> Option<(usize, Vec<(Range<usize>, Range<usize>)>)> {
    if bytes.is_empty() {
        return Some((0, Vec::new()));
    }
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        usize::try_from(u32::from_le_bytes(b.try_into().ok()?)).ok()
    };
    let count = word(0)?;
    let start = count.checked_mul(8)?.checked_add(4)?;
    let data = bytes.get(start..)?;
    let mut at: usize = 0;
    let mut next = |len: usize| -> Option<Range<usize>> {
        let end = at.checked_add(len)?;
        (*data.get(end)? == 0).then_some(())?;
        let span = at..end;
        at = end + 1;
        Some(span)
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let name = next(word(4 + 8 * i)?)?;
        let value = next(word(8 + 8 * i)?)?;
        out.push((name, value));
    }
    Some((start, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (n, v) in pairs {
            out.extend((n.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (n, v) in pairs {
            out.extend(*n);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_every_pair_in_order_repeated_names_each_on_their_own() {
        let map = HeaderMap::from_bytes(raw(&[
            (b":path", b"/x?a=1"),
            (b"authorization", b"Bearer a"),
            (b"authorization", b"Bearer b"),
            (b"x-empty", b""),
        ]))
        .unwrap();
        assert_eq!(
            map.pairs(),
            [
                (":path", "/x?a=1"),
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b"),
                ("x-empty", ""),
            ]
        );
        // Lengths of 128 and more are not UTF-8 as bytes: only the names and values need be.
        let long = "t".repeat(700);
        let map = HeaderMap::from_bytes(raw(&[(b"authorization", long.as_bytes())])).unwrap();
        assert_eq!(map.pairs(), [("authorization", long.as_str())]);
        assert_eq!(HeaderMap::from_bytes(Vec::new()).unwrap().pairs(), []);
        assert_eq!(HeaderMap::from_bytes(raw(&[])).unwrap().pairs(), []);
    }

    #[test]
    fn a_value_that_is_not_utf8_is_read_lossily_not_dropped() {
        let long = "x".repeat(300);
        let map = HeaderMap::from_bytes(raw(&[
            (b"x-name", b"caf\xe9"),
            (b"authorization", b"Bearer ab\xffc"),
            (b"x-long", long.as_bytes()),
            (b"x-after", b"ok"),
        ]))
        .unwrap();
        assert_eq!(
            map.pairs(),
            [
                ("x-name", "caf\u{fffd}"),
                ("authorization", "Bearer ab\u{fffd}c"),
                ("x-long", long.as_str()),
                ("x-after", "ok"),
            ]
        );
        assert_eq!(map.lossy(), ["x-name", "authorization"]);
    }

    #[test]
    fn bytes_that_are_no_map_are_refused() {
        let good = raw(&[(b"a", b"b")]);
        for bad in [
            good[..good.len() - 1].to_vec(),
            good[..3].to_vec(),
            {
                let mut b = good.clone();
                b[0] = 2;
                b
            },
            {
                let mut b = good.clone();
                *b.last_mut().unwrap() = b'x';
                b
            },
            {
                let mut b = good.clone();
                b[4] = 0xff;
                b
            },
        ] {
            assert_eq!(HeaderMap::from_bytes(bad.clone()), None, "{bad:?}");
        }
    }
}
