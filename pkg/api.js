// The JavaScript API over the Rust core. Values cross as JSON text; errors cross as JSON and
// become JwtError (a token, key set or fetch problem) or TypeError (a caller mistake).
import { JwtError, call, wasm } from './state.js';

export { JwtError };
export { TokenSession } from './session.js';

function asToken(token) {
  if (typeof token !== 'string') throw new JwtError('malformed', 'a token must be a string');
  return token;
}

const nowSeconds = () => Date.now() / 1000;

/** The header and payload of a token, without verifying anything. */
export function decode(token) {
  const text = call(() => wasm().decode(asToken(token)));
  const cut = text.indexOf('\0');
  return { header: JSON.parse(text.slice(0, cut)), payload: JSON.parse(text.slice(cut + 1)) };
}

/** Seconds until `exp` (negative once past), or null when the token has no `exp`. */
export function expiresIn(token, now = nowSeconds()) {
  const left = call(() => wasm().expiresIn(asToken(token), now));
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
  return call(() => new (wasm().RawVerifier)(jwks, policy));
}

function verifyWith(rawVerifier, token, now) {
  const text = call(() => rawVerifier.verify(asToken(token), now ?? nowSeconds()));
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

// Beside a shared copy of the keys: when it was fetched, so its freshness follows cacheSeconds
// whatever the cache's own HTTP rules. The copy is kept a day longer, so that a new isolate has
// the last good keys when the issuer is down, as a long-lived one would.
const FETCHED_AT = 'jwtgate-fetched-at';
const KEEP_STALE_SECONDS = 86400;

/** Verifies tokens against a key set fetched from `jwksUri`, cached and re-fetched as needed. */
export class RemoteVerifier {
  #uri;
  #policy;
  #fetch;
  #cache;
  #cacheMs;
  #cooldownMs;
  #raw = null;
  #fetchedAt = -Infinity;
  #refetchedAt = -Infinity;
  #inflight = null;

  constructor({
    jwksUri,
    cacheSeconds = 600,
    cooldownSeconds = 30,
    fetch = globalThis.fetch,
    cache = globalThis.caches?.default ?? false,
    ...policy
  } = {}) {
    if (typeof jwksUri !== 'string' && !(jwksUri instanceof URL)) {
      throw new TypeError('RemoteVerifier needs jwksUri');
    }
    if (typeof fetch !== 'function') throw new TypeError('no fetch here: pass one as the fetch option');
    for (const [name, v] of [['cacheSeconds', cacheSeconds], ['cooldownSeconds', cooldownSeconds]]) {
      if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`option ${name} must be a number, 0 or more`);
    }
    if (cache !== false && !['match', 'put', 'delete'].every((m) => typeof cache?.[m] === 'function')) {
      throw new TypeError('option cache must be a Cache (match, put, delete) or false');
    }
    this.#uri = String(jwksUri);
    this.#policy = policyJson(policy);
    // Called bare: workerd's fetch throws "Illegal invocation" when called on another object.
    this.#fetch = (...args) => fetch(...args);
    this.#cache = cache || null;
    this.#cacheMs = cacheSeconds * 1000;
    this.#cooldownMs = cooldownSeconds * 1000;
    // Check the options now, not at the first request: a typo should fail where it is made.
    call(() => wasm().checkOptions(this.#policy));
  }

  /** The verified claims, or a rejected JwtError. */
  async verify(token, { now } = {}) {
    asToken(token);
    if (this.#raw === null || Date.now() - this.#fetchedAt >= this.#cacheMs) {
      try {
        await this.#refresh(false);
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
    try {
      await this.#refresh(true);
    } catch {
      // The fetch failed; the token is judged on the keys we have.
    }
    return verifyWith(this.#raw, token, now);
  }

  #mayRefetch() {
    return this.#inflight?.force || Date.now() - this.#refetchedAt >= this.#cooldownMs;
  }

  /**
   * One load at a time: concurrent callers share it. A forced load goes to the issuer, past a
   * shared copy that may predate a rotation, so it queues behind a load that may read one.
   */
  #refresh(force) {
    const running = this.#inflight;
    if (running === null || (force && !running.force)) {
      if (force) this.#refetchedAt = Date.now();
      const load = Promise.resolve(running)
        .catch(() => {})
        .then(() => this.#load(force))
        .finally(() => {
          if (this.#inflight === load) this.#inflight = null;
        });
      load.force = force || this.#cache === null;
      this.#inflight = load;
    }
    return this.#inflight;
  }

  async #load(force) {
    let shared = force ? null : await this.#read();
    if (shared && Date.now() - shared.at < this.#cacheMs) {
      if (await this.#use(shared)) return;
      shared = null;
    }
    let text;
    try {
      const response = await this.#fetch(this.#uri, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
      this.#setKeys(text);
    } catch (e) {
      // The issuer is down or sent junk: a copy another isolate saved beats older keys or none.
      if (shared && shared.at > this.#fetchedAt && (await this.#use(shared))) return;
      if (e instanceof JwtError) throw e;
      throw new JwtError('jwks_unavailable', `key set could not be fetched: ${e.message}`);
    }
    this.#fetchedAt = Date.now();
    if (this.#cache) {
      const headers = {
        'content-type': 'application/json',
        'cache-control': `max-age=${Math.ceil(this.#cacheMs / 1000) + KEEP_STALE_SECONDS}`,
        [FETCHED_AT]: String(this.#fetchedAt),
      };
      await this.#cached('put', this.#uri, new Response(text, { headers }));
    }
  }

  #setKeys(text) {
    if (this.#raw === null) this.#raw = raw(text, this.#policy);
    else call(() => this.#raw.setKeys(text));
  }

  /** The shared copy, as `{ text, at }`, or null; one without a usable fetch time is dropped. */
  async #read() {
    const hit = this.#cache && (await this.#cached('match', this.#uri));
    if (!hit) return null;
    try {
      const at = Number(hit.headers.get(FETCHED_AT) ?? NaN);
      const text = await hit.text();
      if (hit.ok && at > 0) return { text, at };
    } catch {
      // Unreadable: as bad as corrupt.
    }
    await this.#cached('delete', this.#uri);
    return null;
  }

  /** Takes the keys of a shared copy; one that does not parse is dropped, never trusted. */
  async #use({ text, at }) {
    try {
      this.#setKeys(text);
    } catch {
      await this.#cached('delete', this.#uri);
      return false;
    }
    // A clock ahead of ours, or a forged time, must not stretch the copy's freshness.
    this.#fetchedAt = Math.min(at, Date.now());
    return true;
  }

  /** A cache that fails is a cache that missed: verification goes on over the network. */
  async #cached(method, ...args) {
    try {
      return await this.#cache[method](...args);
    } catch {
      return undefined;
    }
  }
}
