/**
 * Schema v2 (schema.ts): a v1 schema holding jobs upgrades with no row changed, and its jobs list,
 * run and finish; records list across the index parts (RUNNING ones leased or not apart); every finished id
 * reaches listeners on other connections: a settle's batch in a few NOTIFYs (each under
 * PostgreSQL's 8,000 bytes), a put's final record by the row trigger, a retry not at all.
 */
import { expect } from 'chai';
import { PgJobStore, PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { LATEST, migrate } from '../../builtin-plugins/postgres/schema.ts';
import type { JobRecord, JobSettlement } from '../../sdk/plugin.ts';
import { makeJobRecord, makeQueuedJob } from '../../sdk/testing/index.ts';
import { client as pgClient, dropSchema, json, requirePostgres, schemaName, settingsFor, useJobStore } from './helpers.ts';

/** Polls `check` until it holds or `ms` pass (then fails with `what`). */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The record a worker writes for attempt 1 of `job` ending `status` (SUCCESS or RETRYING). */
function ended(rec: JobRecord, status: 'SUCCESS' | 'RETRYING', startedAt: number): JobRecord {
  const now = Date.now();
  return {
    ...rec, status, attempts: 1, startedAt: iso(startedAt), completedAt: status === 'SUCCESS' ? iso(now) : null, nextRunAt: status === 'RETRYING' ? iso(now + 60_000) : null,
    workerId: 'w1', result: status === 'SUCCESS' ? 1 : null,
    history: [{ attempt: 1, startedAt: iso(startedAt), endedAt: iso(now), outcome: status === 'SUCCESS' ? 'SUCCESS' : 'RETRIED', error: null, workerId: 'w1', threadId: 1 }],
  };
}

describe('postgres: schema v2 (record indexes without RUNNING rows, one NOTIFY per settled batch)', function () {
  this.timeout(30_000);
  requirePostgres();

  describe('finished ids', () => {
    let schema: string;
    let store: PgJobStore;
    let results: PgResultStore;
    useJobStore((f) => ({ schema, store, results } = f));

    it('a settle NOTIFYs every finished id of its batch to waiters on other connections, in payloads under 8,000 bytes; a put notifies by the trigger', async () => {
      const now = Date.now();
      // Ids of the longest length a caller may choose (200: letters, digits, "-"): 300 of them need several payloads.
      const jobs = Array.from({ length: 300 }, (_, i) => makeQueuedJob({ id: `j${String(i).padStart(4, '0')}-${'x'.repeat(194)}`, args: json.encode([i]), runAt: now - 1000, createdAt: now }));
      const records = jobs.map((j, i) => makeJobRecord({ id: j.id, taskName: j.taskName, args: [i], createdAt: iso(j.createdAt), priority: j.priority }));
      await store.enqueue(jobs, records);

      // A raw LISTEN connection (as another process has), and a result store on a pool of its own.
      const raw = await pgClient();
      const payloads: string[] = [];
      raw.on('notification', (n) => { if (n.payload !== 'probe') payloads.push(n.payload ?? ''); });
      await raw.query(`LISTEN "${schema}_done"`);
      const other = new PgResultStore({ settings: settingsFor(schema, { postgresPoolSize: 2 }), serializer: json });
      const heard = new Set<string>();
      const off = other.subscribeFinal((id) => { if (id !== null) heard.add(id); });
      try {
        // The other store's LISTEN connection comes up in the background: wait until it hears a probe.
        await until('the other store listens', () => {
          if (!heard.has('probe')) void raw.query(`NOTIFY "${schema}_done", 'probe'`);
          return heard.has('probe');
        });
        payloads.length = 0;

        const claimed = await store.claim({ max: 300, workerId: 'w1', leaseMs: 60_000 });
        expect(claimed).to.have.length(300);
        const outcomes: JobSettlement[] = records.map((r, i): JobSettlement => (i % 6 === 5
          ? { id: r.id, action: 'retry', runAt: now + 60_000, record: ended(r, 'RETRYING', now) }
          : { id: r.id, action: 'ack', record: ended(r, 'SUCCESS', now) }));
        expect(await store.settle('w1', outcomes)).to.have.length(300);
        const put = makeJobRecord({ status: 'FAILED', completedAt: iso(now), error: { name: 'Error', message: 'x', stack: null } });
        await results.putMany([put]);

        const finished = [...outcomes.filter((o) => o.action === 'ack').map((o) => o.id), put.id];
        await until('every finished id is heard', () => finished.every((id) => heard.has(id)));
        await until('the raw listener has them too', () => payloads.join('\n').split('\n').length >= finished.length);
        const retried = outcomes.filter((o) => o.action === 'retry').map((o) => o.id);
        expect(retried.filter((id) => heard.has(id)), 'a retried job is not finished').to.deep.equal([]);
        expect(new Set(payloads.join('\n').split('\n'))).to.deep.equal(new Set(finished));
        for (const p of payloads) expect(Buffer.byteLength(p)).to.be.lessThan(8000);
        // 250 finished ids of 156 bytes: a handful of payloads for the settle (v1: one per id), one for the put.
        expect(payloads.length).to.be.within(2, 10);
      } finally {
        off();
        await other.close();
        await raw.end();
      }
    });
  });

  describe('upgrading a v1 schema', () => {
    const schema = schemaName();
    after(() => dropSchema(schema));

    it('keeps every row as it was; the jobs list in order across RUNNING and the rest, and run on', async () => {
      const c = await pgClient();
      const s = `"${schema}"`;
      const now = Date.now();
      const options = JSON.stringify({ maxRetries: 0, retryDelaySecs: 5, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] });
      const args = Buffer.from(JSON.stringify([1]));
      let before: string[];
      try {
        expect(await migrate(c, schema, { apply: true, target: 'test', upTo: 1 })).to.deep.equal([1]);
        const insert = `INSERT INTO ${s}.jobs (id, task_name, args, priority, created_at, q_state, run_at, q_attempts, options, meta, worker_id, lease_expires_at,
            status, r_task_name, r_priority, r_created_at, attempts, max_retries, retries_left, tags, started_at, completed_at, timeout_secs, timeout_policy, r_worker_id, history)
          VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, '{}', $9, $10, $11, $2, 0, $4, $7, 0, 0, '[]', $12, $13, 30, 'fail', $9, $14)`;
        // Waiting and PENDING; leased and RUNNING (another worker's, lease still held); finished, out of the queue.
        await c.query(insert, ['a-waiting', 't.one', args, 1000, 'waiting', now - 1000, 0, options, null, null, 'PENDING', null, null, null]);
        await c.query(insert, ['b-running', 't.two', args, 2000, 'leased', now - 1000, 1, options, 'w0', now + 60_000, 'RUNNING', now - 500, null, null]);
        await c.query(insert, ['c-done', 't.one', args, 3000, null, null, 1, options, 'w0', null, 'SUCCESS', now - 900, now - 800,
          JSON.stringify([{ attempt: 1, startedAt: iso(now - 900), endedAt: iso(now - 800), outcome: 'SUCCESS', error: null, workerId: 'w0', threadId: 1 }])]);
        // RUNNING outside the queue (its queue cleared while it ran): listed from jobs_running, not jobs_lease.
        await c.query(insert, ['d-orphan', 't.two', args, 4000, null, null, 1, options, null, null, 'RUNNING', now - 700, null, null]);
        before = (await c.query<{ r: string }>(`SELECT row_to_json(j)::text AS r FROM ${s}.jobs j ORDER BY id`)).rows.map((r) => r.r);
      } finally {
        await c.end();
      }

      const settings = settingsFor(schema);
      const queue = new PgQueue({ settings });
      const results = new PgResultStore({ settings, serializer: json });
      const store = new PgJobStore(queue, results);
      try {
        const ids = async (f: Parameters<PgResultStore['listJobs']>[0]) => (await results.listJobs(f)).map((r) => r.id);
        expect(await ids({ order: 'asc' })).to.deep.equal(['a-waiting', 'b-running', 'c-done', 'd-orphan']);
        const c2 = await pgClient();
        try {
          const after = (await c2.query<{ r: string }>(`SELECT row_to_json(j)::text AS r FROM ${s}.jobs j ORDER BY id`)).rows.map((r) => r.r);
          expect(after).to.deep.equal(before!);
          const versions = (await c2.query<{ version: number }>(`SELECT version FROM ${s}.migrations ORDER BY version`)).rows.map((r) => r.version);
          expect(versions).to.deep.equal(Array.from({ length: LATEST }, (_, i) => i + 1));
        } finally {
          await c2.end();
        }
        expect(await ids({})).to.deep.equal(['d-orphan', 'c-done', 'b-running', 'a-waiting']);
        expect(await ids({ status: 'RUNNING' })).to.deep.equal(['d-orphan', 'b-running']);
        expect(await ids({ status: ['RUNNING', 'SUCCESS'], order: 'asc', offset: 1, limit: 2 })).to.deep.equal(['c-done', 'd-orphan']);
        expect(await ids({ status: ['PENDING', 'RUNNING'], order: 'asc' })).to.deep.equal(['a-waiting', 'b-running', 'd-orphan']);
        expect(await ids({ task: 't.two' })).to.deep.equal(['d-orphan', 'b-running']);
        expect(await ids({ task: 't.one', status: ['RUNNING', 'PENDING'] })).to.deep.equal(['a-waiting']);
        expect(await ids({ offset: 3 })).to.deep.equal(['a-waiting']);

        // The waiting job runs and finishes on the upgraded schema.
        const claimed = await store.claim({ max: 5, workerId: 'w1', leaseMs: 60_000 });
        expect(claimed.map((j) => j.id)).to.deep.equal(['a-waiting']);
        const running = (await results.getFull('a-waiting'))!;
        expect(running.status).to.equal('RUNNING');
        expect(await ids({ status: 'RUNNING', order: 'asc' })).to.deep.equal(['a-waiting', 'b-running', 'd-orphan']);
        const done = ended(running, 'SUCCESS', Date.parse(running.startedAt!));
        expect(await store.settle('w1', [{ id: 'a-waiting', action: 'ack', record: done }])).to.deep.equal(['a-waiting']);
        expect(await results.getFull('a-waiting')).to.deep.equal(done);
        expect(await ids({ status: 'SUCCESS', order: 'asc' })).to.deep.equal(['a-waiting', 'c-done']);
        expect(await queue.qsize()).to.equal(1);
        expect(await ids({ status: 'RUNNING', task: 't.two', order: 'asc', limit: 1 })).to.deep.equal(['b-running']);
      } finally {
        await queue.close();
        await results.close();
      }
    });
  });
});
