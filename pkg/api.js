// The JavaScript API over the Rust core. Values cross as JSON text; errors cross as JSON and
// become JwtError (a token, key set or fetch problem) or TypeError (a caller mistake).
import { wasm } from './state.js';

export class JwtError extends Error {
  constructor(code, message, claim) {
    super(message);
    this.name = 'JwtError';
    this.code = code;
    if (claim != null) this.claim = claim;
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

function asToken(token) {
  if (typeof token !== 'string') throw new JwtError('malformed', 'a token must be a string');
  return token;
}

const nowSeconds = () => Date.now() / 1000;

/** The header and payload of a token, without verifying anything. */
export function decode(token) {
  let text;
  try {
    text = wasm().decode(asToken(token));
  } catch (e) {
    rethrow(e);
  }
  const cut = text.indexOf('\0');
  return { header: JSON.parse(text.slice(0, cut)), payload: JSON.parse(text.slice(cut + 1)) };
}

/** Seconds until `exp` (negative once past), or null when the token has no `exp`. */
export function expiresIn(token, now = nowSeconds()) {
  let left;
  try {
    left = wasm().expiresIn(asToken(token), now);
  } catch (e) {
    rethrow(e);
  }
  return left ?? null;
}

/**
 * Whether the token has expired, or will within `leeway` seconds. A token without `exp` never
 * expires; one that cannot be read counts as expired, so the caller refreshes rather than sends it.
 */
export function isExpired(token, { leeway = 0, now = nowSeconds() } = {}) {
  let left;
  try {
    left = expiresIn(token, now);
  } catch {
    return true;
  }
  return left !== null && left <= leeway;
}

function policyJson(policy) {
  return JSON.stringify(policy);
}

function jwksText(jwks) {
  if (typeof jwks === 'string') return jwks;
  if (jwks && typeof jwks === 'object') return JSON.stringify(jwks);
  throw new TypeError('jwks must be a JWKS object or its JSON text');
}

function raw(jwks, policy) {
  try {
    return new (wasm().RawVerifier)(jwks, policy);
  } catch (e) {
    rethrow(e);
  }
}

function verifyWith(rawVerifier, token, now) {
  let text;
  try {
    text = rawVerifier.verify(asToken(token), now ?? nowSeconds());
  } catch (e) {
    rethrow(e);
  }
  return JSON.parse(text);
}

/** Verifies tokens against a key set you hold. */
export class Verifier {
  #raw;

  constructor({ jwks, ...policy } = {}) {
    this.#raw = raw(jwksText(jwks), policyJson(policy));
  }

  /** The verified claims, or a thrown JwtError. */
  verify(token, { now } = {}) {
    return verifyWith(this.#raw, token, now);
  }
}

/** Verifies tokens against a key set fetched from `jwksUri`, cached and re-fetched as needed. */
export class RemoteVerifier {
  #uri;
  #policy;
  #fetch;
  #cacheMs;
  #cooldownMs;
  #raw = null;
  #fetchedAt = -Infinity;
  #refetchedAt = -Infinity;
  #inflight = null;

  constructor({ jwksUri, cacheSeconds = 600, cooldownSeconds = 30, fetch = globalThis.fetch, ...policy } = {}) {
    if (typeof jwksUri !== 'string' && !(jwksUri instanceof URL)) {
      throw new TypeError('RemoteVerifier needs jwksUri');
    }
    if (typeof fetch !== 'function') throw new TypeError('no fetch here: pass one as the fetch option');
    for (const [name, v] of [['cacheSeconds', cacheSeconds], ['cooldownSeconds', cooldownSeconds]]) {
      if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`option ${name} must be a number, 0 or more`);
    }
    this.#uri = String(jwksUri);
    this.#policy = policyJson(policy);
    this.#fetch = fetch;
    this.#cacheMs = cacheSeconds * 1000;
    this.#cooldownMs = cooldownSeconds * 1000;
    // Check the options now, not at the first request: a typo should fail where it is made.
    try {
      wasm().checkOptions(this.#policy);
    } catch (e) {
      rethrow(e);
    }
  }

  /** The verified claims, or a rejected JwtError. */
  async verify(token, { now } = {}) {
    asToken(token);
    if (this.#raw === null || Date.now() - this.#fetchedAt >= this.#cacheMs) {
      try {
        await this.#refresh();
      } catch (e) {
        // Stale keys serve on when the issuer is down; no keys at all cannot.
        if (this.#raw === null) throw e;
      }
    }
    try {
      return verifyWith(this.#raw, token, now);
    } catch (e) {
      if (!(e instanceof JwtError && e.code === 'unknown_key' && this.#mayRefetch())) throw e;
    }
    // A kid we have not seen: perhaps the issuer rotated. One re-fetch per cooldown, shared.
    if (this.#inflight === null) this.#refetchedAt = Date.now();
    try {
      await this.#refresh();
    } catch {
      // The fetch failed; the token is judged on the keys we have.
    }
    return verifyWith(this.#raw, token, now);
  }

  #mayRefetch() {
    return this.#inflight !== null || Date.now() - this.#refetchedAt >= this.#cooldownMs;
  }

  /** One fetch at a time: concurrent callers share it. */
  #refresh() {
    this.#inflight ??= this.#load().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #load() {
    let text;
    try {
      const response = await this.#fetch(this.#uri, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } catch (e) {
      throw new JwtError('jwks_unavailable', `key set could not be fetched: ${e.message}`);
    }
    if (this.#raw === null) {
      this.#raw = raw(text, this.#policy);
    } else {
      try {
        this.#raw.setKeys(text);
      } catch (e) {
        rethrow(e);
      }
    }
    this.#fetchedAt = Date.now();
  }
}
