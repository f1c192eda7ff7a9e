/**
 * CPU time per job: a measure that a busy machine disturbs far less than jobs/s, for comparing two
 * checkouts (before and after a change) on a shared machine. Not part of `npm run bench`.
 *
 *   node --import tsx bench/cpu.ts <delay|map|process> <memory|file|sqlite> [n] [rounds] [threads]
 *
 * One process per call, one fresh store per round. delay: n `noop.delay()` calls one at a time; map:
 * five `noop.map()` calls of n/5; process: n queued no-op jobs drained by one worker (threads 1 or [threads], 0 in-process,
 * concurrency 10, batch 100, burst), after an untimed warm-up drain of n jobs (threads started,
 * caches warm). Prints one JSON line per round: `cpuUsPerJob` is user + system CPU of the whole
 * process (main thread, worker threads, SQLite) per job; `wallRate` the jobs/s of the same window.
 * Compare medians of rounds of the two checkouts run alternately (see docs/benchmarks.md).
 * Must never: be asserted on in a test.
 */
import { noop } from './tasks.ts';
import { benchClient, removeDir, tempDir, type Backend } from './common.ts';

type Mode = 'delay' | 'map' | 'process';

async function round(mode: Mode, backend: Backend, n: number, threads: number): Promise<{ cpuUsPerJob: number; wallRate: number }> {
  const dir = tempDir(`cpu-${backend}`);
  const client = await benchClient(dir, backend);
  try {
    for (let i = 0; i < 200; i++) await noop.delay();
    if (mode === 'process') {
      await noop.map(Array.from({ length: n }, () => []));
      const warm = await client.startWorker({ threads, concurrency: 10, batchSize: 100, burst: true });
      await warm.done;
      await noop.map(Array.from({ length: n }, () => []));
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (mode === 'delay') {
      for (let i = 0; i < n; i++) await noop.delay();
    } else if (mode === 'map') {
      for (let k = 0; k < 5; k++) await noop.map(Array.from({ length: Math.ceil(n / 5) }, () => []));
    } else {
      const worker = await client.startWorker({ threads, concurrency: 10, batchSize: 100, burst: true });
      await worker.done;
    }
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { cpuUsPerJob: Math.round(((c.user + c.system) / n) * 10) / 10, wallRate: Math.round((n / ms) * 1000) };
  } finally {
    await client.close();
    removeDir(dir);
  }
}

async function main(): Promise<void> {
  const [mode, backend, nArg, roundsArg, threadsArg] = process.argv.slice(2);
  if (!['delay', 'map', 'process'].includes(mode) || !['memory', 'file', 'sqlite'].includes(backend)) {
    throw new Error('usage: node --import tsx bench/cpu.ts <delay|map|process> <memory|file|sqlite> [n] [rounds] [threads]');
  }
  const n = Number(nArg ?? 10_000);
  const rounds = Number(roundsArg ?? 1);
  const threads = Number(threadsArg ?? 1);
  for (let i = 0; i < rounds; i++) {
    console.log(JSON.stringify({ mode, backend, n, threads, ...(await round(mode as Mode, backend as Backend, n, threads)) }));
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
