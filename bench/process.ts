/**
 * Processing throughput, each configuration in a fresh process:
 *   process no-op tT cC   N no-op jobs are enqueued first (map() in chunks of 1,000, not timed);
 *                         then the clock runs from startWorker({ threads: T, concurrency: C,
 *                         batchSize, burst: true }) until its `done` resolves (the queue drained,
 *                         every SUCCESS record stored and acked, threads stopped). Worker setup is
 *                         inside the time, as in the peers' method. Ratio to claim+done 100/tx for
 *                         SQLite (all four configurations); the memory backend (t1 c10 and t2 c10,
 *                         t1 c10 only in a quick run) shows the pool's own cost and has no ceiling.
 *                         The note gives the steady rate (from 10% of the jobs done to the end,
 *                         sampled every 10 ms), the time to the first finished job (thread boot)
 *                         and the process's peak RSS.
 *   process cpu tT        `cpuJobs` jobs of a fixed integer loop on a warm worker (threads started,
 *                         task module loaded), memory backend, concurrency 1: from map() to the
 *                         last job done. Ratio to the same loop in T bare worker threads (rows
 *                         "ceiling cpu loop"), measured in the same process right before each
 *                         round; median of `ceilingRuns` rounds.
 * Must never: count a job that failed; time the enqueueing of the no-op jobs.
 */
import { cpu, noop } from './tasks.ts';
import { benchClient, inChild, pgReachable, median, peakRssMb, perSec, removeDir, row, tempDir, until, type Backend, type Scale, type TableRow } from './common.ts';
import { cpuRate, type Ceilings } from './ceiling.ts';

interface ProcessScenario { backend: Backend; threads: number; concurrency: number; batchSize: number; n: number }
interface ProcessResult { ms: number; firstDoneMs: number; steadyRate: number; peakRssMb: number }

/** Child side: drain N pre-enqueued no-op jobs in burst mode. */
export async function processMain(s: ProcessScenario): Promise<ProcessResult> {
  const dir = tempDir(`process-${s.backend}`);
  const client = await benchClient(dir, s.backend);
  try {
    for (let i = 0; i < s.n; i += 1000) await noop.map(Array.from({ length: Math.min(1000, s.n - i) }, () => []));
    let firstDoneMs = NaN;
    let tenPct: { at: number; done: number } | null = null;
    const t0 = performance.now();
    const w = await client.startWorker({ threads: s.threads, concurrency: s.concurrency, batchSize: s.batchSize, burst: true });
    const sampler = setInterval(() => {
      const { done } = w.stats();
      if (done > 0 && Number.isNaN(firstDoneMs)) firstDoneMs = performance.now() - t0;
      if (!tenPct && done >= s.n / 10) tenPct = { at: performance.now(), done };
    }, 10);
    await w.done;
    const t1 = performance.now();
    clearInterval(sampler);
    const { done, failed } = w.stats();
    if (done !== s.n || failed !== 0) throw new Error(`process ${JSON.stringify(s)}: ${done} done, ${failed} failed, expected ${s.n} done`);
    const mark = tenPct as { at: number; done: number } | null;
    const steadyRate = mark && t1 > mark.at ? perSec(s.n - mark.done, t1 - mark.at) : NaN;
    return { ms: t1 - t0, firstDoneMs, steadyRate, peakRssMb: peakRssMb() };
  } finally {
    await client.close();
    removeDir(dir);
  }
}

/**
 * Child side: on a warm nuvom worker, `rounds` pairs of (the loop in bare threads, the same jobs
 * through nuvom), back to back so that each pair sees the same machine load; medians of each.
 */
export async function cpuMain(s: { threads: number; jobs: number; iterations: number; rounds: number }): Promise<{ ms: number; ceiling: number }> {
  const dir = tempDir('cpu');
  const client = await benchClient(dir, 'memory');
  try {
    const w = await client.startWorker({ threads: s.threads, concurrency: 1, batchSize: 10 });
    let expected = 4 * s.threads;
    await noop.map(Array.from({ length: expected }, () => []));
    await until(() => w.stats().done >= expected, 'the warm-up jobs', 60_000, 2);
    const ceilings: number[] = [];
    const times: number[] = [];
    for (let r = 0; r < s.rounds; r++) {
      ceilings.push(await cpuRate(s.threads, s.jobs, s.iterations));
      const t0 = performance.now();
      await cpu.map(Array.from({ length: s.jobs }, () => [s.iterations] as [number]));
      expected += s.jobs;
      await until(() => w.stats().done + w.stats().failed >= expected, 'the CPU-bound jobs', 300_000, 1);
      times.push(performance.now() - t0);
    }
    if (w.stats().failed) throw new Error(`${w.stats().failed} CPU-bound jobs failed`);
    await w.stop();
    return { ms: median(times), ceiling: median(ceilings) };
  } finally {
    await client.close();
    removeDir(dir);
  }
}

const CONFIGS: Array<[threads: number, concurrency: number]> = [[1, 1], [1, 10], [2, 1], [2, 10]];
export const PROCESS_BATCH = 100;

/** Parent side. */
export async function runProcess(scale: Scale, c: Ceilings): Promise<TableRow[]> {
  const rows: TableRow[] = [];
  // The memory backend, a reference for the pool's own cost, in fewer configurations (time budget).
  const memory: Array<[number, number]> = scale.quick ? [[1, 10]] : [[1, 10], [2, 10]];
  // threads 0: the in-process mode (jobs on the worker's main thread), on both backends.
  const plan: Array<[Backend, number, number]> = [
    ...CONFIGS.map(([t, cc]): [Backend, number, number] => ['sqlite', t, cc]),
    ['sqlite', 0, 10],
    ...memory.map(([t, cc]): [Backend, number, number] => ['memory', t, cc]),
    ['memory', 0, 10],
  ];
  // PostgreSQL (one schema per run, dropped after), when reachable: the many-hosts backend on one host.
  if (await pgReachable()) plan.push(['postgres', 1, 1], ['postgres', 1, 10]);
  else process.stderr.write('process: PostgreSQL not reachable (NUVOM_BENCH_POSTGRES_URL); its rows are skipped\n');
  for (const [backend, threads, concurrency] of plan) {
    const r = await inChild<ProcessResult>({ kind: 'process', backend, threads, concurrency, batchSize: PROCESS_BATCH, n: scale.n });
    const value = perSec(scale.n, r.ms);
    const tr = row(`process no-op t${threads} c${concurrency}`, backend, 'jobs/s', value, backend === 'sqlite' ? c.sqlite.claim_done_100 : null, {
      n: scale.n,
      note: `${threads === 0 ? 'in-process, ' : ''}steady ${fmtRate(r.steadyRate)}/s, first done ${r.firstDoneMs.toFixed(0)} ms, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    });
    if (backend === 'sqlite') tr.target = { text: '>= 25% of claim+done 100/tx', met: (tr.ratio ?? 0) >= 0.25 };
    else if (backend === 'memory') tr.target = { text: '>= 100,000 jobs/s', met: value >= 100_000 };
    rows.push(tr);
  }
  const cpu: Array<{ rate: number; ceiling: number }> = [];
  for (const threads of [1, 2]) {
    const r = await inChild<{ ms: number; ceiling: number }>({ kind: 'process-cpu', threads, jobs: scale.cpuJobs, iterations: scale.cpuIterations, rounds: scale.ceilingRuns });
    cpu.push({ rate: perSec(scale.cpuJobs, r.ms), ceiling: r.ceiling });
  }
  const [one, two] = cpu;
  const loop = `${scale.cpuIterations.toExponential(0)} iterations a job`;
  rows.push(
    row('ceiling cpu loop, 1 thread', 'raw-threads', 'jobs/s', one.ceiling, null, { n: scale.cpuJobs, note: `${loop}, bare worker thread, median of ${scale.ceilingRuns}` }),
    row('ceiling cpu loop, 2 threads', 'raw-threads', 'jobs/s', two.ceiling, null, { n: scale.cpuJobs, note: `${(two.ceiling / one.ceiling).toFixed(2)}x one thread` }),
    row('process cpu t1', 'memory', 'jobs/s', one.rate, one.ceiling, { n: scale.cpuJobs, note: loop }),
    row('process cpu t2', 'memory', 'jobs/s', two.rate, two.ceiling, { n: scale.cpuJobs, note: `${(two.rate / one.rate).toFixed(2)}x nuvom t1` }),
  );
  return rows;
}

function fmtRate(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a';
}
