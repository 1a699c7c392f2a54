// What every runtime must answer alike: the browser and workerd tests compare with Node.
// Self-contained (no imports, no closures), so it can also be shipped to a page as source.

/** Runs in Node and in the page alike: every answer jwtgate gives on the fixtures. */
export function answers(fx, { decode, expiresIn, Verifier, JwtError }) {
  const outcome = (f) => {
    try {
      return { ok: f() };
    } catch (e) {
      return e instanceof JwtError ? { code: e.code, claim: e.claim ?? null } : { thrown: String(e) };
    }
  };
  const verifiers = {};
  for (const [name, v] of Object.entries(fx.variants)) verifiers[name] = new Verifier({ jwks: v.jwks, ...v.options });
  const all = new Verifier({ jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience], algorithms: Object.keys(fx.tokens) });
  return {
    catalog: fx.catalog.map((c) => outcome(() => verifiers[c.variant].verify(c.token, { now: fx.now }))),
    algorithms: Object.values(fx.tokens).map((t) => outcome(() => all.verify(t, { now: fx.now }))),
    decoded: [fx.tokens.ES256, fx.expired, 'garbage', 'a.b.c'].map((t) => outcome(() => decode(t))),
    expiry: [fx.tokens.RS256, fx.expired, fx.noExp, 'garbage'].map((t) => outcome(() => expiresIn(t, fx.now))),
  };
}
