// A stand-in KV store for workerd's own KV binding (`kvNamespace = "kv"`), in the test process,
// kept only for what Miniflare's local KV (the real one, in hono.test.mjs) cannot do: fail. The
// fail-closed cases (503 `revocation_unavailable`) in hono.test.mjs and edge.test.mjs break it.
import { createServer } from 'node:http';

/**
 * What workerd's KV binding sends: GET for a value (404 when absent), PUT with `expiration`
 * (or `expiration_ttl`) in the query. Entries keep their expiration, so the test can check it.
 */
export async function kvService(t) {
  const entries = new Map();
  const seen = [];
  const http = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const url = new URL(req.url, 'http://kv');
    const key = decodeURIComponent(url.pathname.slice(1));
    seen.push(`${req.method} ${req.url}`);
    if (kv.down) return res.writeHead(500).end('down');
    if (req.method === 'GET') {
      const e = entries.get(key);
      return e ? res.writeHead(200).end(e.value) : res.writeHead(404).end();
    }
    if (req.method === 'PUT') {
      entries.set(key, { value: body, expiration: Number(url.searchParams.get('expiration')) });
      return res.writeHead(200).end();
    }
    res.writeHead(400).end();
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((done) => http.close(() => done(http.closeAllConnections()))));
  const kv = { port: http.address().port, entries, seen, down: false };
  return kv;
}
