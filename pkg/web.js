// Browsers and bundlers: `await init()` fetches and compiles the wasm once.
import initWasm from './wasm/jwtgate.js';
import { setReady } from './state.js';

export * from './api.js';

let loading;

/**
 * Loads the wasm core. Idempotent: every call returns the same promise. `input` may be a URL,
 * a Response, bytes or a WebAssembly.Module; by default the .wasm beside this file.
 */
export default function init(input) {
  loading ??= initWasm(input === undefined ? undefined : { module_or_path: input }).then(() => {
    setReady();
  });
  return loading;
}
