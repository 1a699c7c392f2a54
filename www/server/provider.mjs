// The demo's identity provider: oidc-provider (an OpenID Certified implementation), configured
// for the demo API in the lines below, with a login and a consent page of our own and the
// revocation list Envoy reads. It runs in a child process of its own because oidc-provider 9
// needs Node 22 or later: www/server/oidc.mjs starts it on the Node 24 `cargo xtask` installs
// and talks to it over the IPC channel (`fork`).
//
// usage (from oidc.mjs): fork(provider.mjs, [ISSUER, AUDIENCE, TOKEN_SECONDS, NODE_MODULES])
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [issuer, audience, tokenSeconds, nodeModules] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(join(nodeModules, 'oidc-provider', 'lib', 'index.js')));
// oidc-provider's own in-memory adapter, but one store for every Provider this process builds
// (by default each gets a store of its own): a key rotation builds a new one.
const { createMemoryAdapter } = await import(pathToFileURL(join(nodeModules, 'oidc-provider', 'lib', 'adapters', 'memory_adapter.js')));
const adapter = createMemoryAdapter();

const CLIENT_ID = 'demo-app';
const USERS = { alice: 'wonderland' };
const MOUNT = new URL(issuer).pathname.replace(/\/$/, '');
const origin = new URL(issuer).origin;

const settings = { tokenSeconds: Number(tokenSeconds) };
// What the tests ask about: every refresh token presented at the token endpoint, in order, and
// how many were presented after they had been used (oidc-provider then revokes the grant).
const counts = { presented: [], refreshes: 0, reuses: 0, signIns: 0, listReads: 0 };

// The deny list. oidc-provider keeps no record of JWT access tokens (they are "issued", not
// "saved") and its revocation endpoint refuses them, so the jtis of every access token are
// kept here per grant until they expire, and a revoked grant moves its jtis to the list.
const jtisByGrant = new Map();
const denied = new Map();
const refreshTokenOfGrant = new Map();
const nowSeconds = () => Math.floor(Date.now() / 1000);
// Verifiers accept a token this long past its exp (clock skew: jwtgate's and jwt_authn's
// default), so a revoked jti stays listed until then.
const SKEW = 60;
function issued(grantId, jti, exp) {
  if (!grantId) return;
  if (!jtisByGrant.has(grantId)) jtisByGrant.set(grantId, new Map());
  jtisByGrant.get(grantId).set(jti, exp);
}
function prune() {
  const now = nowSeconds();
  for (const [jti, exp] of denied) if (exp + SKEW <= now) denied.delete(jti);
  for (const [grant, tokens] of jtisByGrant) {
    for (const [jti, exp] of tokens) if (exp + SKEW <= now) tokens.delete(jti);
    if (tokens.size === 0 && !refreshTokenOfGrant.has(grant)) jtisByGrant.delete(grant);
  }
}

const signingKey = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID().slice(0, 8), alg: 'ES256', use: 'sig' };
};
// oidc-provider signs with the first key of the algorithm and cannot change its key set once
// built, so a rotation builds a new Provider with a new first key and the old one still
// published (tokens it signed verify until they expire). Grants, sessions and refresh tokens
// live in the one memory adapter every Provider here shares, and the cookie keys stay, so a
// rotation ends no one's session.
const keys = [signingKey()];
const cookieKeys = [randomUUID()];

function build() {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      // A public client (a browser app holds no secret): PKCE, and refresh tokens that rotate.
      token_endpoint_auth_method: 'none',
      // The demo prints its 127.0.0.1 URL; a browser may be pointed at localhost instead.
      redirect_uris: [...new Set([origin, origin.replace('//127.0.0.1:', '//localhost:')])].map((o) => `${o}/callback.html`),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys },
    adapter,
    cookies: { keys: cookieKeys },
    findAccount: (_ctx, sub) => (Object.hasOwn(USERS, sub) ? { accountId: sub, claims: () => ({ sub }) } : undefined),
    claims: { openid: ['sub'] },
    scopes: ['openid', 'notes'],
    features: {
      devInteractions: { enabled: false },
      // Sign-out at the provider (an end-session): its pages in the look of the others.
      rpInitiatedLogout: {
        logoutSource: (ctx, form) => {
          ctx.body = page('Sign out?', `${form}<button id="sign-out" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.body = page('Signed out', '<p>You are signed out of the jwtgate demo.</p>');
        },
      },
      revocation: { enabled: true },
      // The access token is a JWT for the demo API: the audience Envoy and the npm package check.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== audience) throw new Provider.errors.InvalidTarget();
          return { scope: 'notes', audience, accessTokenTTL: settings.tokenSeconds, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    // Refresh tokens for the app's session without asking for offline_access: they end with
    // the sign-in session (and with the grant).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // A demo's day: the sign-in session, the grant and its refresh tokens last 8 hours.
    ttl: { AccessToken: () => settings.tokenSeconds, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600, RefreshToken: 8 * 3600 },
    interactions: { url: (_ctx, interaction) => `${MOUNT}/interaction/${interaction.uid}` },
    routes: { authorization: '/authorize' },
    // Every JWT access token passes here with its grant and its payload as it will be signed:
    // its jti and exp, exactly, are noted for the deny list. (The `access_token.issued` event
    // has the grant and jti too, but not the exp, which only the payload holds.)
    formats: { customizers: { jwt: (_ctx, token, { payload }) => issued(token.grantId, payload.jti, payload.exp) } },
  });
  provider.on('refresh_token.saved', (token) => refreshTokenOfGrant.set(token.grantId, token.jti));
  // The revocation endpoint (a refresh token), a reused refresh token and an end-session all
  // end here.
  provider.on('grant.revoked', (_ctx, grantId) => {
    const tokens = jtisByGrant.get(grantId) ?? new Map();
    for (const [jti, exp] of tokens) denied.set(jti, exp);
    jtisByGrant.delete(grantId);
    refreshTokenOfGrant.delete(grantId);
    process.send?.({ event: 'revoked', tokens: [...tokens].map(([jti, exp]) => ({ jti, exp })) });
  });
  provider.on('grant.error', (_ctx, error) => {
    if (error.error_detail === 'refresh token already used') counts.reuses += 1;
  });
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params.grant_type === 'refresh_token') counts.refreshes += 1;
    else counts.signIns += 1;
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token') {
      counts.presented.push(ctx.oidc.params.refresh_token);
    }
  });
  return { provider, handle: provider.callback() };
}
let current = build();

const page = (title, body) => `<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font:16px system-ui;max-width:22rem;margin:3rem auto}label,button{display:block;margin:.6rem 0}</style>
<h1>${title}</h1>${body}</html>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function formBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('too large');
  }
  return new URLSearchParams(text);
}

// The login and consent pages: GET shows the page the interaction's prompt asks for, POST
// .../login checks the password, POST .../consent grants what the app asked for.
async function interaction(req, res, uid, action) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  const html = (status, body) => res.writeHead(status, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end(body);
  const login = (error = '') => html(200, page('Sign in', `<form method="post" action="${MOUNT}/interaction/${uid}/login">
<label>User <input name="username" value="alice" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" autofocus></label>
<p class="hint">alice / wonderland</p><p role="alert">${escape(error)}</p>
<button id="sign-in" type="submit">Sign in</button></form>`));
  if (req.method === 'GET' && action === undefined) {
    if (prompt.name === 'login') return login();
    return html(200, page('Allow access?', `<p>The jwtgate demo app asks to read and save your notes.</p>
<form method="post" action="${MOUNT}/interaction/${uid}/consent"><button id="allow" type="submit">Allow</button></form>`));
  }
  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = await formBody(req);
    const username = form.get('username') ?? '';
    if (!Object.hasOwn(USERS, username) || USERS[username] !== form.get('password')) return login('Wrong user or password.');
    return provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'consent' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return html(400, page('Not now', `<p>This step of the sign-in (${escape(action ?? 'the page')}) is not the one the
provider waits for (${escape(prompt.name)}): start again from the app.</p>`));
}

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  const step = path.match(/^\/auth\/interaction\/([\w-]+)(?:\/(login|consent))?$/);
  const done = (e) => {
    if (!res.headersSent) res.writeHead(e ? 400 : 404, { 'content-type': 'text/plain' });
    res.end(e ? 'bad request' : 'not found');
  };
  if (step) return void interaction(req, res, step[1], step[2]).catch(done);
  if (req.method === 'GET' && path === '/auth/revoked') {
    prune();
    counts.listReads += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    return void res.end(JSON.stringify({ revoked: [...denied.keys()] }));
  }
  if (!path.startsWith('/auth/')) return void done();
  // Mounted under /auth, as `app.use('/auth', provider.callback())` would: oidc-provider
  // builds its URLs from originalUrl minus url.
  req.originalUrl = req.url;
  req.url = req.url.slice(MOUNT.length);
  return void current.handle(req, res);
});

// Requests from oidc.mjs over the IPC channel: { id, op, ...args } -> { id, result | error }.
const ops = {
  stats: () => ({ ...counts, keys: keys.map((k) => k.kid), denied: [...denied.keys()] }),
  set: ({ tokenSeconds: seconds }) => {
    settings.tokenSeconds = seconds;
    return settings;
  },
  rotate: () => {
    keys.unshift(signingKey());
    keys.length = Math.min(keys.length, 2);
    current = build();
    return keys[0].kid;
  },
  // An administrator revoking a user's grant: the grant's refresh token goes to the
  // provider's own revocation endpoint, as any client would send it.
  revokeGrantOf: async ({ jti }) => {
    const grant = [...jtisByGrant].find(([, tokens]) => tokens.has(jti))?.[0];
    const token = refreshTokenOfGrant.get(grant);
    if (!token) throw new Error(`no grant with a refresh token issued ${jti}`);
    const response = await fetch(`http://127.0.0.1:${server.address().port}${MOUNT}/token/revocation`, {
      method: 'POST',
      body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }),
    });
    if (!response.ok) throw new Error(`revocation endpoint: ${response.status} ${await response.text()}`);
    return grant;
  },
};
process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, result: await ops[op](args ?? {}) });
  } catch (e) {
    process.send({ id, error: String(e?.stack ?? e) });
  }
});
// The parent going away ends this process too.
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send({ event: 'listening', port: server.address().port }));
