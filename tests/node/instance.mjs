// An instance of the package's wasm whose memory a test can see: the package's entries keep
// theirs to themselves.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));
const load = (file) => import(pathToFileURL(join(dir, file)));

/**
 * The whole package's wasm (`full`) or jwtgate/client's, bound by the package's own loader and
 * made the package's core as its entry makes its own: `{ instance, core }`. Called after the
 * entry is imported, which would otherwise put its own instance back.
 */
export async function ownInstance(full) {
  const { loader } = await load('client-wasm.js');
  const { setReady } = await load('state.js');
  const { imports, ready } = loader(full ? (await load('verifier-wasm.js')).verifier : undefined);
  const wasm = full ? 'wasm/jwtgate_bg.wasm' : 'wasm-client/jwtgate_client_bg.wasm';
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(dir, wasm))), imports);
  const core = ready(instance);
  setReady(core, full ? (await load('crypto-node.js')).nodeCrypto : undefined);
  return { instance, core };
}
