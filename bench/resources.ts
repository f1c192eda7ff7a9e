/**
 * What a worker process costs, SQLite backend, threads 1, concurrency 10, batch 100 (the fastest
 * SQLite configuration on 2 cores, so that 100,000 jobs fit the time budget), in its own process
 * (run with --expose-gc; every RSS sample follows a full gc() of the main thread's heap):
 *   resources RSS idle          after start and a few warm-up jobs (threads up, task module loaded),
 *                               then 1 s idle (0.5 s in a quick run).
 *   resources idle CPU          process.cpuUsage() (all threads) over `idleSecs` of idling, as a
 *                               percentage of one core. The note gives the same for a process that
 *                               only idles under `node --import tsx` (the tsx loader alone costs
 *                               about 1% of a core idle here); the next row subtracts it.
 *   resources RSS after warm-up after 20% of the jobs.
 *   resources RSS after N jobs  after all `resourceJobs` jobs. A second process enqueues them in
 *                               chunks of 1,000 while the worker runs, keeping at most 5,000 queued.
 *                               The note lists RSS at every 20% (a leak grows linearly, warm-up flattens).
 *   resources RSS growth        (after N - after warm-up) / after warm-up. The note splits RSS into
 *                               anonymous memory (JS heaps, SQLite's page cache of up to 64 MiB)
 *                               and file-backed pages (the mmap of the database file, up to 256 MiB):
 *                               both caches grow with the database, which keeps every result.
 * Must never: enqueue from the worker's process after the idle sample (it would count the producer).
 */
import { readFileSync } from 'node:fs';
import { noop } from './tasks.ts';
import {
  benchClient, channel, Child, peakRssMb, removeDir, row, rssMb, sleep, tempDir, until, type Scale, type TableRow,
} from './common.ts';

const THREADS = 1;

interface Sample { done: number; rssMb: number; heapMb: number; anonMb: number | null; fileMb: number | null }
interface IdleReport { rssMb: number; cpuPct: number }

/** Linux splits RSS into anonymous memory (heaps, SQLite's page cache) and file pages (mmap of the DB). */
function statusKb(field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function sample(done: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  return { done, rssMb: rssMb(), heapMb: process.memoryUsage().heapUsed / 1024 / 1024, anonMb: statusKb('RssAnon'), fileMb: statusKb('RssFile') };
}

/** Child side: the worker process. */
export async function resourcesWorkerMain(s: { dir: string; idleSecs: number; settleMs: number }): Promise<{ peakRssMb: number }> {
  const client = await benchClient(s.dir, 'sqlite');
  const w = await client.startWorker({ threads: THREADS, concurrency: 10, batchSize: 100 });
  try {
    await noop.map(Array.from({ length: 20 }, () => []));
    await until(() => w.stats().done >= 20, 'the warm-up jobs', 60_000);
    await sleep(s.settleMs);
    const idle = sample(w.stats().done);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(s.idleSecs * 1000);
    const used = process.cpuUsage(cpu0);
    const cpuPct = (100 * (used.user + used.system) / 1000) / (performance.now() - t0);
    await channel.ready({ rssMb: idle.rssMb, cpuPct } satisfies IdleReport);
    await channel.serve({
      done: () => w.stats().done,
      sample: () => sample(w.stats().done),
    });
    return { peakRssMb: peakRssMb() };
  } finally {
    await w.stop();
    await client.close();
  }
}

/** Child side: a process that only idles, launched like every child (`node --import tsx`): the baseline. */
export async function idleBaselineMain(s: { idleSecs: number; settleMs: number }): Promise<{ cpuPct: number }> {
  await sleep(s.settleMs + 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(s.idleSecs * 1000);
  const used = process.cpuUsage(cpu0);
  return { cpuPct: (100 * (used.user + used.system) / 1000) / (performance.now() - t0) };
}

/** Child side: the process that enqueues. */
export async function resourcesProducerMain(s: { dir: string }): Promise<null> {
  const client = await benchClient(s.dir, 'sqlite');
  try {
    await channel.ready();
    await channel.serve({
      enqueue: async (count) => { await noop.map(Array.from({ length: count as number }, () => [])); return count; },
    });
    return null;
  } finally {
    await client.close();
  }
}

function series(samples: Sample[], key: 'rssMb' | 'anonMb' | 'fileMb'): string {
  return samples.map((x) => (x[key] === null ? '?' : x[key]!.toFixed(0))).join(', ');
}

/** Parent side. */
export async function runResources(scale: Scale): Promise<TableRow[]> {
  const dir = tempDir('resources');
  const worker = new Child({ kind: 'resources-worker', dir, idleSecs: scale.idleSecs, settleMs: scale.quick ? 500 : 1000 }, { exposeGc: true });
  const producer = new Child({ kind: 'resources-producer', dir });
  // Idles alongside the worker's idle window (idle processes do not disturb each other).
  const baseline = new Child({ kind: 'idle-baseline', idleSecs: scale.idleSecs, settleMs: scale.quick ? 500 : 1000 });
  try {
    const idle = await worker.whenReady<IdleReport>();
    const base0 = await baseline.done<{ cpuPct: number }>();
    await producer.whenReady();
    const base = await worker.call<number>('done');
    const total = scale.resourceJobs;
    const warmAt = Math.round(total * 0.2);
    const t0 = performance.now();
    let enqueued = 0;
    const samples: Sample[] = [];
    /** Samples (gc + RSS) each time another 20% of the jobs is done; returns how many are done. */
    const check = async (): Promise<number> => {
      const done = (await worker.call<number>('done')) - base;
      if (done >= (samples.length + 1) * warmAt && samples.length < 4) samples.push(await worker.call<Sample>('sample'));
      return done;
    };
    while (enqueued < total) {
      const done = await check();
      if (enqueued - done >= 5000) { await sleep(20); continue; }
      const chunk = Math.min(1000, total - enqueued);
      await producer.call('enqueue', chunk);
      enqueued += chunk;
    }
    await until(async () => (await check()) >= total, `the worker to finish ${total} jobs`, 600_000, 20);
    const secs = (performance.now() - t0) / 1000;
    const end = await worker.call<Sample>('sample');
    samples.push(end);
    await producer.finish();
    const { peakRssMb: peak } = await worker.finish<{ peakRssMb: number }>();
    const w = samples[0];
    const growth = (100 * (end.rssMb - w.rssMb)) / w.rssMb;
    return [
      row('resources RSS idle', 'sqlite', 'MB', idle.rssMb, null, { note: `worker process, threads ${THREADS}, after warm-up jobs and ${scale.quick ? 0.5 : 1} s idle` }),
      row('resources idle CPU', 'sqlite', '% of a core', idle.cpuPct, null, {
        note: `over ${scale.idleSecs} s, all threads; an idle \`node --import tsx\` process: ${base0.cpuPct.toFixed(2)}%`,
        target: { text: '< 1%', met: idle.cpuPct < 1 },
      }),
      row('resources idle CPU above baseline', 'sqlite', '% of a core', idle.cpuPct - base0.cpuPct, null, {
        note: 'the worker minus the idle tsx process: what nuvom adds', target: { text: '< 1%', met: idle.cpuPct - base0.cpuPct < 1 },
      }),
      row('resources RSS after warm-up', 'sqlite', 'MB', w.rssMb, null, { n: warmAt, note: `heap ${w.heapMb.toFixed(0)} MB` }),
      row('resources RSS after N jobs', 'sqlite', 'MB', end.rssMb, null, {
        n: total, note: `heap ${end.heapMb.toFixed(0)} MB, peak RSS ${peak.toFixed(0)} MB, ${Math.round(total / secs).toLocaleString('en-US')} jobs/s with the producer running`,
      }),
      row('resources RSS growth after warm-up', 'sqlite', '%', growth, null, {
        n: total - warmAt, target: { text: '<= 10%', met: growth <= 10 },
        note: `RSS at 20/40/60/80/100%: ${series(samples, 'rssMb')} MB (anonymous ${series(samples, 'anonMb')}, file-backed ${series(samples, 'fileMb')})`,
      }),
    ];
  } finally {
    worker.kill();
    producer.kill();
    baseline.kill();
    removeDir(dir);
  }
}
