// Project Wycheproof's vectors through the npm package's own signature path (the core's checks
// of key and form, then node:crypto or WebCrypto), with the answers the in-wasm primitives gave
// in tests/wycheproof.rs. Self-contained (no imports, no closures), so it ships to a page or a
// Worker as source.

/** The vectors of one family that did not get the in-wasm answer, and how many ran. */
export async function wycheproof(doc, { _checkSignature }) {
  const bytes = (b64url) => Uint8Array.from(atob(b64url.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const wrong = [];
  const counts = { verified: 0, refused: 0, refusedKey: 0 };
  for (const [alg, key, msg, sig, want, tcId] of doc.vectors) {
    let got;
    try {
      got = await _checkSignature(doc.keys[key], alg, bytes(msg), bytes(sig));
    } catch (e) {
      got = `threw ${e}`;
    }
    counts[got === true ? 'verified' : got === false ? 'refused' : 'refusedKey'] += 1;
    if (got !== want) wrong.push(`${doc.family} tcId ${tcId} ${alg}: in wasm ${want}, here ${got}`);
  }
  return { run: doc.vectors.length, counts, wrong };
}
