/**
 * The real PostgreSQL server restarted (pg_ctlcluster ... restart, fast shutdown: every connection
 * cut) while a worker process runs jobs: the worker rides over it, picks up jobs enqueued after it,
 * and every job runs once and succeeds. It restarts the machine's shared server, which other test
 * runs may be using, so it runs only with NUVOM_PG_RESTART_TEST=1 (.ci/run sets it; CI runs alone).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tempProject, waitFor } from '../helpers/tmp.ts';
import { client as pgClient, dropSchema, PG_URL, requirePostgres, schemaName } from './helpers.ts';
import { runLog, startHost, type Host } from './host-process.ts';

const ENABLED = process.env.NUVOM_PG_RESTART_TEST === '1';

function cluster(action: 'restart' | 'start'): void {
  const version = readdirSync('/etc/postgresql')[0];
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { stdio: 'pipe', timeout: 60_000 });
}

function serverUp(): boolean {
  try {
    execFileSync('pg_isready', ['-q', '-h', '127.0.0.1', '-p', '5432'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('postgres: a server restart mid-run', function () {
  this.timeout(180_000);
  before(function () {
    if (ENABLED) return;
    console.log('    (skipped: restarting the shared PostgreSQL server needs NUVOM_PG_RESTART_TEST=1; .ci/run sets it)');
    this.skip();
  });
  requirePostgres();
  let schema: string;
  let logDir: string;
  const hosts: Host[] = [];

  beforeEach(() => {
    schema = schemaName();
    logDir = mkdtempSync(path.join(tmpdir(), 'nuvom-pg-restart-'));
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      if (h.child.exitCode === null && h.child.signalCode === null) {
        h.child.kill('SIGKILL');
        await new Promise((r) => h.child.once('exit', r));
      }
    }
    // Whatever happened, leave the server up for everyone else.
    if (!serverUp()) {
      try { cluster('start'); } catch { /* waited on below */ }
    }
    await waitFor(serverUp, { timeoutMs: 60_000, what: 'PostgreSQL to accept connections again (pg_isready)' });
    rmSync(logDir, { recursive: true, force: true });
    await dropSchema(schema).catch(() => undefined);
  });

  async function count(sql: string): Promise<number> {
    const c = await pgClient();
    try {
      return Number((await c.query(sql.replaceAll('S.', `"${schema}".`))).rows[0].n);
    } finally {
      await c.end();
    }
  }

  it('the worker recovers, and every job enqueued before and after the restart runs exactly once', async () => {
    // Leases (30 s) outlast the restart, so a job running across it is not redelivered.
    const env = {
      ...process.env, NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_SCHEDULER_BACKEND: 'postgres',
      NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema, NUVOM_POSTGRES_POOL_SIZE: '4', NUVOM_VISIBILITY_TIMEOUT_SECS: '30',
      NUVOM_LOG_LEVEL: 'warn', PGT_RUNLOG: logDir, PGT_CWD: tempProject(),
    };
    const host = (role: string, ...args: string[]) => {
      const h = startHost(env, role, ...args);
      hosts.push(h);
      return h;
    };
    const worker = host('worker', '4');
    await worker.ready;
    const before = (await host('producer', '400', '0', '40').result) as { ids: string[] };
    await waitFor(() => runLog(logDir).filter(([, what]) => what === 'end').length >= 20, { timeoutMs: 60_000, what: 'the worker to be mid-run' });

    cluster('restart');
    await waitFor(serverUp, { timeoutMs: 60_000, what: 'PostgreSQL to accept connections after the restart' });
    const endedAtRestart = runLog(logDir).filter(([, what]) => what === 'end').length;
    expect(endedAtRestart, 'the restart came after the run').to.be.below(before.ids.length);

    const after = (await host('producer', '50', '400').result) as { ids: string[] };
    const ids = [...before.ids, ...after.ids];
    try {
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE status = 'SUCCESS'`)) === ids.length, { timeoutMs: 120_000, what: 'every job to succeed after the restart' });
    } catch (err) {
      throw new Error(`${(err as Error).message}; worker stderr: ${worker.stderr().slice(-3000)}`);
    }
    expect(worker.child.exitCode, 'the worker process ended').to.equal(null);
    const starts = runLog(logDir).filter(([, what]) => what === 'start').map(([id]) => id);
    expect(starts.length, 'runs (a job ran twice?)').to.equal(ids.length);
    expect(new Set(starts)).to.deep.equal(new Set(ids));
    expect(await count(`SELECT count(*) AS n FROM S.jobs WHERE q_state IS NOT NULL OR attempts <> 1`), 'jobs left queued or run more than once').to.equal(0);
    worker.child.kill('SIGTERM');
    await worker.result;
  });
});
