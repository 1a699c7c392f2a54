// Wycheproof through the npm package in Node, headless Chromium and workerd: every answer is
// the one the in-wasm primitives (the Envoy filter's) gave. The vectors and those answers are
// written by `cargo test --test wycheproof`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { _checkSignature } from 'jwtgate';
import { wycheproof } from './wycheproof.mjs';
import { launchChromium } from './net.mjs';
import { serveWorker } from './workerd-run.mjs';

const dir = join(dirname(process.env.JWTGATE_FIXTURES), 'wycheproof');
if (!existsSync(dir)) throw new Error(`${dir} is missing: run \`cargo test --test wycheproof\` first`);
const docs = readdirSync(dir)
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));

function expectClean(results, where) {
  const wrong = results.flatMap((r) => r.wrong);
  assert.deepEqual(wrong.slice(0, 20), [], `${where}: ${wrong.length} answers differ from the in-wasm ones`);
  const run = results.reduce((n, r) => n + r.run, 0);
  assert.ok(run > 4500, `${where}: only ${run} vectors ran`);
  for (const [doc, r] of docs.map((d, i) => [d, results[i]])) {
    assert.ok(r.counts.verified > 0 || doc.family.startsWith('PSS with other'), `${where}: nothing verified in ${doc.family}`);
    assert.ok(r.counts.refused > 0, `${where}: nothing refused in ${doc.family}`);
  }
  return run;
}

test('Wycheproof in Node (node:crypto): the in-wasm answers', async () => {
  const results = [];
  for (const doc of docs) results.push(await wycheproof(doc, { _checkSignature }));
  expectClean(results, 'Node');
});

test('Wycheproof in Chromium (WebCrypto): the in-wasm answers', { timeout: 300_000 }, async (t) => {
  const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  // Served by interception on localhost: a secure context, as WebCrypto requires.
  await page.route('http://localhost/**', (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>wycheproof</title>' });
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
        const { default: init, _checkSignature } = await import('/jwtgate/web.js');
        await init();
        // eslint-disable-next-line no-eval
        return (0, eval)(`(${source})`)(doc, { _checkSignature });
      }, [wycheproof.toString(), doc]),
    );
  }
  expectClean(results, 'Chromium');
});

const WORKER = `import { _checkSignature } from 'jwtgate';
import { wycheproof } from './wycheproof.mjs';
export default {
  async fetch(request) {
    return Response.json(await wycheproof(await request.json(), { _checkSignature }));
  },
};`;

test('Wycheproof in workerd (WebCrypto): the in-wasm answers', { timeout: 300_000 }, async (t) => {
  const { port, workerd } = await serveWorker(t, {
    'main.js': WORKER,
    'wycheproof.mjs': readFileSync(new URL('./wycheproof.mjs', import.meta.url), 'utf8'),
  });
  const results = [];
  for (const doc of docs) {
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(doc) });
    assert.equal(response.status, 200, `${await response.clone().text()}\n${workerd.log}`);
    results.push(await response.json());
  }
  expectClean(results, 'workerd');
});
