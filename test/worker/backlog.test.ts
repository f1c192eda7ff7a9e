/**
 * One open thread: the pool sends it jobs beyond its free slots (a backlog the thread starts as
 * slots free). These pin what must not change because of it: the concurrency limit, jobStarted per
 * job, timeouts per job, cancel of a waiting job, and jobs given back on stop without an attempt.
 */
import { expect } from 'chai';
import { settledJob as settled, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';
import { PG_URL, dropSchema, schemaName, skipWithoutPostgres } from '../postgres/helpers.ts';

describe('worker pool: one thread with a backlog', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  for (const backend of ['memory', 'sqlite']) {
    it(`never runs more than concurrency jobs at once, and reports each start (${backend})`, async () => {
      const client = await testClient({ config: { queueBackend: backend, resultBackend: backend } });
      const starts: string[] = [];
      let most = 0;
      // Jobs running, as the pool counts them when each starts (jobSucceeded fires only after the
      // batched commit, so it cannot mark the end of a run).
      let worker: Awaited<ReturnType<typeof client.startWorker>> | null = null;
      client.kernel.hooks.jobStarted.tap('test', (e) => { starts.push(e.jobId); most = Math.max(most, worker?.stats().running ?? 0); });
      worker = await client.startWorker({ threads: 1, concurrency: 3, batchSize: 50 });
      try {
        const hs = await t.slow.map(Array.from({ length: 30 }, () => [20]));
        for (const h of hs) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS', attempts: 1 });
        expect(most, 'jobs running at once').to.be.at.most(3);
        expect(new Set(starts)).to.have.property('size', 30);
      } finally {
        await worker.stop();
        await client.close();
      }
    });
  }

  it('times out a job that waited in the backlog by its own timer, not from when it was sent', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1, concurrency: 1, batchSize: 20 });
    try {
      // politeWait times out at 0.3 s by design and waits behind 800 ms of slow jobs: its clock
      // must start when it starts, not when it was sent to the thread.
      const firsts = await t.slow.map([[400], [400]]);
      const polite = await t.politeWait.delay();
      for (const h of firsts) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS' });
      const rec = await settled(client, polite.id);
      expect(rec.status).to.equal('FAILED');
      expect(rec.error!.name).to.equal('TimeoutError');
      expect(Date.parse(rec.completedAt!) - Date.parse(rec.startedAt!), 'run time measured from its own start').to.be.within(250, 2500);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  for (const backend of ['memory', 'sqlite', 'postgres']) {
    it(`cancels a job waiting in the backlog at once, counting no attempt for it (${backend})`, async function () {
      let schema: string | null = null;
      if (backend === 'postgres') {
        await skipWithoutPostgres(this);
        schema = schemaName();
      }
      const client = await testClient({ config: { queueBackend: backend, resultBackend: backend, ...(schema ? { postgresUrl: PG_URL, postgresSchema: schema } : {}) } });
      const worker = await client.startWorker({ threads: 1, concurrency: 1, batchSize: 20 });
      try {
        const busy = await t.slow.delay(1500);
        const waiting = await t.slow.map([[10], [10], [10]]);
        await waitFor(async () => (await client.getJob(busy.id))?.status === 'RUNNING', { what: 'the busy job to start' });
        await client.cancelJob(waiting[1].id);
        const rec = await settled(client, waiting[1].id);
        expect(rec.status).to.equal('CANCELLED');
        // Claimed ahead (the claim counted an attempt), never started: as a job cancelled in the queue.
        expect(rec, 'no attempt started').to.include({ attempts: 0, startedAt: null });
        expect(rec.history).to.deep.equal([]);
        expect(Date.parse(rec.completedAt!), 'cancelled before the busy job finished').to.be.below(Date.parse((await settled(client, busy.id)).completedAt!));
        for (const h of [waiting[0], waiting[2]]) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS', attempts: 1 });
      } finally {
        await worker.stop();
        await client.close();
        if (schema) await dropSchema(schema);
      }
    });
  }

  for (const [label, config] of [
    ['SQLite', { queueBackend: 'sqlite', resultBackend: 'sqlite' }],
    ['a file queue with SQLite records (the pair job store)', { queueBackend: 'file', resultBackend: 'sqlite' }],
  ] as const) it(`gives waiting jobs back on stop without spending an attempt, on ${label}`, async () => {
    const client = await testClient({ config });
    const worker = await client.startWorker({ threads: 1, concurrency: 1, batchSize: 20, drainMs: 100 });
    const busy = await t.slow.delay(800);
    const waiting = await t.slow.map(Array.from({ length: 8 }, () => [10]));
    await waitFor(async () => (await client.getJob(busy.id))?.status === 'RUNNING', { what: 'the busy job to start' });
    await worker.stop();
    const left = (await Promise.all(waiting.map((h) => client.getJob(h.id)))).filter((r) => r!.status === 'PENDING');
    expect(left.length, 'jobs still waiting after stop').to.be.greaterThan(0);
    for (const r of left) expect(r!.attempts, `attempts of ${r!.id}`).to.equal(0);
    const again = await client.startWorker({ threads: 1 });
    try {
      for (const r of left) expect(await settled(client, r!.id)).to.include({ status: 'SUCCESS', attempts: 1 });
    } finally {
      await again.stop();
      await client.close();
    }
  });
});
