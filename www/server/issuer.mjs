// The demo's token issuer: sign-in, rotating refresh tokens, a JWKS with key rotation, and a
// jti revocation list for Envoy. It exists for the demo and the tests: jwtgate verifies tokens,
// it never issues production ones.
//
// Refresh tokens rotate as OAuth 2.0 Security BCP recommends: each is good once, and a second
// use of one is taken as theft, so its whole family (everything issued since the sign-in) is
// revoked. That is the behaviour that makes two tabs sharing a refresh token dangerous, and
// why the tests count every refresh token this issuer is sent.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export const USERS = { alice: 'wonderland' };

export function createIssuer({ issuer, audience, tokenSeconds = 20 }) {
  const it = {
    issuer,
    audience,
    /** Lifetime of new access tokens; tests change it. */
    tokenSeconds,
    /** When set, every refresh is refused (an outage of the sign-in service). */
    failRefresh: false,
    /** Every refresh token presented, in order: none may appear twice. */
    presented: [],
    refreshes: 0,
    /** Refresh tokens presented a second time. */
    reuses: 0,
    logins: 0,
    revoked: new Set(),
    keys: [],
    refreshTokens: new Map(),
    deadFamilies: new Set(),
  };

  it.rotate = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID().slice(0, 8);
    it.keys.unshift({ kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } });
    // The previous key stays published so tokens signed with it verify until they expire.
    it.keys.length = Math.min(it.keys.length, 2);
  };
  it.rotate();

  it.mint = (sub) => {
    const [key] = it.keys;
    const iat = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: audience, sub, iat, exp: iat + it.tokenSeconds, jti: randomUUID(), scope: 'notes' };
    const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: key.kid })}.${b64(claims)}`;
    const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };

  const refreshToken = (family, sub) => {
    const token = randomUUID();
    it.refreshTokens.set(token, { family, sub, used: false });
    return token;
  };

  const pair = (sub, family) => ({ accessToken: it.mint(sub), refreshToken: refreshToken(family, sub), expiresIn: it.tokenSeconds });

  it.login = (username, password) => {
    if (!Object.hasOwn(USERS, username) || USERS[username] !== password) return null;
    it.logins += 1;
    return pair(username, randomUUID());
  };

  it.refresh = (token) => {
    it.presented.push(token);
    const entry = it.refreshTokens.get(token);
    if (it.failRefresh || !entry || it.deadFamilies.has(entry.family)) return null;
    if (entry.used) {
      it.reuses += 1;
      it.deadFamilies.add(entry.family);
      return null;
    }
    entry.used = true;
    it.refreshes += 1;
    return pair(entry.sub, entry.family);
  };

  /** Revokes an access token by its jti; Envoy learns of it at its next list refresh. */
  it.revoke = (accessToken) => {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString() || '{}');
    if (typeof payload.jti === 'string') it.revoked.add(payload.jti);
  };

  /** Answers the issuer's HTTP routes (under /auth); false for any other path. */
  it.handle = async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    const body = async () => {
      let text = '';
      for await (const chunk of req) {
        text += chunk;
        if (text.length > 16 * 1024) throw new Error('too large');
      }
      return JSON.parse(text || '{}');
    };
    const route = `${req.method} ${url.pathname}`;
    try {
      if (route === 'GET /auth/jwks') return send(200, { keys: it.keys.map((k) => k.jwk) }), true;
      if (route === 'GET /auth/revoked') return send(200, { revoked: [...it.revoked] }), true;
      if (route === 'POST /auth/login') {
        const { username, password } = await body();
        const tokens = it.login(username, password);
        return send(tokens ? 200 : 401, tokens ?? { error: 'invalid_credentials' }), true;
      }
      if (route === 'POST /auth/refresh') {
        const { refreshToken: token } = await body();
        const tokens = typeof token === 'string' ? it.refresh(token) : null;
        return send(tokens ? 200 : 400, tokens ?? { error: 'invalid_grant' }), true;
      }
      if (route === 'POST /auth/revoke') {
        const { accessToken } = await body();
        if (typeof accessToken === 'string') it.revoke(accessToken);
        return send(204), true;
      }
      if (route === 'POST /auth/rotate') return it.rotate(), send(204), true;
    } catch {
      return send(400, { error: 'invalid_request' }), true;
    }
    return false;
  };
  return it;
}
