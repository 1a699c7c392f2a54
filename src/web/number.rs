//! The JS engine's decimal conversion, which the core's JSON parser takes in the npm package's
//! wasm for the numbers its fast path leaves (`crypto::json::exact`): few real tokens have one.
//! `jwtgate/client`'s wasm, without wasm-bindgen, imports the same from its loader (`abi`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Number(text)`, for the text of a JSON number the parser has checked: the correctly
    /// rounded value, as `JSON.parse` reads it, and infinity past the largest f64 (refused by
    /// the parser, as before).
    #[wasm_bindgen(js_name = Number)]
    pub(crate) fn exact(text: &str) -> f64;
}
