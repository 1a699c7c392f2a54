//! The Envoy front door: a proxy-wasm HTTP filter configured like Envoy's `jwt_authn`.
//!
//! [`config`] and [`request`] are plain Rust and tested on the host; `filter` is the
//! proxy-wasm glue, built only for wasm32.

mod cache;
pub mod config;
pub mod request;

pub use cache::JwtCache;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // proxy_wasm::main! calls WASI's constructors: the ABI needs it.
mod filter;
