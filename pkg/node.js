// Node: the wasm is read from disk and compiled at import, so nothing needs initialising.
// Signatures are verified by node:crypto.
import { readFileSync } from 'node:fs';
import * as core from './wasm/jwtgate.js';
import { nodeCrypto } from './crypto-node.js';
import { setReady } from './state.js';

core.initSync({ module: readFileSync(new URL('./wasm/jwtgate_bg.wasm', import.meta.url)) });
setReady(core, nodeCrypto);

export * from './api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
