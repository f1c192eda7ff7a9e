import { expect } from 'chai';
import { isNuvomError, type ClaimedJob } from '../../sdk/plugin.ts';
import { acquireDb } from '../../builtin-plugins/sqlite/db.ts';
import { SqliteQueue, SQL } from '../../builtin-plugins/sqlite/queue.ts';
import Database from 'better-sqlite3';
import { queuedJob, tempDir, withDeadline } from './helpers.ts';

const LEASE = 30_000;

describe('sqlite queue', () => {
  let tmp: ReturnType<typeof tempDir>;
  let queue: SqliteQueue;
  let t0: number;

  beforeEach(() => {
    tmp = tempDir();
    queue = new SqliteQueue({ path: tmp.file() });
    t0 = Date.now();
  });
  afterEach(async () => {
    await queue.close();
    tmp.cleanup();
  });

  const claim = (workerId: string, now: number, max = 1, leaseMs = LEASE): Promise<ClaimedJob[]> =>
    queue.claim({ max, workerId, leaseMs, now });

  it('claims by priority, highest first, then in the order jobs were enqueued', async () => {
    const jobs = [0, 5, 0, 10, 5].map((priority, n) => queuedJob({ priority, runAt: t0 - 1000 + n }));
    for (const job of jobs) await queue.enqueue(job);
    const got = await claim('w1', t0, 10);
    expect(got.map((j) => j.id)).to.deep.equal([jobs[3], jobs[1], jobs[4], jobs[0], jobs[2]].map((j) => j.id));
  });

  it('keeps FIFO by enqueue order even when createdAt says otherwise', async () => {
    const first = queuedJob({ runAt: t0 - 1, createdAt: t0 });
    const second = queuedJob({ runAt: t0 - 1, createdAt: t0 - 60_000 });
    await queue.enqueue(first);
    await queue.enqueue(second);
    expect((await claim('w1', t0, 2)).map((j) => j.id)).to.deep.equal([first.id, second.id]);
  });

  it('lets a ready job through while a delayed one of higher priority waits in front of it', async () => {
    const delayed = queuedJob({ priority: 100, runAt: t0 + 60_000 });
    const ready = queuedJob({ priority: 0, runAt: t0 - 1 });
    await queue.enqueue(delayed);
    await queue.enqueue(ready);
    expect((await claim('w1', t0, 5)).map((j) => j.id)).to.deep.equal([ready.id]);
    await queue.ack(ready.id, 'w1');
    expect((await claim('w1', t0 + 60_000, 5)).map((j) => j.id)).to.deep.equal([delayed.id]);
  });

  it('redelivers a job whose lease expired, with attempts counted up and the new lease', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    const [first] = await claim('w1', t0);
    expect(first.attempts).to.equal(1);
    expect(await claim('w2', t0 + LEASE - 1)).to.deep.equal([]);
    const [again] = await claim('w2', t0 + LEASE);
    expect(again.id).to.equal(job.id);
    expect(again.attempts).to.equal(2);
    expect(again.workerId).to.equal('w2');
    expect(again.leaseExpiresAt).to.equal(t0 + 2 * LEASE);
  });

  it('ignores an ack from a worker that lost its lease to another', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await claim('w1', t0);
    await claim('w2', t0 + LEASE + 1);
    await queue.ack(job.id, 'w1');
    expect(await queue.get(job.id)).to.not.equal(null);
    expect((await queue.renew([job.id], 'w2', LEASE, t0 + LEASE + 2)).held).to.deep.equal([job.id]);
  });

  it('lets the holder ack after its lease ran out as long as no one re-claimed the job', async () => {
    const job = queuedJob({ runAt: t0 - 2 });
    await queue.enqueue(job);
    await claim('w1', t0);
    const urgent = queuedJob({ runAt: t0 - 1, priority: 9 });
    await queue.enqueue(urgent);
    // The expired job is claimable again, but this claim takes the more urgent one.
    expect((await claim('w2', t0 + LEASE + 1)).map((j) => j.id)).to.deep.equal([urgent.id]);
    await queue.ack(job.id, 'w1');
    expect(await queue.get(job.id)).to.equal(null);
  });

  it('never redelivers an acked job', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await claim('w1', t0);
    await queue.ack(job.id, 'w1');
    expect(await claim('w2', t0 + 100 * LEASE)).to.deep.equal([]);
    expect(await queue.qsize()).to.equal(0);
  });

  it('never redelivers a failed job', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await claim('w1', t0);
    await queue.fail(job.id, 'w1');
    expect(await claim('w2', t0 + 100 * LEASE)).to.deep.equal([]);
    expect(await queue.get(job.id)).to.equal(null);
  });

  it('holds a retried job until its new runAt, then delivers it again', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await claim('w1', t0);
    await queue.retry(job.id, 'w1', t0 + 5000);
    expect(await queue.counts(t0)).to.deep.equal({ ready: 0, delayed: 1, leased: 0 });
    expect(await queue.nextRunAt()).to.equal(t0 + 5000);
    expect(await claim('w2', t0 + 4999)).to.deep.equal([]);
    const [again] = await claim('w2', t0 + 5000);
    expect(again.attempts).to.equal(2);
  });

  it('refuses an id already queued with NUVOM_E_DUPLICATE_JOB naming the id', async () => {
    const job = queuedJob();
    await queue.enqueue(job);
    let caught: unknown;
    try { await queue.enqueue({ ...job }); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_DUPLICATE_JOB')).to.equal(true);
    expect((caught as Error).message).to.include(job.id);
  });

  it('adds none of an enqueueMany batch when one id is a duplicate', async () => {
    const existing = queuedJob();
    await queue.enqueue(existing);
    const fresh = [queuedJob(), queuedJob()];
    let caught: unknown;
    try { await queue.enqueueMany([fresh[0], { ...existing }, fresh[1]]); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_DUPLICATE_JOB')).to.equal(true);
    expect(await queue.qsize()).to.equal(1);
    expect(await queue.get(fresh[0].id)).to.equal(null);
  });

  it('reports in renew the held jobs whose cancellation was requested', async () => {
    const [a, b] = [queuedJob({ runAt: t0 - 2 }), queuedJob({ runAt: t0 - 1 })];
    await queue.enqueueMany([a, b]);
    await claim('w1', Date.now(), 2);
    expect(await queue.cancel(a.id)).to.equal('signalled');
    const renewed = await queue.renew([a.id, b.id, 'unknown'], 'w1', LEASE);
    expect(renewed.held).to.have.members([a.id, b.id]);
    expect(renewed.cancelled).to.deep.equal([a.id]);
  });

  it('removes a waiting job on cancel and answers absent for an unknown one', async () => {
    const job = queuedJob({ runAt: t0 + 60_000 });
    await queue.enqueue(job);
    expect(await queue.cancel(job.id)).to.equal('removed');
    expect(await queue.cancel(job.id)).to.equal('absent');
  });

  it('stores args as bytes and gives back a plain Uint8Array', async () => {
    const job = queuedJob({ args: new Uint8Array([0, 255, 128, 7]) });
    await queue.enqueue(job);
    const got = await queue.get(job.id);
    expect(got?.args).to.be.an.instanceOf(Uint8Array);
    expect(Buffer.isBuffer(got?.args)).to.equal(false);
    expect(Array.from(got!.args)).to.deep.equal([0, 255, 128, 7]);
  });

  it('keeps jobs across a close and reopen of the file', async () => {
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await queue.close();
    queue = new SqliteQueue({ path: tmp.file() });
    expect((await claim('w1', t0)).map((j) => j.id)).to.deep.equal([job.id]);
  });

  it('claims through the ready index without sorting or scanning the table', () => {
    const lease = acquireDb(tmp.file(), 'queue');
    try {
      const plan = (sql: string) => (lease.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ now: 1, workerId: 'w', leaseExpiresAt: 2, max: 3 }) as Array<{ detail: string }>).map((r) => r.detail);
      const claimPlan = plan(SQL.claim);
      expect(claimPlan.join(' | ')).to.include('INDEX nuvom_jobs_claim');
      expect(claimPlan.join(' | ')).to.not.match(/TEMP B-TREE/);
      for (const sql of [SQL.promoteDue, SQL.reclaimExpired, SQL.anyClaimable, SQL.counts, SQL.qsize, SQL.nextRunAt]) {
        for (const step of plan(sql)) expect(step).to.not.match(/^SCAN nuvom_jobs(?! USING)/, sql);
      }
    } finally {
      lease.release();
    }
  });

  it('wakes a subscriber after an enqueue or a retry in this process', async () => {
    let calls = 0;
    let wake!: () => void;
    let woken = new Promise<void>((resolve) => { wake = resolve; });
    const unsubscribe = queue.subscribe(() => { calls += 1; wake(); });
    const job = queuedJob({ runAt: t0 - 1 });
    await queue.enqueue(job);
    await withDeadline(woken, 2000, 'a wake-up after enqueue');
    woken = new Promise<void>((resolve) => { wake = resolve; });
    await claim('w1', t0);
    await queue.retry(job.id, 'w1', t0);
    await withDeadline(woken, 2000, 'a wake-up after retry');
    expect(calls).to.equal(2);
    unsubscribe();
  });

  it('wakes a subscriber when another connection commits to the file', async () => {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => { wake = resolve; });
    const unsubscribe = queue.subscribe(() => wake());
    const other = new Database(tmp.file());
    try {
      other.prepare(`INSERT INTO nuvom_jobs (id, task_name, args, priority, run_at, attempts, created_at, options, meta, state)
                     VALUES ('elsewhere', 't', x'00', 0, 0, 0, 0, '{}', '{}', 'ready')`).run();
      await withDeadline(woken, 2000, 'a wake-up after another connection wrote');
      expect((await queue.get('elsewhere'))?.taskName).to.equal('t');
    } finally {
      other.close();
      unsubscribe();
    }
  });
});
