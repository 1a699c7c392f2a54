// examples/node-service run as its README says: its own server.mjs, started with the documented
// variables in front of a loopback key set (and a real redis-server for the deny list), asked
// the documented requests. Keeps the example honest: a route table or a refusal that drifts
// from the README fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freePort, looseServer, redisServer, start, waitForPort } from './net.mjs';

const ISSUER = 'https://issuer.jwtgate.demo';
const AUDIENCE = 'demo-api';
const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));

// The tests' own signing key: the example trusts whatever JWKS_URI serves.
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'svc', alg: 'ES256', use: 'sig' }] });
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
let serial = 0;
function token(claims) {
  const now = Math.floor(Date.now() / 1000);
  serial += 1;
  const input = `${b64({ alg: 'ES256', kid: 'svc', typ: 'JWT' })}.${b64({
    iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 300, jti: `t${serial}`, ...claims,
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** server.mjs beside a node_modules that has the package (from the scratch install) and the example's own dependencies. */
function exampleDir(t) {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = mkdtempSync(join(here, 'node-service-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(process.env.JWTGATE_ROOT, 'examples/node-service/server.mjs'), join(dir, 'server.mjs'));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of ['express', 'redis']) {
    symlinkSync(dirname(tools.resolve(`${name}/package.json`)), join(dir, 'node_modules', name));
  }
  return dir;
}

async function runExample(t, extra) {
  const keys = await looseServer(t, (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  const port = await freePort();
  const dir = exampleDir(t);
  const env = { ...process.env, JWKS_URI: keys.uri(), ISSUER, AUDIENCE, PORT: String(port), ...extra };
  const server = start(t, process.execPath, [join(dir, 'server.mjs')], env);
  await waitForPort(port, 10000, 'node-service').catch((e) => assert.fail(`${e.message}\n${server.log}`));
  const base = `http://127.0.0.1:${port}`;
  return (method, path, bearer) =>
    fetch(base + path, { method, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
}

test('examples/node-service: the routes and refusals its README lists', async (t) => {
  const call = await runExample(t, {});
  const challenge = (r) => r.headers.get('www-authenticate');

  let r = await call('GET', '/me');
  assert.equal(r.status, 401);
  assert.match(challenge(r), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/me"$/);

  r = await call('GET', '/me', token({ scope: 'notes profile' }));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { sub: 'alice', scope: 'notes profile' });

  r = await call('GET', '/me', token({ aud: 'another-api' }));
  assert.equal(r.status, 403);
  assert.match(challenge(r), /error_description="invalid_audience"/);

  r = await call('GET', '/me', token({ iss: 'https://evil.example' }));
  assert.equal(r.status, 401);
  assert.match(challenge(r), /error_description="invalid_issuer"/);

  // A scope is space-delimited: "notes profile" holds notes; "notesy" does not.
  assert.equal((await call('GET', '/notes', token({ scope: 'notes profile' }))).status, 200);
  r = await call('GET', '/notes', token({ scope: 'notesy' }));
  assert.equal(r.status, 403);
  assert.match(challenge(r), /error="insufficient_scope", error_description="insufficient_claims"/);

  // A role is a whole value or one of an array: "eve admin" is not admin.
  assert.equal((await call('GET', '/admin', token({ roles: ['ops'] }))).status, 200);
  assert.equal((await call('GET', '/admin', token({ roles: 'admin' }))).status, 200);
  assert.equal((await call('GET', '/admin', token({ roles: 'eve admin' }))).status, 403);
  assert.equal((await call('GET', '/admin', token({}))).status, 403);

  // Without REDIS_URL there is no deny list to write to.
  assert.equal((await call('POST', '/logout', token({}))).status, 501);
});

test('examples/node-service with REDIS_URL: POST /logout revokes the caller token until its exp', async (t) => {
  const redis = await redisServer(t);
  const call = await runExample(t, { REDIS_URL: `redis://127.0.0.1:${redis.port}` });
  const mine = token({});
  assert.equal((await call('GET', '/me', mine)).status, 200);
  assert.equal((await call('POST', '/logout', mine)).status, 204);
  const r = await call('GET', '/me', mine);
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error_description="revoked"/);
  // Another token of the same caller is untouched.
  assert.equal((await call('GET', '/me', token({}))).status, 200);
  // A store that is down refuses, never lets through.
  await redis.stop();
  assert.equal((await call('GET', '/me', token({}))).status, 503);
});
