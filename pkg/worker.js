// Cloudflare Workers and workerd: the bundler hands the .wasm over as a compiled module.
// Signatures are verified by WebCrypto.
import module from './wasm/jwtgate_bg.wasm';
import { startFull } from './verifier-wasm.js';
import { webCrypto } from './crypto-web.js';
import { setReady } from './state.js';

setReady(startFull(module), webCrypto);

export * from './api.js';

/** Already done in workers; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
