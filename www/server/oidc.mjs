// The identity provider seen from the stack and the tests: provider.mjs in a child process on
// a Node that oidc-provider 9 runs on (22 or later), whatever Node runs this; and the
// authorization code flow with PKCE as a script walks it, for tests that need tokens without
// a browser.
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';

export const CLIENT_ID = 'demo-app';
export const SCOPE = 'openid notes';

/**
 * Starts the provider for `issuer` (its URL as the browser reaches it; the provider is mounted
 * at its path) issuing access tokens for `audience`. `node` is the Node binary, `nodeModules`
 * where oidc-provider is installed, `onRevoked({jti, exp}[])` hears of each revoked grant's
 * access tokens. Resolves to { port, issuer, jwksUri, stats, set, rotate, revokeGrantOf, stop }.
 */
export async function startProvider({ node, nodeModules, issuer, audience, tokenSeconds = 20, onRevoked = () => {} }) {
  const child = fork(new URL('./provider.mjs', import.meta.url), [issuer, audience, String(tokenSeconds), nodeModules], {
    execPath: node,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const waiting = new Map();
  let next = 0;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const port = await new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.event === 'listening') resolve(m.port);
      else if (m.event === 'revoked') onRevoked(m.tokens);
      else if (waiting.has(m.id)) {
        const { ok, fail } = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.error) fail(new Error(`provider: ${m.error}`));
        else ok(m.result);
      }
    });
    exited.then((code) => reject(new Error(`the provider exited (${code}) before it listened:\n${log}`)));
  });
  // A question to a provider that has exited fails rather than waits for ever.
  let gone = null;
  exited.then((code) => {
    gone = new Error(`the provider exited (${code}):\n${log}`);
    for (const { fail } of waiting.values()) fail(gone);
    waiting.clear();
  });
  const call = (op, args) => new Promise((ok, fail) => {
    if (gone) return fail(gone);
    next += 1;
    waiting.set(next, { ok, fail });
    child.send({ id: next, op, args });
  });
  return {
    port,
    issuer,
    /** The key set as the provider publishes it (its `jwks_uri`), on its own port. */
    jwksUri: `http://127.0.0.1:${port}${new URL(issuer).pathname.replace(/\/$/, '')}/jwks`,
    log: () => log,
    /** { presented, refreshes, reuses, signIns, listReads, keys, denied } */
    stats: () => call('stats'),
    /** Changes the lifetime of access tokens issued from now on. */
    set: (settings) => call('set', settings),
    /** A new signing key, first in the published set; resolves to its kid. */
    rotate: () => call('rotate'),
    /** Revokes, at the provider's revocation endpoint, the grant that issued this jti. */
    revokeGrantOf: (jti) => call('revokeGrantOf', { jti }),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill();
        await exited;
      }
    },
  };
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/**
 * Signs in as a browser would, without one: the authorization request with PKCE at `issuer`
 * (through `origin`, where the app is served), the provider's login and consent pages, and the
 * code exchanged at the token endpoint. Resolves to { accessToken, refreshToken, expiresIn }.
 */
export async function signIn(origin, { username = 'alice', password = 'wonderland' } = {}) {
  const discovery = await (await fetch(new URL('auth/.well-known/openid-configuration', origin))).json();
  const redirectUri = new URL('callback.html', origin).href;
  const cookies = new Map();
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const go = async (url, init = {}) => {
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: jar() } });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const authorize = new URL(discovery.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope: SCOPE, state,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
  })) authorize.searchParams.set(k, v);
  let url = authorize.href;
  let body;
  for (let step = 0; step < 12; step += 1) {
    const response = await go(url, body !== undefined && { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    body = undefined;
    const location = response.headers.get('location');
    if (location) {
      await response.arrayBuffer();
      url = new URL(location, url).href;
      if (!url.startsWith(redirectUri)) continue;
      const answer = new URL(url).searchParams;
      if (answer.get('state') !== state) throw new Error('sign-in: the state came back changed');
      if (!answer.has('code')) throw new Error(`sign-in: ${answer.get('error')}: ${answer.get('error_description')}`);
      const tokens = await fetch(discovery.token_endpoint, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'authorization_code', code: answer.get('code'), redirect_uri: redirectUri, code_verifier: verifier, client_id: CLIENT_ID }),
      });
      const t = await tokens.json();
      if (!tokens.ok) throw new Error(`sign-in: token endpoint ${tokens.status}: ${JSON.stringify(t)}`);
      // `cookie`: the provider's session, for endSession.
      return { accessToken: t.access_token, refreshToken: t.refresh_token, expiresIn: t.expires_in, cookie: jar() };
    }
    // A login or consent page: its one form, filled in as the user would.
    const html = await response.text();
    const action = html.match(/<form method="post" action="([^"]+)"/)?.[1];
    if (!action) throw new Error(`sign-in: a page without the form (${response.status}): ${html.slice(0, 800)}`);
    url = new URL(action, url).href;
    body = action.endsWith('/login') ? new URLSearchParams({ username, password }).toString() : '';
  }
  throw new Error('sign-in: too many steps');
}

/**
 * Signs out at the provider as a browser would: its end-session page, confirmed. `cookie` is
 * the session a `signIn` answered with. The provider revokes the session's grants.
 */
export async function endSession(origin, cookie) {
  const discovery = await (await fetch(new URL('auth/.well-known/openid-configuration', origin))).json();
  const html = await (await fetch(discovery.end_session_endpoint, { headers: { cookie } })).text();
  const action = html.match(/<form id="op.logoutForm" method="post" action="([^"]+)"/)?.[1];
  const xsrf = html.match(/name="xsrf" value="([^"]+)"/)?.[1];
  if (!action || !xsrf) throw new Error(`sign-out: no form on the end-session page: ${html.slice(0, 800)}`);
  const response = await fetch(new URL(action, discovery.end_session_endpoint), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  await response.arrayBuffer();
  if (response.status !== 303) throw new Error(`sign-out: the provider answered ${response.status}`);
}
