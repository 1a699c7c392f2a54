// A Worker in a real workerd, loading the package as a bundler hands it over: the `workerd`
// export is the module `jwtgate` and the .wasm a compiled module. Shared by the workerd suites.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, start, waitForPort } from './net.mjs';

export const packageDir = dirname(createRequire(import.meta.url).resolve('jwtgate/package.json'));

/**
 * The installed package as workerd modules: the `workerd` entries of `jwtgate` and
 * `jwtgate/client` under those names, and what they import.
 */
export function packageModules() {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const named = { '.': 'jwtgate', './client': 'jwtgate/client' };
  const entries = Object.keys(named).flatMap((path) => Object.values(pkg.exports[path]));
  // The other runtimes' entries stay out: they import what workerd does not have.
  const files = pkg.files.filter((f) => f.endsWith('.wasm') || (f.endsWith('.js') && !entries.includes(`./${f}`)));
  // Relative imports resolve against a module's name: `jwtgate/client`'s land under `jwtgate/`.
  return [
    ...Object.entries(named).map(([path, name]) => [pkg.exports[path].workerd.slice(2), name]),
    ...files.flatMap((f) => [
      [f, f],
      [f, `jwtgate/${f}`],
    ]),
  ];
}

/**
 * Starts workerd on a free port with a Worker of `modules` (name -> source, the first one main)
 * and the package; resolves to `{ port, workerd }` once it listens. `worker` and `services` are
 * capnp added to the Worker and to the service list. `stop()` on the result ends it.
 */
export async function serveWorker(t, modules, { worker = '', services = '' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'jwtgate-workerd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines = [];
  for (const [name, source] of Object.entries(modules)) {
    writeFileSync(join(dir, name), source);
    lines.push(`(name = "${name}", esModule = embed "${name}")`);
  }
  for (const [file, name] of packageModules()) {
    mkdirSync(dirname(join(dir, 'pkg', file)), { recursive: true });
    copyFileSync(join(packageDir, file), join(dir, 'pkg', file));
    lines.push(`(name = "${name}", ${file.endsWith('.wasm') ? 'wasm' : 'esModule'} = embed "pkg/${file}")`);
  }
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [${['(name = "main", worker = .worker)', services].filter(Boolean).join(', ')}],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${lines.join(',\n    ')}],
  compatibilityDate = "2025-01-01",
  ${worker}
);
`,
  );
  const workerd = start(t, process.env.WORKERD, ['serve', join(dir, 'config.capnp')]);
  await waitForPort(port, 20000, 'workerd').catch((e) => assert.fail(`${e.message}\n${workerd.log}`));
  const stop = () =>
    new Promise((resolve) => {
      if (workerd.exitCode !== null || workerd.signalCode !== null) return resolve();
      workerd.once('exit', resolve);
      workerd.kill();
    });
  return { port, workerd, stop };
}
