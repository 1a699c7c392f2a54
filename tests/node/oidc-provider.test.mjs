// jwtgate against a real identity provider: oidc-provider (OpenID Certified), started by the
// test on loopback on Node 24 (NODE_LTS), with Envoy and the jwtgate filter in front of the
// demo API, and RemoteVerifier. Its access tokens are JWTs for the API (resource indicators),
// verified by the provider's jwks_uri; a key rotation at the provider is followed without a
// restart; a grant revoked at the provider (its revocation endpoint, a refresh token used
// twice, or a sign-out there) puts the grant's access tokens on the deny lists: Envoy's, read from the provider,
// and the npm package's, in redis-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RemoteVerifier, JwtError } from 'jwtgate';
import { redisRevocation } from 'jwtgate/revocation';
import { redisServer } from './net.mjs';

const root = process.env.JWTGATE_ROOT;
const { startStack, AUDIENCE } = await import(pathToFileURL(join(root, 'www/server/stack.mjs')));
const { signIn, endSession, CLIENT_ID } = await import(pathToFileURL(join(root, 'www/server/oidc.mjs')));
const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));

const LIMIT = { timeout: 120_000 };
const part = (token, i) => JSON.parse(Buffer.from(token.split('.')[i], 'base64url'));

async function stack(t, extra = {}) {
  const s = await startStack({
    envoy: process.env.ENVOY, filter: process.env.JWTGATE_ENVOY_WASM, packageDir,
    node: process.env.NODE_LTS, nodeModules: process.env.NODE_TOOLS, ...extra,
  });
  t.after(() => s.stop());
  return s;
}

/** Polls `f` until `done(value)`, for what happens within a refresh interval; the last value. */
async function eventually(f, done, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await f();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The token endpoint's answer to a refresh, as the demo app asks for it. */
async function refresh(s, refreshToken) {
  const response = await fetch(new URL('auth/token', s.url), {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }),
  });
  return { status: response.status, body: await response.json() };
}

const api = async (s, token) => {
  const r = await fetch(new URL('api/items', s.url), { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, challenge: r.headers.get('www-authenticate'), body: await r.text() };
};
const jwksFetches = async (s) => {
  const text = await (await fetch(`${s.admin}/stats?filter=jwtgate.jwks_fetch.success`)).text();
  return Number(text.match(/jwtgate\.jwks_fetch\.success: (\d+)/)?.[1] ?? 0);
};

test("Envoy: oidc-provider's access tokens by OIDC discovery (the demo's configuration), and a key rotation followed without a restart", LIMIT, async (t) => {
  const s = await stack(t);
  const doc = await (await fetch(new URL('auth/.well-known/openid-configuration', s.url))).json();
  assert.equal(doc.issuer, s.issuer);
  assert.equal(doc.jwks_uri, `${s.issuer}/jwks`);
  const first = await signIn(s.url);
  let r = await api(s, first.accessToken);
  assert.equal(r.status, 200, `${r.challenge} ${r.body}`);
  assert.equal(JSON.parse(r.body).user, 'alice');
  const before = await jwksFetches(s);
  const rotated = await s.provider.rotate();
  const second = await signIn(s.url);
  assert.equal(part(second.accessToken, 0).kid, rotated);
  r = await api(s, second.accessToken);
  assert.equal(r.status, 200, `${r.challenge} ${r.body}`);
  assert.ok((await jwksFetches(s)) > before, 'the unknown kid made Envoy read the document and the key set again');
  assert.equal((await api(s, first.accessToken)).status, 200, 'the old key still verifies its tokens');
  // A token the provider did not sign (its header and payload, another signature) is refused.
  const [h, p] = second.accessToken.split('.');
  r = await api(s, `${h}.${p}.${first.accessToken.split('.')[2]}`);
  assert.equal(r.status, 401);
  assert.match(r.challenge, /error_description="invalid_signature"/);
});

test("Envoy: oidc-provider's access tokens by jwks_uri, a key rotation without a restart, revoked grants refused (revocation endpoint, refresh token reuse, end-session)", LIMIT, async (t) => {
  const s = await stack(t, { keys: 'jwks_uri' });
  const fetches = () => jwksFetches(s);
  const call = (token) => api(s, token);
  const first = await signIn(s.url);
  const { keys: [kid] } = await s.provider.stats();
  assert.deepEqual(part(first.accessToken, 0), { alg: 'ES256', typ: 'at+jwt', kid });
  const claims = part(first.accessToken, 1);
  assert.equal(claims.iss, s.issuer);
  assert.equal(claims.aud, AUDIENCE);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.client_id, CLIENT_ID);
  assert.equal(claims.scope, 'notes');
  assert.equal(claims.exp - claims.iat, 20);
  let r = await call(first.accessToken);
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).user, 'alice');
  const before = await fetches();

  // A new signing key: the provider publishes it first, the old one after it.
  const rotated = await s.provider.rotate();
  assert.notEqual(rotated, kid);
  assert.deepEqual((await s.provider.stats()).keys, [rotated, kid]);
  const second = await signIn(s.url);
  assert.equal(part(second.accessToken, 0).kid, rotated);
  r = await call(second.accessToken);
  assert.equal(r.status, 200, `${r.challenge} ${r.body}`);
  assert.ok((await fetches()) > before, 'the unknown kid made Envoy fetch the key set again');
  assert.equal((await call(first.accessToken)).status, 200, 'the old key still verifies its tokens');

  // The second grant revoked at the provider's revocation endpoint: its token is refused within
  // Envoy's list refresh (1 s), its refresh token at the provider; the first grant is untouched.
  await s.provider.revokeGrantOf(part(second.accessToken, 1).jti);
  r = await eventually(() => call(second.accessToken), (x) => x.status === 401);
  assert.equal(r.status, 401);
  assert.match(r.challenge, /error_description="revoked"/);
  assert.deepEqual((await refresh(s, second.refreshToken)).status, 400);
  assert.equal((await call(first.accessToken)).status, 200);

  // The first grant's refresh token rotates; presented a second time, the provider takes it as
  // stolen and revokes the grant, and the access token it had just issued is refused too.
  const next = await refresh(s, first.refreshToken);
  assert.equal(next.status, 200);
  assert.notEqual(next.body.refresh_token, first.refreshToken);
  assert.equal((await call(next.body.access_token)).status, 200);
  const again = await refresh(s, first.refreshToken);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
  assert.equal((await s.provider.stats()).reuses, 1);
  r = await eventually(() => call(next.body.access_token), (x) => x.status === 401);
  assert.match(r.challenge ?? '', /error_description="revoked"/);
  assert.equal((await call(first.accessToken)).status, 401);
  assert.equal((await refresh(s, next.body.refresh_token)).status, 400, 'the rotated refresh token went with the grant');

  // Signing out at the provider (an end-session) revokes the session's grant: the same.
  const third = await signIn(s.url);
  assert.equal((await call(third.accessToken)).status, 200);
  await endSession(s.url, third.cookie);
  r = await eventually(() => call(third.accessToken), (x) => x.status === 401);
  assert.match(r.challenge ?? '', /error_description="revoked"/);
  assert.equal((await refresh(s, third.refreshToken)).status, 400);
});

test("RemoteVerifier: oidc-provider's access tokens by jwksUri, after a key rotation, and a revoked grant through redis", LIMIT, async (t) => {
  const redis = await redisServer(t);
  const { createClient } = tools('redis');
  const client = createClient({ url: `redis://127.0.0.1:${redis.port}`, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.isOpen && client.destroy());
  const list = redisRevocation(client, { cacheSeconds: 1 });
  const written = [];
  // The provider's revocations, written where every instance of the service looks.
  const s = await stack(t, { onRevoked: (tokens) => written.push(...tokens.map(({ jti, exp }) => list.revoke(jti, exp))) });
  const verifier = new RemoteVerifier({ jwksUri: s.provider.jwksUri, issuer: s.issuer, audiences: [AUDIENCE], revoked: list.revoked });

  const first = await signIn(s.url);
  const claims = await verifier.verify(first.accessToken);
  assert.equal((await verifier.authenticate(new Request('http://api.test/', { headers: { authorization: `Bearer ${first.accessToken}` } }))).claims?.sub, 'alice');
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.aud, AUDIENCE);
  const rotated = await s.provider.rotate();
  const second = await signIn(s.url);
  assert.equal(part(second.accessToken, 0).kid, rotated);
  assert.equal((await verifier.verify(second.accessToken)).sub, 'alice', 'the new key, fetched on its first token');
  assert.equal((await verifier.verify(first.accessToken)).sub, 'alice', 'the old key, still published');

  // Another issuer's verifier refuses the same token.
  const other = new RemoteVerifier({ jwksUri: s.provider.jwksUri, issuer: `${s.issuer}/other`, audiences: [AUDIENCE] });
  await assert.rejects(other.verify(first.accessToken), (e) => e instanceof JwtError && e.code === 'invalid_issuer');

  const { jti } = part(second.accessToken, 1);
  await s.provider.revokeGrantOf(jti);
  // The deny list is consulted by authenticate (and the middleware built on it).
  const call = (token) => verifier.authenticate(new Request('http://api.test/notes', { headers: { authorization: `Bearer ${token}` } }));
  const refusal = await eventually(() => Promise.all(written).then(() => call(second.accessToken)), (r) => r.response !== undefined);
  assert.equal(refusal.response?.status, 401);
  assert.match(refusal.response.headers.get('www-authenticate'), /error_description="revoked"/);
  assert.ok(Number(await client.sendCommand(['EXPIRETIME', `revoked:${jti}`])) >= part(second.accessToken, 1).exp, 'kept until the token expires');
  assert.equal((await call(first.accessToken)).claims?.sub, 'alice', 'another grant is untouched');
});

test("RemoteVerifier by OIDC discovery of oidc-provider: its document names the keys, a rotation is followed, and a document naming another issuer is refused", LIMIT, async (t) => {
  const s = await stack(t);
  const verifier = new RemoteVerifier({ issuer: s.issuer, audiences: [AUDIENCE] });
  const first = await signIn(s.url);
  assert.equal((await verifier.verify(first.accessToken)).sub, 'alice');
  const rotated = await s.provider.rotate();
  const second = await signIn(s.url);
  assert.equal(part(second.accessToken, 0).kid, rotated);
  assert.equal((await verifier.verify(second.accessToken)).sub, 'alice', 'the new key, through the document, on its first token');

  // The same document, read for the issuer written with a trailing "/": discovery drops it to
  // find the document, and the document names the issuer without it, so nothing is trusted.
  const slash = new RemoteVerifier({ issuer: `${s.issuer}/`, audiences: [AUDIENCE] });
  await assert.rejects(slash.verify(first.accessToken), (e) => e instanceof JwtError && e.code === 'jwks_unavailable'
    && e.message.includes(`it names issuer "${s.issuer}"`));
});
