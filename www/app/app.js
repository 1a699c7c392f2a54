// The demo app: a draft you have not saved and a list from the API, kept working across token
// expiry by jwtgate's TokenSession. When a sign-in is needed it happens in a dialog on this
// page, so nothing on screen is lost, and the calls that were waiting complete afterwards.
// jwtgate/client: decode, expiry and the session, without key sets or signature verification.
import init, { TokenSession, expiresIn } from '/jwtgate/client.js';

await init();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let current = null;
let refreshes = 0;

const post = (path, body, signal) =>
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

const session = new TokenSession({
  // `signal` aborts when the refresh takes longer than refreshTimeoutSeconds (10 s) or the
  // session is cleared. The API is this page's origin, so no `origins` are listed.
  async refresh(refreshToken, { signal }) {
    const response = await post('/auth/refresh', { refreshToken }, signal);
    if (!response.ok) throw new Error(`the issuer refused the refresh (${response.status})`);
    return response.json();
  },
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

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const response = await post('/auth/login', { username: $('username').value, password: $('password').value });
  if (!response.ok) {
    $('login-error').textContent = 'Wrong user or password.';
    return;
  }
  const tokens = await response.json();
  current = tokens.accessToken;
  $('login-error').textContent = '';
  $('password').value = '';
  $('login').close();
  session.setTokens(tokens);
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
window.demo = { session, load, save, post, get token() { return current; } };
load().catch((e) => ($('items').textContent = e.message));
