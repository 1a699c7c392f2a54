// Compiled by types.test.mjs with tsc --strict: the declarations must describe the API as used.
import init, { decode, expiresIn, isExpired, Verifier, RemoteVerifier, TokenSession, JwtError, type Claims, type JwtErrorCode } from 'jwtgate';
import { attachAxios } from 'jwtgate/axios';
import initClient, { TokenSession as ClientSession, decode as clientDecode, expiresIn as clientExpiresIn, isExpired as clientIsExpired, JwtError as ClientError } from 'jwtgate/client';
await init();
await initClient();
const { header, payload } = decode('a.b.c');
const alg: string = header.alg;
const sub: string | undefined = payload.sub;
const left: number | null = expiresIn('t');
const expired: boolean = isExpired('t', { leeway: 30 });
const v = new Verifier({ jwks: { keys: [] }, issuer: 'i', audiences: ['a'], algorithms: ['ES256'], clockSkewSeconds: 60 });
const claims: Claims = await v.verify('t', { now: 1 });
const now: Claims = v.verifySync('t', { now: 1 });
const fromClient: number | null = clientExpiresIn('t');
const clientExpired: boolean = clientIsExpired('t') && clientDecode('t').header.alg === 'x';
const clientSession = new ClientSession({ refresh: async () => ({ accessToken: 't' }) });
attachAxios(clientSession, { interceptors: { request: { use: () => 0, eject() {} }, response: { use: () => 1, eject() {} } }, request: async () => ({}) });
console.log(now, fromClient, clientExpired, ClientError.name);
const remote = new RemoteVerifier({ jwksUri: new URL('https://x/jwks'), cacheSeconds: 10, cooldownSeconds: 5, fetchTimeoutSeconds: 3, retrySeconds: 2, maxStaleSeconds: 3600, fetch });
const later: Promise<Claims> = remote.verify('t', { waitUntil: (p: Promise<unknown>) => void p });
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: await caches.open('jwks') });
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: false });
// Without jwksUri, the key set is found by OIDC discovery from the issuer.
const discovered = new RemoteVerifier({ issuer: 'https://id.example', audiences: ['api'], cacheSeconds: 60 });
console.log(discovered);
// @ts-expect-error: discovery needs the issuer
new RemoteVerifier({ audiences: ['api'] });
try { v.verifySync('t'); } catch (e) { if (e instanceof JwtError) { const c: JwtErrorCode = e.code; const claim: string | undefined = e.claim; console.log(c, claim, alg, sub, left, expired, claims, later); } }
// @ts-expect-error: verify resolves asynchronously
const notYet: Claims = v.verify('t');
console.log(notYet);
// @ts-expect-error: the client entry has no Verifier
import('jwtgate/client').then((m) => new m.Verifier({ jwks: '{}' }));
// @ts-expect-error: algorithms are a closed set
new Verifier({ jwks: '{}', algorithms: ['none'] });
// @ts-expect-error: the option is audiences
new Verifier({ jwks: '{}', audience: 'a' });
// @ts-expect-error: a cache is a Cache API object, or false
new RemoteVerifier({ jwksUri: 'https://x/jwks', cache: true });
const session = new TokenSession({
  refresh: async (refreshToken: string, { signal }) => ({ accessToken: refreshToken + String(signal.aborted), refreshToken: null }),
  refreshAheadSeconds: 30,
  refreshTimeoutSeconds: 10,
  origins: ['https://api.example.com'],
  allowAnyOrigin: false,
  storage: 'local',
  storageKey: 'app',
  onAuthRequired: (e) => console.log(e.detail.error),
});
session.setTokens({ accessToken: 'a.b.c', refreshToken: 'r' });
const token: Promise<string> = session.accessToken();
const given: Promise<string> = session.accessToken(AbortSignal.timeout(1000));
const answer: Promise<Response> = session.fetch('/api', { method: 'POST', body: 'x' });
session.addEventListener('refreshed', (e) => { const t: string = e.detail.accessToken; console.log(t, token, given, answer); });
session.tokenRejected('a.b.c');
const sends: boolean = session.sendsTokenTo(new URL('https://api.example.com/x'));
console.log(sends);
session.clear();
session.close();
const detach: () => void = attachAxios(session, { interceptors: { request: { use: () => 0, eject() {} }, response: { use: () => 1, eject() {} } }, request: async () => ({}) });
detach();
new TokenSession({ refresh: async () => ({ accessToken: 't' }), storage: sessionStorage });
// @ts-expect-error: storage is one of three names or a Storage
new TokenSession({ refresh: async () => ({ accessToken: 't' }), storage: 'disk' });
// @ts-expect-error: origins are a list
new TokenSession({ refresh: async () => ({ accessToken: 't' }), origins: 'https://api.example.com' });
// @ts-expect-error: refresh must resolve to a token pair
new TokenSession({ refresh: async () => 'token' });
// authenticate, revocation and the middleware.
import { kvRevocation, redisRevocation } from 'jwtgate/revocation';
import { jwt as honoJwt, type JwtVariables } from 'jwtgate/hono';
import { jwt as expressJwt } from 'jwtgate/express';
const byRole = new Verifier({ jwks: '{}', requiredClaims: { role: ['admin', 'ops'], level: 3 }, spaceDelimitedClaims: ['perms'], revoked: async (jti: string) => jti === 'x' });
const outcome = await byRole.authenticate(new Request('https://api.example/x'), { requiredClaims: { scope: 'write' }, now: 1, realm: 'api' });
if (outcome.response) { const r: Response = outcome.response; console.log(r.status); } else { const c: Claims = outcome.claims; console.log(c.sub); }
const remoteOutcome: Promise<{ claims: Claims } | { response: Response }> = remote.authenticate(new Request('https://api.example/x'), { waitUntil: (p: Promise<unknown>) => void p });
const kvList = kvRevocation({ get: async () => null, put: async () => {} }, { cacheSeconds: 5, cacheSize: 100 });
const revoked: Promise<boolean> = kvList.revoked('jti');
await kvList.revoke({ jti: 'x', exp: 2 });
await redisRevocation({ sendCommand: async (args: string[]) => args.length }).revoke('x', 2);
new Verifier({ jwks: '{}', revoked: kvList.revoked });
const honoMiddleware = honoJwt(byRole, { requiredClaims: { role: 'admin' } });
const vars: JwtVariables = { jwtPayload: claims };
const expressMiddleware = expressJwt(remote, { requiredClaims: ['sub'], cookie: 'token' });
console.log(remoteOutcome, revoked, honoMiddleware, vars, expressMiddleware);
// @ts-expect-error: revoked answers with a boolean
new Verifier({ jwks: '{}', revoked: (jti: string) => jti });
// @ts-expect-error: a requirement's value is not an object
new Verifier({ jwks: '{}', requiredClaims: { role: { admin: true } } });
