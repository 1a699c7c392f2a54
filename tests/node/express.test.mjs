// jwtgate/express in a real Express (from npm) on loopback, and revocation in a real
// redis-server started here (no persistence), through the node-redis client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Verifier } from 'jwtgate';
import { jwt } from 'jwtgate/express';
import { jwt as jwtHono } from 'jwtgate/hono';
import { redisRevocation } from 'jwtgate/revocation';
import { fx } from './fixtures.mjs';
import { redisServer } from './net.mjs';

const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));
const express = tools('express');
const options = { jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience] };
const { cases } = fx.authenticate;
const token = (name) => cases.find((c) => c.name === name).token;

/** Serves `app` on a free loopback port until the test ends. */
async function serve(t, app) {
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.after(() => new Promise((done) => server.close(done)));
  return `http://127.0.0.1:${server.address().port}`;
}

function service(verifier) {
  const app = express();
  app.get('/me', jwt(verifier, { now: fx.now }), (req, res) => res.json({ sub: req.auth.sub, locals: res.locals.jwtPayload.sub }));
  app.get('/admin', jwt(verifier, { now: fx.now, requiredClaims: { role: 'admin' } }), (req, res) => res.json({ admin: req.auth.sub }));
  app.post('/echo', jwt(verifier, { now: fx.now }), express.text(), (req, res) => res.send(req.body));
  return app;
}

test('Express: protected and role-protected routes, claims in req.auth, refusals as the filter', async (t) => {
  const base = await serve(t, service(new Verifier(options)));
  const get = (path, token, init = {}) =>
    fetch(base + path, { ...init, headers: { ...(token && { authorization: `Bearer ${token}` }), ...init.headers } });

  let r = await get('/me', fx.tokens.ES256);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { sub: 'alice', locals: 'alice' });

  r = await get('/me');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${base}/me"`);
  assert.equal(await r.text(), 'missing_token\n');

  r = await get('/me?x=1', fx.expired);
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${base}/me", error="invalid_token", error_description="expired"`);

  r = await get('/admin', token('role held'));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { admin: 'alice' });
  for (const name of ['role lacking', 'role absent', 'a string is whole']) {
    r = await get('/admin', token(name));
    assert.equal(r.status, 403, name);
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${base}/admin", error="insufficient_scope", error_description="insufficient_claims"`);
  }
  r = await get('/admin', token('another audience'));
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate'), /error_description="invalid_audience"/);

  // The body is the handler's, untouched by the middleware.
  r = await get('/echo', fx.tokens.ES256, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(await r.text(), 'hello');
  // A route's requirement is read where it is written, and so are its other options: a
  // misspelt name or a wrong type is a TypeError at start-up, not a 500 on every request.
  assert.throws(() => jwt(new Verifier(options), { requiredClaims: { role: [] } }), TypeError);
  assert.throws(() => jwt(new Verifier(options), { requiredClaim: { role: 'admin' } }), /unknown jwt option "requiredClaim"/);
  assert.throws(() => jwt(new Verifier(options), { cookie: 5 }), TypeError);
  assert.throws(() => jwtHono(new Verifier(options), { requiredClaim: { role: 'admin' } }), /unknown jwt option "requiredClaim"/);
});

test("a route's options given by prototype or getter reach its requests, in Express and in Hono", async (t) => {
  // Read as the verifiers read options: Object.create(defaults) and class getters count. Hono
  // once spread them into each request's options, which kept own properties only: the route
  // was checked, and then every token reached the handler, a role lacking or not.
  const { Hono } = tools('hono');
  class AdminRoute {
    now = fx.now;

    get requiredClaims() {
      return { role: 'admin' };
    }
  }
  const verifier = new Verifier(options);
  for (const route of [Object.assign(Object.create({ requiredClaims: { role: 'admin' } }), { now: fx.now }), new AdminRoute()]) {
    const hono = new Hono();
    hono.get('/admin', jwtHono(verifier, route), (c) => c.text('admin'));
    const app = express();
    app.get('/admin', jwt(verifier, route), (req, res) => res.send('admin'));
    const base = await serve(t, app);
    for (const [name, status] of [['role held', 200], ['role lacking', 403]]) {
      const headers = { authorization: `Bearer ${token(name)}` };
      assert.equal((await hono.request('/admin', { headers })).status, status, `hono, ${name}`);
      assert.equal((await fetch(`${base}/admin`, { headers })).status, status, `express, ${name}`);
    }
  }
  // Read for each request, as a call's options are: a getter's now is this request's time.
  let clock = fx.now;
  const live = {
    get now() {
      return clock;
    },
  };
  const hono = new Hono();
  hono.get('/me', jwtHono(verifier, live), (c) => c.text('me'));
  const app = express();
  app.get('/me', jwt(verifier, live), (req, res) => res.send('me'));
  const base = await serve(t, app);
  const headers = { authorization: `Bearer ${fx.tokens.ES256}` };
  assert.equal((await hono.request('/me', { headers })).status, 200);
  assert.equal((await fetch(`${base}/me`, { headers })).status, 200);
  clock = fx.now + 86400;
  assert.equal((await hono.request('/me', { headers })).status, 401, 'hono: expired by now');
  assert.equal((await fetch(`${base}/me`, { headers })).status, 401, 'express: expired by now');
});

async function redisClient(t, port) {
  const { createClient } = tools('redis');
  const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.isOpen && client.destroy());
  return client;
}

test('revocation in redis-server: refused at once here, within the cache bound elsewhere, kept until exp, fail closed', async (t) => {
  const redis = await redisServer(t);
  const client = await redisClient(t, redis.port);
  const here = redisRevocation(client, { cacheSeconds: 5 });
  const elsewhere = redisRevocation(client, { cacheSeconds: 5, cacheSize: 1 });
  const base = await serve(t, service(new Verifier({ ...options, revoked: here.revoked })));
  const other = new Verifier({ ...options, revoked: elsewhere.revoked });
  const call = (v, tok) => v.authenticate(new Request('http://api.test/me', { headers: { authorization: `Bearer ${tok}` } }), { now: fx.now });
  const me = () => fetch(`${base}/me`, { headers: { authorization: `Bearer ${fx.tokens.ES256}` } });

  assert.equal((await me()).status, 200);
  assert.equal((await call(other, fx.tokens.ES256)).claims.jti, 't-1');

  // Revoked with the token's exp; the claims carry the fixtures' time, so give a live exp.
  const exp = Math.floor(Date.now() / 1000) + 600;
  await here.revoke('t-1', exp);
  assert.equal(Number(await client.sendCommand(['EXPIRETIME', 'revoked:t-1'])), exp, 'the entry expires with the token');
  let r = await me();
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token", error_description="revoked"/);

  // Another instance answers from its cache until the bound: its one entry goes when it
  // looks up another jti, or when cacheSeconds pass.
  assert.ok((await call(other, fx.tokens.ES256)).claims, 'cached: still let through');
  assert.equal(await elsewhere.revoked('another'), false);
  assert.equal((await call(other, fx.tokens.ES256)).response?.status, 401, 'past the size bound: read again');
  const later = redisRevocation(client, { cacheSeconds: 5 });
  await client.sendCommand(['DEL', 'revoked:t-1']);
  assert.equal(await later.revoked('t-1'), false);
  await here.revoke({ jti: 't-1', exp });
  const realNow = Date.now;
  try {
    Date.now = () => realNow() + 4000;
    assert.equal(await later.revoked('t-1'), false, 'within cacheSeconds: the cached answer');
    Date.now = () => realNow() + 5001;
    assert.equal(await later.revoked('t-1'), true, 'past cacheSeconds: the store');
  } finally {
    Date.now = realNow;
  }
  // A token already past its exp is refused as expired: nothing is written for it.
  await here.revoke('old', Math.floor(Date.now() / 1000) - 10);
  assert.equal(Number(await client.sendCommand(['EXISTS', 'revoked:old'])), 0);
  assert.throws(() => redisRevocation(client, { cacheSeconds: 3600 }), TypeError);
  // setTimeout cannot hold more: a longer timeout would have been 1 ms, every store call failed.
  assert.throws(() => redisRevocation(client, { timeoutSeconds: 2147484 }), /at most 2147483 seconds/);
  await assert.rejects(here.revoke('t-2'), TypeError);

  // The store goes down: a jti it never answered for is refused with 503, never let through.
  await redis.stop();
  const fresh = new Verifier({ ...options, revoked: redisRevocation(client, { timeoutSeconds: 1 }).revoked });
  const down = (await call(fresh, fx.tokens.ES256)).response;
  assert.equal(down.status, 503);
  assert.equal(down.headers.get('www-authenticate'), null);
  assert.equal(await down.text(), 'revocation_unavailable\n');
});

test('revocation through ioredis: the same list, read and written with EXAT', async (t) => {
  const redis = await redisServer(t);
  const Redis = tools('ioredis');
  const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.disconnect());
  const list = redisRevocation(client, { cacheSize: 0 });
  const v = new Verifier({ ...options, revoked: list.revoked });
  const call = () => v.authenticate(new Request('http://api.test/me', { headers: { authorization: `Bearer ${fx.tokens.ES256}` } }), { now: fx.now });
  assert.equal((await call()).claims.sub, 'alice');
  const exp = Math.floor(Date.now() / 1000) + 600;
  await list.revoke('t-1', exp);
  assert.equal(Number(await client.call('EXPIRETIME', 'revoked:t-1')), exp);
  assert.equal((await call()).response.status, 401);
  await redis.stop();
  const down = (await call()).response;
  assert.equal(down.status, 503);
  assert.equal(await down.text(), 'revocation_unavailable\n');
});

test('a revoke() here wins over a store answer that was on its way: this instance refuses the token at once', async (t) => {
  // A pooled client (or KV) may answer a lookup sent before the revoke after it: that answer
  // predates the revoke and must not be cached over it for cacheSeconds.
  const redis = await redisServer(t);
  const client = await redisClient(t, redis.port);
  let held = null;
  const late = {
    sendCommand: async (args) => {
      const answer = await client.sendCommand(args);
      if (args[0] === 'EXISTS') await held;
      return answer;
    },
  };
  const list = redisRevocation(late, { cacheSeconds: 60 });
  let release;
  held = new Promise((r) => (release = r));
  // The client sends in call order: redis answers the EXISTS (0) before it runs the SET.
  const inFlight = list.revoked('t-1');
  await list.revoke('t-1', Math.floor(Date.now() / 1000) + 600);
  release();
  held = null;
  await inFlight;
  assert.equal(await list.revoked('t-1'), true, 'the next request on this instance');
  const v = new Verifier({ ...options, revoked: list.revoked });
  const r = await v.authenticate(new Request('http://api.test/me', { headers: { authorization: `Bearer ${fx.tokens.ES256}` } }), { now: fx.now });
  assert.equal(r.response?.status, 401);
});

test('a redis client that answers nothing (node-redis legacy()) clears no one: 503, and a revoke that is not confirmed rejects', async (t) => {
  // Its sendCommand hands the reply to a callback and returns undefined: read as "not on the
  // list", every revoked token went through.
  const redis = await redisServer(t);
  const client = await redisClient(t, redis.port);
  await client.sendCommand(['SET', 'revoked:t-1', '1', 'EXAT', String(Math.floor(Date.now() / 1000) + 600)]);
  const list = redisRevocation(client.legacy(), { cacheSize: 0 });
  const v = new Verifier({ ...options, revoked: list.revoked });
  const r = await v.authenticate(new Request('http://api.test/me', { headers: { authorization: `Bearer ${fx.tokens.ES256}` } }), { now: fx.now });
  assert.equal(r.response?.status, 503);
  await assert.rejects(list.revoke('t-2', Math.floor(Date.now() / 1000) + 600));
  // The same server through the client itself: revoked.
  const plain = new Verifier({ ...options, revoked: redisRevocation(client).revoked });
  assert.equal((await plain.authenticate(new Request('http://api.test/me', { headers: { authorization: `Bearer ${fx.tokens.ES256}` } }), { now: fx.now })).response?.status, 401);
});
