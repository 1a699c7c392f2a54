// The package in workerd, as a Worker loads it: the `workerd` entry with the .wasm as a
// compiled module. Its answers must be Node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decode, expiresIn, Verifier, JwtError } from 'jwtgate';
import { fx } from './fixtures.mjs';
import { answers } from './answers.mjs';
import { freePort, start, waitForPort } from './net.mjs';

const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));

// The modules a bundler would give the Worker: the package's `workerd` export is its root.
const WORKER = `import { decode, expiresIn, Verifier, JwtError } from 'jwtgate';
import { answers } from './answers.mjs';
export default {
  async fetch(request) {
    const fx = await request.json();
    return Response.json(answers(fx, { decode, expiresIn, Verifier, JwtError }));
  },
};`;

function config(port) {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const entry = pkg.exports['.'].workerd;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "main.js"),
    (name = "answers.mjs", esModule = embed "answers.mjs"),
    (name = "jwtgate", esModule = embed "pkg/${entry.replace('./', '')}"),
    (name = "state.js", esModule = embed "pkg/state.js"),
    (name = "api.js", esModule = embed "pkg/api.js"),
    (name = "wasm/jwtgate.js", esModule = embed "pkg/wasm/jwtgate.js"),
    (name = "wasm/jwtgate_bg.wasm", wasm = embed "pkg/wasm/jwtgate_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
`;
}

test('workerd gives the answers Node gives', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jwtgate-workerd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pkg/wasm'), { recursive: true });
  for (const f of ['worker.js', 'state.js', 'api.js', 'wasm/jwtgate.js', 'wasm/jwtgate_bg.wasm']) {
    copyFileSync(join(packageDir, f), join(dir, 'pkg', f));
  }
  copyFileSync(new URL('./answers.mjs', import.meta.url), join(dir, 'answers.mjs'));
  writeFileSync(join(dir, 'main.js'), WORKER);
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), config(port));
  const workerd = start(t, process.env.WORKERD, ['serve', join(dir, 'config.capnp')]);
  await waitForPort(port, 20000, 'workerd').catch((e) => assert.fail(`${e.message}\n${workerd.log}`));

  // The catalog without its 1 MB garbage case: a Worker's request body has better uses.
  const small = { ...fx, catalog: fx.catalog.filter((c) => c.token.length < 64 * 1024) };
  const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(small) });
  assert.equal(response.status, 200, `${await response.clone().text()}\n${workerd.log}`);
  const inWorkerd = await response.json();
  const inNode = answers(small, { decode, expiresIn, Verifier, JwtError });
  assert.ok(inNode.algorithms.every((a) => a.ok?.sub === 'alice'));
  assert.equal(inWorkerd.catalog.length, small.catalog.length);
  assert.deepEqual(inWorkerd, inNode);
});
