/**
 * jwtgate/client: reading tokens and keeping them fresh in a single-page app, without key sets
 * or signature verification (an SPA does not verify the tokens it sends; the API does). The
 * same Rust core as `jwtgate`, built without them: a fraction of the size.
 *
 * In Node and in workers it is ready on import. In browsers and bundlers, `await init()` once.
 */
export {
  decode,
  expiresIn,
  isExpired,
  TokenSession,
  JwtError,
  type JwtErrorCode,
  type Claims,
  type Header,
  type TokenPair,
  type TokenSessionOptions,
  type TokenSessionEventMap,
} from './jwtgate.js';

/**
 * Loads the client's wasm core (browsers and bundlers). Idempotent (a load that failed is tried
 * again). `input` may be a URL, a Request, a Response (or a promise of one, as `fetch` gives),
 * bytes or a WebAssembly.Module; by default the .wasm beside the package's JS.
 */
export default function init(input?: RequestInfo | URL | Response | Promise<Response> | BufferSource | WebAssembly.Module): Promise<void>;
