/**
 * The PostgreSQL plugin's StorageHealth for the read-only commands: they refuse a schema that does
 * not exist instead of creating it (doctor's checks: test/postgres/client.test.ts).
 */
import { expect } from 'chai';
import pg from 'pg';
import { createClient, type Client } from '../../sdk/index.ts';
import { checkReadOnly } from '../../cli/read-only.ts';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { cleanupTempProjects, memoryLogger, REPO_ROOT, tempProject } from '../helpers/tmp.ts';
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

  it('refuses the commands that act on existing jobs (retry, cancel, history purge, schedule cancel) and `workers` on a mistyped schema, and creates none', async () => {
    const c = await client();
    for (const argv of [['retry', 'x'], ['retry', 'jobs', '--status', 'FAILED'], ['cancel', 'x'], ['history', 'purge', '--older-than', '1d'], ['schedule', 'cancel', 'x'], ['workers']]) {
      const err = await checkReadOnly(argv, c.kernel.config, (t) => c.kernel.healthOf(t)).then(() => null, (e: Error & { code: string }) => e);
      expect(err?.code, argv.join(' ')).to.equal('NUVOM_E_NO_DATABASE');
    }
    // As a user runs it: the real CLI, exit 1, and still no schema.
    const env = { ...process.env, NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_SCHEDULER_BACKEND: 'postgres', NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema };
    const cli = path.join(REPO_ROOT, 'cli/main.ts');
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, '--cwd', tempProject(), 'cancel', '01a2aaaa-0000'], { cwd: REPO_ROOT, env, timeout: 30_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    expect(out.code).to.equal(1);
    expect(out.stderr).to.contain('acts on existing jobs or schedules and creates nothing').and.contain('NUVOM_E_NO_DATABASE');
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
