/**
 * The conformance cases of a queue and a result store used together: the optional one-step writes
 * `Queue.enqueueWithRecords` and `Queue.ackWithRecords` (kernel/contracts.ts). A queue without them
 * passes every case (the dispatcher and the worker pool then make the two calls themselves); one that
 * has them must either do both writes atomically or resolve false having written nothing.
 * Must never: assume a backend, or require the fast path (false is always a valid answer).
 */
import assert from 'node:assert/strict';
import { isNuvomError, type JobRecord, type Queue, type QueuedJob, type ResultStore } from '../plugin.ts';
import { makeJobRecord, makeQueuedJob, type ConformanceCase } from './fixtures.ts';

export interface StoragePairCaseContext {
  queue: Queue;
  /** A result store the dispatcher would use with this queue (the same file, where that matters). */
  store: ResultStore;
}

const LEASE = 30_000;

/** A job and its PENDING record, as the dispatcher builds them. */
function jobWithRecord(overrides: Partial<QueuedJob> = {}): { job: QueuedJob; record: JobRecord } {
  const job = makeQueuedJob({ runAt: Date.now() - 10_000, createdAt: Date.now() - 10_000, ...overrides });
  const record = makeJobRecord({ id: job.id, taskName: job.taskName, createdAt: new Date(job.createdAt).toISOString() });
  return { job, record };
}

/** A store that forwards to `inner` but is no backend's own object: no queue can write with it in one step. */
function foreign(inner: ResultStore): ResultStore {
  return {
    put: (r) => inner.put(r),
    putMany: (rs) => inner.putMany(rs),
    getFull: (id) => inner.getFull(id),
    getResult: (id) => inner.getResult(id),
    getError: (id) => inner.getError(id),
    listJobs: (f) => inner.listJobs(f),
    stats: (s) => inner.stats(s),
    purge: (f) => inner.purge(f),
    close: async () => undefined,
  };
}

async function assertNothingWritten(queue: Queue, store: ResultStore, ids: string[], why: string): Promise<void> {
  for (const id of ids) {
    assert.equal(await queue.get(id), null, `${why}: job ${id} is in the queue`);
    assert.equal(await store.getFull(id), null, `${why}: record ${id} was written`);
  }
}

export const storagePairCases: readonly ConformanceCase<StoragePairCaseContext>[] = Object.freeze([
  {
    name: 'enqueueWithRecords writes every record and every job, or resolves false having written nothing',
    async run({ queue, store }) {
      if (!queue.enqueueWithRecords) return;
      const pairs = [jobWithRecord(), jobWithRecord({ priority: 3 })];
      const done = await queue.enqueueWithRecords(pairs.map((p) => p.job), pairs.map((p) => p.record), store);
      assert.equal(typeof done, 'boolean', 'enqueueWithRecords must resolve true or false');
      if (!done) return assertNothingWritten(queue, store, pairs.map((p) => p.job.id), 'enqueueWithRecords resolved false');
      for (const { job, record } of pairs) {
        assert.equal((await queue.get(job.id))?.priority, job.priority, `job ${job.id} is not queued as given`);
        assert.deepEqual(await store.getFull(job.id), record, `record ${job.id} is not stored as given`);
      }
      const claimed = await queue.claim({ max: 10, workerId: 'w1', leaseMs: LEASE });
      assert.deepEqual(claimed.map((j) => j.id).sort(), pairs.map((p) => p.job.id).sort(), 'the jobs are not claimable');
    },
  },
  {
    name: 'enqueueWithRecords is all or none: a duplicate job id leaves the other jobs and every record unwritten',
    async run({ queue, store }) {
      if (!queue.enqueueWithRecords) return;
      const first = jobWithRecord();
      await store.put(first.record);
      await queue.enqueue(first.job);
      const fresh = jobWithRecord();
      const again = { job: { ...first.job }, record: { ...first.record, priority: 9, tags: ['changed'] } };
      let caught: unknown;
      let done: boolean | undefined;
      try {
        done = await queue.enqueueWithRecords([fresh.job, again.job], [fresh.record, again.record], store);
      } catch (err) {
        caught = err;
      }
      if (done === false) return assertNothingWritten(queue, store, [fresh.job.id], 'enqueueWithRecords resolved false');
      assert.ok(isNuvomError(caught, 'NUVOM_E_DUPLICATE_JOB'), `expected NUVOM_E_DUPLICATE_JOB, got ${caught === undefined ? `a resolved ${String(done)}` : String(caught)}`);
      await assertNothingWritten(queue, store, [fresh.job.id], 'after a refused enqueueWithRecords');
      assert.deepEqual(await store.getFull(first.job.id), first.record, 'the earlier record was overwritten by a refused enqueue');
      assert.equal(await queue.qsize(), 1, 'the queue holds more than the earlier job');
    },
  },
  {
    name: 'enqueueWithRecords resolves false for a store it cannot write with, and writes nothing',
    async run({ queue, store }) {
      if (!queue.enqueueWithRecords) return;
      const p = jobWithRecord();
      assert.equal(await queue.enqueueWithRecords([p.job], [p.record], foreign(store)), false, 'a store wrapped by other code cannot share a transaction');
      await assertNothingWritten(queue, store, [p.job.id], 'enqueueWithRecords with a foreign store');
    },
  },
  {
    name: 'ackWithRecords stores the records and removes the jobs this worker holds, or resolves false having done nothing',
    async run({ queue, store }) {
      if (!queue.ackWithRecords) return;
      const pairs = [jobWithRecord(), jobWithRecord()];
      for (const p of pairs) { await store.put(p.record); await queue.enqueue(p.job); }
      const claimed = await queue.claim({ max: 10, workerId: 'w1', leaseMs: LEASE });
      assert.equal(claimed.length, 2);
      const success = pairs.map((p) => ({ ...p.record, status: 'SUCCESS' as const, attempts: 1, result: { ok: p.job.id }, workerId: 'w1', startedAt: new Date().toISOString(), completedAt: new Date().toISOString() }));
      const ids = pairs.map((p) => p.job.id);
      const done = await queue.ackWithRecords(ids, 'w1', success, store);
      assert.equal(typeof done, 'boolean', 'ackWithRecords must resolve true or false');
      if (!done) {
        assert.equal(await queue.qsize(), 2, 'ackWithRecords resolved false but removed jobs');
        for (const p of pairs) assert.deepEqual(await store.getFull(p.job.id), p.record, 'ackWithRecords resolved false but wrote a record');
        return;
      }
      assert.equal(await queue.qsize(), 0, 'acked jobs are still queued');
      for (const r of success) assert.deepEqual(await store.getFull(r.id), r, `record ${r.id} is not stored as given`);
    },
  },
  {
    name: 'ackWithRecords leaves a job another worker holds in the queue, as ackMany does',
    async run({ queue, store }) {
      if (!queue.ackWithRecords) return;
      const p = jobWithRecord();
      await store.put(p.record);
      await queue.enqueue(p.job);
      assert.equal((await queue.claim({ max: 1, workerId: 'w1', leaseMs: LEASE })).length, 1);
      const done = await queue.ackWithRecords([p.job.id], 'w2', [{ ...p.record, status: 'SUCCESS', attempts: 1 }], store);
      assert.equal(await queue.qsize(), 1, `a worker that does not hold the job removed it (resolved ${String(done)})`);
      const again = await queue.renew([p.job.id], 'w1', LEASE);
      assert.deepEqual(again.held, [p.job.id], 'the holder lost its lease');
    },
  },
  {
    name: 'ackWithRecords resolves false for a store it cannot write with, and changes nothing',
    async run({ queue, store }) {
      if (!queue.ackWithRecords) return;
      const p = jobWithRecord();
      await store.put(p.record);
      await queue.enqueue(p.job);
      await queue.claim({ max: 1, workerId: 'w1', leaseMs: LEASE });
      assert.equal(await queue.ackWithRecords([p.job.id], 'w1', [{ ...p.record, status: 'SUCCESS', attempts: 1 }], foreign(store)), false);
      assert.equal(await queue.qsize(), 1, 'the job was removed');
      assert.deepEqual(await store.getFull(p.job.id), p.record, 'the record was changed');
    },
  },
]);
