/**
 * listJobs({ withArgs: false }): a listing that shows no arguments (`nuvom history recent`'s table)
 * lets the store leave them out. Up to 64 MiB a job, they made a 40-job listing of 5 MB arguments on
 * PostgreSQL take 2.9 s and 305 MB.
 */
import { expect } from 'chai';
import { createClient, type Client } from '../../sdk/index.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';
import { dropSchema, PG_URL, schemaName, skipWithoutPostgres } from '../postgres/helpers.ts';
import '../postgres/fixtures/tasks.ts';

describe('history: listing records without their arguments', function () {
  this.timeout(30_000);
  after(cleanupTempProjects);

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`leaves the arguments out and keeps the rest of each record (${backend})`, async function () {
      let schema: string | null = null;
      const config: Record<string, unknown> = { queueBackend: backend, resultBackend: backend, schedulerBackend: backend };
      if (backend === 'postgres') {
        await skipWithoutPostgres(this);
        schema = schemaName();
        Object.assign(config, { postgresUrl: PG_URL, postgresSchema: schema });
      }
      let client: Client | null = null;
      try {
        client = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config });
        const big = 'x'.repeat(1024 * 1024);
        await client.enqueue('pgt.add', [big, 1] as never);
        await client.enqueue('pgt.add', [2, 3]);
        const full = await client.listJobs({ limit: 10 });
        const lean = await client.listJobs({ limit: 10, withArgs: false });
        expect(full.map((r) => r.args.length)).to.deep.equal([2, 2]);
        expect(lean.map((r) => r.args)).to.deep.equal([[], []]);
        expect(lean.map((r) => ({ ...r, args: null }))).to.deep.equal(full.map((r) => ({ ...r, args: null })));
        expect((await client.listJobs({ withArgs: 'no' as never }).catch((e) => e)).code).to.equal('NUVOM_E_USAGE');
      } finally {
        await client?.close();
        if (schema) await dropSchema(schema);
      }
    });
  }
});
