// What `jwtgate/client` exports: reading tokens and keeping them fresh, for single-page apps.
// Its wasm is the same core built without key sets or verification (feature `web-client`).
export { JwtError } from './state.js';
export { decode, expiresIn, isExpired } from './token.js';
export { TokenSession } from './session.js';
