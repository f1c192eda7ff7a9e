import { expect } from 'chai';
import { MemoryQueue } from '../../sdk/testing/index.ts';
import { definePlugin, NuvomError, type ClaimOptions, type ClaimedJob } from '../../sdk/plugin.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

/** A memory queue whose first claims fail the way a locked or full database does. */
class FlakyQueue extends MemoryQueue {
  failures = 3;
  override async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    if (this.failures > 0) {
      this.failures--;
      throw new NuvomError('NUVOM_E_STORAGE', 'database is locked (simulated)');
    }
    return super.claim(opts);
  }
}

describe('worker pool: storage errors', function () {
  this.timeout(30_000);
  after(() => cleanupTempProjects());

  it('keeps claiming after the queue throws, and runs the job once the queue recovers', async () => {
    const queue = new FlakyQueue();
    const flaky = definePlugin({
      name: 'flaky-queue',
      apiVersion: 1,
      provides: ['queue:flaky'],
      register(ctx) { ctx.provide('queue', 'flaky', () => queue); },
    });
    const client = await testClient({ plugins: [flaky], config: { queueBackend: 'flaky' } });
    const worker = await client.startWorker({ threads: 1 });
    try {
      const h = await t.add.delay(2, 3);
      expect(await h.result({ timeoutSecs: 20 })).to.equal(5);
      expect(queue.failures).to.equal(0);
      await waitFor(() => client.logLines.filter((l) => l.includes('claiming jobs failed')).length >= 3, { what: 'a warning per failed claim' });
      expect(client.logLines.join('\n')).to.include('database is locked (simulated)');
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('a burst run whose claim fails ends with the error (done rejects) instead of retrying forever', async () => {
    const queue = new FlakyQueue();
    queue.failures = Infinity; // a server that is down, a schema that is not migrated
    const broken = definePlugin({
      name: 'broken-queue',
      apiVersion: 1,
      provides: ['queue:broken'],
      register(ctx) { ctx.provide('queue', 'broken', () => queue); },
    });
    const client = await testClient({ plugins: [broken], config: { queueBackend: 'broken' } });
    try {
      const worker = await client.startWorker({ threads: 1, burst: true });
      const err = await worker.done.then(() => null, (e: unknown) => e);
      expect(err, 'done should reject').to.be.instanceOf(NuvomError);
      expect((err as NuvomError).message).to.include('database is locked (simulated)');
    } finally {
      await client.close();
    }
  });
});
