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

test("isExpired's options are checked by name: a bare number or a misspelt leeway is a TypeError, not a token called fresh", () => {
  // 600 s before exp (the test above): fresh without the margin, expired with it.
  const at = { now: fx.now };
  assert.equal(isExpired(good, at), false);
  for (const options of [600, '600', { ...at, leway: 600 }, { ...at, Leeway: 600 }, { ...at, margin: 600 }, null]) {
    assert.throws(() => isExpired(good, options), TypeError, JSON.stringify(options));
  }
  assert.equal(isExpired(good, Object.create({ ...at, leeway: 600 })), true, 'read as options are: inherited names count');
  assert.equal(isExpired(good, undefined), false, 'no options: the clock, no margin');
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

test("a call's options are checked by name: a misplaced requirement is a TypeError, not a verify that checks less", async () => {
  const v = new Verifier(base);
  const r = new RemoteVerifier(remote);
  for (const options of [{ requiredClaims: ['admin'] }, { nwo: fx.now }, { now: fx.now, waitUntil: () => {} }]) {
    assert.throws(() => v.verifySync(good, options), { name: 'TypeError', message: /unknown verifySync option/ });
    await assert.rejects(v.verify(good, options), { name: 'TypeError', message: /unknown verify option/ });
  }
  await assert.rejects(r.verify(good, { requiredClaims: ['admin'] }), { name: 'TypeError', message: /unknown verify option "requiredClaims"/ });
  assert.throws(() => v.verifySync(good, null), { name: 'TypeError' });
  // Given as the constructor's are: by property access, Object.prototype not an option.
  assert.equal(v.verifySync(good, Object.create({ now: fx.now })).sub, 'alice');
  assert.equal((await r.verify(good, { now: fx.now, waitUntil: undefined })).sub, 'alice');
  // The fixtures' tokens are judged at fx.now, not today. A polluted `now` that were read
  // would let them through.
  const today = (options) => {
    try {
      return v.verifySync(good, options).sub;
    } catch (e) {
      return e.code;
    }
  };
  const plain = today(undefined);
  assert.notEqual(plain, 'alice');
  Object.defineProperty(Object.prototype, 'now', { value: fx.now, configurable: true, writable: true, enumerable: false });
  try {
    assert.equal(today({}), plain, 'a polluted now is not read');
  } finally {
    delete Object.prototype.now;
  }
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

test('toJSON never decides an option: on the options or on a value, it is a TypeError, never called', async () => {
  const expired = fx.expired;
  let called = 0;
  const toJSON = () => {
    called += 1;
    return {};
  };
  // Options that log short: the check must not follow what they print.
  const logged = { ...base, toJSON() {
    called += 1;
    return { issuer: this.issuer };
  } };
  assert.throws(() => new Verifier(logged), { name: 'TypeError', message: /toJSON/ });
  assert.throws(() => new Verifier({ ...base, toJSON }), { name: 'TypeError', message: /toJSON/ });
  assert.throws(() => new RemoteVerifier({ ...remote, audiences: [fx.audience], toJSON }), { name: 'TypeError', message: /toJSON/ });
  class Logged {
    jwks = jwks;
    issuer = fx.issuer;
    toJSON() {
      called += 1;
      return {};
    }
  }
  // A method on the class's prototype is not enumerable: not an option, and not called.
  assert.throws(() => new Verifier(new Logged()).verifySync(wrongIssuer, { now: fx.now }), { code: 'invalid_issuer' });
  for (const [name, value, token] of [
    ['audiences', { toJSON: () => null }, wrongAudience],
    ['audiences', { toJSON: () => [] }, wrongAudience],
    ['issuer', { toJSON: () => null }, wrongIssuer],
    ['issuer', { toJSON: () => fx.issuer }, good],
    ['clockSkewSeconds', { toJSON: () => 1e14 }, expired],
    ['requiredClaims', { toJSON: () => undefined }, good],
    ['issuer', new URL(fx.issuer), wrongIssuer],
    ['issuer', new String(fx.issuer), wrongIssuer],
    ['audiences', new String(fx.audience), wrongAudience],
    ['audiences', Object.assign([fx.audience], { toJSON: () => null }), wrongAudience],
    ['audiences', [new String(fx.audience)], wrongAudience],
    ['clockSkewSeconds', new Number(30), good],
    ['requireExpiration', new Boolean(false), good],
  ]) {
    const what = `${name}: ${Object.prototype.toString.call(value)}`;
    assert.throws(() => new Verifier({ ...base, [name]: value }).verifySync(token, { now: fx.now }), { name: 'TypeError', message: new RegExp(name) }, what);
    assert.throws(() => new RemoteVerifier({ ...remote, audiences: [fx.audience], [name]: value }), { name: 'TypeError', message: new RegExp(name) }, what);
  }
  assert.equal(called, 0, 'no toJSON was called');
  // Array.prototype polluted with a toJSON: no array is serialised through it.
  Array.prototype.toJSON = () => [];
  try {
    assert.throws(() => new Verifier(base), TypeError);
  } finally {
    delete Array.prototype.toJSON;
  }
});

test('each option is read once: a Proxy or getter that answers differently the second time changes nothing', async () => {
  const reads = {};
  const flip = (target) =>
    new Proxy(target, {
      get(t, k) {
        reads[k] = (reads[k] ?? 0) + 1;
        // The first read gives the real value, every later one nothing.
        return reads[k] > 1 ? undefined : t[k];
      },
    });
  const v = new Verifier(flip({ ...base }));
  assert.throws(() => v.verifySync(wrongAudience, { now: fx.now }), { code: 'invalid_audience' });
  assert.throws(() => v.verifySync(wrongIssuer, { now: fx.now }), { code: 'invalid_issuer' });
  for (const name of ['jwks', 'issuer', 'audiences']) assert.equal(reads[name], 1, name);
  for (const k of Object.keys(reads)) delete reads[k];
  const r = new RemoteVerifier(flip({ ...remote, audiences: [fx.audience], cache: false }));
  await assert.rejects(r.verify(wrongAudience, { now: fx.now }), { code: 'invalid_audience' });
  for (const name of ['jwksUri', 'fetch', 'cache', 'issuer', 'audiences']) assert.equal(reads[name], 1, name);
  // A Proxy that is its own prototype is refused, not walked for ever.
  const looping = new Proxy({}, { getPrototypeOf: () => looping });
  assert.throws(() => new Verifier(looping), { name: 'TypeError', message: /prototype chain/ });
});

test('null is not "no check" for issuer and audiences: a TypeError, as the other options say what they mean', () => {
  for (const name of ['issuer', 'audiences']) {
    assert.throws(() => new Verifier({ ...base, [name]: null }), { name: 'TypeError', message: new RegExp(`${name}.*leave it out`) });
    assert.throws(() => new RemoteVerifier({ ...remote, audiences: [fx.audience], [name]: null }), { name: 'TypeError', message: new RegExp(name) });
  }
  // Left out, the check is skipped on purpose.
  assert.equal(new Verifier({ jwks, audiences: [fx.audience] }).verifySync(wrongIssuer, { now: fx.now }).sub, 'alice');
  // null elsewhere is the default, which is never weaker: 60 s skew, exp required.
  assert.throws(() => new Verifier({ ...base, requireExpiration: null }).verifySync(fx.noExp, { now: fx.now }), { code: 'missing_claim' });
});

test('numbers past their bounds are TypeErrors: a skew over a day, a token limit over 1 MiB, timers setTimeout cannot hold', () => {
  for (const clockSkewSeconds of [86401, 1e14, 2 ** 53 - 1]) {
    assert.throws(() => new Verifier({ ...base, clockSkewSeconds }).verifySync(fx.expired, { now: fx.now }), { name: 'TypeError', message: /clockSkewSeconds/ }, String(clockSkewSeconds));
  }
  assert.equal(new Verifier({ ...base, clockSkewSeconds: 86400 }).verifySync(fx.expired, { now: fx.now }).sub, 'alice', 'a day is accepted');
  for (const maxTokenBytes of [2 ** 32, 2 ** 32 + 10, 1e12, 2 ** 20 + 1]) {
    assert.throws(() => new Verifier({ ...base, maxTokenBytes }), { name: 'TypeError', message: /maxTokenBytes/ }, String(maxTokenBytes));
  }
  assert.equal(new Verifier({ ...base, maxTokenBytes: 2 ** 20 }).verifySync(good, { now: fx.now }).sub, 'alice');
  for (const [name, value] of [['fetchTimeoutSeconds', 2147484], ['fetchTimeoutSeconds', 3e6], ['retrySeconds', 31], ['retrySeconds', 1e9], ['maxStaleSeconds', 30 * 86400 + 1], ['maxStaleSeconds', 1e300]]) {
    assert.throws(() => new RemoteVerifier({ ...remote, [name]: value }), { name: 'TypeError', message: new RegExp(`${name} must be at most`) }, `${name}: ${value}`);
  }
  for (const [name, value] of [['fetchTimeoutSeconds', 2147483], ['retrySeconds', 30], ['maxStaleSeconds', 30 * 86400]]) {
    assert.ok(new RemoteVerifier({ ...remote, [name]: value }), `${name}: ${value}`);
  }
});
