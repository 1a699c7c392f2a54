// Oversized input must be refused before it is held whole: a 300 MiB key set is not read past
// the key set limit, and a 300 MiB token is not copied into wasm memory (which never shrinks).
// Measured in a child under --expose-gc: resident memory returns to within a few MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyset } from './fixtures.mjs';
import { looseServer } from './net.mjs';

const MiB = 2 ** 20;
const here = dirname(fileURLToPath(import.meta.url));

test('a 300 MiB key set and a 300 MiB token are refused, and memory comes back', async (t) => {
  const sent = { length: 0, chunked: 0 };
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const server = await looseServer(t, (req, res) => {
    let path = req.url.slice(1);
    if (path === 'small') return void res.writeHead(200).end(keyset('p256'));
    const limit = path.startsWith('small-') ? 4 * MiB : 300 * MiB;
    path = path.replace('small-', '');
    sent[path] = 0;
    // 300 MiB of JSON whitespace (4 MiB for the warm-up), streamed as the client reads it:
    // never held by the server.
    res.writeHead(200, path === 'length' ? { 'content-length': String(limit) } : {});
    const pump = () => {
      while (sent[path] < limit && !res.destroyed) {
        sent[path] += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  const base = `http://127.0.0.1:${server.port}`;
  const out = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', join(here, 'memory-child.mjs'), base], { env: process.env, maxBuffer: MiB }, (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
  assert.deepEqual(out.keySets, { length: 'jwks_unavailable', chunked: 'jwks_unavailable' });
  assert.deepEqual(out.tokens, { verify: 'too_large', decode: 'too_large', expiresIn: 'too_large', isExpired: true, setTokens: 'too_large' });
  // What the server wrote before the client hung up is socket buffers, not 300 MiB.
  for (const path of ['length', 'chunked']) assert.ok(sent[path] < 32 * MiB, `${path}: ${sent[path] / MiB} MiB sent`);
  assert.equal(out.wasmGrewBytes, 0, 'nothing reached wasm memory');
  assert.ok(out.grewMiB < 4, `resident memory grew by ${out.grewMiB.toFixed(1)} MiB`);
});
