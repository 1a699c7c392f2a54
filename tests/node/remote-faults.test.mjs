// RemoteVerifier under a broken issuer, on loopback: a key server that stalls, trickles,
// redirects or fails. Authentication must stay live on the keys in hand, every fetch must end,
// and a failing issuer must not be asked again on every call. Each test has a timeout well
// under the fetch timeouts it would otherwise wait on, so a hang fails it instead of passing
// late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteVerifier, Verifier, JwtError } from 'jwtgate';
import { fx, keyset } from './fixtures.mjs';
import { looseServer } from './net.mjs';

const opts = (uri, extra = {}) => ({ jwksUri: uri, issuer: fx.issuer, audiences: fx.audience, cache: false, ...extra });
const verifyAt = (v, token) => v.verify(token, { now: fx.now });
const unavailable = (pattern) => (e) => e instanceof JwtError && e.code === 'jwks_unavailable' && pattern.test(e.message);
const QUICK = { timeout: 10_000 };

/** A key server that answers with `state.body`, or holds the request while `state.stall`. */
async function issuer(t, body) {
  const state = { body, stall: false, held: [], status: 200 };
  state.server = await looseServer(t, (req, res) => {
    if (state.stall === 'headers') return void state.held.push(res);
    res.writeHead(state.status, { 'content-type': 'application/json' });
    if (state.stall === 'body') {
      res.write('{"keys":');
      return void state.held.push(res);
    }
    res.end(state.body);
  });
  state.uri = state.server.uri();
  return state;
}

test('a key server that never answers, or stalls the body, times out: no verify waits for ever', QUICK, async (t) => {
  for (const stall of ['headers', 'body']) {
    const it = await issuer(t, keyset('p256'));
    it.stall = stall;
    const v = new RemoteVerifier(opts(it.uri, { fetchTimeoutSeconds: 0.3 }));
    await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/took more than 0.3 s/), stall);
    assert.equal(it.held.length, 1);
  }
  // A fetch of the app's own that ignores the signal is cut off all the same.
  const v = new RemoteVerifier(opts('https://issuer.example/jwks', { fetch: () => new Promise(() => {}), fetchTimeoutSeconds: 0.3 }));
  await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/took more than/));
});

test('a body that trickles in is cut off at the timeout too', QUICK, async (t) => {
  const server = await looseServer(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const drip = setInterval(() => res.write(' '), 20);
    res.on('close', () => clearInterval(drip));
  });
  const v = new RemoteVerifier(opts(server.uri(), { fetchTimeoutSeconds: 0.3 }));
  await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/took more than/));
});

test('stale keys keep serving while a refresh hangs; the hanging refresh is shared, not repeated', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  // A fetch timeout longer than the test's: a verify that waited on the refresh would fail it.
  const v = new RemoteVerifier(opts(it.uri, { cacheSeconds: 0, fetchTimeoutSeconds: 60 }));
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  it.stall = 'headers';
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice', 'served while the refresh it started hangs');
  while (it.held.length === 0) await new Promise((r) => setTimeout(r, 5));
  const answers = await Promise.all(Array.from({ length: 20 }, () => verifyAt(v, fx.tokens.ES256)));
  assert.ok(answers.every((c) => c.sub === 'alice'));
  assert.equal(it.held.length, 1, 'one refresh in flight, shared');
  assert.equal(it.server.hits, 2);
  // The refresh completes with a rotated set, which the next token with the new kid finds.
  const rotated = keyset('p256', 'ed25519');
  it.stall = false;
  it.body = rotated;
  it.held[0].writeHead(200, { 'content-type': 'application/json' }).end(rotated);
  assert.equal((await verifyAt(v, fx.tokens.EdDSA)).sub, 'alice');
});

test('failed refreshes back off: a failing issuer is not asked on every call', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  const v = new RemoteVerifier(opts(it.uri, { cacheSeconds: 0, retrySeconds: 30 }));
  await verifyAt(v, fx.tokens.ES256);
  it.status = 500;
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  while (it.server.hits < 2) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 30; i += 1) {
    assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(it.server.hits, 2, 'one failed refresh, then the back-off');

  // With no keys at all, the failure is the answer until the back-off ends.
  const down = await issuer(t, 'nope');
  down.status = 503;
  const none = new RemoteVerifier(opts(down.uri, { retrySeconds: 30 }));
  for (let i = 0; i < 10; i += 1) await assert.rejects(verifyAt(none, fx.tokens.ES256), unavailable(/HTTP 503/));
  assert.equal(down.server.hits, 1);
});

test('redirects are refused, never followed to where they point', QUICK, async (t) => {
  const elsewhere = await issuer(t, keyset('p256'));
  for (const status of [301, 302, 303, 307, 308]) {
    const redirecting = await looseServer(t, (req, res) => res.writeHead(status, { location: elsewhere.uri }).end());
    const v = new RemoteVerifier(opts(redirecting.uri()));
    await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/redirect/), String(status));
    assert.equal(redirecting.hits, 1);
  }
  assert.equal(elsewhere.server.hits, 0);
});

test('a shared copy is kept cacheSeconds plus one day from its own fetch time, whatever the cache says', QUICK, async (t) => {
  const down = await issuer(t, '');
  down.status = 503;
  const day = 86400_000;
  // A cache that keeps what it is given for ever, as browser cache storage does.
  const store = new Map();
  const cache = { match: async (k) => store.get(k)?.clone(), put: async (k, r) => void store.set(k, r), delete: async (k) => store.delete(k) };
  const copy = (age) =>
    store.set(down.uri, new Response(keyset('p256'), { headers: { 'jwtgate-fetched-at': String(Date.now() - age), 'cache-control': 'max-age=999999999' } }));
  copy(600_000 + day - 60_000);
  const v = new RemoteVerifier(opts(down.uri, { cache, retrySeconds: 30 }));
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice', 'within the day: the issuer is down, the copy serves');
  // The copy is stale and the issuer failed: the back-off holds, no fetch on every call.
  for (let i = 0; i < 10; i += 1) assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  assert.equal(down.server.hits, 1);
  copy(600_000 + day + 60_000);
  await assert.rejects(verifyAt(new RemoteVerifier(opts(down.uri, { cache })), fx.tokens.ES256), unavailable(/HTTP 503/));
  assert.equal(store.size, 0, 'and is deleted');
});

test('keys in memory serve past cacheSeconds for maxStaleSeconds at most, then the verifier fails closed', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  const v = new RemoteVerifier(opts(it.uri, { cacheSeconds: 0, maxStaleSeconds: 0.4, retrySeconds: 0 }));
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  it.status = 503;
  // Within the bound the issuer's outage costs nothing.
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  await new Promise((r) => setTimeout(r, 500));
  // Past it the last keys are gone: a key the issuer withdrew meanwhile is not trusted for ever.
  await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/HTTP 503/));
  await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/HTTP 503/));
  // And the first good fetch brings verification back.
  it.status = 200;
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  assert.throws(() => new RemoteVerifier(opts(it.uri, { maxStaleSeconds: -1 })), TypeError);
  assert.throws(() => new RemoteVerifier(opts(it.uri, { maxStaleSeconds: NaN })), TypeError);
});

test('a shared copy whose body never ends is a miss at the fetch timeout; saving a copy never holds a verify', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  const endless = () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) }), { headers: { 'jwtgate-fetched-at': String(Date.now()) } });
  let puts = 0;
  const stuck = {
    match: async () => endless(),
    // Never answers: the verify must not wait for it.
    put: () => {
      puts += 1;
      return new Promise(() => {});
    },
    delete: async () => true,
  };
  const v = new RemoteVerifier(opts(it.uri, { cache: stuck, fetchTimeoutSeconds: 0.3 }));
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice', 'the copy timed out, the issuer answered');
  assert.equal(it.server.hits, 1);
  assert.equal(puts, 1);
  // A copy without a stream whose text() never settles: the same.
  const textless = { ...stuck, match: async () => ({ ok: true, headers: new Headers({ 'jwtgate-fetched-at': String(Date.now()) }), body: null, text: () => new Promise(() => {}) }) };
  const handed = [];
  const w = new RemoteVerifier(opts(it.uri, { cache: textless, fetchTimeoutSeconds: 0.3 }));
  assert.equal((await w.verify(fx.tokens.ES256, { now: fx.now, waitUntil: (p) => handed.push(p) })).sub, 'alice');
  assert.equal(handed.length, 1, 'the put that was not waited for is handed to waitUntil');
});

test('a fetch of the app’s own that follows a redirect anyway: the answer is refused', QUICK, async (t) => {
  const elsewhere = await issuer(t, keyset('p256'));
  const redirecting = await looseServer(t, (req, res) => res.writeHead(302, { location: elsewhere.uri }).end());
  // Wrappers that drop the init jwtgate passes, and with it redirect: 'manual'.
  for (const fetch of [(u) => globalThis.fetch(u), (u, init) => globalThis.fetch(u, { headers: init.headers })]) {
    const v = new RemoteVerifier(opts(redirecting.uri(), { fetch }));
    await assert.rejects(verifyAt(v, fx.tokens.ES256), unavailable(/redirect/));
  }
  // A Response-like answer that says where it came from: another URL is refused too.
  const moved = async () => Object.defineProperty(new Response(keyset('p256')), 'url', { value: elsewhere.uri });
  await assert.rejects(verifyAt(new RemoteVerifier(opts(redirecting.uri(), { fetch: moved })), fx.tokens.ES256), unavailable(/redirect/));
  // Its own URL (a fragment never reaches a server), or none, is fine.
  const here = async () => Object.defineProperty(new Response(keyset('p256')), 'url', { value: elsewhere.uri });
  assert.equal((await verifyAt(new RemoteVerifier(opts(`${elsewhere.uri}#keys`, { fetch: here })), fx.tokens.ES256)).sub, 'alice');
  assert.equal((await verifyAt(new RemoteVerifier(opts(elsewhere.uri)), fx.tokens.ES256)).sub, 'alice');
});

test('a shared copy dated ahead of this clock is dropped, never fresh for ever', QUICK, async (t) => {
  // The issuer withdrew the P-256 key; a copy that still has it claims a fetch a year from now.
  // Taken as fresh it would be taken at every refresh, past maxStaleSeconds, and the issuer
  // never asked again.
  const it = await issuer(t, keyset('ed25519'));
  const store = new Map();
  const cache = { match: async (k) => store.get(k)?.clone(), put: async (k, r) => void store.set(k, r), delete: async (k) => store.delete(k) };
  store.set(it.uri, new Response(keyset('p256'), { headers: { 'jwtgate-fetched-at': String(Date.now() + 365 * 86400_000) } }));
  const v = new RemoteVerifier(opts(it.uri, { cache, cacheSeconds: 0, maxStaleSeconds: 0 }));
  await assert.rejects(verifyAt(v, fx.tokens.ES256), (e) => e instanceof JwtError && e.code === 'unknown_key');
  assert.equal((await verifyAt(v, fx.tokens.EdDSA)).sub, 'alice');
  assert.ok(it.server.hits >= 1, 'the issuer was asked');
  assert.ok(Number(store.get(it.uri).headers.get('jwtgate-fetched-at')) <= Date.now(), 'and its answer shared in place of the copy');
});

test('a verify waiting on an unknown kid’s re-fetch, while the keys pass maxStaleSeconds, rejects with jwks_unavailable', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  const v = new RemoteVerifier(opts(it.uri, { cacheSeconds: 0.1, maxStaleSeconds: 0.1, cooldownSeconds: 0, retrySeconds: 0 }));
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  it.stall = 'headers';
  // An unknown kid: a re-fetch, which hangs.
  const rotated = verifyAt(v, fx.tokens.EdDSA);
  while (it.held.length === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 300));
  // Another verify finds the keys past the bound and drops them; then the re-fetch fails.
  const later = verifyAt(v, fx.tokens.ES256);
  it.held[0].writeHead(503).end();
  // A JwtError, which authenticate answers with the filter's 503, not a TypeError (a 500).
  await assert.rejects(rotated, unavailable(/HTTP 503/));
  await assert.rejects(later, unavailable(/HTTP 503/));
});

test('a key set is read as the bytes the issuer sent: one after a byte order mark is refused, as the Envoy filter and a Verifier refuse it', QUICK, async (t) => {
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(keyset('p256'))]);
  const it = await issuer(t, bom);
  await assert.rejects(verifyAt(new RemoteVerifier(opts(it.uri)), fx.tokens.ES256), unavailable(/not valid JSON/));
  assert.throws(() => new Verifier({ jwks: bom.toString() }), unavailable(/not valid JSON/));
});

test('a background refresh hands the put of the keys it fetched to waitUntil, so that in a Worker it outlives the response', QUICK, async (t) => {
  const it = await issuer(t, keyset('p256'));
  const store = new Map();
  let saved = 0;
  // A put that takes longer than the refresh: it ends a macrotask later.
  const cache = {
    match: async (k) => store.get(k)?.clone(),
    put: async (k, r) => {
      await new Promise((done) => setImmediate(done));
      store.set(k, r);
      saved += 1;
    },
    delete: async (k) => store.delete(k),
  };
  const v = new RemoteVerifier(opts(it.uri, { cache, cacheSeconds: 0 }));
  // What a Worker keeps alive after the response: every promise handed to waitUntil, those
  // handed while it waits on others included.
  const request = async () => {
    const handed = [];
    assert.equal((await v.verify(fx.tokens.ES256, { now: fx.now, waitUntil: (p) => handed.push(p) })).sub, 'alice');
    for (let waited = 0; waited < handed.length; ) {
      waited = handed.length;
      await Promise.all(handed);
    }
  };
  await request();
  assert.equal(saved, 1, 'the first fetch, awaited: its put handed over');
  await request();
  assert.equal(it.server.hits, 2, 'the second refreshed in the background');
  assert.equal(saved, 2, 'and its put was handed over too');
});
