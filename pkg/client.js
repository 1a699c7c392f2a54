// jwtgate/client in browsers and bundlers: `await init()` fetches and compiles the wasm once.
import * as core from './wasm-client/jwtgate_client.js';
import { setReady } from './state.js';

export * from './client-api.js';

let loading;

/**
 * Loads the client's wasm core. Idempotent: every call returns the same promise. `input` may
 * be a URL, a Response, bytes or a WebAssembly.Module; by default the .wasm beside this file.
 */
export default function init(input) {
  loading ??= core.default(input === undefined ? undefined : { module_or_path: input }).then(() => {
    setReady(core);
  });
  return loading;
}
