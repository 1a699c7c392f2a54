// The package in workerd, as a Worker loads it: the `workerd` entry with the .wasm as a
// compiled module. Its answers must be Node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decode, expiresIn, isExpired, Verifier, JwtError } from 'jwtgate';
import { clientAnswers } from './client-answers.mjs';
import { fx } from './fixtures.mjs';
import { answers } from './answers.mjs';
import { serveWorker } from './workerd-run.mjs';

// The modules a bundler would give the Worker: the package's `workerd` export is its root.
const WORKER = `import { decode, expiresIn, Verifier, JwtError } from 'jwtgate';
import { answers } from './answers.mjs';
export default {
  async fetch(request) {
    const fx = await request.json();
    return Response.json(await answers(fx, { decode, expiresIn, Verifier, JwtError }));
  },
};`;

test('workerd gives the answers Node gives', async (t) => {
  const { port, workerd } = await serveWorker(t, {
    'main.js': WORKER,
    'answers.mjs': readFileSync(new URL('./answers.mjs', import.meta.url), 'utf8'),
  });

  // The catalog without its 1 MB garbage case: a Worker's request body has better uses.
  const small = { ...fx, catalog: fx.catalog.filter((c) => c.token.length < 64 * 1024) };
  const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(small) });
  assert.equal(response.status, 200, `${await response.clone().text()}\n${workerd.log}`);
  const inWorkerd = await response.json();
  const inNode = await answers(small, { decode, expiresIn, Verifier, JwtError });
  assert.ok(inNode.algorithms.every((a) => a.ok?.sub === 'alice'));
  assert.equal(inWorkerd.catalog.length, small.catalog.length);
  assert.deepEqual(inWorkerd, inNode);
});

// A Worker that imports only jwtgate/client, so its own wasm answers.
const CLIENT_WORKER = `import { decode, expiresIn, isExpired, JwtError } from 'jwtgate/client';
import { clientAnswers } from './client-answers.mjs';
export default {
  async fetch(request) {
    return Response.json(clientAnswers(await request.json(), { decode, expiresIn, isExpired, JwtError }));
  },
};`;

test('jwtgate/client in workerd gives the answers jwtgate gives in Node', async (t) => {
  const { port, workerd } = await serveWorker(t, {
    'main.js': CLIENT_WORKER,
    'client-answers.mjs': readFileSync(new URL('./client-answers.mjs', import.meta.url), 'utf8'),
  });
  const small = { ...fx, catalog: fx.catalog.filter((c) => c.token.length < 64 * 1024) };
  const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(small) });
  assert.equal(response.status, 200, `${await response.clone().text()}\n${workerd.log}`);
  assert.deepEqual(await response.json(), clientAnswers(small, { decode, expiresIn, isExpired, JwtError }));
});
