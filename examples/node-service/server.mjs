// A Node service that protects its endpoints by role with jwtgate/express: every route needs a
// good bearer token from the issuer; some need a scope or a role besides. Refusals are the ones
// jwtgate's Envoy filter gives, so clients see one kind of answer from either.
import express from 'express';
import { RemoteVerifier } from 'jwtgate';
import { jwt } from 'jwtgate/express';
import { redisRevocation } from 'jwtgate/revocation';

for (const name of ['JWKS_URI', 'ISSUER', 'AUDIENCE']) {
  // Without an issuer or audience any signed token would do: refuse to start.
  if (!process.env[name]) throw new Error(`set ${name} (see README.md)`);
}

// Optional: a deny list of jti's in Redis, each entry kept until its token's exp.
let revocation = null;
if (process.env.REDIS_URL) {
  const { createClient } = await import('redis');
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (e) => console.error('redis:', e.message));
  await client.connect();
  revocation = redisRevocation(client, { cacheSeconds: 5 });
}

const verifier = new RemoteVerifier({
  jwksUri: process.env.JWKS_URI,
  issuer: process.env.ISSUER,
  audiences: process.env.AUDIENCE,
  requiredClaims: ['sub'],
  ...(revocation && { revoked: revocation.revoked }),
});

const app = express();

// Any signed-in caller.
app.get('/me', jwt(verifier), (req, res) => res.json({ sub: req.auth.sub, scope: req.auth.scope ?? null }));

// A scope: `scope` is a space-delimited list, so "notes profile" holds "notes".
app.get('/notes', jwt(verifier, { requiredClaims: { scope: 'notes' } }), (req, res) => res.json({ notes: [], owner: req.auth.sub }));

// A role: the whole value, or one of an array (`"roles": ["admin"]`); "eve admin" is not admin.
app.get('/admin', jwt(verifier, { requiredClaims: { roles: ['admin', 'ops'] } }), (req, res) => res.json({ admin: req.auth.sub }));

// Signing out everywhere: the caller's own token joins the deny list until it expires.
app.post('/logout', jwt(verifier), async (req, res) => {
  if (!revocation) return res.status(501).send('no revocation store (set REDIS_URL)\n');
  await revocation.revoke(req.auth);
  res.status(204).end();
});

const port = Number(process.env.PORT ?? 8081);
app.listen(port, '127.0.0.1', () => console.log(`node-service on http://127.0.0.1:${port}`));
