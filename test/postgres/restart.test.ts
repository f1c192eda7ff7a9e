/**
 * The real PostgreSQL server restarted (pg_ctlcluster ... restart, fast shutdown: every connection
 * cut) while a worker process runs jobs: the worker rides over it, picks up jobs enqueued after it,
 * and every job runs once and succeeds. It restarts the machine's shared server, which other test
 * runs may be using, so it runs only with NUVOM_PG_RESTART_TEST=1 (.ci/run sets it; CI runs alone).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { waitFor } from '../helpers/tmp.ts';
import { requirePostgres } from './helpers.ts';
import { runLog, useHosts } from './host-process.ts';

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
  // Whatever happened, leave the server up for everyone else.
  const t = useHosts(async () => {
    if (!serverUp()) {
      try { cluster('start'); } catch { /* waited on below */ }
    }
    await waitFor(serverUp, { timeoutMs: 60_000, what: 'PostgreSQL to accept connections again (pg_isready)' });
  });
  const { count } = t;

  it('the worker recovers, and every job enqueued before and after the restart runs exactly once', async () => {
    // Leases (30 s) outlast the restart, so a job running across it is not redelivered.
    const host = (role: string, ...args: string[]) => t.host(role, args, { NUVOM_VISIBILITY_TIMEOUT_SECS: '30' });
    const worker = host('worker', '4');
    await worker.ready;
    const before = (await host('producer', '400', '0', '40').result) as { ids: string[] };
    await waitFor(() => runLog(t.logDir).filter(([, what]) => what === 'end').length >= 20, { timeoutMs: 60_000, what: 'the worker to be mid-run' });

    cluster('restart');
    await waitFor(serverUp, { timeoutMs: 60_000, what: 'PostgreSQL to accept connections after the restart' });
    const endedAtRestart = runLog(t.logDir).filter(([, what]) => what === 'end').length;
    expect(endedAtRestart, 'the restart came after the run').to.be.below(before.ids.length);

    const after = (await host('producer', '50', '400').result) as { ids: string[] };
    const ids = [...before.ids, ...after.ids];
    try {
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE status = 'SUCCESS'`)) === ids.length, { timeoutMs: 120_000, what: 'every job to succeed after the restart' });
    } catch (err) {
      throw new Error(`${(err as Error).message}; worker stderr: ${worker.stderr().slice(-3000)}`);
    }
    expect(worker.child.exitCode, 'the worker process ended').to.equal(null);
    const starts = runLog(t.logDir).filter(([, what]) => what === 'start').map(([id]) => id);
    expect(starts.length, 'runs (a job ran twice?)').to.equal(ids.length);
    expect(new Set(starts)).to.deep.equal(new Set(ids));
    expect(await count(`SELECT count(*) AS n FROM S.jobs WHERE q_state IS NOT NULL OR attempts <> 1`), 'jobs left queued or run more than once').to.equal(0);
    worker.child.kill('SIGTERM');
    await worker.result;
  });
});
