// The browser entries' init(), run in Node (which has fetch, Response and WebAssembly): what it
// does with inputs that are not the wasm it expects. Each case in a process of its own, as a
// page is: init() keeps its load for the page's life.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
const url = (file) => JSON.stringify(pathToFileURL(join(packageDir, file)).href);
const FULL_WASM = join(packageDir, 'wasm/jwtgate_bg.wasm');
const CLIENT_WASM = join(packageDir, 'wasm-client/jwtgate_client_bg.wasm');
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

// What `body` (run with `init` the entry's, `api` the entry itself, `bytes(path)` a file's
// bytes) prints, one line a step.
function run(entry, body) {
  const code = `
import { readFileSync } from 'node:fs';
const api = await import(${url(entry)});
const init = api.default;
const bytes = (path) => readFileSync(path);
const step = async (f) => { try { return 'ok ' + JSON.stringify(await f()); } catch (e) { return e.constructor.name + ': ' + e.message; } };
${body}
`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).trim().split('\n');
}

for (const [entry, wasm] of [['web.js', FULL_WASM], ['client.js', CLIENT_WASM]]) {
  test(`${entry}: init() after a load that failed loads again (a network error is not for the page's life)`, () => {
    const out = run(
      entry,
      `console.log(await step(() => init(Promise.reject(new Error('offline')))));
console.log(await step(() => init(bytes(${JSON.stringify(wasm)}))));
console.log(await step(() => api.decode(${JSON.stringify(TOKEN)}).payload));`,
    );
    assert.deepEqual(out, ['Error: offline', 'ok undefined', 'ok {"sub":"a"}']);
  });
}

test("web.js: init() given jwtgate/client's wasm refuses it, rather than loading a core whose verifiers all fail", () => {
  const out = run(
    'web.js',
    `console.log(await step(() => init(bytes(${JSON.stringify(CLIENT_WASM)}))));
console.log(await step(() => api.decode(${JSON.stringify(TOKEN)}).payload));`,
  );
  assert.match(out[0], /^Error: .*jwtgate\/client's wasm/);
  assert.match(out[1], /not initialised/);
});
