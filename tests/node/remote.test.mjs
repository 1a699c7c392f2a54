// RemoteVerifier against a JWKS server on loopback, started and stopped by each test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteVerifier, JwtError } from 'jwtgate';
import { fx, keyset } from './fixtures.mjs';
import { jwksServer } from './net.mjs';

const opts = (server, extra = {}) => ({ jwksUri: server.uri(), issuer: fx.issuer, audiences: fx.audience, ...extra });
const verifyAt = (v, token) => v.verify(token, { now: fx.now });

test('fetches once, caches, and concurrent verifies share one fetch', async (t) => {
  const server = await jwksServer(keyset('p256', 'rsa'));
  t.after(() => server.down());
  const v = new RemoteVerifier(opts(server));
  const all = await Promise.all(Array.from({ length: 20 }, () => verifyAt(v, fx.tokens.ES256)));
  assert.ok(all.every((c) => c.sub === 'alice'));
  assert.equal(server.hits, 1);
  await verifyAt(v, fx.tokens.RS256);
  assert.equal(server.hits, 1, 'cached');
});

test('a rotated key is fetched on its first token, at most once per cooldown', async (t) => {
  const server = await jwksServer(keyset('p256'));
  t.after(() => server.down());
  const v = new RemoteVerifier(opts(server, { cooldownSeconds: 30 }));
  await verifyAt(v, fx.tokens.ES256);
  server.body = keyset('p256', 'ed25519');
  assert.equal((await verifyAt(v, fx.tokens.EdDSA)).sub, 'alice');
  assert.equal(server.hits, 2);
  // Unknown kids inside the cooldown do not reach the server, concurrent or not.
  const unknown = await Promise.allSettled(Array.from({ length: 50 }, () => verifyAt(v, fx.tokens.ES384)));
  assert.ok(unknown.every((r) => r.status === 'rejected' && r.reason.code === 'unknown_key'));
  assert.equal(server.hits, 2);
});

test('after the cooldown an unknown kid is fetched again; concurrent ones share the fetch', async (t) => {
  const server = await jwksServer(keyset('p256'));
  t.after(() => server.down());
  const v = new RemoteVerifier(opts(server, { cooldownSeconds: 0.2 }));
  await verifyAt(v, fx.tokens.ES256);
  await assert.rejects(verifyAt(v, fx.tokens.ES384), { code: 'unknown_key' });
  assert.equal(server.hits, 2);
  await new Promise((r) => setTimeout(r, 250));
  server.body = keyset('p256', 'p384');
  const both = await Promise.all([verifyAt(v, fx.tokens.ES384), verifyAt(v, fx.tokens.ES384)]);
  assert.ok(both.every((c) => c.sub === 'alice'));
  assert.equal(server.hits, 3);
});

test('server down at the start, up later, down again: stale keys keep serving', async (t) => {
  const server = await jwksServer(keyset('p256'));
  await server.down();
  t.after(() => server.down().catch(() => {}));
  // retrySeconds 0: no back-off after a failure, so the recovery is seen at the next call.
  const v = new RemoteVerifier(opts(server, { cacheSeconds: 0, retrySeconds: 0 }));
  await assert.rejects(verifyAt(v, fx.tokens.ES256), (e) => e instanceof JwtError && e.code === 'jwks_unavailable');
  await server.up();
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  await server.down();
  // cacheSeconds 0: every verify starts a refresh, which fails; the last good keys answer.
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice');
  await server.up();
  server.body = '<html>oops</html>';
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice', 'garbage does not replace good keys');
  server.status = 500;
  server.body = keyset('p256');
  assert.equal((await verifyAt(v, fx.tokens.ES256)).sub, 'alice', 'nor does a 500');
});

test('an error status or garbage with no keys yet is jwks_unavailable, and bad options throw at once', async (t) => {
  const server = await jwksServer('not json');
  t.after(() => server.down());
  await assert.rejects(verifyAt(new RemoteVerifier(opts(server)), fx.tokens.ES256), { code: 'jwks_unavailable' });
  server.status = 404;
  await assert.rejects(verifyAt(new RemoteVerifier(opts(server)), fx.tokens.ES256), { code: 'jwks_unavailable' });
  assert.throws(() => new RemoteVerifier({ issuer: 'x' }), TypeError);
  assert.throws(() => new RemoteVerifier(opts(server, { audience: 'api' })), { name: 'TypeError', message: /audiences/ });
  assert.throws(() => new RemoteVerifier(opts(server, { cooldownSeconds: -1 })), TypeError);
});

test('a custom fetch is used', async () => {
  const calls = [];
  const fetch = async (uri) => {
    calls.push(uri);
    return new Response(keyset('ed25519'), { status: 200 });
  };
  const v = new RemoteVerifier({ jwksUri: 'https://issuer.example/jwks', fetch, issuer: fx.issuer, audiences: [fx.audience] });
  assert.equal((await verifyAt(v, fx.tokens.EdDSA)).sub, 'alice');
  assert.deepEqual(calls, ['https://issuer.example/jwks']);
});
