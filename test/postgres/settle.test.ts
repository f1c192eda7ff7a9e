/**
 * The job store's settle merges against what is stored at settle time: a row whose record changed
 * after the claim (here its history, written by another process) keeps that attempt; a row the worker
 * no longer holds is left alone. (A settle that trusted the claim's copy of the row would lose the
 * first: the one-statement settle checks in its WHERE that nothing is stored to merge, and leaves the
 * rest to the locked merge; docs/decisions.md.)
 */
import { expect } from 'chai';
import { PgJobStore, PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import type { JobRecord } from '../../sdk/plugin.ts';
import { makeJobRecord, makeQueuedJob } from '../../sdk/testing/index.ts';
import { client as pgClient, json, requirePostgres, useJobStore } from './helpers.ts';

describe('postgres: settling jobs', function () {
  this.timeout(30_000);
  requirePostgres();
  let schema: string;
  let queue: PgQueue;
  let results: PgResultStore;
  let store: PgJobStore;
  useJobStore((f) => ({ schema, queue, results, store } = f));

  async function claimedJob(): Promise<JobRecord> {
    const args = ['x'];
    const job = makeQueuedJob({ args: json.encode(args), runAt: Date.now() - 1000 });
    const record = makeJobRecord({ id: job.id, taskName: job.taskName, args, createdAt: new Date(job.createdAt).toISOString(), priority: job.priority });
    await store.enqueue([job], [record]);
    const [claimed] = await store.claim({ max: 1, workerId: 'w1', leaseMs: 30_000 });
    expect(claimed?.id).to.equal(job.id);
    return (await results.getFull(job.id))!;
  }

  const success = (running: JobRecord): JobRecord => {
    const now = new Date().toISOString();
    return {
      ...running, status: 'SUCCESS', completedAt: now, result: 42,
      history: [{ attempt: 1, startedAt: running.startedAt, endedAt: now, outcome: 'SUCCESS', error: null, workerId: 'w1', threadId: 1 }],
    };
  };

  it('an ack of a row whose history changed since the claim keeps the stored attempts', async () => {
    const running = await claimedJob();
    // Another process writes an earlier attempt into the row while w1 holds it.
    const earlier = { attempt: 0, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:01.000Z', outcome: 'FAILED', error: null, workerId: 'other', threadId: null };
    const c = await pgClient();
    try {
      await c.query(`UPDATE "${schema}".jobs SET history = $2 WHERE id = $1`, [running.id, JSON.stringify([earlier])]);
    } finally {
      await c.end();
    }
    expect(await store.settle('w1', [{ id: running.id, action: 'ack', record: success(running) }])).to.deep.equal([running.id]);
    const stored = (await results.getFull(running.id))!;
    expect(stored.status).to.equal('SUCCESS');
    expect((stored.history ?? []).map((h) => [h.attempt, h.outcome])).to.deep.equal([[0, 'FAILED'], [1, 'SUCCESS']]);
  });

  it('an ack of a row another worker took over writes nothing', async () => {
    const running = await claimedJob();
    const c = await pgClient();
    try {
      await c.query(`UPDATE "${schema}".jobs SET worker_id = 'w2' WHERE id = $1`, [running.id]);
    } finally {
      await c.end();
    }
    expect(await store.settle('w1', [{ id: running.id, action: 'ack', record: success(running) }])).to.deep.equal([]);
    expect((await results.getFull(running.id))!.status).to.equal('RUNNING');
    expect(await queue.qsize()).to.equal(1);
  });

  it('an ack right after the claim stores the record as given', async () => {
    const running = await claimedJob();
    const done = success(running);
    expect(await store.settle('w1', [{ id: running.id, action: 'ack', record: done }])).to.deep.equal([running.id]);
    expect(await results.getFull(running.id)).to.deep.equal(done);
    expect(await queue.qsize()).to.equal(0);
  });
});
