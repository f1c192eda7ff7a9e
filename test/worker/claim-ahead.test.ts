/**
 * How far ahead a worker claims: up to `batchSize` (default 100) while jobs are short, but slow jobs
 * are not hoarded under one worker's leases: a second worker started later still gets work.
 */
import { expect } from 'chai';
import { settledJob as settled, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

describe('worker pool: claiming ahead', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('leaves slow jobs to a second worker instead of holding them all ahead (default batchSize)', async () => {
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    const hs = await t.slow.map(Array.from({ length: 24 }, () => [150]));
    const first = await client.startWorker({ threads: 1, concurrency: 1 });
    let second: Awaited<ReturnType<typeof client.startWorker>> | null = null;
    try {
      await waitFor(async () => (await client.getJob(hs[0].id))?.status === 'RUNNING', { what: 'the first worker to start a job' });
      second = await client.startWorker({ threads: 1, concurrency: 1 });
      const recs = await Promise.all(hs.map((h) => settled(client, h.id, 50_000)));
      for (const r of recs) expect(r).to.include({ status: 'SUCCESS', attempts: 1 });
      const bySecond = recs.filter((r) => r.workerId === second!.id).length;
      expect(bySecond, 'jobs the second worker ran').to.be.greaterThan(0);
    } finally {
      await second?.stop();
      await first.stop();
      await client.close();
    }
  });
});
