/**
 * jwtgate: strict JSON Web Token verification, compiled from Rust to WebAssembly.
 *
 * In Node and in workers it is ready on import. In browsers and bundlers, `await init()` once
 * (it is idempotent, and harmless where not needed).
 */

/** Every code a JwtError can carry. */
export type JwtErrorCode =
  | 'malformed'
  | 'too_large'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'invalid_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'revoked'
  | 'jwks_unavailable'
  | 'missing_token'
  | 'insufficient_claims'
  | 'revocation_unavailable';

/** A token, key set or fetch refused; `code` is stable, `message` is for people. */
export class JwtError extends Error {
  readonly name: 'JwtError';
  readonly code: JwtErrorCode;
  /** The claim at fault, where there is one (`exp` for `expired`, `aud` for `invalid_audience`, …). */
  readonly claim?: string;
}

export type Algorithm =
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384'
  | 'EdDSA'
  | 'HS256' | 'HS384' | 'HS512';

/** A JSON Web Key (RFC 7517), as an identity provider publishes it. */
export interface Jwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
}

/** A JSON Web Key Set. */
export interface Jwks {
  keys: Jwk[];
}

/** The registered claims, and whatever else the issuer put in. */
export interface Claims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

export interface Header {
  alg: string;
  kid?: string;
  typ?: string;
  [parameter: string]: unknown;
}

/**
 * What a token must satisfy besides its signature. Options are read by property access, once
 * each, so a class with getters or an object made with `Object.create(defaults)` works; an
 * enumerable name that is not an option (own or inherited: `audience` for `audiences`, or
 * `toJSON`) is a TypeError, as is a value of the wrong type, `NaN` or `Infinity`, or an object
 * where a string belongs (a URL, a String object, anything with `toJSON`, which is never called).
 */
export interface VerifyOptions {
  /** `iss` must equal this. Left out, the issuer is not checked; `null` is a TypeError. */
  issuer?: string;
  /**
   * `aud` must name one of these. Left out, the audience is not checked; an empty array, an
   * empty name or `null` is a TypeError, never "any audience".
   */
  audiences?: string | string[];
  /** Accepted algorithms; by default every asymmetric one. HS256/384/512 only when listed. */
  algorithms?: Algorithm[];
  /** Tolerance for `exp` and `nbf`, in whole seconds (default 60, at most 86400). */
  clockSkewSeconds?: number;
  /** Refuse tokens without `exp` (default true). */
  requireExpiration?: boolean;
  /** The longest token accepted, in bytes (default 16384, at most 1048576); a longer string is refused before it is copied into wasm. */
  maxTokenBytes?: number;
  /**
   * Claims that must be present (an array of names), or the values they must hold (an object,
   * as the Envoy filter's `requires_claims`): `{ role: 'admin' }`, `{ roles: ['admin', 'ops'] }`
   * (any of these). A claim name may be a dotted path (`realm_access.roles`). Values are
   * compared whole; an array claim holds a value it contains; only `scope`, `scp` and the
   * `spaceDelimitedClaims` are split on spaces. A named claim absent: `missing_claim` (HTTP
   * 401); a value unmet, absent included: `insufficient_claims` (HTTP 403).
   */
  requiredClaims?: string[] | ClaimRequirements;
  /** Claims besides `scope` and `scp` whose string is a space-delimited list for `requiredClaims`. */
  spaceDelimitedClaims?: string[];
}

/** Claim (or dotted path) -> the value it must hold, or a list of which it must hold one. */
export type ClaimRequirements = Record<string, ClaimValue | ClaimValue[]>;
export type ClaimValue = string | number | boolean | unknown[];

/** What `authenticate` reads, on a verifier's options or per call. */
export interface AuthenticateSettings {
  /**
   * Asked after the signature and claims pass, for a token with a `jti`: true refuses it
   * (401 `revoked`); a throw, a rejection or an answer that is not a boolean refuses it too
   * (503 `revocation_unavailable`). `jwtgate/revocation` has adapters for Workers KV and Redis.
   */
  revoked?: (jti: string, claims: Claims) => boolean | Promise<boolean>;
  /** The challenge's realm (default: the request URL without its query, as the Envoy filter). */
  realm?: string;
  /** Also take the token from this cookie (off by default). */
  cookie?: string;
  /** Also take the token from this query parameter (off by default; RFC 6750 section 2.3). */
  query?: string;
}

/** Per call: the settings, and requirements for this call only (checked besides the verifier's). */
export interface AuthenticateOptions extends AuthenticateSettings {
  requiredClaims?: string[] | ClaimRequirements;
  spaceDelimitedClaims?: string[];
  /** Seconds since the epoch, for tests. */
  now?: number;
  /** Handed a background key refresh (RemoteVerifier): in Workers `ctx.waitUntil.bind(ctx)`. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * The response jwtgate's Envoy filter gives for a refusal with this code: status, challenge
 * (`Bearer realm="<realm>", error=…, error_description="<code>"`), `text/plain` body `<code>\n`.
 * For a check of your own after `authenticate`, so every refusal looks alike.
 */
export function refusal(code: JwtErrorCode, realm: string): Response;

/** A request's verified claims, or the response refusing it. */
export type Authenticated = { claims: Claims; response?: undefined } | { response: Response; claims?: undefined };

export interface VerifierOptions extends VerifyOptions, AuthenticateSettings {
  /** The key set: a JWKS object or its JSON text. */
  jwks: Jwks | string;
}

/**
 * Where the keys are: `jwksUri`, or, without it, the `jwks_uri` of the issuer's discovery
 * document (`<issuer>/.well-known/openid-configuration`, then RFC 8414's
 * `/.well-known/oauth-authorization-server<path>` if that is 404), read only from a document
 * whose `issuer` is exactly `issuer`, and only an https `jwks_uri` (http only on a loopback
 * host, for an http issuer there).
 */
export type RemoteVerifierOptions = RemoteVerifierSettings &
  ({ jwksUri: string | URL } | { jwksUri?: undefined; issuer: string });

export interface RemoteVerifierSettings extends VerifyOptions, AuthenticateSettings {
  /** Where the key set is published; leave it out to discover it from `issuer`. */
  jwksUri?: string | URL;
  /**
   * How long a fetched key set (and discovery document) is fresh, in seconds (default 600).
   * Once stale, it keeps serving while a refresh runs in the background.
   */
  cacheSeconds?: number;
  /** The least time between two re-fetches caused by an unknown `kid`, in seconds (default 30). */
  cooldownSeconds?: number;
  /**
   * The longest a key set fetch may take, body included, in seconds (default 5, at most
   * 2147483, what setTimeout can hold); then it is aborted and counts as failed. Reading a
   * shared copy from `cache` is bounded by it too.
   */
  fetchTimeoutSeconds?: number;
  /**
   * After a failed fetch, no new one for this many seconds (default 1, at most 30), doubling
   * with each failure in a row up to 30; 0 retries at the next call.
   */
  retrySeconds?: number;
  /**
   * How long keys may serve past `cacheSeconds` while the issuer cannot be reached, in seconds
   * (default 86400, a day; at most 2592000, 30 days); then they are dropped and `verify` rejects with `jwks_unavailable`
   * until a fetch succeeds. The same bound applies to the shared copy in `cache`.
   */
  maxStaleSeconds?: number;
  /**
   * The fetch to use (default `globalThis.fetch`). It is passed `redirect: 'manual'` (a redirect
   * is refused, not followed) and an AbortSignal for the timeout. An answer that followed a
   * redirect anyway (`redirected`, or a `url` other than `jwksUri`) is refused.
   */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /**
   * Where fetched key sets are shared beyond this verifier, keyed by their URL (a discovery
   * document by its OIDC URL): by default
   * `caches.default` where there is one (Cloudflare Workers, workerd), so a new isolate starts
   * with the keys; elsewhere none. Any Cache API object will do (`await caches.open('jwks')`);
   * `false` keeps the keys in this verifier's memory only.
   */
  cache?: KeyCache | false;
}

/** What RemoteVerifier needs of a cache: the Cache API's three methods. */
export interface KeyCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/** The header and payload of a token, decoded but NOT verified: never an access decision. */
export function decode(token: string): { header: Header; payload: Claims };

/** Seconds from `now` (default: the clock) until `exp`, negative once past; null without `exp`. Throws JwtError for a token it cannot read, TypeError for a `now` that is not a finite number. */
export function expiresIn(token: string, now?: number): number | null;

/**
 * Whether the token has expired, or will within `leeway` seconds (default 0): pass the time a
 * request needs. A token without `exp` never expires; one that cannot be read counts as expired.
 * A `now` or `leeway` that is not a finite number (0 or more) is a TypeError.
 */
export function isExpired(token: string, options?: { leeway?: number; now?: number }): boolean;

/**
 * Verifies tokens against a key set you hold. The core (wasm) parses the token, applies the
 * algorithm policy, chooses the key and checks the signature's form and the claims; the
 * runtime's own cryptography checks the signature: node:crypto in Node, WebCrypto in browsers
 * (a secure context: https or localhost) and workers.
 */
export class Verifier {
  /** Throws JwtError (`jwks_unavailable`) for an unusable key set, TypeError for bad options. */
  constructor(options: VerifierOptions);
  /** Resolves to the verified claims; rejects with JwtError. `now` is in seconds since the epoch: a number, or a TypeError (as a rejection). */
  verify(token: string, options?: { now?: number }): Promise<Claims>;
  /**
   * Node only, where node:crypto verifies synchronously: the verified claims, or a thrown
   * JwtError; the same answers as `verify`. Elsewhere it throws a TypeError.
   */
  verifySync(token: string, options?: { now?: number }): Claims;
  /**
   * The request's bearer token (the `Authorization` header, scheme in any case; a cookie or
   * query parameter only where configured), verified: `{ claims }`, or `{ response }` with the
   * status, `WWW-Authenticate` challenge and body jwtgate's Envoy filter sends for the same
   * refusal (401 bare challenge without a token, 401 `invalid_token`, 403 `insufficient_scope`,
   * 503). Rejects only for the caller's mistakes (TypeError).
   */
  authenticate(request: Request, options?: AuthenticateOptions): Promise<Authenticated>;
}

/**
 * Verifies tokens against a key set fetched from `jwksUri` or found by OIDC discovery: cached,
 * refreshed, re-fetched on rotation.
 */
export class RemoteVerifier {
  /** Throws TypeError for bad options. */
  constructor(options: RemoteVerifierOptions);
  /**
   * The verified claims; rejects with JwtError. Concurrent calls share one fetch; stale keys
   * serve while a refresh runs in the background; an unknown `kid` triggers one re-fetch per
   * cooldown; when a refresh fails the last keys serve on. `waitUntil` is handed the promise of
   * a background refresh: in Workers pass `ctx.waitUntil.bind(ctx)`, so it may outlive the
   * response.
   */
  verify(token: string, options?: { now?: number; waitUntil?: (promise: Promise<unknown>) => void }): Promise<Claims>;
  /**
   * The request's bearer token (the `Authorization` header, scheme in any case; a cookie or
   * query parameter only where configured), verified: `{ claims }`, or `{ response }` with the
   * status, `WWW-Authenticate` challenge and body jwtgate's Envoy filter sends for the same
   * refusal (401 bare challenge without a token, 401 `invalid_token`, 403 `insufficient_scope`,
   * 503). Rejects only for the caller's mistakes (TypeError).
   */
  authenticate(request: Request, options?: AuthenticateOptions): Promise<Authenticated>;
}

/** What the app's `refresh` resolves to: a new access token, and a new refresh token if the issuer rotates them. */
export interface TokenPair {
  accessToken: string;
  refreshToken?: string | null;
}

/** Read by property access (getters and prototypes count); an unknown enumerable name is a TypeError. */
export interface TokenSessionOptions {
  /**
   * The app's own call to its token endpoint. Reject (or throw) when the refresh token is
   * refused. `signal` aborts at `refreshTimeoutSeconds` or on `clear()`: pass it to your fetch.
   */
  refresh: (refreshToken: string, options: { signal: AbortSignal }) => Promise<TokenPair>;
  /**
   * The longest a refresh may take, in seconds (default 10, at most 2147483): then its signal
   * aborts, the refresh counts as failed (`authrequired`, once), and the cross-tab lock is
   * released, whether or not `refresh` settles.
   */
  refreshTimeoutSeconds?: number;
  /**
   * Origins besides the page's own that get the bearer token, such as
   * `['https://api.example.com']` (scheme, host and port only). Outside a browser there is no
   * page: only these. A request anywhere else goes out without the token.
   */
  origins?: string[];
  /** Send the token to every origin (default false): only for a client that talks to nothing else. */
  allowAnyOrigin?: boolean;
  /**
   * Refresh this many seconds before `exp` (default 30); at most half the token's lifetime, so
   * 20-second tokens are not refreshed on every call.
   */
  refreshAheadSeconds?: number;
  /**
   * Where tokens are kept (default `'memory'`). `'local'` shares them between the origin's tabs;
   * any object with getItem/setItem/removeItem works too. Corrupt stored tokens are dropped.
   */
  storage?: 'memory' | 'session' | 'local' | Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** Storage key, and the name tabs coordinate under (default `'jwtgate'`). */
  storageKey?: string;
  /** Shorthand for `addEventListener('authrequired', …)`. */
  onAuthRequired?: (event: CustomEvent<{ error: unknown }>) => void;
  /** The fetch `session.fetch` calls (default `globalThis.fetch`). */
  fetch?: (request: Request) => Promise<Response>;
}

export interface TokenSessionEventMap {
  /** New tokens, from this tab's refresh or another's. */
  refreshed: CustomEvent<{ accessToken: string }>;
  /** The user must sign in: show a login in the page and call `setTokens`; waiting calls then complete. */
  authrequired: CustomEvent<{ error: unknown }>;
  /** `clear()` here or in a tab that shared the tokens. */
  cleared: CustomEvent<Record<string, never>>;
}

/**
 * Keeps an access token fresh: refreshes ahead of expiry, once for concurrent calls and once
 * across the origin's tabs; on a failed refresh, calls wait (no navigation) until `setTokens`.
 */
export class TokenSession extends EventTarget {
  constructor(options: TokenSessionOptions);
  /** Tokens from a sign-in; throws JwtError for an access token that cannot be read, `too_large` for a token over 16384 characters. */
  setTokens(tokens: TokenPair): void;
  /**
   * A token good for at least the refresh margin, refreshed first if needed. With `signal`, a
   * call waiting for a refresh or a sign-in rejects with its reason once it aborts, and the
   * session lets the wait go.
   */
  accessToken(signal?: AbortSignal): Promise<string>;
  /**
   * `fetch` with `Authorization: Bearer` for the page's origin and `origins`; a 401 answer
   * causes one refresh and one retry. A call waiting for a sign-in honours `init.signal`. A
   * request to another origin is sent as it is, without the token.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Whether a request to `url` gets the token: the page's origin, `origins`, or any with
   * `allowAnyOrigin`. A relative URL is resolved against `document.baseURI`, as fetch and XHR
   * resolve it (`<base href>` may point elsewhere).
   */
  sendsTokenTo(url: string | URL): boolean;
  /** Tells the session a server refused this token (for HTTP clients other than `fetch`). */
  tokenRejected(accessToken: string): void;
  /** Forgets the tokens (here and in tabs that shared them); waiting calls reject with `missing_token`. */
  clear(): void;
  /** Stops listening to other tabs and to storage; the session goes on in this tab alone. */
  close(): void;
  addEventListener<K extends keyof TokenSessionEventMap>(
    type: K,
    listener: (event: TokenSessionEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

/**
 * Loads the wasm core (browsers and bundlers). Idempotent (a load that failed is tried again).
 * `input` may be a URL, a Request, a Response (or a promise of one, as `fetch` gives), bytes or
 * a WebAssembly.Module; by default the .wasm beside the package's JS.
 */
export default function init(input?: RequestInfo | URL | Response | Promise<Response> | BufferSource | WebAssembly.Module): Promise<void>;
