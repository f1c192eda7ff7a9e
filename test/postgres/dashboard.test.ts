/**
 * The dashboard on a PostgreSQL project: what an operator sees matches the store, past the 5,000
 * newest records the listJobs fallback reads, and past a page of jobs that share a millisecond.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from '../../sdk/index.ts';
import { dashboardHandler } from '../../builtin-plugins/dashboard/index.ts';
import { FALLBACK_SCAN } from '../../builtin-plugins/dashboard/insights.ts';
import type { JobRecord, JobStatus } from '../../sdk/plugin.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';
import { dropSchema, PG_URL, requirePostgres, schemaName } from './helpers.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON

describe('postgres: the dashboard', function () {
  this.timeout(60_000);
  requirePostgres();
  const schema = schemaName();
  let client: Client;
  let server: Server;
  let url: string;

  before(async function () {
    if (this.currentTest?.isPending()) return;
    client = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } });
    const handler = dashboardHandler(client);
    server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await client?.close();
    await dropSchema(schema);
    cleanupTempProjects();
  });

  it('charts every completion of the hour and day and gives run times, with more completed records than the fallback reads', async () => {
    const n = FALLBACK_SCAN + 100;
    const now = Date.now();
    const rows: JobRecord[] = [];
    for (let i = 0; i < n; i++) {
      // Completed within the last 50 minutes, one in ten FAILED; each ran 40 ms (task a) or 80 ms (task b).
      const status: JobStatus = i % 10 === 0 ? 'FAILED' : 'SUCCESS';
      const done = now - 3_000_000 + i * 500;
      const ms = i % 2 ? 80 : 40;
      rows.push({
        id: `dash-${String(i).padStart(6, '0')}`, taskName: i % 2 ? 'b' : 'a', args: [i], status, attempts: 1, maxRetries: 0, retriesLeft: 0, priority: 0, tags: [],
        createdAt: new Date(done - ms).toISOString(), startedAt: new Date(done - ms).toISOString(), completedAt: new Date(done).toISOString(), nextRunAt: null,
        result: status === 'SUCCESS' ? i : null, error: status === 'FAILED' ? { name: 'Error', message: 'boom', stack: null } : null, timeoutSecs: 30, timeoutPolicy: 'retry', workerId: null,
      });
    }
    await client.kernel.resolve('resultStore').putMany(rows);
    const body = (await (await fetch(`${url}/api/stats`)).json()) as Json;
    const sum = (b: Json[], k: string) => b.reduce((t, x) => t + (x[k] as number), 0);
    expect(body.completedLastHour).to.equal(n);
    for (const b of [body.throughputLastHour, body.throughputLastDay]) {
      expect(sum(b, 'success')).to.equal(body.byStatus.SUCCESS);
      expect(sum(b, 'failed')).to.equal(body.byStatus.FAILED);
    }
    expect(body.throughputLastHour[1].at - body.throughputLastHour[0].at).to.equal(60_000);
    expect(body.runTimes).to.deep.equal([{ task: 'a', n: 200, p50: 40, p95: 40 }, { task: 'b', n: 200, p50: 80, p95: 80 }]);
  });

  it('pages through jobs that share one millisecond (a bulk enqueue), each once', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    const ids = Array.from({ length: 300 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    await client.kernel.resolve('resultStore').putMany(ids.map((id, i): JobRecord => ({
      id, taskName: 'bulk', args: [i], status: 'PENDING', attempts: 0, maxRetries: 0, retriesLeft: 0, priority: 0, tags: [],
      createdAt: at, startedAt: null, completedAt: null, nextRunAt: null, result: null, error: null, timeoutSecs: 30, timeoutPolicy: 'retry', workerId: null,
    })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const body = (await (await fetch(`${url}/api/jobs?task=bulk&limit=50${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Json;
      expect(body.jobs.length).to.be.at.most(50);
      seen.push(...body.jobs.map((j: Json) => j.id as string));
      cursor = body.nextCursor as string | null;
    } while (cursor);
    expect(seen).to.deep.equal([...ids].reverse());
  });
});
