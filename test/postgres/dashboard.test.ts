/**
 * The dashboard on a PostgreSQL project: what an operator sees matches the store, past the 5,000
 * newest records the listJobs fallback reads.
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
});
