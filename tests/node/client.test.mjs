// jwtgate/client: the SPA entry. Its own wasm (no key sets, no verification) gives the answers
// the full package gives, and exports only what an SPA needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as full from 'jwtgate';
import { fx } from './fixtures.mjs';
import { clientAnswers, sessionAnswers, slowNumberTokens } from './client-answers.mjs';

// In a process of its own: with jwtgate loaded too, the client functions would run on the
// full package's wasm (the entries share one core, the fuller one).
const CHILD = `
import * as client from 'jwtgate/client';
import { readFileSync } from 'node:fs';
import { clientAnswers } from './client-answers.mjs';
const fx = JSON.parse(readFileSync(process.env.JWTGATE_FIXTURES, 'utf8'));
process.stdout.write(JSON.stringify({ exports: Object.keys(client).sort(), answers: clientAnswers(fx, client) }));
`;

test('jwtgate/client, alone in a process: its exports, and the answers jwtgate gives', () => {
  const child = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', CHILD], { cwd: import.meta.dirname, maxBuffer: 64 << 20 }));
  assert.deepEqual(child.exports, ['JwtError', 'TokenSession', 'decode', 'default', 'expiresIn', 'isExpired']);
  assert.deepEqual(child.answers, clientAnswers(fx, full));
});

test("jwtgate/client's own wasm: a session's texts of any Unicode and size cross both ways, as jwtgate's do", async () => {
  const child = `
import * as client from 'jwtgate/client';
import { sessionAnswers } from './client-answers.mjs';
process.stdout.write(JSON.stringify(await sessionAnswers(client)));
`;
  const answers = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child], { cwd: import.meta.dirname, maxBuffer: 64 << 20 }));
  assert.deepEqual(answers, JSON.parse(JSON.stringify(await sessionAnswers(full))));
  // The run did what it says: a refresh each time, with the refresh token of the last one.
  assert.deepEqual(answers[2], ['r0-é\ufffdx']);
  assert.deepEqual(answers[6], ['r0-é\ufffdx', 'r1-ё😀\u0000']);
});

test("jwtgate/client's wasm memory stays as it is under a stream of distinct tokens", () => {
  const child = `
import { ownInstance } from './instance.mjs';
const { decode, expiresIn, TokenSession } = await import('jwtgate/client');
// The package's own loader, over an instance whose memory this can see.
const { instance } = await ownInstance(false);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const token = (i) => b64({ alg: 'ES256' }) + '.' + b64({ exp: 2e9 + i, sub: 'ü'.repeat(i % 500), n: 'x'.repeat((i * 7919) % 6000) }) + '.c2ln';
// A long-lived session takes new tokens as the calls go (a session dropped is freed only when
// collected, which would make the count depend on the collector).
const session = new TokenSession({ refresh: async () => ({}) });
const run = (from, to) => {
  for (let i = from; i < to; i += 1) {
    decode(token(i));
    expiresIn(token(i), 1);
    if (i % 10 === 0) session.setTokens({ accessToken: token(i), refreshToken: 'ё'.repeat(i % 3000) });
  }
};
// Every size has come by once the warm-up is over (the allocator's heap then holds them all).
run(0, 10000);
const before = instance.exports.memory.buffer.byteLength;
run(10000, 40000);
session.close();
process.stdout.write(JSON.stringify({ before, after: instance.exports.memory.buffer.byteLength }));
`;
  const { before, after } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child], { cwd: import.meta.dirname }));
  assert.equal(after, before);
});

test('numbers past the fast path read as JSON.parse reads them, bounded per payload', () => {
  const [long, huge, many, tooMany] = slowNumberTokens();
  assert.equal(full.expiresIn(long, 0), 1700000000);
  assert.equal(full.expiresIn(many, 0), 4102444800);
  assert.equal(full.decode(many).payload.exp, 4102444800);
  for (const t of [huge, tooMany]) {
    assert.throws(() => full.expiresIn(t, 0), (e) => e instanceof full.JwtError && e.code === 'malformed');
    assert.throws(() => full.decode(t), (e) => e instanceof full.JwtError && e.code === 'malformed');
  }
});

// The loader over an instance of the client's wasm whose memory the child can see, as above.
const LOADER = `
import { ownInstance } from './instance.mjs';
const { instance, core } = await ownInstance(false);
const trap = (f) => { try { f(); return 'answered'; } catch (e) { return e.constructor.name; } };
`;
const inChild = (code) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', LOADER + code], { cwd: import.meta.dirname }));

test("a freed RawSession traps alone, as wasm-bindgen's throws: the input buffer still grows for the next call", () => {
  const { used, again, freedTwice, decoded } = inChild(`
const s = new core.RawSession(0);
s.free();
const used = trap(() => s.op(10, 0, 0));
const again = trap(() => s.text(0));
const freedTwice = trap(() => s.free());
// Longer than any text yet, so the buffer must grow.
const decoded = core.decode('x'.repeat(5000));
process.stdout.write(JSON.stringify({ used, again, freedTwice, decoded }));
`);
  assert.deepEqual([used, again, freedTwice], ['RuntimeError', 'RuntimeError', 'answered']);
  assert.match(decoded, /^\0\{"name":"JwtError","code":"malformed"/);
});

test('an input buffer that failed to grow is never written past its end', () => {
  const { first, second, written, kept } = inChild(`
const token = 'eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln';
const s = new core.RawSession(0);
s.op(2, 0, 1, token);
const memory = instance.exports.memory;
const pages = memory.buffer.byteLength >>> 16;
// Every page the wasm could have is taken, so the buffer cannot grow.
memory.grow(65536 - pages);
const first = trap(() => core.decode('Z'.repeat(1 << 20)));
const second = trap(() => core.decode('Z'.repeat(1 << 19)));
// The heap the wasm had, and as far past it as the second text reaches: no run of its bytes.
const heap = new Uint8Array(memory.buffer, 0, (pages << 16) + (1 << 19));
let run = 0;
let written = false;
for (const byte of heap) if ((run = byte === 90 ? run + 1 : 0) === 1024) written = true;
process.stdout.write(JSON.stringify({ first, second, written, kept: s.text(0) === token }));
`);
  assert.deepEqual([first, second], ['RuntimeError', 'RuntimeError']);
  assert.equal(written, false);
  assert.equal(kept, true);
});

test('with both entries loaded, one JwtError class, and each wasm with its own loader', async () => {
  const client = await import('jwtgate/client');
  assert.equal(client.JwtError, full.JwtError);
  assert.equal(client.decode(fx.tokens.ES256).header.alg, 'ES256');
  // The client's wasm, loaded second, did not take the whole package's place in the loader.
  const verifier = new full.Verifier({ jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience] });
  assert.equal(verifier.verifySync(fx.tokens.ES256, { now: fx.now }).sub, 'alice');
  assert.equal(full.decode(fx.tokens.RS256).header.alg, 'RS256');
});

test('decode of the token it decoded last: equal objects, never the same ones, and the next token its own', () => {
  const [es, rs] = [fx.tokens.ES256, fx.tokens.RS256];
  const first = full.decode(es);
  first.payload.sub = 'mallory';
  first.header.alg = 'none';
  const again = full.decode(es);
  assert.notEqual(again, first);
  assert.notEqual(again.payload, first.payload);
  assert.equal(again.header.alg, 'ES256');
  assert.notEqual(again.payload.sub, 'mallory');
  assert.equal(full.decode(rs).header.alg, 'RS256');
  // A bad token after a good one is still refused, and the good one still decodes.
  assert.throws(() => full.decode(`${es}x`), (e) => e instanceof full.JwtError && e.code === 'malformed');
  assert.throws(() => full.decode({ toString: () => es }), (e) => e instanceof full.JwtError);
  assert.equal(full.decode(es).header.alg, 'ES256');
});
