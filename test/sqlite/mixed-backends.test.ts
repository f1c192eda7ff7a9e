/**
 * Mixed backends go through the generic pair (pairJobStore): a file queue with SQLite records, and
 * the SQLite queue with memory records, run jobs end to end (success, retries, failure) with every
 * record in the result store and nothing left in the queue; the SQLite job store is not used.
 */
import { expect } from 'chai';
import { SqliteJobStore } from '../../builtin-plugins/sqlite/index.ts';
import { testClient, settledJob } from '../helpers/client.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

describe('mixed backends: the generic queue + result store pair', () => {
  after(() => cleanupTempProjects());

  for (const [queueBackend, resultBackend] of [['file', 'sqlite'], ['sqlite', 'memory']] as const) {
    it(`queue "${queueBackend}" + results "${resultBackend}": jobs succeed, retry and fail, every record stored`, async () => {
      const client = await testClient({ config: { queueBackend, resultBackend, schedulerBackend: 'memory' } });
      let combined = 0;
      const orig = SqliteJobStore.prototype.settle;
      SqliteJobStore.prototype.settle = function (...a) { combined += 1; return orig.apply(this, a); };
      try {
        const ok = await t.add.map([[1, 2], [3, 4]]);
        const flaky = await t.flaky.delay(2); // fails once, then succeeds
        const boom = await t.boom.delay();
        expect((await client.getJob(ok[0].id))?.status).to.equal('PENDING');
        const worker = await client.startWorker({ threads: 1, concurrency: 2, burst: true });
        await worker.done;
        expect((await Promise.all(ok.map((h) => settledJob(client, h.id)))).map((r) => [r.status, r.result])).to.deep.equal([['SUCCESS', 3], ['SUCCESS', 7]]);
        const f = await settledJob(client, flaky.id);
        expect(f).to.include({ status: 'SUCCESS', attempts: 2 });
        expect(f.history!.map((a) => a.outcome)).to.deep.equal(['RETRIED', 'SUCCESS']);
        expect(await settledJob(client, boom.id)).to.include({ status: 'FAILED' });
        expect(await client.kernel.resolve('queue').qsize()).to.equal(0);
        expect(combined, 'the SQLite job store was used for mixed backends').to.equal(0);
      } finally {
        SqliteJobStore.prototype.settle = orig;
        await client.close();
      }
    });
  }
});
