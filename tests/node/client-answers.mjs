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
  const tokens = [...Object.values(fx.tokens), fx.expired, fx.noExp, 'garbage', 'a.b.c', 'x'.repeat(20000), 42, ...fx.catalog.map((c) => c.token)];
  return tokens.map((t) => [
    outcome(() => decode(t)),
    outcome(() => expiresIn(t, fx.now)),
    outcome(() => isExpired(t, { now: fx.now, leeway: 30 })),
  ]);
}
