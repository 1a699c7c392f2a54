// jwtgate/client in Node: the wasm is compiled at import, so nothing needs initialising.
import { readFileSync } from 'node:fs';
import * as core from './wasm-client/jwtgate_client.js';
import { setReady } from './state.js';

core.initSync({ module: readFileSync(new URL('./wasm-client/jwtgate_client_bg.wasm', import.meta.url)) });
setReady(core);

export * from './client-api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
