/**
 * Dashboard render time with many job records in the default SQLite store: the overview (the page
 * plus GET /api/stats, which it renders from) and the first jobs page (the page plus GET /api/jobs),
 * each the median of several requests over node:http. Rows go through `npm run bench -- --only
 * dashboard`; alone: `node --import tsx bench/dashboard.ts [--records 1000000] [--keep DIR]` (--keep
 * writes the records into DIR once and reuses them on the next runs; the records' times are those of
 * the first run, so the hour and day windows hold fewer of them later).
 * Must never: be used as a test assertion.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '../sdk/index.ts';
import { dashboardHandler } from '../builtin-plugins/dashboard/index.ts';
import type { JobRecord, JobStatus } from '../sdk/plugin.ts';
import type { TableRow } from './common.ts';

const STATUSES: JobStatus[] = ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'FAILED', 'PENDING', 'CANCELLED'];

export async function runDashboard(records: number, log: (m: string) => void = () => {}, keepDir?: string): Promise<TableRow[]> {
  // --keep DIR: write the records into DIR once and reuse them on later runs (several runs, one write).
  if (keepDir) mkdirSync(keepDir, { recursive: true });
  const dir = keepDir ?? mkdtempSync(path.join(tmpdir(), 'nuvom-bench-dash-'));
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
  const client = await createClient({ cwd: dir, env: {}, logger: quiet, config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
  try {
    const store = client.kernel.resolve('resultStore');
    const t0 = Date.now() - records * 10;
    const batch = 20_000;
    const have = (await store.stats(0)).byStatus;
    const start = Object.values(have).reduce((a, b) => a + b, 0) >= records ? records : 0;
    if (start) log(`dashboard: reusing the ${records.toLocaleString('en-US')} records in ${dir}`);
    for (let i = start; i < records; i += batch) {
      const rows: JobRecord[] = [];
      for (let j = i; j < Math.min(records, i + batch); j++) {
        const status = STATUSES[j % STATUSES.length]!;
        const at = new Date(t0 + j * 10).toISOString();
        const done = status === 'SUCCESS' || status === 'FAILED' || status === 'CANCELLED';
        rows.push({
          id: `bench-${String(j).padStart(8, '0')}`, taskName: `task.${j % 20}`, args: [j], status, attempts: 1, maxRetries: 0, retriesLeft: 0, priority: 0, tags: [],
          createdAt: at, startedAt: at, completedAt: done ? at : null, nextRunAt: null, result: status === 'SUCCESS' ? j : null,
          error: status === 'FAILED' ? { name: 'Error', message: `failure ${j % 7}`, stack: null } : null, timeoutSecs: 0, timeoutPolicy: 'retry', workerId: null,
        });
      }
      await store.putMany(rows);
      if ((i / batch) % 10 === 0) log(`dashboard: ${(i + rows.length).toLocaleString('en-US')} records written`);
    }
    const handler = dashboardHandler(client);
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const median = async (paths: string[]) => {
      const times: number[] = [];
      for (let k = 0; k < 7; k++) {
        const s = performance.now();
        for (const p of paths) {
          const r = await fetch(url + p);
          await r.arrayBuffer();
          if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
        }
        times.push(performance.now() - s);
      }
      return times.sort((a, b) => a - b)[3]!;
    };
    // The first overview request reads everything (nothing cached); the median then includes the
    // run times served from the handler's 10 s cache, as an open page's reloads are.
    await (await fetch(`${url}/api/csrf`)).arrayBuffer(); // loads node's fetch (undici) and the server path: not the overview's cost
    const s0 = performance.now();
    for (const p of ['/', '/api/stats']) await (await fetch(url + p)).arrayBuffer();
    const first = performance.now() - s0;
    const overview = await median(['/', '/api/stats']);
    const jobs = await median(['/jobs', '/api/jobs']);
    const failed = await median(['/jobs?status=FAILED', '/api/jobs?status=FAILED']);
    handler.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const row = (name: string, value: number): TableRow => ({ name, backend: 'sqlite', unit: 'ms', value, ceiling: null, ratio: null, n: records, target: { text: '< 200 ms', met: value < 200 } });
    return [row('dashboard overview render, first request', first), row('dashboard overview render', overview), row('dashboard first jobs page', jobs), row('dashboard first FAILED jobs page', failed)];
  } finally {
    await client.close();
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--records');
  const n = i > 0 ? Number(process.argv[i + 1]) : 1_000_000;
  const k = process.argv.indexOf('--keep');
  const rows = await runDashboard(n, (m) => process.stderr.write(`${m}\n`), k > 0 ? path.resolve(process.argv[k + 1]!) : undefined);
  for (const r of rows) process.stdout.write(`${r.name}: ${r.value.toFixed(1)} ms (${n.toLocaleString('en-US')} records)\n`);
}
