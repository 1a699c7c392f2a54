// The demo app in headless Chromium against the real stack on loopback: oidc-provider as the
// identity provider (sign-in in a popup, rotating refresh tokens), the API behind Envoy with
// the jwtgate filter, and TokenSession in the page. Each test starts its own stack and
// browser, so the provider's counts are its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from './net.mjs';

const root = process.env.JWTGATE_ROOT;
const { startStack } = await import(pathToFileURL(join(root, 'www/server/stack.mjs')));
const { signIn: scriptedSignIn } = await import(pathToFileURL(join(root, 'www/server/oidc.mjs')));
const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));

// A test that goes wrong fails within this, rather than waiting on a page for ever.
const LIMIT = { timeout: 120_000 };

const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

async function setup(t, { tokenSeconds = 20 } = {}) {
  // oidc-provider runs on Node 24 (NODE_LTS) whichever Node runs this suite.
  const stack = await startStack({
    envoy: process.env.ENVOY, filter: process.env.JWTGATE_ENVOY_WASM, packageDir,
    node: process.env.NODE_LTS, nodeModules: process.env.NODE_TOOLS, tokenSeconds,
  });
  stack.tokenSeconds = tokenSeconds;
  const browser = await launchChromium(t);
  // Whatever else a test checks, a rotating refresh token must never be presented twice:
  // counted at the provider's token endpoint.
  t.after(async () => {
    try {
      const { presented, reuses } = await stack.provider.stats();
      assert.equal(new Set(presented).size, presented.length, `a refresh token was sent twice: ${presented}`);
      assert.equal(reuses, 0);
    } finally {
      await stack.stop();
    }
  });
  return { stack, browser };
}

const stats = (stack) => stack.provider.stats();

/** Opens the app in a new tab of `context`; `errors` collects what the page throws. */
async function open(context, stack, query = '') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${stack.url}${query}`);
  await page.waitForFunction(() => window.demo !== undefined, null, { timeout: 30_000 });
  return page;
}

/**
 * Signs in as a user would: the app's dialog, then the provider's pages in the popup it opens
 * (the login page unless the provider still has a session, the consent page unless the grant
 * is still there), until the popup closes and the dialog with it.
 */
async function signIn(page) {
  await page.waitForSelector('#login[open]');
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#sign-in')]);
  // When the provider has the session and the grant, the popup may be gone already.
  const closed = popup.isClosed() ? Promise.resolve(null) : popup.waitForEvent('close').then(() => null);
  const first = await Promise.race([closed, popup.waitForSelector('input[name=password], #allow').catch(() => null)]);
  if (!first) {
    // Signed in without a page.
  } else if ((await first.getAttribute('name')) === 'password') {
    await popup.fill('input[name=password]', 'wonderland');
    await popup.click('#sign-in');
    // Consent, unless the grant is still there and the popup is done.
    const allow = await Promise.race([closed, popup.waitForSelector('#allow').catch(() => null)]);
    if (allow) await popup.click('#allow');
  } else {
    await popup.click('#allow');
  }
  await closed;
  await page.waitForSelector('#login', { state: 'hidden' });
}

/** A token pair from a new sign-in at the provider, with a 1-second access token. */
async function shortPair(stack) {
  await stack.provider.set({ tokenSeconds: 1 });
  return scriptedSignIn(stack.url).finally(() => stack.provider.set({ tokenSeconds: stack.tokenSeconds }));
}

/**
 * Gives the pages `pair` (one sets it; with shared storage the others read it from there) and
 * waits until its access token has run out for each: by its exp, and, as TokenSession measures
 * a token whose iat is not its receipt time (clock skew), by the time since the page got it.
 */
async function setExpired(pages, pair, shared = false) {
  for (const page of shared ? pages.slice(0, 1) : pages) await page.evaluate((p) => demo.session.setTokens(p), pair);
  // With shared storage, the other tabs learn of it from a storage event.
  if (shared) await Promise.all(pages.slice(1).map((page) => page.waitForFunction((access) => demo.token === access, pair.accessToken)));
  const { exp, iat } = claimsOf(pair.accessToken);
  const since = await Promise.all(pages.map((page) => page.evaluate(() => Date.now())));
  await Promise.all(pages.map((page, i) =>
    page.waitForFunction(([until, lifetime, t0]) => Date.now() > Math.max(until, t0 + lifetime), [exp * 1000, (exp - iat) * 1000, since[i]])));
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
  await setExpired([page], await shortPair(stack));
  const before = (await stats(stack)).refreshes;
  assert.deepEqual(await fetchAll(page, 20), Array(20).fill(200));
  assert.equal((await stats(stack)).refreshes - before, 1);
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
      const expired = await shortPair(stack);
      await setExpired([a, b], expired, query !== '?storage=memory');
      const before = (await stats(stack)).refreshes;
      const [fromA, fromB] = await Promise.all([fetchAll(a, 5), fetchAll(b, 5)]);
      assert.deepEqual([...fromA, ...fromB], Array(10).fill(200));
      assert.equal((await stats(stack)).refreshes - before, 1, `round ${round}`);
      const [tokenA, tokenB] = await Promise.all([tokenIn(a), tokenIn(b)]);
      assert.equal(tokenA, tokenB);
      assert.notEqual(tokenA, expired.accessToken);
    }
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
}

/** Waits until the token has run out for real, by the page's clock. */
const untilExpired = (page) =>
  page.waitForFunction(() => demo.token && JSON.parse(atob(demo.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp * 1000 < Date.now(), null, { timeout: 15_000 });

test('a token expires while the user types: one refresh, nothing typed is lost', LIMIT, async (t) => {
  const { stack, browser } = await setup(t, { tokenSeconds: 4 });
  const page = await open(await browser.newContext(), stack);
  const url = page.url();
  await signIn(page);
  await page.waitForSelector('#items li');
  const { refreshes, presented } = await stats(stack);
  const expiring = claimsOf(await page.evaluate(() => demo.token));
  // One key at a time, as a user types, until the token has run out.
  await page.click('#draft');
  let typed = '';
  for (let i = 0; typed.length < 20 || Date.now() / 1000 <= expiring.exp; i += 1) {
    const key = 'the notes go on '[i % 16];
    await page.keyboard.type(key);
    typed += key;
  }
  await untilExpired(page);
  assert.equal(await page.evaluate(() => demo.save()), 201);
  const after = await stats(stack);
  assert.equal(after.refreshes - refreshes, 1, 'exactly one refresh');
  assert.equal(after.presented.length - presented.length, 1);
  assert.deepEqual(stack.api.notes.map((n) => [n.user, n.text]), [['alice', typed]]);
  assert.equal(await page.inputValue('#draft'), typed);
  assert.notEqual(claimsOf(await tokenIn(page)).jti, expiring.jti);
  assert.equal(page.url(), url, 'the page never navigated');
  assert.equal(await page.isVisible('#login'), false);
  assert.deepEqual(page.errors, []);
});

test('a grant revoked at the provider: Envoy refuses its token, and the sign-in happens in the page', LIMIT, async (t) => {
  const { stack, browser } = await setup(t);
  const page = await open(await browser.newContext(), stack);
  const url = page.url();
  await signIn(page);
  await page.waitForSelector('#items li');
  await page.fill('#draft', 'half-written thoughts, not saved');
  await page.evaluate(() => (window.stillHere = true));
  const token = await tokenIn(page);
  // An administrator revokes the grant (its refresh token, at the provider's revocation
  // endpoint): the grant's access tokens reach the deny list, its refresh token stops working.
  await stack.provider.revokeGrantOf(claimsOf(token).jti);
  assert.ok((await stats(stack)).denied.includes(claimsOf(token).jti));
  // Envoy reads the list every second; within that, it refuses the token.
  const deadline = Date.now() + 15_000;
  let refused;
  do {
    refused = await fetch(`${stack.url}api/items`, { headers: { authorization: `Bearer ${token}` } });
    await refused.arrayBuffer();
  } while (refused.status !== 401 && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 100)), true));
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate'), /error_description="revoked"/);

  const calls = stack.api.calls;
  await page.evaluate(() => {
    window.pending = Promise.all([demo.save(), demo.load()]);
  });
  // The 401 asks for a refresh, the provider refuses it (the grant is gone), and the app asks
  // for a sign-in on the page: the draft is there, the page did not move, the save waits.
  await page.waitForSelector('#login[open]');
  assert.equal(await page.inputValue('#draft'), 'half-written thoughts, not saved');
  assert.equal(await page.evaluate(() => window.stillHere), true, 'no navigation');
  assert.equal(page.url(), url);
  assert.equal(stack.api.notes.length, 0, 'the save waits');
  assert.equal(stack.api.calls, calls, 'the revoked token never reached the API');
  await signIn(page);
  assert.deepEqual(await page.evaluate(() => window.pending), [201, 200]);
  assert.deepEqual(stack.api.notes.map((n) => [n.user, n.text]), [['alice', 'half-written thoughts, not saved']]);
  assert.equal(await page.inputValue('#draft'), 'half-written thoughts, not saved');
  assert.equal(page.url(), url, 'the page never navigated');
  assert.notEqual(claimsOf(await tokenIn(page)).jti, claimsOf(token).jti);
  assert.deepEqual(page.errors, []);
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
  const { refreshes } = await stats(stack);
  // Let the 4-second token run out for real, then use the app.
  await untilExpired(page);
  await page.click('#reload');
  await page.waitForFunction((n) => document.getElementById('status').textContent.includes(`${n} refreshes`), refreshes + 1);
  await page.waitForSelector('#items li');
  const after = await shot();
  const dir = join(root, 'target', 'demo-screens');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'before.png'), before);
  writeFileSync(join(dir, 'after.png'), after);
  assert.equal((await stats(stack)).refreshes - refreshes, 1);
  assert.equal(await differingPixels(page, before, after), 0, `the screens differ: see ${dir}`);
  assert.equal(await page.isVisible('#login'), false);
  assert.deepEqual(page.errors, []);
});
