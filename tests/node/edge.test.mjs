// The edge guard (www/worker) in a real workerd, between a client and a loopback origin, with
// the key set shared through the Cache API: a cache service in this process outlives workerd,
// so a restart is a new isolate that finds what the last one saved. Also the `cache` option of
// RemoteVerifier on its own, in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RemoteVerifier, JwtError } from 'jwtgate';
import { fx, keyset } from './fixtures.mjs';
import { kvService } from './kv-service.mjs';
import { freePort, jwksServer } from './net.mjs';
import { serveWorker } from './workerd-run.mjs';

const FETCHED_AT = 'jwtgate-fetched-at';
const SUBJECT = 'x-jwt-subject';

/** Listens on a free loopback port; `close()` also drops kept-alive connections. */
function listen(handler) {
  const http = createServer(handler);
  return new Promise((resolve) =>
    http.listen(0, '127.0.0.1', () =>
      resolve({
        port: http.address().port,
        close: () => new Promise((done) => http.close(() => done(http.closeAllConnections()))),
      }),
    ),
  );
}

/**
 * The service workerd sends Cache API traffic to (`cacheApiOutbound`), as its cache.c++ speaks
 * to Cloudflare's: `match` is a GET with `Cache-Control: only-if-cached` answered with the
 * stored response and `CF-Cache-Status: HIT` (or MISS); `put` is a PUT whose body is the whole
 * serialized HTTP response, answered 204; `delete` is a PURGE, answered 200 or 404. Entries
 * are kept parsed, so a test can age or corrupt them.
 */
async function cacheService(t) {
  const entries = new Map();
  const ops = { GET: 0, PUT: 0, PURGE: 0 };
  const server = await listen(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const key = req.headers.host + req.url;
    ops[req.method] += 1;
    if (req.method === 'PUT') {
      const payload = Buffer.concat(chunks);
      const cut = payload.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = payload.subarray(0, cut).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      delete headers['content-length'];
      entries.set(key, { status: Number(statusLine.split(' ')[1]), headers, body: payload.subarray(cut + 4).toString() });
      res.writeHead(204).end();
    } else if (req.method === 'GET') {
      const entry = entries.get(key);
      if (!entry) return res.writeHead(504, { 'cf-cache-status': 'MISS' }).end();
      res.writeHead(entry.status, { ...entry.headers, 'cf-cache-status': 'HIT' }).end(entry.body);
    } else {
      res.writeHead(entries.delete(key) ? 200 : 404).end();
    }
  });
  t.after(() => server.close());
  return { port: server.port, entries, ops };
}

/** The origin: answers with what reached it. */
async function origin(t) {
  const server = await listen(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
  });
  t.after(() => server.close());
  return server;
}

// The example as wrangler would bundle it, its clock pinned to the fixtures' time.
// The package's subpath is a module of its own file name beside `jwtgate`.
const GUARD = readFileSync(join(process.env.JWTGATE_ROOT, 'www/worker/src/index.js'), 'utf8').replace("'jwtgate/revocation'", "'./revocation.js'");
const MAIN = `import { guard } from './guard.js';\nexport default guard({ now: ${fx.now} });\n`;

/** The guard in a fresh workerd: a new isolate, sharing only what the cache service holds. */
function edge(t, { jwks, cache, originPort, cacheSeconds = 600, retrySeconds, kv }) {
  const vars = { JWKS_URI: jwks.uri(), ISSUER: fx.issuer, AUDIENCES: fx.audience, ORIGIN: `http://127.0.0.1:${originPort}`, JWKS_CACHE_SECONDS: String(cacheSeconds) };
  if (retrySeconds !== undefined) vars.JWKS_RETRY_SECONDS = String(retrySeconds);
  const bindings = Object.entries(vars).map(([name, v]) => `(name = "${name}", text = ${JSON.stringify(v)})`);
  if (kv) bindings.push('(name = "REVOKED", kvNamespace = "kv")', '(name = "REVOCATION_CACHE_SECONDS", text = "0")');
  return serveWorker(t, { 'main.js': MAIN, 'guard.js': GUARD }, {
    services: [
      '(name = "internet", network = (allow = ["local"]))',
      `(name = "cache", external = (address = "127.0.0.1:${cache.port}", http = ()))`,
      ...(kv ? [`(name = "kv", external = (address = "127.0.0.1:${kv.port}", http = ()))`] : []),
    ].join(', '),
    worker: `cacheApiOutbound = "cache",
  bindings = [${bindings.join(', ')}],`,
  });
}

const call = (port, token, init = {}) =>
  fetch(`http://127.0.0.1:${port}/orders?id=7`, {
    ...init,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...init.headers },
  });

/** The code a refusal names in its challenge, and its status. */
async function refusal(response) {
  const challenge = response.headers.get('www-authenticate') ?? '';
  return { status: response.status, code: /error_description="([a-z_]+)"/.exec(challenge)?.[1] ?? (await response.text()).trim() };
}

async function world(t, body = keyset('p256', 'rsa', 'ed25519', 'p384', 'hmac')) {
  const jwks = await jwksServer(body);
  t.after(() => jwks.down().catch(() => {}));
  return { jwks, cache: await cacheService(t), originPort: (await origin(t)).port };
}

test('a good token reaches the origin with its subject; every attack is refused with its code', async (t) => {
  const w = await world(t, JSON.stringify(fx.variants.standard.jwks));
  const { port, workerd } = await edge(t, w);

  const good = await call(port, fx.tokens.ES256, { method: 'POST', body: 'hello', headers: { [SUBJECT]: 'mallory' } });
  assert.equal(good.status, 200, workerd.log);
  const seen = await good.json();
  assert.equal(seen.url, '/orders?id=7');
  assert.equal(seen.body, 'hello');
  assert.equal(seen.headers[SUBJECT], 'alice', 'the verified subject, not the one the client sent');
  assert.equal(seen.headers.authorization, undefined, 'the token stays at the edge');

  const bare = await call(port, null);
  assert.equal(bare.status, 401);
  assert.equal(bare.headers.get('www-authenticate'), `Bearer realm="http://127.0.0.1:${port}/orders"`);
  assert.deepEqual(await refusal(await call(port, null, { headers: { authorization: 'Basic YTpi' } })), { status: 401, code: 'missing_token' });

  // The catalog the core and the Envoy filter are held to, through HTTP: all at once, as a busy
  // edge sees them, sharing the verifier and its fetches. Only what a header can carry as it is
  // (visible ASCII, no spaces, under 32 KiB), as in the Envoy suite.
  const sendable = (token) => token.length > 0 && token.length < 32 * 1024 && /^[\x21-\x7e]+$/.test(token);
  const cases = fx.catalog.filter((c) => c.variant === 'standard' && sendable(c.token));
  const answers = await Promise.all(cases.map((c) => call(port, c.token)));
  const wrong = [];
  for (const [i, c] of cases.entries()) {
    const r = answers[i];
    if (c.want === 'ok') {
      const sub = r.status === 200 ? (await r.json()).headers[SUBJECT] : `${r.status} ${await r.text()}`;
      if (sub !== 'alice') wrong.push(`${c.name}: want ok, got ${sub}`);
      continue;
    }
    const { status, code } = await refusal(r);
    const want = c.want === 'refused' ? code : c.want;
    if (status !== (want === 'invalid_audience' ? 403 : 401) || code !== want || !r.headers.get('www-authenticate')?.includes('error="invalid_token"')) {
      wrong.push(`${c.name}: want ${c.want}, got ${status} ${code}`);
    }
  }
  assert.deepEqual(wrong, [], workerd.log);
  assert.ok(cases.length > 100 && cases.some((c) => c.want === 'too_large'));
  // One fetch for the keys, one for the unknown kids (within the cooldown), whatever the load.
  assert.equal(w.jwks.hits, 2);
});

test('with a REVOKED namespace bound, a revoked jti never reaches the origin, and a failing namespace is a 503', async (t) => {
  const w = await world(t, JSON.stringify(fx.variants.standard.jwks));
  const kv = await kvService(t);
  const { port, workerd } = await edge(t, { ...w, kv });
  assert.equal((await call(port, fx.tokens.ES256)).status, 200, workerd.log);
  kv.entries.set('revoked:t-1', { value: '1', expiration: Math.floor(Date.now() / 1000) + 600 });
  assert.deepEqual(await refusal(await call(port, fx.tokens.ES256)), { status: 401, code: 'revoked' });
  kv.down = true;
  assert.deepEqual(await refusal(await call(port, fx.tokens.ES256)), { status: 503, code: 'revocation_unavailable' });
  // A token the guard refuses anyway is refused for what it is.
  assert.deepEqual(await refusal(await call(port, fx.expired)), { status: 401, code: 'expired' });
});

test('a restarted workerd takes the keys from the cache while they are fresh, and no longer', async (t) => {
  const w = await world(t);
  const key = `127.0.0.1:${w.jwks.port}/.well-known/jwks.json`;
  let run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  assert.equal(w.jwks.hits, 1);
  const saved = w.cache.entries.get(key);
  assert.ok(saved, `the key set is saved under its URI: ${[...w.cache.entries.keys()]}`);
  assert.deepEqual(JSON.parse(saved.body), JSON.parse(keyset('p256', 'rsa', 'ed25519', 'p384', 'hmac')));
  assert.ok(Number(saved.headers[FETCHED_AT]) <= Date.now());

  await run.stop();
  run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.RS256)).status, 200);
  assert.equal(w.jwks.hits, 1, 'a new isolate, and no fetch');
  assert.equal(w.cache.ops.GET, 2);

  // Older than cacheSeconds, whatever the cache's own Cache-Control: fetched again, and saved.
  saved.headers[FETCHED_AT] = String(Date.now() - 601_000);
  await run.stop();
  run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.EdDSA)).status, 200);
  assert.equal(w.jwks.hits, 2);
  assert.ok(Date.now() - Number(w.cache.entries.get(key).headers[FETCHED_AT]) < 600_000);

  // cacheSeconds is the Worker's own: at 0, a copy is never fresh.
  await run.stop();
  run = await edge(t, { ...w, cacheSeconds: 0 });
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  assert.equal(w.jwks.hits, 3);
});

test('a rotated key is fetched past a fresh cached copy, and the new set is shared', async (t) => {
  const w = await world(t, keyset('p256'));
  let run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  assert.equal(w.jwks.hits, 1);

  w.jwks.body = keyset('p256', 'ed25519');
  await run.stop();
  run = await edge(t, w);
  // The cached copy is fresh but predates the rotation: the unknown kid goes to the issuer.
  assert.equal((await call(run.port, fx.tokens.EdDSA)).status, 200);
  assert.equal(w.jwks.hits, 2);
  // A kid the issuer does not have either: refused, and within the cooldown not fetched again.
  for (let i = 0; i < 3; i += 1) assert.deepEqual(await refusal(await call(run.port, fx.tokens.ES384)), { status: 401, code: 'unknown_key' });
  assert.equal(w.jwks.hits, 2);

  await run.stop();
  run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.EdDSA)).status, 200, 'the rotated set was saved');
  assert.equal(w.jwks.hits, 2);
});

test('with the issuer unreachable: stale keys serve, none is a 503, a corrupt copy is never trusted', async (t) => {
  const w = await world(t, keyset('p256'));
  const key = `127.0.0.1:${w.jwks.port}/.well-known/jwks.json`;
  await w.jwks.down();
  // No back-off after the failure, so that the issuer's return is seen at the next request.
  let run = await edge(t, { ...w, retrySeconds: 0 });
  assert.deepEqual(await refusal(await call(run.port, fx.tokens.ES256)), { status: 503, code: 'jwks_unavailable' });

  await w.jwks.up();
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  await w.jwks.down();

  // Past cacheSeconds and the issuer down: a new isolate serves the last good keys it finds.
  w.cache.entries.get(key).headers[FETCHED_AT] = String(Date.now() - 3600_000);
  await run.stop();
  run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);

  // A copy that does not parse is dropped, not used: with the issuer down there are no keys.
  w.cache.entries.get(key).body = '{"keys":[{"kty":"EC"';
  await run.stop();
  run = await edge(t, { ...w, retrySeconds: 0 });
  assert.deepEqual(await refusal(await call(run.port, fx.tokens.ES256)), { status: 503, code: 'jwks_unavailable' });
  assert.equal(w.cache.entries.has(key), false);
  assert.equal(w.cache.ops.PURGE, 1);

  // Nor does a copy without its fetch time count as fresh.
  await w.jwks.up();
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  delete w.cache.entries.get(key).headers[FETCHED_AT];
  const hits = w.jwks.hits;
  await run.stop();
  run = await edge(t, w);
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200);
  assert.equal(w.jwks.hits, hits + 1);
});

test('workerd refuses a key set redirect: the guard answers 503, the target is never asked', async (t) => {
  const target = await jwksServer(keyset('p256'));
  t.after(() => target.down());
  const w = await world(t);
  w.jwks.status = 302;
  w.jwks.headers = { location: target.uri() };
  const run = await edge(t, w);
  assert.deepEqual(await refusal(await call(run.port, fx.tokens.ES256)), { status: 503, code: 'jwks_unavailable' }, run.workerd.log);
  assert.equal(w.jwks.hits, 1);
  assert.equal(target.hits, 0);
});

test('a cache service that is down costs a fetch, never a verification', async (t) => {
  const w = await world(t);
  const run = await edge(t, { ...w, cache: { port: await freePort() } });
  assert.equal((await call(run.port, fx.tokens.ES256)).status, 200, run.workerd.log);
  assert.deepEqual(await refusal(await call(run.port, fx.expired)), { status: 401, code: 'expired' });
  assert.equal(w.jwks.hits, 1);
});

// ---- RemoteVerifier's `cache` option in Node, with a Cache-like object of our own ----

/** A Cache API stand-in in memory; `fail` makes every method throw. */
function memoryCache() {
  const cache = { store: new Map(), calls: [], fail: false };
  for (const method of ['match', 'put', 'delete']) {
    cache[method] = async (key, response) => {
      cache.calls.push(method);
      if (cache.fail) throw new Error('cache down');
      if (method === 'put') return void cache.store.set(key, response);
      if (method === 'delete') return cache.store.delete(key);
      return cache.store.get(key)?.clone();
    };
  }
  return cache;
}

const remote = (jwks, extra) => new RemoteVerifier({ jwksUri: jwks.uri(), issuer: fx.issuer, audiences: fx.audience, ...extra });
const verifyAt = (v, token) => v.verify(token, { now: fx.now });

test('RemoteVerifier: caches.default by default, any Cache-like object, false for none', async (t) => {
  const jwks = await jwksServer(keyset('p256'));
  t.after(() => jwks.down());
  const cache = memoryCache();
  globalThis.caches = { default: cache };
  t.after(() => delete globalThis.caches);
  await verifyAt(remote(jwks), fx.tokens.ES256);
  assert.deepEqual(cache.calls, ['match', 'put']);
  await verifyAt(remote(jwks), fx.tokens.ES256);
  assert.equal(jwks.hits, 1, 'a second verifier takes the saved copy');
  await verifyAt(remote(jwks, { cache: false }), fx.tokens.ES256);
  assert.equal(jwks.hits, 2);
  assert.equal(cache.calls.length, 3);
  for (const bad of [null, true, {}, { match() {}, put() {} }]) {
    assert.throws(() => remote(jwks, { cache: bad }), { name: 'TypeError', message: /cache/ });
  }
});

test('RemoteVerifier: a failing cache is a miss; a corrupt copy is dropped and never trusted', async (t) => {
  const jwks = await jwksServer(keyset('p256'));
  t.after(() => jwks.down().catch(() => {}));
  const cache = memoryCache();
  cache.fail = true;
  assert.equal((await verifyAt(remote(jwks, { cache }), fx.tokens.ES256)).sub, 'alice');
  assert.deepEqual(cache.calls, ['match', 'put']);
  // Not even a Response: as bad as corrupt.
  cache.fail = false;
  cache.match = async () => ({ ok: true });
  assert.equal((await verifyAt(remote(jwks, { cache }), fx.tokens.ES256)).sub, 'alice');
  assert.equal(jwks.hits, 2);

  const junk = new Response('{"keys": [', { headers: { [FETCHED_AT]: String(Date.now()) } });
  const corrupt = memoryCache();
  corrupt.store.set(jwks.uri(), junk);
  await jwks.down();
  await assert.rejects(verifyAt(remote(jwks, { cache: corrupt }), fx.tokens.ES256), (e) => e instanceof JwtError && e.code === 'jwks_unavailable');
  assert.equal(corrupt.store.size, 0);
});

// OIDC discovery in workerd: a Worker that names only its issuer. The document and the keys
// are fetched over workerd's own network and shared through its Cache API.
const DISCOVERING = `import { RemoteVerifier } from 'jwtgate';
let verifier;
export default {
  async fetch(request, env, ctx) {
    verifier ??= new RemoteVerifier({ issuer: env.ISSUER, audiences: ['api'] });
    const { claims, response } = await verifier.authenticate(request, { waitUntil: ctx.waitUntil.bind(ctx) });
    return response ?? new Response(claims.sub);
  },
};`;

test('discovery in workerd: the document and keys are found, shared across isolates, and another issuer’s refused', async (t) => {
  const jose = await import(pathToFileURL(createRequire(join(process.env.NODE_TOOLS, 'x.js')).resolve('jose')).href);
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1' };
  const hits = { doc: 0, keys: 0 };
  const state = { issuer: null };
  const idp = await listen((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      hits.doc += 1;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: state.issuer, jwks_uri: `${iss}/jwks` }));
    }
    hits.keys += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  t.after(() => idp.close());
  const iss = `http://127.0.0.1:${idp.port}`;
  state.issuer = iss;
  const token = await new jose.SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(iss).setAudience('api').setExpirationTime('10m').sign(privateKey);
  const cache = await cacheService(t);
  const run = () =>
    serveWorker(t, { 'main.js': DISCOVERING }, {
      services: ['(name = "internet", network = (allow = ["local"]))', `(name = "cache", external = (address = "127.0.0.1:${cache.port}", http = ()))`].join(', '),
      worker: `cacheApiOutbound = "cache",
  bindings = [(name = "ISSUER", text = ${JSON.stringify(iss)})],`,
    });
  let worker = await run();
  const ask = async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: `Bearer ${token}` } });
    return `${r.status} ${r.headers.get('www-authenticate') ?? (await r.text())}`;
  };
  assert.equal(await ask(worker.port), '200 alice', worker.workerd.log);
  assert.deepEqual(hits, { doc: 1, keys: 1 });
  // Saved in the background (waitUntil): both copies, the document under its OIDC URL.
  while (cache.ops.PUT < 2) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cache.entries.has(`127.0.0.1:${idp.port}/.well-known/openid-configuration`));

  await worker.stop();
  worker = await run();
  assert.equal(await ask(worker.port), '200 alice');
  assert.deepEqual(hits, { doc: 1, keys: 1 }, 'a new isolate, and no fetch');

  // A new isolate with no copies and an issuer whose document names another: refused, fail closed.
  await worker.stop();
  cache.entries.clear();
  state.issuer = 'https://accounts.example';
  worker = await run();
  assert.match(await ask(worker.port), /^503 jwks_unavailable/);
  assert.equal(hits.keys, 1, 'no key set fetched for it');
});
