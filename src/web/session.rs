//! The token session's state machine for `pkg/session.js`, which does the waiting, fetching,
//! storing and messaging. Times are seconds since the epoch, from the JS clock.

use crate::prelude::*;
use wasm_bindgen::prelude::*;

use super::{jwt_error, seconds};
use crate::session::Session;

/// The core [`Session`] behind the JS `TokenSession`.
#[wasm_bindgen(js_name = RawSession)]
pub struct RawSession(Session);

#[wasm_bindgen(js_class = RawSession)]
impl RawSession {
    /// A session refreshing `ahead` seconds before expiry.
    #[wasm_bindgen(constructor)]
    pub fn new(ahead: f64) -> Result<RawSession, JsValue> {
        Ok(RawSession(Session::new(seconds(ahead)?)))
    }

    /// 0 use the token, 1 refresh now, 2 wait, 3 announce that a sign-in is needed, then wait.
    pub fn next(&mut self, now: f64) -> Result<u8, JsValue> {
        Ok(self.0.next(seconds(now)?) as u8)
    }

    /// The access token, fresh or not.
    pub fn access(&self) -> Option<String> {
        self.0.access_token().map(str::to_owned)
    }

    /// The refresh token to refresh with.
    #[wasm_bindgen(js_name = refreshToken)]
    pub fn refresh_token(&self) -> Option<String> {
        self.0.refresh_token().map(str::to_owned)
    }

    /// The epoch a refresh starts in; report it back with the answer.
    pub fn epoch(&self) -> u32 {
        self.0.epoch()
    }

    /// Tokens from a sign-in.
    pub fn set(&mut self, access: &str, refresh: Option<String>, now: f64) -> Result<(), JsValue> {
        let now = seconds(now)?;
        self.0.set(access, refresh, now).map_err(|e| jwt_error(&e))
    }

    /// A refresh answered; `false` when the answer came too late to count.
    pub fn refreshed(
        &mut self,
        epoch: u32,
        from: &str,
        access: &str,
        refresh: Option<String>,
        now: f64,
    ) -> Result<bool, JsValue> {
        let now = seconds(now)?;
        self.0
            .refreshed(epoch, from, access, refresh, now)
            .map_err(|e| jwt_error(&e))
    }

    /// A refresh of `from` failed; `true` when it still mattered.
    pub fn failed(&mut self, epoch: u32, from: &str) -> bool {
        self.0.failed(epoch, from)
    }

    /// Another tab's refresh of `from` failed; `true` when this tab now needs a sign-in.
    pub fn spent(&mut self, from: &str) -> bool {
        self.0.spent(from)
    }

    /// Under the lock: the refresh token to present, or nothing left to do.
    #[wasm_bindgen(js_name = stillNeeded)]
    pub fn still_needed(&mut self, epoch: u32, now: f64) -> Result<Option<String>, JsValue> {
        Ok(self.0.still_needed(epoch, seconds(now)?))
    }

    /// The server answered 401 to a call made with `access`.
    pub fn rejected(&mut self, access: &str) {
        self.0.rejected(access)
    }

    /// Another tab refreshed `from`; take its tokens if they are ours.
    pub fn adopt(
        &mut self,
        from: &str,
        access: &str,
        refresh: Option<String>,
        now: f64,
    ) -> Result<bool, JsValue> {
        let now = seconds(now)?;
        self.0
            .adopt(from, access, refresh, now)
            .map_err(|e| jwt_error(&e))
    }

    /// Tokens saved by `stored`; `false` when unchanged or unusable.
    pub fn restore(&mut self, text: &str, now: f64) -> Result<bool, JsValue> {
        Ok(self.0.restore(text, seconds(now)?))
    }

    /// The tokens as JSON text, for storage and other tabs.
    pub fn stored(&self) -> Option<String> {
        self.0.stored()
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.0.clear()
    }
}
