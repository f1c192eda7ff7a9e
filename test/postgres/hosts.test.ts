/**
 * Many hosts on one PostgreSQL database, as real processes with their own connections: 3 workers and
 * 2 producers run 5,000 jobs once each; a worker SIGKILLed mid-job leaves its jobs to another after
 * the lease; a worker whose connections are cut (pg_terminate_backend) reconnects and loses nothing;
 * two schedulers racing on an every-second schedule make one job per fire time.
 */
import { expect } from 'chai';
import { waitFor } from '../helpers/tmp.ts';
import { client as pgClient, requirePostgres } from './helpers.ts';
import { runLog, useHosts } from './host-process.ts';

describe('postgres: many hosts', function () {
  this.timeout(240_000);
  requirePostgres();
  const t = useHosts();
  const host = (role: string, ...args: string[]) => t.host(role, args);
  const { count, stop } = t;

  it('3 worker processes and 2 producer processes run 5,000 jobs, each exactly once', async () => {
    const workers = [host('worker', '8'), host('worker', '8'), host('worker', '8')];
    await Promise.all(workers.map((w) => w.ready));
    const producers = [host('producer', '2500', '0'), host('producer', '2500', '2500')];
    const ids = ((await Promise.all(producers.map((p) => p.result))) as Array<{ ids: string[] }>).flatMap((r) => r.ids);
    expect(new Set(ids).size).to.equal(5000);
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE status = 'SUCCESS'`)) === 5000, { timeoutMs: 150_000, what: '5,000 jobs to succeed' });
    expect(await count(`SELECT count(*) AS n FROM S.jobs WHERE q_state IS NOT NULL`), 'jobs left in the queue').to.equal(0);
    const starts = runLog(t.logDir).filter(([, what]) => what === 'start');
    expect(starts.length, 'runs (a job ran twice?)').to.equal(5000);
    expect(new Set(starts.map(([id]) => id))).to.deep.equal(new Set(ids));
    expect(new Set(starts.map(([, , pid]) => pid)).size, 'more than one worker process took part').to.be.greaterThan(1);
    await Promise.all(workers.map(stop));
    // Nothing of the driver leaks to the user's terminal (a query queued on a busy pg client warned once).
    for (const w of workers) expect(w.stderr()).not.to.match(/Warning/);
  });

  it('a worker SIGKILLed mid-job: its jobs finish on another worker after the lease', async () => {
    const a = host('worker', '2');
    await a.ready;
    const producer = host('producer', '6', '0', '2000');
    const { ids } = (await producer.result) as { ids: string[] };
    const aPid = a.child.pid!;
    await waitFor(() => runLog(t.logDir).some(([, what, pid]) => what === 'start' && pid === aPid), { timeoutMs: 30_000, what: 'worker A to start a job' });
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));
    const startedOnA = new Set(runLog(t.logDir).filter(([, what, pid]) => what === 'start' && pid === aPid).map(([id]) => id));
    const b = host('worker', '2');
    await b.ready;
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE status = 'SUCCESS'`)) === ids.length, { timeoutMs: 60_000, what: 'every job to succeed after the kill' });
    const log = runLog(t.logDir);
    for (const id of ids) expect(log.some(([i, what]) => i === id && what === 'end'), `job ${id} never ended`).to.equal(true);
    const cutShort = [...startedOnA].filter((id) => !log.some(([i, what, pid]) => i === id && what === 'end' && pid === aPid));
    expect(cutShort.length, 'jobs A was running when killed').to.be.greaterThan(0);
    for (const id of cutShort) {
      expect(log.some(([i, what, pid]) => i === id && what === 'end' && pid === b.child.pid), `job ${id} did not finish on worker B`).to.equal(true);
    }
    expect(await count(`SELECT count(*) AS n FROM S.jobs WHERE id = ANY($1) AND attempts >= 2`, [cutShort])).to.equal(cutShort.length);
    await stop(b);
  });

  it('a worker whose connections are cut (pg_terminate_backend) mid-run reconnects, and no job is lost', async () => {
    const w = host('worker', '4');
    await w.ready;
    const producer = host('producer', '300', '0');
    const { ids } = (await producer.result) as { ids: string[] };
    await waitFor(() => runLog(t.logDir).filter(([, what]) => what === 'end').length >= 20, { timeoutMs: 60_000, what: 'the worker to be mid-run' });
    const cut = await count(`SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1`, [`nuvom:${w.child.pid}`]);
    expect(cut, 'connections cut').to.be.greaterThan(0);
    try {
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE status = 'SUCCESS'`)) === ids.length, { timeoutMs: 90_000, what: 'every job to succeed after the cut' });
    } catch (err) {
      const c = await pgClient();
      const states = (await c.query(`SELECT status, q_state, count(*) FROM "${t.schema}".jobs GROUP BY 1, 2`)).rows;
      await c.end();
      throw new Error(`${(err as Error).message}; rows by status/q_state ${JSON.stringify(states)}; worker stderr: ${w.stderr().slice(-3000)}`);
    }
    expect(w.child.exitCode, 'the worker process ended').to.equal(null);
    const ended = new Set(runLog(t.logDir).filter(([, what]) => what === 'end').map(([id]) => id));
    expect(ended).to.deep.equal(new Set(ids));
    await stop(w);
  });

  it('two schedulers racing on an every-second schedule make one job per fire time', async () => {
    const scheduler = host('scheduler');
    await scheduler.ready;
    const c = await pgClient();
    const first = Date.now() + 1000;
    try {
      // The schedule row as the scheduler stores it (keyed), due in a second.
      await c.query(`INSERT INTO "${t.schema}".schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire, next_run_at, last_run_at, status, created_at)
        VALUES ('key:race', 'pgt.tick', $1, 0, $2, 'interval', 1, NULL, NULL, 'skip', $3, NULL, 'ACTIVE', $4)`,
      [Buffer.from([0x90]), JSON.stringify({ maxRetries: 0, retryDelaySecs: 1, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] }), first, Date.now()]);
    } finally {
      await c.end();
    }
    const other = host('scheduler');
    await other.ready;
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM S.jobs WHERE r_task_name = 'pgt.tick'`)) >= 5, { timeoutMs: 30_000, what: '5 fire times' });
    await Promise.all([stop(scheduler), stop(other)]);
    const db = await pgClient();
    try {
      const { rows } = await db.query(`SELECT id FROM "${t.schema}".jobs WHERE r_task_name = 'pgt.tick' ORDER BY id`);
      const fires = rows.map((r) => Date.parse(String(r.id).slice('key:race:'.length)));
      expect(new Set(fires).size, 'one job per fire time').to.equal(fires.length);
      for (let i = 1; i < fires.length; i++) expect(fires[i] - fires[i - 1], `fire ${i} is not one second after the one before`).to.equal(1000);
      const holds = await db.query(`SELECT count(*) AS n FROM "${t.schema}".schedules WHERE status = 'HELD'`);
      expect(Number(holds.rows[0].n), 'unsettled holds').to.equal(0);
    } finally {
      await db.end();
    }
    expect(scheduler.stderr() + other.stderr()).not.to.match(/DUPLICATE/);
  });
});
