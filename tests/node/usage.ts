// Compiled by types.test.mjs with tsc --strict: the declarations must describe the API as used.
import init, { decode, expiresIn, isExpired, Verifier, RemoteVerifier, JwtError, type Claims, type JwtErrorCode } from 'jwtgate';
await init();
const { header, payload } = decode('a.b.c');
const alg: string = header.alg;
const sub: string | undefined = payload.sub;
const left: number | null = expiresIn('t');
const expired: boolean = isExpired('t', { leeway: 30 });
const v = new Verifier({ jwks: { keys: [] }, issuer: 'i', audiences: ['a'], algorithms: ['ES256'], clockSkewSeconds: 60 });
const claims: Claims = v.verify('t', { now: 1 });
const remote = new RemoteVerifier({ jwksUri: new URL('https://x/jwks'), cacheSeconds: 10, cooldownSeconds: 5, fetch });
const later: Promise<Claims> = remote.verify('t');
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: await caches.open('jwks') });
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: false });
try { v.verify('t'); } catch (e) { if (e instanceof JwtError) { const c: JwtErrorCode = e.code; const claim: string | undefined = e.claim; console.log(c, claim, alg, sub, left, expired, claims, later); } }
// @ts-expect-error: algorithms are a closed set
new Verifier({ jwks: '{}', algorithms: ['none'] });
// @ts-expect-error: the option is audiences
new Verifier({ jwks: '{}', audience: 'a' });
// @ts-expect-error: a cache is a Cache API object, or false
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: true });
