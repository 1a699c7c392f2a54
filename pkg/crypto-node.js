// The signature primitive in Node: node:crypto (OpenSSL), synchronous. The core has chosen the
// key and checked the signature's length and form; this only answers whether it verifies.
import { constants, createHmac, createPublicKey, createSecretKey, timingSafeEqual, verify } from 'node:crypto';

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

export const nodeCrypto = {
  sync: true,
  // The core checked both: the signing input is ASCII, the signature strict base64url.
  bytes: (text) => Buffer.from(text, 'latin1'),
  b64url: (text) => Buffer.from(text, 'base64url'),

  importKey(alg, jwk) {
    const key = JSON.parse(jwk);
    return key.kty === 'oct' ? createSecretKey(Buffer.from(key.k, 'base64url')) : createPublicKey({ key, format: 'jwk' });
  },

  verify(alg, key, data, signature) {
    const hash = HASH[alg.slice(2)];
    switch (alg.slice(0, 2)) {
      case 'RS':
        return verify(hash, data, key, signature);
      case 'PS':
        // RFC 7518 3.5: the salt is exactly as long as the hash; OpenSSL checks a set length.
        return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, signature);
      case 'ES':
        // JWS signatures are r || s (IEEE P1363), never DER.
        return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'Ed':
        return verify(null, data, key, signature);
      case 'HS':
        // Lengths are equal: the core checked the signature is as long as the hash.
        return timingSafeEqual(createHmac(hash, key).update(data).digest(), signature);
      default:
        return false;
    }
  },
};
