// TokenSession: the half of the token session that Rust cannot do. The Rust core (RawSession)
// decides when to refresh, which call refreshes, and what an answer, a stored copy or another
// tab's result is worth; this file waits, calls the app's refresh, stores, locks and talks to
// the other tabs.
import {
  ACCESS,
  ADOPT,
  AUTH_REQUIRED,
  CLEAR,
  ELECTION_MS,
  EPOCH,
  FAILED,
  LOSER_WAIT_MS,
  MAX_TIMER_SECONDS,
  NEXT,
  RECEIVED,
  REFRESH,
  REFRESHED,
  REFRESH_TOKEN,
  REJECTED,
  RESTORE,
  SET,
  SPENT,
  STILL_NEEDED,
  STORED_TOKENS,
  USE,
} from './constants.js';
import { JwtError, abortable, deadline, fits, onlyKnown, reader, seconds, wasm, within } from './state.js';

const now = () => Date.now() / 1000;

/** The stored copy of the tokens (for storage and other tabs), as `storedTokens` reads it. */
const storedText = (accessToken, refreshToken, receivedAt) => JSON.stringify({ accessToken, refreshToken, receivedAt });

/**
 * The tokens of a stored copy, or null for one that is not exactly what `storedText` writes:
 * JSON.parse would take a member given twice, or one too many, so the copy is written again
 * and compared. The core judges the rest (times, a readable access token). Each token is
 * measured, as any is before it crosses into the core; nothing here throws.
 */
function storedTokens(text) {
  if (!crosses(text, STORED_TOKENS)) return null;
  try {
    // Not JSON, or `null` (which has nothing to take apart), is caught.
    const stored = JSON.parse(text);
    const { accessToken, refreshToken, receivedAt } = stored;
    if (
      typeof accessToken === 'string' &&
      (refreshToken === undefined || (typeof refreshToken === 'string' && crosses(refreshToken))) &&
      (receivedAt === undefined || typeof receivedAt === 'number') &&
      crosses(accessToken) &&
      storedText(accessToken, refreshToken, receivedAt) === text
    ) {
      return stored;
    }
  } catch {
    // Not a stored copy.
  }
  return null;
}

/**
 * Every string copied into the core is measured first, as wasm memory never shrinks: a token
 * (access or refresh, from a sign-in, a refresh, another tab or a server's refusal) at most
 * the core's token limit, stored text `STORED_TOKENS` times that. `fits` throws `too_large`;
 * this is it as a yes or no, for strings that are dropped, not refused, when too long.
 */
function crosses(text, tokens = 1) {
  return wasm().checkTokenLength(text.length / tokens) === undefined;
}

const OPTIONS = ['refresh', 'refreshAheadSeconds', 'refreshTimeoutSeconds', 'storage', 'storageKey', 'onAuthRequired', 'fetch', 'origins', 'allowAnyOrigin'];

/** Whether `text` is an origin as `URL` serializes it (`https://api.example.com`, no path). */
function isOrigin(text) {
  try {
    return typeof text === 'string' && new URL(text).origin === text;
  } catch {
    return false;
  }
}

function storageOf(option) {
  if (option === 'memory') return null;
  if (option === 'session' || option === 'local') {
    let storage;
    try {
      storage = globalThis[`${option}Storage`];
    } catch {
      // Reading localStorage throws where the browser blocks storage for the origin.
    }
    if (!storage) throw new TypeError(`storage '${option}' is not available here`);
    return storage;
  }
  if (option && ['getItem', 'setItem', 'removeItem'].every((m) => typeof option[m] === 'function')) {
    return option;
  }
  throw new TypeError("storage must be 'memory', 'session', 'local' or a Storage-like object");
}

/** Keeps an access token fresh for a single-page app: refresh ahead, once, across tabs. */
export class TokenSession extends EventTarget {
  #core;
  #refresh;
  #refreshMs;
  // The origins besides the page's that get the token; null for any (allowAnyOrigin).
  #origins;
  #timeouts = new Set();
  #fetch;
  #storage;
  #shared;
  #onStorage = null;
  #key;
  #channel = null;
  // What calls waiting for a change await, and how the change settles it.
  #changed;
  #settle;
  #leading = null;
  #claims = new Map();

  constructor(options = {}) {
    super();
    this.#wake();
    const get = reader(options);
    onlyKnown(get, OPTIONS, 'TokenSession');
    const refresh = get('refresh');
    const refreshAheadSeconds = seconds(get, 'refreshAheadSeconds', 30);
    const storage = get('storage', 'memory');
    const storageKey = get('storageKey', 'jwtgate');
    const onAuthRequired = get('onAuthRequired');
    // Called unbound, the default and the app's: `window.fetch` throws when called as a
    // method of something else, and `this.#fetch(…)` would call it as the session's.
    const fetch = get('fetch', (...args) => globalThis.fetch(...args));
    const origins = get('origins', []);
    const allowAnyOrigin = get('allowAnyOrigin', false);
    if (typeof refresh !== 'function') throw new TypeError('TokenSession needs refresh(refreshToken)');
    this.#refreshMs = seconds(get, 'refreshTimeoutSeconds', 10, true, MAX_TIMER_SECONDS) * 1000;
    if (!Array.isArray(origins) || !origins.every(isOrigin)) {
      throw new TypeError("origins must be an array of origins, such as ['https://api.example.com'] (scheme, host and port only)");
    }
    if (typeof allowAnyOrigin !== 'boolean') throw new TypeError('allowAnyOrigin must be true or false');
    this.#origins = allowAnyOrigin ? null : new Set(origins);
    if (typeof storageKey !== 'string' || storageKey === '') throw new TypeError('storageKey must be a non-empty string');
    if (onAuthRequired !== undefined && typeof onAuthRequired !== 'function') {
      throw new TypeError('onAuthRequired must be a function');
    }
    if (typeof fetch !== 'function') throw new TypeError('no fetch here: pass one as the fetch option');
    this.#core = new (wasm().RawSession)(refreshAheadSeconds);
    this.#refresh = refresh;
    this.#fetch = (request) => fetch(request);
    this.#storage = storageOf(storage);
    try {
      // Decided once: reading localStorage throws where the browser blocks storage.
      this.#shared = this.#storage !== null && this.#storage === globalThis.localStorage;
    } catch {
      this.#shared = false;
    }
    this.#key = storageKey;
    if (onAuthRequired) this.addEventListener('authrequired', onAuthRequired);
    this.#restore(this.#read(), true);
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`jwtgate:${storageKey}`);
      this.#channel.onmessage = (e) => this.#message(e.data);
      // In Node an open channel would keep the process alive.
      this.#channel.unref?.();
    }
    if (this.#shared) {
      // Another tab wrote the shared copy: a refresh, a sign-in or a sign-out there. The copy
      // is read again rather than taken from the event, which may be older than it. A null
      // key is localStorage.clear() there: the copy may be gone too.
      this.#onStorage = (e) => {
        if ((e.key ?? this.#key) !== this.#key) return;
        const text = this.#read();
        if (text === null) {
          if (this.#core.text(ACCESS) !== undefined) this.#forget();
        } else if (this.#restore(text, false)) {
          this.#emit('refreshed', { accessToken: this.#core.text(ACCESS) });
        }
      };
      globalThis.addEventListener?.('storage', this.#onStorage);
    }
  }

  /** Tokens from a sign-in. Calls waiting for one go ahead. */
  setTokens({ accessToken, refreshToken } = {}) {
    this.#core.op(SET, 0, now(), accessToken, undefined, pair(accessToken, refreshToken, 'setTokens needs { accessToken, refreshToken? }', 'refreshToken must be a string'));
    this.#save();
    this.#wake();
  }

  /**
   * An access token good for at least the refresh margin; refreshes first if it is not. Given
   * up (rejecting with its reason) when `signal` aborts: the abort wakes every waiting call
   * (each just looks again), so that the one that gave up is let go at once. Left waiting on
   * `#changed`, it was kept until a sign-in: 3 KB for every abandoned call while signed out.
   */
  async accessToken(signal) {
    const wake = () => this.#wake();
    signal?.addEventListener('abort', wake);
    try {
      for (;;) {
        signal?.throwIfAborted();
        const changed = this.#changed;
        const next = this.#core.op(NEXT, 0, now());
        if (next === USE) return this.#core.text(ACCESS);
        if (next === REFRESH) this.#run();
        else if (next === AUTH_REQUIRED) {
          this.#emit('authrequired', { error: new JwtError('missing_token', 'no token: sign in') });
        }
        await changed;
      }
    } finally {
      signal?.removeEventListener('abort', wake);
    }
  }

  /**
   * Whether a request to `url` gets the bearer token: one to the page's origin or to one of
   * `origins`, or any with `allowAnyOrigin`. Relative URLs are resolved as fetch and XHR
   * resolve them: against the document's base URL, which `<base href>` may put on another
   * origin than the page's.
   */
  sendsTokenTo(url) {
    // Read as text, a Request ('[object Request]') or undefined is a relative URL on the page.
    if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('sendsTokenTo needs a string or a URL');
    if (this.#origins === null) return true;
    let origin;
    try {
      origin = new URL(url, globalThis.document?.baseURI ?? globalThis.location?.href).origin;
    } catch {
      return false;
    }
    // The page's own origin, unless it is opaque ('null'); outside a browser there is none.
    return (origin === globalThis.location?.origin && origin !== 'null') || this.#origins.has(origin);
  }

  /**
   * `fetch` with the access token; a 401 answer causes one refresh and one retry. A request to
   * an origin the token is not for goes out as it is, without it.
   */
  async fetch(input, init) {
    const request = new Request(input, init);
    request.signal?.throwIfAborted();
    if (!this.sendsTokenTo(request.url)) return this.#fetch(request);
    // A body can be sent once: keep an unsent copy for the retry.
    const spare = request.clone();
    // A call waiting for a sign-in still honours its AbortSignal.
    const token = await this.accessToken(request.signal);
    const epoch = this.#core.op(EPOCH, 0, 0);
    const response = await this.#fetch(bearer(request, token));
    // Signed out (or in anew) while the request was out: the refusal is the answer, not a
    // reason to send the request again as whoever signs in next.
    if (response.status !== 401 || this.#core.op(EPOCH, 0, 0) !== epoch) return response;
    await response.body?.cancel();
    this.tokenRejected(token);
    return this.#fetch(bearer(spare, await this.accessToken(request.signal)));
  }

  /** Stops listening to other tabs and to storage; the session goes on in this tab alone. */
  close() {
    this.#channel?.close();
    this.#channel = null;
    // Removing a null listener does nothing.
    globalThis.removeEventListener?.('storage', this.#onStorage);
    this.#onStorage = null;
  }

  /**
   * Tells the session a server refused `accessToken` (a 401). If it is still the current
   * token, the next call refreshes. For HTTP clients other than `fetch`; see `jwtgate/axios`.
   */
  tokenRejected(accessToken) {
    if (typeof accessToken === 'string' && crosses(accessToken)) this.#core.op(REJECTED, 0, 0, accessToken);
  }

  /** Signs out: forgets the tokens here and in tabs that shared them; waiting calls reject. */
  clear() {
    const from = this.#core.text(REFRESH_TOKEN);
    const access = this.#core.text(ACCESS);
    this.#forget();
    // Tabs holding the same tokens sign out too: matched by refresh token, or without one
    // by access token.
    if (access !== undefined) this.#post({ t: 'cleared', from: from ?? '', access });
  }

  #forget() {
    // A refresh still running is for tokens that are gone: it ends now, and so does its lock.
    for (const timeout of this.#timeouts) timeout.abort(new JwtError('missing_token', 'the session was cleared'));
    this.#core.op(CLEAR, 0, 0);
    this.#save();
    this.#wake(new JwtError('missing_token', 'the session was cleared'));
    this.#emit('cleared', {});
  }

  // Every waiting call looks again at the state; with `error`, they reject with it instead.
  #wake(error) {
    const settle = this.#settle;
    this.#changed = new Promise((resolve, reject) => {
      this.#settle = (e) => (e ? reject(e) : resolve());
    });
    // Rejected when the session is cleared; only the calls waiting on it need to hear.
    this.#changed.catch(() => {});
    settle?.(error);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // The refresh, by whichever call `next()` chose. Every outcome wakes the waiting calls.
  async #run() {
    const epoch = this.#core.op(EPOCH, 0, 0);
    // The refresh token this run presents, once it knows; until then the one it started with.
    let from = this.#core.text(REFRESH_TOKEN);
    // Once per run: a timeout rejects both the refresh and the turn that holds it.
    let failed = false;
    const fail = (error) => {
      if (failed) return;
      failed = true;
      if (this.#core.op(FAILED, epoch, 0, from) === 1) this.#emit('authrequired', { error });
    };
    try {
      await this.#exclusive(async (signal) => {
        // While this tab waited for its turn, another may have refreshed, failed or signed in.
        if (this.#shared) this.#restore(this.#read(), false);
        const needed = this.#core.op(STILL_NEEDED, epoch, now()) === 1 ? this.#core.text(REFRESH_TOKEN) : undefined;
        if (needed === undefined) return;
        from = needed;
        let accessToken;
        let refreshToken;
        let taken;
        try {
          const answer = await abortable(Promise.resolve().then(() => this.#refresh(from, { signal })), signal);
          // Each read once: what the core takes is what the other tabs are sent.
          accessToken = answer?.accessToken;
          refreshToken = pair(accessToken, answer?.refreshToken, 'refresh() must resolve to { accessToken, refreshToken? }', 'refresh() gave a refreshToken that is not a string');
          taken = this.#core.op(REFRESHED, epoch, now(), from, accessToken, refreshToken) === 1;
        } catch (e) {
          fail(e);
          // `from` may be spent at the issuer: tabs holding it must not present it again.
          this.#post({ t: 'failed', from });
          await this.#barrier();
          return;
        }
        // Posted even when this tab dropped the answer: `from` is spent, and tabs still
        // holding it need what replaced it.
        this.#post({ t: 'refreshed', from, accessToken, refreshToken });
        if (taken) {
          this.#save();
          this.#emit('refreshed', { accessToken });
        }
        await this.#barrier();
      });
    } catch (e) {
      fail(e);
    } finally {
      this.#wake();
    }
  }

  // One tab at a time refreshes a given session: Web Locks where there are any, else an
  // election over the BroadcastChannel, else (one context, no tabs) just this one. Whoever
  // holds the turn holds it for refreshTimeoutSeconds at most: then the refresh's signal
  // aborts and the turn ends, whether or not the app's refresh settles.
  async #exclusive(f) {
    const bounded = async (g) => {
      const timeout = deadline(this.#refreshMs, 'the refresh');
      this.#timeouts.add(timeout);
      try {
        return await within(timeout, g);
      } finally {
        this.#timeouts.delete(timeout);
      }
    };
    const locks = globalThis.navigator?.locks;
    // An opaque origin (a frame sandboxed without allow-same-origin) is refused the Locks API
    // (a SecurityError before the lock is asked for); it has no other tab to share with.
    if (typeof locks?.request === 'function' && globalThis.origin !== 'null') {
      return locks.request(`jwtgate:${this.#key}`, () =>
        bounded(async (signal) => {
          await this.#barrier();
          return f(signal);
        }),
      );
    }
    if (this.#channel !== null) return this.#elect(() => bounded(f));
    return bounded(f);
  }

  // The lock and the channel are not ordered with each other: a tab could be given the lock
  // before the message with the previous holder's result reaches it. So both ends wait for a
  // round trip on the channel: the holder, before it releases, for a ping sent after its
  // result (the browser has then passed the result on); the next holder, before it decides,
  // for a ping of its own (the result, already on its way here, is then handled).
  #barrier() {
    if (this.#channel === null) return undefined;
    const id = Math.random();
    const probe = new BroadcastChannel(`jwtgate:${this.#key}`);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        probe.close();
        resolve();
      };
      // A channel that never answers must not hold the lock for ever.
      const timer = setTimeout(done, 1000);
      probe.onmessage = (e) => {
        if (e.data?.t === 'ping' && e.data.id === id) done();
      };
      this.#post({ t: 'ping', id });
    });
  }

  // Every tab that needs a refresh of `from` claims it with a random id; after a window in
  // which the claims cross, the lowest id seen refreshes and the others wait for its result.
  // A tab already refreshing answers any claim with -1, so a late claimer always loses.
  async #elect(f) {
    for (;;) {
      const from = this.#core.text(REFRESH_TOKEN);
      const id = Math.random();
      this.#claim(from, id);
      this.#post({ t: 'claim', from, id });
      await sleep(ELECTION_MS);
      if (this.#claims.get(from) === id) {
        this.#leading = from;
        try {
          return await f();
        } finally {
          this.#leading = null;
          this.#claims.delete(from);
          this.#post({ t: 'done', from });
        }
      }
      // Lost: the winner's result arrives as a 'refreshed' message and changes our refresh
      // token; a 'done' without one means it failed, and the election starts again.
      const deadline = Date.now() + LOSER_WAIT_MS;
      while (this.#core.text(REFRESH_TOKEN) === from && this.#claims.has(from) && Date.now() < deadline) {
        await sleep(ELECTION_MS / 4);
      }
      this.#claims.delete(from);
      if (this.#core.text(REFRESH_TOKEN) !== from) return f();
    }
  }

  #claim(from, id) {
    this.#claims.set(from, Math.min(this.#claims.get(from) ?? Infinity, id));
  }

  #message(m) {
    if (typeof m?.from !== 'string' || !crosses(m.from)) return;
    const ours = this.#core.text(REFRESH_TOKEN);
    if (m.t === 'refreshed' && typeof m.accessToken === 'string') {
      let adopted = false;
      try {
        adopted = this.#core.op(ADOPT, 0, now(), m.from, m.accessToken, pair(m.accessToken, typeof m.refreshToken === 'string' ? m.refreshToken : undefined)) === 1;
      } catch {
        // Another tab's unreadable token is not ours to fail on.
      }
      if (adopted) {
        this.#save();
        this.#emit('refreshed', { accessToken: m.accessToken });
        this.#wake();
      }
    } else if (m.t === 'cleared' && (m.from ? m.from === ours : m.access === this.#core.text(ACCESS))) {
      this.#forget();
    } else if (m.t === 'failed' && this.#core.op(SPENT, 0, 0, m.from) === 1) {
      this.#emit('authrequired', { error: new JwtError('missing_token', 'the refresh failed in another tab: sign in') });
    } else if (m.t === 'claim' && typeof m.id === 'number') {
      if (this.#leading === m.from) this.#post({ t: 'claim', from: m.from, id: -1 });
      else this.#claim(m.from, m.id);
    } else if (m.t === 'done') {
      this.#claims.delete(m.from);
    }
  }

  #post(message) {
    this.#channel?.postMessage(message);
  }

  #read() {
    try {
      const text = this.#storage?.getItem(this.#key);
      if (text == null || typeof text === 'string') return text ?? null;
      // An adapter that hands back something else holds nothing readable: corrupt, and dropped.
      this.#storage.removeItem(this.#key);
    } catch {
      // A blocked storage: nothing is read from it.
    }
    return null;
  }

  // Loads stored tokens; a copy the core refuses is dropped, never thrown.
  #restore(text, dropBad) {
    if (text === null) return false;
    const stored = storedTokens(text);
    const t = now();
    if (stored && this.#core.op(RESTORE, 0, t, stored.accessToken, undefined, stored.refreshToken, stored.receivedAt ?? t) === 1) {
      this.#wake();
      return true;
    }
    if (dropBad) this.#save();
    return false;
  }

  #save() {
    if (this.#storage === null) return;
    const access = this.#core.text(ACCESS);
    try {
      if (access === undefined) this.#storage.removeItem(this.#key);
      else this.#storage.setItem(this.#key, storedText(access, this.#core.text(REFRESH_TOKEN), this.#core.op(RECEIVED, 0, 0)));
    } catch {
      // A full or blocked storage: the tokens still live in memory.
    }
  }
}

/**
 * A token pair bound for the core: `needs` is the TypeError for an access token that is not a
 * string, `notString` for a refresh token neither absent nor one; each is measured (`fits`
 * throws too_large). The refresh token as the core takes it: a string or undefined.
 */
function pair(accessToken, refreshToken, needs, notString) {
  if (typeof accessToken !== 'string') throw new TypeError(needs);
  if (refreshToken != null && typeof refreshToken !== 'string') throw new TypeError(notString);
  fits(accessToken);
  return refreshToken == null ? undefined : fits(refreshToken);
}

function bearer(request, token) {
  const copy = new Request(request);
  copy.headers.set('authorization', `Bearer ${token}`);
  return copy;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
