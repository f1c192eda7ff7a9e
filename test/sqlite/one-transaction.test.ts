/**
 * On the default SQLite setup (queue and results in one file) the dispatcher and the worker write
 * through the plugin's job store: a job's row in one transaction per enqueue batch, per claim (with
 * the RUNNING records) and per batch of outcomes; with two files both fall back to the generic pair
 * (records first, then the queue), with the same outcome.
 */
import { expect } from 'chai';
import type { Client } from '../../sdk/index.ts';
import { SqliteJobStore, SqliteQueue, SqliteResultStore } from '../../builtin-plugins/sqlite/index.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

type Counts = { putMany: number; enqueueMany: number; ackMany: number; together: number };

/** Counts calls to the two-step methods and the one-step ones while `fn` runs. */
async function counting(fn: () => Promise<void>): Promise<Counts> {
  const counts: Counts = { putMany: 0, enqueueMany: 0, ackMany: 0, together: 0 };
  const spied: Array<[object, string, unknown]> = [];
  const spy = (proto: object, name: string, key: keyof Counts) => {
    const orig = (proto as Record<string, (...a: unknown[]) => unknown>)[name];
    spied.push([proto, name, orig]);
    (proto as Record<string, unknown>)[name] = function (this: unknown, ...a: unknown[]) { counts[key] += 1; return orig.apply(this, a); };
  };
  spy(SqliteResultStore.prototype, 'putMany', 'putMany');
  spy(SqliteQueue.prototype, 'enqueueMany', 'enqueueMany');
  spy(SqliteQueue.prototype, 'ackMany', 'ackMany');
  spy(SqliteJobStore.prototype, 'enqueue', 'together');
  spy(SqliteJobStore.prototype, 'claim', 'together');
  spy(SqliteJobStore.prototype, 'settle', 'together');
  try {
    await fn();
  } finally {
    for (const [proto, name, orig] of spied) (proto as Record<string, unknown>)[name] = orig;
  }
  return counts;
}

async function sqliteClient(separate: boolean): Promise<Client> {
  return testClient({
    config: {
      queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'memory',
      ...(separate ? { sqliteQueuePath: '.nuvom/queue.db', sqliteResultPath: '.nuvom/results.db' } : {}),
    },
  });
}

describe('sqlite: records and queue rows in one transaction', () => {
  after(() => cleanupTempProjects());

  for (const separate of [false, true]) {
    it(separate ? 'with queue and results in two files, falls back to records first, then the queue' : 'on one file, delay(), map() and the acks of a worker each write once', async () => {
      const client = await sqliteClient(separate);
      try {
        let ids: string[] = [];
        const enq = await counting(async () => {
          ids.push((await t.add.delay(1, 2)).id);
          ids = ids.concat((await t.add.map([[3, 4], [5, 6]])).map((h) => h.id));
        });
        expect(enq).to.deep.equal(separate
          ? { putMany: 2, enqueueMany: 2, ackMany: 0, together: 0 }
          : { putMany: 0, enqueueMany: 0, ackMany: 0, together: 2 });
        for (const id of ids) expect((await client.getJob(id))?.status).to.equal('PENDING');
        const run = await counting(async () => {
          const worker = await client.startWorker({ threads: 1, concurrency: 3, burst: true });
          await worker.done;
        });
        // One file: claims (with their RUNNING records) and outcomes go through the job store only.
        // Two files: a RUNNING putMany per claim and a SUCCESS putMany per ack batch.
        if (separate) {
          expect(run.together).to.equal(0);
          expect(run.ackMany).to.be.greaterThan(0);
          expect(run.putMany).to.be.at.least(run.ackMany + 1);
        } else {
          expect(run).to.include({ putMany: 0, ackMany: 0, enqueueMany: 0 });
          expect(run.together).to.be.greaterThan(1);
        }
        const results = await Promise.all(ids.map(async (id) => client.getJob(id)));
        expect(results.map((r) => [r?.status, r?.result])).to.deep.equal([['SUCCESS', 3], ['SUCCESS', 7], ['SUCCESS', 11]]);
        expect(await client.kernel.resolve('queue').qsize()).to.equal(0);
      } finally {
        await client.close();
      }
    });
  }

  it('a refused enqueue (the id is still queued) writes nothing, and leaves the earlier record as it was', async () => {
    const client = await sqliteClient(false);
    try {
      const queue = client.kernel.resolve('queue');
      const store = client.kernel.resolve('resultStore');
      const h = await t.add.enqueue({ args: [1, 1], id: 'fixed-id' });
      // The record says final, but the queue row is still there (a cancel that raced a claim, say).
      const rec = (await store.getFull(h.id))!;
      await store.put({ ...rec, status: 'CANCELLED', completedAt: new Date().toISOString() });
      const err = await t.add.enqueue({ args: [2, 2], id: 'fixed-id' }).catch((e) => e);
      expect(err.code).to.equal('NUVOM_E_DUPLICATE_JOB');
      const after = await store.getFull('fixed-id');
      expect(after).to.include({ status: 'CANCELLED' });
      expect(after!.args).to.deep.equal([1, 1]);
      expect(await queue.qsize()).to.equal(1);
    } finally {
      await client.close();
    }
  });
});
