// Loopback plumbing the suites share: ports, waiting for a listener, child processes that die
// with the test, the Chromium launch every browser suite uses, a JWKS server and redis-server.
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createConnection, createServer } from 'node:net';

/** A port nothing listens on right now. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Resolves once something accepts connections on `port`; rejects after `ms`. */
export async function waitForPort(port, ms, what = 'the server') {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => {
        c.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** Starts `program`, collecting its output in `.log`; killed when the test ends. */
export function start(t, program, args, env = process.env) {
  const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.log = '';
  child.stdout.on('data', (d) => (child.log += d));
  child.stderr.on('data', (d) => (child.log += d));
  t.after(() => child.kill());
  return child;
}

/** Debian's Chromium, headless, with nothing that reaches for the network on its own. */
export async function launchChromium(t) {
  const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  return browser;
}

/** A JWKS server whose answer can change, that can go down and come back, and counts hits. */
export async function jwksServer(body) {
  const server = { body, status: 200, hits: 0, port: 0 };
  let http;
  server.up = () =>
    new Promise((resolve) => {
      http = createHttpServer((req, res) => {
        server.hits += 1;
        res.writeHead(server.status, { 'content-type': 'application/json', ...server.headers });
        res.end(server.body);
      });
      http.listen(server.port, '127.0.0.1', () => {
        server.port = http.address().port;
        resolve();
      });
    });
  server.down = () => new Promise((resolve) => http.close(() => resolve(http.closeAllConnections?.())));
  server.uri = () => `http://127.0.0.1:${server.port}/.well-known/jwks.json`;
  await server.up();
  return server;
}

/**
 * A loopback server whose every request goes to `handle(req, res)`, which may answer late or
 * never; counts requests, and closes (dropping what is still open) when the test ends.
 */
export async function looseServer(t, handle) {
  const server = { hits: 0 };
  const http = createHttpServer((req, res) => {
    server.hits += 1;
    handle(req, res);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.port = http.address().port;
  server.uri = (path = '/.well-known/jwks.json') => `http://127.0.0.1:${server.port}${path}`;
  t.after(() => new Promise((resolve) => {
    http.closeAllConnections();
    http.close(() => resolve());
  }));
  return server;
}

/** redis-server on a free loopback port, without persistence; stopped when the test ends. */
export async function redisServer(t) {
  const port = await freePort();
  const server = start(t, process.env.REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForPort(port, 10000, 'redis-server').catch((e) => {
    throw new Error(`${e.message}\n${server.log}`);
  });
  const stop = () =>
    new Promise((resolve) => {
      if (server.exitCode !== null || server.signalCode !== null) return resolve();
      server.once('exit', resolve);
      server.kill();
    });
  return { port, stop };
}
