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
window.answers = (${answers.toString()})(fx, { decode, expiresIn, Verifier, JwtError });
</script>`;

function serve() {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://localhost');
      let body;
      let type = TYPES['.html'];
      if (url.pathname === '/') body = PAGE;
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
  const inNode = answers(fx, { decode, expiresIn, Verifier, JwtError });
  assert.deepEqual(errors, []);
  assert.equal(inBrowser.catalog.length, fx.catalog.length);
  assert.ok(inNode.algorithms.every((a) => a.ok?.sub === 'alice'));
  assert.deepEqual(inBrowser, inNode);
});
