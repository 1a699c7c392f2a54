// jwtgate/client in browsers and bundlers: `await init()` fetches and compiles the wasm once.
// Named, not `import * as`: a namespace handed on keeps every export of the glue in an app's
// bundle (initSync among them); these are the ones the client's modules call.
import initWasm, { RawSession, checkTokenLength, decode, expiresIn } from './wasm-client/jwtgate_client.js';
import { setReady } from './state.js';

export * from './client-api.js';

let loading;

/**
 * Loads the client's wasm core. Idempotent: every call returns the same promise. `input` may
 * be a URL, a Response, bytes or a WebAssembly.Module; by default the .wasm beside this file.
 */
export default function init(input) {
  loading ??= initWasm(input === undefined ? undefined : { module_or_path: input }).then(() => {
    setReady({ RawSession, checkTokenLength, decode, expiresIn });
  });
  return loading;
}
