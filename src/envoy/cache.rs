//! A bounded cache of verified tokens, per worker and provider, that never serves a token past
//! its `exp` nor before its `nbf`.

use std::collections::HashMap;
use std::rc::Rc;

use crate::Claims;

/// Verified tokens keyed by the whole token text: no digest, so no collision to engineer.
pub struct JwtCache {
    capacity: usize,
    skew: f64,
    entries: HashMap<Box<str>, Entry>,
    tick: u64,
}

struct Entry {
    claims: Rc<Claims>,
    used: u64,
    /// The first second the token may be served (`nbf - skew`); a token only enters once it
    /// verified, so this matters only if the clock goes back.
    from: f64,
    /// The first second it may no longer be served (`exp + skew`).
    until: f64,
}

impl JwtCache {
    /// A cache of at most `capacity` tokens, honouring `exp` with `skew` seconds of tolerance.
    pub fn new(capacity: usize, skew: u64) -> JwtCache {
        JwtCache {
            capacity,
            skew: skew as f64,
            entries: HashMap::new(),
            tick: 0,
        }
    }

    /// The claims of a cached token still valid at `now`; an expired one is dropped.
    pub fn get(&mut self, token: &str, now: u64) -> Option<Rc<Claims>> {
        let entry = self.entries.get_mut(token)?;
        let now = now as f64;
        if now >= entry.until {
            self.entries.remove(token);
            return None;
        }
        if now < entry.from {
            return None;
        }
        self.tick += 1;
        entry.used = self.tick;
        Some(entry.claims.clone())
    }

    /// Remembers a verified token, evicting the least recently used one when full.
    pub fn put(&mut self, token: &str, claims: Rc<Claims>) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(token) {
            // O(capacity), paid only when a new token arrives at a full cache.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.tick += 1;
        let number = |name: &str| claims.get(name).and_then(serde_json::Value::as_f64);
        let from = number("nbf").map_or(f64::NEG_INFINITY, |nbf| nbf - self.skew);
        let until = claims
            .expiration()
            .map_or(f64::INFINITY, |exp| exp + self.skew);
        self.entries.insert(
            token.into(),
            Entry {
                claims,
                used: self.tick,
                from,
                until,
            },
        );
    }

    /// Forgets everything: called when the provider's keys change, so a token signed by a key
    /// that was withdrawn is not served from memory.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
