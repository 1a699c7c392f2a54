// Express middleware over `authenticate`: the refusal is the Envoy filter's, the claims go to
// the handler as `req.auth` (as express-jwt has it) and `res.locals.jwtPayload`.
import { routeOptions } from './authenticate.js';

/**
 * `jwt(verifier, { requiredClaims, spaceDelimitedClaims, ... })`: a middleware that lets a
 * request through only with a bearer token the verifier accepts and that meets this route's
 * requirements. Its options are checked here, where the route is written.
 */
export function jwt(verifier, options = {}) {
  if (typeof verifier?.authenticate !== 'function') throw new TypeError('jwt needs a jwtgate Verifier or RemoteVerifier');
  routeOptions(options);
  return function jwtgate(req, res, next) {
    let request;
    try {
      request = fetchRequest(req);
    } catch (e) {
      return next(e);
    }
    verifier.authenticate(request, options).then(async ({ claims, response }) => {
      if (response) {
        res.status(response.status);
        response.headers.forEach((value, name) => res.setHeader(name, value));
        return res.send(await response.text());
      }
      req.auth = claims;
      res.locals.jwtPayload = claims;
      next();
    }, next);
  };
}

/**
 * The request as `authenticate` reads it: URL and headers, never the body (the handler reads
 * that). From the raw header lines, so two Authorization headers stay two (Node's req.headers
 * keeps only the first).
 */
function fetchRequest(req) {
  const headers = new Headers();
  const raw = req.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const path = req.originalUrl ?? req.url;
  let url;
  try {
    url = new URL(path, `${req.protocol ?? 'http'}://${req.get?.('host') ?? 'localhost'}`);
  } catch {
    // A Host header no URL can hold: the realm names the path alone.
    url = new URL(path, 'http://localhost');
  }
  return new Request(url, { headers });
}
