/**
 * `nuvom plugin test nuvom/plugins/postgres` in a project whose .nuvom_plugins.toml points the plugin
 * at its database: the conformance cases run in schemas of their own (config.isolation), dropped
 * afterwards, and never touch the project's schema. Before, every case wrote into the project's
 * schema: 321 rows of test jobs left in the queue the project's workers claim, and 44 checks failing on
 * each other's rows.
 */
import { expect } from 'chai';
import { PgQueue } from '../../builtin-plugins/postgres/index.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { cleanupTempProjects, killAll, nuvom, project } from '../cli/helpers.ts';
import { PG_URL, client as pgClient, dropSchema, requirePostgres, schemaName, settingsFor } from './helpers.ts';

describe('postgres: nuvom plugin test against the project\'s database', function () {
  this.timeout(180_000);
  requirePostgres();
  let schema: string;
  beforeEach(() => { schema = schemaName(); });
  afterEach(async () => {
    const c = await pgClient();
    try {
      const { rows } = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${schema}_t%`]);
      for (const r of rows) await c.query(`DROP SCHEMA IF EXISTS "${r.nspname}" CASCADE`);
    } finally {
      await c.end();
    }
    await dropSchema(schema);
  });
  after(() => { killAll(); cleanupTempProjects(); });

  it('passes every check in schemas of its own and leaves the project\'s schema and its job as they were', async () => {
    const queue = new PgQueue({ settings: settingsFor(schema) });
    const job = makeQueuedJob({ runAt: Date.now() });
    await queue.enqueue(job);
    await queue.close();
    const p = project({ '.nuvom_plugins.toml': `[settings.nuvom-postgres]\npostgresUrl = "${PG_URL}"\npostgresSchema = "${schema}"\n` });
    const r = await nuvom(p, ['plugin', 'test', 'nuvom/plugins/postgres']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ok +queue "postgres": claim returns an enqueued job/m);
    expect(r.stdout).not.to.match(/^FAIL/m);
    const c = await pgClient();
    try {
      const { rows } = await c.query<{ id: string }>(`SELECT id FROM "${schema}".jobs`);
      expect(rows.map((row) => row.id), 'the project\'s jobs').to.deep.equal([job.id]);
      const left = await c.query('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${schema}_t%`]);
      expect(left.rows, 'test schemas left behind').to.deep.equal([]);
    } finally {
      await c.end();
    }
  });
});
