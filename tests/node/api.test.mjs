// The npm package in Node, installed from its tarball as a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import init, { decode, expiresIn, isExpired, Verifier, JwtError } from 'jwtgate';
import { fx, ALL_ALGORITHMS } from './fixtures.mjs';

const options = { issuer: fx.issuer, audiences: [fx.audience] };

test('loads without ceremony: no init needed, and init is harmless', async () => {
  assert.equal(decode(fx.tokens.ES256).header.alg, 'ES256');
  await init();
  await init();
  assert.equal(decode(fx.tokens.ES256).header.alg, 'ES256');
});

test('every algorithm verifies, HMAC only when listed', () => {
  const all = new Verifier({ jwks: fx.jwks, ...options, algorithms: ALL_ALGORITHMS });
  for (const alg of ALL_ALGORITHMS) {
    const claims = all.verifySync(fx.tokens[alg], { now: fx.now });
    assert.equal(claims.sub, 'alice', alg);
    assert.equal(claims.exp, fx.now + 600, alg);
  }
  const byDefault = new Verifier({ jwks: JSON.stringify(fx.jwks), ...options });
  assert.throws(() => byDefault.verifySync(fx.tokens.HS256, { now: fx.now }), { code: 'algorithm_not_allowed' });
  assert.equal(byDefault.verifySync(fx.tokens.EdDSA, { now: fx.now }).sub, 'alice');
});

test('the attack catalog gets its codes, the ones the in-wasm verifier gives, sync and async', async () => {
  const verifiers = {};
  for (const [name, v] of Object.entries(fx.variants)) verifiers[name] = new Verifier({ jwks: v.jwks, ...v.options });
  const failures = [];
  for (const c of fx.catalog) {
    for (const [how, run] of [
      ['verifySync', () => verifiers[c.variant].verifySync(c.token, { now: fx.now })],
      ['verify', () => verifiers[c.variant].verify(c.token, { now: fx.now })],
    ]) {
      let got;
      try {
        await run();
        got = 'ok';
      } catch (e) {
        got = e instanceof JwtError ? e.code : `not a JwtError: ${e}`;
      }
      const ok = c.want === 'refused' ? got !== 'ok' && !got.startsWith('not') : got === c.want;
      if (!ok) failures.push(`${c.name} (${how}): want ${c.want}, got ${got}`);
    }
  }
  assert.ok(fx.catalog.length > 140);
  assert.deepEqual(failures, []);
});

test('verify resolves, verifySync returns, with the same claims and the same errors', async () => {
  const v = new Verifier({ jwks: fx.jwks, ...options, algorithms: ALL_ALGORITHMS });
  for (const alg of ALL_ALGORITHMS) {
    const pending = v.verify(fx.tokens[alg], { now: fx.now });
    assert.ok(pending instanceof Promise, alg);
    assert.deepEqual(await pending, v.verifySync(fx.tokens[alg], { now: fx.now }), alg);
  }
  await assert.rejects(v.verify(fx.expired, { now: fx.now }), { code: 'expired', claim: 'exp' });
  // A caller's mistake rejects too, rather than throwing before the promise.
  await assert.rejects(v.verify(fx.expired, { now: 'soon' }), TypeError);
  await assert.rejects(v.verify(42, { now: fx.now }), { code: 'malformed' });
});

test('JwtError is a real Error with a code and the claim at fault', () => {
  const v = new Verifier({ jwks: fx.jwks, ...options });
  try {
    v.verifySync(fx.expired, { now: fx.now });
    assert.fail('an expired token verified');
  } catch (e) {
    assert.ok(e instanceof JwtError && e instanceof Error);
    assert.equal(e.name, 'JwtError');
    assert.equal(e.code, 'expired');
    assert.equal(e.claim, 'exp');
    assert.match(e.message, /expired/);
    assert.ok(e.stack.includes('JwtError'));
  }
  assert.throws(() => v.verifySync(fx.tokens.ES256), { code: 'not_yet_valid' }, 'without now, the clock (2026) is before nbf');
});

test('decode reads header and payload without verifying', () => {
  const { header, payload } = decode(fx.tokens.RS256);
  assert.deepEqual(header, { alg: 'RS256', kid: 'rsa', typ: 'JWT' });
  assert.equal(payload.iss, fx.issuer);
  assert.equal(decode(fx.expired).payload.exp, fx.now - 3600);
  for (const garbage of ['', 'a.b', 'not.a.token', 'a.b.c.d', 'eyJhbGciOiJub25lIn0.bm90IGpzb24.', 12345, null]) {
    assert.throws(() => decode(garbage), { name: 'JwtError', code: 'malformed' }, String(garbage));
  }
  assert.throws(() => decode('x'.repeat(20000)), { code: 'too_large' });
});

test('expiresIn and isExpired', () => {
  assert.equal(expiresIn(fx.tokens.ES256, fx.now), 600);
  assert.equal(expiresIn(fx.expired, fx.now), -3600);
  assert.equal(expiresIn(fx.noExp, fx.now), null);
  assert.equal(typeof expiresIn(fx.tokens.ES256), 'number', 'defaults to the clock');
  assert.throws(() => expiresIn('garbage'), { code: 'malformed' });
  assert.equal(isExpired(fx.tokens.ES256, { now: fx.now }), false);
  assert.equal(isExpired(fx.tokens.ES256, { now: fx.now, leeway: 600 }), true, 'leeway is a margin before exp');
  assert.equal(isExpired(fx.tokens.ES256, { now: fx.now, leeway: 599 }), false);
  assert.equal(isExpired(fx.expired, { now: fx.now }), true);
  assert.equal(isExpired(fx.noExp, { now: fx.now }), false, 'no exp never expires');
  assert.equal(isExpired('garbage'), true, 'unreadable counts as expired');
});

test('a now that is not a time is a TypeError, never the epoch', () => {
  // At time 0 every exp lies ahead: reading NaN as 0 would accept an expired token.
  const v = new Verifier({ jwks: fx.jwks, ...options });
  for (const now of [NaN, Infinity, -1, 'soon']) {
    assert.throws(() => v.verifySync(fx.expired, { now }), TypeError, String(now));
    assert.throws(() => expiresIn(fx.expired, now), TypeError, String(now));
    assert.throws(() => isExpired(fx.expired, { now }), TypeError, String(now));
  }
});

test('options and key sets are checked where they are given', () => {
  assert.throws(() => new Verifier({ jwks: fx.jwks, audience: 'api' }), { name: 'TypeError', message: /did you mean audiences/ });
  assert.throws(() => new Verifier({ jwks: fx.jwks, algorithms: ['none'] }), TypeError);
  assert.throws(() => new Verifier({ jwks: fx.jwks, clockSkewSeconds: -1 }), TypeError);
  assert.throws(() => new Verifier({}), TypeError);
  assert.throws(() => new Verifier({ jwks: '{"keys":[]}' }), { name: 'JwtError', code: 'jwks_unavailable' });
  assert.throws(() => new Verifier({ jwks: 'not json' }), { code: 'jwks_unavailable' });
  const lenient = new Verifier({ jwks: fx.jwks, requireExpiration: false, clockSkewSeconds: 0 });
  assert.equal(lenient.verifySync(fx.noExp, { now: fx.now }).sub, 'alice');
});
