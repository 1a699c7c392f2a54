// jwtgate/hono in a real workerd, with Hono from npm bundled as wrangler would (esbuild), run by
// Miniflare with the revocation list in Workers KV's local storage; a KV binding over a store in
// this process only where a namespace has to fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fx } from './fixtures.mjs';
import { kvService } from './kv-service.mjs';
import { packageDir, packageModules, serveWorker } from './workerd-run.mjs';

const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));
const { cases } = fx.authenticate;
const token = (name) => cases.find((c) => c.name === name).token;

const APP = `
import { Hono } from 'hono';
import { Verifier } from 'jwtgate';
import { jwt } from 'jwtgate/hono';
import { kvRevocation } from 'jwtgate/revocation';

const now = ${fx.now};
let app;
function build(env) {
  const list = kvRevocation(env.REVOKED, { cacheSeconds: Number(env.CACHE_SECONDS) });
  const verifier = new Verifier({ jwks: ${JSON.stringify(JSON.stringify(fx.jwks))}, issuer: ${JSON.stringify(fx.issuer)},
    audiences: [${JSON.stringify(fx.audience)}], revoked: list.revoked });
  const app = new Hono();
  app.use('/api/*', jwt(verifier, { now }));
  app.get('/api/me', (c) => c.json({ sub: c.get('jwtPayload').sub }));
  app.get('/api/admin', jwt(verifier, { now, requiredClaims: { role: ['admin', 'ops'] } }), (c) => c.json({ admin: c.get('jwtPayload').sub }));
  // For the test only: revoke a jti until exp, as an admin endpoint would.
  app.post('/revoke', async (c) => {
    await list.revoke(c.req.query('jti'), Number(c.req.query('exp')));
    return c.text('ok');
  });
  return app;
}
export default { fetch: (request, env, ctx) => (app ??= build(env)).fetch(request, env, ctx) };
`;

/** The app with Hono inlined and the package left to workerd's modules, as a bundler would. */
async function bundle() {
  const { build } = tools('esbuild');
  const out = await build({
    stdin: { contents: APP, resolveDir: process.env.NODE_TOOLS, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'import'],
    mainFields: ['module', 'main'],
    external: ['jwtgate', 'jwtgate/*'],
    write: false,
    logLevel: 'silent',
  });
  // The package's subpaths are modules of their own file names beside `jwtgate`.
  return out.outputFiles[0].text.replace(/(["'])jwtgate\/(hono|revocation)\1/g, '"./$2.js"');
}

async function honoWorker(t, kv, cacheSeconds) {
  return serveWorker(t, { 'main.js': await bundle() }, {
    services: `(name = "kv", external = (address = "127.0.0.1:${kv.port}", http = ()))`,
    worker: `bindings = [(name = "REVOKED", kvNamespace = "kv"), (name = "CACHE_SECONDS", text = "${cacheSeconds}")],`,
  });
}

test('Hono in workerd: protected and role-protected routes, claims reaching the handler', async (t) => {
  const { url } = await miniflare(t, 0);
  const get = (path, tok) => fetch(new URL(path, url), { headers: tok ? { authorization: `Bearer ${tok}` } : {} });

  let r = await get('/api/me', fx.tokens.ES256);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { sub: 'alice' });
  r = await get('/api/me');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${new URL('/api/me', url)}"`);
  r = await get('/api/me', fx.expired);
  assert.equal(r.status, 401);
  assert.equal(await r.text(), 'expired\n');
  assert.equal((await get('/api/admin', token('role one of'))).status, 200);
  r = await get('/api/admin', token('role lacking'));
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${new URL('/api/admin', url)}", error="insufficient_scope", error_description="insufficient_claims"`);
});

// Miniflare's KV cannot be made to fail: workerd's KV binding over the stand-in store can.
test('Workers KV revocation: a namespace that fails refuses with 503, never lets through', async (t) => {
  const kv = await kvService(t);
  const { port, workerd } = await honoWorker(t, kv, 0);
  const me = () => fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });
  assert.equal((await me()).status, 200, workerd.log);
  kv.down = true;
  const r = await me();
  assert.equal(r.status, 503, workerd.log);
  assert.equal(await r.text(), 'revocation_unavailable\n');
});

// The same Worker in Miniflare, which runs workerd with Workers KV's own local storage (the
// store `wrangler dev` uses): revocation against the real local KV, offline (`cf: false`).
async function miniflare(t, cacheSeconds, kvPersist) {
  const { Miniflare } = tools('miniflare');
  const modules = [{ type: 'ESModule', path: '/main.js', contents: await bundle() }];
  for (const [file, name] of packageModules()) {
    modules.push({ type: file.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule', path: `/${name}`, contents: readFileSync(join(packageDir, file)) });
  }
  const mf = new Miniflare({
    modules,
    modulesRoot: '/',
    compatibilityDate: '2025-01-01',
    kvNamespaces: { REVOKED: 'revoked' },
    kvPersist,
    bindings: { CACHE_SECONDS: String(cacheSeconds) },
    host: '127.0.0.1',
    port: 0,
    cf: false,
  });
  t.after(() => mf.dispose().catch(() => {}));
  const url = await mf.ready;
  const me = () => fetch(new URL('/api/me', url), { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });
  return { mf, url, me, kv: await mf.getKVNamespace('REVOKED') };
}

test('Miniflare\'s local KV: revocation refused once written, entry expiring at the token\'s exp', async (t) => {
  const { url, me, kv } = await miniflare(t, 0);
  let r = await me();
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { sub: 'alice' });

  const exp = Math.floor(Date.now() / 1000) + 600;
  r = await fetch(new URL(`/revoke?jti=t-1&exp=${exp}`, url), { method: 'POST' });
  assert.equal(r.status, 200, await r.text());
  assert.equal(await kv.get('revoked:t-1'), '1');
  let { keys } = await kv.list({ prefix: 'revoked:' });
  assert.deepEqual(keys.map(({ name, expiration }) => ({ name, expiration })), [{ name: 'revoked:t-1', expiration: exp }]);
  r = await me();
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error_description="revoked"/);
  assert.equal(await r.text(), 'revoked\n');

  // KV takes no expiration under 60 s from now (Miniflare refuses it too): kept 60 s instead.
  const soon = Math.floor(Date.now() / 1000) + 5;
  r = await fetch(new URL(`/revoke?jti=t-2&exp=${soon}`, url), { method: 'POST' });
  assert.equal(r.status, 200, await r.text());
  ({ keys } = await kv.list({ prefix: 'revoked:t-2' }));
  assert.ok(keys[0].expiration >= soon + 55, JSON.stringify(keys));
});

test('Miniflare\'s local KV with a local cache: a put through KV reaches an isolate within its bound', async (t) => {
  const kvPersist = mkdtempSync(join(tmpdir(), 'jwtgate-kv-'));
  t.after(() => rmSync(kvPersist, { recursive: true, force: true }));
  const { mf, me, kv } = await miniflare(t, 300, kvPersist);
  assert.equal((await me()).status, 200);
  // Written elsewhere (another isolate, `wrangler kv key put`): cached within the bound ...
  await kv.put('revoked:t-1', '1', { expiration: Math.floor(Date.now() / 1000) + 600 });
  assert.equal((await me()).status, 200, 'cached within the bound');
  // ... and a fresh isolate over the same stored namespace reads it at once.
  await mf.dispose();
  const restarted = await miniflare(t, 300, kvPersist);
  assert.equal((await restarted.me()).status, 401);
  // With no cache, the very next request sees a put.
  const uncached = await miniflare(t, 0);
  assert.equal((await uncached.me()).status, 200);
  await uncached.kv.put('revoked:t-1', '1', { expiration: Math.floor(Date.now() / 1000) + 600 });
  assert.equal((await uncached.me()).status, 401);
});
