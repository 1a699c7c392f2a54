// What the modules share: whether the wasm core is initialised (the entry points set it, the
// API checks it) and how its errors become JavaScript ones.
import * as core from './wasm/jwtgate.js';

let ready = false;

export function setReady() {
  ready = true;
}

export function wasm() {
  if (!ready) {
    throw new Error("jwtgate is not initialised: call `await init()` first (browsers and bundlers)");
  }
  return core;
}

export class JwtError extends Error {
  constructor(code, message, claim) {
    super(message);
    this.name = 'JwtError';
    this.code = code;
    if (claim != null) this.claim = claim;
  }
}

/** Runs `f`, turning an error from the core into its JavaScript error. */
export function call(f) {
  try {
    return f();
  } catch (e) {
    return rethrow(e);
  }
}

function rethrow(e) {
  if (typeof e === 'string' && e.startsWith('{')) {
    const info = JSON.parse(e);
    if (info.name === 'TypeError') throw new TypeError(info.message);
    throw new JwtError(info.code, info.message, info.claim);
  }
  throw e;
}
