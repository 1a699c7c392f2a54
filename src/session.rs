//! A client's token session: the decisions behind refresh-ahead, single-flight refresh,
//! refresh after a 401, and sharing one refresh between tabs.
//!
//! This module decides; the front door acts. It never fetches, stores, locks or waits: the
//! JavaScript side asks [`Session::next`] what to do before each call and reports what happened
//! ([`Session::refreshed`], [`Session::failed`], [`Session::rejected`], [`Session::adopt`]).
//! Keeping the state machine here keeps it in one place, in Rust, and testable without a
//! browser.
//!
//! Tokens are read, never verified: a client holds them for a server that verifies them. Only
//! `exp` and `iat` matter here.

use crate::prelude::*;

use crate::error::Error;
use crate::token::times;

/// What the caller should do next, from [`Session::next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Next {
    /// The access token is good for long enough: send it.
    Use = 0,
    /// The caller is now the one refreshing: call the token endpoint with
    /// [`Session::refresh_token`], then report with `refreshed` or `failed`.
    Refresh = 1,
    /// Another call is refreshing, or the user must sign in: wait for a change.
    Wait = 2,
    /// The user must sign in, and this call is the first to learn it: tell the app, then wait.
    AuthRequired = 3,
}

/// How far this machine's clock may be from the issuer's before expiry is measured from
/// receipt rather than from `exp`, in seconds.
const CLOCK_TOLERANCE: f64 = 60.0;

/// The tokens in hand and when the access token stops being worth sending.
#[derive(Clone, Debug, PartialEq)]
struct Tokens {
    access: String,
    refresh: Option<String>,
    /// When the access token expires, on this machine's clock. `None`: it never does.
    expires: Option<f64>,
    /// What was left of its life at receipt: tokens shorter-lived than twice the refresh
    /// margin get half of it as their margin.
    lifetime: Option<f64>,
    /// Send it until it expires, margin or not: it was just refreshed, and refreshing again
    /// at once would bring back the same kind of token, in a loop.
    waived: bool,
    /// When it was received, on this machine's clock.
    received: f64,
}

impl Tokens {
    fn new(access: &str, refresh: Option<&str>, received: f64) -> Result<Tokens, Error> {
        let t = times(access)?;
        // A client whose clock is off from the issuer's would see new tokens as expired, or
        // inside the margin (and refresh in a loop), or as good for too long. Past a minute,
        // or half the token's life for short tokens, expiry is measured from receipt instead,
        // `exp - iat` later.
        let expires = match (t.exp, t.iat) {
            (Some(exp), Some(iat))
                if (received - iat).abs() > CLOCK_TOLERANCE.min((exp - iat) / 2.0) =>
            {
                Some(received + (exp - iat))
            }
            (exp, _) => exp,
        };
        Ok(Tokens {
            access: access.to_owned(),
            refresh: refresh.filter(|r| !r.is_empty()).map(str::to_owned),
            expires,
            lifetime: expires.map(|e| e - received),
            received,
            waived: false,
        })
    }

    /// The tokens a refresh of `from` answered with: without a new refresh token, `from`
    /// stays valid.
    fn after(from: &str, access: &str, refresh: Option<&str>, now: f64) -> Result<Tokens, Error> {
        Tokens::new(access, refresh.or(Some(from)), now)
    }
}

/// The session's state. One per tab (or per process); tabs reach agreement through the front
/// door's lock and messages, each reporting to its own `Session`.
#[derive(Debug)]
pub struct Session {
    ahead: f64,
    tokens: Option<Tokens>,
    refreshing: bool,
    /// The user must sign in; calls wait until `set` is called.
    auth_required: bool,
    /// The server refused the current access token (a 401): refresh even if `exp` says it is
    /// good.
    stale: bool,
    /// Changes with every `set` and `clear`, so a refresh started before them cannot bring
    /// back tokens the app replaced or threw away.
    epoch: u32,
}

impl Session {
    /// A session that refreshes access tokens `ahead` seconds before they expire.
    pub fn new(ahead: f64) -> Session {
        Session {
            ahead: if ahead.is_finite() {
                ahead.max(0.0)
            } else {
                0.0
            },
            tokens: None,
            refreshing: false,
            auth_required: false,
            stale: false,
            epoch: 0,
        }
    }

    /// Whether the access token can be sent at `now`: known, not refused by the server, and
    /// not within the refresh margin of its expiry. The margin is at most half the token's
    /// lifetime: a 20-second token with a 30-second margin would otherwise be refreshed on
    /// every call.
    pub fn fresh(&self, now: f64) -> bool {
        let Some(t) = &self.tokens else { return false };
        if self.stale {
            return false;
        }
        match (t.expires, t.lifetime) {
            (None, _) => true,
            (Some(expires), _) if t.waived => expires > now,
            (Some(expires), lifetime) => {
                let margin = match lifetime {
                    Some(l) if l > 0.0 => self.ahead.min(l / 2.0),
                    _ => self.ahead,
                };
                expires - now > margin
            }
        }
    }

    /// What a call that wants a token should do at `now`. Exactly one caller gets
    /// [`Next::Refresh`] until the refresh is reported; exactly one gets
    /// [`Next::AuthRequired`] until `set` or `clear`.
    pub fn next(&mut self, now: f64) -> Next {
        if self.auth_required || self.refreshing {
            return Next::Wait;
        }
        if self.fresh(now) {
            return Next::Use;
        }
        if self.refresh_token().is_some() {
            self.refreshing = true;
            return Next::Refresh;
        }
        self.auth_required = true;
        Next::AuthRequired
    }

    /// The access token, if any, fresh or not.
    pub fn access_token(&self) -> Option<&str> {
        self.tokens.as_ref().map(|t| t.access.as_str())
    }

    /// The refresh token, if any.
    pub fn refresh_token(&self) -> Option<&str> {
        self.tokens.as_ref()?.refresh.as_deref()
    }

    /// Changes with every `set` and `clear`; a refresh reports the epoch it started in.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Whether a refresh is under way.
    pub fn refreshing(&self) -> bool {
        self.refreshing
    }

    /// Whether calls wait for the user to sign in.
    pub fn auth_required(&self) -> bool {
        self.auth_required
    }

    /// Tokens from the app (after a sign-in): they replace everything, end an
    /// authentication wait, and void any refresh in flight.
    pub fn set(&mut self, access: &str, refresh: Option<&str>, now: f64) -> Result<(), Error> {
        self.install(Tokens::new(access, refresh, now)?);
        self.refreshing = false;
        self.epoch = self.epoch.wrapping_add(1);
        Ok(())
    }

    /// A refresh started at `epoch` answered. `Ok(false)`: the answer came too late (the app
    /// set or cleared tokens meanwhile) and is dropped. A refresh token left out of the
    /// answer means the old one stays valid. An access token that is unreadable or already
    /// expired is an error, and the session then needs a sign-in: accepting it would send
    /// the client straight back to refresh, forever.
    pub fn refreshed(
        &mut self,
        epoch: u32,
        from: &str,
        access: &str,
        refresh: Option<&str>,
        now: f64,
    ) -> Result<bool, Error> {
        if !self.answers(epoch, from) {
            return Ok(false);
        }
        let tokens = Tokens::after(from, access, refresh, now).and_then(|t| match t.expires {
            Some(e) if e <= now => Err(Error::Expired),
            _ => Ok(t),
        });
        match tokens {
            Ok(tokens) => {
                self.take(tokens, now);
                self.refreshing = false;
                Ok(true)
            }
            Err(e) => {
                self.failed(epoch, from);
                Err(e)
            }
        }
    }

    /// Whether an answer to a refresh of `from` started at `epoch` still concerns this
    /// session. If the tokens changed meanwhile (a sign-in here, or one another tab stored),
    /// the answer is dropped and the refresh is over.
    fn answers(&mut self, epoch: u32, from: &str) -> bool {
        if epoch == self.epoch && self.refresh_token() == Some(from) {
            return true;
        }
        if epoch == self.epoch {
            self.refreshing = false;
        }
        false
    }

    /// Holds `tokens` from now on: they are not known to be refused, and calls need no sign-in.
    fn install(&mut self, tokens: Tokens) {
        self.tokens = Some(tokens);
        self.stale = false;
        self.auth_required = false;
    }

    /// Takes new tokens from a refresh, here or in another tab. One that arrives already
    /// inside its margin is sent until it expires instead of refreshed at once.
    fn take(&mut self, tokens: Tokens, now: f64) {
        self.install(tokens);
        if !self.fresh(now) {
            if let Some(t) = &mut self.tokens {
                t.waived = true;
            }
        }
    }

    /// The refresh of `from` started at `epoch` failed: the user must sign in. Returns
    /// whether this changed anything (a late failure after the tokens changed does not).
    pub fn failed(&mut self, epoch: u32, from: &str) -> bool {
        if !self.answers(epoch, from) {
            return false;
        }
        self.refreshing = false;
        self.auth_required = true;
        true
    }

    /// Another tab's refresh of `from` failed. If this tab holds the same refresh token, it
    /// must not present it again (the issuer would see a reuse): it needs a sign-in too.
    /// Returns whether it does now.
    pub fn spent(&mut self, from: &str) -> bool {
        if self.refresh_token() != Some(from) || self.auth_required {
            return false;
        }
        self.refreshing = false;
        self.auth_required = true;
        true
    }

    /// Under the lock, just before calling the issuer: the refresh token to present, or
    /// `None` (and the refresh is over) when there is nothing left to do, because another
    /// tab refreshed, or failed, or the user signed in meanwhile.
    pub fn still_needed(&mut self, epoch: u32, now: f64) -> Option<&str> {
        let needed = epoch == self.epoch && !self.auth_required && !self.fresh(now);
        if !needed || self.refresh_token().is_none() {
            if epoch == self.epoch {
                self.refreshing = false;
            }
            return None;
        }
        self.refresh_token()
    }

    /// The server answered 401 to a call made with `access`. If that is still the current
    /// token, it is no longer worth sending and the next call refreshes; if the session has
    /// moved on, the call just retries with the newer token.
    pub fn rejected(&mut self, access: &str) {
        if self.access_token() == Some(access) {
            self.stale = true;
        }
    }

    /// Another tab refreshed `from` (a refresh token) and got these tokens. This tab takes
    /// them only if it held that same refresh token: a rotating refresh token is spent once
    /// used, so holding on to it would mean a second, refused refresh.
    pub fn adopt(
        &mut self,
        from: &str,
        access: &str,
        refresh: Option<&str>,
        now: f64,
    ) -> Result<bool, Error> {
        if self.refresh_token() != Some(from) || self.access_token() == Some(access) {
            return Ok(false);
        }
        self.take(Tokens::after(from, access, refresh, now)?, now);
        Ok(true)
    }

    /// Loads tokens the front door stored (here or in another tab), received at `received` on
    /// this machine's clock. A `received` that is not a time up to a second past `now`, or an
    /// access token that cannot be read, is refused: the front door then drops the copy rather
    /// than throw at the app. Returns whether the tokens changed.
    pub fn restore(
        &mut self,
        access: &str,
        refresh: Option<&str>,
        received: f64,
        now: f64,
    ) -> bool {
        if !(received.is_finite() && received >= 0.0 && received <= now + 1.0)
            || (self.access_token() == Some(access) && self.refresh_token() == refresh)
        {
            return false;
        }
        match Tokens::new(access, refresh, received) {
            Ok(tokens) => {
                self.install(tokens);
                true
            }
            Err(_) => false,
        }
    }

    /// When the tokens were received, in whole seconds (a second is finer than any refresh
    /// margin), for the front door's stored copy; `None` without tokens.
    pub fn received(&self) -> Option<f64> {
        Some(self.tokens.as_ref()?.received.max(0.0) as u64 as f64)
    }

    /// Forgets everything (sign-out). A refresh in flight is voided.
    pub fn clear(&mut self) {
        self.tokens = None;
        self.refreshing = false;
        self.auth_required = false;
        self.stale = false;
        self.epoch = self.epoch.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::base64::b64_encode;

    fn token(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64_encode(br#"{"alg":"ES256"}"#),
            b64_encode(claims.as_bytes())
        )
    }

    fn lasting(iat: u64, secs: u64) -> String {
        token(&format!(
            r#"{{"sub":"a","iat":{iat},"exp":{}}}"#,
            iat + secs
        ))
    }

    #[test]
    fn one_refresh_for_many_callers_then_all_use_the_new_token() {
        let mut s = Session::new(30.0);
        s.set(&lasting(1000, 300), Some("r1"), 1000.0).unwrap();
        assert_eq!(s.next(1100.0), Next::Use);
        assert_eq!(s.next(1280.0), Next::Refresh, "inside the margin");
        for _ in 0..20 {
            assert_eq!(s.next(1280.0), Next::Wait);
        }
        let epoch = s.epoch();
        assert_eq!(
            s.refreshed(epoch, "r1", &lasting(1280, 300), Some("r2"), 1280.0),
            Ok(true)
        );
        assert_eq!(s.next(1280.0), Next::Use);
        assert_eq!(s.refresh_token(), Some("r2"));
    }

    #[test]
    fn short_tokens_get_half_their_lifetime_as_margin() {
        let mut s = Session::new(30.0);
        s.set(&lasting(5000, 20), Some("r"), 100.0).unwrap();
        // Clocks differ (issuer at 5000, here at 100): expiry counts from receipt.
        assert_eq!(s.next(105.0), Next::Use);
        assert_eq!(s.next(111.0), Next::Refresh);
    }

    #[test]
    fn failure_needs_a_sign_in_and_a_late_answer_is_dropped() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 10), Some("r"), 0.0).unwrap();
        assert_eq!(s.next(9.0), Next::Refresh);
        let epoch = s.epoch();
        assert!(s.failed(epoch, "r"));
        assert_eq!(
            s.next(9.0),
            Next::Wait,
            "the failure itself is reported by the front door"
        );
        s.set(&lasting(9, 100), Some("r9"), 9.0).unwrap();
        assert_eq!(s.next(9.0), Next::Use);
        // An answer to the refresh before the sign-in changes nothing.
        assert_eq!(
            s.refreshed(epoch, "r", &lasting(9, 100), Some("old"), 9.0),
            Ok(false)
        );
        assert_eq!(s.refresh_token(), Some("r9"));
    }

    #[test]
    fn no_refresh_token_means_sign_in_announced_once() {
        let mut s = Session::new(30.0);
        assert_eq!(s.next(0.0), Next::AuthRequired);
        assert_eq!(s.next(0.0), Next::Wait);
        s.clear();
        assert_eq!(s.next(0.0), Next::AuthRequired);
    }

    #[test]
    fn an_expired_or_unreadable_refresh_answer_fails_instead_of_looping() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 10), Some("r"), 0.0).unwrap();
        assert_eq!(s.next(9.0), Next::Refresh);
        let e = s.epoch();
        assert_eq!(
            s.refreshed(e, "r", &token(r#"{"exp":5}"#), None, 9.0),
            Err(Error::Expired)
        );
        assert!(s.auth_required());
        s.set(&lasting(0, 10), Some("r"), 0.0).unwrap();
        assert_eq!(s.next(9.0), Next::Refresh);
        assert!(s.refreshed(s.epoch(), "r", "nope", None, 9.0).is_err());
        assert_eq!(s.next(9.0), Next::Wait);
    }

    #[test]
    fn a_401_makes_the_current_token_stale_but_not_a_newer_one() {
        let mut s = Session::new(30.0);
        let old = lasting(0, 300);
        s.set(&old, Some("r"), 0.0).unwrap();
        s.rejected(&old);
        assert_eq!(s.next(1.0), Next::Refresh);
        let new = lasting(1, 300);
        assert_eq!(s.refreshed(s.epoch(), "r", &new, None, 1.0), Ok(true));
        assert_eq!(
            s.refresh_token(),
            Some("r"),
            "kept when the answer has none"
        );
        s.rejected(&old);
        assert_eq!(s.next(1.0), Next::Use);
    }

    #[test]
    fn tabs_adopt_only_the_refresh_of_their_own_refresh_token() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 10), Some("r1"), 0.0).unwrap();
        assert_eq!(
            s.adopt("other", &lasting(5, 100), Some("x"), 5.0),
            Ok(false)
        );
        assert_eq!(s.adopt("r1", &lasting(5, 100), Some("r2"), 5.0), Ok(true));
        assert_eq!(s.next(6.0), Next::Use);
        assert_eq!(s.refresh_token(), Some("r2"));
    }

    #[test]
    fn restored_tokens_are_taken_once_and_bad_ones_refused() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 100), Some("r\"1\n"), 7.5).unwrap();
        assert_eq!(s.received(), Some(7.0), "whole seconds");
        let mut t = Session::new(30.0);
        let access = s.access_token().unwrap().to_owned();
        assert!(t.restore(&access, Some("r\"1\n"), 7.0, 8.0));
        assert_eq!(
            (t.access_token(), t.refresh_token()),
            (s.access_token(), Some("r\"1\n"))
        );
        assert!(!t.restore(&access, Some("r\"1\n"), 7.0, 8.0), "unchanged");
        for (access, received) in [
            ("", 7.0),
            ("x.y.z", 7.0),
            (access.as_str(), -1.0),
            (access.as_str(), 9.5),
            (access.as_str(), f64::NAN),
            (access.as_str(), f64::INFINITY),
        ] {
            assert!(
                !Session::new(30.0).restore(access, None, received, 8.0),
                "{access} {received}"
            );
        }
        assert_eq!(Session::new(30.0).received(), None);
    }

    #[test]
    fn skew_inside_a_minute_with_short_tokens_does_not_loop() {
        // 20-second tokens, this clock 15 s ahead of the issuer: each new token arrives with
        // 5 s left by `exp`, inside the 10 s margin. Measured from receipt instead.
        let mut s = Session::new(30.0);
        let issued = |at: u64| lasting(at, 20);
        s.set(&issued(1000), Some("r"), 1015.0).unwrap();
        assert_eq!(s.next(1016.0), Next::Use);
        assert_eq!(s.next(1026.0), Next::Refresh);
        assert_eq!(
            s.refreshed(s.epoch(), "r", &issued(1011), Some("r2"), 1026.0),
            Ok(true)
        );
        assert_eq!(s.next(1027.0), Next::Use);
    }

    #[test]
    fn a_token_that_arrives_inside_its_margin_is_used_until_it_expires() {
        // No iat, so no receipt-based expiry: 5 s left against a 30 s margin.
        let mut s = Session::new(30.0);
        s.set(&token(r#"{"exp":100}"#), Some("r"), 0.0).unwrap();
        assert_eq!(s.next(90.0), Next::Refresh);
        let answer = token(r#"{"exp":200}"#);
        assert_eq!(s.refreshed(s.epoch(), "r", &answer, None, 195.0), Ok(true));
        assert_eq!(s.next(196.0), Next::Use);
        assert_eq!(s.next(200.0), Next::Refresh);
    }

    #[test]
    fn an_answer_for_tokens_replaced_by_another_tab_is_dropped() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 10), Some("r0"), 0.0).unwrap();
        assert_eq!(s.next(9.0), Next::Refresh);
        let epoch = s.epoch();
        // Bob signed in in another tab; shared storage brought his tokens here.
        assert!(s.restore(&lasting(9, 100), Some("bob"), 9.0, 9.0));
        assert_eq!(
            s.refreshed(epoch, "r0", &lasting(9, 100), Some("alice"), 9.0),
            Ok(false)
        );
        assert_eq!(s.refresh_token(), Some("bob"));
        assert!(
            !s.failed(epoch, "r0"),
            "nor does a late failure ask for a sign-in"
        );
        assert_eq!(s.next(10.0), Next::Use);
    }

    #[test]
    fn a_refresh_token_spent_in_another_tab_is_not_presented_again() {
        let mut s = Session::new(30.0);
        s.set(&lasting(0, 10), Some("r0"), 0.0).unwrap();
        assert_eq!(s.next(9.0), Next::Refresh);
        let epoch = s.epoch();
        assert!(!s.spent("other"));
        assert!(s.spent("r0"));
        assert_eq!(s.still_needed(epoch, 9.0), None);
        assert_eq!(s.next(9.0), Next::Wait);
    }
}
