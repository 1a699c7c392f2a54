// The demo app: a draft you have not saved and a list from the API, kept working across token
// expiry by jwtgate's TokenSession. When a sign-in is needed it happens from a dialog on this
// page: the authorization code flow with PKCE at the identity provider (oidc-provider, under
// /auth) in a popup, so this page never navigates, nothing on screen is lost, and the calls
// that were waiting complete afterwards.
// jwtgate/client: decode, expiry and the session, without key sets or signature verification.
import init, { TokenSession, expiresIn } from '/jwtgate/client.js';

await init();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let current = null;
let refreshes = 0;

const CLIENT_ID = 'demo-app';
const REDIRECT_URI = new URL('/callback.html', location.href).href;
// The provider's endpoints, from its discovery document.
const provider = await (await fetch('/auth/.well-known/openid-configuration')).json();

/** The token endpoint (a public client: no secret), answering { accessToken, refreshToken }. */
async function token(fields, signal) {
  const response = await fetch(provider.token_endpoint, { method: 'POST', body: new URLSearchParams({ ...fields, client_id: CLIENT_ID }), signal });
  if (!response.ok) throw new Error(`the provider refused (${response.status})`);
  const answer = await response.json();
  return { accessToken: answer.access_token, refreshToken: answer.refresh_token };
}

const session = new TokenSession({
  // `signal` aborts when the refresh takes longer than refreshTimeoutSeconds (10 s) or the
  // session is cleared. The API is this page's origin, so no `origins` are listed. Each
  // refresh token works once: the provider answers with the next one.
  refresh: (refreshToken, { signal }) => token({ grant_type: 'refresh_token', refresh_token: refreshToken }, signal),
  storage: params.get('storage') ?? 'session',
  storageKey: 'jwtgate-demo',
  onAuthRequired: () => {
    if (!$('login').open) $('login').showModal();
  },
});
session.addEventListener('refreshed', (e) => {
  current = e.detail.accessToken;
  refreshes += 1;
  // Another tab signed in for this one (shared storage): the dialog here has done its job.
  if ($('login').open) $('login').close();
});
session.addEventListener('cleared', () => (current = null));

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * The authorization code flow with PKCE in a popup: the provider's login and consent pages
 * open there, and callback.html hands the code back to this page, which never navigates.
 */
async function signIn() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL(provider.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid notes', state,
    code_challenge: challenge, code_challenge_method: 'S256',
  });
  const popup = window.open(url, 'jwtgate-sign-in', 'popup,width=480,height=640');
  if (!popup) throw new Error('the browser blocked the sign-in window');
  const params = await new Promise((resolve, reject) => {
    const closed = setInterval(() => popup.closed && (cleanup(), reject(new Error('the sign-in window was closed'))), 500);
    const onMessage = (e) => {
      if (e.origin !== location.origin || e.source !== popup || e.data?.type !== 'jwtgate-sign-in') return;
      cleanup();
      resolve(new URLSearchParams(e.data.search));
    };
    const cleanup = () => {
      clearInterval(closed);
      removeEventListener('message', onMessage);
    };
    addEventListener('message', onMessage);
  });
  popup.close();
  if (params.get('state') !== state) throw new Error('the sign-in answer is not for this request');
  if (!params.has('code')) throw new Error(params.get('error_description') ?? params.get('error') ?? 'no code');
  return token({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: REDIRECT_URI, code_verifier: verifier });
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    const tokens = await signIn();
    current = tokens.accessToken;
    $('login').close();
    session.setTokens(tokens);
  } catch (error) {
    $('login-error').textContent = `Not signed in: ${error.message}.`;
  }
});

async function load() {
  const response = await session.fetch('/api/items');
  current = await session.accessToken();
  if (!response.ok) throw new Error(`the API answered ${response.status}`);
  const { user, items } = await response.json();
  $('items').replaceChildren(...items.map((text) => Object.assign(document.createElement('li'), { textContent: `${text} (${user})` })));
  return response.status;
}

async function save() {
  const response = await session.fetch('/api/notes', { method: 'POST', body: $('draft').value });
  $('saved').textContent = response.ok ? 'Saved.' : `Not saved (${response.status}).`;
  return response.status;
}

function status() {
  let left = null;
  try {
    left = current && expiresIn(current);
  } catch {
    // An unreadable token shows as none.
  }
  $('status').textContent = current
    ? `token expires in ${Math.max(0, Math.round(left))} s · ${refreshes} refreshes`
    : 'signed out';
}

$('reload').addEventListener('click', () => load().catch((e) => ($('items').textContent = e.message)));
$('save').addEventListener('click', () => save());
setInterval(status, 1000);
status();
// The tests drive the app through this.
window.demo = { session, load, save, get token() { return current; } };
load().catch((e) => ($('items').textContent = e.message));
