// TokenSession and jwtgate/axios at their limits: a refresh that never settles, calls that are
// cancelled or time out while they wait, tokens that must not leave for other origins, and a
// storage adapter that hands back something other than text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { TokenSession, JwtError } from 'jwtgate';
import { attachAxios } from 'jwtgate/axios';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const token = (n, lifetime = 300) => `${b64({ alg: 'ES256' })}.${b64({ sub: 'alice', n, iat: nowS(), exp: nowS() + lifetime })}.c2ln`;
const QUICK = { timeout: 10_000 };

/** Answers with the Authorization header it was sent, and counts calls. */
async function echo(t) {
  const it = { calls: 0, seen: [] };
  const server = createServer((req, res) => {
    it.calls += 1;
    it.seen.push(req.headers.authorization ?? null);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  it.origin = `http://127.0.0.1:${server.address().port}`;
  it.url = `${it.origin}/`;
  return it;
}

const authRequired = (session) =>
  new Promise((resolve) => session.addEventListener('authrequired', (e) => resolve(e.detail.error), { once: true }));

test('a refresh that never settles is aborted at refreshTimeoutSeconds; a sign-in then serves the waiting calls', QUICK, async () => {
  for (const honoursSignal of [true, false]) {
    let signal;
    const session = new TokenSession({
      refresh: (refreshToken, options) => {
        signal = options.signal;
        return new Promise((resolve, reject) => honoursSignal && signal.addEventListener('abort', () => reject(signal.reason)));
      },
      refreshTimeoutSeconds: 0.2,
    });
    const required = authRequired(session);
    session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
    const waiting = session.accessToken();
    const error = await required;
    assert.equal(error.name, 'TimeoutError', String(error));
    assert.ok(signal instanceof AbortSignal && signal.aborted, 'the app’s refresh was told to stop');
    const fresh = token(1);
    session.setTokens({ accessToken: fresh, refreshToken: 'r1' });
    assert.equal(await waiting, fresh);
    session.clear();
  }
});

test('clear() aborts a refresh in flight, and the session takes new tokens at once', QUICK, async () => {
  let signal;
  let calls = 0;
  const session = new TokenSession({
    refresh: (refreshToken, options) => {
      calls += 1;
      signal = options.signal;
      return new Promise(() => {});
    },
  });
  session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  const waiting = session.accessToken();
  while (!signal) await new Promise((r) => setTimeout(r, 5));
  session.clear();
  await assert.rejects(waiting, { code: 'missing_token' });
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof JwtError);
  // Expired again: the next refresh is not stuck behind the one that never settled.
  session.setTokens({ accessToken: token(2, -10), refreshToken: 'r2' });
  const next = session.accessToken();
  while (calls < 2) await new Promise((r) => setTimeout(r, 5));
  session.clear();
  await assert.rejects(next, { code: 'missing_token' });
});

test('two sessions sharing a refresh token: a stuck refresh ends the turn at the timeout, in both', QUICK, async () => {
  // Node has BroadcastChannel and no Web Locks: the election's turn is bounded as a lock is.
  const make = () => new TokenSession({ refresh: () => new Promise(() => {}), storageKey: 'stuck', refreshTimeoutSeconds: 0.3 });
  const [a, b] = [make(), make()];
  const required = [authRequired(a), authRequired(b)];
  for (const s of [a, b]) s.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  const waiting = b.accessToken();
  a.accessToken().catch(() => {});
  await Promise.all(required);
  const fresh = token(5);
  b.setTokens({ accessToken: fresh, refreshToken: 'r5' });
  assert.equal(await waiting, fresh);
  a.clear();
  b.clear();
});

test('the bearer token goes to the listed origins only; elsewhere the request goes without it', QUICK, async (t) => {
  const [ours, theirs] = [await echo(t), await echo(t)];
  const tk = token(0);
  const session = new TokenSession({ refresh: async () => ({}), origins: [ours.origin] });
  session.setTokens({ accessToken: tk, refreshToken: 'r0' });
  assert.equal((await (await session.fetch(ours.url)).json()).authorization, `Bearer ${tk}`);
  assert.equal((await (await session.fetch(`${theirs.url}collect?x=1`)).json()).authorization, null);
  assert.equal(session.sendsTokenTo(`${ours.origin}/any/path`), true);
  assert.equal(session.sendsTokenTo(theirs.url), false);
  assert.equal(session.sendsTokenTo('/relative'), false, 'outside a browser there is no page to be relative to');
  // Signed out, a call elsewhere does not wait for a sign-in it does not need.
  const signedOut = new TokenSession({ refresh: async () => ({}), origins: [ours.origin] });
  assert.equal((await signedOut.fetch(theirs.url)).status, 200);
  // Any origin, when the app says so.
  const open = new TokenSession({ refresh: async () => ({}), allowAnyOrigin: true });
  open.setTokens({ accessToken: tk, refreshToken: 'r0' });
  assert.equal((await (await open.fetch(theirs.url)).json()).authorization, `Bearer ${tk}`);
  for (const origins of ['https://api.example', ['https://api.example/'], ['https://api.example/v1'], ['api.example'], ['*'], ['null'], ['HTTPS://API.EXAMPLE'], [7]]) {
    assert.throws(() => new TokenSession({ refresh: async () => ({}), origins }), { name: 'TypeError', message: /origins/ }, JSON.stringify(origins));
  }
  assert.throws(() => new TokenSession({ refresh: async () => ({}), allowAnyOrigin: 'yes' }), { name: 'TypeError', message: /allowAnyOrigin/ });
  // A misspelt option is refused, not ignored with its default.
  for (const typo of ['origin', 'allowAnyOrigins', 'refreshTimeout']) {
    assert.throws(() => new TokenSession({ refresh: async () => ({}), [typo]: true }), { name: 'TypeError', message: new RegExp(typo) });
  }
  for (const refreshTimeoutSeconds of [0, -1, NaN, Infinity, '10', null]) {
    assert.throws(() => new TokenSession({ refresh: async () => ({}), refreshTimeoutSeconds }), { name: 'TypeError', message: /refreshTimeoutSeconds/ });
  }
  session.clear();
  open.clear();
});

test('a polluted Object.prototype does not send the token anywhere', () => {
  // Enumerable, as `target[key] = value` pollution makes it; removed before anything else runs.
  Object.prototype.allowAnyOrigin = true;
  let session;
  try {
    session = new TokenSession({ refresh: async () => ({}), origins: ['https://api.example'] });
  } finally {
    delete Object.prototype.allowAnyOrigin;
  }
  assert.equal(session.sendsTokenTo('https://evil.example/'), false);
  assert.equal(session.sendsTokenTo('https://api.example/v1'), true);
});

test('options as users build them: a class with getters, and prototypes', QUICK, async (t) => {
  const api = await echo(t);
  const tk = token(0);
  class SessionConfig {
    get refresh() {
      return async () => ({ accessToken: tk });
    }
    get origins() {
      return [api.origin];
    }
  }
  for (const options of [new SessionConfig(), Object.create({ refresh: async () => ({ accessToken: tk }), origins: [api.origin] })]) {
    const session = new TokenSession(options);
    session.setTokens({ accessToken: tk, refreshToken: 'r' });
    assert.equal((await (await session.fetch(api.url)).json()).authorization, `Bearer ${tk}`);
    session.clear();
  }
});

test('jwtgate/axios: a waiting request honours its signal and timeout, and the token stays home', QUICK, async (t) => {
  const { default: axios } = await import(process.env.AXIOS);
  const [ours, theirs] = [await echo(t), await echo(t)];
  // No tokens: every request to our origin waits for a sign-in.
  const session = new TokenSession({ refresh: async () => ({}), origins: [ours.origin] });
  const client = axios.create({ baseURL: ours.url });
  attachAxios(session, client);

  const controller = new AbortController();
  const aborted = client.get('/', { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 20));
  controller.abort();
  await assert.rejects(aborted, (e) => axios.isCancel(e));
  const source = axios.CancelToken.source();
  const cancelled = client.get('/', { cancelToken: source.token });
  source.cancel('left the page');
  await assert.rejects(cancelled, (e) => axios.isCancel(e));
  await assert.rejects(client.get('/', { timeout: 50 }), (e) => axios.isAxiosError(e) && e.code === 'ECONNABORTED' && /timeout of 50ms/.test(e.message));
  await assert.rejects(client.get('/', { timeout: 50, transitional: { clarifyTimeoutError: true } }), { code: 'ETIMEDOUT' });
  assert.equal(ours.calls, 0, 'nothing was sent without its token');

  // Another origin: sent at once, without the token, signed in or not.
  assert.equal((await client.get(`${theirs.url}x`)).data.authorization, null);
  const tk = token(1);
  session.setTokens({ accessToken: tk, refreshToken: 'r1' });
  assert.equal((await client.get('/')).data.authorization, `Bearer ${tk}`);
  assert.equal((await client.get(`${theirs.url}x`)).data.authorization, null);
  assert.deepEqual(theirs.seen, [null, null]);
  session.clear();
});

test('a storage adapter whose getItem returns something other than text is corrupt: dropped, not thrown', () => {
  for (const value of [{}, 5, ['x'], { accessToken: token(0) }, true]) {
    let removed = 0;
    const storage = { getItem: () => value, setItem: () => {}, removeItem: () => (removed += 1) };
    const session = new TokenSession({ refresh: async () => ({}), storage, storageKey: 'odd' });
    assert.equal(removed, 1, JSON.stringify(value));
    session.clear();
  }
});

test('a refresh answer too large to be a token fails into authrequired before it reaches wasm memory', QUICK, async () => {
  const session = new TokenSession({ refresh: async () => ({ accessToken: 'a'.repeat(1 << 20), refreshToken: 'r1' }) });
  const required = authRequired(session);
  session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  session.accessToken().catch(() => {});
  const error = await required;
  assert.equal(error.code, 'too_large');
  session.clear();
});

test('authrequired fires once for a refresh that times out, with or without a BroadcastChannel', QUICK, async () => {
  for (const channel of [true, false]) {
    const saved = globalThis.BroadcastChannel;
    if (!channel) globalThis.BroadcastChannel = undefined;
    let session;
    try {
      session = new TokenSession({ refresh: () => new Promise(() => {}), refreshTimeoutSeconds: 0.2, storageKey: `once-${channel}` });
    } finally {
      globalThis.BroadcastChannel = saved;
    }
    const errors = [];
    session.addEventListener('authrequired', (e) => errors.push(e.detail.error.name));
    const first = authRequired(session);
    session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
    session.accessToken().catch(() => {});
    await first;
    // Both ends of the timed-out refresh have settled once the barrier and the election are done:
    // a fresh sign-in and its token show the run is over.
    for (let i = 0; i < 5; i += 1) await new Promise((r) => setImmediate(r));
    const fresh = token(1);
    session.setTokens({ accessToken: fresh, refreshToken: 'r1' });
    assert.equal(await session.accessToken(), fresh);
    assert.deepEqual(errors, ['TimeoutError'], `BroadcastChannel ${channel ? 'on' : 'off'}`);
    session.clear();
    session.close();
  }
});

test('every string bound for the session core is measured first: nothing oversized reaches wasm memory', QUICK, async () => {
  const { ownInstance } = await import('./instance.mjs');
  const { memory } = (await ownInstance(true)).instance.exports;
  const huge = 'r'.repeat(32 << 20);
  // A fresh instance: what the calls below make of tokens of the usual size comes first.
  const warm = new TokenSession({ refresh: async () => ({}), storageKey: 'warm' });
  warm.setTokens({ accessToken: token(0), refreshToken: 'r'.repeat(64) });
  warm.tokenRejected(token(0));
  warm.clear();
  warm.close();
  const size = memory.buffer.byteLength;

  const plain = new TokenSession({ refresh: async () => ({}), storageKey: 'measured' });
  assert.throws(() => plain.setTokens({ accessToken: token(0), refreshToken: huge }), { code: 'too_large' });
  const mine = token(1);
  plain.setTokens({ accessToken: mine, refreshToken: 'r1' });
  plain.tokenRejected(huge);
  // Another tab's messages, then one that matters: messages arrive in order.
  const other = new BroadcastChannel('jwtgate:measured');
  const cleared = new Promise((resolve) => plain.addEventListener('cleared', resolve, { once: true }));
  other.postMessage({ t: 'failed', from: huge });
  other.postMessage({ t: 'refreshed', from: huge, accessToken: token(2), refreshToken: 'r2' });
  other.postMessage({ t: 'refreshed', from: 'r1', accessToken: token(3), refreshToken: huge });
  other.postMessage({ t: 'cleared', from: 'r1', access: mine });
  await cleared;
  other.close();
  plain.close();

  for (const stored of [huge, JSON.stringify({ accessToken: token(4), refreshToken: huge })]) {
    let removed = 0;
    const storage = { getItem: () => stored, setItem: () => {}, removeItem: () => (removed += 1) };
    new TokenSession({ refresh: async () => ({}), storage, storageKey: 'stored' }).close();
    assert.equal(removed, 1, 'dropped as corrupt');
  }

  const answering = new TokenSession({ refresh: async () => ({ accessToken: token(5), refreshToken: huge }) });
  const required = authRequired(answering);
  answering.setTokens({ accessToken: token(6, -10), refreshToken: 'r6' });
  answering.accessToken().catch(() => {});
  assert.equal((await required).code, 'too_large');
  answering.clear();
  assert.equal(memory.buffer.byteLength, size, 'wasm memory did not grow');
});

test('jwtgate/axios: an interceptor that runs after ours and moves the request elsewhere takes the token off', QUICK, async (t) => {
  const { default: axios } = await import(process.env.AXIOS);
  const [ours, theirs] = [await echo(t), await echo(t)];
  const tk = token(1);
  const session = new TokenSession({ refresh: async () => ({ accessToken: tk }), origins: [ours.origin] });
  session.setTokens({ accessToken: tk, refreshToken: 'r1' });
  const client = axios.create({ baseURL: ours.url });
  // Registered before attachAxios, so axios runs it after jwtgate's.
  client.interceptors.request.use((config) => {
    if (config.url === '/tenant') config.baseURL = theirs.origin;
    if (config.url === '/absolute') config.url = `${theirs.url}absolute`;
    return config;
  });
  attachAxios(session, client);
  assert.equal((await client.get('/tenant')).data.authorization, null);
  assert.equal((await client.get('/absolute')).data.authorization, null);
  assert.equal((await client.get('/mine')).data.authorization, `Bearer ${tk}`, 'our own origin still gets it');
  assert.deepEqual(theirs.seen, [null, null]);
  session.clear();
});

test('session timings: a timeout setTimeout cannot hold and a refresh margin that is not one are TypeErrors naming the option', () => {
  const refresh = async () => ({});
  for (const refreshTimeoutSeconds of [2147484, 3e6]) {
    assert.throws(() => new TokenSession({ refresh, refreshTimeoutSeconds }), { name: 'TypeError', message: /refreshTimeoutSeconds must be at most 2147483/ });
  }
  new TokenSession({ refresh, refreshTimeoutSeconds: 2147483 }).close();
  for (const refreshAheadSeconds of [NaN, null, -1, Infinity, '30']) {
    assert.throws(() => new TokenSession({ refresh, refreshAheadSeconds }), { name: 'TypeError', message: /refreshAheadSeconds/ }, String(refreshAheadSeconds));
  }
});

/**
 * How far the heap grew, in a child under --expose-gc, over `times` rounds of `run(n)` (defined
 * by `setUp`, module code) after `warm` rounds of warm-up.
 */
function heapGrowth(setUp, warm, times) {
  const child = `${setUp}
const heap = async () => {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  return process.memoryUsage().heapUsed;
};
await run(${warm});
const before = await heap();
await run(${times});
process.stdout.write(String((await heap()) - before));
`;
  return Number(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child], { cwd: import.meta.dirname }));
}

test('a call that gave up waiting for a sign-in is let go: aborted calls do not pile up while signed out', QUICK, () => {
  // An app polling with a timeout while its login dialog is open: each aborted call's wait was
  // kept until a sign-in (3 KB apiece), so a tab left signed out grew without bound.
  const grew = heapGrowth(
    `
import { TokenSession } from 'jwtgate/client';
const session = new TokenSession({ refresh: async () => ({}), allowAnyOrigin: true, fetch: async () => new Response('') });
const run = async (n) => {
  for (let i = 0; i < n; i += 1) {
    const controller = new AbortController();
    const call = session.fetch('http://127.0.0.1/poll', { signal: controller.signal }).then(() => 'sent', (e) => e.message);
    await null;
    controller.abort(new Error('gave up'));
    if ((await call) !== 'gave up') throw new Error('the call was not aborted');
  }
};`,
    1000,
    20000,
  );
  assert.ok(grew < 2 * 2 ** 20, `the heap grew by ${(grew / 2 ** 20).toFixed(1)} MiB over 20,000 aborted calls`);
});

test('jwtgate/axios: a request cancelled while waiting for a sign-in is let go too', { timeout: 60_000 }, () => {
  const grew = heapGrowth(
    `
import { TokenSession } from 'jwtgate/client';
import { attachAxios } from 'jwtgate/axios';
const { default: axios } = await import(process.env.AXIOS);
const session = new TokenSession({ refresh: async () => ({}), allowAnyOrigin: true });
const client = axios.create({ baseURL: 'http://127.0.0.1:9/' });
attachAxios(session, client);
const run = async (n) => {
  for (let i = 0; i < n; i += 1) {
    const controller = new AbortController();
    const source = axios.CancelToken.source();
    const calls = [
      client.get('/poll', { signal: controller.signal }),
      client.get('/poll', { cancelToken: source.token }),
      client.get('/poll', { timeout: 1 }),
    ].map((call) => call.then(() => 'sent', (e) => e.code));
    await null;
    controller.abort();
    source.cancel();
    const outcomes = await Promise.all(calls);
    if (outcomes.join() !== 'ERR_CANCELED,ERR_CANCELED,ECONNABORTED') throw new Error(outcomes.join());
  }
};`,
    300,
    3000,
  );
  assert.ok(grew < 2 * 2 ** 20, `the heap grew by ${(grew / 2 ** 20).toFixed(1)} MiB over 9,000 given-up requests`);
});
