/**
 * `nuvom doctor`'s postgres-leases check counts the queued jobs through the queue's partial indexes:
 * its first form (`WHERE q_state IS NOT NULL`, which no index matches) read every record of the
 * table, 0.9 s at 1,000,000 records, most of them finished jobs that left the queue long ago.
 */
import { expect } from 'chai';
import { PgQueue } from '../../builtin-plugins/postgres/index.ts';
import { leaseCountsStatement, postgresHealth } from '../../builtin-plugins/postgres/health.ts';
import { qsizeStatement } from '../../builtin-plugins/postgres/queue.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { client as pgClient, dropSchema, requirePostgres, schemaName, settingsFor, planNodes, type PlanNode } from './helpers.ts';


describe('postgres: the doctor lease counts over a table of many finished records', function () {
  this.timeout(60_000);
  requirePostgres();
  let schema: string;
  let queue: PgQueue;

  beforeEach(() => {
    schema = schemaName();
    queue = new PgQueue({ settings: settingsFor(schema) });
  });
  afterEach(async () => {
    await queue.close();
    await dropSchema(schema);
  });

  it('reads the queued rows through the queue\'s partial indexes, never the whole table, and counts them right', async () => {
    const now = Date.now();
    await queue.qsize(); // migrates the schema
    await queue.enqueueMany([makeQueuedJob({ runAt: now - 1000 }), makeQueuedJob({ runAt: now - 1000 }), makeQueuedJob({ runAt: now + 3_600_000 })]);
    await queue.claim({ max: 1, workerId: 'w1', leaseMs: 30_000, now });
    const c = await pgClient();
    try {
      // 50,000 finished records that left the queue (q_state NULL), as months of jobs leave behind.
      await c.query(`INSERT INTO "${schema}".jobs (id, task_name, args, priority, created_at, status, r_task_name, r_created_at, completed_at)
        SELECT 'done-' || i, 't', '\\x90', 0, $1::bigint - i, 'SUCCESS', 't', $1::bigint - i, $1::bigint - i FROM generate_series(1, 50000) i`, [now]);
      await c.query(`ANALYZE "${schema}".jobs`);
      const { rows } = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${leaseCountsStatement(`"${schema}"`)}`, [now]);
      const all = planNodes(rows[0]['QUERY PLAN'][0].Plan);
      const shown = JSON.stringify(all.filter((n) => n['Relation Name'] === 'jobs' || n['Index Name']).map((n) => [n['Node Type'], n['Index Name']]));
      expect(all.filter((n) => n['Relation Name'] === 'jobs').map((n) => n['Node Type']), shown).to.not.include('Seq Scan');
      // Any of the queue's partial indexes (jobs_claim holds the waiting rows too), directly or as a bitmap: each reads queued rows only.
      const indexes = all.filter((n) => n['Index Name']).map((n) => n['Index Name']);
      expect(indexes.length, shown).to.be.at.least(4);
      expect(indexes.every((x) => ['jobs_run_at', 'jobs_lease', 'jobs_claim'].includes(x!)), shown).to.equal(true);
    } finally {
      await c.end();
    }
    expect(await queue.qsize()).to.equal(3);
    const report = await postgresHealth(() => settingsFor(schema)).health({ services: ['queue'], fix: false, leaseSecs: 30 });
    const leases = report.findings.find((f) => f.check === 'postgres-leases');
    expect(leases?.detail).to.equal('1 ready, 1 delayed, 1 leased; no expired leases');
  });

  it('qsize() counts the queued rows through the queue\'s partial indexes, never the whole table', async () => {
    const now = Date.now();
    await queue.qsize(); // migrates the schema
    await queue.enqueueMany([makeQueuedJob({ runAt: now - 1000 }), makeQueuedJob({ runAt: now + 3_600_000 })]);
    await queue.claim({ max: 1, workerId: 'w1', leaseMs: 30_000, now });
    const c = await pgClient();
    try {
      await c.query(`INSERT INTO "${schema}".jobs (id, task_name, args, priority, created_at, status, r_task_name, r_created_at, completed_at)
        SELECT 'done-' || i, 't', '\\x90', 0, $1::bigint - i, 'SUCCESS', 't', $1::bigint - i, $1::bigint - i FROM generate_series(1, 50000) i`, [now]);
      await c.query(`ANALYZE "${schema}".jobs`);
      const { rows } = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${qsizeStatement(`"${schema}"`)}`);
      const all = planNodes(rows[0]['QUERY PLAN'][0].Plan);
      const shown = JSON.stringify(all.filter((n) => n['Relation Name'] === 'jobs' || n['Index Name']).map((n) => [n['Node Type'], n['Index Name']]));
      expect(all.filter((n) => n['Relation Name'] === 'jobs').map((n) => n['Node Type']), shown).to.not.include('Seq Scan');
      const indexes = all.filter((n) => n['Index Name']).map((n) => n['Index Name']);
      expect(indexes.length, shown).to.be.at.least(2);
      expect(indexes.every((x) => ['jobs_run_at', 'jobs_lease', 'jobs_claim'].includes(x!)), shown).to.equal(true);
    } finally {
      await c.end();
    }
    expect(await queue.qsize()).to.equal(2);
  });
});
