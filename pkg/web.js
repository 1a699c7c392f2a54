// Browsers and bundlers: `await init()` fetches and compiles the wasm once. Signatures are
// verified by WebCrypto.
import { loadFull } from './verifier-wasm.js';
import { webCrypto } from './crypto-web.js';
import { setReady } from './state.js';

export * from './api.js';

let loading;

/**
 * Loads the wasm core. Idempotent: every call returns the same promise, until one fails. `input`
 * may be a URL, a Response, bytes or a WebAssembly.Module; by default the .wasm beside this file.
 */
export default function init(input = new URL('./wasm/jwtgate_bg.wasm', import.meta.url)) {
  loading ??= loadFull(input).then((core) => setReady(core, webCrypto), (e) => {
    // Not kept: a load that failed (offline, a wrong URL) is tried again by the next call.
    loading = null;
    throw e;
  });
  return loading;
}
