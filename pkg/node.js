// Node: the wasm is read from disk and compiled at import, so nothing needs initialising.
// Signatures are verified by node:crypto.
import { readFileSync } from 'node:fs';
import { startFull } from './verifier-wasm.js';
import { nodeCrypto } from './crypto-node.js';
import { setReady } from './state.js';

setReady(startFull(new WebAssembly.Module(readFileSync(new URL('./wasm/jwtgate_bg.wasm', import.meta.url)))), nodeCrypto);

export * from './api.js';

/** Already done in Node; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
