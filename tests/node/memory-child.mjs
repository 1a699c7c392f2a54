// Run by memory.test.mjs under --expose-gc: refuses an oversized key set (with and without
// content-length) and an oversized token, and reports how far resident memory moved.
import { RemoteVerifier, Verifier, decode, expiresIn, isExpired, TokenSession } from 'jwtgate';
import { fx } from './fixtures.mjs';
import { ownInstance } from './instance.mjs';

// The package's wasm, in an instance whose memory this can see.
const { memory } = (await ownInstance(true)).instance.exports;

const [base] = process.argv.slice(2);
const MiB = 2 ** 20;
const settled = async () => {
  for (let i = 0; i < 6; i += 1) {
    await new Promise((r) => setTimeout(r, 20));
    globalThis.gc();
  }
  return process.memoryUsage().rss;
};
const outcome = (f) => Promise.resolve().then(f).then(() => 'ok', (e) => e.code ?? String(e));

// Warm up: the wasm instance, its allocator and every path used below, at small sizes, so
// that what the big ones cost is all that moves. Each measure lets sockets close and collects.
const verifier = new Verifier({ jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience] });
verifier.verifySync(fx.tokens.ES256, { now: fx.now });
decode(fx.tokens.RS256);
await new RemoteVerifier({ jwksUri: `${base}/small`, cache: false }).verify(fx.tokens.ES256, { now: fx.now }).catch(() => {});
for (const path of ['small-length', 'small-chunked']) {
  await new RemoteVerifier({ jwksUri: `${base}/${path}`, cache: false }).verify(fx.tokens.ES256, { now: fx.now }).catch(() => {});
}
{
  const big = 'a'.repeat(4 * MiB);
  await outcome(() => verifier.verify(big, { now: fx.now }));
  await outcome(() => decode(big));
}
const before = await settled();
const wasmBefore = memory.buffer.byteLength;

const result = { keySets: {}, tokens: {} };
for (const path of ['length', 'chunked']) {
  result.keySets[path] = await outcome(() => new RemoteVerifier({ jwksUri: `${base}/${path}`, cache: false }).verify(fx.tokens.ES256, { now: fx.now }));
}
{
  let huge = 'a'.repeat(300 * MiB);
  result.tokens.verify = await outcome(() => verifier.verify(huge, { now: fx.now }));
  result.tokens.decode = await outcome(() => decode(huge));
  result.tokens.expiresIn = await outcome(() => expiresIn(huge, fx.now));
  result.tokens.isExpired = isExpired(huge, { now: fx.now });
  result.tokens.setTokens = await outcome(() => new TokenSession({ refresh: async () => ({}) }).setTokens({ accessToken: huge }));
  huge = null;
}
result.grewMiB = (await settled() - before) / MiB;
result.wasmGrewBytes = memory.buffer.byteLength - wasmBefore;
process.stdout.write(JSON.stringify(result));
