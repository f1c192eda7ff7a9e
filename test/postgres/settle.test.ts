/**
 * The job store's settle merges against what is stored at settle time: a row whose record changed
 * after the claim (here its history, written by another process) keeps that attempt; a row the worker
 * no longer holds is left alone. (A settle that trusted the claim's copy of the row would lose the
 * first: the one-statement settle checks in its WHERE that nothing is stored to merge, and leaves the
 * rest to the locked merge; docs/decisions.md.)
 */
import { expect } from 'chai';
import { PgJobStore, PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { argsBytesOf, rememberArgsBytes, type JobRecord } from '../../sdk/plugin.ts';
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

  it('a batch mixing held, merged and taken-over rows reports exactly the ones it wrote', async () => {
    const [direct, merged, taken] = [await claimedJob(), await claimedJob(), await claimedJob()];
    const earlier = { attempt: 0, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:01.000Z', outcome: 'FAILED', error: null, workerId: 'other', threadId: null };
    const c = await pgClient();
    try {
      await c.query(`UPDATE "${schema}".jobs SET history = $2 WHERE id = $1`, [merged.id, JSON.stringify([earlier])]);
      await c.query(`UPDATE "${schema}".jobs SET worker_id = 'w2' WHERE id = $1`, [taken.id]);
    } finally {
      await c.end();
    }
    const applied = await store.settle('w1', [direct, merged, taken].map((r) => ({ id: r.id, action: 'ack' as const, record: success(r) })));
    expect([...applied].sort()).to.deep.equal([direct.id, merged.id].sort());
    expect((await results.getFull(direct.id))!.status).to.equal('SUCCESS');
    expect((await results.getFull(merged.id))!.history!.map((h) => h.outcome)).to.deep.equal(['FAILED', 'SUCCESS']);
    expect((await results.getFull(taken.id))!.status).to.equal('RUNNING');
    expect(await queue.qsize()).to.equal(1);
  });

  it('a batch of outcomes that differ in some columns and share others stores each record as given', async () => {
    const now = Date.now();
    // Job 1's id holds the separators the batch's joined text columns use: its column goes as an array.
    const jobs = [0, 1, 2, 3].map((i) => makeQueuedJob({ args: json.encode([i]), runAt: now - 1000, priority: i % 2, taskName: i < 2 ? 't.a' : 't.b', ...(i === 1 ? { id: `sep\u001fand\u001e-${now}` } : {}) }));
    const recs = jobs.map((j, i) => makeJobRecord({ id: j.id, taskName: j.taskName, args: [i], createdAt: new Date(j.createdAt).toISOString(), priority: j.priority, maxRetries: 3, retriesLeft: 3, tags: i === 3 ? ['x'] : [] }));
    await store.enqueue(jobs, recs);
    expect(await store.claim({ max: 4, workerId: 'w1', leaseMs: 30_000 })).to.have.length(4);
    const running = await Promise.all(jobs.map(async (j) => (await results.getFull(j.id))!));
    const done = running.map((r, i) => (i === 2
      ? { ...r, status: 'RETRYING' as const, nextRunAt: new Date(now + 60_000).toISOString(), error: { name: 'E', message: 'again', stack: null },
        history: [{ attempt: 1, startedAt: r.startedAt, endedAt: new Date(now).toISOString(), outcome: 'RETRIED' as const, error: { name: 'E', message: 'again', stack: null }, workerId: 'w1', threadId: 2 }] }
      : { ...success(running[i]), result: i === 1 ? { big: 'x'.repeat(100) } : i, args: i === 3 ? ['changed'] : r.args }));
    const outcomes = done.map((rec, i) => (i === 2 ? { id: rec.id, action: 'retry' as const, runAt: now + 60_000, record: rec } : { id: rec.id, action: 'ack' as const, record: rec }));
    expect(await store.settle('w1', outcomes)).to.have.members(jobs.map((j) => j.id));
    for (const rec of done) expect(await results.getFull(rec.id)).to.deep.equal(rec);
    expect(await queue.qsize()).to.equal(1);
  });

  it("a record carrying the very arguments the pool decoded from the claim keeps the job's own bytes", async () => {
    const running = await claimedJob();
    const bytes = (await queue.get(running.id))!.args;
    // As the worker pool does when it decodes a claimed job (claimer.ts).
    const claimedArgs = json.decode(bytes) as unknown[];
    rememberArgsBytes(claimedArgs, bytes);
    // The mark is invisible to JSON and is not copied to a worker thread (structured clone).
    expect(JSON.stringify(claimedArgs)).to.equal(JSON.stringify(json.decode(bytes)));
    expect(argsBytesOf(claimedArgs)).to.equal(bytes);
    expect(argsBytesOf(structuredClone(claimedArgs))).to.equal(undefined);
    const done = { ...success(running), args: claimedArgs };
    expect(await store.settle('w1', [{ id: running.id, action: 'ack', record: done }])).to.deep.equal([running.id]);
    expect(await results.getFull(running.id)).to.deep.equal(done);
    const c = await pgClient();
    try {
      const { rows } = await c.query(`SELECT r_args FROM "${schema}".jobs WHERE id = $1`, [running.id]);
      expect(rows[0].r_args, 'the record shares the queued bytes').to.equal(null);
    } finally {
      await c.end();
    }
  });

  it('the jobs of one claim that share their options and meta texts each get objects of their own', async () => {
    const now = Date.now();
    const options = { ...makeQueuedJob().options, tags: ['a', 'b'] };
    const jobs = [0, 1, 2].map((i) => makeQueuedJob({ runAt: now - 1000, options, meta: i === 2 ? { k: 1 } : { k: 0 } }));
    await queue.enqueueMany(jobs);
    const claimed = await store.claim({ max: 3, workerId: 'w1', leaseMs: 30_000 });
    expect(claimed.map((j) => j.options)).to.deep.equal([options, options, options]);
    expect(claimed.map((j) => j.meta)).to.have.deep.members([{ k: 0 }, { k: 0 }, { k: 1 }]);
    expect(claimed[0].options).to.not.equal(claimed[1].options);
    expect(claimed[0].options.tags).to.not.equal(claimed[1].options.tags);
    expect(claimed[0].meta).to.not.equal(claimed[1].meta);
    expect(claimed.every((j) => j.leaseExpiresAt >= now + 30_000 && typeof j.leaseExpiresAt === 'number')).to.equal(true);
  });

  it('an ack right after the claim stores the record as given', async () => {
    const running = await claimedJob();
    const done = success(running);
    expect(await store.settle('w1', [{ id: running.id, action: 'ack', record: done }])).to.deep.equal([running.id]);
    expect(await results.getFull(running.id)).to.deep.equal(done);
    expect(await queue.qsize()).to.equal(0);
  });
});
