// `cargo xtask demo` runs this (on the Node 24 it installs: oidc-provider needs Node 22 or
// later): the whole demo on loopback until Ctrl-C.
// usage: node www/server/demo.mjs ENVOY FILTER PACKAGE_DIR NODE_MODULES [PORT]
import { startStack } from './stack.mjs';

const [envoy, filter, packageDir, nodeModules, port = '8080'] = process.argv.slice(2);
if (!nodeModules) {
  console.error('usage: node www/server/demo.mjs ENVOY FILTER PACKAGE_DIR NODE_MODULES [PORT]');
  process.exit(2);
}
let stack;
try {
  stack = await startStack({ envoy, filter, packageDir, node: process.execPath, nodeModules, port: Number(port) });
} catch (e) {
  console.error(`the demo did not start: ${e.message}`);
  process.exit(1);
}
console.log(`
jwtgate demo: ${stack.url}

  sign in as alice / wonderland (a popup: the provider's login and consent pages)
  access tokens live 20 s and refresh 10 s before expiry; refresh tokens rotate
  provider   oidc-provider, issuer ${stack.issuer}
             ${stack.issuer}/.well-known/openid-configuration · ${stack.issuer}/jwks
             ${stack.issuer}/revoked (the jtis of revoked grants' access tokens, for Envoy)
  API        ${stack.url}api/items, behind Envoy with the jwtgate filter
  Envoy      admin at ${stack.admin}

Type in the notes box, wait for the token to expire, press Reload: nothing is lost.
Type r and Enter here to rotate the provider's signing key; Ctrl-C stops everything.`);
// A key rotation while the app runs: Envoy fetches the new key on the first token signed with
// it, and nobody is signed out.
process.stdin.setEncoding('utf8').on('data', async (line) => {
  if (line.trim() !== 'r') return;
  const kid = await stack.provider.rotate();
  console.log(`signing with the new key ${kid}; the previous one stays published`);
});
const stop = async () => {
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
