/**
 * Enqueue throughput, per backend (memory, file, sqlite, and postgres when reachable), each in a fresh process on a fresh store:
 *   enqueue delay()  `await noop.delay()` one at a time (each awaited before the next); stops at N
 *                    jobs or after the time budget, whichever comes first. Ratio to insert_1.
 *   enqueue map(N)   one `noop.map()` call of N argument lists. Ratio to insert_N (N rows in one
 *                    transaction). The file backend is capped (every job file is fsynced).
 * One process per backend (one for all three in a quick run); each measure gets a fresh store and
 * client, and a short warm-up (not timed) on that store. The ratios of memory and file use the SQLite ceilings as a yardstick only.
 * Must never: time the client's boot or the building of the argument lists.
 */
import { noop } from './tasks.ts';
import { benchClient, inChild, perSec, pgReachable, removeDir, row, tempDir, type Backend, type Scale, type TableRow } from './common.ts';
import type { Ceilings } from './ceiling.ts';

interface EnqueueScenario { backends: Backend[]; n: number; fileMapCap: number; budgetMs: number }
type BackendResult = { delay: Timed; map: Timed };
/** `cpuUs`: the process's CPU time (user + system) over the timed part, the figure decisions use on a loaded machine. */
interface Timed { count: number; ms: number; cpuUs: number }

/** One measure on a fresh store with a fresh client; a short warm-up first, not timed. */
async function measure(backend: Backend, mode: 'delay' | 'map', n: number, budgetMs: number): Promise<Timed> {
  const dir = tempDir(`enqueue-${backend}`);
  const client = await benchClient(dir, backend);
  try {
    const warm = Math.min(200, Math.max(20, Math.round(n / 50)));
    for (let i = 0; i < warm; i++) await noop.delay();
    await noop.map(Array.from({ length: warm }, () => []));
    let count = 0;
    let ms: number;
    const cpu0 = process.cpuUsage();
    if (mode === 'delay') {
      const t0 = performance.now();
      const stopAt = t0 + budgetMs;
      while (count < n) {
        await noop.delay();
        count++;
        if ((count & 15) === 0 && performance.now() > stopAt) break;
      }
      ms = performance.now() - t0;
    } else {
      const lists = Array.from({ length: n }, () => [] as []);
      const t0 = performance.now();
      const handles = await noop.map(lists);
      ms = performance.now() - t0;
      count = handles.length;
    }
    const cpu = process.cpuUsage(cpu0);
    const queued = await client.kernel.resolve('queue').qsize();
    if (queued !== count + 2 * warm) throw new Error(`enqueue ${backend} ${mode}: ${queued} jobs queued, expected ${count + 2 * warm}`);
    return { count, ms, cpuUs: cpu.user + cpu.system };
  } finally {
    await client.close();
    removeDir(dir);
  }
}

function mapN(backend: Backend, n: number, fileMapCap: number): number {
  return backend === 'file' ? Math.min(n, fileMapCap) : n;
}

/** Child side: both measures of each backend given, in order. */
export async function enqueueMain(s: EnqueueScenario): Promise<BackendResult[]> {
  const out: BackendResult[] = [];
  for (const backend of s.backends) {
    const delay = await measure(backend, 'delay', s.n, s.budgetMs);
    const map = await measure(backend, 'map', mapN(backend, s.n, s.fileMapCap), 0);
    out.push({ delay, map });
  }
  return out;
}

const BACKENDS: Backend[] = ['memory', 'file', 'sqlite'];

/** CPU per job of the process (PostgreSQL's own server time is not in it). */
const cpuPerJob = (t: Timed): string => `${(t.cpuUs / Math.max(1, t.count)).toFixed(1)} us CPU/job`;

/** Parent side: one process per backend (a quick run uses one process for all three). */
export async function runEnqueue(scale: Scale, c: Ceilings): Promise<TableRow[]> {
  const common = { kind: 'enqueue', n: scale.n, fileMapCap: scale.fileMapCap, budgetMs: scale.delayBudgetMs };
  const results: BackendResult[] = [];
  const backends: Backend[] = [...BACKENDS];
  if (await pgReachable()) backends.push('postgres');
  else process.stderr.write('enqueue: PostgreSQL not reachable (NUVOM_BENCH_POSTGRES_URL); its rows are skipped\n');
  if (scale.quick) results.push(...(await inChild<BackendResult[]>({ ...common, backends })));
  else for (const b of backends) results.push(...(await inChild<BackendResult[]>({ ...common, backends: [b] })));
  const rows: TableRow[] = [];
  for (const [i, backend] of backends.entries()) {
    const { delay: d, map: m } = results[i];
    const n = mapN(backend, scale.n, scale.fileMapCap);
    const delayRate = perSec(d.count, d.ms);
    const r = row('enqueue delay()', backend, 'jobs/s', delayRate, c.sqlite.insert_1, {
      n: d.count, note: `${cpuPerJob(d)}${d.count < scale.n ? `; stopped at the ${scale.delayBudgetMs / 1000} s budget` : ''}`,
    });
    if (backend === 'sqlite') r.target = { text: '>= 70% of insert 1/tx', met: (r.ratio ?? 0) >= 0.7 };
    rows.push(r);

    const mr = row('enqueue map(N)', backend, 'jobs/s', perSec(m.count, m.ms), c.sqlite.insert_N, {
      n: m.count, note: `one call: ${m.ms.toFixed(0)} ms, ${cpuPerJob(m)}${n < scale.n ? ' (file backend capped)' : ''}`,
    });
    if (backend === 'sqlite') mr.target = { text: '>= 50% of insert N/tx', met: (mr.ratio ?? 0) >= 0.5 };
    rows.push(mr);
  }
  return rows;
}
