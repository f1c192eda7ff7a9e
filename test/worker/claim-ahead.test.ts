/**
 * How far ahead a worker claims: up to `batchSize` (default 100) while jobs are short, but slow jobs
 * are not hoarded under one worker's leases: a second worker started later still gets work.
 */
import { expect } from 'chai';
import { settledJob as settled, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';
import { paceAhead } from '../../builtin-plugins/worker-pool/claimer.ts';
import { PG_URL, dropSchema, schemaName, skipWithoutPostgres } from '../postgres/helpers.ts';

describe('worker pool: claiming ahead', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  for (const backend of ['sqlite', 'postgres']) {
    it(`two idle workers share slow jobs enqueued together: the first to wake takes its free slots and one more, not ten (${backend})`, async function () {
      let schema: string | null = null;
      if (backend === 'postgres') {
        await skipWithoutPostgres(this);
        schema = schemaName();
      }
      const client = await testClient({ config: { queueBackend: backend, resultBackend: backend, ...(schema ? { postgresUrl: PG_URL, postgresSchema: schema } : {}) } });
      const a = await client.startWorker({ threads: 1, concurrency: 1 });
      const b = await client.startWorker({ threads: 1, concurrency: 1 });
      // How far ahead each claims now (the claimer's own state: nothing outside shows it).
      const aheadOf = (w: unknown) => (w as { p: { parts: { claimer: { ahead: number } } } }).p.parts.claimer.ahead;
      try {
        // Both idle (each found the queue empty), then six jobs of 400 ms at once: each worker's
        // share is about three. Holding ten ahead, the first to wake took all six and the other ran none.
        await waitFor(() => aheadOf(a) === 1 && aheadOf(b) === 1, { what: 'both workers to find the queue empty' });
        const hs = await t.slow.map(Array.from({ length: 6 }, () => [400]));
        const recs = await Promise.all(hs.map((h) => settled(client, h.id, 30_000)));
        for (const r of recs) expect(r).to.include({ status: 'SUCCESS', attempts: 1 });
        const byA = recs.filter((r) => r.workerId === a.id).length;
        expect({ byA, byB: recs.length - byA }, 'jobs each worker ran').to.satisfy((n: { byA: number; byB: number }) => n.byA >= 2 && n.byB >= 2);
      } finally {
        await b.stop();
        await a.stop();
        await client.close();
        if (schema) await dropSchema(schema);
      }
    });
  }

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

  describe('the pace that sets how far ahead', () => {
    it('ramps up as soon as short jobs have ended twice the jobs claimed ahead, not after a full window', () => {
      // From ten ahead, 20 jobs ended in 10 ms: 2 a ms, so 200 ms of them (400) ahead, under batchSize.
      expect(paceAhead(10, 500, 20, 10)).to.equal(400);
      expect(paceAhead(10, 100, 20, 10), 'never past batchSize').to.equal(100);
    });

    it('keeps measuring slow jobs over the whole window, and then claims ahead only what they end in 200 ms, and one', () => {
      expect(paceAhead(10, 500, 5, 50), 'window open').to.equal(null);
      expect(paceAhead(10, 500, 19, 99), 'window open').to.equal(null);
      expect(paceAhead(0, 500, 19, 400), 'window open: too few ended to judge on less than 500 ms').to.equal(null);
      expect(paceAhead(10, 500, 5, 500)).to.equal(2);
      expect(paceAhead(0, 500, 2, 500), 'two slow jobs ending together: the least ahead, one').to.equal(1);
      expect(paceAhead(0, 500, 0, 500), 'nothing ended: one ahead').to.equal(1);
      expect(paceAhead(10, 1, 50, 500), 'never past batchSize').to.equal(1);
    });

    it('does not judge the pace on less than 10 ms, however many jobs ended in it', () => {
      expect(paceAhead(10, 500, 100, 5)).to.equal(null);
    });
  });
});
