/**
 * The conformance cases of a combined job store (JobStore, kernel/contracts.ts): one transaction per
 * enqueue batch, per claim (with the RUNNING records), per outcome batch, outcomes fenced by the lease.
 * Run on every backend that provides a `jobStore` (docs/plugins.md "A job store").
 * Must never: assume a backend; read anything but through the store's queue and results.
 */
import assert from 'node:assert/strict';
import { isNuvomError, type JobRecord, type JobSettlement, type JobStore, type QueuedJob, type Serializer } from '../plugin.ts';
import { makeJobRecord, makeQueuedJob, type ConformanceCase } from './fixtures.ts';

export interface JobStoreCaseContext {
  store: JobStore;
  /**
   * How the store's arguments are encoded: a job's `args` bytes are this encoding of its record's
   * `args` (a store may keep them once). Default: JSON as UTF-8.
   */
  serializer?: Pick<Serializer, 'encode'>;
}

const JSON_BYTES: Pick<Serializer, 'encode'> = { encode: (v) => new TextEncoder().encode(JSON.stringify(v)) };
/** The serializer of the case running now (cases run one at a time). */
let codec: Pick<Serializer, 'encode'> = JSON_BYTES;

const LEASE = 30_000;

/** A job and its PENDING record, as the dispatcher builds them. */
function jobWithRecord(overrides: Partial<QueuedJob> = {}): { job: QueuedJob; record: JobRecord } {
  const t = Date.now() - 10_000;
  const args = [uniqueArg(), 2];
  const job = makeQueuedJob({ runAt: t, createdAt: t, args: codec.encode(args), ...overrides });
  const record = makeJobRecord({ args, id: job.id, taskName: job.taskName, createdAt: new Date(job.createdAt).toISOString(), priority: job.priority, maxRetries: job.options.maxRetries, retriesLeft: job.options.maxRetries, tags: [...job.options.tags], timeoutSecs: job.options.timeoutSecs, timeoutPolicy: job.options.timeoutPolicy });
  return { job, record };
}

let argCounter = 0;
const uniqueArg = () => `arg-${++argCounter}`;

async function enqueued(store: JobStore, n: number): Promise<Array<{ job: QueuedJob; record: JobRecord }>> {
  const pairs = Array.from({ length: n }, () => jobWithRecord());
  await store.enqueue(pairs.map((p) => p.job), pairs.map((p) => p.record));
  return pairs;
}

/** The record of an ended attempt, as the worker pool builds it. */
function ended(record: JobRecord, status: JobRecord['status'], workerId: string, extra: Partial<JobRecord> = {}): JobRecord {
  const now = new Date().toISOString();
  return { ...record, status, attempts: 1, workerId, startedAt: now, completedAt: status === 'RETRYING' || status === 'PENDING' ? null : now, ...extra };
}

async function assertNothingWritten(store: JobStore, ids: string[], why: string): Promise<void> {
  for (const id of ids) {
    assert.equal(await store.queue.get(id), null, `${why}: job ${id} is in the queue`);
    assert.equal(await store.results.getFull(id), null, `${why}: record ${id} was written`);
  }
}

const cases: ConformanceCase<JobStoreCaseContext>[] = [
  {
    name: 'enqueue writes every record and every job, and the jobs are claimable',
    async run({ store }) {
      const pairs = [jobWithRecord(), jobWithRecord({ priority: 3 })];
      await store.enqueue(pairs.map((p) => p.job), pairs.map((p) => p.record));
      for (const { job, record } of pairs) {
        assert.equal((await store.queue.get(job.id))?.priority, job.priority, `job ${job.id} is not queued as given`);
        assert.deepEqual(await store.results.getFull(job.id), record, `record ${job.id} is not stored as given`);
      }
      const claimed = await store.queue.claim({ max: 10, workerId: 'w1', leaseMs: LEASE });
      assert.deepEqual(claimed.map((j) => j.id).sort(), pairs.map((p) => p.job.id).sort(), 'the jobs are not claimable');
    },
  },
  {
    name: 'enqueue is all or none: a duplicate job id refuses the batch (NUVOM_E_DUPLICATE_JOB) and writes nothing',
    async run({ store }) {
      const [first] = await enqueued(store, 1);
      const fresh = jobWithRecord();
      const again = { job: { ...first.job }, record: { ...first.record, priority: 9, tags: ['changed'] } };
      let caught: unknown;
      try {
        await store.enqueue([fresh.job, again.job], [fresh.record, again.record]);
      } catch (err) {
        caught = err;
      }
      assert.ok(isNuvomError(caught, 'NUVOM_E_DUPLICATE_JOB'), `expected NUVOM_E_DUPLICATE_JOB, got ${String(caught)}`);
      await assertNothingWritten(store, [fresh.job.id], 'after a refused enqueue');
      assert.deepEqual(await store.results.getFull(first.job.id), first.record, 'the earlier record was overwritten by a refused enqueue');
      assert.equal(await store.queue.qsize(), 1, 'the queue holds more than the earlier job');
    },
  },
  {
    name: 'enqueue of a record that cannot be stored refuses the batch and writes nothing',
    async run({ store }) {
      const good = jobWithRecord();
      const bad = jobWithRecord();
      const badRecord = { ...bad.record, status: 'BOGUS' } as unknown as JobRecord;
      await assert.rejects(store.enqueue([good.job, bad.job], [good.record, badRecord]), (err: unknown) => isNuvomError(err), 'a record with an unknown status must be refused with a NuvomError');
      await assertNothingWritten(store, [good.job.id, bad.job.id], 'after a refused enqueue');
    },
  },
  {
    name: 'claim leases the jobs and makes their records RUNNING (attempts, startedAt, workerId) in the same call',
    async run({ store }) {
      const pairs = await enqueued(store, 2);
      const now = Date.now();
      const claimed = await store.claim({ max: 10, workerId: 'w1', leaseMs: LEASE, now });
      assert.deepEqual(claimed.map((j) => j.id).sort(), pairs.map((p) => p.job.id).sort());
      for (const job of claimed) {
        assert.equal(job.attempts, 1);
        assert.equal(job.workerId, 'w1');
        const rec = await store.results.getFull(job.id);
        assert.ok(rec, `record ${job.id} is missing`);
        assert.deepEqual([rec.status, rec.attempts, rec.workerId, rec.startedAt, rec.nextRunAt], ['RUNNING', 1, 'w1', new Date(now).toISOString(), null]);
        assert.deepEqual(rec.args, pairs.find((p) => p.job.id === job.id)!.record.args, 'the claim changed the record\'s arguments');
      }
      assert.deepEqual(await store.claim({ max: 10, workerId: 'w2', leaseMs: LEASE }), [], 'leased jobs were claimed again');
    },
  },
  {
    name: 'settle ack stores the SUCCESS records and removes the jobs, and answers their ids',
    async run({ store }) {
      const pairs = await enqueued(store, 2);
      await store.claim({ max: 10, workerId: 'w1', leaseMs: LEASE });
      const out: JobSettlement[] = pairs.map((p) => ({ id: p.job.id, action: 'ack', record: ended(p.record, 'SUCCESS', 'w1', { result: { ok: p.job.id } }) }));
      assert.deepEqual((await store.settle('w1', out)).sort(), pairs.map((p) => p.job.id).sort());
      assert.equal(await store.queue.qsize(), 0, 'acked jobs are still queued');
      for (const o of out) assert.deepEqual(await store.results.getFull(o.id), o.record, `record ${o.id} is not stored as given`);
    },
  },
  {
    name: 'settle retry stores the RETRYING record and the job waits until runAt, then runs again',
    async run({ store }) {
      const [p] = await enqueued(store, 1);
      await store.claim({ max: 1, workerId: 'w1', leaseMs: LEASE });
      const runAt = Date.now() + 60_000;
      const record = ended(p.record, 'RETRYING', 'w1', { nextRunAt: new Date(runAt).toISOString(), error: { name: 'Error', message: 'boom', stack: null } });
      assert.deepEqual(await store.settle('w1', [{ id: p.job.id, action: 'retry', runAt, record }]), [p.job.id]);
      assert.deepEqual(await store.results.getFull(p.job.id), record);
      assert.equal((await store.claim({ max: 1, workerId: 'w2', leaseMs: LEASE })).length, 0, 'a retry ran before its runAt');
      const again = await store.claim({ max: 1, workerId: 'w2', leaseMs: LEASE, now: runAt + 1 });
      assert.deepEqual(again.map((j) => [j.id, j.attempts]), [[p.job.id, 2]]);
      assert.equal((await store.results.getFull(p.job.id))?.status, 'RUNNING');
    },
  },
  {
    name: 'settle fail stores the FAILED record and the job is never delivered again',
    async run({ store }) {
      const [p] = await enqueued(store, 1);
      await store.claim({ max: 1, workerId: 'w1', leaseMs: LEASE });
      const record = ended(p.record, 'FAILED', 'w1', { error: { name: 'Error', message: 'for good', stack: null }, retriesLeft: 0 });
      assert.deepEqual(await store.settle('w1', [{ id: p.job.id, action: 'fail', record }]), [p.job.id]);
      assert.equal(await store.queue.get(p.job.id), null);
      assert.deepEqual(await store.results.getFull(p.job.id), record);
      assert.equal((await store.claim({ max: 1, workerId: 'w2', leaseMs: LEASE, now: Date.now() + 10 * LEASE })).length, 0);
    },
  },
  {
    name: 'settle release gives the job back at once with the claim\'s attempt taken back',
    async run({ store }) {
      const [p] = await enqueued(store, 1);
      await store.claim({ max: 1, workerId: 'w1', leaseMs: LEASE });
      const record = { ...p.record, status: 'PENDING' as const, attempts: 0 };
      assert.deepEqual(await store.settle('w1', [{ id: p.job.id, action: 'release', record }]), [p.job.id]);
      assert.equal((await store.results.getFull(p.job.id))?.status, 'PENDING');
      const again = await store.claim({ max: 1, workerId: 'w2', leaseMs: LEASE });
      assert.deepEqual(again.map((j) => [j.id, j.attempts]), [[p.job.id, 1]]);
    },
  },
  {
    name: 'settle is fenced: a worker that does not hold the job changes neither the queue nor the record',
    async run({ store }) {
      const [p] = await enqueued(store, 1);
      await store.claim({ max: 1, workerId: 'w1', leaseMs: LEASE });
      const running = await store.results.getFull(p.job.id);
      const answer = await store.settle('w2', [{ id: p.job.id, action: 'ack', record: ended(p.record, 'SUCCESS', 'w2') }]);
      assert.deepEqual(answer, [], 'settle answered an id the worker does not hold');
      assert.equal(await store.queue.qsize(), 1, 'a worker that does not hold the job removed it');
      assert.deepEqual(await store.results.getFull(p.job.id), running, 'a worker that does not hold the job wrote its record');
      assert.deepEqual((await store.queue.renew([p.job.id], 'w1', LEASE)).held, [p.job.id], 'the holder lost its lease');
    },
  },
  {
    name: 'settle is fenced after a takeover: the first worker\'s late outcome is dropped, the second worker\'s stands',
    async run({ store }) {
      const [p] = await enqueued(store, 1);
      const t = Date.now();
      await store.claim({ max: 1, workerId: 'w1', leaseMs: 1_000, now: t });
      const [taken] = await store.claim({ max: 1, workerId: 'w2', leaseMs: LEASE, now: t + 5_000 });
      assert.equal(taken?.id, p.job.id, 'the expired lease was not claimed again');
      const late: JobSettlement[] = [{ id: p.job.id, action: 'ack', record: ended(p.record, 'SUCCESS', 'w1') }];
      const timely: JobSettlement = { id: p.job.id, action: 'fail', record: ended(p.record, 'FAILED', 'w2', { attempts: 2 }) };
      // A batch mixing held and lost jobs applies the held ones only.
      const [other] = await enqueued(store, 1);
      await store.claim({ max: 1, workerId: 'w1', leaseMs: LEASE, now: t + 5_000 });
      const otherDone: JobSettlement = { id: other.job.id, action: 'ack', record: ended(other.record, 'SUCCESS', 'w1') };
      assert.deepEqual(await store.settle('w1', [...late, otherDone]), [other.job.id]);
      assert.equal((await store.results.getFull(p.job.id))?.workerId, 'w2', 'the late outcome overwrote the record of the worker that took over');
      assert.deepEqual(await store.settle('w2', [timely]), [p.job.id]);
      assert.equal((await store.results.getFull(p.job.id))?.status, 'FAILED');
      assert.equal((await store.results.getFull(other.job.id))?.status, 'SUCCESS');
    },
  },
];

export const jobStoreCases: readonly ConformanceCase<JobStoreCaseContext>[] = Object.freeze(cases.map((c) => ({
  name: c.name,
  async run(ctx: JobStoreCaseContext) {
    codec = ctx.serializer ?? JSON_BYTES;
    try { await c.run(ctx); } finally { codec = JSON_BYTES; }
  },
})));
