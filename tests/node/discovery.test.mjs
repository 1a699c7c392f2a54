// RemoteVerifier without jwksUri: OIDC discovery against an issuer on loopback, started by each
// test, that serves its metadata and its key set and counts what is asked of it. Tokens are
// signed by `jose`, as an issuer would sign them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RemoteVerifier, JwtError } from 'jwtgate';
import { looseServer } from './net.mjs';

const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));
const jose = await import(pathToFileURL(tools.resolve('jose')).href);
const QUICK = { timeout: 10_000 };
const unavailable = (pattern) => (e) => e instanceof JwtError && e.code === 'jwks_unavailable' && pattern.test(e.message);

async function signer(kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const sign = (iss) =>
    new jose.SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(iss).setAudience('api').setIssuedAt().setExpirationTime('10m').sign(privateKey);
  return { jwk, sign };
}

/**
 * An issuer on loopback at `path`, its discovery document where OIDC puts it (or RFC 8414,
 * with `rfc8414`), whose members `doc` may replace, and key sets at /jwks and /jwks2. `hits`
 * counts requests by path.
 */
async function issuer(t, { path = '', rfc8414 = false } = {}) {
  const it = { hits: {}, status: 200, stall: false, keys: { '/jwks': [], '/jwks2': [] }, doc: {} };
  const docUrl = rfc8414 ? `/.well-known/oauth-authorization-server${path}` : `${path}/.well-known/openid-configuration`;
  it.server = await looseServer(t, (req, res) => {
    it.hits[req.url] = (it.hits[req.url] ?? 0) + 1;
    if (req.url === docUrl) {
      if (it.stall) return;
      if (it.status !== 200) return void res.writeHead(it.status).end();
      const doc = { issuer: it.iss, jwks_uri: `${it.origin}/jwks`, ...it.doc };
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(it.raw ?? JSON.stringify(doc));
    }
    if (it.keys[req.url]) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: it.keys[req.url] }));
    res.writeHead(404).end();
  });
  it.origin = `http://127.0.0.1:${it.server.port}`;
  it.iss = it.origin + path;
  it.docs = () => it.hits[docUrl] ?? 0;
  it.keyHits = () => (it.hits['/jwks'] ?? 0) + (it.hits['/jwks2'] ?? 0);
  return it;
}

const opts = (it, extra = {}) => ({ issuer: it.iss, audiences: ['api'], cache: false, ...extra });

/** A Cache API stand-in that keeps what it is given (as browser cache storage does). */
function memoryCache() {
  const store = new Map();
  return { store, match: async (k) => store.get(k)?.clone(), put: async (k, r) => void store.set(k, r), delete: async (k) => store.delete(k) };
}

test('without jwksUri the key set is the one the issuer’s discovery document names; both are cached', QUICK, async (t) => {
  for (const path of ['', '/realms/demo']) {
    const it = await issuer(t, { path });
    const key = await signer('k1');
    it.keys['/jwks'] = [key.jwk];
    const v = new RemoteVerifier(opts(it));
    const token = await key.sign(it.iss);
    const all = await Promise.all(Array.from({ length: 10 }, () => v.verify(token)));
    assert.ok(all.every((c) => c.sub === 'alice' && c.iss === it.iss), path);
    assert.equal(await v.verify(token).then((c) => c.sub), 'alice');
    assert.deepEqual([it.docs(), it.keyHits()], [1, 1], `${path}: one document, one key set, shared and cached`);
    assert.equal(it.hits[`${path}/.well-known/openid-configuration`], 1, 'the OIDC location, the issuer with the path kept');
    // The issuer is still checked on the token: discovery does not replace the claim check.
    await assert.rejects(v.verify(await key.sign(`${it.iss}/other`)), { code: 'invalid_issuer' });
  }
});

test('an issuer that serves only RFC 8414 metadata is found there, after a 404; other failures do not look there', QUICK, async (t) => {
  const it = await issuer(t, { path: '/tenant', rfc8414: true });
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  assert.equal((await new RemoteVerifier(opts(it)).verify(await key.sign(it.iss))).sub, 'alice');
  assert.equal(it.hits['/tenant/.well-known/openid-configuration'], 1, 'OIDC first: 404');
  assert.equal(it.hits['/.well-known/oauth-authorization-server/tenant'], 1, 'then RFC 8414 §3, inserted before the path');

  const oidc = await issuer(t, { path: '/tenant' });
  oidc.status = 500;
  await assert.rejects(new RemoteVerifier(opts(oidc)).verify(await key.sign(oidc.iss)), unavailable(/discovery document could not be fetched: HTTP 500/));
  assert.equal(oidc.hits['/.well-known/oauth-authorization-server/tenant'], undefined, 'a 500 is a failure, not an absence');
});

test('a document that names another issuer, or no usable jwks_uri, is refused: no key set is fetched', QUICK, async (t) => {
  const it = await issuer(t);
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  const token = await key.sign(it.iss);
  const cases = [
    [{ issuer: `${it.iss}/` }, /names issuer/],
    [{ issuer: 'https://accounts.example' }, /names issuer "https:\/\/accounts.example"/],
    [{ issuer: undefined }, /no issuer/],
    [{ jwks_uri: undefined }, /no jwks_uri/],
    [{ jwks_uri: 42 }, /no jwks_uri/],
    [{ jwks_uri: 'ftp://127.0.0.1/jwks' }, /https/],
    [{ jwks_uri: 'http://keys.example/jwks' }, /https/],
    [{ jwks_uri: `http://localhost@keys.example/jwks` }, /host/],
    [{ jwks_uri: `/jwks` }, /https/],
  ];
  for (const [members, reason] of cases) {
    it.doc = members;
    await assert.rejects(new RemoteVerifier(opts(it)).verify(token), unavailable(reason), JSON.stringify(members));
  }
  // The document is read as strictly as a token: a second `issuer` member is not a choice.
  it.raw = `{"issuer":"https://accounts.example","issuer":${JSON.stringify(it.iss)},"jwks_uri":"${it.origin}/jwks"}`;
  await assert.rejects(new RemoteVerifier(opts(it)).verify(token), unavailable(/strict JSON/));
  it.raw = '<html>';
  await assert.rejects(new RemoteVerifier(opts(it)).verify(token), unavailable(/strict JSON/));
  assert.equal(it.keyHits(), 0);

  // An https issuer's document may not send its key set fetch to plain http, even on loopback.
  const asked = [];
  const fetch = async (url) => {
    asked.push(url);
    return new Response(JSON.stringify({ issuer: 'https://id.example', jwks_uri: `${it.origin}/jwks` }));
  };
  const https = new RemoteVerifier({ issuer: 'https://id.example', audiences: ['api'], cache: false, fetch });
  await assert.rejects(https.verify(await key.sign('https://id.example')), unavailable(/must be https/));
  assert.deepEqual(asked, ['https://id.example/.well-known/openid-configuration']);
  assert.equal(it.keyHits(), 0);
});

test('options: jwksUri wins; discovery needs an https issuer (http on loopback) and reads it once', async (t) => {
  const it = await issuer(t);
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  assert.equal((await new RemoteVerifier(opts(it, { jwksUri: `${it.origin}/jwks` })).verify(await key.sign(it.iss))).sub, 'alice');
  assert.equal(it.docs(), 0, 'with jwksUri there is no discovery');
  for (const bad of [
    { audiences: ['api'] },
    { issuer: 'http://id.example' },
    { issuer: 'http://127.0.0.1.example.com' },
    { issuer: 'https://id.example?tenant=a' },
    { issuer: 'https://id.example#a' },
    { issuer: 'https://id.example/a b' },
    { issuer: 'urn:example:issuer' },
    { issuer: '' },
    { issuer: null },
    { issuer: new URL('https://id.example') },
    { issuer: 'https://id.example', jwksUri: null },
    { issuer: 'https://id.example', jwksUri: 42 },
  ]) {
    assert.throws(() => new RemoteVerifier(bad), TypeError, JSON.stringify(bad));
  }
  for (const good of ['https://id.example', 'https://id.example/', 'http://localhost:8080/realms/a', 'http://[::1]:9000']) {
    assert.ok(new RemoteVerifier({ issuer: good }));
  }
  // A getter read twice could discover one issuer and check tokens against another.
  let reads = 0;
  let answer = it.iss;
  const tricky = {
    get issuer() {
      reads += 1;
      const now = answer;
      answer = 'https://elsewhere.example';
      return now;
    },
    audiences: ['api'],
    cache: false,
  };
  const v = new RemoteVerifier(tricky);
  assert.equal(reads, 1);
  assert.equal((await v.verify(await key.sign(it.iss))).iss, it.iss);
});

test('the document is re-read once it is older than cacheSeconds, and not before', QUICK, async (t) => {
  for (const cacheSeconds of [600, 0]) {
    const it = await issuer(t);
    const [first, second] = [await signer('k1'), await signer('k2')];
    it.keys['/jwks'] = [first.jwk];
    const v = new RemoteVerifier(opts(it, { cacheSeconds, retrySeconds: 0, cooldownSeconds: 0 }));
    assert.equal((await v.verify(await first.sign(it.iss))).sub, 'alice');
    // The issuer moves its keys: a new key, published at a new URL its document now names.
    it.doc = { jwks_uri: `${it.origin}/jwks2` };
    it.keys['/jwks2'] = [first.jwk, second.jwk];
    const rotated = v.verify(await second.sign(it.iss));
    if (cacheSeconds === 600) {
      // The unknown kid's re-fetch goes to the key set URL in hand: the document is fresh.
      await assert.rejects(rotated, { code: 'unknown_key' });
      assert.deepEqual([it.docs(), it.hits['/jwks'], it.hits['/jwks2']], [1, 2, undefined]);
    } else {
      assert.equal((await rotated).sub, 'alice', 'the expired document was read again, and its new jwks_uri used');
      assert.equal(it.docs(), 2);
      assert.equal(it.hits['/jwks2'], 1);
    }
  }
});

test('a failing issuer: the last document serves within maxStaleSeconds; with none, verify fails closed', QUICK, async (t) => {
  const it = await issuer(t);
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  const token = await key.sign(it.iss);
  const v = new RemoteVerifier(opts(it, { cacheSeconds: 0, retrySeconds: 0 }));
  assert.equal((await v.verify(token)).sub, 'alice');
  it.status = 503;
  // Every verify starts a refresh (cacheSeconds 0); its document fails, the last one names the keys.
  for (let i = 0; i < 3; i += 1) assert.equal((await v.verify(token)).sub, 'alice');
  // The keys are still refreshed, from the URL the last document named (or the test times out).
  while ((it.hits['/jwks'] ?? 0) < 2) await new Promise((r) => setTimeout(r, 5));
  assert.ok(it.docs() >= 2, 'after the document was asked for again');

  // No document ever had: jwks_unavailable, and the back-off spares the issuer.
  const down = await issuer(t);
  down.status = 503;
  const none = new RemoteVerifier(opts(down, { retrySeconds: 30 }));
  for (let i = 0; i < 5; i += 1) await assert.rejects(none.verify(token), unavailable(/HTTP 503/));
  assert.equal(down.docs(), 1);
});

test('a document fetch that hangs or redirects fails closed at the fetch timeout, not followed', QUICK, async (t) => {
  const it = await issuer(t);
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  it.stall = true;
  await assert.rejects(new RemoteVerifier(opts(it, { fetchTimeoutSeconds: 0.3 })).verify(await key.sign(it.iss)), unavailable(/discovery document fetch took more than 0.3 s/));
  const redirecting = await looseServer(t, (req, res) => res.writeHead(302, { location: `${it.origin}${req.url}` }).end());
  const iss = `http://127.0.0.1:${redirecting.port}`;
  await assert.rejects(new RemoteVerifier({ issuer: iss, cache: false }).verify(await key.sign(iss)), unavailable(/redirect/));
  assert.equal(redirecting.hits, 1);
  assert.equal(it.keyHits(), 0);
});

test('a shared cache carries the document and the keys to another verifier; a poisoned copy is never used', QUICK, async (t) => {
  const it = await issuer(t);
  const key = await signer('k1');
  it.keys['/jwks'] = [key.jwk];
  const token = await key.sign(it.iss);
  const cache = memoryCache();
  const handed = [];
  const first = new RemoteVerifier(opts(it, { cache }));
  assert.equal((await first.verify(token, { waitUntil: (p) => handed.push(p) })).sub, 'alice');
  await Promise.all(handed);
  assert.deepEqual([...cache.store.keys()].sort(), [`${it.iss}/.well-known/openid-configuration`, `${it.origin}/jwks`]);
  // A new isolate, as it were: the copies answer, the issuer is not asked.
  assert.equal((await new RemoteVerifier(opts(it, { cache })).verify(token)).sub, 'alice');
  assert.deepEqual([it.docs(), it.keyHits()], [1, 1]);

  // A copy of another issuer's document, fresh by its own account, is deleted and read again.
  const forged = JSON.stringify({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' });
  const docKey = `${it.iss}/.well-known/openid-configuration`;
  cache.store.set(docKey, new Response(forged, { headers: { 'jwtgate-fetched-at': String(Date.now()) } }));
  cache.store.delete(`${it.origin}/jwks`);
  handed.length = 0;
  assert.equal((await new RemoteVerifier(opts(it, { cache })).verify(token, { waitUntil: (p) => handed.push(p) })).sub, 'alice');
  await Promise.all(handed);
  assert.equal(it.docs(), 2, 'the issuer was asked instead');
  assert.match(await (await cache.match(docKey)).text(), new RegExp(`"issuer":"${it.iss}"`));
});
