// The JavaScript API over the Rust core. Values cross as JSON text; errors cross as JSON and
// become JwtError (a token, key set or fetch problem) or TypeError (a caller mistake). The core
// decides everything about a token; the platform (crypto-node.js, crypto-web.js) only says
// whether a signature verifies under the key the core chose.
import { AUTH_OPTIONS, authenticate, configure } from './authenticate.js';
import { MAX_IMPORTED, MAX_RETRY_SECONDS, MAX_STALE_LIMIT, MAX_STALE_SECONDS, MAX_TIMER_SECONDS } from './constants.js';
import { JwtError, callOptions, coreOptions, crypto, deadline, reader, seconds, wasm, within } from './state.js';
import { asToken, nowSeconds } from './token.js';

export { JwtError };
export { refusal } from './authenticate.js';
export { decode, expiresIn, isExpired } from './token.js';
export { TokenSession } from './session.js';

function jwksText(jwks) {
  if (jwks && typeof jwks === 'object') jwks = JSON.stringify(jwks);
  if (typeof jwks !== 'string') throw new TypeError('jwks must be a JWKS object or its JSON text');
  // Held to the core's limit before it is copied into wasm memory, which never shrinks, as a
  // fetched key set is (readCapped).
  wasm().checkJwksLength(jwks.length);
  return jwks;
}


// Keys the platform imported, per JWK and algorithm, shared by every verifier: an import costs
// more than a verification. The oldest goes when the map is full (MAX_IMPORTED).
const imported = new Map();

/** The platform's key for a JWK and algorithm; throws when the platform will not take it. */
function platformKey(platform, alg, jwk) {
  const id = `${alg} ${jwk}`;
  let key = imported.get(id);
  if (key === undefined) {
    key = platform.importKey(alg, jwk);
    if (imported.size >= MAX_IMPORTED) imported.delete(imported.keys().next().value);
    imported.set(id, key);
  }
  return key;
}

/**
 * The core's plan for a token: `[alg, data, signature, ...key positions]`, or its verdict
 * thrown when the token fails before its signature (or no key can have made it).
 */
function plan(platform, keys, token, now) {
  if (platform === null) {
    throw new Error('jwtgate: no signature primitive here (WebCrypto needs a secure context: https or localhost)');
  }
  // Measured before the copy into wasm memory, against this verifier's maxTokenBytes.
  keys.checkLength(asToken(token).length);
  const [alg, ...at] = keys.prepare(token, now).split(',');
  // The core checked the token's structure: the last dot ends the signing input, and what
  // follows is strict base64url.
  const dot = token.lastIndexOf('.');
  return [alg, platform.bytes(token.slice(0, dot)), platform.b64url(token.slice(dot + 1)), at.map(Number)];
}

// Whether the signature verifies under the key `jwk`. A key the core accepted and the platform
// will not take verifies nothing, as a signature the platform throws on.
function check(platform, alg, jwk, data, signature) {
  try {
    return platform.verify(alg, platformKey(platform, alg, jwk), data, signature) === true;
  } catch {
    return false;
  }
}

async function checkAsync(platform, alg, jwk, data, signature) {
  try {
    return (await platform.verify(alg, await platformKey(platform, alg, jwk), data, signature)) === true;
  } catch {
    return false;
  }
}

function finish(keys, token, hit, now) {
  return JSON.parse(keys.finish(token, hit, now));
}

/** `verify` where the platform verifies synchronously (node:crypto). */
function verifySyncWith(keys, token, now = nowSeconds()) {
  const platform = crypto();
  if (platform !== null && !platform.sync) {
    throw new TypeError('verifySync needs node:crypto (Node); use await verify() here');
  }
  const [alg, data, signature, at] = plan(platform, keys, token, now);
  const hit = at.find((i) => check(platform, alg, keys.publicKey(i), data, signature));
  return finish(keys, token, hit ?? -1, now);
}

async function verifyWith(keys, token, now = nowSeconds()) {
  const platform = crypto();
  if (platform?.sync) return verifySyncWith(keys, token, now);
  const [alg, data, signature, at] = plan(platform, keys, token, now);
  let hit = -1;
  for (const i of at) {
    if (await checkAsync(platform, alg, keys.publicKey(i), data, signature)) {
      hit = i;
      break;
    }
  }
  return finish(keys, token, hit, now);
}

/**
 * A signature that is not a token's, through the package's own path: the core's checks of key
 * and form, then the platform. For the Wycheproof suites; not part of the API.
 */
export async function _checkSignature(jwk, alg, data, signature) {
  let keys;
  try {
    keys = new (wasm().RawVerifier)(JSON.stringify({ keys: [jwk] }), JSON.stringify({ algorithms: [alg] }));
  } catch (e) {
    // The core refused the key: null, not a verdict on the signature.
    if (e instanceof JwtError) return null;
    throw e;
  }
  let at;
  try {
    at = Number(keys.candidates(alg, signature).split(',')[1]);
  } catch (e) {
    if (e instanceof JwtError) return false;
    throw e;
  }
  const platform = crypto();
  // Awaits what node:crypto answers at once too.
  return checkAsync(platform, alg, keys.publicKey(at), data, signature);
}

/** Verifies tokens against a key set you hold. */
export class Verifier {
  #raw;

  constructor(options = {}) {
    const policy = coreOptions(reader(options), ['jwks', ...AUTH_OPTIONS]);
    this.#raw = new (wasm().RawVerifier)(jwksText(reader(options)('jwks')), policy);
    configure(this, options);
  }

  /** `{ claims }` for a request with a good bearer token, or `{ response }`: the refusal. */
  authenticate(request, options) {
    return authenticate(this, request, options);
  }

  /** Resolves to the verified claims, or rejects with a JwtError. */
  async verify(token, options) {
    return verifyWith(this.#raw, token, callOptions(options, ['now'], 'verify')('now'));
  }

  /** The verified claims, or a thrown JwtError: Node only, where node:crypto is synchronous. */
  verifySync(token, options) {
    return verifySyncWith(this.#raw, token, callOptions(options, ['now'], 'verifySync')('now'));
  }
}

// Beside a shared copy of the keys: when it was fetched, so its freshness follows cacheSeconds
// whatever the cache's own HTTP rules. Keys, in memory or in that copy, serve past cacheSeconds
// only while the issuer cannot be reached, and for maxStaleSeconds (a day by default) at most,
// counted from their own fetch time whether or not the cache honours max-age (browser cache
// storage does not): a key the issuer withdrew during an outage is not trusted for ever
// (MAX_STALE_SECONDS, MAX_STALE_LIMIT).
const FETCHED_AT = 'jwtgate-fetched-at';
const REMOTE_OPTIONS = ['jwksUri', 'cacheSeconds', 'cooldownSeconds', 'fetchTimeoutSeconds', 'retrySeconds', 'maxStaleSeconds', 'fetch', 'cache', ...AUTH_OPTIONS];

/**
 * Verifies tokens against a key set fetched from `jwksUri`, or from the `jwks_uri` of the
 * issuer's discovery document, cached and re-fetched as needed.
 */
export class RemoteVerifier {
  #uri = null;
  // Without jwksUri: the issuer, and where its discovery document is ([OIDC's, RFC 8414's]).
  #issuer = null;
  #discovery = null;
  // The key set URL the last discovery document named, and when that document was fetched.
  #document = null;
  #policy;
  #fetch;
  #cache;
  #cacheMs;
  #cooldownMs;
  #timeoutMs;
  #retryMs;
  #keepMs;
  #raw = null;
  #fetchedAt = -Infinity;
  #refetchedAt = -Infinity;
  #failures = 0;
  #retryAt = -Infinity;
  #lastError = null;
  #inflight = null;
  #saving = null;

  constructor(options = {}) {
    const get = reader(options);
    const jwksUri = get('jwksUri');
    if (jwksUri === undefined) {
      // jwksUri wins; without it the issuer's discovery document names the key set.
      const issuer = get('issuer');
      if (typeof issuer !== 'string') throw new TypeError('RemoteVerifier needs jwksUri, or an issuer to discover it from');
      this.#discovery = wasm().discoveryUrls(issuer).split('\n');
      this.#issuer = issuer;
    } else if (typeof jwksUri === 'string' || jwksUri instanceof URL) {
      this.#uri = String(jwksUri);
    } else {
      throw new TypeError('option jwksUri must be a URL (leave it out to discover it from issuer)');
    }
    const fetch = get('fetch', globalThis.fetch);
    if (typeof fetch !== 'function') throw new TypeError('no fetch here: pass one as the fetch option');
    const cache = get('cache') === undefined ? (globalThis.caches?.default ?? false) : get('cache');
    if (cache !== false && !['match', 'put', 'delete'].every((m) => typeof cache?.[m] === 'function')) {
      throw new TypeError('option cache must be a Cache (match, put, delete) or false');
    }
    this.#cacheMs = seconds(get, 'cacheSeconds', 600) * 1000;
    this.#cooldownMs = seconds(get, 'cooldownSeconds', 30) * 1000;
    this.#timeoutMs = seconds(get, 'fetchTimeoutSeconds', 5, true, MAX_TIMER_SECONDS) * 1000;
    this.#retryMs = seconds(get, 'retrySeconds', 1, false, MAX_RETRY_SECONDS) * 1000;
    this.#keepMs = this.#cacheMs + seconds(get, 'maxStaleSeconds', MAX_STALE_SECONDS, false, MAX_STALE_LIMIT) * 1000;
    this.#policy = coreOptions(get, REMOTE_OPTIONS);
    // Called bare: workerd's fetch throws "Illegal invocation" when called on another object.
    this.#fetch = (...args) => fetch(...args);
    this.#cache = cache || null;
    // Check the options now, not at the first request: a typo should fail where it is made.
    wasm().checkOptions(this.#policy);
    configure(this, options);
  }

  /** `{ claims }` for a request with a good bearer token, or `{ response }`: the refusal. */
  authenticate(request, options) {
    return authenticate(this, request, options, true);
  }

  /**
   * The verified claims, or a rejected JwtError. `waitUntil`, if given, is handed the promise
   * of a background refresh (in Workers, `ctx.waitUntil.bind(ctx)`), so that the runtime lets
   * it finish after the response.
   */
  async verify(token, options) {
    const get = callOptions(options, ['now', 'waitUntil'], 'verify');
    const now = get('now');
    const waitUntil = get('waitUntil');
    asToken(token);
    if (waitUntil !== undefined && typeof waitUntil !== 'function') throw new TypeError('waitUntil must be a function');
    if (this.#raw !== null && Date.now() - this.#fetchedAt >= this.#keepMs) {
      // Past the staleness bound the last keys go: no key set at all until a fetch succeeds.
      this.#raw = null;
    }
    if (this.#raw === null) {
      await this.#refresh(false);
      this.#handOff(waitUntil);
    } else if (Date.now() - this.#fetchedAt >= this.#cacheMs && Date.now() >= this.#retryAt) {
      // Stale: the keys in hand serve while a refresh runs in the background, so an issuer
      // that hangs or is down costs no verification its last keys can make.
      // Its put of the keys it fetched too, which it does not wait for.
      const refresh = this.#refresh(false)
        .catch(() => {})
        .then(() => this.#handOff(waitUntil));
      waitUntil?.(refresh);
    }
    try {
      return await verifyWith(this.#raw, token, now);
    } catch (e) {
      if (!(e instanceof JwtError && e.code === 'unknown_key' && this.#mayRefetch())) throw e;
    }
    // A kid we have not seen: perhaps the issuer rotated. One re-fetch per cooldown, shared.
    try {
      await this.#refresh(true);
      this.#handOff(waitUntil);
    } catch (e) {
      // The fetch failed; the token is judged on the keys we have, unless a verify dropped
      // them meanwhile as past maxStaleSeconds: then there are none.
      if (this.#raw === null) throw e;
    }
    return verifyWith(this.#raw, token, now);
  }

  /** A put of the shared copy that the verify did not wait for, to `waitUntil`: in a Worker it may then outlive the response. */
  #handOff(waitUntil) {
    if (this.#saving !== null) waitUntil?.(this.#saving);
    this.#saving = null;
  }

  #mayRefetch() {
    return this.#inflight?.force || Date.now() - this.#refetchedAt >= this.#cooldownMs;
  }

  /**
   * One load at a time: concurrent callers share it. A forced load goes to the issuer, past a
   * shared copy that may predate a rotation, so it queues behind a load that may read one.
   * After a failure no unforced load starts before the back-off ends: callers without keys get
   * the last failure at once.
   */
  #refresh(force) {
    let running = this.#inflight;
    // Every step of a load is bounded; one that outlived them all was dropped by its runtime
    // (a Worker ends a request's pending I/O with it) and will never settle.
    if (running !== null && Date.now() - running.started > 16 * this.#timeoutMs) running = null;
    if (running === null && !force && Date.now() < this.#retryAt) return Promise.reject(this.#lastError);
    if (running === null || (force && !running.force)) {
      if (force) this.#refetchedAt = Date.now();
      const load = Promise.resolve(running)
        .catch(() => {})
        .then(() => this.#load(force))
        .then(
          (fetched) => {
            if (!fetched) return;
            this.#failures = 0;
            this.#retryAt = -Infinity;
          },
          (e) => {
            this.#failed(e);
            throw e;
          },
        )
        .finally(() => {
          if (this.#inflight === load) this.#inflight = null;
        });
      load.force = force || this.#cache === null;
      load.started = Date.now();
      this.#inflight = load;
    }
    return this.#inflight;
  }

  #failed(e) {
    this.#failures += 1;
    this.#lastError = e;
    const wait = Math.min(this.#retryMs * 2 ** (this.#failures - 1), MAX_RETRY_SECONDS * 1000);
    this.#retryAt = Date.now() + wait;
  }

  /** Loads keys; false when they came from a stale shared copy because the issuer failed. */
  async #load(force) {
    const uri = this.#discovery === null ? this.#uri : await this.#discover();
    const take = (text, at) => {
      // A new core, not new keys in the old one: a verification awaiting the platform
      // finishes with the keys it was planned with.
      this.#raw = new (wasm().RawVerifier)(text, this.#policy);
      this.#fetchedAt = at;
    };
    const failure = await this.#keep(uri, force, this.#fetchedAt, 'key set', () => this.#download(uri, 'the key set'), take);
    // The issuer still failed, and is retried only after the back-off.
    if (failure) this.#failed(failure);
    return !failure;
  }

  /**
   * The key set URL, from the issuer's discovery document, which is kept as the keys are: the
   * one in hand while it is fresh; then a fresh shared copy; then the issuer (OIDC's URL, then
   * RFC 8414's if that answers 404); and when the issuer fails or sends a document that is not
   * its own, the newer of a stale shared copy and the one in hand, within maxStaleSeconds.
   */
  async #discover() {
    const known = this.#document;
    if (known !== null && Date.now() - known.at < this.#cacheMs) return known.uri;
    const [oidc, oauth] = this.#discovery;
    const what = "the issuer's discovery document";
    const download = () =>
      this.#download(oidc, what).catch((e) => {
        if (e.status === 404) return this.#download(oauth, what);
        throw e;
      });
    const take = (text, at) => {
      this.#document = { uri: wasm().discoveredJwksUri(text, this.#issuer), at };
    };
    try {
      await this.#keep(oidc, false, known?.at ?? 0, what, download, take);
    } catch (e) {
      if (known !== null && Date.now() - known.at < this.#keepMs) return known.uri;
      this.#document = null;
      throw e;
    }
    return this.#document.uri;
  }

  /**
   * One document kept under `key`, the key set or the discovery document: a fresh shared copy
   * (unless `force`); else `download()`, shared once taken; and when that fails or `take`
   * refuses it, a shared copy newer than `heldAt` (a copy another isolate saved beats older
   * ones or none). `take(text, at)` puts a text to use, throwing when it is unusable. Resolves
   * to null, or to the issuer's failure when a stale shared copy was taken in its place.
   */
  async #keep(key, force, heldAt, what, download, take) {
    let shared = force ? null : await this.#read(key);
    if (shared && Date.now() - shared.at < this.#cacheMs) {
      if (await this.#takeShared(shared, key, take)) return null;
      shared = null;
    }
    let text;
    let at;
    try {
      text = await download();
      at = Date.now();
      take(text, at);
    } catch (e) {
      const failure = e instanceof JwtError ? e : new JwtError('jwks_unavailable', `${what} could not be fetched: ${e.message}`);
      if (shared && shared.at > heldAt && (await this.#takeShared(shared, key, take))) return failure;
      throw failure;
    }
    this.#save(key, text, at);
    return null;
  }

  /** Takes a shared copy; one that `take` refuses is dropped, never trusted. */
  async #takeShared({ text, at }, key, take) {
    try {
      // `at` is past: #read takes no copy from the future.
      take(text, at);
      return true;
    } catch {
      await this.#cached('delete', key);
      return false;
    }
  }

  /**
   * Shares what was fetched, with its fetch time. Not waited for: a cache that is slow to
   * store costs this verification nothing. The put is bounded like every cache call, and one
   * that fails is a copy not shared.
   */
  #save(uri, text, at) {
    if (!this.#cache) return;
    const headers = {
      'content-type': 'application/json',
      'cache-control': `max-age=${Math.ceil(this.#keepMs / 1000)}`,
      [FETCHED_AT]: String(at),
    };
    const put = this.#cached('put', uri, new Response(text, { headers }));
    this.#saving = this.#saving === null ? put : Promise.all([this.#saving, put]);
  }

  /**
   * A document's text from the issuer, within the fetch timeout, body included. Redirects are
   * refused, not followed to wherever they point ('manual', not 'error': workerd has no
   * 'error'; a browser answers 'manual' with an opaque redirect, which is not ok either). An
   * error status is thrown with the status as `status`.
   */
  #download(uri, what) {
    return within(deadline(this.#timeoutMs, `${what} fetch`), async (signal) => {
      const init = { headers: { accept: 'application/json' }, redirect: 'manual', signal };
      const response = await this.#fetch(uri, init);
      // A fetch of the app's own that drops `init` follows redirects: what it followed
      // one to is refused all the same.
      if (response.redirected === true || (response.url && response.url !== responseUrl(uri))) {
        response.body?.cancel().catch(() => {});
        throw new Error(`a redirect (to ${response.url || 'elsewhere'}) is not followed`);
      }
      if (!response.ok) {
        // Not awaited: a cancel can wait on the other branch of a tee()d body.
        response.body?.cancel().catch(() => {});
        const redirect = response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400);
        throw Object.assign(new Error(redirect ? `a redirect (HTTP ${response.status}) is not followed` : `HTTP ${response.status}`), {
          status: response.status,
        });
      }
      return readCapped(response, signal);
    });
  }

  /**
   * The shared copy, as `{ text, at }`, or null; one without a usable fetch time, dated
   * ahead of this clock, or older than cacheSeconds plus maxStaleSeconds by it, is dropped.
   */
  async #read(uri) {
    const hit = this.#cache && (await this.#cached('match', uri));
    if (!hit) return null;
    try {
      const at = Number(hit.headers.get(FETCHED_AT) ?? NaN);
      const age = Date.now() - at;
      // The copy's body is read under the fetch timeout too: one that never ends is a miss.
      // One dated ahead of this clock (forged, or another's clock ahead) is no copy: it
      // would be fresh at every read, the issuer never asked again.
      if (hit.ok && age >= 0 && age < this.#keepMs) return { text: await within(deadline(this.#timeoutMs, 'reading a cached copy'), (signal) => readCapped(hit, signal)), at };
      hit.body?.cancel().catch(() => {});
    } catch {
      // Unreadable: as bad as corrupt.
    }
    await this.#cached('delete', uri);
    return null;
  }

  /**
   * A cache that fails is a cache that missed: verification goes on over the network. One that
   * does not answer within the fetch timeout has failed.
   */
  async #cached(method, ...args) {
    try {
      return await within(deadline(this.#timeoutMs, 'the cache'), () => this.#cache[method](...args));
    } catch {
      return undefined;
    }
  }
}

/** A response's `url` when it came from `uri` itself: `uri` serialized, without a fragment. */
function responseUrl(uri) {
  try {
    const url = new URL(uri);
    url.hash = '';
    return url.href;
  } catch {
    return uri;
  }
}

/**
 * A response body as text, read no further than the core's key set limit: `content-length`
 * is checked first, and a body without one (chunked) is read as a stream and cancelled once
 * it passes the limit, so an oversized answer never sits in memory whole.
 */
async function readCapped(response, signal) {
  const length = response.headers?.get?.('content-length');
  const body = response.body;
  try {
    if (length != null) wasm().checkJwksLength(Number(length));
  } catch (e) {
    body?.cancel().catch(() => {});
    throw e;
  }
  if (typeof body?.getReader !== 'function') {
    // A Response-like object from a custom fetch, without a stream: its text is in JS memory
    // already, and still kept out of wasm's (UTF-16 units never outnumber UTF-8 bytes).
    const text = await response.text();
    wasm().checkJwksLength(text.length);
    return text;
  }
  const reader = body.getReader();
  const stop = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      wasm().checkJwksLength(size);
      chunks.push(value);
    }
  } catch (e) {
    stop();
    throw e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  // The bytes as sent, a byte order mark included, which the core (as in the Envoy filter)
  // refuses: TextDecoder would drop it.
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
}
