// Tokens signed by what users sign with, verified by both front doors: PyJWT (HS256 with a
// shared secret, RS256, ES256) and `jose` (every algorithm jwtgate accepts), through the npm
// package's Verifier and through the Envoy filter in a real Envoy started here. Keys are made
// here with node:crypto, so neither signer nor verifier brings its own fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Verifier } from 'jwtgate';
import { freePort, start } from './net.mjs';

const tools = createRequire(join(process.env.NODE_TOOLS, 'x.js'));
const jose = await import(pathToFileURL(tools.resolve('jose')).href);

const ISSUER = 'https://interop.example';
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
const HMAC = ['HS256', 'HS384', 'HS512'];

// One key per family, a kid each; the HMAC secret is 64 bytes, as long as HS512 needs.
const pairs = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed25519: generateKeyPairSync('ed25519'),
};
const secret = createHash('sha512').update('interop shared secret').digest();
const familyOf = (alg) => ({ R: 'rsa', P: 'rsa', E: alg === 'ES384' ? 'p384' : alg === 'ES256' ? 'p256' : 'ed25519', H: 'hmac' })[alg[0]];
const jwks = {
  keys: [
    ...Object.entries(pairs).map(([kid, { publicKey }]) => ({ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' })),
    { kty: 'oct', kid: 'hmac', k: secret.toString('base64url') },
  ],
};
const now = () => Math.floor(Date.now() / 1000);
const claims = () => ({ sub: 'alice', iss: ISSUER, aud: 'api', iat: now(), exp: now() + 600 });

/** Tokens from PyJWT 2, as a Python service makes them: `jwt.encode(payload, key, algorithm, headers)`. */
function pyjwt(algs) {
  const script = `
import json, sys, base64, jwt
job = json.load(sys.stdin)
out = {}
for alg, key in job["keys"].items():
    if alg.startswith("HS"):
        key = base64.urlsafe_b64decode(key + "==")
    out[alg] = jwt.encode(job["claims"], key, algorithm=alg, headers={"kid": job["kids"][alg]})
print(json.dumps({"version": jwt.__version__, "tokens": out}))
`;
  const keys = {};
  const kids = {};
  for (const alg of algs) {
    const family = familyOf(alg);
    kids[alg] = family;
    keys[alg] = family === 'hmac' ? secret.toString('base64url') : pairs[family].privateKey.export({ type: 'pkcs8', format: 'pem' });
  }
  const input = JSON.stringify({ claims: claims(), keys, kids });
  const env = { ...process.env, PYTHONPATH: process.env.PYTHON_TOOLS };
  return JSON.parse(execFileSync('python3', ['-c', script], { input, env, encoding: 'utf8' }));
}

/** Tokens from `jose`, as a Node service makes them. */
async function joseTokens(algs) {
  const out = {};
  for (const alg of algs) {
    const family = familyOf(alg);
    const key = family === 'hmac' ? secret : await jose.importPKCS8(pairs[family].privateKey.export({ type: 'pkcs8', format: 'pem' }), alg);
    out[alg] = await new jose.SignJWT(claims()).setProtectedHeader({ alg, kid: family }).sign(key);
  }
  return out;
}

/** The token with its payload changed (sub: mallory) and its signature kept. */
function tampered(token) {
  const [h, p, s] = token.split('.');
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url')), sub: 'mallory' };
  return [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
}

const signed = {
  pyjwt: pyjwt(['HS256', 'RS256', 'ES256']),
  jose: await joseTokens([...ASYMMETRIC, ...HMAC]),
};

test('PyJWT 2.10 and jose tokens verify in the npm package; tampered ones do not', async () => {
  assert.equal(signed.pyjwt.version, '2.10.1');
  const verifier = new Verifier({ jwks, issuer: ISSUER, audiences: ['api'], algorithms: [...ASYMMETRIC, ...HMAC] });
  for (const [signer, tokens] of [['PyJWT', signed.pyjwt.tokens], ['jose', signed.jose]]) {
    for (const [alg, token] of Object.entries(tokens)) {
      assert.equal((await verifier.verify(token)).sub, 'alice', `${signer} ${alg}`);
      assert.equal(verifier.verifySync(token).sub, 'alice', `${signer} ${alg}`);
      await assert.rejects(verifier.verify(tampered(token)), { code: 'invalid_signature' }, `${signer} ${alg} tampered`);
    }
  }
  // HMAC only when listed: the default policy refuses PyJWT's HS256 by its algorithm.
  const asymmetric = new Verifier({ jwks, issuer: ISSUER, audiences: ['api'] });
  await assert.rejects(asymmetric.verify(signed.pyjwt.tokens.HS256), { code: 'algorithm_not_allowed' });
  assert.equal((await asymmetric.verify(signed.pyjwt.tokens.RS256)).sub, 'alice');
});

/** Envoy with the jwtgate filter in front of an upstream that answers 200, on loopback. */
async function envoy(t, provider) {
  const upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream'));
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => {
    upstream.closeAllConnections();
    upstream.close(r);
  }));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'jwtgate-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const filter = {
    providers: { interop: { issuer: ISSUER, audiences: ['api'], local_jwks: { inline_string: JSON.stringify(jwks) }, ...provider } },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'interop' } }],
  };
  const socket = (p) => ({ socket_address: { address: '127.0.0.1', port_value: p } });
  const config = {
    admin: { address: socket(0) },
    static_resources: {
      listeners: [{
        name: 'interop',
        address: socket(port),
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'interop',
              route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] }] },
              http_filters: [
                {
                  name: 'envoy.filters.http.wasm',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
                    config: {
                      name: 'jwtgate',
                      root_id: 'jwtgate',
                      vm_config: { vm_id: 'jwtgate', runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: process.env.JWTGATE_ENVOY_WASM } } },
                      configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(filter) },
                    },
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          }],
        }],
      }],
      clusters: [{
        name: 'upstream',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'upstream', endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(upstream.address().port) } }] }] },
      }],
    },
  };
  writeFileSync(join(dir, 'envoy.json'), JSON.stringify(config));
  const adminPath = join(dir, 'admin');
  const child = start(t, process.env.ENVOY, ['-c', join(dir, 'envoy.json'), '--concurrency', '1', '--disable-hot-restart', '--admin-address-path', adminPath, '-l', 'warning']);
  const exited = new Promise((_, reject) => child.on('exit', (code) => reject(new Error(`Envoy exited (${code})\n${child.log}`))));
  exited.catch(() => {});
  // Ready when its admin says so: every listener, and the filter's plugin, started.
  const ready = async () => {
    for (;;) {
      if (existsSync(adminPath)) {
        const admin = readFileSync(adminPath, 'utf8').trim();
        if (admin && (await fetch(`http://${admin}/ready`).then((r) => r.ok, () => false))) return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await Promise.race([exited, ready()]);
  return async (token) => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: `Bearer ${token}` } });
    return `${r.status} ${r.headers.get('www-authenticate') ?? ''}`.trim();
  };
}

test('PyJWT and jose tokens pass the Envoy filter; tampered ones get its 401', { timeout: 60_000 }, async (t) => {
  const ask = await envoy(t, { algorithms: [...ASYMMETRIC, ...HMAC] });
  for (const [signer, tokens] of [['PyJWT', signed.pyjwt.tokens], ['jose', signed.jose]]) {
    for (const [alg, token] of Object.entries(tokens)) {
      assert.equal(await ask(token), '200', `${signer} ${alg}`);
      assert.match(await ask(tampered(token)), /^401 .*error_description="invalid_signature"/, `${signer} ${alg} tampered`);
    }
  }
});

test('in Envoy, HMAC only where the provider lists it: PyJWT’s HS256 is refused by default', { timeout: 60_000 }, async (t) => {
  // The same key set, oct key included, without `algorithms`: every asymmetric one, no HS*.
  const ask = await envoy(t, {});
  assert.match(await ask(signed.pyjwt.tokens.HS256), /^401 .*error_description="algorithm_not_allowed"/);
  assert.equal(await ask(signed.pyjwt.tokens.ES256), '200');
});
