/**
 * On PostgreSQL a fire time is claimed and its job enqueued in one transaction: a scheduler process
 * SIGKILLed mid-fire (its job written, the transaction not committed) leaves every schedule due and
 * no job, no hold; the next scheduler fires each time exactly once, at once (no 30 s hold to wait for).
 */
import { expect } from 'chai';
import { waitFor } from '../helpers/tmp.ts';
import { requirePostgres } from './helpers.ts';
import { useHosts } from './host-process.ts';

const OPTIONS = JSON.stringify({ maxRetries: 0, retryDelaySecs: 1, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] });
const ONE_OFFS = 30;

describe('postgres: a scheduler killed mid-fire', function () {
  this.timeout(120_000);
  requirePostgres();
  const t = useHosts();
  const host = (env: NodeJS.ProcessEnv = {}) => t.host('scheduler', [], env);
  const { rows } = t;

  it('leaves every fire time due and no job, and the next scheduler makes each job exactly once', async () => {
    const killed = host({ NUVOM_TEST_SCHEDULER_KILL: 'after-enqueue' });
    await killed.ready; // connected, schema migrated
    const at = Date.now() + 500;
    const ids = Array.from({ length: ONE_OFFS }, (_, i) => `once-${i}`);
    // One commit: the scheduler sees all of them due in one pass, and dies after its first enqueue.
    await rows(`INSERT INTO S.schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire, next_run_at, last_run_at, status, created_at)
      SELECT id, 'pgt.tick', $2, 0, $3, 'once', NULL, NULL, NULL, 'skip', $4::int8 + n, NULL, 'ACTIVE', $4
        FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)`, [ids, Buffer.from([0x90]), OPTIONS, at]);
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => killed.child.once('exit', (_code, signal) => resolve(signal)));
    expect(exit, `the scheduler was not killed mid-fire: ${killed.stderr().slice(-2000)}`).to.equal('SIGKILL');

    // The server rolled the open transaction back: no job, no hold, every one-off still due at its time.
    expect(await rows(`SELECT id FROM S.jobs`), 'jobs of the killed transaction').to.deep.equal([]);
    const left = await rows(`SELECT id, status, next_run_at FROM S.schedules ORDER BY id`);
    expect(left.filter((r) => r.status !== 'ACTIVE'), 'schedules not ACTIVE (a hold, or a claim that committed)').to.deep.equal([]);
    expect(left.map((r) => Number(r.next_run_at)).sort((a, b) => a - b)).to.deep.equal(ids.map((_, i) => at + i + 1));

    const next = host();
    await next.ready;
    await waitFor(async () => (await rows(`SELECT count(*) AS n FROM S.jobs`))[0].n === String(ONE_OFFS), { timeoutMs: 60_000, what: `${ONE_OFFS} jobs from the restarted scheduler` });
    next.child.kill('SIGTERM');
    await next.result;
    const jobs = (await rows(`SELECT id FROM S.jobs`)).map((r) => String(r.id)).sort();
    const expected = ids.map((id, i) => `${id}:${new Date(at + i + 1).toISOString()}`).sort();
    expect(jobs).to.deep.equal(expected);
    expect((await rows(`SELECT count(*) AS n FROM S.schedules WHERE status <> 'DONE'`))[0].n, 'schedules not DONE').to.equal('0');
    expect(next.stderr(), 'the restarted scheduler recovered a hold').not.to.match(/claimed but its job not enqueued/);
  });

  it('with a pool of one connection fires through holds instead (the enqueue needs a second connection)', async () => {
    const one = host({ NUVOM_POSTGRES_POOL_SIZE: '1' });
    await one.ready;
    const at = Date.now() + 300;
    await rows(`INSERT INTO S.schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire, next_run_at, last_run_at, status, created_at)
      SELECT id, 'pgt.tick', $2, 0, $3, 'once', NULL, NULL, NULL, 'skip', $4::int8, NULL, 'ACTIVE', $4 FROM unnest($1::text[]) AS u(id)`, [['a', 'b', 'c'], Buffer.from([0x90]), OPTIONS, at]);
    await waitFor(async () => (await rows(`SELECT count(*) AS n FROM S.jobs`))[0].n === '3', { timeoutMs: 30_000, what: '3 jobs from a scheduler with a pool of one' });
    one.child.kill('SIGTERM');
    await one.result;
    expect((await rows(`SELECT id FROM S.jobs`)).map((r) => String(r.id)).sort()).to.deep.equal(['a', 'b', 'c'].map((id) => `${id}:${new Date(at).toISOString()}`));
  });
});
