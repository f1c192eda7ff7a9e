/** A job claimed again after its lease ran out emits `jobRedelivered`; a first claim does not. */
import { expect } from 'chai';
import type { JobEvent } from '../../sdk/plugin.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

describe('worker: jobRedelivered', () => {
  after(() => cleanupTempProjects());

  for (const backend of ['memory', 'sqlite', 'file'] as const) {
    it(`is emitted for a job whose earlier lease ran out (${backend} queue), with its attempt`, async () => {
      const client = await testClient({ config: { queueBackend: backend, resultBackend: backend === 'file' ? 'file' : backend } });
      try {
        const redelivered: JobEvent[] = [];
        const claimed: JobEvent[] = [];
        client.kernel.bus.hooks.jobRedelivered.tap('test', (e: JobEvent) => { redelivered.push(e); });
        client.kernel.bus.hooks.jobClaimed.tap('test', (e: JobEvent) => { claimed.push(e); });
        const lost = await t.add.delay(1, 2);
        const fresh = await t.add.delay(3, 4);
        // A worker that claimed the first job and vanished: its 1 ms lease runs out at once.
        const queue = client.kernel.resolve('queue');
        const ghost = await queue.claim({ max: 1, workerId: 'ghost', leaseMs: 1 });
        expect(ghost.map((j) => j.id)).to.deep.equal([lost.id]);
        await new Promise((r) => setTimeout(r, 20));
        const worker = await client.startWorker({ threads: 1, concurrency: 2, burst: true });
        await worker.done;
        expect(await lost.result()).to.equal(3);
        expect(await fresh.result()).to.equal(7);
        expect(redelivered.map((e) => [e.jobId, e.taskName, e.attempt, e.workerId])).to.deep.equal([[lost.id, 'wt.add', 2, worker.id]]);
        expect(claimed.map((e) => e.jobId).sort()).to.deep.equal([lost.id, fresh.id].sort());
      } finally {
        await client.close();
      }
    });
  }
});
