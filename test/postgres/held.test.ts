/**
 * The connection PgDb keeps out of its pool for single statements (db.ts `held`): it never starves
 * the pool (a pool of one still runs transactions), a cut connection is replaced without a crash,
 * statements beyond it run through the pool, and close() ends it.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PgDb } from '../../builtin-plugins/postgres/db.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';
import { client as pgClient, dropSchema, requirePostgres, schemaName, settingsFor } from './helpers.ts';

describe('postgres: the connection kept for single statements', function () {
  this.timeout(60_000);
  requirePostgres();
  const schemas: string[] = [];
  after(async () => {
    for (const s of schemas) await dropSchema(s).catch(() => undefined);
  });

  /** The backend pid single statements of `d` run on. */
  const pidOf = async (d: PgDb): Promise<number> => (await d.query<{ pid: number }>('test', 'SELECT pg_backend_pid() AS pid')).rows[0].pid;

  /** Waits (deadline 10 s) until the server has no session `pid` any more. */
  async function gone(admin: Awaited<ReturnType<typeof pgClient>>, pid: number, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount) {
      if (Date.now() > deadline) throw new Error(`backend ${pid} ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  function db(poolSize: number): PgDb {
    const schema = schemaName();
    schemas.push(schema);
    return new PgDb(settingsFor(schema, { postgresPoolSize: poolSize }));
  }

  it('with a pool of one connection, a transaction after a statement runs (the kept connection goes back)', async () => {
    const d = db(1);
    try {
      expect((await d.query<{ n: number }>('test', 'SELECT 1 AS n')).rows[0].n).to.equal(1);
      const n = await d.tx('test', async (c) => (await c.query<{ n: number }>('SELECT 2 AS n')).rows[0].n);
      expect(n).to.equal(2);
      // And statements after the transaction still run (the connection is taken again, or pooled).
      expect((await d.query<{ n: number }>('test', 'SELECT 3 AS n')).rows[0].n).to.equal(3);
      await Promise.all([d.tx('test', (c) => c.query('SELECT pg_sleep(0.05)')), d.query('test', 'SELECT 4'), d.tx('test', (c) => c.query('SELECT 5'))]);
    } finally {
      await d.close();
    }
  });

  it('a kept connection cut by the server (pg_terminate_backend) is replaced: the next statement runs, the process does not crash', async () => {
    const d = db(4);
    const admin = await pgClient();
    try {
      const pid = await pidOf(d);
      expect(await pidOf(d), 'single statements share one connection').to.equal(pid);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // Wait until the server has ended it, so the next statement meets the cut connection.
      await gone(admin, pid, 'still there after 10 s');
      const after = await pidOf(d);
      expect(after).to.not.equal(pid);
      expect(await pidOf(d)).to.equal(after);
    } finally {
      await admin.end();
      await d.close();
    }
  });

  it('statements while the kept connection is busy run on the pool, each with its own answer, and a failed one leaves it usable', async () => {
    const d = db(3);
    try {
      const out = await Promise.all(Array.from({ length: 20 }, (_, i) => d.query<{ n: number }>('test', 'SELECT $1::int AS n, pg_sleep(0.005)', [i])));
      expect(out.map((r) => r.rows[0].n)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      let failed: unknown;
      try {
        await d.query('test', 'SELECT 1/0');
      } catch (err) {
        failed = err;
      }
      expect(String((failed as Error)?.message)).to.match(/division by zero/);
      expect((await d.query<{ n: number }>('test', 'SELECT 7 AS n')).rows[0].n).to.equal(7);
    } finally {
      await d.close();
    }
  });

  it('a process that ran a statement and never calls close() still ends (the kept connection does not hold it)', async () => {
    const schema = schemaName();
    schemas.push(schema);
    const dbUrl = pathToFileURL(path.join(REPO_ROOT, 'builtin-plugins/postgres/db.ts')).href;
    const code = `import { PgDb } from ${JSON.stringify(dbUrl)};
      const d = new PgDb(${JSON.stringify(settingsFor(schema))});
      const r = await d.query('test', 'SELECT 41 + 1 AS n');
      console.log('ran', r.rows[0].n);`;
    // Before: the kept connection held the process forever (an idle pool connection lets go after 30 s).
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, timeout: 20_000 });
    expect(stdout.trim()).to.equal('ran 42');
  });

  it('close() ends the kept connection (no session of this process is left on the server)', async () => {
    const d = db(2);
    const admin = await pgClient();
    try {
      const pid = await pidOf(d);
      await d.close();
      await gone(admin, pid, 'still connected 10 s after close()');
    } finally {
      await admin.end();
    }
  });
});
