// What every runtime must answer alike: the browser and workerd tests compare with Node.
// Self-contained (no imports, no closures), so it can also be shipped to a page as source.

/**
 * Runs in Node and in the page alike: every answer jwtgate gives on the fixtures. `verify` is
 * asynchronous (the platform's WebCrypto is), so this is too.
 */
export async function answers(fx, { decode, expiresIn, Verifier, JwtError }) {
  const outcome = async (f) => {
    try {
      return { ok: await f() };
    } catch (e) {
      return e instanceof JwtError ? { code: e.code, claim: e.claim ?? null } : { thrown: String(e) };
    }
  };
  const each = async (items, f) => {
    const out = [];
    for (const item of items) out.push(await outcome(() => f(item)));
    return out;
  };
  const verifiers = {};
  for (const [name, v] of Object.entries(fx.variants)) verifiers[name] = new Verifier({ jwks: v.jwks, ...v.options });
  const all = new Verifier({ jwks: fx.jwks, issuer: fx.issuer, audiences: [fx.audience], algorithms: Object.keys(fx.tokens) });
  return {
    catalog: await each(fx.catalog, (c) => verifiers[c.variant].verify(c.token, { now: fx.now })),
    algorithms: await each(Object.values(fx.tokens), (t) => all.verify(t, { now: fx.now })),
    decoded: await each([fx.tokens.ES256, fx.expired, 'garbage', 'a.b.c'], (t) => decode(t)),
    expiry: await each([fx.tokens.RS256, fx.expired, fx.noExp, 'garbage'], (t) => expiresIn(t, fx.now)),
  };
}
