//! Strict JSON (RFC 8259), hand-written: the JOSE header, the claims and the key sets are
//! parsed here. Written rather than taken from serde_json because it must refuse duplicate
//! member names at every depth (two parsers keeping different duplicates see different claims)
//! and bound depth and big-number work, and because serde_json's deserializer with a
//! duplicate-refusing visitor costs about 15 KB gzipped in the npm package's wasm for the same
//! speed. What holds it: `tests::agrees_with_serde_json` (generated documents, valid and
//! broken, against serde_json), the `json` fuzz target (`cargo xtask fuzz json`) and its seeds
//! in `tests/fuzz.rs`.
//!
//! Two ways in. The scanner ([`json_members`], [`json_document`]) checks a whole document and
//! builds nothing: the core reads the key set, the options, the claims it checks, the header
//! and the discovery document through its [`Json`] reader, for both front doors, so the npm
//! package's wasm carries no `serde_json::Value` code. [`json_value`] builds a `Value`, for
//! the Rust API's maps (`Claims`, `Header::members`, `claims_unverified`) and the Envoy
//! filter's configuration and forwarded claims. `tests::the_document_reader_agrees_with_the_full_parser`
//! and `tests::same_is_values_equality` hold the two to the same verdicts and values.

use crate::prelude::*;

use serde_json::{Map, Number, Value};

/// Correctly rounded decimal to f64, for the numbers [`clinger`] leaves. In the npm package's
/// wasm the JS engine's `Number`, whose value is the one `JSON.parse` gives the app (V8,
/// SpiderMonkey and JavaScriptCore round correctly, as serde_json and the Rust conversion do):
/// the Rust one was 0.85 KB gzipped of either wasm. Elsewhere (the Envoy filter, the Rust API)
/// the Rust one. Numbers that take it are counted and bounded alike either way.
#[cfg(not(all(feature = "web-client", target_arch = "wasm32")))]
use super::decimal::exact;
#[cfg(all(feature = "web-client", target_arch = "wasm32"))]
use crate::web::exact;

/// Why bytes are not strict JSON of the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON (RFC 8259), trailing data, invalid UTF-8, a lone surrogate, a number out of
    /// range, or nesting deeper than [`MAX_DEPTH`].
    Syntax,
    /// JSON, but not an object at the top.
    NotAnObject,
    /// A member name appears twice in one object, at any depth.
    DuplicateMember,
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "not strict JSON (RFC 8259) or nested too deeply",
            JsonError::NotAnObject => "not a JSON object",
            JsonError::DuplicateMember => "a member name appears twice",
        })
    }
}

/// How many numbers in one document may need the exact (big-number) conversion.
pub(crate) const MAX_SLOW_NUMBERS: usize = 32;

/// How deeply arrays and objects may nest: bounds the parser's recursion.
pub(crate) const MAX_DEPTH: usize = 128;

/// Parses a JSON object, refusing duplicate member names at every depth: two parsers that keep
/// different duplicates see different claims, which is how signature-wrapping attacks start.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match json_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// A member [`json_members`] was asked for, as far as its callers read one: a number (as
/// `serde_json::Number::as_f64` gives it), a string, `true`, or any other value. A string's
/// text is not kept: the header's rules ask only whether `alg` and `kid` are strings, and
/// copying them out was a tenth of `decode`'s scan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Member {
    Number(f64),
    String,
    True,
    Other,
}

impl Member {
    /// The member as [`json_members`] reads it, from a value the full parser built.
    #[cfg(test)]
    pub(crate) fn of(value: &Value) -> Member {
        match value {
            Value::Number(n) => n.as_f64().map_or(Member::Other, Member::Number),
            Value::String(_) => Member::String,
            Value::Bool(true) => Member::True,
            _ => Member::Other,
        }
    }
}

/// The top-level members `names` of a strict JSON object, and how many members it has: the
/// same verdict as [`json_object`] on every input, without building any value but those.
///
/// `expiresIn` runs before every request a client makes, and building a map of every claim to
/// read one number was most of its cost; `jwtgate/client` then needs no value tree at all.
/// This walks the same grammar, with the same limits, and finds duplicate names where the
/// full parser does (after the repeated member's value), on the names as decoded.
pub(crate) fn json_members<const N: usize>(
    bytes: &[u8],
    names: [&str; N],
) -> Result<([Option<Member>; N], usize), JsonError> {
    let mut found = [const { None }; N];
    members_into(bytes, &names, &mut found).map(|count| (found, count))
}

/// [`json_members`] for any number of names: one copy in the wasm, not one per caller.
fn members_into(
    bytes: &[u8],
    names: &[&str],
    found: &mut [Option<Member>],
) -> Result<usize, JsonError> {
    let mut p = Parser::new(bytes);
    let count = match p.peek() {
        Some(b'{') => p.skip_object(1, Some((names, found)))?,
        _ => {
            // JSON of another shape is NotAnObject, after the full parser's checks.
            p.skip(0)?;
            p.end()?;
            return Err(JsonError::NotAnObject);
        }
    };
    p.end().map(|()| count)
}

/// A strict JSON object, checked whole by the scanner (the same verdict as [`json_object`]),
/// whose values are read where a caller asks for them: the key set, the options, the claims
/// and the discovery document are read this way, and no value tree is built. The npm package's
/// wasm then carries no `serde_json::Value` code: the builder, the B-trees and `Value`'s
/// equality, less the readers here, were 1.33 KB gzipped of the whole browser entry.
pub(crate) fn json_document(bytes: &[u8]) -> Result<Json<'_>, JsonError> {
    members_into(bytes, &[], &mut []).map(|_| Json(bytes))
}

/// A value of a document the scanner has checked (see [`json_document`]): its text, from its
/// first byte (blanks before it allowed) to its end. Reading it again cannot fail: every
/// reader here answers `None` for a value of another kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Json<'a>(&'a [u8]);

impl<'a> Json<'a> {
    /// A document [`json_members`] has accepted, read without a second check.
    pub(crate) fn scanned(bytes: &'a [u8]) -> Json<'a> {
        Json(bytes)
    }

    /// The value's JSON text.
    pub(crate) fn text(self) -> &'a [u8] {
        self.0
    }

    /// A parser at the value's first byte, and that byte.
    fn start(self) -> (Parser<'a>, u8) {
        let p = Parser::new(self.0);
        let first = p.peek().unwrap_or_default();
        (p, first)
    }

    /// Each member of an object (its name decoded) or item of an array (the name empty), in
    /// document order, until `f` answers false; false if this is neither, or if its text is
    /// not JSON after all (a reader then answers `None`: never a list cut short).
    /// One copy in the wasm, not one per reader: `f` is called through a pointer.
    #[inline(never)]
    fn entries(self, f: &mut dyn FnMut(&[u8], Json<'a>) -> bool) -> bool {
        let (mut p, first) = self.start();
        let close = match first {
            b'{' => b'}',
            b'[' => b']',
            _ => return false,
        };
        match p.open(0, close) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(_) => return false,
        }
        let mut name = Vec::new();
        loop {
            name.clear();
            if close == b'}' {
                // Checked by the scanner: the name, blanks, `:`, blanks.
                if p.walk_string(Some(&mut name)).is_err() {
                    return false;
                }
                p.ws();
                p.i += 1;
                p.ws();
            }
            let from = p.i;
            // Passed over, not checked again: the scanner checked the whole document once,
            // and a check per read repeated its duplicate search on every nested object for
            // every member looked up.
            if p.pass().is_err() {
                return false;
            }
            let value = Json(p.b.get(from..p.i).unwrap_or_default());
            if !f(&name, value) {
                return true;
            }
            match p.next(close) {
                Ok(true) => {}
                Ok(false) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The member `name` of an object; `None` for another kind.
    pub(crate) fn get(self, name: &str) -> Option<Json<'a>> {
        let mut found = None;
        if self.start().1 == b'{' {
            self.entries(&mut |n, v| {
                if n == name.as_bytes() {
                    found = Some(v);
                }
                found.is_none()
            });
        }
        found
    }

    /// Every member of an object, its name decoded, in document order; `None` for another kind.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn members(self) -> Option<Vec<(String, Json<'a>)>> {
        let mut out = Vec::new();
        let object = self.is_object()
            && self.entries(&mut |n, v| {
                // UTF-8 checked by the scanner: never the default.
                out.push((String::from_utf8(n.to_vec()).unwrap_or_default(), v));
                true
            });
        object.then_some(out)
    }

    /// The items of an array; `None` for another kind.
    pub(crate) fn items(self) -> Option<Vec<Json<'a>>> {
        let mut out = Vec::new();
        let array = self.start().1 == b'['
            && self.entries(&mut |_, v| {
                out.push(v);
                true
            });
        array.then_some(out)
    }

    /// The text of a string, unescaped; `None` for another kind.
    pub(crate) fn str(self) -> Option<String> {
        let (mut p, first) = self.start();
        (first == b'"').then(|| p.string().ok()).flatten()
    }

    /// A number as the full parser builds it; `None` for another kind.
    pub(crate) fn number(self) -> Option<Number> {
        let (mut p, first) = self.start();
        matches!(first, b'-' | b'0'..=b'9')
            .then(|| p.number().ok())
            .flatten()
    }

    /// `true` or `false`; `None` for another kind.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn bool(self) -> Option<bool> {
        match self.start().1 {
            b't' => Some(true),
            b'f' => Some(false),
            _ => None,
        }
    }

    pub(crate) fn is_null(self) -> bool {
        self.start().1 == b'n'
    }

    pub(crate) fn is_object(self) -> bool {
        self.start().1 == b'{'
    }

    /// How many members an object has; `None` for another kind.
    pub(crate) fn object_len(self) -> Option<usize> {
        let mut n = 0;
        let object = self.is_object()
            && self.entries(&mut |_, _| {
                n += 1;
                true
            });
        object.then_some(n)
    }
}

/// Whether `have` equals `want` as `serde_json::Value`'s `==` has it for the values the full
/// parser builds (a number equal in kind and value, 1 and 1.0 apart, as `Number`'s `==`; an
/// object's members in any order), without building either.
/// Decided by `want`'s kind, and false whenever either text cannot be read as that kind: a
/// value that cannot be read is never equal to one.
pub(crate) fn same(have: Json<'_>, want: Json<'_>) -> bool {
    match want.start().1 {
        b'-' | b'0'..=b'9' => want.number().is_some_and(|w| have.number() == Some(w)),
        b'"' => want.str().is_some_and(|w| have.str() == Some(w)),
        b'[' => match (have.items(), want.items()) {
            (Some(h), Some(w)) => h.len() == w.len() && h.iter().zip(&w).all(|(h, w)| same(*h, *w)),
            _ => false,
        },
        b'{' => want.members().is_some_and(|w| {
            // Names are unique in both: as many members, each found, is the same set.
            have.object_len() == Some(w.len())
                && w.iter()
                    .all(|(name, w)| have.get(name).is_some_and(|h| same(h, *w)))
        }),
        // `null`, `true` or `false`: the same literal.
        first @ (b't' | b'f' | b'n') => have.start().1 == first,
        _ => false,
    }
}

/// A member name the scanner keeps: a span of the document, or of its decoded names when the
/// name has escapes.
#[derive(Clone, Copy)]
struct Name {
    /// The name's FNV-1a hash: finding a repeat compares bytes only for names that hash alike
    /// (comparing bytes was a third of a token's parse).
    hash: u32,
    decoded: bool,
    start: usize,
    end: usize,
}

/// How many names of an object are compared with each other as they come; past them,
/// repeats are found by one sort (see `Parser::repeats`).
const FEW: usize = 32;

/// Sorts `v` by `less`, in place, in at most about 2 n log2 n comparisons. Read and written
/// through `get`: no bounds check is left to panic (the npm package's wasm carries no panic
/// formatting for one). `less` is called through a pointer: one copy of it in the wasm.
fn heap_sort<T: Copy>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    let n = v.len();
    for root in (0..n / 2).rev() {
        sift(v, root, n, less);
    }
    for end in (1..n).rev() {
        if let Some((first, rest)) = v.split_first_mut() {
            if let Some(last) = rest.get_mut(end - 1) {
                core::mem::swap(first, last);
            }
        }
        sift(v, 0, end, less);
    }
}

/// Moves the item at `root` down the heap of the first `end` items of `v`.
#[inline(never)]
fn sift<T: Copy>(v: &mut [T], mut root: usize, end: usize, less: &dyn Fn(&T, &T) -> bool) {
    let v = v.get_mut(..end).unwrap_or_default();
    while let Some(&top) = v.get(root) {
        let mut child = 2 * root + 1;
        let Some(&mut mut big) = v.get_mut(child) else {
            return;
        };
        if let Some(&right) = v.get(child + 1) {
            if less(&big, &right) {
                (child, big) = (child + 1, right);
            }
        }
        if !less(&top, &big) {
            return;
        }
        if let Some(at) = v.get_mut(root) {
            *at = big;
        }
        if let Some(at) = v.get_mut(child) {
            *at = top;
        }
        root = child;
    }
}

/// FNV-1a, 32 bits: cheap on short names; an order, not a defence (equal hashes compare
/// their bytes).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Parses strict JSON of any shape into a `serde_json::Value`.
///
/// A parser of our own rather than serde_json's: it enforces duplicates and depth where they
/// occur, and it leaves serde's deserializer and float printing out of the npm package's wasm.
/// `tests::agrees_with_serde_json` holds it to serde_json on generated documents.
pub(crate) fn json_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut p = Parser::new(bytes);
    let v = p.value(0)?;
    p.end().map(|()| v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    /// Numbers that needed the exact, slow conversion so far.
    slow: usize,
    /// The scanner's member names of every object open now, each object's in document order.
    names: Vec<Name>,
    /// Names with escapes, decoded, for the scanner to compare.
    decoded: Vec<u8>,
}

use JsonError::Syntax;

impl<'a> Parser<'a> {
    /// A parser at the first non-blank byte of `b`.
    fn new(b: &'a [u8]) -> Parser<'a> {
        let mut p = Parser {
            b,
            i: 0,
            slow: 0,
            names: Vec::new(),
            decoded: Vec::new(),
        };
        p.ws();
        p
    }

    /// After the document's value: nothing but blanks may follow.
    fn end(&mut self) -> Result<(), JsonError> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek().ok_or(Syntax)? {
            b'{' => self.object(depth + 1).map(Value::Object),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true").map(|()| Value::Bool(true)),
            b'f' => self.literal("false").map(|()| Value::Bool(false)),
            b'n' => self.literal("null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => Err(Syntax),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    /// Enters an object or array at `depth`, refusing one nested too deeply; true if it closes
    /// at once (empty).
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, JsonError> {
        if depth > MAX_DEPTH {
            return Err(Syntax);
        }
        self.i += 1;
        self.ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.i += 1;
        }
        Ok(empty)
    }

    /// After a value inside a container: `,` to go on, or the closing byte to stop.
    fn next(&mut self, close: u8) -> Result<bool, JsonError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Syntax),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Map<String, Value>, JsonError> {
        let mut map = Map::new();
        if self.open(depth, b'}')? {
            return Ok(map);
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Syntax);
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(Syntax);
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth)?;
            if map.insert(key, v).is_some() {
                return Err(JsonError::DuplicateMember);
            }
            if !self.next(b'}')? {
                return Ok(map);
            }
        }
    }

    /// Checks a value without building it.
    fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek().ok_or(Syntax)? {
            b'{' => self.skip_object(depth + 1, None).map(drop),
            b'[' => {
                if self.open(depth + 1, b']')? {
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.next(b']')? {
                        return Ok(());
                    }
                }
            }
            b'"' => self.walk_string(None).map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => Err(Syntax),
        }
    }

    /// Passes over a value of text already checked (a document the scanner accepted, or
    /// serde_json's output), in one linear walk and without its checks: no depth limit, no
    /// duplicate search, no number conversion. Text that is not JSON gives an error or some
    /// wrong span, never a panic or a loop.
    fn pass(&mut self) -> Result<(), JsonError> {
        let mut depth = 0usize;
        loop {
            match self.peek().ok_or(Syntax)? {
                b'"' => {
                    self.i += 1;
                    loop {
                        match self.peek().ok_or(Syntax)? {
                            b'"' => break,
                            b'\\' => self.i += 2,
                            _ => self.i += 1,
                        }
                    }
                    self.i += 1;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1).ok_or(Syntax)?;
                    self.i += 1;
                }
                b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth > 0 => self.i += 1,
                _ => {
                    // A number or a literal: up to the byte that ends it.
                    let from = self.i;
                    while self.peek().is_some_and(|c| {
                        !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':')
                    }) {
                        self.i += 1;
                    }
                    if self.i == from {
                        return Err(Syntax);
                    }
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// A member [`json_members`] wants, checked as [`Parser::value`] checks it.
    fn member(&mut self, depth: usize) -> Result<Member, JsonError> {
        Ok(match self.peek().ok_or(Syntax)? {
            b'"' => self.walk_string(None).map(|_| Member::String)?,
            b't' => self.literal("true").map(|()| Member::True)?,
            b'-' | b'0'..=b'9' => self
                .number()?
                .as_f64()
                .map_or(Member::Other, Member::Number),
            _ => self.skip(depth).map(|()| Member::Other)?,
        })
    }

    /// Whether name `a` sorts before `b`, by their bytes.
    #[inline(never)]
    fn before(&self, a: Name, b: Name) -> bool {
        self.name(a) < self.name(b)
    }

    fn name(&self, n: Name) -> &[u8] {
        let from = if n.decoded { &self.decoded } else { self.b };
        from.get(n.start..n.end).unwrap_or_default()
    }

    /// Checks an object without building it, keeping the members `want` names; returns how
    /// many members it has. Duplicates are found where [`Parser::object`] finds them: after
    /// the repeated member's value.
    fn skip_object(
        &mut self,
        depth: usize,
        mut want: Option<(&[&str], &mut [Option<Member>])>,
    ) -> Result<usize, JsonError> {
        if self.open(depth, b'}')? {
            return Ok(0);
        }
        let base = self.names.len();
        // Room for a token's usual claims at once, not regrown from four.
        self.names.reserve(16);
        let walked = self.members(depth, base, &mut want);
        // Past `FEW` names, repeats are looked for here, once, in the names whose values were
        // read: a repeat among them came before anything that failed after them.
        let result = match walked {
            Err(JsonError::DuplicateMember) => walked,
            _ if self.names.len() - base > FEW && self.repeats(base) => {
                Err(JsonError::DuplicateMember)
            }
            _ => walked,
        };
        self.names.truncate(base);
        result
    }

    /// [`Parser::skip_object`]'s members, from the first name to the closing brace; their
    /// names pushed on `names` after `base` as their values are read.
    fn members(
        &mut self,
        depth: usize,
        base: usize,
        want: &mut Option<(&[&str], &mut [Option<Member>])>,
    ) -> Result<usize, JsonError> {
        loop {
            if self.peek() != Some(b'"') {
                return Err(Syntax);
            }
            let start = self.i;
            let name = if self.walk_string(None)? {
                self.i = start;
                let mut out = core::mem::take(&mut self.decoded);
                let from = out.len();
                self.walk_string(Some(&mut out))?;
                let end = out.len();
                self.decoded = out;
                Name {
                    hash: 0,
                    decoded: true,
                    start: from,
                    end,
                }
            } else {
                Name {
                    hash: 0,
                    decoded: false,
                    start: start + 1,
                    end: self.i - 1,
                }
            };
            let name = Name {
                hash: fnv1a(self.name(name)),
                ..name
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(Syntax);
            }
            self.i += 1;
            self.ws();
            let k = want
                .as_ref()
                .and_then(|(names, _)| names.iter().position(|n| n.as_bytes() == self.name(name)));
            match (k, want.as_mut()) {
                (Some(k), Some((_, found))) => {
                    let member = self.member(depth)?;
                    if let Some(slot) = found.get_mut(k) {
                        *slot = Some(member);
                    }
                }
                _ => self.skip(depth)?,
            }
            // A repeat among an object's first `FEW` names is found by comparing hashes, in
            // the order the names came: a token's objects have a handful of members, where
            // keeping them sorted (a binary search and the names after moved up a place) cost
            // decode 100 ns. Past them, comparing each name with all before it would be
            // quadratic in what a sender controls (a 16 KiB header of 1,700 names took 3 ms in
            // wasm where building its map took 0.3), and equal hashes are cheap to make: the
            // rest wait for one sort (`repeats`) when the object ends or fails.
            // Read through `get`: no bounds check is left to panic, so the npm package's wasm
            // carries no panic formatting for one.
            let open = self.names.get(base..).unwrap_or_default();
            if open.len() < FEW
                && open
                    .iter()
                    .any(|&n| n.hash == name.hash && self.name(n) == self.name(name))
            {
                return Err(JsonError::DuplicateMember);
            }
            self.names.push(name);
            if !self.next(b'}')? {
                return Ok(self.names.len() - base);
            }
        }
    }

    /// Whether two of the names after `base` are the same: sorted by their bytes (a heap
    /// sort: n log n comparisons whatever the names, no randomness, and a few hundred bytes
    /// where core's sorts are kilobytes), then compared side by side.
    #[inline(never)]
    fn repeats(&mut self, base: usize) -> bool {
        let mut names = core::mem::take(&mut self.names);
        let found = match names.get_mut(base..) {
            Some(open) => {
                heap_sort(open, &|a, b| self.before(*a, *b));
                open.windows(2)
                    .any(|w| matches!(w, [a, b] if self.name(*a) == self.name(*b)))
            }
            None => false,
        };
        self.names = names;
        found
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        if self.open(depth, b']')? {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            if !self.next(b']')? {
                return Ok(Value::Array(items));
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let mut out = Vec::new();
        self.walk_string(Some(&mut out))?;
        // Escapes add only whole characters, so this checks the raw runs.
        String::from_utf8(out).map_err(|_| Syntax)
    }

    /// Checks a string, decoding it into `out` when given (the caller then checks its UTF-8);
    /// true if it has escapes.
    fn walk_string(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<bool, JsonError> {
        self.i += 1;
        let mut escaped = false;
        loop {
            let start = self.i;
            // Whether any byte of the run is not ASCII: most runs are, and need no UTF-8 check.
            let mut high = 0;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                high |= c;
                self.i += 1;
            }
            let run = self.b.get(start..self.i).unwrap_or_default();
            match out.as_deref_mut() {
                Some(out) => out.extend_from_slice(run),
                // A run ends at ASCII, so no character spans two runs.
                None if high >= 0x80 => {
                    core::str::from_utf8(run).map_err(|_| Syntax)?;
                }
                None => {}
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    self.i += 1;
                    escaped = true;
                    let c = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                }
                // A raw control character, or the end of input.
                _ => return Err(Syntax),
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let c = self.peek().ok_or(Syntax)?;
        self.i += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    // A high surrogate must be followed by a low one: no lone halves.
                    0xD800..=0xDBFF => {
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(Syntax);
                        }
                        self.i += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Syntax);
                        }
                        0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(Syntax),
                    _ => first,
                };
                char::from_u32(code).ok_or(Syntax)?
            }
            _ => return Err(Syntax),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.b.get(self.i..self.i + 4).ok_or(Syntax)?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16).ok_or(Syntax)?;
        }
        self.i += 4;
        Ok(v)
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        if self.i == start {
            Err(Syntax)
        } else {
            Ok(())
        }
    }

    fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(Syntax),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.i += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digits()?;
        }
        let text = self.b.get(start..self.i).unwrap_or_default();
        if integer {
            // As serde_json: integers that fit are exact; -0 and the rest become floats. Read
            // here rather than by `str::parse`, whose general code (signs, radixes) was bytes
            // in every npm wasm; from the bytes, with no UTF-8 check of the text.
            let digits = text.strip_prefix(b"-");
            // Overflow found by a comparison: `checked_mul` is a 128-bit multiplication, in wasm
            // a call, and was a sixth of a token's parse.
            let magnitude = digits.unwrap_or(text).iter().try_fold(0u64, |n, &c| {
                (n <= u64::MAX / 10)
                    .then(|| n * 10)?
                    .checked_add(u64::from(c - b'0'))
            });
            match (magnitude, digits.is_some()) {
                (Some(u), false) => return Ok(u.into()),
                (Some(u), true) if u != 0 && u <= 1 << 63 => {
                    return Ok((u as i64).wrapping_neg().into())
                }
                _ => {}
            }
        }
        // ASCII by construction.
        let text = core::str::from_utf8(text).map_err(|_| Syntax)?;
        let f = match clinger(text) {
            Some(f) => f,
            None => {
                // The exact path does big-number arithmetic (or calls the host). Headers are
                // parsed before the signature is checked, so an attacker must not be able to
                // fill 16 KiB with numbers that each take it: no real token has more than a few.
                self.slow += 1;
                if self.slow > MAX_SLOW_NUMBERS {
                    return Err(Syntax);
                }
                exact(text)
            }
        };
        // Out of range (1e400) is an error, never infinity.
        Number::from_f64(f).ok_or(Syntax)
    }
}

/// Whether any of the eight bytes of `word` is `byte`. Exact: a borrow starts only at a byte
/// that matches, so no other byte is flagged unless one does.
pub(crate) fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = u64::MAX / 255;
    let v = word ^ (ONES * u64::from(byte));
    v.wrapping_sub(ONES) & !v & (ONES * 0x80) != 0
}

/// Powers of ten an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path for a JSON number already checked by the grammar: when the decimal
/// significand `m` is at most 2^53 and the power of ten `e` at most 22 in magnitude, both are
/// exact f64s and one IEEE multiplication or division rounds correctly, so `m * 10^e` is the
/// correctly rounded value, as `str::parse` would give. `None` outside that.
fn clinger(text: &str) -> Option<f64> {
    const MAX: u64 = 1 << 53;
    let b = text.as_bytes();
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut m: u64 = 0;
    let mut e: i64 = 0;
    let mut fraction = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                // No overflow: m was at most 2^53.
                m = m * 10 + u64::from(c - b'0');
                if m > MAX {
                    return None;
                }
                e -= i64::from(fraction);
            }
            b'.' => fraction = true,
            _ => break,
        }
        i += 1;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let minus = b.get(i) == Some(&b'-');
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let mut x: i64 = 0;
        for &c in b.get(i..).unwrap_or_default() {
            // Saturates far beyond any exponent the fast path takes.
            x = (x * 10 + i64::from(c - b'0')).min(100_000);
        }
        e += if minus { -x } else { x };
    }
    // Powers read through `get`: no bounds check left to panic (see `skip_object`).
    let pow10 = |e: i64| usize::try_from(e).ok().and_then(|e| POW10.get(e));
    let f = if m == 0 {
        0.0
    } else if let Some(p) = pow10(e) {
        m as f64 * p
    } else if let Some(p) = pow10(-e) {
        m as f64 / p
    } else if let Some(p) = pow10(e - 22) {
        // Shift the excess power into the significand while it stays exact: the product is
        // exact up to 2^53, and past it never rounds down to 2^53 (a multiple of ten is not
        // 2^53 + 1), so the comparison is the exact one. In floats: an integer power and
        // `MAX / p` had linked a loop and a division-by-zero panic.
        let m = m as f64 * p;
        if m > MAX as f64 {
            return None;
        }
        m * 1e22
    } else {
        return None;
    };
    Some(if negative { -f } else { f })
}

/// Appends `s` as a JSON string.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_json_reads_them() {
        for text in [
            "",
            "plain",
            "q\"b\\s/",
            "\u{0}\n\t\u{1f}\u{7f}",
            "é€😀\"\u{1}é",
            "\\",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text, "{out}");
            assert!(!out[1..out.len() - 1].bytes().any(|b| b < 0x20));
        }
    }

    #[test]
    fn json_duplicates_refused_at_any_depth() {
        assert!(json_object(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"a":1,"\u0061":2}"#,
        ] {
            assert_eq!(json_object(bad), Err(JsonError::DuplicateMember));
        }
    }

    /// A small deterministic generator of JSON texts, valid and broken (and of plain numbers
    /// for the other modules' tests).
    pub(crate) struct Gen(pub(crate) u64);

    impl Gen {
        pub(crate) fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
            options[(self.next() % options.len() as u64) as usize]
        }

        fn ws(&mut self) -> &'static str {
            self.pick(&["", "", " ", "\n", "\t", "\r\n  "])
        }

        pub(crate) fn value(&mut self, depth: u32) -> String {
            let kind = self.next() % if depth > 5 { 4 } else { 6 };
            match kind {
                0 => self.pick(&["true", "false", "null"]).to_owned(),
                1 => self.number(),
                2 | 3 => self.string(),
                4 => {
                    let n = self.next() % 4;
                    let items: Vec<String> = (0..n)
                        .map(|_| format!("{}{}{}", self.ws(), self.value(depth + 1), self.ws()))
                        .collect();
                    format!("[{}]", items.join(","))
                }
                _ => {
                    let n = self.next() % 4;
                    let members: Vec<String> = (0..n)
                        .map(|i| {
                            format!(
                                "{}\"k{i}{}\"{}:{}{}",
                                self.ws(),
                                self.pick(&["", "x", "\\u00e9"]),
                                self.ws(),
                                self.ws(),
                                self.value(depth + 1)
                            )
                        })
                        .collect();
                    format!("{{{}}}", members.join(","))
                }
            }
        }

        fn number(&mut self) -> String {
            self.pick(&[
                "0",
                "-0",
                "1",
                "-1",
                "42",
                "1800000000",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775808",
                "-9223372036854775809",
                "0.5",
                "-0.0",
                "1e3",
                "1E-3",
                "2.5e+10",
                "1e308",
                "1e400",
                "-1e400",
                "0.1",
                "3.141592653589793",
                "1.7976931348623157e308",
                "5e-324",
                "01",
                "1.",
                ".5",
                "+1",
                "1e",
                "0x10",
                "-",
                "1.5e",
                "123456789012345678901234567890",
            ])
            .to_owned()
        }

        fn string(&mut self) -> String {
            let n = self.next() % 5;
            let parts: Vec<&str> = (0..n)
                .map(|_| {
                    self.pick(&[
                        "a",
                        "é",
                        "😀",
                        "\\n",
                        "\\\"",
                        "\\\\",
                        "\\/",
                        "\\u0041",
                        "\\u00e9",
                        "\\ud83d\\ude00",
                        "\\ud83d",
                        "\\ude00",
                        "\\u12",
                        "\\x",
                        "\t",
                        "\u{1}",
                        " ",
                        "\\b\\f\\r\\t",
                    ])
                })
                .collect();
            format!("\"{}\"", parts.concat())
        }

        /// The text with one byte deleted, inserted or replaced, sometimes.
        pub(crate) fn mutate(&mut self, text: String) -> Vec<u8> {
            let mut bytes = text.into_bytes();
            if bytes.is_empty() || self.next() % 3 == 0 {
                return bytes;
            }
            let at = (self.next() % bytes.len() as u64) as usize;
            let byte = *b"{}[]\",:0-.e\\ \xff\x80tfnu"
                .get((self.next() % 17) as usize)
                .unwrap();
            match self.next() % 3 {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, byte),
                _ => bytes[at] = byte,
            }
            bytes
        }
    }

    #[test]
    fn agrees_with_serde_json() {
        let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let text = gen.value(0);
            let bytes = gen.mutate(text);
            let reference = serde_json::from_slice::<Value>(&bytes);
            let ours = json_value(&bytes);
            match (&reference, &ours) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{}", String::from_utf8_lossy(&bytes));
                    accepted += 1;
                }
                // serde_json keeps one of two duplicates; refusing them is the point.
                (Ok(_), Err(JsonError::DuplicateMember)) => {}
                (Err(_), Err(_)) => refused += 1,
                _ => panic!(
                    "{}: serde_json {reference:?}, ours {ours:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        }
        // Both kinds are well represented, so the comparison means something.
        assert!(
            accepted > 5_000 && refused > 5_000,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn members_agree_with_the_full_parser() {
        let mut gen = Gen(0x2545_f491_4f6c_dd1d);
        let (mut found, mut absent, mut duplicates, mut refused) = (0, 0, 0, 0);
        for round in 0..30_000 {
            let text = if round % 4 == 0 {
                gen.value(0)
            } else {
                // Claim-like objects: repeated names, escaped names, objects past the scan's
                // member limit, and `exp` of every type.
                let n = match gen.next() % 8 {
                    0 => 30 + gen.next() % 8,
                    _ => gen.next() % 6,
                };
                let members: Vec<String> = (0..n)
                    .map(|i| {
                        let name = gen.pick(&["exp", "iat", "sub", "\\u0065xp", "a", "b", "e"]);
                        let name = if n > 8 && name != "exp" {
                            format!("{name}{i}")
                        } else {
                            name.to_owned()
                        };
                        let value = match gen.next() % 4 {
                            0 => gen.number(),
                            1 => gen.value(1),
                            _ => gen
                                .pick(&["1800000000", "1.5", "\"x\"", "null", "{}"])
                                .to_owned(),
                        };
                        format!("{}\"{name}\"{}:{}{value}", gen.ws(), gen.ws(), gen.ws())
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            };
            let bytes = gen.mutate(text);
            let ours = json_members(&bytes, ["exp", "iat"]);
            let full = json_object(&bytes)
                .map(|m| (["exp", "iat"].map(|n| m.get(n).map(Member::of)), m.len()));
            assert_eq!(ours, full, "{}", String::from_utf8_lossy(&bytes));
            match ours {
                Ok(([Some(_), _], _)) => found += 1,
                Ok(_) => absent += 1,
                Err(JsonError::DuplicateMember) => duplicates += 1,
                Err(_) => refused += 1,
            }
        }
        let counts = [found, absent, duplicates, refused];
        assert!(counts.iter().all(|&n| n > 1_000), "{counts:?}");
    }

    /// Every reader of [`Json`] against the value the full parser builds for the same text.
    fn agree(j: Json<'_>, v: &Value, text: &[u8]) {
        let at = || String::from_utf8_lossy(text).into_owned();
        assert_eq!(j.str().as_deref(), v.as_str(), "{}", at());
        assert_eq!(j.number().as_ref(), v.as_number(), "{}", at());
        assert_eq!(j.bool(), v.as_bool(), "{}", at());
        assert_eq!(j.is_null(), v.is_null(), "{}", at());
        assert_eq!(j.is_object(), v.is_object(), "{}", at());
        assert_eq!(j.object_len(), v.as_object().map(Map::len), "{}", at());
        match (j.items(), v.as_array()) {
            (Some(js), Some(vs)) => {
                assert_eq!(js.len(), vs.len(), "{}", at());
                js.iter().zip(vs).for_each(|(j, v)| agree(*j, v, text));
            }
            (js, vs) => assert_eq!(js.is_some(), vs.is_some(), "{}", at()),
        }
        match (j.members(), v.as_object()) {
            (Some(js), Some(vs)) => {
                assert_eq!(js.len(), vs.len(), "{}", at());
                for (name, member) in js {
                    let value = vs.get(&name).expect("a member the map has");
                    agree(member, value, text);
                    agree(j.get(&name).expect("found by name"), value, text);
                }
                assert!(j.get("\u{0}absent").is_none());
            }
            (js, vs) => assert_eq!(js.is_some(), vs.is_some(), "{}", at()),
        }
        // `get` reads objects only: an array's items have no names.
        if !v.is_object() {
            assert!(j.get("").is_none(), "{}", at());
        }
    }

    #[test]
    fn the_document_reader_agrees_with_the_full_parser() {
        let mut gen = Gen(0x51_7cc1_b727_220a);
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..30_000 {
            let text = match round % 3 {
                0 => format!("{{\"a\":{},\"b\":{}}}", gen.value(1), gen.value(1)),
                1 => format!(
                    "{{\"a\":{},\"b\":{}}}",
                    small_value(&mut gen, 0),
                    gen.value(3)
                ),
                _ => gen.value(0),
            };
            let bytes = match round % 4 {
                0 => text.into_bytes(),
                _ => gen.mutate(text),
            };
            let ours = json_document(&bytes);
            match (json_object(&bytes), ours) {
                (Ok(map), Ok(doc)) => {
                    agree(doc, &Value::Object(map), &bytes);
                    accepted += 1;
                }
                (Err(theirs), Err(ours)) => {
                    assert_eq!(theirs, ours, "{}", String::from_utf8_lossy(&bytes));
                    refused += 1;
                }
                (theirs, ours) => panic!(
                    "{}: full {theirs:?}, scanner {ours:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        }
        assert!(
            accepted > 5_000 && refused > 5_000,
            "{accepted} accepted, {refused} refused"
        );
    }

    /// Values from a small vocabulary, so that equal pairs are many: numbers equal or not by
    /// kind (1, 1.0, 1e0, -0, -0.0), strings equal once unescaped, objects in another order.
    pub(crate) fn small_value(gen: &mut Gen, depth: u32) -> String {
        match gen.next() % if depth > 2 { 3 } else { 5 } {
            0 => gen
                .pick(&[
                    "1",
                    "1.0",
                    "1e0",
                    "10e-1",
                    "-0",
                    "0",
                    "-0.0",
                    "0.0",
                    "2",
                    "-1",
                    "18446744073709551615",
                    "1.8446744073709552e19",
                    "null",
                    "true",
                    "false",
                ])
                .into(),
            1 | 2 => gen
                .pick(&[
                    "\"a\"",
                    "\"\\u0061\"",
                    "\"b\"",
                    "\"a b\"",
                    "\"\"",
                    "\"é\"",
                    "\"\\u00e9\"",
                ])
                .into(),
            3 => {
                let n = gen.next() % 3;
                let items: Vec<String> = (0..n).map(|_| small_value(gen, depth + 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let mut names = vec!["a", "b", "\\u0062", "c"];
                names.truncate((gen.next() % 4) as usize);
                if gen.next() % 2 == 0 {
                    names.reverse();
                }
                // "b" and its escape are one name: not both.
                names.retain(|n| *n != "\\u0062" || gen.next() % 2 == 0);
                let members: Vec<String> = names
                    .iter()
                    .filter(|n| **n != "b" || !names.contains(&"\\u0062"))
                    .map(|n| format!("\"{n}\":{}", small_value(gen, depth + 1)))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }

    #[test]
    fn same_is_values_equality() {
        let mut gen = Gen(0x0ddc_0ffe_e0dd_f00d);
        let pool: Vec<String> = (0..400).map(|_| small_value(&mut gen, 0)).collect();
        let (mut equal, mut unequal) = (0, 0);
        for a in &pool {
            for b in &pool {
                let (va, vb) = (json_value(a.as_bytes()), json_value(b.as_bytes()));
                let (va, vb) = (va.expect(a), vb.expect(b));
                let ours = same(Json(a.as_bytes()), Json(b.as_bytes()));
                assert_eq!(ours, va == vb, "{a} == {b}");
                if ours {
                    equal += 1;
                } else {
                    unequal += 1;
                }
            }
        }
        assert!(
            equal > 2_000 && unequal > 2_000,
            "{equal} equal, {unequal} not"
        );
    }

    #[test]
    fn slow_numbers_are_bounded_per_document() {
        let many = |number: &str, n: usize| format!("[{}]", vec![number; n].join(","));
        assert!(json_value(many("1e-310", MAX_SLOW_NUMBERS).as_bytes()).is_ok());
        assert_eq!(
            json_value(many("1e-310", MAX_SLOW_NUMBERS + 1).as_bytes()),
            Err(JsonError::Syntax)
        );
        // Numbers on the fast path are not counted.
        assert!(json_value(many("1.5e10", 2_000).as_bytes()).is_ok());
    }

    #[test]
    fn json_shape_and_depth() {
        assert_eq!(json_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(json_object(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(json_object(b"{\"a\":\"\\ud800\"}"), Err(JsonError::Syntax));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonError::Syntax));
    }

    #[test]
    fn the_scanner_decides_alone_escaped_names_and_many_members_included() {
        let members = |text: &str| json_members(text.as_bytes(), ["exp"]);
        // The same name escaped is the same name, in the object the scan reads and below it.
        for text in [
            r#"{"exp":1,"\u0065xp":2}"#,
            r#"{"a":{"\u0062":1,"b":2}}"#,
            r#"{"\ud83d\ude00":1,"😀":2}"#,
        ] {
            assert_eq!(members(text), Err(JsonError::DuplicateMember), "{text}");
        }
        assert_eq!(
            members(r#"{"\u0065xp":7,"e\u0078":1}"#),
            Ok(([Some(Member::Number(7.0))], 2))
        );
        // Far past any pairwise limit: a repeat at the end is found, a clean set is counted.
        let many: Vec<String> = (0..3000).map(|i| format!("\"m{i}\":{i}")).collect();
        let clean = format!("{{{},\"exp\":\"soon\"}}", many.join(","));
        assert_eq!(members(&clean), Ok(([Some(Member::String)], 3001)));
        let repeated = format!("{{{},\"m1500\":0}}", many.join(","));
        assert_eq!(members(&repeated), Err(JsonError::DuplicateMember));
        // Not an object: the full parser's verdicts, Syntax before shape.
        assert_eq!(members("[1]"), Err(JsonError::NotAnObject));
        assert_eq!(members("[1"), Err(JsonError::Syntax));
        assert_eq!(members("1e400"), Err(JsonError::Syntax));
        assert_eq!(members(r#"{"exp":1e400}"#), Err(JsonError::Syntax));
    }

    /// Past the names compared as they come, a repeat is still reported where the full parser
    /// reports it: after the repeated member's value, before anything later fails, and not
    /// when something failed first; at any depth.
    #[test]
    fn repeats_past_the_first_names_are_found_in_document_order() {
        let names = |from: usize, to: usize| -> Vec<String> {
            (from..to).map(|i| format!("\"n{i}\":{i}")).collect()
        };
        let first = names(0, 40).join(",");
        let cases = [
            format!("{{{first}}}"),
            format!("{{{first},\"n3\":0}}"),
            format!("{{{first},\"n39\":0}}"),
            format!("{{{first},\"n\\u0033\":0}}"),
            format!("{{{first},\"x\":1,\"x\":2}}"),
            // A repeat, then a failure: the repeat came first.
            format!("{{{first},\"n5\":0,\"bad\":tru}}"),
            format!("{{{first},\"n5\":0,\"deep\":{{\"a\":1,\"a\":2}}}}"),
            format!("{{{first},\"n5\":0,"),
            // A failure, then a repeat: the failure came first.
            format!("{{{first},\"bad\":tru,\"n5\":0}}"),
            format!("{{{first},\"n5\":[1,}}"),
            format!("{{{first},\"n5\":{{\"a\":1,\"a\":2}}}}"),
            format!("{{{first},\"deep\":{{{first},\"n7\":1}},\"n5\":0}}"),
            format!("{{\"a\":{{{first},\"n7\":1,\"z\":tru}}}}"),
            format!("[{{{first}}},{{{first},\"n1\":[]}}]"),
        ];
        for text in cases {
            let full = json_object(text.as_bytes()).map(drop);
            assert_eq!(json_document(text.as_bytes()).map(drop), full, "{text}");
            assert_eq!(
                json_members(text.as_bytes(), ["n3"]).map(drop),
                full,
                "{text}"
            );
        }
    }

    /// Names that hash alike (FNV-1a collisions are easy to make) are told apart by their
    /// bytes, and a repeat among them is found.
    #[test]
    fn names_that_hash_alike_are_compared_by_their_bytes() {
        // Six-letter names sorted by hash: some pairs of equal hashes among 400,000.
        let mut by_hash: Vec<(u32, [u8; 6])> = (0..400_000u32)
            .map(|i| {
                // Spread over all six letters (26^6 is about 3.1e8).
                let mut i = u64::from(i) * 2_654_435_761 % 308_915_776;
                let mut n = [b'a'; 6];
                for c in &mut n {
                    *c = b'a' + (i % 26) as u8;
                    i /= 26;
                }
                (fnv1a(&n), n)
            })
            .collect();
        by_hash.sort_unstable();
        let alike: Vec<&str> = by_hash
            .windows(2)
            .filter(|w| w[0].0 == w[1].0)
            .flat_map(|w| [&w[0].1, &w[1].1])
            .map(|n| core::str::from_utf8(n).unwrap())
            .collect();
        assert!(alike.len() >= 8, "too few equal hashes: {alike:?}");
        // Every colliding name, among plain ones, far past the names compared as they come.
        let plain: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        let mut distinct: Vec<&str> = plain.iter().map(String::as_str).collect();
        distinct.extend(&alike);
        let object = |names: &[&str]| {
            let members: Vec<String> = names.iter().map(|n| format!("\"{n}\":0")).collect();
            format!("{{{}}}", members.join(","))
        };
        let clean = object(&distinct);
        assert!(json_document(clean.as_bytes()).is_ok());
        let mut repeated = distinct.clone();
        repeated.push(alike[0]);
        assert_eq!(
            json_document(object(&repeated).as_bytes()).map(drop),
            Err(JsonError::DuplicateMember)
        );
    }

    /// A value read from text the scanner did not check (a required value the Rust API was
    /// given) is read whole, however deep or however many slow numbers it holds; and text that
    /// is not JSON is never equal to anything, nor read as a list cut short.
    #[test]
    fn reading_is_whole_and_fails_closed() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(!same(
            Json::scanned(b"[[]]"),
            Json::scanned(deep.as_bytes())
        ));
        assert!(same(
            Json::scanned(deep.as_bytes()),
            Json::scanned(deep.as_bytes())
        ));
        let slow = format!("[{}]", vec!["1e-310"; 40].join(","));
        assert_eq!(
            Json::scanned(slow.as_bytes()).items().map(|i| i.len()),
            Some(40)
        );
        let fewer = format!("[{}]", vec!["1e-310"; 32].join(","));
        assert!(!same(
            Json::scanned(fewer.as_bytes()),
            Json::scanned(slow.as_bytes())
        ));
        for broken in [
            "[1,",
            "[1,2",
            "{\"a\":1,",
            "{\"a\"",
            "[\"a",
            "{",
            "[",
            "",
            "x",
            "\"",
        ] {
            let j = Json::scanned(broken.as_bytes());
            assert_eq!(j.items().map(|i| i.len()), None, "{broken}");
            assert_eq!(j.members().map(|m| m.len()), None, "{broken}");
            for other in [
                "[1]",
                "[1,2]",
                "{\"a\":1}",
                "[]",
                "{}",
                "\"a\"",
                "1",
                "null",
            ] {
                assert!(
                    !same(Json::scanned(other.as_bytes()), j),
                    "{other} = {broken}"
                );
            }
        }
    }

    /// Generator of objects with many names (repeats, escaped spellings), nested, with errors.
    struct Many(Gen);
    impl Many {
        fn n(&mut self, m: u64) -> u64 {
            self.0.next() % m
        }
        fn name(&mut self, pool: u64) -> String {
            let i = self.n(pool);
            let s = format!("n{i}");
            match self.n(6) {
                // `n` spelled with an escape: same decoded name.
                0 => format!("\\u006e{i}"),
                1 => s.replacen('n', "\\u006E", 1),
                2 if i < 10 => format!("n\\u003{i}"),
                3 => format!("{s}\\\\"),
                _ => s,
            }
        }
        fn scalar(&mut self) -> String {
            let p = [
                "1",
                "-0",
                "1.5",
                "1e-310",
                "\"a,b}c]\"",
                "\"x\\\"\"",
                "\"\\\\\"",
                "true",
                "null",
                "\"\\ud83d\\ude00\"",
                "\"é:\"",
                "12345678901234567890",
            ];
            p[self.n(p.len() as u64) as usize].to_string()
        }
        fn bad(&mut self) -> String {
            let p = [
                "tru",
                "[1,]",
                "\"\\ud800\"",
                "01",
                "{\"a\":1,}",
                "1e400",
                "{\"a\":1,\"a\":2}",
            ];
            p[self.n(p.len() as u64) as usize].to_string()
        }
        fn value(&mut self, depth: u32) -> String {
            match self.n(if depth > 3 { 3 } else { 6 }) {
                0 | 1 => self.scalar(),
                2 if self.n(40) == 0 => self.bad(),
                2 => self.scalar(),
                3 | 4 => self.object(depth + 1),
                _ => {
                    let k = self.n(4);
                    let items: Vec<String> = (0..k).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(","))
                }
            }
        }
        fn object(&mut self, depth: u32) -> String {
            let count = [0, 1, 5, 31, 32, 33, 34, 40, 70][self.n(9) as usize];
            let pool = [40, 80, 1000][self.n(3) as usize];
            let mut used = Vec::new();
            let mut ms = Vec::new();
            for _ in 0..count {
                let mut nm = self.name(pool);
                // Mostly distinct names: retry a few times so repeats are rare-ish.
                for _ in 0..3 {
                    let key = json_value(format!("\"{nm}\"").as_bytes()).unwrap();
                    if !used.contains(&key) {
                        break;
                    }
                    nm = self.name(pool);
                }
                used.push(json_value(format!("\"{nm}\"").as_bytes()).unwrap());
                ms.push(format!("\"{nm}\":{}", self.value(depth)));
            }
            // A forced repeat at some position, sometimes.
            if self.n(3) == 0 && !ms.is_empty() {
                let at = self.n(ms.len() as u64) as usize;
                let dup = ms[self.n(ms.len() as u64) as usize].clone();
                let name = dup.split("\":").next().unwrap().to_string() + "\":0";
                ms.insert(at, name);
            }
            format!("{{{}}}", ms.join(","))
        }
    }

    /// The scanner's verdict, wanted members and readers against the full parser's.
    fn verdict(text: &[u8]) {
        let at = || String::from_utf8_lossy(text).into_owned();
        let full = json_object(text);
        let fv = full.as_ref().map(drop).map_err(|e| *e);
        assert_eq!(json_document(text).map(drop), fv, "document {}", at());
        let wanted = json_members(text, ["n3", "n0", "n39", "n\\"]);
        assert_eq!(
            wanted.as_ref().map(drop).map_err(|e| *e),
            fv,
            "members {}",
            at()
        );
        if let (Ok(map), Ok((found, count))) = (&full, &wanted) {
            assert_eq!(*count, map.len());
            for (k, name) in ["n3", "n0", "n39", "n\\"].iter().enumerate() {
                assert_eq!(
                    found[k],
                    map.get(*name).map(Member::of),
                    "{} {}",
                    name,
                    at()
                );
            }
            let v = json_value(text).unwrap();
            agree(Json::scanned(text), &v, text);
        }
    }

    /// Objects past the names compared as they come (the sort's path), repeats at random places
    /// and spelt with escapes, nested in arrays and objects, cut short and with a byte changed:
    /// the same verdict, error and values as the full parser (a reviewer's generator).
    #[test]
    fn many_names_agree_with_the_full_parser() {
        let mut g = Many(Gen(0x1234_5678_9abc_def1));
        let (mut ok, mut dup, mut other) = (0, 0, 0);
        for round in 0..200 {
            let mut text = g.object(1);
            if round % 2 == 1 {
                // Wrap inside arrays / outer objects with many names.
                text = match g.n(3) {
                    0 => format!("{{\"w\":[{text},{}]}}", g.object(2)),
                    1 => {
                        let o = g.object(1);
                        // place text as a member value somewhere in an outer object
                        if o.len() > 2 {
                            format!("{{\"inner\":{text},{}", &o[1..])
                        } else {
                            format!("{{\"inner\":{text}}}")
                        }
                    }
                    _ => format!("{{\"a\":{{\"b\":{text}}}}}"),
                };
            }
            let bytes = text.into_bytes();
            verdict(&bytes);
            // Truncations and a byte flipped.
            let cut = g.n(bytes.len() as u64 + 1) as usize;
            verdict(&bytes[..cut]);
            let mut m = bytes.clone();
            if !m.is_empty() {
                let i = g.n(m.len() as u64) as usize;
                m[i] = b"\"{}[],:\\ x1"[g.n(11) as usize];
                verdict(&m);
            }
            match json_object(&bytes) {
                Ok(_) => ok += 1,
                Err(JsonError::DuplicateMember) => dup += 1,
                Err(_) => other += 1,
            }
        }
        assert!(ok > 10 && dup > 10 && other > 10, "{ok} {dup} {other}");
    }

    /// A repeat and a failure in either order, around the 32nd name, bare and nested.
    #[test]
    fn races_at_the_names_compared_as_they_come() {
        let names = |from: usize, to: usize| -> String {
            (from..to)
                .map(|i| format!("\"n{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut cases = Vec::new();
        for k in 30..36 {
            let f = names(0, k);
            for tail in [
                "\"n0\":0}",
                &format!("\"n{}\":0}}", k - 1),
                "\"n0\":tru}",
                "\"n0\":{\"a\":1,\"a\":1}}",
                "\"x\":tru,\"n0\":0}",
                "\"n0\":0,\"x\":tru}",
                "\"n0\":0,",
                "\"\\u006e0\":0,\"x\":[1,]}",
                "\"x\":[1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310,1e-310],\"n0\":0}",
            ] {
                cases.push(format!("{{{f},{tail}"));
                cases.push(format!("[{{{f},{tail}]"));
                cases.push(format!("{{{f},\"deep\":{{{f},{tail},\"n1\":2}}"));
                cases.push(format!("{{\"n1\":1,\"deep\":{{{f},{tail},\"n1\":2}}"));
            }
        }
        for c in cases {
            verdict(c.as_bytes());
        }
    }

    #[test]
    fn floats_round_as_core_does() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases: Vec<String> = [
            "1e400",
            "-1e400",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "5e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "4.9406564584124654e-324",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "9007199254740993",
            "9007199254740993.0",
            "9007199254740992.5",
            "0.1",
            "1e-400",
            "123456789012345678901234567890e-10",
            "0e99999",
            "1e-99999",
            "1e99999",
            "0.000000000000000000000000000000000000000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let halfway = format!("{}e-800", "7".repeat(1000));
        cases.push(halfway);
        cases.push(format!("8.98846567431158e307{}1", "0".repeat(900)));
        for _ in 0..20000 {
            let r = next();
            let digits = 1 + (r % 40) as usize;
            let mut t: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            t.insert(1 + (next() as usize % digits), '.');
            if t.ends_with('.') {
                t.push('5');
            }
            let exp = (next() % 700) as i64 - 350;
            cases.push(format!("{t}e{exp}"));
            // Exact ties and their neighbours.
            let f = f64::from_bits(next() >> 1);
            let up = f64::from_bits(f.to_bits() + 1);
            if (f + up).is_finite() {
                cases.push(format!("{:e}", (f + up) / 2.0));
                cases.push(format!("{f:e}"));
            }
        }
        for c in &cases {
            let want: f64 = c.parse().unwrap();
            assert_eq!(exact(c).to_bits(), want.to_bits(), "{c}");
            if let Some(f) = clinger(c) {
                assert_eq!(f.to_bits(), want.to_bits(), "fast path, {c}");
            }
        }
    }
}
