import type { AuthenticateSettings, Claims, ClaimRequirements, RemoteVerifier, Verifier } from './jwtgate.js';

export interface JwtMiddlewareOptions extends AuthenticateSettings {
  /** This route's requirements, besides the verifier's: `{ role: 'admin' }`. */
  requiredClaims?: string[] | ClaimRequirements;
  spaceDelimitedClaims?: string[];
}

/** What the middleware adds to the request: the verified claims. */
export interface AuthenticatedRequest {
  auth: Claims;
}

/**
 * Express middleware: the request goes on only with a bearer token the verifier accepts and that
 * meets `requiredClaims`, with its claims in `req.auth` and `res.locals.jwtPayload`; otherwise
 * the Envoy filter's refusal is the response.
 */
export function jwt(
  verifier: Verifier | RemoteVerifier,
  options?: JwtMiddlewareOptions,
): (req: any, res: any, next: (err?: unknown) => void) => void;
