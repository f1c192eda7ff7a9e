/**
 * Crashes with real processes and real SIGKILL: a worker killed in the middle of jobs (its jobs come
 * back once their leases expire and finish on another worker, one side effect per attempt), a worker
 * paused past its lease (SIGSTOP), and a producer killed in the middle of a 20,000-job map().
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import { keyOfId, parseName } from '../../builtin-plugins/file/names.ts';
import {
  LONG, FUZZ_SEED, allRecords, cleanupTempProjects, duplicateAttempts, effectsByJob, enqueueMany, exited, killAll,
  nuvom, openClient, prng, project, readEffects, runNuvom, spawnNode, waitFor, type Proc,
} from './helpers.ts';

const TASKS = `
export const slow = task({ name: 'slow' }, async (ms) => { effect(); await sleep(ms); return ms; });
// Attempt 1 fails late (after a pause longer than the lease); later attempts succeed at once.
export const lateFail = task({ name: 'lateFail', retries: 3, retryDelaySecs: 0.05 }, async (ms) => {
  const j = effect();
  if (j.attempt === 1) { await sleep(ms); throw new Error('attempt 1 failed late'); }
  return j.attempt;
});
export const ping = task({ name: 'ping' }, async () => 'pong');
export const bulk = task({ name: 'bulk' }, async (i) => i);
`;
const TASK_LIST = [{ name: 'slow' }, { name: 'lateFail', options: { retries: 3, retryDelaySecs: 0.05 } }, { name: 'ping' }, { name: 'bulk' }];

const MAPPER = `import { getDefaultClient } from 'nuvom';
import { bulk, ping } from './tasks.mjs';
const n = Number(process.argv[2]);
const client = await getDefaultClient();
await ping.delay(); // opens the database first, so the kill lands in the batch, not in start-up
process.stdout.write('go\\n');
await bulk.map(Array.from({ length: n }, (_, i) => [i]));
process.stdout.write('done\\n');
await client.close();
`;

type Backend = 'sqlite' | 'file';
const ENV: Record<Backend, Record<string, string>> = {
  sqlite: {},
  file: { NUVOM_QUEUE_BACKEND: 'file', NUVOM_RESULT_BACKEND: 'file' },
};
const LEASE_SECS = '1.5';

/** When each leased job's lease runs out, read from the backend's own storage (not through nuvom). */
function leaseExpiries(dir: string, backend: Backend, ids: string[]): Map<string, number> {
  const out = new Map<string, number>();
  if (backend === 'sqlite') {
    const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
    try {
      for (const r of db.prepare("SELECT id, lease_expires_at FROM nuvom_jobs WHERE state = 'leased'").all() as Array<{ id: string; lease_expires_at: number }>) {
        out.set(r.id, r.lease_expires_at);
      }
    } finally {
      db.close();
    }
    return out;
  }
  const byKey = new Map(ids.map((id) => [keyOfId(id), id]));
  for (const name of readdirSync(path.join(dir, '.nuvom/queue/leased'))) {
    const n = parseName(name);
    const id = n && byKey.get(n.key);
    if (id && n.lease) out.set(id, n.lease.expiresAt);
  }
  return out;
}

describe('reliability: crashes (real processes, SIGKILL)', function () {
  this.timeout(LONG ? 900_000 : 120_000);
  const clients: Client[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(cleanupTempProjects);

  for (const backend of ['sqlite', 'file'] as const) {
    it(`finishes every job of a SIGKILLed worker after its lease expires, one side effect per attempt (${backend})`, async () => {
      const dir = project(TASKS, TASK_LIST);
      const env = { ...ENV[backend], NUVOM_VISIBILITY_TIMEOUT_SECS: LEASE_SECS };
      const client = await openClient(dir, env);
      clients.push(client);
      const n = LONG ? 300 : 40;
      const ids = await enqueueMany(client, 'slow', Array.from({ length: n }, () => [400]));

      const a = nuvom(dir, ['runworker', '--threads', '2', '--concurrency', '4'], env);
      // Mid-run: some jobs done, others running.
      await waitFor(async () => readEffects(dir).length >= 12 && (await client.stats()).byStatus.SUCCESS >= 2, { timeoutMs: 60_000, what: 'worker A to be mid-run' });
      a.child.kill('SIGKILL');
      const killed = await exited(a, 10_000, 'worker A');
      expect(killed.signal).to.equal('SIGKILL');

      const orphaned = (await allRecords(client)).filter((r) => r.status === 'RUNNING').map((r) => r.id);
      expect(orphaned.length, 'the kill hit running jobs').to.be.greaterThan(0);
      const expiries = leaseExpiries(dir, backend, ids);
      for (const id of orphaned) expect(expiries.get(id), `job ${id} is still leased to the dead worker`).to.be.a('number');

      // Not --burst: a burst run ends once nothing is ready now, and the dead worker's jobs are not
      // ready until their leases expire (docs/workers.md), so a fast worker B could end first. B runs
      // until every job is settled, then stops on SIGTERM.
      const b = nuvom(dir, ['runworker', '--threads', '2', '--concurrency', '4'], env);
      await waitFor(async () => (await allRecords(client)).every((r) => r.status === 'SUCCESS' || r.status === 'FAILED'), { timeoutMs: 90_000, what: 'worker B to settle every job' });
      b.child.kill('SIGTERM');
      const done = await exited(b, 30_000, 'worker B');
      expect(done.code, b.err).to.equal(0);

      const records = await allRecords(client);
      expect(records).to.have.length(n);
      expect(records.filter((r) => r.status !== 'SUCCESS').map((r) => `${r.id} ${r.status}`)).to.deep.equal([]);
      expect(await client.kernel.resolve('queue').qsize()).to.equal(0);

      const effects = readEffects(dir);
      expect(duplicateAttempts(effects), 'an attempt ran twice').to.deep.equal([]);
      const byJob = effectsByJob(effects);
      for (const r of records) {
        const mine = (byJob.get(r.id) ?? []).sort((x, y) => x.attempt - y.attempt);
        // The attempt that succeeded is the record's last one, and it ran exactly once.
        expect(mine.map((e) => e.attempt), `job ${r.id}`).to.include(r.attempts);
        expect(Math.max(...mine.map((e) => e.attempt)), `job ${r.id}`).to.equal(r.attempts);
      }
      for (const id of orphaned) {
        const rec = records.find((r) => r.id === id)!;
        expect(rec.attempts, `job ${id} was redelivered`).to.be.greaterThan(1);
        const last = byJob.get(id)!.find((e) => e.attempt === rec.attempts)!;
        expect(last.pid, `job ${id} finished on worker B`).to.equal(b.pid);
        // Never redelivered while the dead worker's lease still held.
        expect(last.at, `job ${id} ran again before its lease expired`).to.be.at.least(expiries.get(id)!);
        // Not starved behind the queue: once its lease expired it was next in line (lowest seq), so
        // from that moment worker B started at most what it held (8 slots, 10 claimed ahead) and the
        // other orphans before it. Counted from the expiry (what B ran while the lease held is no
        // starvation, and a quiet machine runs more of it), not timed: a wall-clock bound fails on a
        // loaded machine (long mode).
        const expiredAt = expiries.get(id)!;
        const startedBefore = effects.filter((e) => e.pid === b.pid && e.at >= expiredAt && e.at < last.at).length;
        expect(startedBefore, `job ${id} came back after ${startedBefore} other jobs of worker B`).to.be.at.most(8 + 10 + orphaned.length);
      }
    });
  }

  it('does not let a worker paused past its lease (SIGSTOP) overwrite the outcome of the worker that took over', async () => {
    const dir = project(TASKS, TASK_LIST);
    const env = { NUVOM_VISIBILITY_TIMEOUT_SECS: LEASE_SECS };
    const client = await openClient(dir, env);
    clients.push(client);
    const [id] = await enqueueMany(client, 'lateFail', [[2500]], { retries: 3, retryDelaySecs: 0.05 });
    const a = nuvom(dir, ['runworker', '--threads', '1'], env);
    await waitFor(() => readEffects(dir).length === 1, { timeoutMs: 30_000, what: 'attempt 1 to start on worker A' });
    a.child.kill('SIGSTOP');
    try {
      // Not --burst: a burst run ends when nothing is ready now, and A's job is leased, not ready,
      // until A's lease expires. B runs until it has taken the job over and finished it.
      const b = nuvom(dir, ['runworker', '--threads', '1'], env);
      try {
        await waitFor(async () => (await client.getJob(id))?.status === 'SUCCESS', { timeoutMs: 60_000, what: 'worker B to take the job over and finish it' });
      } finally {
        b.child.kill('SIGTERM');
      }
      expect((await exited(b, 30_000, 'worker B')).code).to.equal(0);
      expect(await client.getJob(id)).to.include({ status: 'SUCCESS', attempts: 2 });
    } finally {
      a.child.kill('SIGCONT');
    }
    // Worker A wakes up with its lease gone; SIGTERM drains it, so its attempt 1 fails late and A
    // records whatever it records before it exits.
    a.child.kill('SIGTERM');
    expect((await exited(a, 30_000, 'worker A')).code).to.equal(0);
    expect(await client.getJob(id), 'the outcome of the attempt that held the lease stands').to.include({ status: 'SUCCESS', attempts: 2, result: 2 });
  });

  describe('a producer SIGKILLed during map()', () => {
    const n = 20_000;

    function counts(dir: string): { queued: number; records: number; integrity: string } {
      const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
      try {
        return {
          queued: db.prepare("SELECT COUNT(*) FROM nuvom_jobs WHERE state IS NOT NULL AND task_name = 'bulk'").pluck().get() as number,
          records: db.prepare("SELECT COUNT(*) FROM nuvom_jobs WHERE status IS NOT NULL AND task_name = 'bulk'").pluck().get() as number,
          integrity: db.prepare('PRAGMA integrity_check').pluck().get() as string,
        };
      } finally {
        db.close();
      }
    }

    async function startMapper(): Promise<{ dir: string; p: Proc }> {
      const dir = project(TASKS, TASK_LIST, { 'mapper.mjs': MAPPER });
      const p = spawnNode(['mapper.mjs', String(n)], { cwd: dir });
      await waitFor(() => p.out.includes('go\n') || p.child.exitCode !== null, { timeoutMs: 30_000, what: 'the producer to start' });
      expect(p.out, p.err).to.include('go\n');
      return { dir, p };
    }

    const rnd = prng(FUZZ_SEED);
    for (let run = 0; run < (LONG ? 8 : 1); run++) {
      const delayMs = Math.floor(rnd() * 2500);
      it(`leaves the whole batch or none of it in the queue (killed ${delayMs} ms into map())`, async () => {
        const { dir, p } = await startMapper();
        await new Promise((resolve) => setTimeout(resolve, delayMs)); // the kill time is the variable under test
        p.child.kill('SIGKILL');
        await exited(p, 10_000, 'the producer');
        const c = counts(dir);
        expect(c.integrity).to.equal('ok');
        expect([0, n], `queued jobs after the kill (records: ${c.records})`).to.include(c.queued);
      });
    }

    it('leaves the whole batch or none of it in the queue when killed just after the records were written', async () => {
      const { dir, p } = await startMapper();
      // The records are written in one transaction before the queue's: kill as soon as they show.
      const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
      try {
        const count = db.prepare("SELECT COUNT(*) FROM nuvom_jobs WHERE status IS NOT NULL AND task_name = 'bulk'").pluck();
        await waitFor(() => (count.get() as number) > 0 || p.child.exitCode !== null, { timeoutMs: 60_000, what: 'the records to be written' });
      } finally {
        db.close();
      }
      p.child.kill('SIGKILL');
      await exited(p, 10_000, 'the producer');
      const c = counts(dir);
      expect(c.integrity).to.equal('ok');
      expect([0, n], `queued jobs after the kill (records: ${c.records})`).to.include(c.queued);
      // Whatever the kill left, `nuvom doctor` accounts for it: every record either has its job queued,
      // or is reported as orphaned (see doctor.test.ts for --fix).
      const doc = await runNuvom(dir, ['doctor', '--json', '--grace-secs', '0'], {}, 60_000);
      const report = JSON.parse(doc.out) as { checks: Array<{ check: string; level: string; data?: { count?: number } }> };
      const orphans = report.checks.find((x) => x.check === 'orphaned-jobs')!;
      if (c.records > c.queued) expect(orphans).to.deep.include({ level: 'FAIL' }).and.to.have.nested.property('data.count', c.records - c.queued);
      else expect(orphans.level).to.equal('ok');
    });
  });
});
