// jwtgate/hono in a real workerd, with Hono from npm bundled as wrangler would (esbuild), and
// the revocation list in workerd's own KV binding, backed by a KV service in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fx } from './fixtures.mjs';
import { kvService } from './kv-service.mjs';
import { serveWorker } from './workerd-run.mjs';

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
  const kv = await kvService(t);
  const { port, workerd } = await honoWorker(t, kv, 0);
  const get = (path, tok) => fetch(`http://127.0.0.1:${port}${path}`, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });

  let r = await get('/api/me', fx.tokens.ES256);
  assert.equal(r.status, 200, workerd.log);
  assert.deepEqual(await r.json(), { sub: 'alice' });
  r = await get('/api/me');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="http://127.0.0.1:${port}/api/me"`);
  r = await get('/api/me', fx.expired);
  assert.equal(r.status, 401);
  assert.equal(await r.text(), 'expired\n');
  assert.equal((await get('/api/admin', token('role one of'))).status, 200);
  r = await get('/api/admin', token('role lacking'));
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="http://127.0.0.1:${port}/api/admin", error="insufficient_scope", error_description="insufficient_claims"`);
  assert.ok(kv.seen.every((s) => s.startsWith('GET /revoked%3At-1') || s.startsWith('GET /revoked:t-1')), kv.seen.join('\n'));
});

test('Workers KV revocation: refused once written, kept until the token\'s exp, fail closed', async (t) => {
  const kv = await kvService(t);
  const { port, workerd } = await honoWorker(t, kv, 0);
  const me = () => fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });
  assert.equal((await me()).status, 200, workerd.log);

  const exp = Math.floor(Date.now() / 1000) + 600;
  assert.equal((await fetch(`http://127.0.0.1:${port}/revoke?jti=t-1&exp=${exp}`, { method: 'POST' })).status, 200, workerd.log);
  assert.deepEqual(kv.entries.get('revoked:t-1'), { value: '1', expiration: exp }, kv.seen.join('\n'));
  let r = await me();
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error_description="revoked"/);

  // KV takes no expiration under 60 s from now: a token that close to its end is kept 60 s.
  const soon = Math.floor(Date.now() / 1000) + 5;
  await fetch(`http://127.0.0.1:${port}/revoke?jti=t-2&exp=${soon}`, { method: 'POST' });
  assert.ok(kv.entries.get('revoked:t-2').expiration >= soon + 55, JSON.stringify(kv.entries.get('revoked:t-2')));

  // The namespace fails: refused with 503, never let through.
  kv.entries.clear();
  kv.down = true;
  r = await me();
  assert.equal(r.status, 503, workerd.log);
  assert.equal(await r.text(), 'revocation_unavailable\n');
});

test('Workers KV revocation with a local cache: a written revocation reaches an isolate within its bound', async (t) => {
  const kv = await kvService(t);
  const { port } = await honoWorker(t, kv, 300);
  const me = () => fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });
  assert.equal((await me()).status, 200);
  const gets = kv.seen.length;
  assert.equal((await me()).status, 200);
  assert.equal(kv.seen.length, gets, 'the second request is answered from the local cache');
  // Written elsewhere (another isolate, wrangler kv put): this isolate sees it once its cache
  // bound passes; a restart is a fresh cache, which reads it at once.
  kv.entries.set('revoked:t-1', { value: '1', expiration: Math.floor(Date.now() / 1000) + 600 });
  assert.equal((await me()).status, 200, 'cached within the bound');
  const restarted = await honoWorker(t, kv, 300);
  const r = await fetch(`http://127.0.0.1:${restarted.port}/api/me`, { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });
  assert.equal(r.status, 401);
});
