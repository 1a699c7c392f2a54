// jwtgate against what Node users would pick instead, run by `cargo xtask bench`.
//
//   node bench/node.mjs keys OUT.json   keys, a JWKS and tokens (RS256, ES256, ES384, EdDSA), for every contender
//   node bench/node.mjs run FIXTURES    operations per second, as JSON on stdout
//
// Each case runs in a process of its own (CASE names it): a library's speed depends on what V8
// compiled before, and jose's `decodeJwt` ran at 384k/s after the verify cases where it runs at
// 583-615k/s on its own, which made a missed goal read as met.
//
// The modules come from the environment, so the script needs no install of its own: JWTGATE
// (pkg/node.js) and BENCH_MODULES (the node_modules where jose and jwt-decode are installed).
import { generateKeyPairSync, sign, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A package's ESM entry and version, from its package.json in BENCH_MODULES. */
function pkg(name) {
  const dir = join(process.env.BENCH_MODULES, name);
  const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  let entry = json.exports?.['.'] ?? json.module ?? json.main;
  while (typeof entry === 'object') entry = entry.import ?? entry.default;
  return { url: pathToFileURL(join(dir, entry)), version: json.version };
}

const ISSUER = 'https://issuer.bench.example';
const AUDIENCE = 'api';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

function keys(out) {
  const now = Math.floor(Date.now() / 1000);
  const pairs = {
    RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    EdDSA: generateKeyPairSync('ed25519'),
  };
  const jwks = { keys: [] };
  const tokens = {};
  for (const [alg, { publicKey, privateKey }] of Object.entries(pairs)) {
    const kid = `bench-${alg.toLowerCase()}`;
    jwks.keys.push({ ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
    const header = b64url(JSON.stringify({ alg, typ: 'JWT', kid }));
    // A typical access token: a day to live, so that a long run never sees it expire.
    const payload = b64url(JSON.stringify({
      iss: ISSUER, aud: AUDIENCE, sub: 'user-1234567890', scope: 'read write',
      iat: now, nbf: now, exp: now + 86400, jti: randomUUID(),
    }));
    const input = Buffer.from(`${header}.${payload}`);
    const signature = alg === 'RS256' ? sign('sha256', input, privateKey)
      : alg === 'ES256' ? sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : alg === 'ES384' ? sign('sha384', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : sign(null, input, privateKey);
    tokens[alg] = `${header}.${payload}.${b64url(signature)}`;
  }
  writeFileSync(out, JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, jwks, tokens }, null, 1));
}

/** Calls per second of `fn` (sync) over about `ms` milliseconds. */
function rateSync(fn, ms) {
  let n = 0;
  let batch = 64;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/** The same for an async `fn`, awaited one call at a time as a request handler would. */
async function rateAsync(fn, ms) {
  let n = 0;
  const batch = 64;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) await fn();
    n += batch;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function run(fixturesPath) {
  const fx = JSON.parse(readFileSync(fixturesPath, 'utf8'));
  const jwtgate = await import(pathToFileURL(process.env.JWTGATE));
  const jose = await import(pkg('jose').url);
  const { jwtDecode } = await import(pkg('jwt-decode').url);
  const rounds = Number(process.env.ROUNDS ?? 5);
  const ms = Number(process.env.MS ?? 1000);

  const verifier = new jwtgate.Verifier({ jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience] });
  const localJwks = jose.createLocalJWKSet(fx.jwks);
  const joseOptions = { issuer: fx.issuer, audience: fx.audience };

  // Every contender must accept every token, and agree on what it says, before it is timed.
  for (const [alg, token] of Object.entries(fx.tokens)) {
    const ours = await verifier.verify(token);
    if (JSON.stringify(verifier.verifySync(token)) !== JSON.stringify(ours)) throw new Error(`${alg}: verify and verifySync disagree`);
    const theirs = (await jose.jwtVerify(token, localJwks, joseOptions)).payload;
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error(`${alg}: the verifiers disagree`);
    const left = jwtgate.expiresIn(token);
    if (!(Math.abs(left - (theirs.exp - Date.now() / 1000)) < 1)) throw new Error(`${alg}: expiresIn gave ${left}`);
    if (jwtDecode(token).exp !== jose.decodeJwt(token).exp) throw new Error('the decoders disagree');
    if (jwtgate.decode(token).payload.exp !== ours.exp) throw new Error('decode disagrees');
  }

  const token = fx.tokens.ES256;
  const nowSeconds = () => Date.now() / 1000;
  // name -> contender -> [sync?, fn]
  const cases = {};
  for (const [alg, t] of Object.entries(fx.tokens)) {
    cases[`verify ${alg}`] = {
      // verify resolves (WebCrypto is asynchronous), as jose's does; in Node verifySync too.
      'jwtgate Verifier.verify': [false, () => verifier.verify(t)],
      'jwtgate Verifier.verifySync': [true, () => verifier.verifySync(t)],
      'jose jwtVerify': [false, () => jose.jwtVerify(t, localJwks, joseOptions)],
    };
  }
  // An SPA decodes the token it holds again and again (jwtgate keeps the last one's checked
  // text); a service sees a new token each time. Both, so neither flatters.
  // jose's decodeJwt gives the payload only, unchecked; `decode` gives header and payload, each
  // held to the strict parser. jose's two calls that give the same two objects run beside it.
  const joseBoth = (t) => ({ header: jose.decodeProtectedHeader(t), payload: jose.decodeJwt(t) });
  cases['decode'] = {
    'jwtgate decode': [true, () => jwtgate.decode(token)],
    'jose decodeJwt': [true, () => jose.decodeJwt(token)],
    'jose decodeProtectedHeader + decodeJwt': [true, () => joseBoth(token)],
    'jwt-decode jwtDecode': [true, () => jwtDecode(token)],
  };
  const many = Object.values(fx.tokens);
  const next = (() => {
    let i = 0;
    return () => many[i++ % many.length];
  })();
  cases['decode, a new token each call'] = {
    'jwtgate decode': [true, () => jwtgate.decode(next())],
    'jose decodeJwt': [true, () => jose.decodeJwt(next())],
    'jose decodeProtectedHeader + decodeJwt': [true, () => joseBoth(next())],
    'jwt-decode jwtDecode': [true, () => jwtDecode(next())],
  };
  // What a user writes for "seconds left" with each library.
  cases['seconds until exp'] = {
    'jwtgate expiresIn': [true, () => jwtgate.expiresIn(token)],
    'jose decodeJwt': [true, () => jose.decodeJwt(token).exp - nowSeconds()],
    'jwt-decode jwtDecode': [true, () => jwtDecode(token).exp - nowSeconds()],
  };

  const results = {};
  const only = process.env.CASES ? new RegExp(process.env.CASES) : null;
  for (const [name, contenders] of Object.entries(cases)) {
    if (only && !only.test(name)) continue;
    if (process.env.CASE === undefined) {
      results[name] = alone(fixturesPath, name);
      continue;
    }
    if (process.env.CASE !== name) continue;
    const samples = Object.fromEntries(Object.keys(contenders).map((c) => [c, []]));
    // Warm every contender up (JIT, key import caches), then interleave them round by round,
    // so a burst of load on the machine falls on all of them.
    for (const [sync, fn] of Object.values(contenders)) {
      if (sync) rateSync(fn, ms / 2);
      else await rateAsync(fn, ms / 2);
    }
    for (let r = 0; r < rounds; r++) {
      for (const [c, [sync, fn]] of Object.entries(contenders)) {
        samples[c].push(sync ? rateSync(fn, ms) : await rateAsync(fn, ms));
      }
    }
    results[name] = Object.fromEntries(
      Object.entries(samples).map(([c, xs]) => [c, { median: median(xs), samples: xs }]),
    );
    process.stderr.write(`bench: ${name}: ${Object.entries(results[name])
      .map(([c, r]) => `${c} ${Math.round(r.median)}/s`).join(', ')}\n`);
  }
  process.stdout.write(JSON.stringify({
    node: process.version,
    versions: { jose: pkg('jose').version, 'jwt-decode': pkg('jwt-decode').version },
    rounds, ms, results,
  }));
}

/** One case's results, timed in a fresh process (see the top of this file). */
function alone(fixturesPath, name) {
  const child = spawnSync(process.execPath, [process.argv[1], 'run', fixturesPath], {
    env: { ...process.env, CASE: name },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (child.status !== 0) throw new Error(`bench: the process timing ${name} failed (${child.status ?? child.signal})`);
  return JSON.parse(child.stdout).results[name];
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'keys') keys(arg);
else if (mode === 'run') await run(arg);
else {
  process.stderr.write('usage: node bench/node.mjs keys OUT.json | run FIXTURES.json\n');
  process.exit(2);
}
