// The demo app in headless Chromium against the real stack on loopback: the issuer with
// rotating refresh tokens, the API behind Envoy with the jwtgate filter, and TokenSession in
// the page. Each test starts its own stack and browser, so the issuer's counts are its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from './net.mjs';

const root = process.env.JWTGATE_ROOT;
const { startStack } = await import(pathToFileURL(join(root, 'www/server/stack.mjs')));
const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));

// A test that goes wrong fails within this, rather than waiting on a page for ever.
const LIMIT = { timeout: 120_000 };

async function setup(t, { tokenSeconds = 20 } = {}) {
  const stack = await startStack({ envoy: process.env.ENVOY, filter: process.env.JWTGATE_ENVOY_WASM, packageDir, tokenSeconds });
  t.after(() => stack.stop());
  const browser = await launchChromium(t);
  // Whatever else a test checks, a rotating refresh token must never be presented twice.
  t.after(() => {
    const { presented, reuses } = stack.issuer;
    assert.equal(new Set(presented).size, presented.length, `a refresh token was sent twice: ${presented}`);
    assert.equal(reuses, 0);
  });
  return { stack, browser };
}

/** Opens the app in a new tab of `context`; `errors` collects what the page throws. */
async function open(context, stack, query = '') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${stack.url}${query}`);
  await page.waitForFunction(() => window.demo !== undefined, null, { timeout: 30_000 });
  return page;
}

/** Signs in through the app's dialog, as a user would. */
async function signIn(page) {
  await page.waitForSelector('#login[open]');
  await page.fill('#password', 'wonderland');
  await page.click('#sign-in');
  await page.waitForSelector('#login', { state: 'hidden' });
}

/** A token pair from the issuer that has already expired. */
function expiredPair(stack) {
  const lifetime = stack.issuer.tokenSeconds;
  stack.issuer.tokenSeconds = -5;
  const pair = stack.issuer.login('alice', 'wonderland');
  stack.issuer.tokenSeconds = lifetime;
  return pair;
}

const fetchAll = (page, n, path = '/api/items') =>
  page.evaluate(([n, path]) => Promise.all(Array.from({ length: n }, () => demo.session.fetch(path).then((r) => r.status))), [n, path]);

/** How many pixels differ between two PNGs, decoded by the browser itself. */
const differingPixels = (page, a, b) =>
  page.evaluate(async ([a, b]) => {
    const pixels = async (b64) => {
      const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d');
      context.drawImage(bitmap, 0, 0);
      return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    };
    const [x, y] = await Promise.all([pixels(a), pixels(b)]);
    if (x.length !== y.length) return Infinity;
    let differ = 0;
    for (let i = 0; i < x.length; i += 4) {
      if (x[i] !== y[i] || x[i + 1] !== y[i + 1] || x[i + 2] !== y[i + 2] || x[i + 3] !== y[i + 3]) differ += 1;
    }
    return differ;
  }, [a.toString('base64'), b.toString('base64')]);

const tokenIn = (page) => page.evaluate(() => demo.session.accessToken());

test('20 concurrent calls after expiry: one refresh, all succeed', LIMIT, async (t) => {
  const { stack, browser } = await setup(t);
  const page = await open(await browser.newContext(), stack);
  await signIn(page);
  await page.waitForSelector('#items li');
  await page.evaluate((pair) => demo.session.setTokens(pair), expiredPair(stack));
  const before = stack.issuer.refreshes;
  assert.deepEqual(await fetchAll(page, 20), Array(20).fill(200));
  assert.equal(stack.issuer.refreshes - before, 1);
  assert.deepEqual(page.errors, []);
});

for (const [name, query, noLocks] of [
  ['shared storage, Web Locks', '?storage=local', false],
  ['memory storage, Web Locks and BroadcastChannel', '?storage=memory', false],
  ['memory storage, no Web Locks: a BroadcastChannel election', '?storage=memory', true],
]) {
  test(`two tabs with expired tokens (${name}): one refresh, both hold the new token`, LIMIT, async (t) => {
    const { stack, browser } = await setup(t);
    const context = await browser.newContext();
    if (noLocks) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }));
    const a = await open(context, stack, query);
    await signIn(a);
    const b = await open(context, stack, query);
    if (query === '?storage=memory') await signIn(b);
    assert.equal(await b.evaluate(() => navigator.locks === undefined), noLocks);
    // Five rounds: the tabs' tokens expire together and both call at once.
    for (let round = 0; round < 5; round += 1) {
      const expired = expiredPair(stack);
      await a.evaluate((pair) => demo.session.setTokens(pair), expired);
      if (query === '?storage=memory') await b.evaluate((pair) => demo.session.setTokens(pair), expired);
      // With shared storage, B learns of A's tokens from a storage event.
      else await b.waitForFunction((access) => demo.token === access, expired.accessToken);
      const before = stack.issuer.refreshes;
      const [fromA, fromB] = await Promise.all([fetchAll(a, 5), fetchAll(b, 5)]);
      assert.deepEqual([...fromA, ...fromB], Array(10).fill(200));
      assert.equal(stack.issuer.refreshes - before, 1, `round ${round}`);
      const [tokenA, tokenB] = await Promise.all([tokenIn(a), tokenIn(b)]);
      assert.equal(tokenA, tokenB);
      assert.notEqual(tokenA, expired.accessToken);
    }
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
}

test('a failed refresh asks for a sign-in in the page: the draft stays, waiting calls complete', LIMIT, async (t) => {
  const { stack, browser } = await setup(t);
  const page = await open(await browser.newContext(), stack);
  await signIn(page);
  await page.waitForSelector('#items li');
  await page.fill('#draft', 'half-written thoughts, not saved');
  await page.evaluate(() => (window.stillHere = true));
  await page.evaluate((pair) => demo.session.setTokens(pair), expiredPair(stack));
  stack.issuer.failRefresh = true;
  await page.evaluate(() => {
    window.pending = Promise.all([demo.save(), demo.load()]);
  });
  await page.waitForSelector('#login[open]');
  assert.equal(await page.inputValue('#draft'), 'half-written thoughts, not saved');
  assert.equal(await page.evaluate(() => window.stillHere), true, 'no navigation');
  assert.equal(stack.api.notes.length, 0, 'the save waits');
  stack.issuer.failRefresh = false;
  await signIn(page);
  assert.deepEqual(await page.evaluate(() => window.pending), [201, 200]);
  assert.deepEqual(stack.api.notes.map((n) => [n.user, n.text]), [['alice', 'half-written thoughts, not saved']]);
  assert.equal(await page.inputValue('#draft'), 'half-written thoughts, not saved');
  assert.deepEqual(page.errors, []);
});

test('a token revoked server-side: the 401 from Envoy causes one refresh and one retry', LIMIT, async (t) => {
  const { stack, browser } = await setup(t);
  const page = await open(await browser.newContext(), stack);
  await signIn(page);
  await page.waitForSelector('#items li');
  const token = await tokenIn(page);
  stack.issuer.revoke(token);
  // Envoy refreshes its revocation list every second; wait until it refuses the token.
  const deadline = Date.now() + 15_000;
  let refused;
  do {
    refused = await fetch(`${stack.url}api/items`, { headers: { authorization: `Bearer ${token}` } });
    await refused.arrayBuffer();
  } while (refused.status !== 401 && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 100)), true));
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate'), /error_description="revoked"/);
  const before = { refreshes: stack.issuer.refreshes, calls: stack.api.calls };
  assert.equal(await page.evaluate(() => demo.load()), 200);
  assert.equal(stack.issuer.refreshes - before.refreshes, 1);
  assert.equal(stack.api.calls - before.calls, 1, 'the revoked call never reached the API');
  assert.notEqual(await tokenIn(page), token);
});

test("the screen after a refresh is the screen before it", LIMIT, async (t) => {
  const { stack, browser } = await setup(t, { tokenSeconds: 4 });
  const page = await open(await browser.newContext({ viewport: { width: 900, height: 700 } }), stack);
  await signIn(page);
  await page.waitForSelector('#items li');
  await page.fill('#draft', 'Notes typed before the token expired.');
  // The status line counts down; it is the one part of the screen meant to change.
  // Focus and hover move with the clicks a user makes; they are not what a refresh could lose.
  const shot = async () => {
    await page.evaluate(() => document.activeElement?.blur());
    await page.mouse.move(0, 690);
    return page.screenshot({ mask: [page.locator('#status')], animations: 'disabled', caret: 'hide' });
  };
  const before = await shot();
  const refreshes = stack.issuer.refreshes;
  // Let the 4-second token run out for real, then use the app.
  await page.waitForFunction(() => demo.token && JSON.parse(atob(demo.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp * 1000 < Date.now(), null, { timeout: 15_000 });
  await page.click('#reload');
  await page.waitForFunction((n) => document.getElementById('status').textContent.includes(`${n} refreshes`), refreshes + 1);
  await page.waitForSelector('#items li');
  const after = await shot();
  const dir = join(root, 'target', 'demo-screens');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'before.png'), before);
  writeFileSync(join(dir, 'after.png'), after);
  assert.equal(stack.issuer.refreshes - refreshes, 1);
  assert.equal(await differingPixels(page, before, after), 0, `the screens differ: see ${dir}`);
  assert.equal(await page.isVisible('#login'), false);
  assert.deepEqual(page.errors, []);
});
