// An edge guard: a request reaches the origin only with a token jwtgate has verified, and then
// carries the token's subject in a header the client cannot set for itself.
import { RemoteVerifier, JwtError } from 'jwtgate';

export const SUBJECT_HEADER = 'x-jwt-subject';

/** The Worker. `now` (seconds since the epoch) pins the clock: for tests, never in production. */
export function guard({ now } = {}) {
  // One verifier per isolate; its keys outlive the isolate in caches.default.
  let verifier = null;
  return {
    async fetch(request, env, ctx) {
      verifier ??= fromEnv(env);
      const url = new URL(request.url);
      const realm = url.origin + url.pathname;
      const token = /^Bearer +(\S+) *$/i.exec(request.headers.get('authorization') ?? '')?.[1];
      if (!token) return refuse('missing_token', realm);
      let claims;
      try {
        // A refresh of stale keys runs in the background: waitUntil lets it outlive the response.
        claims = await verifier.verify(token, { now, waitUntil: ctx?.waitUntil.bind(ctx) });
      } catch (e) {
        if (e instanceof JwtError) return refuse(e.code, realm);
        throw e;
      }
      // The origin trusts this header, so only a value that is a header value goes in it.
      if (typeof claims.sub !== 'string' || /[\0\r\n]/.test(claims.sub)) return refuse('invalid_claim', realm);
      const forward = new Request(env.ORIGIN ? new URL(url.pathname + url.search, env.ORIGIN) : url, request);
      // As Envoy's jwt_authn does by default: the origin gets the verified subject, not the token.
      forward.headers.delete('authorization');
      forward.headers.set(SUBJECT_HEADER, claims.sub);
      return fetch(forward);
    },
  };
}

export default guard();

function fromEnv(env) {
  // Without an issuer or audience the guard would accept any signed token: refuse to start.
  for (const name of ['JWKS_URI', 'ISSUER', 'AUDIENCES']) {
    if (!env[name]) throw new Error(`the Worker needs the variable ${name}`);
  }
  return new RemoteVerifier({
    jwksUri: env.JWKS_URI,
    issuer: env.ISSUER,
    audiences: env.AUDIENCES.split(',').map((a) => a.trim()),
    requiredClaims: ['sub'],
    // Numbers from text: a value that is not one (`10m`) is a TypeError, never the default.
    ...(env.JWKS_CACHE_SECONDS && { cacheSeconds: Number(env.JWKS_CACHE_SECONDS) }),
    ...(env.JWKS_RETRY_SECONDS && { retrySeconds: Number(env.JWKS_RETRY_SECONDS) }),
  });
}

// The statuses and challenges of jwtgate's Envoy filter (jwtgate::Error::http_response), so that
// clients see one kind of refusal from either front door.
function refuse(code, realm) {
  if (code === 'jwks_unavailable') return new Response(`${code}\n`, { status: 503 });
  let challenge = `Bearer realm="${realm.replace(/["\\]/g, '\\$&')}"`;
  // RFC 6750 3.1: a request without credentials gets a bare challenge.
  if (code !== 'missing_token') challenge += `, error="invalid_token", error_description="${code}"`;
  return new Response(`${code}\n`, {
    // Valid, but not for this resource: 403, as jwt_authn answers it.
    status: code === 'invalid_audience' ? 403 : 401,
    headers: { 'content-type': 'text/plain', 'www-authenticate': challenge },
  });
}
