// Oversized input must be refused before it is held whole: a 300 MiB key set is not read past
// the key set limit, and a 300 MiB token is not copied into wasm memory (which never shrinks).
// Measured in a child under --expose-gc: resident memory returns to within a few MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
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

// Verifiers are freed when collected (a FinalizationRegistry, as wasm-bindgen's glue did): a
// stream of them, each over a key set of its own, verifying and refusing, must leave the whole
// package's wasm memory where the warm-up left it, once the collector has run.
test("the whole package's wasm memory stays as it is under a stream of verifiers", () => {
  const child = `
import { Verifier, RemoteVerifier, JwtError, decode, refusal } from 'jwtgate';
import { ownInstance } from './instance.mjs';
import { fx } from './fixtures.mjs';
// After the package's entry, which would otherwise put its own instance back.
const { instance } = await ownInstance(true);
const settle = async () => {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
  }
};
const run = async (from, to) => {
  for (let i = from; i < to; i += 1) {
    // Key sets of every size up to 3,000 more bytes: an unknown member is ignored.
    const jwks = { keys: fx.jwks.keys.map((k) => ({ ...k, note: 'ü'.repeat(i % 1500) })) };
    const v = new Verifier({ jwks, issuer: fx.issuer, audiences: [fx.audience] });
    v.verifySync(fx.tokens.ES256, { now: fx.now });
    try { v.verifySync(fx.expired, { now: fx.now }); } catch (e) { if (!(e instanceof JwtError)) throw e; }
    try { new Verifier({ jwks: { keys: [] } }); } catch (e) { if (!(e instanceof JwtError)) throw e; }
    try { new Verifier({ jwks, audience: 'x'.repeat(i % 2000) }); } catch (e) { if (!(e instanceof TypeError)) throw e; }
    new RemoteVerifier({ issuer: 'https://issuer.example/' + 'p'.repeat(i % 1000) });
    refusal('expired', 'r'.repeat(i % 500));
    decode(fx.tokens.RS256);
    if (i % 200 === 0) await settle();
  }
  await settle();
};
// Every size has come by once the warm-up is over.
await run(0, 3000);
const before = instance.exports.memory.buffer.byteLength;
await run(3000, 9000);
process.stdout.write(JSON.stringify({ before, after: instance.exports.memory.buffer.byteLength }));
`;
  const { before, after } = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child], { cwd: here }));
  assert.equal(after, before);
});

// A key set given whole to Verifier is held to the core's limit as a fetched one is: one surely
// over it (more UTF-16 units than the limit's bytes) is refused before it is copied into wasm
// memory, which never shrinks.
test('an oversized key set given to Verifier is refused before it reaches wasm memory', () => {
  const child = `
import { Verifier } from 'jwtgate';
import { ownInstance } from './instance.mjs';
const { instance } = await ownInstance(true);
// Warm up: the instance's first verifier, refused, at a small size.
try { new Verifier({ jwks: { keys: [] } }); } catch {}
const before = instance.exports.memory.buffer.byteLength;
const out = [];
for (const jwks of [' '.repeat(16 * 2 ** 20) + '{"keys":[]}', { keys: [{ kty: 'oct', k: 'A'.repeat(16 * 2 ** 20) }] }]) {
  try { new Verifier({ jwks }); out.push('ok'); } catch (e) { out.push(e.code); }
}
process.stdout.write(JSON.stringify({ out, grew: instance.exports.memory.buffer.byteLength - before }));
`;
  const { out, grew } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child], { cwd: here }));
  assert.deepEqual(out, ['jwks_unavailable', 'jwks_unavailable']);
  assert.equal(grew, 0);
});
