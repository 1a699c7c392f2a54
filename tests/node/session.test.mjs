// TokenSession in Node, against a loopback API: refresh ahead, one refresh for many calls,
// 401 → refresh and retry, sign-in waits, storage hygiene, and jwtgate/axios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { TokenSession, JwtError } from 'jwtgate';
import { attachAxios } from 'jwtgate/axios';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

/** An unsigned token (the session reads tokens, it never verifies them). */
function token(n, lifetime = 300, age = 0) {
  const iat = nowS() - age;
  return `${b64({ alg: 'ES256' })}.${b64({ sub: 'alice', n, iat, exp: iat + lifetime })}.c2ln`;
}

/** A token endpoint with rotating refresh tokens that records what it was sent. */
function issuer({ lifetime = 300 } = {}) {
  const it = { sent: [], valid: new Set(['r0']), n: 0, fail: false };
  it.refresh = async (refreshToken) => {
    it.sent.push(refreshToken);
    await new Promise((r) => setTimeout(r, 20));
    if (it.fail || !it.valid.delete(refreshToken)) throw new Error('invalid_grant');
    it.n += 1;
    it.valid.add(`r${it.n}`);
    return { accessToken: token(it.n, lifetime), refreshToken: `r${it.n}` };
  };
  return it;
}

/** An API that accepts only the tokens in `api.good`. */
async function api(t) {
  const it = { good: new Set(), calls: 0 };
  const server = createServer((req, res) => {
    it.calls += 1;
    const sent = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (it.refuseAll || !it.good.has(sent)) return res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, body }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  it.url = `http://127.0.0.1:${server.address().port}/`;
  it.origin = new URL(it.url).origin;
  return it;
}

const events = (session, type) => {
  const seen = [];
  session.addEventListener(type, (e) => seen.push(e.detail));
  return seen;
};

test('an expired token is refreshed once for twenty concurrent calls', async () => {
  const idp = issuer();
  const session = new TokenSession({ refresh: idp.refresh });
  const refreshed = events(session, 'refreshed');
  session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  const tokens = await Promise.all(Array.from({ length: 20 }, () => session.accessToken()));
  assert.deepEqual(idp.sent, ['r0']);
  assert.equal(new Set(tokens).size, 1);
  assert.equal(refreshed.length, 1);
  assert.equal(await session.accessToken(), tokens[0], 'fresh now: no second refresh');
  assert.equal(idp.sent.length, 1);
});

test('a token inside the refresh margin is refreshed before it is sent', async () => {
  const idp = issuer();
  const fresh = token(0, 100);
  // Stored 80 s ago with 100 s to live: 20 s left, inside the 30 s margin.
  const soon = token(0, 100, 80);
  const stored = { value: JSON.stringify({ accessToken: fresh, refreshToken: 'r0', receivedAt: nowS() }) };
  const storage = { getItem: () => stored.value, setItem: (_, v) => (stored.value = v), removeItem: () => (stored.value = null) };
  const session = new TokenSession({ refresh: idp.refresh, refreshAheadSeconds: 30, storage });
  assert.equal(await session.accessToken(), fresh);
  assert.deepEqual(idp.sent, []);
  stored.value = JSON.stringify({ accessToken: soon, refreshToken: 'r0', receivedAt: nowS() - 80 });
  const later = new TokenSession({ refresh: idp.refresh, refreshAheadSeconds: 30, storage });
  assert.notEqual(await later.accessToken(), soon);
  assert.deepEqual(idp.sent, ['r0']);
});

test('20-second tokens with the default 30-second margin are not refreshed on every call', async () => {
  const idp = issuer({ lifetime: 20 });
  const session = new TokenSession({ refresh: idp.refresh });
  session.setTokens({ accessToken: token(0, -1), refreshToken: 'r0' });
  const first = await session.accessToken();
  for (let i = 0; i < 5; i += 1) assert.equal(await session.accessToken(), first);
  assert.equal(idp.sent.length, 1);
});

test('fetch adds the bearer token; a 401 causes one refresh and one retry with the body', async (t) => {
  const idp = issuer();
  const server = await api(t);
  const session = new TokenSession({ refresh: (r) => idp.refresh(r), origins: [server.origin] });
  const revoked = token(0);
  session.setTokens({ accessToken: revoked, refreshToken: 'r0' });
  // The API refuses the current token (revoked server-side) but takes the next one.
  const original = idp.refresh;
  idp.refresh = async (r) => {
    const answer = await original(r);
    server.good.add(answer.accessToken);
    return answer;
  };
  const answers = await Promise.all(
    Array.from({ length: 5 }, (_, i) => session.fetch(server.url, { method: 'POST', body: `note ${i}` })),
  );
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.deepEqual((await Promise.all(answers.map((r) => r.json()))).map((j) => j.body), [0, 1, 2, 3, 4].map((i) => `note ${i}`));
  assert.deepEqual(idp.sent, ['r0'], 'five 401s, one refresh');
  assert.equal(server.calls, 10);
});

test('a 401 after the retry is the answer: no loop', async (t) => {
  const idp = issuer();
  const server = await api(t);
  const session = new TokenSession({ refresh: idp.refresh, origins: [server.origin] });
  session.setTokens({ accessToken: token(0), refreshToken: 'r0' });
  const response = await session.fetch(server.url);
  assert.equal(response.status, 401);
  assert.equal(server.calls, 2);
  assert.equal(idp.sent.length, 1);
});

test('a failed refresh asks for a sign-in; waiting calls complete after setTokens', async () => {
  const idp = issuer();
  idp.fail = true;
  const required = [];
  const session = new TokenSession({ refresh: idp.refresh, onAuthRequired: (e) => required.push(e.detail.error) });
  session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  let done = 0;
  const waiting = Array.from({ length: 3 }, () => session.accessToken().then((tk) => ((done += 1), tk)));
  while (required.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(required.length, 1);
  assert.match(String(required[0]), /invalid_grant/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, 0, 'calls wait for the sign-in');
  const fresh = token(9);
  session.setTokens({ accessToken: fresh, refreshToken: 'r9' });
  assert.deepEqual(await Promise.all(waiting), [fresh, fresh, fresh]);
  assert.equal(required.length, 1);
});

test('no tokens: authrequired once, and clear() rejects the waiting calls with missing_token', async () => {
  const session = new TokenSession({ refresh: async () => assert.fail('nothing to refresh') });
  const required = events(session, 'authrequired');
  const cleared = events(session, 'cleared');
  const waiting = [session.accessToken(), session.accessToken()];
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(required.length, 1);
  session.clear();
  for (const w of waiting) {
    await assert.rejects(w, (e) => e instanceof JwtError && e.code === 'missing_token');
  }
  assert.equal(cleared.length, 1);
});

test('a refresh answered after clear() does not bring the tokens back', async () => {
  let release;
  const session = new TokenSession({
    refresh: () => new Promise((r) => (release = () => r({ accessToken: token(1), refreshToken: 'r1' }))),
  });
  session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  const waiting = session.accessToken();
  while (!release) await new Promise((r) => setTimeout(r, 5));
  session.clear();
  await assert.rejects(waiting, { code: 'missing_token' });
  release();
  await new Promise((r) => setTimeout(r, 10));
  const after = session.accessToken();
  const outcome = await Promise.race([after.then(() => 'token'), new Promise((r) => setTimeout(() => r('waiting'), 50))]);
  assert.equal(outcome, 'waiting', 'still signed out');
  session.clear();
  await assert.rejects(after, { code: 'missing_token' });
});

test('refresh answers that are not tokens fail into authrequired, not a loop', async () => {
  for (const answer of [null, {}, { accessToken: 'not a token' }, { accessToken: token(1, -5) }, { accessToken: token(1), refreshToken: 7 }]) {
    const session = new TokenSession({ refresh: async () => answer });
    const required = events(session, 'authrequired');
    session.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
    session.accessToken().catch(() => {});
    while (required.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(required.length, 1, JSON.stringify(answer));
    session.clear();
  }
});

test('stored tokens are restored; corrupt ones are dropped, never thrown', async () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  const idp = issuer();
  const first = new TokenSession({ refresh: idp.refresh, storage, storageKey: 'app' });
  const tk = token(0);
  first.setTokens({ accessToken: tk, refreshToken: 'r0' });
  assert.ok(store.has('app'));
  const second = new TokenSession({ refresh: idp.refresh, storage, storageKey: 'app' });
  assert.equal(await second.accessToken(), tk);
  // Written and read in JS: a member given twice, a null or a time of another type is
  // refused as the core's reader refused it; so is a time ahead of this clock.
  const corrupts = [
    '{',
    'null',
    '[]',
    '{"accessToken":"x"}',
    '{"accessToken":5}',
    `{"accessToken":"${tk}","admin":true}`,
    `{"accessToken":"${tk}","accessToken":"${tk}"}`,
    `{"accessToken":"${tk}","refreshToken":null}`,
    `{"accessToken":"${tk}","receivedAt":"1"}`,
    `{"accessToken":"${tk}","receivedAt":-1}`,
    `{"accessToken":"${tk}","receivedAt":${Math.floor(Date.now() / 1000) + 60}}`,
  ];
  for (const corrupt of corrupts) {
    store.set('app', corrupt);
    const s = new TokenSession({ refresh: idp.refresh, storage, storageKey: 'app' });
    assert.equal(store.has('app'), false, corrupt);
    s.clear();
  }
  second.clear();
});

test('bad options and bad tokens are TypeError and JwtError at the call', () => {
  const refresh = async () => ({});
  assert.throws(() => new TokenSession({}), TypeError);
  assert.throws(() => new TokenSession({ refresh, storage: 'disk' }), TypeError);
  assert.throws(() => new TokenSession({ refresh, storage: 'local' }), /not available/);
  assert.throws(() => new TokenSession({ refresh, refreshAheadSeconds: -1 }), TypeError);
  assert.throws(() => new TokenSession({ refresh, refreshAheadSeconds: '30' }), TypeError);
  const s = new TokenSession({ refresh });
  assert.throws(() => s.setTokens({}), TypeError);
  assert.throws(() => s.setTokens({ accessToken: 'a.b' }), (e) => e instanceof JwtError && e.code === 'malformed');
});

test('jwtgate/axios: bearer on every request, one refresh and one retry after a 401, with either entry', async (t) => {
  const client = await import('jwtgate/client');
  for (const Session of [TokenSession, client.TokenSession]) await axiosRoundTrip(t, Session);
});

async function axiosRoundTrip(t, Session) {
  const { default: axios } = await import(process.env.AXIOS);
  const idp = issuer();
  const server = await api(t);
  const session = new Session({ refresh: (r) => idp.refresh(r), origins: [server.origin] });
  const original = idp.refresh;
  idp.refresh = async (r) => {
    const answer = await original(r);
    server.good.add(answer.accessToken);
    return answer;
  };
  session.setTokens({ accessToken: token(0), refreshToken: 'r0' });
  const client = axios.create({ baseURL: server.url });
  const detach = attachAxios(session, client);
  const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => client.post('/', `n${i}`)));
  assert.deepEqual(answers.map((r) => r.data.body), ['n0', 'n1', 'n2', 'n3']);
  assert.deepEqual(idp.sent, ['r0']);
  // Still refused after the retry: the 401 reaches the caller.
  server.refuseAll = true;
  await assert.rejects(client.get('/'), (e) => e.response?.status === 401);
  assert.equal(idp.sent.length, 2);
  detach();
  await assert.rejects(client.get('/'), (e) => e.response?.status === 401 && !e.config.headers.Authorization);
  assert.throws(() => attachAxios({}, client), TypeError);
}

test('two sessions sharing a refresh token: a refused refresh is presented once, both ask for a sign-in', async () => {
  // Node has BroadcastChannel but no Web Locks: the sessions elect a refresher.
  const idp = issuer();
  idp.fail = true;
  const make = () => new TokenSession({ refresh: (r) => idp.refresh(r), storageKey: 'shared-refusal' });
  const [a, b] = [make(), make()];
  const required = [events(a, 'authrequired'), events(b, 'authrequired')];
  const expired = token(0, -10);
  a.setTokens({ accessToken: expired, refreshToken: 'r0' });
  b.setTokens({ accessToken: expired, refreshToken: 'r0' });
  a.accessToken().catch(() => {});
  b.accessToken().catch(() => {});
  while (required[0].length === 0 || required[1].length === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(idp.sent, ['r0']);
  assert.deepEqual(required.map((r) => r.length), [1, 1]);
  a.clear();
  b.clear();
});

test('two sessions sharing a refresh token: one refresh, and both hold its result', async () => {
  const idp = issuer();
  const make = () => new TokenSession({ refresh: (r) => idp.refresh(r), storageKey: 'shared-success' });
  const [a, b] = [make(), make()];
  const expired = token(0, -10);
  a.setTokens({ accessToken: expired, refreshToken: 'r0' });
  b.setTokens({ accessToken: expired, refreshToken: 'r0' });
  const [ta, tb] = await Promise.all([a.accessToken(), b.accessToken()]);
  assert.equal(ta, tb);
  assert.deepEqual(idp.sent, ['r0']);
  a.clear();
  b.clear();
});

test('a refresh answer is read once: the session, its event and the other sessions hold the same token', async () => {
  let reads = 0;
  // An answer whose getter gives a new token on every read.
  const answer = {
    get accessToken() {
      reads += 1;
      return token(100 + reads);
    },
    refreshToken: 'r1',
  };
  const make = () => new TokenSession({ refresh: async () => answer, storageKey: 'read-once' });
  const [a, b] = [make(), make()];
  const refreshed = events(a, 'refreshed');
  const expired = token(0, -10);
  a.setTokens({ accessToken: expired, refreshToken: 'r0' });
  b.setTokens({ accessToken: expired, refreshToken: 'r0' });
  const [ta, tb] = await Promise.all([a.accessToken(), b.accessToken()]);
  assert.equal(reads, 1);
  assert.equal(ta, tb);
  assert.deepEqual(refreshed.map((d) => d.accessToken), [ta]);
  a.clear();
  b.clear();
});

test('a call waiting for a sign-in honours its AbortSignal; close() stops listening to other sessions', async (t) => {
  const server = await api(t);
  const session = new TokenSession({ refresh: async () => assert.fail('no refresh token'), origins: [server.origin] });
  const controller = new AbortController();
  const call = session.fetch(server.url, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 20));
  controller.abort(new Error('left the page'));
  await assert.rejects(call, /left the page/);
  assert.equal(server.calls, 0);
  await assert.rejects(session.fetch(server.url, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  // Closed, a session no longer hears another's sign-out.
  const make = () => new TokenSession({ refresh: async () => ({}), storageKey: 'closing' });
  const [a, b] = [make(), make()];
  const tk = token(0);
  a.setTokens({ accessToken: tk, refreshToken: 'r' });
  b.setTokens({ accessToken: tk, refreshToken: 'r' });
  b.close();
  a.clear();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await b.accessToken(), tk);
  session.clear();
});

test("a request refused (401) after clear() is not sent again with the next user's token, by fetch or axios", async (t) => {
  const { default: axios } = await import(process.env.AXIOS);
  // The first request of each round is held until the test lets it answer 401; later ones
  // answer with the subject of the token they carry.
  let seen;
  let answer;
  const server = createServer((req, res) => {
    const sub = JSON.parse(Buffer.from((req.headers.authorization ?? '').split('.')[1] ?? '', 'base64url').toString() || '{}').sub;
    seen.push(`${req.method} ${sub}`);
    if (seen.length === 1) answer = () => res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    else res.writeHead(200).end(sub);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/notes/1`;
  const as = (sub) => `${b64({ alg: 'ES256' })}.${b64({ sub, iat: nowS(), exp: nowS() + 300 })}.c2ln`;
  const session = new TokenSession({ refresh: async () => assert.fail('no refresh after a sign-out'), origins: [new URL(url).origin] });
  const client = axios.create();
  attachAxios(session, client);
  const calls = {
    fetch: () => session.fetch(url, { method: 'DELETE' }).then((r) => r.status),
    axios: () => client.delete(url).then((r) => r.status, (e) => e.response?.status ?? String(e)),
  };
  for (const [what, call] of Object.entries(calls)) {
    [seen, answer] = [[], undefined];
    session.setTokens({ accessToken: as('alice'), refreshToken: 'ra' });
    const status = call();
    while (!answer) await new Promise((r) => setTimeout(r, 5));
    // Alice signs out while her request is out, and it comes back refused; Bob signs in.
    session.clear();
    answer();
    await new Promise((r) => setTimeout(r, 20));
    session.setTokens({ accessToken: as('bob'), refreshToken: 'rb' });
    assert.equal(await status, 401, `${what}: the refusal is the answer`);
    assert.deepEqual(seen, ['DELETE alice'], what);
    session.clear();
  }
});
