// The TypeScript declarations, checked by the compiler against code that uses the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const FLAGS = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom'];
const tsc = (file) => spawnSync(process.env.TSC, [...FLAGS, file], { cwd: here, encoding: 'utf8' });

test('the declarations type-check code that uses the whole API', () => {
  const r = tsc('usage.ts');
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('and misuse is a type error, so the check can fail', () => {
  writeFileSync(`${here}/misuse.ts`, "import { decode } from 'jwtgate';\nconst n: number = decode('t');\n");
  const r = tsc('misuse.ts');
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /TS2322/);
});
