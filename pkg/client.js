// jwtgate/client in browsers and bundlers: `await init()` fetches and compiles the wasm once.
import { imports, ready } from './client-wasm.js';
import { setReady } from './state.js';

export * from './client-api.js';

let loading;

/**
 * Loads the client's wasm core. Idempotent: every call returns the same promise. `input` may
 * be a URL, a Response, bytes or a WebAssembly.Module; by default the .wasm beside this file.
 */
export default function init(input = new URL('./wasm-client/jwtgate_client_bg.wasm', import.meta.url)) {
  loading ??= instantiate(input).then((instance) => setReady(ready(instance)));
  return loading;
}

async function instantiate(input) {
  if (typeof input === 'string' || input instanceof URL || (typeof Request === 'function' && input instanceof Request)) {
    input = fetch(input);
  }
  input = await input;
  if (typeof Response === 'function' && input instanceof Response) {
    if (!input.ok) throw new Error(`failed to fetch the jwtgate/client wasm: ${input.status} ${input.statusText} fetching '${input.url}'`);
    // Compiled as it downloads, unless the server does not say application/wasm.
    if (typeof WebAssembly.instantiateStreaming === 'function' && input.headers.get('Content-Type') === 'application/wasm') {
      return (await WebAssembly.instantiateStreaming(input, imports)).instance;
    }
    input = await input.arrayBuffer();
  }
  const made = await WebAssembly.instantiate(input, imports);
  return made instanceof WebAssembly.Instance ? made : made.instance;
}
