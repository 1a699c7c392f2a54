// What the modules share: the wasm core once initialised (the entry points set it, the API
// checks it), the platform's signature primitive, and how the core's errors become JavaScript
// ones.
import { MAX_CHAIN } from './constants.js';

let core = null;
let platform = null;

/**
 * Called by an entry once its wasm is ready. `jwtgate` and `jwtgate/client` may both be loaded:
 * the full core (which has every client export too) is kept once set, against a client's.
 */
export function setReady(module, crypto) {
  if (core?.RawVerifier === undefined || module.RawVerifier) core = module;
  if (crypto) platform = crypto;
}

export function wasm() {
  if (core === null) {
    throw new Error("jwtgate is not initialised: call `await init()` first (browsers and bundlers)");
  }
  return core;
}

/** The signature primitive of this runtime: `node:crypto` or WebCrypto (see crypto-*.js). */
export function crypto() {
  return platform;
}

export class JwtError extends Error {
  constructor(code, message, claim) {
    super(message);
    this.name = 'JwtError';
    this.code = code;
    if (claim != null) this.claim = claim;
  }
}

/**
 * Throws the core's error given in band, as its JSON text (the exports `jwtgate/client` shares
 * answer so, src/web/mod.rs); nothing for `undefined`, the answer when there is none.
 */
export function raise(error) {
  if (error === undefined) return;
  const info = JSON.parse(error);
  if (info.name === 'TypeError') throw new TypeError(info.message);
  throw new JwtError(info.code, info.message, info.claim);
}

/** The core's answer (text), or its error in band (a NUL, then its JSON text) thrown. */
export function answer(text) {
  if (text.charCodeAt(0) === 0) raise(text.slice(1));
  return text;
}

/**
 * `token`, or `too_large` thrown for a token the core would refuse at its default limit, before
 * it is copied into wasm memory (which never shrinks).
 */
export function fits(token) {
  raise(wasm().checkTokenLength(token.length));
  return token;
}

/**
 * Reads options the way JavaScript reads them: by property access, so class getters and
 * prototypes (`Object.create(defaults)`) count. Names found only on Object.prototype are not
 * options: a polluted prototype must not configure a verifier. Each name is read once and
 * remembered: a getter or Proxy that answers differently the second time changes nothing.
 * `get(name, fallback)` gives `fallback` for an option left undefined. `names` are the
 * enumerable names, own or inherited (Object.prototype's included), as for-in lists them.
 */
export function reader(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  // The objects a property read on `options` looks at, `options` first; a TypeError when endless.
  const levels = [];
  for (let o = options; o !== null; o = Object.getPrototypeOf(o)) {
    if (levels.length === MAX_CHAIN) throw new TypeError('options must not have a prototype chain deeper than ' + MAX_CHAIN);
    levels.push(o);
  }
  const own = levels.filter((o) => o !== Object.prototype);
  const read = new Map();
  const get = (name, fallback) => {
    if (!read.has(name)) read.set(name, own.some((o) => Object.hasOwn(o, name)) ? options[name] : undefined);
    const value = read.get(name);
    return value === undefined ? fallback : value;
  };
  const seen = new Set();
  get.names = [];
  for (const o of levels) {
    for (const name of Reflect.ownKeys(o)) {
      if (typeof name !== 'string' || seen.has(name)) continue;
      seen.add(name);
      if (Object.getOwnPropertyDescriptor(o, name)?.enumerable) get.names.push(name);
    }
  }
  return get;
}

/** Refuses an enumerable name, own or inherited, that is not in `known`: a typo, not an option. */
export function onlyKnown(get, known, what) {
  for (const name of get.names) {
    if (!known.includes(name)) throw new TypeError(`unknown ${what} option ${JSON.stringify(name)}`);
  }
}

/**
 * A call's options (`verify(token, { now })`), read as `reader` reads them and their names
 * checked: a misspelt or misplaced name (`requiredClaims` given to `verify`) is a TypeError,
 * not a call that quietly checks less than its caller thinks.
 */
export function callOptions(options, known, what) {
  // Most calls give none: no reader to build on the verify path.
  if (options === undefined) return (name, fallback) => fallback;
  const get = reader(options);
  onlyKnown(get, known, what);
  return get;
}

/**
 * The core's options as JSON text, written here from JavaScript values checked by type, never
 * by JSON.stringify on the caller's objects: that would call their toJSON(), which can turn
 * `audiences` into null or `clockSkewSeconds` into 1e14, and an options object of its own
 * into anything. Each name the core reads is read once; an option is undefined or null, a
 * string, true or false, a finite number, or an Array of strings (`requiredClaims` may also be
 * an object of required values, written the same way), and anything else (a URL, a String
 * object, an object with toJSON, NaN) is a TypeError. Every other enumerable name,
 * except `taken` (read by the caller), goes to the core unread, which refuses it by name. The
 * options come as their `reader`, the caller's own, so that a name it reads too is read once.
 */
export function coreOptions(get, taken) {
  const known = wasm().optionNames().split(',');
  const members = [];
  for (const name of get.names) {
    if (!taken.includes(name) && !known.includes(name)) members.push(`${JSON.stringify(name)}:null`);
  }
  for (const name of known) {
    const value = get(name);
    if (value !== undefined) members.push(`${JSON.stringify(name)}:${optionJson(name, value)}`);
  }
  return `{${members.join(',')}}`;
}

/** Whether JSON.stringify writes `value` as it is: null, a string, a boolean, a finite number. */
const plain = (value) => value === null || typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);

function optionJson(name, value) {
  if (plain(value)) return JSON.stringify(value);
  if (typeof value === 'number') throw new TypeError(`option ${name} cannot be ${value}`);
  if (Array.isArray(value) && !('toJSON' in value)) {
    const items = [];
    // Read once each, holes included (a hole is undefined, not a name).
    for (let i = 0, length = value.length; i < length; i += 1) {
      const item = value[i];
      if (typeof item !== 'string') throw new TypeError(`option ${name}: item ${i} must be a string, not ${what(item)}`);
      items.push(JSON.stringify(item));
    }
    return `[${items.join(',')}]`;
  }
  // The one option that is an object: requiredClaims as the Envoy filter's requires_claims.
  if (name === 'requiredClaims' && Object.prototype.toString.call(value) === '[object Object]' && !('toJSON' in value)) {
    const get = reader(value);
    return `{${get.names.map((claim) => `${JSON.stringify(claim)}:${claimValueJson(name, get(claim), 0)}`).join(',')}}`;
  }
  throw new TypeError(`option ${name} cannot be ${what(value)}: give a string, a number, true or false, or an array of strings`);
}

/**
 * A value a required claim must hold, or an array of them, written by type as the options are:
 * no toJSON, no undefined (a requirement never vanishes), nesting bounded. The core judges
 * what it accepts (no null or empty list for a claim).
 */
function claimValueJson(name, value, depth) {
  if (plain(value)) return JSON.stringify(value);
  if (Array.isArray(value) && !('toJSON' in value) && depth < MAX_CHAIN) {
    const items = [];
    for (let i = 0, length = value.length; i < length; i += 1) items.push(claimValueJson(name, value[i], depth + 1));
    return `[${items.join(',')}]`;
  }
  throw new TypeError(`option ${name}: a required value cannot be ${typeof value === 'number' ? value : what(value)}`);
}

function what(value) {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (tag !== 'Object' && tag !== 'Array') return `an object (${tag})`;
  return 'toJSON' in value ? 'an object with toJSON()' : 'an object';
}

/**
 * A JavaScript-side option in seconds, `get(name)` (an options `reader`, so the name is written
 * once): absent gives `fallback`; anything but a finite number, 0 or more (more than 0 with
 * `positive`) and at most `max`, is a TypeError.
 */
export function seconds(get, name, fallback, positive = false, max = Infinity) {
  const value = get(name);
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new TypeError(`option ${name} must be a number of seconds, ${positive ? 'more than 0' : '0 or more'}`);
  }
  if (value > max) throw new TypeError(`option ${name} must be at most ${max} seconds`);
  return value;
}

/** `promise`, or the signal's reason once it aborts, whichever comes first. */
export function abortable(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    // then(resolve, reject) settles either way, so a later rejection is never unhandled.
    promise.then(resolve, reject).then(() => signal.removeEventListener('abort', abort));
  });
}

/**
 * An AbortController whose signal aborts after `ms` with a TimeoutError, and `clear()` to stop
 * its timer.
 */
export function deadline(ms, what) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`${what} took more than ${ms / 1000} s`, 'TimeoutError')), ms);
  controller.clear = () => clearTimeout(timer);
  return controller;
}

/**
 * `f(signal)` bounded by `timeout` (a `deadline`): its result, or the deadline's TimeoutError
 * even when `f` ignores the signal. The timer is cleared either way.
 */
export async function within(timeout, f) {
  try {
    return await abortable(Promise.resolve().then(() => f(timeout.signal)), timeout.signal);
  } finally {
    timeout.clear();
  }
}
