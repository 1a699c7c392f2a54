// An edge guard: a request reaches the origin only with a token jwtgate has verified (and not
// revoked, when a REVOKED KV namespace is bound), and then carries the token's subject in a
// header the client cannot set for itself.
import { RemoteVerifier, refusal } from 'jwtgate';
import { kvRevocation } from 'jwtgate/revocation';

export const SUBJECT_HEADER = 'x-jwt-subject';

/** The Worker. `now` (seconds since the epoch) pins the clock: for tests, never in production. */
export function guard({ now } = {}) {
  // One verifier per isolate; its keys outlive the isolate in caches.default.
  let verifier = null;
  return {
    async fetch(request, env, ctx) {
      verifier ??= fromEnv(env);
      // Every refusal (no token, a bad one, a revoked one, no keys) is the Envoy filter's answer.
      // A refresh of stale keys runs in the background: waitUntil lets it outlive the response.
      const { claims, response } = await verifier.authenticate(request, { now, waitUntil: ctx?.waitUntil.bind(ctx) });
      if (response) return response;
      const url = new URL(request.url);
      // The origin trusts this header, so only a value that is a header value goes in it.
      if (typeof claims.sub !== 'string' || /[\0\r\n]/.test(claims.sub)) return refusal('invalid_claim', url.origin + url.pathname);
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
    // A deny list of jti's, each kept until its token's exp; a namespace that fails refuses (503).
    ...(env.REVOKED && { revoked: kvRevocation(env.REVOKED, { cacheSeconds: Number(env.REVOCATION_CACHE_SECONDS ?? 5) }).revoked }),
    // Numbers from text: a value that is not one (`10m`) is a TypeError, never the default.
    ...(env.JWKS_CACHE_SECONDS && { cacheSeconds: Number(env.JWKS_CACHE_SECONDS) }),
    ...(env.JWKS_RETRY_SECONDS && { retrySeconds: Number(env.JWKS_RETRY_SECONDS) }),
  });
}
