// The demo API. It sits behind Envoy and believes the x-jwt-sub header, because only requests
// whose token jwtgate verified reach it, and the filter removes that header from any request
// before it sets it.
const ITEMS = ['Water the plants', 'Rotate the signing key', 'Read RFC 8725', 'Ship jwtgate'];

export function createApi() {
  const it = { calls: 0, notes: [] };
  it.handle = async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    it.calls += 1;
    const user = req.headers['x-jwt-sub'];
    if (req.method === 'GET' && url.pathname === '/api/items') return send(200, { user, items: ITEMS }), true;
    if (req.method === 'POST' && url.pathname === '/api/notes') {
      let text = '';
      for await (const chunk of req) {
        text += chunk;
        if (text.length > 64 * 1024) return send(413, { error: 'too large' }), true;
      }
      it.notes.push({ user, text });
      return send(201, { saved: it.notes.length }), true;
    }
    return false;
  };
  return it;
}
