// From a Fetch API Request to verified claims or the refusal jwtgate's Envoy filter would send.
// The checks are the verifier's and the core's; the answer's status and challenge come from the
// core's one mapping (Error::http_response). Nothing here decides what a refusal looks like.
import { REVOKED_TIMEOUT_MS } from './constants.js';
import { JwtError, coreOptions, deadline, onlyKnown, reader, wasm, within } from './state.js';

/** Options `authenticate` reads, on a verifier or per call; never handed to the core's policy. */
export const AUTH_OPTIONS = ['revoked', 'realm', 'cookie', 'query'];
const PER_CALL = [...AUTH_OPTIONS, 'requiredClaims', 'spaceDelimitedClaims', 'now', 'waitUntil'];

const settings = new WeakMap();

/** Keeps a verifier's own `authenticate` options; called by its constructor. */
export function configure(verifier, options) {
  settings.set(verifier, readAuth(reader(options), 'option'));
}

function readAuth(get, what) {
  const out = {};
  const revoked = get('revoked');
  if (revoked !== undefined && typeof revoked !== 'function') throw new TypeError(`${what} revoked must be a function (jti, claims) => boolean`);
  if (revoked !== undefined) out.revoked = revoked;
  for (const name of ['realm', 'cookie', 'query']) {
    const value = get(name);
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw new TypeError(`${what} ${name} must be a non-empty string`);
    out[name] = value;
  }
  return out;
}

/**
 * The per-call claim requirements as the core's options text, or null without any; a value the
 * core would refuse in a Verifier's options is a TypeError here too.
 */
export function requirements(requiredClaims, spaceDelimitedClaims) {
  if (requiredClaims === undefined && spaceDelimitedClaims === undefined) return null;
  const text = coreOptions(reader({ requiredClaims, spaceDelimitedClaims }), []);
  wasm().checkOptions(text);
  return text;
}

/**
 * A middleware's options (`jwtgate/hono`, `jwtgate/express`), checked where the route is
 * written: a misspelt name, a setting of the wrong type or a requirement the core refuses is a
 * TypeError at start-up, not a 500 on every request the route gets.
 */
export function routeOptions(options) {
  const get = reader(options);
  onlyKnown(get, PER_CALL, 'jwt');
  readAuth(get, 'jwt option');
  requirements(get('requiredClaims'), get('spaceDelimitedClaims'));
}

/**
 * A route's options for one request, with `waitUntil` if given: read afresh, as `authenticate`
 * reads a call's (a getter's `now` is this request's time), into an object of their own. A
 * spread of the caller's object would copy own properties only, and drop an option inherited or
 * behind a getter that the route's check read.
 */
export function requestOptions(options, waitUntil) {
  const get = reader(options);
  const call = {};
  for (const name of PER_CALL) if (get(name) !== undefined) call[name] = get(name);
  if (waitUntil) call.waitUntil = waitUntil;
  return call;
}

/**
 * `{ claims }` for a request whose bearer token verifies (and is not revoked, and meets the
 * requirements), otherwise `{ response }`: the Envoy filter's status, challenge and body.
 */
export async function authenticate(verifier, request, options = {}, remote = false) {
  const get = reader(options);
  onlyKnown(get, PER_CALL, 'authenticate');
  if (typeof request?.headers?.get !== 'function' || typeof request?.url !== 'string') {
    throw new TypeError('authenticate takes a Fetch API Request');
  }
  const own = { ...settings.get(verifier), ...readAuth(get, 'authenticate option') };
  const required = requirements(get('requiredClaims'), get('spaceDelimitedClaims'));
  const url = new URL(request.url);
  // As the Envoy filter (and jwt_authn) write it: the request URL without its query.
  const realm = own.realm ?? `${url.protocol}//${url.host}${url.pathname}`;
  const refuse = (code) => ({ response: refusal(code, realm) });

  const found = tokens(request, url, own);
  if (found.length === 0) return refuse('missing_token');
  // RFC 6750 section 2: one method per request. Two tokens are one request no one can read.
  if (found.length > 1) return refuse('malformed');
  const [token] = found;

  let claims;
  let unmet = null;
  try {
    // waitUntil is for a RemoteVerifier's background refresh: a Verifier has none, and its
    // verify refuses the name.
    claims = await verifier.verify(token, remote ? { now: get('now'), waitUntil: get('waitUntil') } : { now: get('now') });
  } catch (e) {
    if (!(e instanceof JwtError)) throw e;
    // Only a token that passed every other check gets this far: as in the filter, revocation
    // is decided before a requirement, so a revoked token is told so, not that it lacks a role.
    if (e.code !== 'insufficient_claims') return refuse(e.code);
    unmet = e;
    claims = JSON.parse(payload(token));
  }
  if (own.revoked && typeof claims.jti === 'string') {
    let revoked;
    try {
      revoked = await within(deadline(REVOKED_TIMEOUT_MS, 'revoked'), () => own.revoked(claims.jti, claims));
    } catch {
      revoked = undefined;
    }
    // Fail closed: a store that throws, hangs or answers something other than a boolean clears
    // no one.
    if (typeof revoked !== 'boolean') return refuse('revocation_unavailable');
    if (revoked) return refuse('revoked');
  }
  if (unmet) return refuse(unmet.code);
  if (required !== null) {
    try {
      wasm().checkClaims(payload(token), required);
    } catch (e) {
      if (!(e instanceof JwtError)) throw e;
      return refuse(e.code);
    }
  }
  return { claims };
}

/**
 * The verified token's payload text, exactly as the core read it: not held to `decode`'s
 * default size limit, since the verifier held it to its own `maxTokenBytes`.
 */
function payload(token) {
  const text = wasm().decodeAccepted(token);
  return text.slice(text.indexOf('\0') + 1);
}

/**
 * The bearer tokens of a request. The `Authorization` header (RFC 6750 section 2.1), its scheme
 * compared case-insensitively as RFC 7235 has it; a cookie or query parameter only when named.
 * A header with the scheme but no clean token is a token that fails, never a missing one.
 */
function tokens(request, url, { cookie, query }) {
  const found = [];
  // Headers joins repeated fields with ", ": two Authorization headers give one value that
  // fails as a token, never the first one with the second ignored. No header (null) reads as
  // the text "null", which has no scheme.
  // RFC 7235: spaces, not tabs, after the scheme (a tab there is no `Bearer ` for the filter).
  // In one pass: the spaces taken at once (a lookahead, as an atomic group), the token up to
  // its last character that is not one; a lazy token before [ \t]*$ re-scanned every run of
  // spaces in it from each of its places, quadratic in the header's length.
  const bearer = /^[ \t]*bearer(?:(?=( +))\1(.*[^ \t]))?[ \t]*$/is.exec(request.headers.get('authorization'));
  if (bearer) found.push(bearer[2] ?? '');
  if (query !== undefined) found.push(...url.searchParams.getAll(query));
  if (cookie !== undefined) {
    // As the Envoy filter reads it (Envoy's cookie parser): spaces before the name skipped; the
    // value as it is, but for one pair of quotes around it and spaces and tabs after it. The
    // name with other whitespace around it is a token that fails.
    for (const pair of (request.headers.get('cookie') ?? '').split(';')) {
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).replace(/^ +/, '');
      if (at >= 0 && name.trim() === cookie) found.push(name === cookie ? /^(?:.*[^ \t])?/s.exec(pair.slice(at + 1).replace(/^"(.*)"$/s, '$1'))[0] : '');
    }
  }
  return found;
}

/**
 * The response for a refusal with a jwtgate error code: status and challenge from the core, and
 * the body and headers the Envoy filter sends with them. For checks of your own after
 * `authenticate`, so that every refusal looks alike.
 */
export function refusal(code, realm) {
  if (typeof code !== 'string' || !/^[a-z_]+$/.test(code)) throw new TypeError('refusal needs a jwtgate error code');
  if (typeof realm !== 'string') throw new TypeError('refusal needs a realm (a string)');
  // httpAnswer throws nothing: every code has its answer.
  const http = wasm().httpAnswer(code, realm);
  const cut = http.indexOf('\n');
  const challenge = http.slice(cut + 1);
  const headers = { 'content-type': 'text/plain' };
  if (challenge) headers['www-authenticate'] = challenge;
  return new Response(`${code}\n`, { status: Number(http.slice(0, cut)), headers });
}
