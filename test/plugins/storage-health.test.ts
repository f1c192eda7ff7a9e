/**
 * The storage health contract (issue 16): the built-in SQLite and file plugins' checks live in the
 * StorageHealth they provide beside their factories; `nuvom doctor` and the read-only commands reach
 * them only through it (Kernel.healthOf / ctx.healthOf), building no service.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from '../../sdk/index.ts';
import type { QueuedJob } from '../../sdk/plugin.ts';
import { checkReadOnly } from '../../cli/read-only.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

const job = (id: string): QueuedJob => ({
  id, taskName: 'add', args: new Uint8Array(), priority: 0, runAt: 0, attempts: 0, createdAt: 0, options: {} as QueuedJob['options'], meta: {},
});

describe('storage health through the plugin contract', function () {
  this.timeout(60_000);
  const clients: Client[] = [];
  afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });
  after(cleanupTempProjects);

  async function client(config: Record<string, unknown>) {
    const c = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: { visibilityTimeoutSecs: 30, ...config } });
    clients.push(c);
    return c;
  }

  it('reports a stuck (expired) lease on the built-in SQLite queue through its health()', async () => {
    const c = await client({ queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite' });
    const queue = c.kernel.resolve('queue');
    await queue.enqueue(job('stuck-1'));
    await queue.enqueue(job('fine-1'));
    // A worker claimed one job two minutes ago with a 1 s lease and was never heard of again.
    expect(await queue.claim({ max: 1, workerId: 'gone', leaseMs: 1000, now: Date.now() - 120_000 })).to.have.length(1);
    const health = c.kernel.healthOf('queue')!;
    expect(health, 'the SQLite queue provides a StorageHealth').to.not.equal(undefined);
    expect(c.kernel.healthOf('resultStore')).to.equal(health);
    const report = await health.health({ services: ['queue', 'resultStore'], fix: false, leaseSecs: 30 });
    const leases = report.findings.find((f) => f.check === 'sqlite-leases')!;
    expect(leases.level).to.equal('warn');
    expect(leases.detail).to.match(/^1 job\(s\) hold an expired lease \(the oldest expired 1\d\ds ago; leases last 30s\)/);
    expect(leases.data).to.include({ expired: 1, ready: 1 });
    expect(report.findings.map((f) => f.check)).to.deep.equal(['sqlite-file', 'sqlite-integrity', 'sqlite-wal', 'sqlite-leases']);
    expect(report.jobChecks).to.equal(undefined);
    expect(report.folders!.map((f) => f.services)).to.deep.equal([['queue', 'results']]);
  });

  it('says where a SQLite or file store is without creating it, for the read-only commands', async () => {
    for (const backend of ['sqlite', 'file'] as const) {
      const c = await client({ queueBackend: backend, resultBackend: backend, schedulerBackend: 'memory' });
      const health = c.kernel.healthOf('resultStore')!;
      const where = (await health.locate!('resultStore'))!;
      expect(where.exists, backend).to.equal(false);
      expect(where.path.startsWith(c.kernel.config.cwd), backend).to.equal(true);
      const report = await health.health({ services: ['queue', 'resultStore'], fix: false, leaseSecs: 30 });
      expect(report.jobChecks, backend).to.deep.equal({ skip: 'no job storage yet', level: 'ok' });
      expect(existsSync(where.path), `${backend}: health() created nothing`).to.equal(false);
      const err = await checkReadOnly(['history', 'recent'], c.kernel.config, (t) => c.kernel.healthOf(t)).then(() => null, (e: Error & { code: string }) => e);
      expect(err?.code, backend).to.equal('NUVOM_E_NO_DATABASE');
      expect(err!.message).to.contain(`at ${where.path}`).and.contain(backend === 'sqlite' ? 'NUVOM_SQLITE_PATH' : 'NUVOM_FILE_RESULT_DIR');
      expect(existsSync(path.dirname(where.path)) && existsSync(where.path), backend).to.equal(false);
    }
  });

  it('leaves backends that keep nothing on disk to themselves: memory is in-process, no location to check', async () => {
    const c = await client({ queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory' });
    const health = c.kernel.healthOf('queue')!;
    expect(health.inProcess).to.equal(true);
    expect((await health.locate?.('resultStore')) ?? null).to.equal(null);
    await checkReadOnly(['status'], c.kernel.config, (t) => c.kernel.healthOf(t));
  });
});
