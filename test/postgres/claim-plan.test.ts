/**
 * A claim reads the waiting rows in the claim index's order and stops at its limit, whatever the
 * table's statistics say. A queue's table is typically analyzed while it is empty (after a drain),
 * then a burst arrives: left to those statistics, the planner scanned and sorted every waiting row
 * on every claim (10,000 waiting jobs: 4.6 ms a claim of 100, so a drain cost O(n^2)).
 */
import { expect } from 'chai';
import { PgQueue } from '../../builtin-plugins/postgres/index.ts';
import { CLAIM_SESSION, claimStatement } from '../../builtin-plugins/postgres/queue.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { client as pgClient, dropSchema, requirePostgres, schemaName, settingsFor, planNodes, type PlanNode } from './helpers.ts';

describe('postgres: the claim plan', function () {
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

  for (const running of [false, true]) {
    it(`reads only the rows it leases when the statistics say none wait (${running ? 'job store' : 'queue'} claim)`, async () => {
      const now = Date.now();
      await queue.qsize(); // migrates the schema
      const c = await pgClient();
      try {
        // Statistics taken while the queue was empty, then a burst of waiting jobs.
        await c.query(`ANALYZE "${schema}".jobs`);
        for (let i = 0; i < 2000; i += 500) {
          await queue.enqueueMany(Array.from({ length: 500 }, () => makeQueuedJob({ runAt: now - 1000 })));
        }
        await c.query('BEGIN');
        await c.query(CLAIM_SESSION);
        let plan: { Plan: PlanNode; JIT?: unknown };
        try {
          const { rows } = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; JIT?: unknown }> }>(
            `EXPLAIN (ANALYZE, FORMAT JSON) ${claimStatement(`"${schema}"`, running)}`, [now, 10, 'w1', now + 30_000]);
          plan = rows[0]['QUERY PLAN'][0];
        } finally {
          await c.query('ROLLBACK');
        }
        const scans = planNodes(plan.Plan).filter((n) => n['Relation Name'] === 'jobs' && /Scan/.test(n['Node Type']));
        const waiting = scans.find((n) => n['Index Name'] === 'jobs_claim');
        expect(waiting, `the waiting rows are read through jobs_claim: ${JSON.stringify(scans.map((n) => [n['Node Type'], n['Index Name']]))}`).to.not.equal(undefined);
        expect(waiting!['Node Type']).to.equal('Index Scan');
        expect(waiting!['Actual Rows']).to.be.at.most(10);
        expect(scans.some((n) => n['Node Type'] === 'Bitmap Heap Scan' || n['Node Type'] === 'Seq Scan')).to.equal(false);
        expect(plan.JIT, 'no JIT compilation for a claim').to.equal(undefined);
      } finally {
        await c.end();
      }
    });
  }
});
