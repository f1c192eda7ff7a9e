import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../sdk/index.ts';
import { dashboardHandler } from '../../builtin-plugins/dashboard/index.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, monitoringProject, waitFor } from '../monitoring/helpers.ts';

describe('workers page: dashboardHandler(client) mounted in an application', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('lists the client\'s own running worker at GET /api/workers and serves the workers page', async () => {
    const dir = await monitoringProject('wkd', '');
    const client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'memory', resultBackend: 'memory' } });
    const handler = dashboardHandler(client);
    const server = createServer(handler);
    try {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await client.startWorker({ threads: 1 });
      type Listed = Array<{ pid: number; threads: number; state: string }>;
      const list: Listed = await waitFor(async () => {
        const body = (await (await fetch(`${url}/api/workers`)).json()) as { workers: Listed };
        return body.workers.length > 0 ? body.workers : null;
      }, { what: 'the worker in /api/workers' });
      expect(list).to.have.length(1);
      expect(list[0]).to.include({ pid: process.pid, threads: 1, state: 'live' });
      const page = await fetch(`${url}/workers`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.contain('href="workers"');
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await client.close();
    }
  });
});
