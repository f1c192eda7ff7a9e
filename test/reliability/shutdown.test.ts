/**
 * SIGTERM on a busy `nuvom runworker`: running jobs finish within the drain period, or go back to the
 * queue when they outlive it (or on a second signal); the process exits 0; after a restart every job
 * ends SUCCESS and nothing is left RUNNING.
 */
import path from 'node:path';
import { expect } from 'chai';
import type { Client } from '../../sdk/index.ts';
import {
  allRecords, cleanupTempProjects, duplicateAttempts, effectsByJob, enqueueMany, exited, killAll, nuvom, openClient, project,
  readEffects, runNuvom, waitFor,
} from './helpers.ts';

const TASKS = `
export const short = task({ name: 'short' }, async (ms) => { effect(); await sleep(ms); return ms; });
// Ignores its abort signal; only its first attempt is long.
export const stubborn = task({ name: 'stubborn' }, async (ms) => { const j = effect(); if (j.attempt === 1) await sleep(ms); return j.attempt; });
`;
const TASK_LIST = [{ name: 'short' }, { name: 'stubborn' }];

describe('reliability: SIGTERM on a busy worker', function () {
  this.timeout(120_000);
  let client: Client | undefined;
  afterEach(async () => {
    await killAll();
    await client?.close();
    client = undefined;
  });
  after(cleanupTempProjects);

  async function busyWorker(task: string, ms: number, queued: number, drainSecs: number) {
    const dir = project(TASKS, TASK_LIST);
    client = await openClient(dir);
    const ids = await enqueueMany(client, task, Array.from({ length: 4 + queued }, () => [ms]));
    const w = nuvom(dir, ['runworker', '--threads', '2', '--concurrency', '2', '--drain-secs', String(drainSecs)]);
    await waitFor(() => readEffects(dir).length >= 4, { timeoutMs: 30_000, what: '4 jobs to be running' });
    return { dir, ids, w, c: client };
  }

  async function restartAndFinish(dir: string, c: Client, ids: string[]) {
    const r = await runNuvom(dir, ['runworker', '--threads', '2', '--concurrency', '2', '--burst'], {}, 60_000);
    expect(r.code, r.err).to.equal(0);
    const records = await allRecords(c);
    expect(records.filter((x) => x.status !== 'SUCCESS').map((x) => `${x.id} ${x.status}`), 'jobs not SUCCESS after the restart').to.deep.equal([]);
    expect(records.map((x) => x.id).sort()).to.deep.equal([...ids].sort());
    expect(await c.kernel.resolve('queue').qsize()).to.equal(0);
    expect(duplicateAttempts(readEffects(dir))).to.deep.equal([]);
    return records;
  }

  it('lets running jobs finish within the drain period, exits 0, and leaves the rest queued', async () => {
    const { dir, ids, w, c } = await busyWorker('short', 1500, 6, 10);
    const running = new Set(readEffects(dir).map((e) => e.id));
    w.child.kill('SIGTERM');
    const r = await exited(w, 20_000, 'the worker');
    expect(r.code, w.err).to.equal(0);
    expect(r.ms, 'it waited for the running jobs, not the drain limit').to.be.below(8000);
    expect(w.err).to.match(/SIGTERM: draining/);
    for (const id of running) expect(await c.getJob(id), `running job ${id}`).to.include({ status: 'SUCCESS', attempts: 1 });
    const after = await allRecords(c);
    expect(after.filter((x) => x.status === 'RUNNING'), 'RUNNING after the worker stopped').to.deep.equal([]);
    expect(after.filter((x) => x.status === 'PENDING')).to.have.length(ids.length - running.size);

    await restartAndFinish(dir, c, ids);
    const runs = effectsByJob(readEffects(dir));
    expect(ids.filter((id) => runs.get(id)?.length !== 1), 'jobs that did not run exactly once').to.deep.equal([]);
  });

  it('counts only attempts that ran: a job claimed ahead but never started and given back on SIGTERM keeps its attempt count', async () => {
    const { dir, ids, w, c } = await busyWorker('short', 1500, 6, 10);
    w.child.kill('SIGTERM');
    expect((await exited(w, 20_000, 'the worker')).code).to.equal(0);
    const records = await restartAndFinish(dir, c, ids);
    const runs = effectsByJob(readEffects(dir));
    // The attempt count is what retries are budgeted against (attempts <= maxRetries), so it must
    // count runs, not claims: otherwise each graceful restart eats into a job's retries.
    expect(records.filter((r) => r.attempts !== runs.get(r.id)?.length).map((r) => `${r.id}: attempts=${r.attempts}, ran ${runs.get(r.id)?.length}`)).to.deep.equal([]);
  });

  it('returns jobs that outlive the drain period to the queue; they run again after a restart', async () => {
    const { dir, ids, w, c } = await busyWorker('stubborn', 60_000, 0, 1);
    w.child.kill('SIGTERM');
    const r = await exited(w, 20_000, 'the worker');
    expect(r.code, w.err).to.equal(0);
    expect(r.ms, 'drain (1 s) plus the abort grace period (1 s), not the 60 s jobs').to.be.below(6000);
    const after = await allRecords(c);
    expect(after.map((x) => x.status), 'back in the queue, none RUNNING').to.deep.equal(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
    expect(await c.kernel.resolve('queue').qsize()).to.equal(4);

    const records = await restartAndFinish(dir, c, ids);
    expect(records.map((x) => x.attempts)).to.deep.equal([2, 2, 2, 2]);
  });

  it('stops at once on a second SIGTERM, giving running jobs back to the queue', async () => {
    const { dir, ids, w, c } = await busyWorker('stubborn', 60_000, 0, 60);
    w.child.kill('SIGTERM');
    await waitFor(() => w.err.includes('draining'), { what: 'the drain to begin' });
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    const r = await exited(w, 20_000, 'the worker');
    expect(r.code, w.err).to.equal(0);
    expect(Date.now() - t0, 'well before the 60 s drain period').to.be.below(6000);
    expect(w.err).to.match(/forcing stop/);
    expect((await allRecords(c)).filter((x) => x.status === 'RUNNING')).to.deep.equal([]);
    await restartAndFinish(dir, c, ids);
  });

  it('after a SIGKILL and a restart, leaves nothing RUNNING: every job ends SUCCESS', async () => {
    const dir = project(TASKS, TASK_LIST);
    const env = { NUVOM_VISIBILITY_TIMEOUT_SECS: '1' };
    client = await openClient(dir, env);
    const ids = await enqueueMany(client, 'stubborn', Array.from({ length: 4 }, () => [60_000]));
    const w = nuvom(dir, ['runworker', '--threads', '2', '--concurrency', '2'], env);
    await waitFor(() => readEffects(dir).length >= 4, { timeoutMs: 30_000, what: '4 jobs to be running' });
    w.child.kill('SIGKILL');
    await exited(w, 10_000, 'the worker');
    expect((await allRecords(client)).map((x) => x.status)).to.deep.equal(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
    // A burst run takes only what is claimable now: the dead worker's jobs once their leases expired.
    const leasedUntil = await leaseExpiry(dir);
    await waitFor(() => Date.now() > leasedUntil, { timeoutMs: 10_000, what: 'the dead worker\'s leases to expire' });
    const records = await (async () => {
      const r = await runNuvom(dir, ['runworker', '--threads', '2', '--burst'], env, 60_000);
      expect(r.code, r.err).to.equal(0);
      return allRecords(client!);
    })();
    expect(records.map((x) => `${x.status} ${x.attempts}`)).to.deep.equal(['SUCCESS 2', 'SUCCESS 2', 'SUCCESS 2', 'SUCCESS 2']);
    expect(records.map((x) => x.id).sort()).to.deep.equal([...ids].sort());
  });
});

/** The latest lease expiry (ms) in the project's SQLite queue. */
async function leaseExpiry(dir: string): Promise<number> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dir, '.nuvom/nuvom.db'), { readonly: true });
  try {
    return (db.prepare("SELECT MAX(lease_expires_at) FROM nuvom_jobs WHERE state = 'leased'").pluck().get() as number | null) ?? 0;
  } finally {
    db.close();
  }
}
