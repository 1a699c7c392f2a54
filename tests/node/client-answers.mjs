// What jwtgate/client must answer as jwtgate does: decode, expiresIn and isExpired on every
// fixture token. Self-contained (no imports, no closures), so it can ship to a Worker.

export function clientAnswers(fx, { decode, expiresIn, isExpired, JwtError }) {
  const outcome = (f) => {
    try {
      return { ok: f() };
    } catch (e) {
      return { name: e.name, code: e instanceof JwtError ? e.code : null };
    }
  };
  const tokens = [...Object.values(fx.tokens), fx.expired, fx.noExp, 'garbage', 'a.b.c', 'x'.repeat(20000), 42, ...fx.catalog.map((c) => c.token), ...slowNumberTokens()];
  return tokens.map((t) => [
    outcome(() => decode(t)),
    outcome(() => expiresIn(t, fx.now)),
    outcome(() => isExpired(t, { now: fx.now, leeway: 30 })),
  ]);
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
