/**
 * The queue conformance cases (kernel/contracts.ts `Queue`). Time is controlled by passing `now` to
 * claim/renew/counts; where a method takes no `now`, jobs sit far from Date.now() (an hour away) so
 * the case does not depend on how fast it runs. Never sleeps.
 * Must never: assume a backend, or assert anything the contract leaves open (e.g. the order of the
 * array one multi-job claim returns; cases that care claim one job at a time).
 */
import assert from 'node:assert/strict';
import { duplicateJob, isNuvomError, type ClaimedJob, type Queue, type QueuedJob } from '../plugin.ts';
import { bytesOf, makeQueuedJob, waitFor, type ConformanceCase } from './fixtures.ts';

export interface QueueCaseContext {
  queue: Queue;
}

const HOUR = 3_600_000;
const LEASE = 30_000;

async function claimOne(queue: Queue, workerId: string, now: number, leaseMs = LEASE): Promise<ClaimedJob | undefined> {
  const got = await queue.claim({ max: 1, workerId, leaseMs, now });
  assert.ok(got.length <= 1, `claim({ max: 1 }) returned ${got.length} jobs`);
  return got[0];
}

/** Claims one job at a time until none is left, returning the ids in claim order. */
async function drainIds(queue: Queue, now: number, bound = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (let job = await claimOne(queue, 'drain', now); job; job = await claimOne(queue, 'drain', now)) {
    ids.push(job.id);
    // A broken queue may hand out the same jobs forever; stop instead of spinning.
    assert.ok(ids.length <= bound, `claim kept returning jobs after ${bound} claims (leases not held?)`);
  }
  return ids;
}

function isDuplicate(err: unknown): boolean {
  return isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB');
}

/** A job ready at `t0`, with runAt and createdAt a little before it so that FIFO is unambiguous. */
function readyJob(t0: number, n: number, overrides: Partial<QueuedJob> = {}): QueuedJob {
  return makeQueuedJob({ runAt: t0 - 10_000 + n, createdAt: t0 - 10_000 + n, ...overrides });
}

/**
 * A job that worker w1 claimed and whose lease then ran out, so that w2 took it over: the setup of
 * every "a worker that lost the lease" case. Returns the job, w2's claim and the time it was made.
 */
async function takenOver(queue: Queue): Promise<{ job: QueuedJob; taken: ClaimedJob | undefined; t1: number }> {
  const t0 = Date.now();
  const job = readyJob(t0, 0);
  await queue.enqueue(job);
  await claimOne(queue, 'w1', t0);
  const t1 = t0 + LEASE + 1;
  return { job, taken: await claimOne(queue, 'w2', t1), t1 };
}

export const queueCases: readonly ConformanceCase<QueueCaseContext>[] = Object.freeze([
  {
    name: 'claim returns an enqueued job with attempts 1, its lease, and every field (args bytes) intact',
    async run({ queue }) {
      const t0 = Date.now();
      const args = new Uint8Array(300);
      for (let i = 0; i < args.length; i++) args[i] = (i * 7) % 256;
      const job = readyJob(t0, 0, {
        args, priority: 3, taskName: 'mail.send', meta: { traceId: 'abc', nested: { n: 1 } },
        options: { maxRetries: 2, retryDelaySecs: 1, backoff: 'exponential', timeoutSecs: 9, timeoutPolicy: 'fail', storeResult: false, tags: ['a', 'b'] },
      });
      await queue.enqueue(job);
      const claimed = await queue.claim({ max: 5, workerId: 'w1', leaseMs: LEASE, now: t0 });
      assert.equal(claimed.length, 1);
      const got = claimed[0];
      assert.ok(got.args instanceof Uint8Array, 'args must come back as a Uint8Array (a Buffer is one)');
      assert.deepEqual(bytesOf(got.args), bytesOf(args));
      assert.equal(got.id, job.id);
      assert.equal(got.taskName, 'mail.send');
      assert.equal(got.priority, 3);
      assert.equal(got.runAt, job.runAt);
      assert.equal(got.createdAt, job.createdAt);
      assert.deepEqual(got.options, job.options);
      assert.deepEqual(got.meta, job.meta);
      assert.equal(got.attempts, 1);
      assert.equal(got.workerId, 'w1');
      assert.equal(got.leaseExpiresAt, t0 + LEASE);
    },
  },
  {
    name: 'claim on an empty queue returns an empty array',
    async run({ queue }) {
      assert.deepEqual(await queue.claim({ max: 10, workerId: 'w1', leaseMs: LEASE, now: Date.now() }), []);
    },
  },
  {
    name: 'claims higher priority first, then oldest first within a priority',
    async run({ queue }) {
      const t0 = Date.now();
      const priorities = [0, 5, 0, 10, 5, -1, 0, 10];
      const jobs = priorities.map((priority, n) => readyJob(t0, n, { priority }));
      for (const job of jobs) await queue.enqueue(job);
      const expected = jobs
        .map((job, n) => ({ id: job.id, priority: job.priority, n }))
        .sort((a, b) => b.priority - a.priority || a.n - b.n)
        .map((j) => j.id);
      assert.deepEqual(await drainIds(queue, t0), expected);
    },
  },
  {
    name: 'a delayed job is not claimable before its runAt, and does not block a ready job behind it',
    async run({ queue }) {
      const t0 = Date.now();
      const delayed = makeQueuedJob({ priority: 100, runAt: t0 + 60_000, createdAt: t0 - 2000 });
      const ready = readyJob(t0, 0, { priority: 0 });
      await queue.enqueue(delayed);
      await queue.enqueue(ready);
      assert.deepEqual(await drainIds(queue, t0), [ready.id]);
      await queue.ack(ready.id, 'drain');
      assert.equal(await claimOne(queue, 'w1', t0 + 59_999), undefined, 'claimed 1 ms before runAt');
      const late = await claimOne(queue, 'w1', t0 + 60_000);
      assert.equal(late?.id, delayed.id, 'the delayed job is claimable at its runAt');
      assert.equal(late?.attempts, 1);
    },
  },
  {
    name: 'claim returns at most max jobs',
    async run({ queue }) {
      const t0 = Date.now();
      for (let n = 0; n < 5; n++) await queue.enqueue(readyJob(t0, n));
      assert.equal((await queue.claim({ max: 2, workerId: 'w1', leaseMs: LEASE, now: t0 })).length, 2);
      assert.equal((await queue.claim({ max: 10, workerId: 'w2', leaseMs: LEASE, now: t0 })).length, 3);
      assert.equal((await queue.claim({ max: 10, workerId: 'w3', leaseMs: LEASE, now: t0 })).length, 0);
    },
  },
  {
    name: 'a leased job is not claimed by another worker while its lease holds',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      assert.equal((await claimOne(queue, 'w1', t0))?.id, job.id);
      assert.equal(await claimOne(queue, 'w2', t0), undefined);
      assert.equal(await claimOne(queue, 'w2', t0 + LEASE - 1), undefined, 'claimed 1 ms before the lease ends');
    },
  },
  {
    name: 'a job whose lease expired is redelivered to another worker with attempts 2',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      const again = await claimOne(queue, 'w2', t0 + LEASE + 1);
      assert.equal(again?.id, job.id);
      assert.equal(again?.attempts, 2);
      assert.equal(again?.workerId, 'w2');
      assert.equal(again?.leaseExpiresAt, t0 + LEASE + 1 + LEASE);
      assert.deepEqual(bytesOf(again.args), bytesOf(job.args));
    },
  },
  {
    name: 'claim flags a redelivery (the previous lease ran out) as redelivered, and a first, retried or released claim as not',
    async run({ queue }) {
      const t0 = Date.now();
      const [a, b, c] = [readyJob(t0, 0), readyJob(t0, 1), readyJob(t0, 2)];
      await queue.enqueueMany([a, b, c]);
      const first = await queue.claim({ max: 3, workerId: 'w1', leaseMs: LEASE, now: t0 });
      assert.equal(first.length, 3);
      for (const j of first) assert.ok(!j.redelivered, `the first claim of ${j.id} is flagged redelivered`);
      await queue.retry(b.id, 'w1', t0 - 1);
      await queue.release(c.id, 'w1');
      const later = t0 + LEASE + 1; // a's lease has run out
      const second = new Map((await queue.claim({ max: 3, workerId: 'w2', leaseMs: LEASE, now: later })).map((j) => [j.id, j]));
      assert.equal(second.size, 3);
      assert.equal(second.get(a.id)?.redelivered, true, 'a job claimed after its lease ran out is not flagged redelivered');
      assert.ok(!second.get(b.id)?.redelivered, 'a retried job is flagged redelivered');
      assert.ok(!second.get(c.id)?.redelivered, 'a released job is flagged redelivered');
      await queue.retry(a.id, 'w2', later);
      await queue.ackMany([b.id, c.id], 'w2');
      const third = await claimOne(queue, 'w3', later + 1);
      assert.equal(third?.id, a.id);
      assert.ok(!third?.redelivered, 'a job retried after a redelivery is still flagged redelivered');
      // The claim that finds a lease run out need not be the one that takes the job.
      const urgent = readyJob(t0, 3, { priority: 9 });
      await queue.enqueue(urgent);
      const expiry = later + 1 + LEASE + 1;
      const next = await claimOne(queue, 'w4', expiry);
      assert.equal(next?.id, urgent.id);
      assert.ok(!next?.redelivered);
      const after = await claimOne(queue, 'w4', expiry);
      assert.equal(after?.id, a.id);
      assert.equal(after?.redelivered, true, 'a redelivery taken by a later claim is not flagged');
    },
  },
  {
    name: 'ack removes the job for good',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      await queue.ack(job.id, 'w1');
      assert.equal(await queue.get(job.id), null);
      assert.equal(await queue.qsize(), 0);
      assert.equal(await claimOne(queue, 'w2', t0 + 10 * LEASE), undefined);
    },
  },
  {
    name: 'ackMany removes the jobs this worker holds',
    async run({ queue }) {
      const t0 = Date.now();
      const jobs = [0, 1, 2].map((n) => readyJob(t0, n));
      await queue.enqueueMany(jobs);
      await queue.claim({ max: 3, workerId: 'w1', leaseMs: LEASE, now: t0 });
      await queue.ackMany([jobs[0].id, jobs[2].id], 'w1');
      assert.equal(await queue.qsize(), 1);
      assert.equal(await queue.get(jobs[0].id), null);
      assert.notEqual(await queue.get(jobs[1].id), null);
      assert.equal(await queue.get(jobs[2].id), null);
    },
  },
  {
    name: 'ack by a worker that lost the lease does not remove the new holder\'s job',
    async run({ queue }) {
      const { job, taken, t1 } = await takenOver(queue);
      assert.equal(taken?.id, job.id);
      await queue.ack(job.id, 'w1');
      assert.notEqual(await queue.get(job.id), null, 'the stale ack removed the job');
      assert.deepEqual((await queue.renew([job.id], 'w2', LEASE, t1 + 1)).held, [job.id]);
      await queue.ack(job.id, 'w2');
      assert.equal(await queue.get(job.id), null);
    },
  },
  {
    name: 'retry and fail by a worker that lost the lease leave the new holder\'s job alone',
    async run({ queue }) {
      const { job, t1 } = await takenOver(queue);
      await queue.retry(job.id, 'w1', t1 - LEASE - 1);
      assert.equal(await claimOne(queue, 'w3', t1 + 1), undefined, 'a stale retry released the new holder\'s lease');
      await queue.fail(job.id, 'w1');
      assert.notEqual(await queue.get(job.id), null, 'a stale fail removed the job');
      assert.deepEqual((await queue.renew([job.id], 'w2', LEASE, t1 + 2)).held, [job.id]);
    },
  },
  {
    name: 'retry makes the job claimable again only at the given runAt, attempts counting on',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      const runAt = t0 + HOUR;
      await queue.retry(job.id, 'w1', runAt);
      assert.equal((await queue.get(job.id))?.runAt, runAt);
      assert.equal(await queue.nextRunAt(), runAt);
      assert.deepEqual(await queue.counts(t0), { ready: 0, delayed: 1, leased: 0 });
      assert.equal(await claimOne(queue, 'w2', runAt - 1), undefined, 'claimed before the retry time');
      const again = await claimOne(queue, 'w2', runAt);
      assert.equal(again?.id, job.id);
      assert.equal(again?.attempts, 2);
      assert.deepEqual(bytesOf(again.args), bytesOf(job.args));
    },
  },
  {
    name: 'release gives an unstarted job back at once, in its old place, taking back the claim\'s attempt',
    async run({ queue }) {
      const t0 = Date.now();
      const first = readyJob(t0, 0);
      const second = readyJob(t0, 1);
      await queue.enqueue(first);
      await queue.enqueue(second);
      const got = await claimOne(queue, 'w1', t0);
      assert.equal(got?.id, first.id);
      assert.equal(got?.attempts, 1);
      await queue.release(first.id, 'w1');
      assert.deepEqual(await queue.counts(t0), { ready: 2, delayed: 0, leased: 0 });
      const again = await claimOne(queue, 'w2', t0);
      assert.equal(again?.id, first.id, 'a released job keeps its place ahead of younger jobs');
      assert.equal(again?.attempts, 1, 'the released claim was counted as an attempt');
      assert.deepEqual(bytesOf(again.args), bytesOf(first.args));
    },
  },
  {
    name: 'release by a worker that lost the lease leaves the new holder\'s job alone',
    async run({ queue }) {
      const { job, taken, t1 } = await takenOver(queue);
      assert.equal(taken?.attempts, 2);
      await queue.release(job.id, 'w1');
      assert.equal(await claimOne(queue, 'w3', t1 + 1), undefined, 'a stale release freed the new holder\'s lease');
      assert.equal((await queue.get(job.id))?.attempts, 2);
      assert.deepEqual((await queue.renew([job.id], 'w2', LEASE, t1 + 2)).held, [job.id]);
    },
  },
  {
    name: 'fail removes the job and it is never delivered again',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      await queue.fail(job.id, 'w1');
      assert.equal(await queue.get(job.id), null);
      assert.equal(await queue.qsize(), 0);
      assert.equal(await claimOne(queue, 'w2', t0 + 10 * LEASE), undefined);
    },
  },
  {
    name: 'enqueue refuses an id already in the queue (waiting or leased) with NUVOM_E_DUPLICATE_JOB',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0, { taskName: 'original' });
      await queue.enqueue(job);
      await assert.rejects(queue.enqueue({ ...job, taskName: 'impostor' }), isDuplicate);
      assert.equal((await queue.get(job.id))?.taskName, 'original');
      await claimOne(queue, 'w1', t0);
      await assert.rejects(queue.enqueue({ ...job, taskName: 'impostor' }), isDuplicate);
      assert.equal(await queue.qsize(), 1);
    },
  },
  {
    name: 'enqueueMany adds every job, claimable in order',
    async run({ queue }) {
      const t0 = Date.now();
      const jobs = [0, 1, 2].map((n) => readyJob(t0, n));
      await queue.enqueueMany(jobs);
      await queue.enqueueMany([]);
      assert.equal(await queue.qsize(), 3);
      assert.deepEqual(await drainIds(queue, t0), jobs.map((j) => j.id));
    },
  },
  {
    name: 'enqueueMany adds none when one id is already queued (NUVOM_E_DUPLICATE_JOB)',
    async run({ queue }) {
      const t0 = Date.now();
      const existing = readyJob(t0, 0);
      await queue.enqueue(existing);
      const fresh = [readyJob(t0, 1), readyJob(t0, 2)];
      await assert.rejects(queue.enqueueMany([fresh[0], { ...existing }, fresh[1]]), isDuplicate);
      assert.equal(await queue.qsize(), 1);
      assert.equal(await queue.get(fresh[0].id), null);
      assert.equal(await queue.get(fresh[1].id), null);
    },
  },
  {
    name: 'enqueueMany adds none when the batch repeats an id (NUVOM_E_DUPLICATE_JOB)',
    async run({ queue }) {
      const t0 = Date.now();
      const a = readyJob(t0, 0);
      const b = readyJob(t0, 1);
      await assert.rejects(queue.enqueueMany([a, b, { ...a }]), isDuplicate);
      assert.equal(await queue.qsize(), 0);
      assert.equal(await queue.get(a.id), null);
      assert.equal(await queue.get(b.id), null);
    },
  },
  {
    name: 'cancel of a waiting job (ready or delayed) removes it',
    async run({ queue }) {
      const t0 = Date.now();
      const ready = readyJob(t0, 0);
      const delayed = makeQueuedJob({ runAt: t0 + HOUR });
      await queue.enqueueMany([ready, delayed]);
      assert.equal(await queue.cancel(ready.id), 'removed');
      assert.equal(await queue.cancel(delayed.id), 'removed');
      assert.equal(await queue.get(ready.id), null);
      assert.equal(await queue.qsize(), 0);
      assert.equal(await claimOne(queue, 'w1', t0 + 2 * HOUR), undefined);
    },
  },
  {
    name: 'cancel of a leased job signals it: renew reports it in cancelled',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      const other = readyJob(t0, 1);
      await queue.enqueueMany([job, other]);
      await queue.claim({ max: 2, workerId: 'w1', leaseMs: LEASE, now: t0 });
      assert.equal(await queue.cancel(job.id), 'signalled');
      const renewed = await queue.renew([job.id, other.id], 'w1', LEASE, t0 + 1000);
      assert.deepEqual(renewed.cancelled, [job.id]);
      assert.ok(renewed.held.includes(other.id));
      await queue.fail(job.id, 'w1');
      assert.equal(await queue.get(job.id), null);
    },
  },
  {
    name: 'cancelRequested (where a queue has it) reports signalled jobs only, extending no lease',
    async run({ queue }) {
      if (!queue.cancelRequested) return;
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      const other = readyJob(t0, 1);
      await queue.enqueueMany([job, other]);
      await queue.claim({ max: 2, workerId: 'w1', leaseMs: LEASE, now: t0 });
      assert.deepEqual(await queue.cancelRequested([job.id, other.id]), []);
      assert.equal(await queue.cancel(job.id), 'signalled');
      assert.deepEqual(await queue.cancelRequested([job.id, other.id, 'no-such-job']), [job.id]);
      await queue.fail(job.id, 'w1');
      assert.deepEqual(await queue.cancelRequested([job.id]), []);
    },
  },
  {
    name: 'cancel of an unknown (or finished) job is absent',
    async run({ queue }) {
      const t0 = Date.now();
      assert.equal(await queue.cancel('no-such-job'), 'absent');
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      await queue.ack(job.id, 'w1');
      assert.equal(await queue.cancel(job.id), 'absent');
    },
  },
  {
    name: 'renew by the holder extends the lease',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0, 1000);
      const renewed = await queue.renew([job.id], 'w1', 1000, t0 + 500);
      assert.deepEqual(renewed, { held: [job.id], cancelled: [] });
      assert.equal(await claimOne(queue, 'w2', t0 + 1200), undefined, 'claimed inside the renewed lease');
      assert.equal((await claimOne(queue, 'w2', t0 + 1501))?.id, job.id);
    },
  },
  {
    name: 'renew by a worker that does not hold the lease neither extends it nor reports it held',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0, 1000);
      const renewed = await queue.renew([job.id, 'no-such-job'], 'w2', 60_000, t0 + 500);
      assert.deepEqual(renewed.held, []);
      const again = await claimOne(queue, 'w3', t0 + 1001);
      assert.equal(again?.id, job.id, 'the lease was extended by a worker that did not hold it');
    },
  },
  {
    name: 'counts, qsize and nextRunAt describe ready, delayed and leased jobs',
    async run({ queue }) {
      const t0 = Date.now();
      assert.deepEqual(await queue.counts(t0), { ready: 0, delayed: 0, leased: 0 });
      assert.equal(await queue.qsize(), 0);
      assert.equal(await queue.nextRunAt(), null);
      const first = readyJob(t0, 0, { priority: 9 });
      const second = readyJob(t0, 1);
      const later = makeQueuedJob({ runAt: t0 + HOUR });
      await queue.enqueueMany([first, second, later]);
      assert.deepEqual(await queue.counts(t0), { ready: 2, delayed: 1, leased: 0 });
      assert.equal(await queue.nextRunAt(), first.runAt);
      assert.equal((await claimOne(queue, 'w1', t0))?.id, first.id);
      assert.deepEqual(await queue.counts(t0), { ready: 1, delayed: 1, leased: 1 });
      assert.equal(await queue.qsize(), 3);
      assert.equal(await queue.nextRunAt(), second.runAt, 'nextRunAt counts unclaimed jobs only');
      assert.deepEqual(await queue.counts(t0 + 2 * HOUR), { ready: 3, delayed: 0, leased: 0 }, 'an expired lease and a due job count as ready');
    },
  },
  {
    name: 'get returns the queued job, or null for an unknown id',
    async run({ queue }) {
      const t0 = Date.now();
      assert.equal(await queue.get('no-such-job'), null);
      const job = makeQueuedJob({ runAt: t0 + HOUR, priority: 4, meta: { k: 'v' } });
      await queue.enqueue(job);
      const got = await queue.get(job.id);
      assert.ok(got);
      assert.deepEqual({ ...got, args: bytesOf(got.args) }, { ...job, args: bytesOf(job.args) });
    },
  },
  {
    name: 'clear empties the queue: waiting, delayed and leased jobs',
    async run({ queue }) {
      const t0 = Date.now();
      const jobs = [readyJob(t0, 0), readyJob(t0, 1), makeQueuedJob({ runAt: t0 + HOUR })];
      await queue.enqueueMany(jobs);
      await claimOne(queue, 'w1', t0);
      await queue.clear();
      assert.equal(await queue.qsize(), 0);
      assert.deepEqual(await queue.counts(t0), { ready: 0, delayed: 0, leased: 0 });
      assert.equal(await queue.nextRunAt(), null);
      assert.equal(await claimOne(queue, 'w2', t0 + 2 * HOUR), undefined);
      await queue.enqueue(jobs[0]);
      assert.equal(await queue.qsize(), 1, 'an id can be enqueued again after clear');
    },
  },
  {
    name: 'concurrent claimers (10 in parallel on 200 jobs) never share a job and lose none',
    async run({ queue }) {
      const t0 = Date.now();
      const jobs = Array.from({ length: 200 }, (_, n) => readyJob(t0, n, { priority: n % 3 }));
      await queue.enqueueMany(jobs);
      let total = 0;
      const perWorker = await Promise.all(Array.from({ length: 10 }, async (_, w) => {
        const ids: string[] = [];
        // Bounded, so a queue that hands out jobs again and again fails the case instead of spinning.
        while (total < 2 * jobs.length) {
          const got = await queue.claim({ max: 7, workerId: `w${w}`, leaseMs: LEASE, now: t0 });
          if (got.length === 0) return ids;
          total += got.length;
          for (const job of got) {
            assert.equal(job.workerId, `w${w}`);
            ids.push(job.id);
          }
        }
        return ids;
      }));
      const all = perWorker.flat();
      assert.equal(new Set(all).size, all.length, 'a job was handed to two claimers');
      assert.equal(all.length, 200);
      assert.deepEqual(await queue.counts(t0), { ready: 0, delayed: 0, leased: 200 });
    },
  },
  {
    name: 'subscribe (optional) calls onChange after an enqueue, and unsubscribe returns a function',
    async run({ queue }) {
      if (!queue.subscribe) return;
      let calls = 0;
      const unsubscribe = queue.subscribe(() => { calls += 1; });
      assert.equal(typeof unsubscribe, 'function');
      await queue.enqueue(makeQueuedJob());
      await waitFor(() => calls > 0, 'onChange after enqueue');
      unsubscribe();
    },
  },
  {
    name: 'invalid input: claim refuses a bad max, worker id or lease with NUVOM_E_USAGE naming it, and claims nothing',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      const bad: Array<[string, Record<string, unknown>]> = [
        ['max', { max: -1 }], ['max', { max: 1.5 }], ['max', { max: '2' }],
        ['workerId', { workerId: '' }], ['workerId', { workerId: 7 }],
        ['leaseMs', { leaseMs: 0 }], ['leaseMs', { leaseMs: Number.NaN }], ['leaseMs', { leaseMs: '30000' }],
      ];
      for (const [field, over] of bad) {
        const opts = { max: 1, workerId: 'w1', leaseMs: LEASE, now: t0, ...over } as unknown as Parameters<Queue['claim']>[0];
        await assert.rejects(queue.claim(opts), (err: unknown) => {
          assert.ok(isNuvomError(err, 'NUVOM_E_USAGE'), `claim with ${JSON.stringify(over)}: expected NUVOM_E_USAGE, got ${String(err)}`);
          assert.match((err as Error).message, new RegExp(field), `the message does not name ${field}`);
          return true;
        });
      }
      assert.equal((await claimOne(queue, 'w1', t0))?.id, job.id, 'a refused claim took the job');
    },
  },
  {
    name: 'invalid input: renew refuses a bad lease or worker id with NUVOM_E_USAGE',
    async run({ queue }) {
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await queue.enqueue(job);
      await claimOne(queue, 'w1', t0);
      for (const [workerId, leaseMs] of [['w1', 0], ['w1', -5], ['', LEASE]] as const) {
        await assert.rejects(queue.renew([job.id], workerId, leaseMs), (err: unknown) => isNuvomError(err, 'NUVOM_E_USAGE'), `renew(${JSON.stringify(workerId)}, ${leaseMs})`);
      }
      assert.deepEqual((await queue.renew([job.id], 'w1', LEASE)).held, [job.id]);
    },
  },
  {
    name: 'invalid input: a duplicate id is refused with the one NUVOM_E_DUPLICATE_JOB message, naming the id',
    async run({ queue }) {
      const job = readyJob(Date.now(), 0);
      await queue.enqueue(job);
      await assert.rejects(queue.enqueueMany([{ ...job }]), (err: unknown) => {
        assert.ok(isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB'));
        assert.equal((err as Error).message.replace(/^\[plugin "[^"]*"\] /, ''), duplicateJob(job.id).message, 'use duplicateJob(id) from nuvom/plugin');
        return true;
      });
    },
  },
]);
