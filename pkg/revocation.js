// Deny lists of `jti`s in a key-value store, for the `revoked` option of a verifier: an entry
// lives until the token's `exp`, after which the token is refused as expired anyway. Each
// adapter keeps a small local cache so a hot path does not ask the store on every request.
import { MAX_TIMER_SECONDS } from './constants.js';
import { deadline, seconds, within } from './state.js';

const MAX_CACHE_SIZE = 100000;

/**
 * A bounded cache of answers: at most `size` entries, each for at most `ttlMs`. A "revoked"
 * answer never turns back, so it is kept as long; a "not revoked" one is what the bound is for.
 */
function answers(size, ttlMs) {
  const entries = new Map();
  return {
    get(jti) {
      const hit = entries.get(jti);
      if (hit === undefined) return undefined;
      if (Date.now() < hit.until) return hit.revoked;
      entries.delete(jti);
      return undefined;
    },
    set(jti, revoked) {
      if (size === 0 || ttlMs === 0) return;
      entries.delete(jti);
      // A Map iterates in insertion order: the first key is the oldest.
      while (entries.size >= size) entries.delete(entries.keys().next().value);
      entries.set(jti, { revoked, until: Date.now() + ttlMs });
    },
  };
}

function common(options, what) {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what} options must be an object`);
  const { cacheSeconds, cacheSize = 1000, prefix = 'revoked:', timeoutSeconds, ...rest } = options;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`unknown ${what} option ${JSON.stringify(unknown)}`);
  if (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > MAX_CACHE_SIZE) {
    throw new TypeError(`option cacheSize must be a whole number from 0 to ${MAX_CACHE_SIZE}`);
  }
  if (typeof prefix !== 'string') throw new TypeError('option prefix must be a string');
  const times = { cacheSeconds, timeoutSeconds };
  const get = (name) => times[name];
  const ttl = seconds(get, 'cacheSeconds', 5);
  // A revocation must reach every instance soon: the local cache is short by design.
  if (ttl > 300) throw new TypeError('option cacheSeconds must be 300 or less');
  return {
    cache: answers(cacheSize, ttl * 1000),
    prefix,
    // Bounded as setTimeout can hold it: past that, Node waits 1 ms and every store is down.
    timeoutMs: seconds(get, 'timeoutSeconds', 2, true, MAX_TIMER_SECONDS) * 1000,
  };
}

/** `(jti, exp)` or `(claims)` to the jti and exp to write, checked. */
function target(jtiOrClaims, exp) {
  const [jti, until] = typeof jtiOrClaims === 'object' && jtiOrClaims !== null ? [jtiOrClaims.jti, jtiOrClaims.exp] : [jtiOrClaims, exp];
  if (typeof jti !== 'string' || jti === '') throw new TypeError('revoke needs a jti (a non-empty string)');
  if (typeof until !== 'number' || !Number.isFinite(until)) throw new TypeError('revoke needs the token\'s exp (seconds since the epoch)');
  return { jti, exp: Math.ceil(until) };
}

function adapter({ cache, prefix, timeoutMs }, read, write) {
  return {
    /** For the `revoked` option: whether `jti` is on the list; throws when the store cannot say. */
    async revoked(jti) {
      const cached = cache.get(jti);
      if (cached !== undefined) return cached;
      // A revoke() here while the store answered wins: that answer may predate it, and
      // cached over it would let the token through here for cacheSeconds.
      const revoked = (await within(deadline(timeoutMs, 'the revocation store'), () => read(prefix + jti))) || cache.get(jti) === true;
      cache.set(jti, revoked);
      return revoked;
    },
    /** Puts a token's `jti` on the list until its `exp`: `revoke(claims)` or `revoke(jti, exp)`. */
    async revoke(jtiOrClaims, exp) {
      const t = target(jtiOrClaims, exp);
      // Past its exp a token is refused as expired: nothing to keep.
      if (t.exp > Date.now() / 1000) await within(deadline(timeoutMs, 'the revocation store'), () => write(prefix + t.jti, t.exp));
      cache.set(t.jti, true);
    },
  };
}

/**
 * A deny list in a Cloudflare Workers KV namespace: key = prefix + jti, written with
 * `expiration` at the token's `exp` (KV's minimum of 60 s from now applies to tokens closer to
 * their end than that).
 */
export function kvRevocation(namespace, options = {}) {
  if (typeof namespace?.get !== 'function' || typeof namespace?.put !== 'function') {
    throw new TypeError('kvRevocation needs a KV namespace (get, put)');
  }
  return adapter(
    common(options, 'kvRevocation'),
    async (key) => (await namespace.get(key)) !== null,
    (key, exp) => namespace.put(key, '1', { expiration: Math.max(exp, Math.ceil(Date.now() / 1000) + 60) }),
  );
}

/**
 * A deny list in Redis, through a client you pass in: node-redis (v4 or later) or ioredis.
 * Key = prefix + jti, set with `EXAT` at the token's `exp` (Redis 6.2 or later).
 */
export function redisRevocation(client, options = {}) {
  let command;
  if (typeof client?.call === 'function') command = (args) => client.call(...args);
  else if (typeof client?.sendCommand === 'function') command = (args) => client.sendCommand(args);
  else throw new TypeError('redisRevocation needs a node-redis or ioredis client');
  // Only Redis's own replies count: a client whose sendCommand answers nothing (node-redis's
  // legacy(), which hands replies to a callback) would clear every token and confirm no write.
  return adapter(
    common(options, 'redisRevocation'),
    async (key) => {
      const reply = String(await command(['EXISTS', key]));
      if (reply !== '0' && reply !== '1') throw new Error(`redis answered EXISTS with ${reply}`);
      return reply === '1';
    },
    async (key, exp) => {
      const reply = String(await command(['SET', key, '1', 'EXAT', String(exp)]));
      if (reply !== 'OK') throw new Error(`redis answered SET with ${reply}`);
    },
  );
}
