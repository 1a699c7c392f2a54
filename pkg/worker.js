// Cloudflare Workers and workerd: the bundler hands the .wasm over as a compiled module.
import module from './wasm/jwtgate_bg.wasm';
import { initSync } from './wasm/jwtgate.js';
import { setReady } from './state.js';

initSync({ module });
setReady();

export * from './api.js';

/** Already done in workers; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
