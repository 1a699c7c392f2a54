// `authenticate`: a Fetch Request in, the claims or the Envoy filter's refusal out. The answers
// it must give are the core's own (`Error::http_response`), which tests/attacks.rs writes for
// the same tokens, in the filter's order: verification, the deny list, then the requirements.
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { Verifier, RemoteVerifier, JwtError, refusal } from 'jwtgate';
import { fx } from './fixtures.mjs';

const auth = fx.authenticate;
const options = { issuer: fx.issuer, audiences: [fx.audience] };
const request = (headers = {}, url = auth.url) => new Request(url, { headers });
const bearer = (token) => request({ authorization: `Bearer ${token}` });

/** What a refusal looked like on the wire: what the fixtures hold. */
async function seen({ claims, response }) {
  if (claims) return { status: 200, challenge: null };
  assert.equal(response.headers.get('content-type'), 'text/plain');
  const body = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'), code: body.replace(/\n$/, '') };
}

const want = (w) => (w.status === 200 ? { status: 200, challenge: null } : w);

test('the attack catalog gets the status, challenge and body the Envoy filter gives', async () => {
  const verifiers = {};
  for (const [name, v] of Object.entries(fx.variants)) verifiers[name] = new Verifier({ jwks: v.jwks, ...v.options });
  let sent = 0;
  for (const [i, c] of fx.catalog.entries()) {
    let req;
    try {
      req = bearer(c.token);
    } catch {
      continue; // Not a header value (a control character, say): no request can carry it.
    }
    // A header cannot hold surrounding whitespace: such a token never reaches a server as is.
    if (req.headers.get('authorization') !== `Bearer ${c.token}`) continue;
    sent += 1;
    assert.deepEqual(await seen(await verifiers[c.variant].authenticate(req, { now: fx.now })), want(auth.catalog[i]), c.name);
  }
  assert.ok(sent > fx.catalog.length * 0.9, `${sent} of ${fx.catalog.length} cases could be sent`);
});

test('missing tokens get the bare challenge; a Bearer header without a clean token fails', async () => {
  const v = new Verifier({ jwks: fx.jwks, ...options });
  const missing = want(auth.missing);
  assert.equal(missing.challenge, 'Bearer realm="http://api.test/orders"');
  for (const headers of [{}, { authorization: 'Basic YWxpY2U6cHc=' }, { authorization: 'Bearerx' }, { cookie: `token=${fx.tokens.ES256}` }]) {
    assert.deepEqual(await seen(await v.authenticate(request(headers), { now: fx.now })), missing, JSON.stringify(headers));
  }
  // Only where configured does a token come from elsewhere.
  const url = `${auth.url}&access_token=${fx.tokens.ES256}`;
  assert.deepEqual(await seen(await v.authenticate(request({}, url), { now: fx.now })), missing);
  assert.equal((await v.authenticate(request({}, url), { now: fx.now, query: 'access_token' })).claims.sub, 'alice');
  assert.equal((await v.authenticate(request({ cookie: `a=b; token=${fx.tokens.ES256}` }), { now: fx.now, cookie: 'token' })).claims.sub, 'alice');
  // RFC 6750 section 2: two methods in one request is one request no one can read.
  const both = await v.authenticate(request({ authorization: `Bearer ${fx.tokens.ES256}` }, url), { now: fx.now, query: 'access_token' });
  assert.equal((await seen(both)).code, 'malformed');
  const malformed = { status: 401, code: 'malformed', challenge: 'Bearer realm="http://api.test/orders", error="invalid_token", error_description="malformed"' };
  for (const value of ['Bearer', 'Bearer   ', `Bearer ${fx.tokens.ES256} junk`, `Bearer ${fx.tokens.ES256}, Bearer ${fx.tokens.ES256}`]) {
    assert.deepEqual(await seen(await v.authenticate(request({ authorization: value }), { now: fx.now })), malformed, value);
  }
  // Two Authorization fields are joined by Headers: one value, which fails as a token.
  const two = new Headers();
  two.append('authorization', `Bearer ${fx.tokens.ES256}`);
  two.append('authorization', `Bearer ${fx.tokens.ES256}`);
  assert.equal((await seen(await v.authenticate(new Request(auth.url, { headers: two }), { now: fx.now }))).code, 'malformed');
  // RFC 7235: the scheme is case-insensitive (the Envoy filter, as jwt_authn, takes only `Bearer `).
  assert.equal((await v.authenticate(request({ authorization: `bearer ${fx.tokens.ES256}` }), { now: fx.now })).claims.sub, 'alice');
  assert.equal((await v.authenticate(request({ authorization: `BEARER  ${fx.tokens.ES256}` }), { now: fx.now })).claims.sub, 'alice');
  // RFC 7235 separates the scheme by spaces: a tab makes no scheme, as in the filter (and
  // jwt_authn), which find no `Bearer ` there (tests/envoy_request.rs).
  assert.deepEqual(await seen(await v.authenticate(request({ authorization: `Bearer\t${fx.tokens.ES256}` }), { now: fx.now })), missing);
});

test("a token cookie is read as the Envoy filter reads it (Envoy's cookie parser): no whitespace trimmed that it keeps", async () => {
  // examples/envoy/README.md, from_cookies, held by tests/envoy_parity.rs beside jwt_authn.
  const v = new Verifier({ jwks: fx.jwks, ...options, cookie: 'session' });
  const good = fx.tokens.ES256;
  for (const [cookie, code] of [
    [`session=${good}`, null],
    [`a=1;  session=${good}; b=2`, null],
    [`session="${good}"`, null],
    [`session=${good} ; b=2`, null],
    [`session=${good}\t; b=2`, null],
    [`session="${good}`, 'malformed'],
    [`session= ${good}`, 'malformed'],
    [`session =${good}`, 'malformed'],
    [`a=1;\tsession=${good}`, 'malformed'],
    [`session=${good}\u00a0; b=2`, 'malformed'],
  ]) {
    const { claims, response } = await v.authenticate(request({ cookie }), { now: fx.now });
    assert.equal(claims ? null : (await response.text()).trim(), code, JSON.stringify(cookie));
  }
});

test('a header full of spaces is read in one pass: no request costs time quadratic in its length', async () => {
  // A lazy token before [ \t]*$, and a trailing trim of the cookie, re-scanned the run of
  // spaces from each of its places: a 32 KB header cost 0.6 s of CPU, 200 KB half a minute.
  // Synchronous work no timer interrupts: in a thread of its own, which a deadline can end.
  const code = `
    const { parentPort, workerData: d } = require('node:worker_threads');
    import(d.pkg).then(async ({ Verifier }) => {
      const v = new Verifier({ jwks: d.jwks, issuer: d.issuer, audiences: [d.audience], cookie: 'session' });
      const spaces = ' '.repeat(200000);
      const statuses = [];
      for (const headers of [{ authorization: 'Bearer a' + spaces + 'b' }, { cookie: 'session=a' + spaces + 'b' }]) {
        statuses.push((await v.authenticate(new Request('http://api.test/', { headers }), { now: d.now })).response.status);
      }
      parentPort.postMessage(statuses);
    });`;
  const workerData = { pkg: import.meta.resolve('jwtgate'), jwks: fx.jwks, issuer: fx.issuer, audience: fx.audience, now: fx.now };
  const worker = new Worker(code, { eval: true, workerData });
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('still reading after 10 s'), 10_000)));
  const answer = await Promise.race([once(worker, 'message').then(([statuses]) => statuses), late]);
  clearTimeout(timer);
  await worker.terminate();
  assert.deepEqual(answer, [401, 401]);
});

test('audiences, requirements and revocation answer as the filter does, in its order', async () => {
  for (const c of auth.cases) {
    const revoked = async (jti, claims) => {
      assert.equal(claims.jti, jti);
      return c.revoked && jti === 't-1';
    };
    const perCall = c.requiredClaims ? { requiredClaims: c.requiredClaims, spaceDelimitedClaims: c.spaceDelimitedClaims } : {};
    // Per call, on a verifier with no requirement of its own.
    const plain = new Verifier({ jwks: fx.jwks, ...options, revoked });
    assert.deepEqual(await seen(await plain.authenticate(bearer(c.token), { now: fx.now, ...perCall })), want(c.want), `per call: ${c.name}`);
    // And as the verifier's own requirement: the same answer.
    const own = new Verifier({ jwks: fx.jwks, ...options, ...perCall });
    assert.deepEqual(await seen(await own.authenticate(bearer(c.token), { now: fx.now, revoked })), want(c.want), `verifier: ${c.name}`);
  }
});

test('requiredClaims as an object: verify refuses an unmet value with insufficient_claims', async () => {
  const v = new Verifier({ jwks: fx.jwks, ...options, requiredClaims: { sub: ['bob', 'carol'] } });
  const unmet = (e) => e instanceof JwtError && e.code === 'insufficient_claims' && e.claim === 'sub';
  await assert.rejects(v.verify(fx.tokens.ES256, { now: fx.now }), unmet);
  assert.throws(() => v.verifySync(fx.tokens.ES256, { now: fx.now }), unmet);
  const ok = new Verifier({ jwks: fx.jwks, ...options, requiredClaims: { sub: 'alice', jti: ['t-1'] } });
  assert.equal((await ok.verify(fx.tokens.ES256, { now: fx.now })).sub, 'alice');
  assert.equal(ok.verifySync(fx.tokens.ES256, { now: fx.now }).sub, 'alice');
  // Read by type, as the filter reads requires_claims: no empty list, no object, no null.
  // Written by type as every option is: no toJSON, nothing that vanishes, no NaN.
  const vanishing = { role: undefined };
  const withToJSON = { role: { toJSON: () => 'admin' } };
  for (const bad of [{ role: [] }, { role: {} }, { role: null }, 'role', 7, vanishing, withToJSON, { role: [NaN] }, { role: [() => 1] }]) {
    assert.throws(() => new Verifier({ jwks: fx.jwks, requiredClaims: bad }), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => new Verifier({ jwks: fx.jwks, spaceDelimitedClaims: 'perms' }), TypeError);
});

test('a token over 16 KiB that a verifier with a larger maxTokenBytes takes meets requirements and is revoked as any other', async () => {
  // authenticate reads the accepted token's payload again for per-call requirements and for a
  // requirement the verifier found unmet: under the verifier's limit, not decode's 16 KiB.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'big', alg: 'ES256' };
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { iss: fx.issuer, aud: fx.audience, sub: 'alice', jti: 'big-1', exp: fx.now + 600, role: 'admin', pad: 'x'.repeat(20000) };
  const input = `${b64({ alg: 'ES256', kid: 'big' })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const token = `${input}.${signature.toString('base64url')}`;
  assert.ok(token.length > 16 * 1024);
  const big = { jwks: { keys: [jwk] }, ...options, maxTokenBytes: 65536 };
  const v = new Verifier(big);
  assert.equal((await v.authenticate(bearer(token), { now: fx.now, requiredClaims: { role: 'admin' } })).claims.sub, 'alice');
  const unmetPerCall = await seen(await v.authenticate(bearer(token), { now: fx.now, requiredClaims: { role: 'ops' } }));
  assert.deepEqual([unmetPerCall.status, unmetPerCall.code], [403, 'insufficient_claims']);
  const unmet = new Verifier({ ...big, requiredClaims: { role: 'ops' } });
  const refused = await seen(await unmet.authenticate(bearer(token), { now: fx.now }));
  assert.deepEqual([refused.status, refused.code], [403, 'insufficient_claims']);
  // Revocation is decided first, on the claims read so.
  const revoked = await seen(await unmet.authenticate(bearer(token), { now: fx.now, revoked: (jti) => jti === 'big-1' }));
  assert.deepEqual([revoked.status, revoked.code], [401, 'revoked']);
  // The default limit still stands for a verifier without one.
  const small = await seen(await new Verifier({ jwks: { keys: [jwk] }, ...options }).authenticate(bearer(token), { now: fx.now }));
  assert.equal(small.code, 'too_large');
});

test('a revocation store that fails refuses with 503, never lets the token through', async () => {
  const unavailable = want(auth.revocationUnavailable);
  assert.deepEqual(unavailable, { status: 503, challenge: null, code: 'revocation_unavailable' });
  for (const revoked of [
    () => {
      throw new Error('down');
    },
    async () => {
      throw new Error('down');
    },
    () => 'no',
    () => undefined,
    async () => 1,
  ]) {
    const v = new Verifier({ jwks: fx.jwks, ...options, revoked });
    assert.deepEqual(await seen(await v.authenticate(bearer(fx.tokens.ES256), { now: fx.now })), unavailable, String(revoked));
  }
  // A token the verifier refuses anyway never reaches the store.
  let asked = 0;
  const v = new Verifier({ jwks: fx.jwks, ...options, revoked: () => ++asked && false });
  assert.equal((await seen(await v.authenticate(bearer(fx.expired), { now: fx.now }))).code, 'expired');
  assert.equal(asked, 0);
  assert.equal((await v.authenticate(bearer(fx.tokens.ES256), { now: fx.now })).claims.sub, 'alice');
  assert.equal(asked, 1);
});

test('a revocation store that never answers is a 503 after 5 s, not a request held for ever', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let asked = 0;
  const v = new Verifier({ jwks: fx.jwks, ...options, revoked: () => ++asked && new Promise(() => {}) });
  let settled = null;
  const pending = v.authenticate(bearer(fx.tokens.ES256), { now: fx.now }).then((r) => (settled = r));
  const turn = () => new Promise((r) => setImmediate(r));
  while (asked === 0) await turn();
  t.mock.timers.tick(4999);
  await turn();
  assert.equal(settled, null, 'still asking the store');
  t.mock.timers.tick(1);
  assert.deepEqual(await seen(await pending), want(auth.revocationUnavailable));
});

test('RemoteVerifier authenticates too, and its key outage is the filter\'s 503', async () => {
  const v = new RemoteVerifier({ jwksUri: 'http://127.0.0.1:9/jwks', ...options, cache: false, fetch: async () => new Response('down', { status: 500 }) });
  const got = await seen(await v.authenticate(bearer(fx.tokens.ES256), { now: fx.now }));
  assert.deepEqual(got, { status: 503, challenge: null, code: 'jwks_unavailable' });
  const ok = new RemoteVerifier({ jwksUri: 'http://127.0.0.1:9/jwks', ...options, cache: false, fetch: async () => Response.json(fx.jwks) });
  assert.equal((await ok.authenticate(bearer(fx.tokens.ES256), { now: fx.now })).claims.sub, 'alice');
});

test('a Verifier authenticates with or without waitUntil, which only a RemoteVerifier uses', async () => {
  // Hono hands every request in a Worker the context's waitUntil, whichever verifier the route has.
  const v = new Verifier({ jwks: fx.jwks, ...options });
  for (const call of [{ now: fx.now }, { now: fx.now, waitUntil: () => {} }]) {
    assert.equal((await v.authenticate(bearer(fx.tokens.ES256), call)).claims.sub, 'alice');
  }
  // verify itself still refuses the name: it is not a Verifier's.
  await assert.rejects(v.verify(fx.tokens.ES256, { now: fx.now, waitUntil: () => {} }), TypeError);
});

test('mistakes are TypeErrors (rejections), never a let-through', async () => {
  const v = new Verifier({ jwks: fx.jwks, ...options });
  const answer = v.authenticate('nope');
  assert.ok(answer instanceof Promise);
  await assert.rejects(answer, TypeError);
  await assert.rejects(v.authenticate(bearer(fx.tokens.ES256), { requiredClaim: { role: 'x' } }), TypeError);
  await assert.rejects(v.authenticate(bearer(fx.tokens.ES256), { requiredClaims: { role: [] } }), TypeError);
  await assert.rejects(v.authenticate(bearer(fx.tokens.ES256), { revoked: true }), TypeError);
  assert.throws(() => new Verifier({ jwks: fx.jwks, revoked: 'yes' }), TypeError);
  // The realm can be named; it is escaped by the core as a quoted-string.
  const named = await seen(await v.authenticate(request(), { realm: 'my "api"' }));
  assert.equal(named.challenge, 'Bearer realm="my \\"api\\""');
  // refusal(): the same answer for a check of the caller's own.
  assert.deepEqual(await seen({ response: refusal('revoked', 'http://api.test/orders') }), want(auth.cases.find((c) => c.name === 'revoked').want));
  assert.throws(() => refusal('Revoked!', 'r'), TypeError);
});
