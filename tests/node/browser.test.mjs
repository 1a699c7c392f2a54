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
        type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
      } else return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': type }).end(body);
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

test('Web Locks: a refresh that never settles holds the cross-tab lock no longer than refreshTimeoutSeconds', { timeout: 60_000 }, async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  const [a, b] = [await context.newPage(), await context.newPage()];
  for (const page of [a, b]) {
    await page.goto(`http://127.0.0.1:${server.address().port}/blank`);
    assert.equal(await page.evaluate(setUp), true, 'the tabs have Web Locks');
  }
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
