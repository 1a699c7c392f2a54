// The whole demo on loopback: the identity provider (oidc-provider, in a child process), the
// API and the app's files, each on a port of its own, and Envoy with the jwtgate filter in
// front of all three on one origin. Used by `cargo xtask demo` and by the browser tests, which
// start and stop it themselves.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from './api.mjs';
import { startProvider } from './oidc.mjs';

/** The demo API's resource indicator: the audience of its access tokens. */
export const AUDIENCE = 'https://api.jwtgate.demo';
const APP_DIR = fileURLToPath(new URL('../app/', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

function listen(handler) {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).then((handled) => {
      if (handled === false) res.writeHead(404).end();
    }, () => res.writeHead(500).end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Files under `dir`, never outside it. */
function serveFile(dir, relative, res) {
  const file = normalize(join(dir, relative));
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep) || !existsSync(file)) return false;
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(body);
    return true;
  } catch {
    return false;
  }
}

async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    // Each check is bounded too: a fetch that never answers, or a question to a provider
    // process that died, would otherwise wait past the deadline, for ever.
    let timer;
    const late = new Promise((r) => (timer = setTimeout(r, Math.max(deadline - Date.now(), 0) + 1000)));
    const value = await Promise.race([check(), late]).catch(() => undefined).finally(() => clearTimeout(timer));
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port nothing listens on right now (Envoy's, which the issuer's URL names before it starts). */
const freePort = () =>
  new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Starts everything. `envoy` is the binary, `filter` the jwtgate .wasm, `packageDir` the npm
 * package the app imports (served at /jwtgate/), `node` a Node for oidc-provider (22 or later)
 * and `nodeModules` where it is installed; `onRevoked` hears of revoked access tokens' jtis.
 * Envoy finds the provider's keys by OIDC discovery, or with `keys: 'jwks_uri'` at the
 * `jwks_uri` named in its configuration, as jwt_authn would.
 * Resolves to { url, issuer, provider, api, envoyLog, stop }.
 */
export async function startStack({ envoy, filter, packageDir, node, nodeModules, port = 0, tokenSeconds = 20, onRevoked, keys = 'discovery' }) {
  // The issuer's identifier is its URL as the browser sees it, behind Envoy: so Envoy's port
  // is chosen first.
  const envoyPort = port || (await freePort());
  const issuer = `http://127.0.0.1:${envoyPort}/auth`;
  const provider = await startProvider({ node, nodeModules, issuer, audience: AUDIENCE, tokenSeconds, onRevoked });
  const api = createApi();
  const servers = [
    await listen(api.handle),
    await listen((req, res) => {
      const path = new URL(req.url, 'http://localhost').pathname;
      if (path.startsWith('/jwtgate/')) return serveFile(packageDir, path.slice('/jwtgate/'.length), res);
      return serveFile(APP_DIR, path === '/' ? 'index.html' : path.slice(1), res);
    }),
  ];
  const [apiPort, appPort] = servers.map((s) => s.address().port);
  const dir = mkdtempSync(join(tmpdir(), 'jwtgate-demo-'));
  const fill = { PORT: envoyPort, FILTER: filter, ISSUER: issuer, AUDIENCE, ISSUER_PORT: provider.port, API_PORT: apiPort, APP_PORT: appPort };
  let template = readFileSync(new URL('../envoy.yaml', import.meta.url), 'utf8');
  if (keys === 'jwks_uri') {
    const discovery = '"discovery": {"http_uri": {"uri": "{{ISSUER}}/.well-known/openid-configuration", "cluster": "issuer", "timeout": "2s"}}';
    if (!template.includes(discovery)) throw new Error('www/envoy.yaml no longer names the keys by discovery');
    template = template.replace(discovery, '"http_uri": {"uri": "{{ISSUER}}/jwks", "cluster": "issuer", "timeout": "2s"}');
  } else if (keys !== 'discovery') {
    throw new TypeError(`keys must be 'discovery' or 'jwks_uri', not ${keys}`);
  }
  writeFileSync(join(dir, 'envoy.yaml'), template.replace(/\{\{(\w+)\}\}/g, (_, k) => String(fill[k])));
  const adminPath = join(dir, 'admin');
  const child = spawn(envoy, ['-c', join(dir, 'envoy.yaml'), '--concurrency', '1', '--disable-hot-restart',
    '--admin-address-path', adminPath, '-l', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let envoyLog = '';
  child.stdout.on('data', (d) => (envoyLog += d));
  child.stderr.on('data', (d) => (envoyLog += d));
  const stop = async () => {
    child.kill();
    await Promise.all([provider.stop(), ...servers.map((s) => new Promise((r) => {
      s.close(r);
      s.closeAllConnections();
    }))]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const exited = new Promise((_, reject) => child.on('exit', (code) => reject(new Error(`Envoy exited (${code})`))));
    exited.catch(() => {});
    const admin = await Promise.race([exited, until('Envoy admin', 60_000, async () => existsSync(adminPath) && readFileSync(adminPath, 'utf8').trim())]);
    await Promise.race([exited, until('Envoy ready', 60_000, async () => (await fetch(`http://${admin}/ready`)).ok)]);
    // Until the filter has its first deny list it answers 503 to tokens with a jti (fail
    // closed). It reads the list every second: a second read means the first was taken in.
    await Promise.race([exited, until('Envoy reading the revocation list', 30_000, async () => (await provider.stats()).listReads >= 2)]);
    const url = `http://127.0.0.1:${envoyPort}/`;
    return { url, admin: `http://${admin}`, issuer, provider, api, envoyLog: () => envoyLog, stop };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${envoyLog}`);
  }
}
