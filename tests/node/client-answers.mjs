// What jwtgate/client must answer as jwtgate does: decode, expiresIn and isExpired on every
// fixture token. No imports, and no closures but `slowNumberTokens` (below), so it can ship to a
// Worker or a page.

export function clientAnswers(fx, { decode, expiresIn, isExpired, JwtError }) {
  const outcome = (f) => {
    try {
      return { ok: f() };
    } catch (e) {
      return { name: e.name, code: e instanceof JwtError ? e.code : null };
    }
  };
  const tokens = [...Object.values(fx.tokens), fx.expired, fx.noExp, 'garbage', 'a.b.c', 'x'.repeat(20000), 42, 'a.\ud800.c', `${fx.tokens.ES256}\udc00`, `\ud83d${fx.tokens.ES256}`, ...fx.catalog.map((c) => c.token), ...slowNumberTokens()];
  return tokens.map((t) => [
    outcome(() => decode(t)),
    outcome(() => expiresIn(t, fx.now)),
    outcome(() => isExpired(t, { now: fx.now, leeway: 30 })),
  ]);
}

/**
 * What a TokenSession answers through a run that passes every kind of text to its core and
 * back: tokens and refresh tokens of any Unicode and of growing and shrinking sizes, a stored
 * copy, a refresh, refusals. Self-contained, as `clientAnswers` is.
 */
export async function sessionAnswers({ TokenSession, JwtError }) {
  const b64 = (o) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const token = (exp, extra = {}) => `${b64({ alg: 'ES256', kid: 'k' })}.${b64({ exp, ...extra })}.c2ln`;
  const t = Math.floor(Date.now() / 1000);
  const out = [];
  const outcome = (f) => {
    try {
      return f();
    } catch (e) {
      return { name: e.name, code: e instanceof JwtError ? e.code : null };
    }
  };
  const stored = new Map();
  const storage = {
    getItem: (k) => stored.get(k) ?? null,
    setItem: (k, v) => stored.set(k, v),
    removeItem: (k) => stored.delete(k),
  };
  // The stored copy, with whether it holds `access` rather than the tokens and time, which
  // differ from run to run.
  const copy = (access) => {
    const text = stored.get('jwtgate');
    if (text === undefined) return null;
    const { accessToken, refreshToken, receivedAt } = JSON.parse(text);
    return { access: accessToken === access, refreshToken, timed: typeof receivedAt === 'number' };
  };
  const fresh = token(t + 3600, { name: 'Zoë 😀 ✓', sub: 'ü'.repeat(300) });
  const refreshes = [];
  const s = new TokenSession({
    refresh: async (r) => {
      refreshes.push(r);
      return { accessToken: fresh, refreshToken: `r${refreshes.length}-ё😀\u0000` };
    },
    storage,
  });
  out.push(outcome(() => s.setTokens({ accessToken: token(t - 10, { name: 'é' }), refreshToken: 'r0-é\ud800x' })));
  out.push((await s.accessToken()) === fresh, [...refreshes], copy(fresh));
  // Restored by a second session: no refresh.
  const again = new TokenSession({ refresh: async () => ({ accessToken: 'never' }), storage });
  out.push((await again.accessToken()) === fresh);
  again.close();
  // Refused by a server: the next call refreshes with the refresh token the refresh gave.
  s.tokenRejected(fresh);
  out.push((await s.accessToken()) === fresh, [...refreshes], copy(fresh));
  // Refusals, then tokens of every size up to the limit and back, each read back whole.
  out.push(outcome(() => s.setTokens({ accessToken: 'a.b' })), outcome(() => s.setTokens({ accessToken: 'é'.repeat(20000) })));
  for (let i = 0; i < 60; i += 1) {
    const size = i < 30 ? i * 400 : (60 - i) * 37;
    const access = token(t + 3600 + i, { pad: (i % 3 ? 'x' : 'ж').repeat(size) });
    const refresh = i % 2 ? `${'😀'.repeat(i)}-${i}` : undefined;
    const set = outcome(() => s.setTokens({ accessToken: access, refreshToken: refresh }));
    out.push([set ?? 'ok', (await s.accessToken()) === access, copy(access)]);
  }
  s.clear();
  s.close();
  out.push(copy(fresh));
  return out;
}

// Tokens (unsigned) with numbers past the parser's fast path, which the wasm has the engine
// convert: a long `exp`, one past the largest double (malformed), and 31 and 32 of them beside
// `exp` in one payload (32 are allowed).
export function slowNumberTokens() {
  const b64url = (s) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const slow = (n) => `[${Array(n).fill('1.00000000000000000001').join(',')}]`;
  return [
    '{"exp":1700000000.000000000000000000000000000001}',
    '{"exp":17976931348623157e292,"iat":1.7976931348623159e308}',
    `{"exp":4102444800.00000000000000000001,"n":${slow(31)}}`,
    `{"exp":4102444800.00000000000000000001,"n":${slow(32)}}`,
  ].map((payload) => `eyJhbGciOiJFUzI1NiJ9.${b64url(payload)}.c2ln`);
}
