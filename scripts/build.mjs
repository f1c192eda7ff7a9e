/**
 * The JavaScript of the built package (dist/), bundled by esbuild; `tsc -p tsconfig.build.json
 * --emitDeclarationOnly` writes the declarations and checks the types first (npm run build runs both).
 * Why bundled: start-up. Node loads an ES module graph file by file (a resolve, an open, a stat and
 * an asynchronous read each, level after level), and a client booting the default preset on
 * PostgreSQL loaded about 120 of nuvom's files, its worker thread another dozen: most of the time from
 * createClient() to the first job claimed. Bundled, the same code is a few dozen files.
 * Entries: every module a user, the bin or the worker pool imports by path (the package's exports,
 * cli/main, the thread's runner). Code splitting keeps one instance of each module however many
 * entries reach it (a plugin imported through `nuvom/plugins/x` is the one the preset loads), and a
 * lazy import() stays lazy (its code is a chunk of its own). Shared chunks go in dist/chunks/.
 * Must never: inline a dependency (packages stay imports, resolved from node_modules as before), or
 * change a class's or function's `name` (keepNames: esbuild renames a clashing one within a chunk).
 */
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const within = (dir) => readdirSync(path.join(root, dir)).filter((d) => existsSync(path.join(root, dir, d, 'index.ts'))).map((d) => `${dir}/${d}/index.ts`);

const entryPoints = [
  'sdk/index.ts', // nuvom
  'sdk/plugin.ts', // nuvom/plugin
  'sdk/testing/index.ts', // nuvom/testing
  ...within('builtin-plugins'), // nuvom/plugins/*
  ...within('presets'), // nuvom/presets/*, and the default preset createClient() imports by URL
  'cli/main.ts', // bin/nuvom.js
  'builtin-plugins/worker-pool/thread-runner.ts', // a worker thread's entry, imported by URL
];

await build({
  absWorkingDir: root,
  entryPoints,
  outdir: 'dist',
  outbase: '.',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  keepNames: true,
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
});
