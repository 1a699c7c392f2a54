// jwtgate/client in Node: the wasm is compiled at import, so nothing needs initialising.
import { readFileSync } from 'node:fs';
import { start } from './client-wasm.js';
import { setReady } from './state.js';

setReady(start(new WebAssembly.Module(readFileSync(new URL('./wasm-client/jwtgate_client_bg.wasm', import.meta.url)))));

export * from './client-api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
