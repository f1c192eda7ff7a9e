/**
 * The PostgreSQL plugin's StorageHealth for the read-only commands: they refuse a schema that does
 * not exist instead of creating it (doctor's checks: test/postgres/client.test.ts).
 */
import { expect } from 'chai';
import pg from 'pg';
import { createClient, type Client } from '../../sdk/index.ts';
import { checkReadOnly } from '../../cli/read-only.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';
import { dropSchema, PG_URL, requirePostgres, schemaName } from './helpers.ts';

async function schemaExists(schema: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query('SELECT to_regnamespace($1) IS NOT NULL AS e', [schema])).rows[0].e as boolean;
  } finally {
    await c.end();
  }
}

describe('postgres: storage health (read-only commands)', function () {
  this.timeout(60_000);
  requirePostgres();
  const schema = schemaName();
  const clients: Client[] = [];
  const client = async (url = PG_URL) => {
    const c = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: url, postgresSchema: schema } });
    clients.push(c);
    return c;
  };
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await dropSchema(schema);
    cleanupTempProjects();
  });

  it('refuses a read-only command on a schema that does not exist, and creates none', async () => {
    const c = await client();
    const health = c.kernel.healthOf('resultStore')!;
    expect(c.kernel.healthOf('queue')).to.equal(health);
    expect(c.kernel.healthOf('scheduleStore')).to.equal(health);
    for (const argv of [['history', 'recent'], ['stats'], ['schedule', 'list']]) {
      const err = await checkReadOnly(argv, c.kernel.config, (t) => c.kernel.healthOf(t)).then(() => null, (e: Error & { code: string }) => e);
      expect(err?.code, argv.join(' ')).to.equal('NUVOM_E_NO_DATABASE');
      expect(err!.message).to.contain(`schema ${schema}`).and.contain('NUVOM_POSTGRES_SCHEMA');
    }
    expect(await schemaExists(schema)).to.equal(false);
  });

  it('lets them read once the schema exists', async () => {
    const c = await client();
    await c.kernel.resolve('resultStore').listJobs({ limit: 1 }); // the first connection migrates the schema
    await checkReadOnly(['status', 'x'], c.kernel.config, (t) => c.kernel.healthOf(t));
  });

  it('a read-only command on a server that does not answer is NUVOM_E_STORAGE_UNREACHABLE, not a missing schema', async () => {
    const c = await client('postgres://nobody@127.0.0.1:1/nowhere');
    const err = await checkReadOnly(['stats'], c.kernel.config, (t) => c.kernel.healthOf(t)).then(() => null, (e: Error & { code: string }) => e);
    expect(err?.code).to.equal('NUVOM_E_STORAGE_UNREACHABLE');
  });
});
