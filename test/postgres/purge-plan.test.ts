/**
 * A purge reads the records it may delete through jobs_status, from the oldest up to its cut, and the
 * queued rows (whose records it clears) through the queue's partial indexes: its first form read the
 * whole table twice, 1.4 s at 1,000,000 records for a daily purge that deleted nothing.
 */
import { expect } from 'chai';
import { PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { purgeStatement } from '../../builtin-plugins/postgres/results.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { client as pgClient, dropSchema, json, requirePostgres, schemaName, settingsFor, planNodes, type PlanNode } from './helpers.ts';

const DAY = 86_400_000;

describe('postgres: the purge plan over a table of many records', function () {
  this.timeout(60_000);
  requirePostgres();
  let schema: string;
  let queue: PgQueue;
  let results: PgResultStore;

  beforeEach(() => {
    schema = schemaName();
    queue = new PgQueue({ settings: settingsFor(schema) });
    results = new PgResultStore({ settings: settingsFor(schema), serializer: json });
  });
  afterEach(async () => {
    await results.close();
    await queue.close();
    await dropSchema(schema);
  });

  it('reads jobs_status up to the cut and the queued rows through their indexes, never the whole table', async () => {
    const now = Date.now();
    await queue.qsize(); // migrates the schema
    await queue.enqueueMany([makeQueuedJob({ runAt: now - 1000 }), makeQueuedJob({ runAt: now + 3_600_000 })]);
    const c = await pgClient();
    try {
      // 60 days of finished records, 500 a day, each with a history of the size a real one has; the last 7 days of them stay.
      await c.query(`INSERT INTO "${schema}".jobs (id, task_name, args, priority, created_at, status, r_task_name, r_created_at, completed_at, history)
        SELECT 'done-' || i, 't', '\\x5b5d', 0, $1::bigint - i::bigint * 172800, 'SUCCESS', 't', $1::bigint - i::bigint * 172800, $1::bigint - i::bigint * 172800 + 500, repeat('h', 700)
        FROM generate_series(1, 30000) i`, [now]);
      const cut = now - 7 * DAY;
      // The first purge of a daily cron has run (and autovacuum analyzed the table after it): only the day past the retention is left to delete.
      await c.query(`DELETE FROM "${schema}".jobs WHERE completed_at < $1`, [cut - DAY]);
      await c.query(`ANALYZE "${schema}".jobs`);
      const statuses = ['SUCCESS', 'FAILED', 'CANCELLED'];
      const { rows } = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${purgeStatement(`"${schema}"`, statuses)}`, [statuses, cut, cut + DAY]);
      const all = planNodes(rows[0]['QUERY PLAN'][0].Plan);
      const shown = JSON.stringify(all.filter((n) => n['Relation Name'] === 'jobs' || n['Index Name']).map((n) => [n['Node Type'], n['Index Name']]));
      expect(all.filter((n) => n['Relation Name'] === 'jobs').map((n) => n['Node Type']), shown).to.not.include('Seq Scan');
      expect(all.some((n) => n['Index Name'] === 'jobs_status'), shown).to.equal(true);
      const deleted = await results.purge({ olderThan: cut });
      const { rows: left } = await c.query<{ n: string; oldest: string }>(`SELECT count(*) AS n, min(completed_at) AS oldest FROM "${schema}".jobs WHERE status IS NOT NULL`);
      expect(deleted).to.be.within(450, 550);
      expect(Number(left[0].oldest)).to.be.at.least(cut);
      expect(Number(left[0].n)).to.be.within(3450, 3550);
    } finally {
      await c.end();
    }
    expect(await queue.qsize()).to.equal(2);
  });
});
