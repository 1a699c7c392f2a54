// The signature primitive in browsers and workers: WebCrypto (BoringSSL in Chromium and
// workerd), asynchronous. The core has chosen the key and checked the signature's length and
// form; this only answers whether it verifies.
const subtle = globalThis.crypto?.subtle;

/** What importKey and verify take for a JWS algorithm. */
function params(alg, crv) {
  const hash = `SHA-${alg.slice(2)}`;
  switch (alg.slice(0, 2)) {
    case 'RS':
      return [{ name: 'RSASSA-PKCS1-v1_5', hash }, { name: 'RSASSA-PKCS1-v1_5' }];
    case 'PS':
      // RFC 7518 3.5: the salt is exactly as long as the hash.
      return [{ name: 'RSA-PSS', hash }, { name: 'RSA-PSS', saltLength: Number(alg.slice(2)) / 8 }];
    case 'ES':
      // WebCrypto's ECDSA signatures are r || s (IEEE P1363), as JWS's are.
      return [{ name: 'ECDSA', namedCurve: crv }, { name: 'ECDSA', hash }];
    case 'Ed':
      return [{ name: 'Ed25519' }, { name: 'Ed25519' }];
    default:
      // HMAC: WebCrypto compares the MAC itself, in constant time.
      return [{ name: 'HMAC', hash }, { name: 'HMAC' }];
  }
}

// Not `sync` (node:crypto's): every answer is a promise.
export const webCrypto = subtle && {
  bytes: (text) => new TextEncoder().encode(text),
  b64url(text) {
    // The core checked it is strict base64url; atob takes it unpadded.
    return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  },

  importKey(alg, jwk) {
    const key = JSON.parse(jwk);
    return subtle.importKey('jwk', key, params(alg, key.crv)[0], false, ['verify']);
  },

  verify(alg, key, data, signature) {
    return subtle.verify(params(alg)[1], key, signature, data);
  },
};
