// jwtgate/client in browsers and bundlers: `await init()` fetches and compiles the wasm once.
import { load } from './client-wasm.js';
import { setReady } from './state.js';

export * from './client-api.js';

let loading;

/**
 * Loads the client's wasm core. Idempotent: every call returns the same promise, until one
 * fails. `input` may be a URL, a Response, bytes or a WebAssembly.Module; by default the .wasm
 * beside this file.
 */
export default function init(input = new URL('./wasm-client/jwtgate_client_bg.wasm', import.meta.url)) {
  loading ??= load(input, 'jwtgate/client').then(setReady, (e) => {
    // Not kept: a load that failed (offline, a wrong URL) is tried again by the next call.
    loading = null;
    throw e;
  });
  return loading;
}
