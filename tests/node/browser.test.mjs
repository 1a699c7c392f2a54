// The same package in headless Chromium, from a page served on loopback: decode and verify must
// give the answers they give in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { decode, expiresIn, Verifier, JwtError } from 'jwtgate';
import { fx } from './fixtures.mjs';
import { answers } from './answers.mjs';
import { clientAnswers, sessionAnswers, slowNumberTokens } from './client-answers.mjs';
import * as full from 'jwtgate';
import { launchChromium } from './net.mjs';

const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };

// What the page runs; it reports its answers as window.answers.
const PAGE = `<!doctype html><meta charset="utf-8"><title>jwtgate</title><script type="module">
import init, { decode, expiresIn, Verifier, JwtError } from '/jwtgate/web.js';
const fx = await (await fetch('/fixtures.json')).json();
await init();
await init();
window.answers = await (${answers.toString()})(fx, { decode, expiresIn, Verifier, JwtError });
</script>`;

function serve() {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://localhost');
      let body;
      let type = TYPES['.html'];
      if (url.pathname === '/') body = PAGE;
      else if (url.pathname === '/blank') body = '<!doctype html><meta charset="utf-8"><title>blank</title>';
      else if (url.pathname === '/sandboxed') body = `<!doctype html><meta charset="utf-8"><script type="module">(${sandboxed})('http://${req.headers.host}')</script>`;
      else if (url.pathname === '/based') {
        body = `<!doctype html><meta charset="utf-8"><base href="${url.searchParams.get('base')}/"><title>based</title>`;
      } else if (url.pathname === '/echo') {
        (server.seen ??= []).push(req.headers.authorization ?? null);
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else if (url.pathname === '/axios.js') {
        body = readFileSync(join(dirname(process.env.AXIOS), 'dist/esm/axios.js'));
        type = TYPES['.js'];
      }
      else if (url.pathname === '/redirect') return res.writeHead(302, { location: '/keys' }).end();
      else if (url.pathname === '/keys') {
        server.keyHits = (server.keyHits ?? 0) + 1;
        return res.writeHead(200, { 'content-type': TYPES['.json'] }).end(JSON.stringify(fx.jwks));
      }
      else if (url.pathname === '/fixtures.json') {
        body = readFileSync(process.env.JWTGATE_FIXTURES);
        type = TYPES['.json'];
      } else if (url.pathname.startsWith('/jwtgate/')) {
        const file = normalize(join(packageDir, url.pathname.slice('/jwtgate/'.length)));
        if (!file.startsWith(packageDir)) return res.writeHead(403).end();
        try {
          body = readFileSync(file);
        } catch {
          return res.writeHead(404).end();
        }
        // `?as=` serves it as another type: a server that does not say application/wasm.
        type = url.searchParams.get('as') ?? TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
      } else return res.writeHead(404).end();
      // Any origin may load the package: a sandboxed frame's is opaque ('null').
      res.writeHead(200, { 'content-type': type, 'access-control-allow-origin': '*' }).end(body);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('Chromium gives the answers Node gives', async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.answers !== undefined || document.title === 'failed', null, { timeout: 30000 })
    .catch(() => assert.fail(`the page never answered: ${errors.join('; ')}`));
  const inBrowser = await page.evaluate(() => window.answers);
  const inNode = await answers(fx, { decode, expiresIn, Verifier, JwtError });
  assert.deepEqual(errors, []);
  assert.equal(inBrowser.catalog.length, fx.catalog.length);
  assert.ok(inNode.algorithms.every((a) => a.ok?.sub === 'alice'));
  assert.deepEqual(inBrowser, inNode);
});

test("jwtgate/client in Chromium: its own wasm, whichever way init is given it, gives jwtgate's answers in Node", async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const inNode = JSON.parse(JSON.stringify({ answers: clientAnswers(fx, full), session: await sessionAnswers(full) }));
  const wasm = '/jwtgate/wasm-client/jwtgate_client_bg.wasm';
  // Each way of giving init the wasm (README), in a page of its own: init loads once a page.
  const inputs = {
    default: '',
    url: `new URL('${wasm}', location.href)`,
    'a Response not served as application/wasm': `await fetch('${wasm}?as=application/octet-stream')`,
    bytes: `new Uint8Array(await (await fetch('${wasm}')).arrayBuffer())`,
    'a WebAssembly.Module': `await WebAssembly.compileStreaming(fetch('${wasm}'))`,
  };
  for (const [what, input] of Object.entries(inputs)) {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/blank`);
    const inBrowser = await page.evaluate(`(async () => {
      const client = await import('/jwtgate/client.js');
      await client.default(${input});
      const fx = await (await fetch('/fixtures.json')).json();
      // clientAnswers calls it by name.
      const slowNumberTokens = ${slowNumberTokens};
      return JSON.stringify({ answers: (${clientAnswers})(fx, client), session: await (${sessionAnswers})(client) });
    })()`);
    assert.deepEqual(errors, [], what);
    assert.deepEqual(JSON.parse(inBrowser), inNode, what);
    await page.close();
  }
});

// What each tab of the Web Locks test runs first: the package, and unsigned tokens to hold.
async function setUp() {
  const { default: init, TokenSession } = await import('/jwtgate/web.js');
  await init();
  const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  window.TokenSession = TokenSession;
  window.token = (n, life) => {
    const now = Math.floor(Date.now() / 1000);
    return `${b64({ alg: 'ES256' })}.${b64({ sub: 'alice', n, iat: now, exp: now + life })}.c2ln`;
  };
  return typeof navigator.locks?.request === 'function';
}

/** `n` tabs of one browser context on the test server's blank page, each set up, and the server. */
async function tabs(t, n = 2) {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  const pages = [];
  for (let i = 0; i < n; i++) pages.push(await context.newPage());
  for (const page of pages) {
    await page.goto(`http://127.0.0.1:${server.address().port}/blank`);
    assert.equal(await page.evaluate(setUp), true, 'the tabs have Web Locks');
  }
  return { server, pages };
}

test('Web Locks: a refresh that never settles holds the cross-tab lock no longer than refreshTimeoutSeconds', { timeout: 60_000 }, async (t) => {
  const { pages: [a, b] } = await tabs(t);
  // Tab A's token endpoint never answers.
  await a.evaluate(() => {
    const s = new TokenSession({ refresh: () => new Promise(() => {}), storageKey: 'locked', refreshTimeoutSeconds: 1 });
    window.required = new Promise((resolve) => s.addEventListener('authrequired', (e) => resolve(e.detail.error.name), { once: true }));
    s.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
    s.accessToken().catch(() => {});
  });
  const held = () => a.evaluate(async () => (await navigator.locks.query()).held.map((l) => l.name));
  while (!(await held()).includes('jwtgate:locked'));
  // Tab B needs the same lock for a refresh of its own: it gets it once A's turn has run out.
  const got = await b.evaluate(async () => {
    const fresh = token(5, 300);
    const s = new TokenSession({ refresh: async () => ({ accessToken: fresh, refreshToken: 'r6' }), storageKey: 'locked' });
    s.setTokens({ accessToken: token(4, -10), refreshToken: 'r4' });
    return (await s.accessToken()) === fresh;
  });
  assert.equal(got, true);
  assert.equal(await a.evaluate(() => window.required), 'TimeoutError');
  assert.deepEqual(await held(), []);
});

test("the fetch option takes the browser's own fetch, as the README shows: it is called unbound", { timeout: 60_000 }, async (t) => {
  const { server, pages: [page] } = await tabs(t, 1);
  const out = await page.evaluate(async () => {
    const out = {};
    // window.fetch throws "Illegal invocation" when called as a method of anything but window.
    for (const [name, fetch] of [['globalThis.fetch', globalThis.fetch], ['window.fetch', window.fetch], ['default', undefined]]) {
      const s = new TokenSession({ refresh: async () => ({}), fetch });
      s.setTokens({ accessToken: token(0, 300), refreshToken: 'r' });
      out[name] = await s.fetch('/echo').then((r) => r.status, (e) => String(e));
    }
    return out;
  });
  assert.deepEqual(out, { 'globalThis.fetch': 200, 'window.fetch': 200, default: 200 });
  assert.equal(server.seen.length, 3);
  assert.ok(server.seen.every((h) => h?.startsWith('Bearer ')));
});

// What a frame sandboxed without allow-same-origin runs (its origin is opaque): a session
// whose token has expired, and a refresh that answers. It tells its parent what came of it.
async function sandboxed(base) {
  const { default: init, TokenSession } = await import(`${base}/jwtgate/client.js`);
  await init(new URL('/jwtgate/wasm-client/jwtgate_client_bg.wasm', base));
  const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const now = Math.floor(Date.now() / 1000);
  const token = (n, life) => `${b64({ alg: 'ES256' })}.${b64({ n, iat: now, exp: now + life })}.c2ln`;
  let refreshes = 0;
  const fresh = token(1, 300);
  const s = new TokenSession({ refresh: async () => ((refreshes += 1), { accessToken: fresh, refreshToken: 'r1' }) });
  const report = (outcome) => parent.postMessage({ origin: self.origin, outcome, refreshes }, '*');
  s.addEventListener('authrequired', (e) => report(`authrequired: ${e.detail.error.name}`));
  s.setTokens({ accessToken: token(0, -10), refreshToken: 'r0' });
  s.accessToken().then((t) => report(t === fresh ? 'refreshed' : 'another token'));
}

test('a sandboxed frame (an opaque origin, denied Web Locks) still refreshes', { timeout: 60_000 }, async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const base = `http://127.0.0.1:${server.address().port}`;
  await page.goto(`${base}/blank`);
  const out = await page.evaluate((base) => {
    const answer = new Promise((resolve) => addEventListener('message', (e) => resolve(e.data), { once: true }));
    const frame = document.createElement('iframe');
    frame.sandbox = 'allow-scripts';
    frame.src = `${base}/sandboxed`;
    document.body.append(frame);
    return answer;
  }, base);
  // The Locks API refuses an opaque origin (SecurityError): that was every refresh failing
  // before the app's refresh was called, and a sign-in each time the token expired.
  assert.deepEqual(out, { origin: 'null', outcome: 'refreshed', refreshes: 1 });
});

test('sendsTokenTo takes a URL, as a string or a URL: anything else is a TypeError, never the page\'s origin', { timeout: 60_000 }, async (t) => {
  const { pages: [page] } = await tabs(t, 1);
  const out = await page.evaluate(() => {
    const s = new TokenSession({ refresh: async () => ({}) });
    const elsewhere = 'https://elsewhere.example/collect';
    // A Request (what ky's hooks hand over), a missing URL: read as text, each was a relative
    // URL on the page's origin ('[object Request]', 'undefined'), and so got the token.
    const answer = (url) => {
      try {
        return s.sendsTokenTo(url);
      } catch (e) {
        return e.name;
      }
    };
    return [elsewhere, new URL(elsewhere), new Request(elsewhere), undefined, null, { href: elsewhere }, '/own'].map(answer);
  });
  assert.deepEqual(out, [false, false, 'TypeError', 'TypeError', 'TypeError', 'TypeError', true]);
});

test('localStorage.clear() in another tab signs this tab out, as removing the stored copy does', { timeout: 60_000 }, async (t) => {
  const { pages: [a, b] } = await tabs(t);
  await a.evaluate(() => {
    window.s = new TokenSession({ refresh: async () => ({}), storage: 'local', storageKey: 'wiped' });
    window.s.setTokens({ accessToken: token(0, 300), refreshToken: 'r0' });
    window.cleared = false;
    window.s.addEventListener('cleared', () => (window.cleared = true));
    // Storage events reach a tab in the order the other made its changes: once the marker's has
    // come, the clear()'s has been handled.
    window.marked = new Promise((resolve) => addEventListener('storage', (e) => e.key === 'marker' && resolve()));
  });
  // Tab B's sign-out wipes the origin's storage (an app's "forget me", or a library's).
  await b.evaluate(() => {
    if (localStorage.getItem('wiped') === null) throw new Error('tab A stored nothing');
    localStorage.clear();
    localStorage.setItem('marker', '1');
  });
  const after = await a.evaluate(async () => {
    await window.marked;
    // A session still holding its tokens answers at once (its next refresh would write them
    // back, signing tab B in again); a signed-out one waits for a sign-in.
    const answer = await Promise.race([window.s.accessToken(), 'waiting']);
    return { cleared: window.cleared, answer };
  });
  assert.deepEqual(after, { cleared: true, answer: 'waiting' });
});

test('a key set redirect is refused in the browser too: an opaque redirect is not a key set', { timeout: 60_000 }, async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/blank`);
  await page.evaluate(setUp);
  const outcome = (path) =>
    page.evaluate(async ([path, token, now]) => {
      const { RemoteVerifier } = await import('/jwtgate/web.js');
      const v = new RemoteVerifier({ jwksUri: new URL(path, location.href), cache: false });
      return v.verify(token, { now }).then((c) => c.sub, (e) => `${e.code}: ${e.message}`);
    }, [path, fx.tokens.ES256, fx.now]);
  assert.match(await outcome('/redirect'), /^jwks_unavailable: .*redirect/);
  assert.equal(server.keyHits, undefined, 'the redirect was not followed');
  assert.equal(await outcome('/keys'), 'alice');
});

test('<base href> on another origin: relative URLs go there, and so the token does not', { timeout: 60_000 }, async (t) => {
  const server = await serve();
  t.after(() => server.close());
  // The other origin lets any page send it an Authorization header, so only jwtgate stands
  // between the token and it.
  const seen = [];
  const other = createServer((req, res) => {
    if (req.method !== 'OPTIONS') seen.push(`${req.url} ${req.headers.authorization ?? 'none'}`);
    res.writeHead(200, { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization', 'content-type': 'text/plain' }).end('b');
  });
  await new Promise((r) => other.listen(0, '127.0.0.1', r));
  t.after(() => other.close());
  const otherOrigin = `http://127.0.0.1:${other.address().port}`;
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/based?base=${encodeURIComponent(otherOrigin)}`);
  const out = await page.evaluate(async () => {
    // Absolute: a relative specifier would resolve against <base> too.
    const here = location.origin;
    const { default: init, TokenSession } = await import(`${here}/jwtgate/web.js`);
    const { attachAxios } = await import(`${here}/jwtgate/axios.js`);
    const { default: axios } = await import(`${here}/axios.js`);
    await init();
    const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    const now = Math.floor(Date.now() / 1000);
    const tk = `${b64({ alg: 'ES256' })}.${b64({ sub: 'alice', iat: now, exp: now + 300 })}.c2ln`;
    const s = new TokenSession({ refresh: async () => ({ accessToken: tk }) });
    s.setTokens({ accessToken: tk, refreshToken: 'r' });
    const client = axios.create({ baseURL: '/api' });
    attachAxios(s, client);
    const result = { base: document.baseURI, relative: s.sendsTokenTo('/api/items'), own: s.sendsTokenTo(`${here}/echo`) };
    await client.get('/items');
    await s.fetch('/api/fetched');
    await s.fetch(`${here}/echo`);
    await client.get(`${here}/echo`);
    return result;
  });
  assert.deepEqual(seen, ['/api/items none', '/api/fetched none']);
  assert.deepEqual(out, { base: `${otherOrigin}/`, relative: false, own: true });
  assert.equal(server.seen.length, 2);
  assert.ok(server.seen.every((h) => h?.startsWith('Bearer ')), 'the page’s own origin still gets it');
});
