import type { AuthenticateSettings, Claims, ClaimRequirements, RemoteVerifier, Verifier } from './jwtgate.js';

export interface JwtMiddlewareOptions extends AuthenticateSettings {
  /** This route's requirements, besides the verifier's: `{ role: 'admin' }`. */
  requiredClaims?: string[] | ClaimRequirements;
  spaceDelimitedClaims?: string[];
}

/** The variables the middleware sets: `c.get('jwtPayload')` in the handler. */
export type JwtVariables = { jwtPayload: Claims };

/**
 * Hono middleware: the request goes on only with a bearer token the verifier accepts and that
 * meets `requiredClaims`; otherwise the Envoy filter's refusal is the response.
 */
export function jwt(
  verifier: Verifier | RemoteVerifier,
  options?: JwtMiddlewareOptions,
): (c: any, next: () => Promise<void>) => Promise<Response | void>;
