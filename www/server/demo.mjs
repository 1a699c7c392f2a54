// `cargo xtask demo` runs this: the whole demo on loopback until Ctrl-C.
// usage: node www/server/demo.mjs ENVOY FILTER PACKAGE_DIR [PORT]
import { startStack } from './stack.mjs';

const [envoy, filter, packageDir, port = '8080'] = process.argv.slice(2);
if (!packageDir) {
  console.error('usage: node www/server/demo.mjs ENVOY FILTER PACKAGE_DIR [PORT]');
  process.exit(2);
}
let stack;
try {
  stack = await startStack({ envoy, filter, packageDir, port: Number(port) });
} catch (e) {
  console.error(`the demo did not start: ${e.message}`);
  process.exit(1);
}
console.log(`
jwtgate demo: ${stack.url}

  sign in as alice / wonderland; access tokens live 20 s and refresh 10 s before expiry
  issuer     ${stack.url}auth/jwks · /auth/login · /auth/refresh (rotating refresh tokens)
  API        ${stack.url}api/items, behind Envoy with the jwtgate filter
  Envoy      admin at ${stack.admin}

Type in the notes box, wait for the token to expire, press Reload: nothing is lost.
Ctrl-C stops everything.`);
const stop = async () => {
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
