//! The Envoy front door: a proxy-wasm HTTP filter configured like Envoy's `jwt_authn`.
//!
//! [`config`], [`request`] and [`headers`] are plain Rust and tested on the host; `filter` is
//! the proxy-wasm glue, built only for wasm32.

mod cache;
pub mod config;
pub mod headers;
pub mod request;

pub use cache::JwtCache;

#[cfg(target_arch = "wasm32")]
// proxy_wasm::main! calls WASI's constructors, and the request headers are read through the
// ABI's own call (see `headers`): the ABI needs it.
#[allow(unsafe_code)]
mod filter;
