// decode, expiresIn and isExpired: what `jwtgate` and `jwtgate/client` share. Values cross as
// JSON text; errors cross as JSON, in band, and become JwtError or TypeError (see state.js).
import { asTime } from './client-wasm.js';
import { EXPIRY } from './constants.js';
import { JwtError, answer, fits, onlyKnown, reader, seconds, wasm } from './state.js';

export function asToken(token) {
  if (typeof token !== 'string') throw new JwtError('malformed', 'a token must be a string');
  return token;
}


export const nowSeconds = () => Date.now() / 1000;
// An SPA decodes the token it holds on every render: the last token's checked text is kept, so
// a repeat costs only the JSON.parse that gives the caller objects of its own.
let lastToken;
let lastText;

/** The header and payload of a token, without verifying anything. */
export function decode(token) {
  if (token !== lastToken) {
    lastText = wasm().decode(fits(asToken(token)));
    lastToken = token;
  }
  const text = lastText;
  const cut = answer(text).indexOf('\0');
  return { header: JSON.parse(text.slice(0, cut)), payload: JSON.parse(text.slice(cut + 1)) };
}

// The core explains a NaN from `expiresIn` through a RawSession's error slot (operation EXPIRY,
// src/web/session.rs): an export of its own cost the client 0.13 KB gzipped.
let explainer;

/** Throws the error behind `expiresIn(token, time)`'s NaN. */
function explain(token, time) {
  explainer ??= new (wasm().RawSession)(0);
  explainer.op(EXPIRY, 0, time, token);
  // Never reached while both paths run the same core check; if they ever parted, a NaN must
  // not read as a time left (isExpired would call the token fresh).
  throw new Error('jwtgate: expiresIn refused a token without a reason');
}

/** Seconds until `exp` (negative once past), or null when the token has no `exp`. */
export function expiresIn(token, now = nowSeconds()) {
  const time = asTime(now);
  const left = wasm().expiresIn(fits(asToken(token)), time);
  // NaN: refused, and the core says why; Infinity: no `exp`.
  if (left !== left) explain(token, time);
  return left === Infinity ? null : left;
}

/**
 * Whether the token has expired, or will within `leeway` seconds. A token without `exp` never
 * expires; one that cannot be read counts as expired, so the caller refreshes rather than sends
 * it. A `leeway` or `now` that is not a number is the caller's mistake: a TypeError; so are
 * options that are not an object of those two (`isExpired(t, 30)`, `{ leway: 30 }`), which
 * destructured would be no margin at all.
 */
export function isExpired(token, options = {}) {
  // What state.js's callOptions does, written out: it is not otherwise in jwtgate/client's
  // bundle, where it cost 19 bytes gzipped more.
  const get = reader(options);
  onlyKnown(get, ['leeway', 'now'], 'isExpired');
  const margin = seconds(get, 'leeway', 0);
  let left;
  try {
    left = expiresIn(token, get('now', nowSeconds()));
  } catch (e) {
    if (e instanceof JwtError) return true;
    throw e;
  }
  return left !== null && left <= margin;
}

