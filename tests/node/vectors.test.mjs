// Wycheproof, the RFC 7515 / 7520 examples and jwt_verify_lib's vectors through the npm
// package in Node, headless Chromium and workerd: every answer is the one the core gave with
// its in-wasm primitives (the Envoy filter's). The vectors and those answers are written by
// `cargo test --test wycheproof --test rfc --test jwt_verify_lib` (see replay.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { _checkSignature, Verifier, JwtError } from 'jwtgate';
import { replay } from './replay.mjs';
import { launchChromium } from './net.mjs';
import { serveWorker } from './workerd-run.mjs';

const docs = ['wycheproof', 'vectors'].flatMap((name) => {
  const dir = join(dirname(process.env.JWTGATE_FIXTURES), name);
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run the Rust tests that write it first`);
  return readdirSync(dir)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
});
const api = { _checkSignature, Verifier, JwtError };

function expectClean(results, where) {
  const wrong = results.flatMap((r) => r.wrong);
  assert.deepEqual(wrong.slice(0, 20), [], `${where}: ${wrong.length} answers differ from the in-wasm ones`);
  const run = results.reduce((n, r) => n + r.run, 0);
  assert.ok(run > 7000, `${where}: only ${run} vectors ran`);
  for (const [doc, r] of docs.map((d, i) => [d, results[i]])) {
    const [yes, no] = doc.cases ? ['ok', 'invalid_signature'] : ['true', 'false'];
    // These only refuse: PSS with JWS's parameters changed, tokens refused, and RFC 7520's
    // prose payloads (the signature verifies, the claims are malformed).
    if (!['PSS with other parameters', 'rfc7515-a1-a5-refused', 'rfc7520'].includes(doc.family)) {
      assert.ok(r.counts[yes] > 0, `${where}: nothing verified in ${doc.family}`);
    }
    if (doc.vectors || doc.family === 'jwt_verify_lib') assert.ok(r.counts[no] > 0, `${where}: nothing refused in ${doc.family}`);
  }
}

test('in Node (node:crypto): the in-wasm answers', async () => {
  const results = [];
  for (const doc of docs) results.push(await replay(doc, api));
  expectClean(results, 'Node');
});

test('in Chromium (WebCrypto): the in-wasm answers', { timeout: 300_000 }, async (t) => {
  const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  // Served by interception on localhost: a secure context, as WebCrypto requires.
  await page.route('http://localhost/**', (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>vectors</title>' });
    const file = normalize(join(packageDir, path.replace(/^\/jwtgate\//, '')));
    if (!path.startsWith('/jwtgate/') || !file.startsWith(packageDir)) return route.fulfill({ status: 404 });
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return route.fulfill({ contentType: type, body: readFileSync(file) });
  });
  await page.goto('http://localhost/');
  const results = [];
  for (const doc of docs) {
    results.push(
      await page.evaluate(async ([source, doc]) => {
        const { default: init, ...api } = await import('/jwtgate/web.js');
        await init();
        return (0, eval)(`(${source})`)(doc, api);
      }, [replay.toString(), doc]),
    );
  }
  expectClean(results, 'Chromium');
});

const WORKER = `import * as api from 'jwtgate';
import { replay } from './replay.mjs';
export default {
  async fetch(request) {
    return Response.json(await replay(await request.json(), api));
  },
};`;

test('in workerd (WebCrypto): the in-wasm answers', { timeout: 300_000 }, async (t) => {
  const { port, workerd } = await serveWorker(t, {
    'main.js': WORKER,
    'replay.mjs': readFileSync(new URL('./replay.mjs', import.meta.url), 'utf8'),
  });
  const results = [];
  for (const doc of docs) {
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(doc) });
    assert.equal(response.status, 200, `${await response.clone().text()}\n${workerd.log}`);
    results.push(await response.json());
  }
  expectClean(results, 'workerd');
});
