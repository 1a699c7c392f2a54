//! The token session's state machine for `pkg/session.js`, which does the waiting, fetching,
//! storing and messaging. Times are seconds since the epoch, from the JS clock.
//!
//! Two methods carry every operation, by number: each exported method cost its own wrapper in
//! the wasm and its own function in the glue, about 0.5 KB of `jwtgate/client` apiece
//! (xtask/src/build.rs). `pkg/constants.js` gives them back their names.

use crate::prelude::*;

use super::{jwt_json, seconds, type_json};
use crate::session::Session;

/// The core [`Session`] behind the JS `TokenSession`, and the error of its last operation that
/// answered NaN, for [`text::ERROR`]: errors pass in band (see `super::thrown`).
pub struct RawSession(Session, Option<String>);

/// The operations of [`RawSession::op`]; `pkg/constants.js` holds the same numbers.
mod op {
    /// `now` → 0 use the token, 1 refresh now, 2 wait, 3 announce a sign-in is needed.
    pub const NEXT: u8 = 0;
    /// The epoch a refresh starts in, to report back with the answer.
    pub const EPOCH: u8 = 1;
    /// Tokens from a sign-in: `a` access, `c` refresh, `now`.
    pub const SET: u8 = 2;
    /// A refresh of `a` answered with `b` and `c` in `epoch`; 0 when too late to count.
    pub const REFRESHED: u8 = 3;
    /// A refresh of `a` in `epoch` failed; 1 when it still mattered.
    pub const FAILED: u8 = 4;
    /// Another tab's refresh of `a` failed; 1 when this tab now needs a sign-in.
    pub const SPENT: u8 = 5;
    /// Under the lock: 1 when the refresh token ([`super::text::REFRESH`]) is still to be
    /// presented, 0 when nothing is left to do.
    pub const STILL_NEEDED: u8 = 6;
    /// The server answered 401 to a call made with access token `a`.
    pub const REJECTED: u8 = 7;
    /// Another tab refreshed `a` into `b` and `c`; 1 when taken.
    pub const ADOPT: u8 = 8;
    /// Stored tokens, `a` access and `c` refresh, received at `at`; 1 when taken (0 unchanged
    /// or unusable). `pkg/session.js` writes and reads the stored JSON: `JSON.stringify` and
    /// `JSON.parse` cost the client nothing, a writer and reader here 0.4 KB gzipped.
    pub const RESTORE: u8 = 9;
    /// Forget everything.
    pub const CLEAR: u8 = 10;
    /// `expiresIn(a, now)` with its error, when it is one, kept for [`super::text::ERROR`]:
    /// how `pkg/token.js` learns why `expiresIn` answered NaN, without an export of its own.
    pub const EXPIRY: u8 = 11;
    /// When the tokens were received, in whole seconds (0 without tokens), for the stored copy.
    pub const RECEIVED: u8 = 12;
}

/// The texts of [`RawSession::text`].
mod text {
    /// The access token, fresh or not.
    pub const ACCESS: u8 = 0;
    /// The refresh token to refresh with.
    pub const REFRESH: u8 = 1;
    /// The error (JSON text) of the last operation that answered NaN; once.
    pub const ERROR: u8 = 2;
}

impl RawSession {
    /// A session refreshing `ahead` seconds before expiry (`Session::new` reads anything but a
    /// time of 0 or more as 0; `pkg/session.js` refuses it first).
    pub fn new(ahead: f64) -> RawSession {
        RawSession(Session::new(ahead), None)
    }

    /// Operation `op` (see the `op` module) with the arguments it reads; its answer as a
    /// number (booleans as 0 and 1), or NaN for an error, which [`text::ERROR`] then gives. An
    /// unknown operation is a `TypeError`.
    // Its parameters are what every operation may cross with: one method, not one apiece.
    #[cfg(feature = "web")]
    #[allow(clippy::too_many_arguments)]
    pub fn op(
        &mut self,
        op: u8,
        epoch: u32,
        now: f64,
        at: f64,
        a: Option<String>,
        b: Option<String>,
        c: Option<String>,
    ) -> f64 {
        // Lent, so that they are dropped here once, not on every way out of `run`.
        let texts = [
            a.as_deref().unwrap_or_default(),
            b.as_deref().unwrap_or_default(),
        ];
        self.lent(op, epoch, [now, at], texts, c.as_deref())
    }

    /// Text `which` (see the `text` module), if the session holds it.
    pub fn text(&mut self, which: u8) -> Option<String> {
        let text = match which {
            text::ACCESS => self.0.access_token(),
            text::REFRESH => self.0.refresh_token(),
            text::ERROR => return self.1.take(),
            _ => None,
        };
        // One copy for both tokens: each `to_owned` inlined its allocation.
        text.map(str::to_owned)
    }
}

impl RawSession {
    /// [`RawSession::op`] on lent texts (`a` and `b` empty when not given): what both ABIs call.
    pub(super) fn lent(
        &mut self,
        op: u8,
        epoch: u32,
        times: [f64; 2],
        texts: [&str; 2],
        c: Option<&str>,
    ) -> f64 {
        let answer = self.run(op, epoch, times, texts, c);
        answer.unwrap_or_else(|e| {
            self.1 = Some(e);
            f64::NAN
        })
    }

    fn run(
        &mut self,
        op: u8,
        epoch: u32,
        times: [f64; 2],
        [a, b]: [&str; 2],
        c: Option<&str>,
    ) -> Result<f64, String> {
        let [now, at] = times;
        // Checked once for every operation: those that read no time are given 0.
        let now = seconds(now)?;
        let s = &mut self.0;
        let flag = |yes: bool| f64::from(u8::from(yes));
        // One way out for the core's errors, so that their JSON is written in one place.
        let answer = match op {
            op::NEXT => Ok(f64::from(s.next(now) as u8)),
            op::EPOCH => Ok(f64::from(s.epoch())),
            op::SET => s.set(a, c, now).map(|()| 0.0),
            op::REFRESHED => s.refreshed(epoch, a, b, c, now).map(flag),
            op::FAILED => Ok(flag(s.failed(epoch, a))),
            op::SPENT => Ok(flag(s.spent(a))),
            op::STILL_NEEDED => Ok(flag(s.still_needed(epoch, now).is_some())),
            op::REJECTED => {
                s.rejected(a);
                Ok(0.0)
            }
            op::ADOPT => s.adopt(a, b, c, now).map(flag),
            op::RESTORE => Ok(flag(s.restore(a, c, at, now))),
            op::RECEIVED => Ok(s.received().unwrap_or(0.0)),
            op::CLEAR => {
                s.clear();
                Ok(0.0)
            }
            op::EXPIRY => super::left(a, now),
            _ => return Err(type_json("unknown session operation")),
        };
        answer.map_err(|e| jwt_json(&e))
    }
}
