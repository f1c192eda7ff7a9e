/**
 * The PostgreSQL plugin's StorageHealth: `nuvom doctor` reports the server and the schema, and the
 * read-only commands refuse a schema that does not exist instead of creating it.
 */
import { expect } from 'chai';
import pg from 'pg';
import { createClient, type Client } from '../../sdk/index.ts';
import { checkReadOnly } from '../../cli/read-only.ts';
import { LATEST } from '../../builtin-plugins/postgres/schema.ts';
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

describe('postgres: storage health (doctor, read-only commands)', function () {
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

  it('refuses a read-only command on a schema that does not exist, and creates none; doctor warns and skips the job checks', async () => {
    const c = await client();
    const health = c.kernel.healthOf('resultStore')!;
    expect(c.kernel.healthOf('queue')).to.equal(health);
    expect(c.kernel.healthOf('scheduleStore')).to.equal(health);
    for (const argv of [['history', 'recent'], ['stats'], ['schedule', 'list']]) {
      const err = await checkReadOnly(argv, c.kernel.config, (t) => c.kernel.healthOf(t)).then(() => null, (e: Error & { code: string }) => e);
      expect(err?.code, argv.join(' ')).to.equal('NUVOM_E_NO_DATABASE');
      expect(err!.message).to.contain(`schema ${schema}`).and.contain('NUVOM_POSTGRES_SCHEMA');
    }
    const report = await health.health({ services: ['queue', 'resultStore', 'scheduleStore'], fix: false, leaseSecs: 30 });
    expect(report.findings.map((f) => [f.check, f.level])).to.deep.equal([['postgres', 'warn']]);
    expect(report.findings[0]!.detail).to.contain(`schema ${schema}`).and.contain('holds no nuvom tables');
    expect(report.jobChecks).to.deep.equal({ skip: 'no job storage yet', level: 'ok' });
    expect(await schemaExists(schema)).to.equal(false);
  });

  it('lets them read once the schema exists, and doctor reports its version', async () => {
    const c = await client();
    await c.kernel.resolve('resultStore').listJobs({ limit: 1 }); // the first connection migrates the schema
    await checkReadOnly(['status', 'x'], c.kernel.config, (t) => c.kernel.healthOf(t));
    const report = await c.kernel.healthOf('queue')!.health({ services: ['queue', 'resultStore'], fix: false, leaseSecs: 30 });
    expect(report.findings.map((f) => [f.check, f.level])).to.deep.equal([['postgres', 'ok']]);
    expect(report.findings[0]!.detail).to.contain(`version ${LATEST} (up to date)`);
    expect(report.jobChecks).to.equal(undefined);
  });

  it('fails doctor\'s check with the connection problem when the server does not answer, and skips the job checks', async () => {
    const c = await client('postgres://nobody@127.0.0.1:1/nowhere');
    const report = await c.kernel.healthOf('queue')!.health({ services: ['queue', 'resultStore'], fix: false, leaseSecs: 30 });
    expect(report.findings.map((f) => [f.check, f.level])).to.deep.equal([['postgres', 'FAIL']]);
    expect(report.findings[0]!.detail).to.contain('refused or did not answer');
    expect(report.findings[0]!.data).to.include({ code: 'NUVOM_E_STORAGE_UNREACHABLE' });
    expect(report.jobChecks).to.deep.equal({ skip: 'skipped: fix the storage problem above first', level: 'warn' });
  });
});
