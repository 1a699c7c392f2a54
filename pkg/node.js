// Node: the wasm is read from disk and compiled at import, so nothing needs initialising.
import { readFileSync } from 'node:fs';
import { initSync } from './wasm/jwtgate.js';
import { setReady } from './state.js';

initSync({ module: readFileSync(new URL('./wasm/jwtgate_bg.wasm', import.meta.url)) });
setReady();

export * from './api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
