// jwtgate/client in Cloudflare Workers and workerd: the .wasm comes as a compiled module.
import module from './wasm-client/jwtgate_client_bg.wasm';
import { start } from './client-wasm.js';
import { setReady } from './state.js';

setReady(start(module));

export * from './client-api.js';

/** Already done in workers; kept so that code shared with browsers runs unchanged. */
export default async function init() {}
