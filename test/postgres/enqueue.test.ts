/**
 * The shapes of the enqueue INSERT (enqueue.ts): a batch of one is a VALUES row, a larger batch sends
 * a column that every row shares once and the others as arrays. Each shape keeps what a user relies
 * on: a duplicate id refuses the batch and writes nothing, a finished job's id can be queued again,
 * and every row gets its own values whichever columns its batch shared.
 */
import { expect } from 'chai';
import { PgJobStore, PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { isNuvomError, type JobRecord, type QueuedJob } from '../../sdk/plugin.ts';
import { makeJobOptions, makeJobRecord, makeQueuedJob } from '../../sdk/testing/index.ts';
import { createRequire } from 'node:module';
import { MAX_ROWS_PER_STATEMENT } from '../../builtin-plugins/postgres/enqueue.ts';
import { client as pgClient, json, requirePostgres, useJobStore } from './helpers.ts';

// node-postgres's Query, as the plugin loads it (its statements are counted by patching submit).
const Query = createRequire(import.meta.url)('pg/lib/query.js') as { prototype: { submit: (...a: unknown[]) => unknown } };

describe('postgres: enqueue statement shapes', function () {
  this.timeout(30_000);
  requirePostgres();
  let queue: PgQueue;
  let results: PgResultStore;
  let store: PgJobStore;
  useJobStore((f) => ({ queue, results, store } = f));

  /** A job and its PENDING record, as the dispatcher writes them. */
  function pair(args: unknown[], job: Partial<QueuedJob> = {}, record: Partial<JobRecord> = {}): { job: QueuedJob; record: JobRecord } {
    const j = makeQueuedJob({ args: json.encode(args), ...job });
    const r = makeJobRecord({ id: j.id, taskName: j.taskName, args, priority: j.priority, createdAt: new Date(j.createdAt).toISOString(), tags: [...j.options.tags], maxRetries: j.options.maxRetries, retriesLeft: j.options.maxRetries, timeoutSecs: j.options.timeoutSecs, timeoutPolicy: j.options.timeoutPolicy, ...record });
    return { job: j, record: r };
  }

  async function rejectsDuplicate(p: Promise<unknown>): Promise<void> {
    let caught: unknown;
    try { await p; } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_DUPLICATE_JOB'), `expected NUVOM_E_DUPLICATE_JOB, got ${String(caught)}`).to.equal(true);
  }

  /** Enqueues, claims and acks `p`: its row keeps the SUCCESS record and leaves the queue. */
  async function finish(p: { job: QueuedJob; record: JobRecord }): Promise<void> {
    const [claimed] = await store.claim({ max: 1, workerId: 'w1', leaseMs: 30_000 });
    expect(claimed?.id).to.equal(p.job.id);
    const running = (await results.getFull(p.job.id))!;
    const now = new Date().toISOString();
    const done: JobRecord = { ...running, status: 'SUCCESS', completedAt: now, result: 1, history: [{ attempt: 1, startedAt: running.startedAt, endedAt: now, outcome: 'SUCCESS', error: null, workerId: 'w1', threadId: 1 }] };
    expect(await store.settle('w1', [{ id: p.job.id, action: 'ack', record: done }])).to.deep.equal([p.job.id]);
  }

  it('a delay() whose caller-chosen id is met again fails no statement on the server (no ERROR line in its log for an idempotency key)', async () => {
    const first = pair(['first']);
    await store.enqueue([first.job], [first.record]);
    const db = queue.db;
    const raw = db.rawQuery.bind(db);
    const failed: string[] = [];
    db.rawQuery = (async (text: string, values?: unknown[]) => {
      try {
        return await raw(text, values);
      } catch (err) {
        failed.push(`${(err as { code?: string }).code}: ${text.slice(0, 60)}`);
        throw err;
      }
    }) as typeof db.rawQuery;
    try {
      const again = pair(['again'], { id: first.job.id }, { id: first.job.id });
      await rejectsDuplicate(store.enqueue([again.job], [again.record]));
      await rejectsDuplicate(queue.enqueueMany([again.job]));
    } finally {
      db.rawQuery = raw;
    }
    expect(failed, 'statements the server failed').to.deep.equal([]);
    expect(await results.getFull(first.job.id)).to.deep.equal(first.record);
  });

  for (const size of [1, 3]) {
    it(`a batch of ${size} whose id is already queued is refused and changes nothing`, async () => {
      const first = pair(['first']);
      await store.enqueue([first.job], [first.record]);
      const batch = [...Array.from({ length: size - 1 }, () => pair(['other'])), pair(['again'], { id: first.job.id, priority: 7 }, { id: first.job.id, priority: 7 })];
      await rejectsDuplicate(store.enqueue(batch.map((p) => p.job), batch.map((p) => p.record)));
      await rejectsDuplicate(queue.enqueueMany(batch.map((p) => p.job)));
      expect(await results.getFull(first.job.id)).to.deep.equal(first.record);
      expect(await queue.qsize()).to.equal(1);
    });

    it(`a batch of ${size} may reuse the id of a finished job: the job is queued again with a new PENDING record`, async () => {
      const first = pair(['first']);
      await store.enqueue([first.job], [first.record]);
      await finish(first);
      const batch = [...Array.from({ length: size - 1 }, () => pair(['other'])), pair(['again'], { id: first.job.id, priority: 2 }, { id: first.job.id, priority: 2 })];
      await store.enqueue(batch.map((p) => p.job), batch.map((p) => p.record));
      const again = batch[batch.length - 1];
      // The earlier attempts' history stays with the id (as before these shapes); the rest is the new record.
      const { history: _kept, ...stored } = (await results.getFull(first.job.id))!;
      const { history: _none, ...given } = again.record;
      expect(stored).to.deep.equal(given);
      expect((await queue.get(first.job.id))?.priority).to.equal(2);
      const claimed = await store.claim({ max: 10, workerId: 'w2', leaseMs: 30_000 });
      expect(claimed.map((j) => j.id).sort()).to.deep.equal(batch.map((p) => p.job.id).sort());
      expect(json.decode(claimed.find((j) => j.id === first.job.id)!.args)).to.deep.equal(['again']);
    });
  }

  for (const size of [1, 3]) {
    it(`a batch of ${size} whose write committed but whose answer was lost is retried and counts as done`, async () => {
      const db = queue.db;
      const raw = db.rawQuery.bind(db);
      let tries = 0;
      db.rawQuery = (async (text: string, values?: unknown[]) => {
        const first = tries++ === 0;
        const out = await raw(text, values);
        if (first) throw new Error('Connection terminated unexpectedly');
        return out;
      }) as typeof db.rawQuery;
      const batch = Array.from({ length: size }, (_, i) => pair([`lost ${i}`]));
      await store.enqueue(batch.map((p) => p.job), batch.map((p) => p.record));
      expect(tries, 'the write was not tried again').to.be.at.least(2);
      expect(await queue.qsize()).to.equal(size);
      for (const p of batch) expect(await results.getFull(p.job.id)).to.deep.equal(p.record);
    });
  }

  for (const size of [1, 3]) {
    it(`a batch of ${size} whose answer was lost after its commit, one job finished meanwhile, is not queued again (nor refused as a duplicate of itself)`, async () => {
      const db = queue.db;
      const raw = db.rawQuery.bind(db);
      let lose = true;
      const batch = Array.from({ length: size }, (_, i) => pair([`fast ${i}`]));
      db.rawQuery = (async (text: string, values?: unknown[]) => {
        const out = await raw(text, values);
        if (lose && /INSERT INTO/.test(text)) {
          lose = false;
          // A fast worker takes and finishes a job before the producer's retry.
          db.rawQuery = raw;
          await finish(batch[0]);
          throw new Error('Connection terminated unexpectedly');
        }
        return out;
      }) as typeof db.rawQuery;
      try {
        await store.enqueue(batch.map((p) => p.job), batch.map((p) => p.record));
      } finally {
        db.rawQuery = raw;
      }
      expect(lose, 'the write went through the hook').to.equal(false);
      // The finished job stays finished (a second write would have queued it again: it would run twice).
      expect((await results.getFull(batch[0].job.id))?.status).to.equal('SUCCESS');
      expect(await queue.get(batch[0].job.id)).to.equal(null);
      expect(await queue.qsize()).to.equal(size - 1);
    });
  }

  it('a batch whose rows share some columns and differ in others stores every row\'s own values', async () => {
    const now = Date.now();
    const batch = [
      pair(['same'], { priority: 1, createdAt: now, runAt: now }, { createdAt: new Date(now).toISOString() }),
      pair(['same'], { priority: 1, createdAt: now, runAt: now + 60_000, options: makeJobOptions({ maxRetries: 2, tags: ['t'] }) }, { createdAt: new Date(now).toISOString(), nextRunAt: new Date(now + 60_000).toISOString(), maxRetries: 2, retriesLeft: 2, tags: ['t'] }),
      pair(['other'], { priority: 5, createdAt: now, runAt: now }, { createdAt: new Date(now).toISOString() }),
    ];
    batch[2].record.priority = 5;
    await store.enqueue(batch.map((p) => p.job), batch.map((p) => p.record));
    for (const p of batch) {
      expect(await results.getFull(p.job.id), p.job.id).to.deep.equal(p.record);
      const queued = (await queue.get(p.job.id))!;
      expect({ priority: queued.priority, runAt: queued.runAt, options: queued.options, args: json.decode(queued.args) }).to.deep.equal({ priority: p.job.priority, runAt: p.job.runAt, options: p.job.options, args: json.decode(p.job.args) });
    }
  });

  it('batches of many different shapes (past the statements kept) each store their own values', async () => {
    // Which of priority, runAt, createdAt, attempts, taskName, options differ between a batch's two jobs: 64 shapes.
    const now = Date.now();
    const batches: QueuedJob[][] = [];
    for (let mask = 0; mask < 64; mask++) {
      const varies = <T>(bit: number, same: T, k: number, other: T): T => ((mask >> bit) & 1 && k === 1 ? other : same);
      batches.push([0, 1].map((k) => makeQueuedJob({
        priority: varies(0, 1, k, 2),
        runAt: varies(1, now, k, now - 1),
        createdAt: varies(2, now, k, now + 1),
        attempts: varies(3, 0, k, 1),
        taskName: varies(4, 't.a', k, 't.b'),
        options: makeJobOptions({ maxRetries: varies(5, 0, k, 3) }),
      })));
    }
    for (const batch of batches) await queue.enqueueMany(batch);
    for (const job of batches.flat()) {
      const queued = (await queue.get(job.id))!;
      expect({ priority: queued.priority, runAt: queued.runAt, createdAt: queued.createdAt, attempts: queued.attempts, taskName: queued.taskName, options: queued.options })
        .to.deep.equal({ priority: job.priority, runAt: job.runAt, createdAt: job.createdAt, attempts: job.attempts, taskName: job.taskName, options: job.options });
    }
  });

  describe(`a batch larger than one statement writes (${MAX_ROWS_PER_STATEMENT.toLocaleString('en')} jobs)`, () => {
    const n = MAX_ROWS_PER_STATEMENT * 2 + 500;
    /** node-postgres's INSERT statements into the jobs table while `fn` runs, with their row counts. */
    async function inserts(fn: () => Promise<unknown>): Promise<number[]> {
      const rows: number[] = [];
      const submit = Query.prototype.submit;
      Query.prototype.submit = function (this: { text: string; values?: unknown[] }, ...a: unknown[]) {
        if (/^INSERT INTO .*\.jobs \(/m.test(this.text) || this.text.includes('WITH ins AS (INSERT INTO')) {
          const ids = this.values?.[0];
          rows.push(Array.isArray(ids) ? ids.length : 1);
        }
        return (submit as (...x: unknown[]) => unknown).apply(this, a);
      } as typeof submit;
      try {
        await fn();
      } finally {
        Query.prototype.submit = submit;
      }
      return rows;
    }

    it('goes as statements of at most that many jobs in one transaction, and stores every job', async () => {
      const ps = Array.from({ length: n }, (_, i) => pair([i]));
      const sizes = await inserts(() => store.enqueue(ps.map((p) => p.job), ps.map((p) => p.record)));
      expect(sizes).to.deep.equal([MAX_ROWS_PER_STATEMENT, MAX_ROWS_PER_STATEMENT, 500]);
      expect(await queue.qsize()).to.equal(n);
      expect(await results.getFull(ps[n - 1]!.job.id)).to.deep.equal(ps[n - 1]!.record);
    });

    it('is all or none: a duplicate id in its last statement leaves none of its jobs written', async () => {
      const queued = pair(['already']);
      await store.enqueue([queued.job], [queued.record]);
      const ps = Array.from({ length: n - 1 }, (_, i) => pair([i]));
      ps.push(queued);
      await rejectsDuplicate(store.enqueue(ps.map((p) => p.job), ps.map((p) => p.record)));
      expect(await queue.qsize()).to.equal(1);
      expect(await results.getFull(ps[0]!.job.id)).to.equal(null);
    });

    it('in the application\'s transaction, is written only when it commits', async () => {
      const app = await pgClient();
      try {
        const ps = Array.from({ length: n }, (_, i) => pair([i]));
        await app.query('BEGIN');
        await store.enqueueInTransaction(app, ps.map((p) => p.job), ps.map((p) => p.record));
        await app.query('ROLLBACK');
        expect(await queue.qsize()).to.equal(0);
        await app.query('BEGIN');
        await store.enqueueInTransaction(app, ps.map((p) => p.job), ps.map((p) => p.record));
        await app.query('COMMIT');
        expect(await queue.qsize()).to.equal(n);
      } finally {
        await app.end();
      }
    });
  });

  it('a batch of one in the application\'s transaction is written only when it commits, and a duplicate id refuses it', async () => {
    const app = await pgClient();
    try {
      const p = pair(['tx']);
      await app.query('BEGIN');
      await store.enqueueInTransaction(app, [p.job], [p.record]);
      await app.query('ROLLBACK');
      expect(await results.getFull(p.job.id)).to.equal(null);
      await app.query('BEGIN');
      await store.enqueueInTransaction(app, [p.job], [p.record]);
      await app.query('COMMIT');
      expect(await results.getFull(p.job.id)).to.deep.equal(p.record);
      await app.query('BEGIN');
      await rejectsDuplicate(store.enqueueInTransaction(app, [p.job], [p.record]));
      await app.query('ROLLBACK');
      expect(await queue.qsize()).to.equal(1);
    } finally {
      await app.end();
    }
  });
});
