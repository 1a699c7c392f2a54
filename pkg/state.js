// What the modules share: the wasm core once initialised (the entry points set it, the API
// checks it), the platform's signature primitive, and how the core's errors become JavaScript
// ones.

let core = null;
let platform = null;

/**
 * Called by an entry once its wasm is ready. `jwtgate` and `jwtgate/client` may both be loaded:
 * the full core (which has every client export too) is kept once set.
 */
export function setReady(module, crypto) {
  if (core === null || module.RawVerifier) core = module;
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

/**
 * Throws `too_large` for a token string the core would refuse at its default limit, before the
 * string is copied into wasm memory (which never shrinks).
 */
export function fits(token) {
  call(() => wasm().checkTokenLength(token.length));
}

/**
 * Reads options the way JavaScript reads them: by property access, so class getters and
 * prototypes (`Object.create(defaults)`) count. Names found only on Object.prototype are not
 * options: a polluted prototype must not configure a verifier.
 */
export function reader(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  return (name) => {
    for (let o = options; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
      if (Object.hasOwn(o, name)) return options[name];
    }
    return undefined;
  };
}

/** Refuses an enumerable name, own or inherited, that is not in `known`: a typo, not an option. */
export function onlyKnown(options, known, what) {
  for (const name in options) {
    if (!known.includes(name)) throw new TypeError(`unknown ${what} option ${JSON.stringify(name)}`);
  }
}

/**
 * The core's options as JSON text: each name the core reads, by property access, and every
 * other enumerable name (own or inherited) except `taken`, which the caller reads itself, so
 * that the core refuses a typo. What JSON cannot carry is refused here, not lost: NaN and
 * Infinity would become null, a function would vanish, and the core would read either as
 * "absent", that is the default or no check at all.
 */
export function coreOptions(options, taken) {
  const get = reader(options);
  // Without a prototype: an inherited read-only name must not make the copy throw.
  const out = Object.create(null);
  for (const name in options) if (!taken.includes(name)) out[name] = options[name];
  for (const name of wasm().optionNames().split(',')) out[name] = get(name);
  return JSON.stringify(out, function unsendable(key, value) {
    const number = typeof value === 'number' || value instanceof Number;
    // `this[key]` is the value before its toJSON(): one that turns into nothing is refused too.
    const vanished = value === undefined && this[key] !== undefined;
    if (vanished || (number ? !Number.isFinite(Number(value)) : ['function', 'symbol', 'bigint'].includes(typeof value))) {
      const what = vanished ? 'a value whose toJSON() gives nothing' : typeof value === 'symbol' ? 'a symbol' : String(value);
      throw new TypeError(`option ${Array.isArray(this) ? 'item' : key} cannot be ${what}`);
    }
    return value;
  });
}

/** A JavaScript-side option in seconds: absent gives `fallback`; anything but a finite number, 0 or more (more than 0 with `positive`), is a TypeError. */
export function seconds(name, value, fallback, positive = false) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new TypeError(`option ${name} must be a number of seconds, ${positive ? 'more than 0' : '0 or more'}`);
  }
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

/** An AbortSignal that aborts after `ms` with a TimeoutError, and `clear()` to stop its timer. */
export function deadline(ms, what) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`${what} took more than ${ms / 1000} s`, 'TimeoutError')), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer), abort: (reason) => controller.abort(reason) };
}
