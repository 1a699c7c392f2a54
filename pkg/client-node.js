// jwtgate/client in Node: the wasm is compiled at import, so nothing needs initialising.
import { readFileSync } from 'node:fs';
import { imports, ready } from './client-wasm.js';
import { setReady } from './state.js';

setReady(ready(new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('./wasm-client/jwtgate_client_bg.wasm', import.meta.url))), imports)));

export * from './client-api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
