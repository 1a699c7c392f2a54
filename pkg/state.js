// Whether the wasm core is initialised; the entry points set it, the API checks it.
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
