// Options as users build them (classes with getters, prototypes, values from the environment):
// a mistake in them is a TypeError where it is made, never a check quietly switched off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verifier, RemoteVerifier, expiresIn, isExpired } from 'jwtgate';
import { fx } from './fixtures.mjs';

const { jwks } = fx.variants.standard;
const catalog = (name) => fx.catalog.find((c) => c.name === name).token;
const wrongIssuer = catalog('wrong issuer');
const wrongAudience = catalog('wrong audience');
const good = fx.tokens.ES256;
const base = { jwks, issuer: fx.issuer, audiences: [fx.audience] };
const remote = { jwksUri: 'https://issuer.example/jwks', fetch: async () => new Response(JSON.stringify(jwks)), issuer: fx.issuer };

test('an empty audience list is a TypeError, not "any audience"', () => {
  // What an unset variable becomes through the usual parsing.
  const fromEnv = ''.split(',').map((a) => a.trim()).filter(Boolean);
  assert.deepEqual(fromEnv, []);
  for (const audiences of [fromEnv, [''], ['api', '']]) {
    assert.throws(() => new Verifier({ ...base, audiences }), { name: 'TypeError', message: /audiences/ }, JSON.stringify(audiences));
    assert.throws(() => new RemoteVerifier({ ...remote, audiences }), { name: 'TypeError', message: /audiences/ });
  }
  // Left out, the audience is not checked, as documented; given, it is.
  assert.equal(new Verifier({ jwks, issuer: fx.issuer }).verifySync(wrongAudience, { now: fx.now }).sub, 'alice');
  assert.throws(() => new Verifier(base).verifySync(wrongAudience, { now: fx.now }), { code: 'invalid_audience' });
});

test('a now that is not a finite number is a TypeError in verify, expiresIn and isExpired', async () => {
  const v = new Verifier(base);
  const r = new RemoteVerifier({ ...remote, audiences: fx.audience });
  // Each of these read as a number is 0 (or NaN): at time 0 a token expired a year ago is fresh.
  for (const now of ['', ' ', '0', false, true, [], [0], null, {}, NaN, Infinity, -1, '1800000000', 1800000000n, new Date(0)]) {
    const what = typeof now === 'bigint' ? `${now}n` : JSON.stringify(now) ?? String(now);
    assert.throws(() => v.verifySync(fx.expired, { now }), TypeError, what);
    await assert.rejects(r.verify(fx.expired, { now }), TypeError, what);
    assert.throws(() => expiresIn(fx.expired, now), TypeError, what);
    assert.throws(() => isExpired(fx.expired, { now }), TypeError, what);
  }
  assert.throws(() => v.verifySync(fx.expired, { now: fx.now }), { code: 'expired' });
  assert.equal(isExpired(fx.expired, { now: fx.now }), true);
  assert.equal(isExpired('garbage', { now: fx.now }), true, 'an unreadable token still counts as expired');
  assert.equal(typeof expiresIn(good), 'number', 'without now, the clock');
});

test('a leeway that is not a number of seconds is a TypeError, not "not expired"', () => {
  for (const leeway of [NaN, Infinity, '30s', '30', null, -1, {}]) {
    assert.throws(() => isExpired(good, { now: fx.now, leeway }), { name: 'TypeError', message: /leeway/ }, String(leeway));
  }
  assert.equal(isExpired(good, { now: fx.now, leeway: 600 }), true);
});

test('options from class getters and prototypes are read, not dropped', async () => {
  class AuthConfig {
    get jwks() {
      return jwks;
    }
    get issuer() {
      return fx.issuer;
    }
    get audiences() {
      return [fx.audience];
    }
  }
  const defaults = { issuer: fx.issuer, audiences: [fx.audience] };
  const inherited = Object.assign(Object.create(defaults), { jwks });
  class Remote extends AuthConfig {
    get jwksUri() {
      return remote.jwksUri;
    }
    get fetch() {
      return remote.fetch;
    }
  }
  const remoteInherited = Object.assign(Object.create(defaults), { jwksUri: remote.jwksUri, fetch: remote.fetch });
  for (const [name, v] of [['class', new Verifier(new AuthConfig())], ['Object.create', new Verifier(inherited)]]) {
    assert.equal(v.verifySync(good, { now: fx.now }).sub, 'alice', name);
    assert.throws(() => v.verifySync(wrongIssuer, { now: fx.now }), { code: 'invalid_issuer' }, name);
    assert.throws(() => v.verifySync(wrongAudience, { now: fx.now }), { code: 'invalid_audience' }, name);
  }
  for (const [name, v] of [['class', new RemoteVerifier(new Remote())], ['Object.create', new RemoteVerifier(remoteInherited)]]) {
    assert.equal((await v.verify(good, { now: fx.now })).sub, 'alice', name);
    await assert.rejects(v.verify(wrongIssuer, { now: fx.now }), { code: 'invalid_issuer' }, name);
    await assert.rejects(v.verify(wrongAudience, { now: fx.now }), { code: 'invalid_audience' }, name);
  }
});

test('a typo is refused, own or inherited; a polluted Object.prototype configures nothing', (t) => {
  assert.throws(() => new Verifier({ ...base, audience: 'api' }), { name: 'TypeError', message: /did you mean audiences/ });
  const typo = Object.assign(Object.create({ issuer: fx.issuer, audience: ['api'] }), { jwks });
  assert.throws(() => new Verifier(typo), { name: 'TypeError', message: /did you mean audiences/ });
  class Typo {
    jwks = jwks;
    audience = 'api';
  }
  assert.throws(() => new Verifier(new Typo()), { name: 'TypeError', message: /did you mean audiences/ });
  // A non-enumerable name on a prototype is a method or a getter of the class, read by name only.
  class WithMethods {
    get jwks() {
      return jwks;
    }
    describe() {
      return 'auth';
    }
  }
  assert.equal(new Verifier(new WithMethods()).verifySync(wrongIssuer, { now: fx.now }).sub, 'alice');

  // Enumerable pollution of an option name: the copy of the options never reads it.
  Object.prototype.issuer = 'https://evil';
  let polluted;
  try {
    polluted = new Verifier({ jwks, audiences: [fx.audience] });
  } finally {
    delete Object.prototype.issuer;
  }
  assert.equal(polluted.verifySync(good, { now: fx.now }).sub, 'alice', 'no issuer was configured');

  Object.defineProperty(Object.prototype, 'requireExpiration', { value: false, configurable: true, writable: true, enumerable: false });
  t.after(() => delete Object.prototype.requireExpiration);
  assert.throws(() => new Verifier(base).verifySync(fx.noExp, { now: fx.now }), { code: 'missing_claim' });
});

test('numbers that are not numbers are TypeErrors, wherever they come from', () => {
  const env = { CLOCK_SKEW: '30s', MAX_BYTES: 'lots', CACHE: 'ten minutes' };
  const bad = {
    clockSkewSeconds: [NaN, Infinity, -Infinity, '30s', '60', Number(env.CLOCK_SKEW), -1, 1.5, new Number(NaN)],
    maxTokenBytes: [NaN, Infinity, '16384', Number(env.MAX_BYTES), 0, -5],
  };
  for (const [name, values] of Object.entries(bad)) {
    for (const value of values) {
      assert.throws(() => new Verifier({ ...base, [name]: value }), { name: 'TypeError' }, `${name}: ${value}`);
      assert.throws(() => new RemoteVerifier({ ...remote, [name]: value }), { name: 'TypeError' }, `${name}: ${value}`);
    }
  }
  for (const name of ['cacheSeconds', 'cooldownSeconds', 'fetchTimeoutSeconds', 'retrySeconds']) {
    for (const value of [NaN, Infinity, '30', Number(env.CACHE), -1, null, {}]) {
      assert.throws(() => new RemoteVerifier({ ...remote, [name]: value }), { name: 'TypeError', message: new RegExp(name) }, `${name}: ${value}`);
    }
  }
  assert.throws(() => new RemoteVerifier({ ...remote, fetchTimeoutSeconds: 0 }), { name: 'TypeError', message: /fetchTimeoutSeconds/ });
  // What JSON would lose is refused, not dropped: a function for an issuer is no issuer check.
  for (const issuer of [() => fx.issuer, Symbol('iss'), 1n]) {
    assert.throws(() => new Verifier({ ...base, issuer }), { name: 'TypeError' }, String(issuer?.toString()));
  }
  assert.throws(() => new Verifier({ ...base, audiences: [fx.audience, () => 'x'] }), TypeError);
  assert.throws(() => new Verifier({ ...base, issuer: { toJSON: () => undefined } }), TypeError, 'a toJSON that yields nothing');
  // Good values still work, including ones parsed from the environment.
  const v = new Verifier({ ...base, clockSkewSeconds: Number('0'), maxTokenBytes: Number('16384') });
  assert.equal(v.verifySync(good, { now: fx.now }).sub, 'alice');
});
