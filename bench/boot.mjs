/**
 * Worker start-up and memory as an installed package runs them: the built JS (dist/, `npm run build`
 * first), plain-JS tasks, no TypeScript loader in the main process. Plain JS on purpose: run with
 * `node`, not `node --import tsx`. Not part of `npm run bench` (which runs the TypeScript sources).
 *
 *   node bench/boot.mjs [--root DIR] [--threads T] [--concurrency C] [--n N] [--backend memory|sqlite] [--ts]
 *
 * One run per process: N no-op jobs enqueued, then the clock runs from `startWorker({ threads: T,
 * concurrency: C, batchSize: 100, burst: true })`. Prints one JSON line: `firstDoneMs` (first job
 * recorded done, sampled every 5 ms), `ms` (all done, threads stopped), `peakRssMb` (the process's
 * high-water RSS, main thread and worker threads). `--root` measures another checkout's dist (a
 * before/after comparison); `--ts` writes the task module as `.ts` (the TypeScript loader then
 * loads in each thread). Must never: be asserted on in a test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    root: { type: 'string', default: path.resolve(import.meta.dirname, '..') },
    threads: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '10' },
    n: { type: 'string', default: '2000' },
    backend: { type: 'string', default: 'memory' },
    ts: { type: 'boolean', default: false },
  },
});
const sdk = pathToFileURL(path.join(path.resolve(o.root), 'dist/sdk/index.js')).href;
const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-boot-'));
const tasksFile = path.join(dir, o.ts ? 'tasks.ts' : 'tasks.mjs');
writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
writeFileSync(tasksFile, `import { task } from ${JSON.stringify(sdk)};\nexport const noop = task({ name: 'boot.noop' }, async () => {});\n`);
try {
  // The main process imports the task module too (task() records its URL): it needs the loader for .ts.
  if (o.ts) (await import('tsx/esm/api')).register();
  const { createClient } = await import(sdk);
  const { noop } = await import(pathToFileURL(tasksFile).href);
  const client = await createClient({
    cwd: dir, env: {},
    config: { queueBackend: o.backend, resultBackend: o.backend, schedulerBackend: 'memory', sqlitePath: path.join(dir, 'nuvom.db'), logLevel: 'warn' },
  });
  const n = Number(o.n);
  for (let i = 0; i < n; i += 1000) await noop.map(Array.from({ length: Math.min(1000, n - i) }, () => []));
  let firstDoneMs = NaN;
  const t0 = performance.now();
  const w = await client.startWorker({ threads: Number(o.threads), concurrency: Number(o.concurrency), batchSize: 100, burst: true });
  const sampler = setInterval(() => {
    if (Number.isNaN(firstDoneMs) && w.stats().done > 0) firstDoneMs = performance.now() - t0;
  }, 5);
  await w.done;
  const ms = performance.now() - t0;
  clearInterval(sampler);
  if (w.stats().done !== n) throw new Error(`${w.stats().done} of ${n} jobs done`);
  await client.close();
  console.log(JSON.stringify({ root: o.root, threads: Number(o.threads), concurrency: Number(o.concurrency), n, backend: o.backend, ts: o.ts, firstDoneMs: Math.round(firstDoneMs), ms: Math.round(ms), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
