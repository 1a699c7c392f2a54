// Vectors exported by the Rust tests, replayed through the npm package with the answers the
// core gave there with its in-wasm primitives (the Envoy filter's). Self-contained (no
// imports, no closures), so it ships to a page or a Worker as source.
//
// Two kinds of document: Wycheproof families (tests/wycheproof.rs), each vector a signature
// over bytes, checked through the package's own signature path (the core's checks of key and
// form, then node:crypto or WebCrypto); and token cases (the RFC 7515 / 7520 examples and
// jwt_verify_lib's vectors), each a key set, Verifier options, a token and a time.

/** The answers of one document that differ from the in-wasm ones, and how many ran. */
export async function replay(doc, { _checkSignature, Verifier, JwtError }) {
  const wrong = [];
  const counts = {};
  const tally = (got, want, what) => {
    counts[got] = (counts[got] ?? 0) + 1;
    if (got !== want) wrong.push(`${doc.family} ${what}: in wasm ${want}, here ${got}`);
  };
  if (doc.cases) {
    for (const c of doc.cases) {
      let got;
      try {
        await new Verifier({ jwks: c.jwks, ...c.options }).verify(c.token, { now: c.now });
        got = 'ok';
      } catch (e) {
        got = e instanceof JwtError ? e.code : `threw ${e}`;
      }
      tally(got, c.want, c.name);
    }
    return { run: doc.cases.length, counts, wrong };
  }
  const bytes = (b64url) => Uint8Array.from(atob(b64url.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  for (const [alg, key, msg, sig, want, tcId] of doc.vectors) {
    let got;
    try {
      got = await _checkSignature(doc.keys[key], alg, bytes(msg), bytes(sig));
    } catch (e) {
      got = `threw ${e}`;
    }
    tally(String(got), String(want), `tcId ${tcId} ${alg}`);
  }
  return { run: doc.vectors.length, counts, wrong };
}
