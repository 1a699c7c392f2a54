// Hono middleware over `authenticate`: the refusal is the Envoy filter's, the claims go to the
// handler as Hono's own JWT middleware hands them over, `c.get('jwtPayload')`.
import { requestOptions, routeOptions } from './authenticate.js';

/**
 * `jwt(verifier, { requiredClaims, spaceDelimitedClaims, ... })`: a middleware that lets a
 * request through only with a bearer token the verifier accepts and that meets this route's
 * requirements. Its options are checked here, where the route is written.
 */
export function jwt(verifier, options = {}) {
  if (typeof verifier?.authenticate !== 'function') throw new TypeError('jwt needs a jwtgate Verifier or RemoteVerifier');
  routeOptions(options);
  return async function jwtgate(c, next) {
    let waitUntil;
    try {
      // A Worker's ExecutionContext; Hono's getter throws where there is none (Node).
      const ctx = c.executionCtx;
      waitUntil = ctx.waitUntil.bind(ctx);
    } catch {
      waitUntil = undefined;
    }
    const { claims, response } = await verifier.authenticate(c.req.raw, requestOptions(options, waitUntil));
    if (response) return response;
    c.set('jwtPayload', claims);
    await next();
  };
}
