/**
 * The dashboard's overview asks the result store, at once, for the stats since an hour and since a
 * day ago and for the completions per minute over the hour and per 15 minutes over the day. On
 * PostgreSQL each of those is a pass over every record (~1 s each at 1,000,000 records): calls made
 * together share one pass per kind, and each gets the answer it would have got alone.
 */
import { expect } from 'chai';
import { PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { makeJobRecord } from '../../sdk/testing/index.ts';
import type { JobRecord } from '../../sdk/plugin.ts';
import { dropSchema, json, requirePostgres, schemaName, settingsFor } from './helpers.ts';

const MINUTE = 60_000;

describe('postgres: the overview\'s store reads made together share a pass', function () {
  this.timeout(60_000);
  requirePostgres();
  let schema: string;
  let results: PgResultStore;

  beforeEach(() => {
    schema = schemaName();
    results = new PgResultStore({ settings: settingsFor(schema), serializer: json });
  });
  afterEach(async () => {
    await results.close();
    await dropSchema(schema);
  });

  it('stats(), completions() and runTimes() called together make one pass per kind, and answer as when called alone', async () => {
    const now = Date.now();
    // Completions spread over the last two days, some failed; a few records not completed.
    const records: JobRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const done = now - i * 9.7 * MINUTE;
      const at = new Date(done - 1000).toISOString();
      records.push(makeJobRecord({ taskName: `t${i % 3}`, status: i % 7 === 0 ? 'FAILED' : 'SUCCESS', attempts: 1, createdAt: at, startedAt: at, completedAt: new Date(done).toISOString() }));
    }
    for (let i = 0; i < 5; i++) records.push(makeJobRecord({ taskName: 't0', status: 'PENDING', createdAt: new Date(now - i * MINUTE).toISOString() }));
    await results.putMany(records);

    const hour = now - 60 * MINUTE;
    const day = now - 24 * 60 * MINUTE;
    const alone = {
      hour: await results.stats(hour), day: await results.stats(day),
      perMinute: await results.completions(hour, MINUTE), perQuarter: await results.completions(day, 15 * MINUTE),
      runTimes: await results.runTimes(200, 2),
    };
    const labels: string[] = [];
    const statements: string[] = [];
    const db = results.db as unknown as { query: (what: string, sql: string, ...rest: unknown[]) => Promise<unknown> };
    const query = db.query;
    db.query = function (this: unknown, what: string, sql: string, ...rest: unknown[]) { labels.push(what); statements.push(sql); return query.call(this, what, sql, ...rest); };
    let together;
    try {
      const [h, d, m, q, r] = await Promise.all([results.stats(hour), results.stats(day), results.completions(hour, MINUTE), results.completions(day, 15 * MINUTE), results.runTimes(200, 2)]);
      together = { hour: h, day: d, perMinute: m, perQuarter: q, runTimes: r };
    } finally {
      db.query = query;
    }
    expect(labels.filter((x) => x === 'computing job stats')).to.have.length(1);
    expect(labels.filter((x) => x === 'reading completions')).to.have.length(1);
    // The run times' list of tasks (those with most records) comes from the stats pass: their own read aggregates nothing.
    expect(labels.filter((x) => x === 'reading run times')).to.have.length(1);
    expect(statements.filter((x) => /GROUP BY/i.test(x)), 'statements that aggregate over the records').to.have.length(2);
    expect(Object.keys(alone.runTimes).sort()).to.deep.equal(['t0', 't1']);
    expect(together).to.deep.equal(alone);
    expect(alone.hour.completedSince).to.be.below(alone.day.completedSince);
    expect(alone.perMinute.reduce((n, b) => n + b.success + b.failed, 0)).to.be.within(6, 8);
  });
});
