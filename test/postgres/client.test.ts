/**
 * nuvom on PostgreSQL from an application: jobs run on real worker threads, enqueue inside the app's
 * own transaction, migrations, `nuvom migrate`, the clear errors, and an app on SQLite never loading pg.
 */
import { expect } from 'chai';
import pg from 'pg';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, inTransaction, isNuvomError, type Client } from '../../sdk/index.ts';
import { PgDb } from '../../builtin-plugins/postgres/db.ts';
import { LATEST, schemaVersion } from '../../builtin-plugins/postgres/schema.ts';
import { PgQueue } from '../../builtin-plugins/postgres/queue.ts';
import { memoryLogger, REPO_ROOT, tempProject, waitFor } from '../helpers/tmp.ts';
import { definePlugin } from '../../sdk/plugin.ts';
import { add, failOnce, mark } from './fixtures/tasks.ts';
import { client as pgClient, dropSchema, PG_URL, requirePostgres, schemaName, settingsFor } from './helpers.ts';

const run = promisify(execFile);

async function expectCode(p: Promise<unknown>, code: string, text?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(isNuvomError(err), String(err)).to.equal(true);
    expect((err as { code: string }).code, (err as Error).message).to.equal(code);
    if (text) expect((err as Error).message).to.match(text);
    return err as Error;
  }
  throw new Error(`expected ${code}, but it resolved`);
}

describe('postgres: an application on PostgreSQL', function () {
  this.timeout(60_000);
  requirePostgres();
  const schema = schemaName();
  let client: Client;
  const saved = { ...process.env };

  before(async function () {
    if (this.currentTest?.isPending()) return;
    const { logger } = memoryLogger();
    client = await createClient({ cwd: tempProject(), env: {}, logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', visibilityTimeoutSecs: 5, postgresUrl: PG_URL, postgresSchema: schema } });
  });
  after(async () => {
    await client?.close();
    process.env = saved;
    await dropSchema(schema).catch(() => undefined);
  });

  it('close() with enqueues still waiting for a connection answers every one of them, and each answered job is stored', async () => {
    const { logger } = memoryLogger();
    const other = await createClient({ cwd: tempProject(), env: {}, logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } });
    await other.getJob('warm-up');
    // More enqueues at once than the pool has connections (10): most wait in the pool's queue when close() comes.
    const calls = Array.from({ length: 50 }, (_, i) => other.enqueue('pgt.mark', [i]).then((h) => h.id, (err: unknown) => err as Error));
    await other.close();
    const answers = await Promise.all(calls);
    const ids = answers.filter((a): a is string => typeof a === 'string');
    for (const a of answers) if (typeof a !== 'string') expect(isNuvomError(a), String(a)).to.equal(true);
    const c = await pgClient();
    try {
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM "${schema}".jobs WHERE id = ANY($1)`, [ids]);
      expect(rows[0].n).to.equal(ids.length);
    } finally {
      await c.end();
    }
    await client.kernel.resolve('queue').clear();
  });

  it('on stop, gives the jobs it claimed ahead back to the queue in their place, no attempt spent, and no lease left', async () => {
    const handles = await mark.map(Array.from({ length: 200 }, (_, i) => [i, 5]));
    const worker = await client.startWorker({ threads: 1, concurrency: 2, drainMs: 200 });
    await waitFor(async () => (await client.getJob(handles[0]!.id))?.status === 'SUCCESS', { what: 'the first job to succeed' });
    await worker.stop();
    const q = client.kernel.resolve('queue');
    const counts = await q.counts();
    expect(counts.leased, 'jobs left under the stopped worker\'s lease').to.equal(0);
    const records = await Promise.all(handles.map((h) => client.getJob(h.id)));
    const pending = records.filter((r) => r!.status === 'PENDING');
    expect(pending.length, 'jobs given back').to.be.greaterThan(100);
    expect(counts.ready).to.equal(pending.length);
    for (const r of pending) expect(r!.attempts, `attempts of ${r!.id}`).to.equal(0);
    // In their place: the next claim takes the oldest of them first.
    const next = await client.kernel.resolve('jobStore').claim({ max: 1, workerId: 'w-next', leaseMs: 30_000 });
    const firstPending = handles.find((h) => pending.some((r) => r!.id === h.id))!;
    expect(next.map((j) => [j.id, j.attempts])).to.deep.equal([[firstPending.id, 1]]);
    await q.clear();
  });

  it('runs a delayed job on a worker thread and result() returns its value', async () => {
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const handle = await add.delay(20, 22);
      expect(await handle.result({ timeoutSecs: 30 })).to.equal(42);
      const rec = await client.getJob(handle.id);
      expect(rec?.status).to.equal('SUCCESS');
      expect(rec?.history?.map((h) => h.outcome)).to.deep.equal(['SUCCESS']);
      const q = client.kernel.resolve('queue');
      expect(await q.get(handle.id), 'a finished job left the queue').to.equal(null);
    } finally {
      await worker.stop();
    }
  });

  it('fires jobSucceeded only once the SUCCESS record is committed: a tap reading it, on another connection, sees SUCCESS every time', async () => {
    const seen: Promise<string | undefined>[] = [];
    const reader = definePlugin({
      name: 'reader', apiVersion: 1,
      register(ctx) {
        ctx.hooks.jobSucceeded.tap('reader', (e) => {
          seen.push(pgClient().then(async (db) => {
            try {
              const { rows } = await db.query<{ status: string }>(`SELECT status FROM "${schema}".jobs WHERE id = $1`, [e.jobId]);
              return rows[0]?.status;
            } finally {
              await db.end();
            }
          }));
        });
      },
    });
    const own = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, plugins: [reader], config: { queueBackend: 'postgres', resultBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } });
    const worker = await own.startWorker({ threads: 1, concurrency: 4 });
    try {
      const hs = await add.map(Array.from({ length: 20 }, (_, i) => [i, 1] as [number, number]));
      await Promise.all(hs.map((h) => h.result({ timeoutSecs: 30 })));
      await waitFor(() => seen.length === 20, { what: '20 jobSucceeded events' });
      expect(await Promise.all(seen)).to.deep.equal(Array(20).fill('SUCCESS'));
    } finally {
      await worker.stop();
      await own.close();
    }
  });

  it('map() of frozen argument lists stores each job with its own arguments, in the queue and in its record, and runs them', async () => {
    const lists = [Object.freeze([1, 2]), Object.freeze([3, 4]), Object.freeze([5, 6])] as unknown as Array<[number, number]>;
    const handles = await add.map(lists);
    const db = await pgClient();
    try {
      const { rows } = await db.query<{ id: string; args: Buffer; r_args: Buffer | null }>(`SELECT id, args, r_args FROM "${schema}".jobs WHERE id = ANY($1::text[])`, [handles.map((h) => h.id)]);
      // The record's arguments are the queued ones: stored once (no separate r_args copy).
      expect(rows.map((r) => r.r_args)).to.deep.equal([null, null, null]);
    } finally {
      await db.end();
    }
    for (const [i, h] of handles.entries()) expect((await client.getJob(h.id))!.args).to.deep.equal([...lists[i]]);
    const worker = await client.startWorker({ threads: 1, concurrency: 3 });
    try {
      expect(await Promise.all(handles.map((h) => h.result({ timeoutSecs: 20 })))).to.deep.equal([3, 7, 11]);
    } finally {
      await worker.stop();
    }
  });

  it('fractions of a millisecond (delaySecs 1 / 3, runAt in epoch ms, retryDelaySecs 0.0015, visibilityTimeoutSecs 30.0005) are stored, retried and claimed as on SQLite', async () => {
    // Run times are bigint columns: a fraction was a PostgreSQL error (22P02) at enqueue, an outcome
    // that could not be written (the job stuck RUNNING, delivered again at every lease expiry), or
    // every claim failing.
    const now = Date.now();
    const third = await add.enqueue({ args: [1, 1], delaySecs: 1 / 3 });
    const half = await add.enqueue({ args: [2, 2], runAt: now + 0.5 });
    const retried = await failOnce.enqueue({ args: [], retryDelaySecs: 0.0015 });
    expect(Date.parse((await client.getJob(third.id))!.nextRunAt!), 'a third of a second later').to.be.above(now + 333);
    expect((await client.getJob(half.id))?.status).to.equal('PENDING');
    const { logger } = memoryLogger();
    const fractional = await createClient({ cwd: tempProject(), env: {}, logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', visibilityTimeoutSecs: 30.0005, postgresUrl: PG_URL, postgresSchema: schema } });
    const worker = await fractional.startWorker({ threads: 1 });
    try {
      expect(await Promise.all([third, half].map((h) => fractional.result(h.id, { timeoutSecs: 30 })))).to.deep.equal([2, 4]);
      expect(await fractional.result(retried.id, { timeoutSecs: 30 })).to.equal(2);
      expect((await client.getJob(retried.id))?.history?.map((a) => a.outcome)).to.deep.equal(['RETRIED', 'SUCCESS']);
    } finally {
      await worker.stop();
      await fractional.close();
    }
  });

  it('delay() with an id of its own is a plain INSERT; with a caller-chosen id, the upsert (met again, no statement fails on the server)', async () => {
    // node-postgres's Query as the plugin loads it: its INSERT statements into the jobs table, by kind.
    const Query = createRequire(import.meta.url)('pg/lib/query.js') as { prototype: { submit: (...a: unknown[]) => unknown; handleError: (...a: unknown[]) => unknown } };
    const inserts: string[] = [];
    const failed: string[] = [];
    const submit = Query.prototype.submit;
    const handleError = Query.prototype.handleError;
    Query.prototype.submit = function (this: { text: string }, ...a: unknown[]) {
      if (/^INSERT INTO "[^"]+"\.jobs \(/.test(this.text)) inserts.push(this.text.includes('ON CONFLICT') ? 'upsert' : 'plain');
      return submit.apply(this, a);
    } as typeof submit;
    Query.prototype.handleError = function (this: { text: string }, err: unknown, ...a: unknown[]) {
      if (/^INSERT INTO "[^"]+"\.jobs \(/.test(this.text)) failed.push(`${(err as { code?: string }).code}`);
      return handleError.call(this, err, ...a);
    } as typeof handleError;
    try {
      await add.delay(1, 2);
      const key = `welcome-${Date.now()}`;
      await add.enqueue({ args: [1, 2], id: key });
      await expectCode(add.enqueue({ args: [3, 4], id: key }), 'NUVOM_E_DUPLICATE_JOB', /already/);
    } finally {
      Query.prototype.submit = submit;
      Query.prototype.handleError = handleError;
    }
    // (The duplicate is refused by the client's own check, before any INSERT: enqueue.test.ts covers the store's.)
    expect(inserts).to.deep.equal(['plain', 'upsert']);
    expect(failed, 'statements the server failed').to.deep.equal([]);
  });

  it('a schedule at a fraction of a millisecond (at: epoch ms + 0.5) is stored, at the next whole millisecond', async () => {
    // schedules.next_run_at is bigint: the fraction was a 22P02 error (NUVOM_E_STORAGE) on PostgreSQL, and SQLite took it.
    const at = Date.now() + 3_600_000 + 0.5;
    const h = await add.schedule({ at }, 1, 1);
    expect(Date.parse(h.nextRunAt!)).to.equal(Math.ceil(at));
    expect((await client.listSchedules()).find((s) => s.id === h.id)?.nextRunAt).to.equal(Math.ceil(at));
  });

  it('enqueue({ tx }) writes the job only when the application\'s transaction commits', async () => {
    const app = await pgClient();
    try {
      await app.query('BEGIN');
      const rolledBack = await add.enqueue({ args: [1, 1], tx: app });
      expect(await client.getJob(rolledBack.id), 'visible before the commit').to.equal(null);
      await app.query('ROLLBACK');
      expect(await client.getJob(rolledBack.id), 'a rolled back job exists').to.equal(null);

      await app.query('BEGIN');
      const kept = await inTransaction(app, () => add.map([[1, 2], [3, 4]]));
      const single = await inTransaction(app, () => add.delay(5, 6));
      expect(await client.getJob(kept[0].id)).to.equal(null);
      await app.query('COMMIT');
      expect((await client.getJob(kept[0].id))?.status).to.equal('PENDING');
      const worker = await client.startWorker({ threads: 1 });
      try {
        expect(await Promise.all([...kept, single].map((h) => h.result({ timeoutSecs: 30 })))).to.deep.equal([3, 7, 11]);
      } finally {
        await worker.stop();
      }
    } finally {
      await app.end();
    }
  });

  it('a job id enqueued twice is NUVOM_E_DUPLICATE_JOB in the backends\' words with details.jobId; twice in the app\'s transaction it says the transaction is aborted and how to go on', async () => {
    const id = `dup-${schema}`;
    await add.enqueue({ args: [1, 1], id });
    const err = await expectCode(add.enqueue({ args: [1, 1], id }), 'NUVOM_E_DUPLICATE_JOB', /is already in the queue \(PENDING\); give the job a new id/);
    expect((err as { details?: unknown }).details).to.deep.equal({ jobId: id });

    const app = await pgClient();
    try {
      await app.query('BEGIN');
      await add.enqueue({ args: [2, 2], id: `${id}-tx`, tx: app });
      // Queued by this very transaction (uncommitted, so nuvom's own lookup cannot see it): named all the same.
      const inTx = await expectCode(add.enqueue({ args: [2, 2], id: `${id}-tx`, tx: app }), 'NUVOM_E_DUPLICATE_JOB', new RegExp(`job id "${id}-tx" is already in the queue; .*aborted your transaction.*SAVEPOINT`));
      expect((inTx as { details?: unknown }).details).to.deep.equal({ jobId: `${id}-tx` });
      await app.query('ROLLBACK');
      // As the message says: a savepoint set before the enqueue keeps the transaction going.
      await app.query('BEGIN');
      const first = await add.enqueue({ args: [3, 3], id: `${id}-sp`, tx: app });
      await app.query('SAVEPOINT again');
      await expectCode(add.enqueue({ args: [3, 3], id: `${id}-sp`, tx: app }), 'NUVOM_E_DUPLICATE_JOB');
      await app.query('ROLLBACK TO SAVEPOINT again');
      await app.query('COMMIT');
      expect((await client.getJob(first.id))?.status).to.equal('PENDING');
    } finally {
      await app.end();
    }
  });

  it('enqueue({ tx }) through a client connected to another database says to connect it to nuvom\'s', async () => {
    const other = new URL(PG_URL);
    other.pathname = '/postgres';
    const app = new pg.Client({ connectionString: other.toString() });
    await app.connect();
    try {
      await app.query('BEGIN');
      const err = await expectCode(add.enqueue({ args: [1, 2], tx: app }), 'NUVOM_E_STORAGE_SCHEMA', new RegExp(`"${schema}.jobs" does not exist in the database the application's client is connected to; the tx client must connect to the database nuvom uses`));
      expect(err.message).to.contain(new URL(PG_URL).host);
    } finally {
      await app.query('ROLLBACK');
      await app.end();
    }
  });

  it('enqueue({ tx }) given a pg.Pool, whose queries run outside any transaction, is refused and enqueues nothing', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      const before = await client.kernel.resolve('queue').qsize();
      await expectCode(add.enqueue({ args: [1, 2], tx: pool }), 'NUVOM_E_TASK_INVALID', /pg\.Pool.*pool\.connect\(\).*nothing was enqueued/);
      await expectCode(inTransaction(pool, () => add.delay(1, 2)), 'NUVOM_E_TASK_INVALID', /pg\.Pool/);
      expect(await client.kernel.resolve('queue').qsize()).to.equal(before);
    } finally {
      await pool.end();
    }
  });

  it('enqueue({ tx }) given a pg client never connected, or closed, says so at once and enqueues nothing (it waited forever, or blamed a lost connection)', async () => {
    const before = await client.kernel.resolve('queue').qsize();
    const never = new pg.Client({ connectionString: PG_URL });
    await expectCode(add.enqueue({ args: [1, 2], tx: never }), 'NUVOM_E_TASK_INVALID', /is not connected: await client\.connect\(\) and client\.query\('BEGIN'\).*nothing was enqueued/);
    await expectCode(inTransaction(never, () => add.map([[1, 2], [3, 4]])), 'NUVOM_E_TASK_INVALID', /is not connected/);
    const closed = await pgClient();
    await closed.end();
    await expectCode(add.enqueue({ args: [1, 2], tx: closed }), 'NUVOM_E_TASK_INVALID', /was closed \(client\.end\(\)\).*nothing was enqueued/);
    expect(await client.kernel.resolve('queue').qsize()).to.equal(before);
  });

  it('enqueue({ tx }) in an application transaction that already failed says to roll it back (it was a bare PostgreSQL 25P02)', async () => {
    const app = await pgClient();
    try {
      await app.query('BEGIN');
      await app.query('SELECT 1/0').catch(() => undefined);
      await expectCode(add.enqueue({ args: [1, 2], tx: app }), 'NUVOM_E_STORAGE', /the transaction is aborted, an earlier statement in it failed.*roll it back.*nothing was enqueued/);
      await app.query('ROLLBACK');
    } finally {
      await app.end();
    }
  });

  it('enqueue({ tx }) on a queue that cannot use it is NUVOM_E_UNSUPPORTED and enqueues nothing', async () => {
    const { logger } = memoryLogger();
    const mem = await createClient({ cwd: tempProject(), env: {}, logger, config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory' } });
    try {
      await expectCode(mem.enqueue('pgt.add', [1, 2], { tx: { query: async () => ({ rows: [] }) } }), 'NUVOM_E_UNSUPPORTED', /tx/);
      expect(await mem.listJobs()).to.have.length(0);
    } finally {
      await mem.close();
    }
  });
});

describe('postgres: connections, migrations and errors', function () {
  this.timeout(60_000);
  requirePostgres();

  it('a refused connection is NUVOM_E_STORAGE_UNREACHABLE naming the server', async () => {
    const q = new PgQueue({ settings: { ...settingsFor(schemaName()), postgresUrl: 'postgres://postgres:secret@127.0.0.1:1/test' } });
    try {
      const err = await expectCode(q.qsize(), 'NUVOM_E_STORAGE_UNREACHABLE', /127\.0\.0\.1:1.*refused/);
      expect(err.message, 'the password leaked into the message').not.to.contain('secret');
    } finally {
      await q.close();
    }
  });

  it('a server that closes the connection before it is ready, or never answers, is NUVOM_E_STORAGE_UNREACHABLE saying so (not a lost connection, not a hang)', async () => {
    const sockets = new Set<net.Socket>();
    const closing = net.createServer((c) => c.destroy());
    const silent = net.createServer((c) => { sockets.add(c); });
    await Promise.all([closing, silent].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
    const url = (srv: net.Server) => `postgres://postgres@127.0.0.1:${(srv.address() as net.AddressInfo).port}/test`;
    const qa = new PgQueue({ settings: { ...settingsFor(schemaName()), postgresUrl: url(closing) } });
    const qb = new PgQueue({ settings: { ...settingsFor(schemaName()), postgresUrl: url(silent) } });
    try {
      const a = await expectCode(qa.qsize(), 'NUVOM_E_STORAGE_UNREACHABLE', /closed the connection before it was ready/);
      expect(a.message).not.to.contain('not regained');
      const t0 = Date.now();
      await expectCode(qb.qsize(), 'NUVOM_E_STORAGE_UNREACHABLE', /did not answer the connection within 10 s/);
      expect(Date.now() - t0).to.be.below(25_000);
    } finally {
      await qa.close();
      await qb.close();
      for (const c of sockets) c.destroy();
      closing.close();
      silent.close();
    }
  });

  it('close() ends within its bound when a statement hangs on a stalled network (the statement fails)', async () => {
    // A proxy to the real server that stops forwarding on demand, keeping its sockets open (no FIN, no RST).
    let stalled = false;
    const pairs: net.Socket[] = [];
    const target = new URL(PG_URL);
    const proxy = net.createServer((c) => {
      const up = net.connect(Number(target.port || 5432), target.hostname);
      pairs.push(c, up);
      c.on('data', (d) => { if (!stalled) up.write(d); });
      up.on('data', (d) => { if (!stalled) c.write(d); });
      for (const [a, b] of [[c, up], [up, c]]) { a.on('error', () => b.destroy()); a.on('close', () => b.destroy()); }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = new URL(PG_URL);
    url.port = String((proxy.address() as net.AddressInfo).port);
    const schema = schemaName();
    const q = new PgQueue({ settings: { ...settingsFor(schema), postgresUrl: url.toString() } });
    try {
      expect(await q.qsize()).to.equal(0);
      stalled = true;
      // Statements in flight on every connection (the kept one and the pool's).
      const hung = Array.from({ length: 12 }, () => q.qsize().then(() => 'answered', (e: unknown) => `failed: ${(e as Error).message}`));
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await q.close();
      // CLOSE_WAIT_MS (10 s), and a little.
      expect(Date.now() - t0).to.be.below(13_000);
      for (const h of hung) expect(await h).to.match(/^failed: /);
    } finally {
      for (const sock of pairs) sock.destroy();
      proxy.close();
      await dropSchema(schema);
    }
  });

  it('a new connection that times out mid-run (a server slow to accept it) is retried as a lost one: the statement still runs', async () => {
    // A proxy to the real server; `silent` new connections are accepted and never answered (held open).
    let silent = 0;
    const held: net.Socket[] = [];
    const pairs: net.Socket[] = [];
    const target = new URL(PG_URL);
    const proxy = net.createServer((c) => {
      if (silent > 0) { silent--; held.push(c); return; }
      const up = net.connect(Number(target.port || 5432), target.hostname);
      pairs.push(c, up);
      c.on('data', (d) => up.write(d));
      up.on('data', (d) => c.write(d));
      for (const [a, b] of [[c, up], [up, c]]) { a.on('error', () => b.destroy()); a.on('close', () => b.destroy()); }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = new URL(PG_URL);
    url.port = String((proxy.address() as net.AddressInfo).port);
    const schema = schemaName();
    const q = new PgQueue({ settings: { ...settingsFor(schema), postgresUrl: url.toString() } });
    try {
      expect(await q.qsize()).to.equal(0);
      // Every connection cut, and the first new one is not answered: it hits the 10 s connect timeout.
      silent = 1;
      for (const sock of pairs.splice(0)) sock.destroy();
      expect(await q.qsize().catch((e: unknown) => `failed: ${(e as Error).message}`), 'the statement after the timed-out connection').to.equal(0);
      expect(held.length, 'the silent connection was tried').to.equal(1);
    } finally {
      await q.close();
      for (const sock of [...pairs, ...held]) sock.destroy();
      proxy.close();
      await dropSchema(schema);
    }
  });

  it('a missing database is NUVOM_E_STORAGE_UNREACHABLE saying to create it', async () => {
    const q = new PgQueue({ settings: { ...settingsFor(schemaName()), postgresUrl: 'postgres://postgres@127.0.0.1:5432/nuvom_no_such_db' } });
    try {
      await expectCode(q.qsize(), 'NUVOM_E_STORAGE_UNREACHABLE', /nuvom_no_such_db.*does not exist.*createdb/);
    } finally {
      await q.close();
    }
  });

  it('a bad NUVOM_POSTGRES_URL or schema name is NUVOM_E_CONFIG naming the variable', async () => {
    await expectCode(createClient({ cwd: tempProject(), env: { NUVOM_POSTGRES_URL: 'mysql://x' }, logger: memoryLogger().logger }), 'NUVOM_E_CONFIG', /NUVOM_POSTGRES_URL/);
    const { readSettings } = await import('../../builtin-plugins/postgres/settings.ts');
    expect(() => readSettings({ NUVOM_POSTGRES_URL: 'mysql://x' })).to.throw(/NUVOM_POSTGRES_URL.*postgres:\/\//);
    expect(() => readSettings({ NUVOM_POSTGRES_SCHEMA: 'Robert"; DROP' })).to.throw(/NUVOM_POSTGRES_SCHEMA/);
    expect(() => readSettings({ NUVOM_POSTGRES_POOL_SIZE: '0' })).to.throw(/NUVOM_POSTGRES_POOL_SIZE/);
    // PostgreSQL itself refuses pg_* schemas: caught as a setting, not as a storage error at the first statement.
    expect(() => readSettings({ NUVOM_POSTGRES_SCHEMA: 'pg_jobs' })).to.throw(/NUVOM_POSTGRES_SCHEMA.*reserved by PostgreSQL/);
    // The table's keys are those of [settings.nuvom-postgres] in .nuvom_plugins.toml (docs/scaling.md).
    expect(readSettings({}, { postgresUrl: PG_URL, postgresSchema: 'billing_jobs' })).to.include({ postgresUrl: PG_URL, postgresSchema: 'billing_jobs' });
    expect(() => readSettings({}, { postgresSchema: 'A' })).to.throw(/\[settings.nuvom-postgres\] postgresSchema/);
    // A 59-63 character schema migrated, and then every enqueue failed: its NOTIFY channel was too long.
    expect(() => readSettings({ NUVOM_POSTGRES_SCHEMA: 'a'.repeat(59) })).to.throw(/NUVOM_POSTGRES_SCHEMA.*59 characters; at most 58.*channel/);
  });

  it('tables dropped while a client runs, and a read-only connection, are errors that say what to do', async () => {
    const schema = schemaName();
    const cfg = { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } as const;
    const client = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: cfg });
    const readOnlyUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c default_transaction_read_only=on')}`;
    let readOnly: Client | null = null;
    try {
      await client.enqueue('pgt.add', [1, 2]); // migrates the schema
      readOnly = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: { ...cfg, postgresUrl: readOnlyUrl } });
      await expectCode(readOnly.enqueue('pgt.add', [1, 2]), 'NUVOM_E_STORAGE_PERMISSION', /read-only .*point .* at the primary, or use a user that may write/);
      const db = await pgClient();
      try { await db.query(`DROP SCHEMA "${schema}" CASCADE`); } finally { await db.end(); }
      await expectCode(client.enqueue('pgt.add', [1, 2]), 'NUVOM_E_STORAGE_SCHEMA', /nuvom's tables are gone from the schema .*run `nuvom migrate`/);
    } finally {
      await readOnly?.close();
      await client.close();
      await dropSchema(schema);
    }
  });

  it('the longest schema name accepted runs a job end to end (its NOTIFY channels fit)', async () => {
    const long = `${schemaName()}_${'x'.repeat(58)}`.slice(0, 58);
    const client = await createClient({ cwd: tempProject(), env: {}, logger: memoryLogger().logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: long } });
    try {
      const h = await client.enqueue('pgt.add', [2, 3]);
      const worker = await client.startWorker({ threads: 0, concurrency: 1 });
      try {
        expect(await client.result(h.id, { timeoutSecs: 20 })).to.equal(5);
      } finally {
        await worker.stop();
      }
    } finally {
      await client.close();
      await dropSchema(long);
    }
  });

  it('without NUVOM_POSTGRES_URL, libpq\'s PG* variables connect, from .env as from the environment; an error names them', async () => {
    const schema = schemaName();
    const u = new URL(PG_URL);
    const dotenv = `PGHOST=${u.hostname}\nPGPORT=${u.port || '5432'}\nPGDATABASE=${u.pathname.slice(1)}\nPGUSER=${decodeURIComponent(u.username)}\nNUVOM_POSTGRES_SCHEMA=${schema}\n`;
    const cwd = tempProject({ '.env': dotenv });
    const config = { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres' } as const;
    const app = await createClient({ cwd, env: {}, logger: memoryLogger().logger, config });
    const c = await pgClient();
    try {
      const id = (await app.enqueue('add', [1, 2])).id;
      // Read on the test's own connection: the job went to the database .env names.
      const { rows } = await c.query(`SELECT id FROM "${schema}".jobs`);
      expect(rows.map((r) => r.id)).to.deep.equal([id]);
      const cli = path.join(REPO_ROOT, 'cli/main.ts');
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG') && !k.startsWith('NUVOM_')));
      const check = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'migrate', '--check'], { cwd: REPO_ROOT, env });
      expect(check.stdout).to.contain(`schema ${schema}: version ${LATEST} of ${LATEST}`);
      // A real environment variable beats .env; the message names the server and the variables to fix.
      const down = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'migrate'], { cwd: REPO_ROOT, env: { ...env, PGPORT: '1' } }).then(() => null, (err: { code: number; stderr: string }) => err);
      expect(down?.code).to.equal(1);
      expect(down?.stderr).to.match(new RegExp(`${u.hostname}:1/.*PG\\* variables.*refused.*PGHOST/PGPORT`));
      expect(down?.stderr).not.to.contain('NUVOM_POSTGRES_URL right');
    } finally {
      await app.close();
      await c.end();
      await dropSchema(schema);
    }
  });

  it('a user without the privilege to create the schema gets NUVOM_E_STORAGE_PERMISSION', async () => {
    const role = `nuvom_t_noperm_${process.pid}`;
    const admin = await pgClient();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`REVOKE CREATE ON DATABASE test FROM PUBLIC`).catch(() => undefined);
    const q = new PgQueue({ settings: { ...settingsFor(schemaName()), postgresUrl: PG_URL.replace('postgres@', `${role}@`) } });
    // A schema its owner migrated, which this user may not read yet: the fix is a GRANT, not CREATE on the database.
    const owned = schemaName();
    const ownerDb = new PgDb(settingsFor(owned));
    const reader = new PgQueue({ settings: { ...settingsFor(owned), postgresUrl: PG_URL.replace('postgres@', `${role}@`) } });
    try {
      await expectCode(q.qsize(), 'NUVOM_E_STORAGE_PERMISSION', /permission denied.*nuvom migrate/);
      await ownerDb.open();
      const err = await expectCode(reader.qsize(), 'NUVOM_E_STORAGE_PERMISSION', new RegExp(`GRANT USAGE ON SCHEMA ${owned} and SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${owned}`));
      expect(err.message).not.to.contain('CREATE ON DATABASE');
    } finally {
      await q.close();
      await reader.close();
      await ownerDb.close();
      await dropSchema(owned);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });

  it('a schema made for the app and owned by its user migrates without CREATE on the database; a read-only connection and another app\'s tables say what to do', async () => {
    const role = `nuvom_t_owner_${process.pid}`;
    const owned = schemaName();
    const foreign = schemaName();
    const admin = await pgClient();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`REVOKE CREATE ON DATABASE test FROM PUBLIC`).catch(() => undefined);
    // The common DBA setup: the schema exists, its owner is the app's user, who may not create schemas.
    await admin.query(`CREATE SCHEMA "${owned}" AUTHORIZATION ${role}`);
    // Another application's tables where nuvom is pointed.
    await admin.query(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".migrations (id serial PRIMARY KEY, name text)`);
    const asOwner = new PgQueue({ settings: { ...settingsFor(owned), postgresUrl: PG_URL.replace('postgres@', `${role}@`) } });
    const readOnlyUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c default_transaction_read_only=on')}`;
    const fresh = schemaName();
    const readOnly = new PgQueue({ settings: { ...settingsFor(fresh), postgresUrl: readOnlyUrl } });
    const mixed = new PgQueue({ settings: settingsFor(foreign) });
    try {
      expect(await asOwner.qsize(), 'migrated by the schema\'s owner').to.equal(0);
      await expectCode(readOnly.qsize(), 'NUVOM_E_STORAGE_PERMISSION', /read-only .*against the primary/);
      const none = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [fresh]);
      expect(none.rowCount, 'nothing made').to.equal(0);
      await expectCode(mixed.qsize(), 'NUVOM_E_STORAGE_SCHEMA', /holds tables of something else.*NUVOM_POSTGRES_SCHEMA/);
    } finally {
      await asOwner.close();
      await readOnly.close();
      await mixed.close();
      await dropSchema(owned);
      await dropSchema(foreign);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
    const { readSettings } = await import('../../builtin-plugins/postgres/settings.ts');
    expect(() => readSettings({ NUVOM_POSTGRES_SCHEMA: 'information_schema' })).to.throw(/NUVOM_POSTGRES_SCHEMA.*PostgreSQL's own schema/);
  });

  it('a connection refused at the role\'s connection limit is retried and logged as such, saying to lower the pool size (not as a lost connection)', async () => {
    const role = `nuvom_t_limit_${process.pid}`;
    const schema = schemaName();
    const admin = await pgClient();
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION ${role}`);
    const { logger, lines } = memoryLogger();
    const q = new PgQueue({ settings: { ...settingsFor(schema), postgresUrl: PG_URL.replace('postgres@', `${role}@`), postgresPoolSize: 4 }, logger });
    try {
      await q.qsize(); // migrates, on the one connection the role may have
      // Four at once: the pool opens more connections than the role may, and those are refused (53300).
      expect(await Promise.all([q.qsize(), q.qsize(), q.qsize(), q.qsize()])).to.deep.equal([0, 0, 0, 0]);
      const refused = lines.filter((l) => l.includes('PostgreSQL refused a new connection'));
      expect(refused.length, lines.join('\n')).to.be.greaterThan(0);
      expect(refused[0]).to.contain('Lower NUVOM_POSTGRES_POOL_SIZE').and.not.contain('was lost');
    } finally {
      await q.close();
      await dropSchema(schema);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });

  it('concurrent starts migrate once (advisory lock), and a newer schema is refused', async () => {
    const schema = schemaName();
    const dbs = Array.from({ length: 5 }, () => new PgDb(settingsFor(schema)));
    try {
      await Promise.all(dbs.map((d) => d.open()));
      const { rows } = await dbs[0].query('test', `SELECT version FROM "${schema}".migrations ORDER BY version`);
      expect(rows.map((r) => r.version)).to.deep.equal(Array.from({ length: LATEST }, (_, i) => i + 1));
      await dbs[0].query('test', `INSERT INTO "${schema}".migrations (version) VALUES (${LATEST + 1})`);
      const later = new PgDb(settingsFor(schema));
      try {
        await expectCode(later.open(), 'NUVOM_E_STORAGE_SCHEMA', new RegExp(`version ${LATEST + 1}, newer than this nuvom`));
      } finally {
        await later.close();
      }
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
      await dropSchema(schema);
    }
  });

  it('the schema version is read in one statement: a missing schema, and a schema without nuvom tables, are version 0 (then migrated)', async () => {
    const fresh = schemaName();
    const empty = schemaName();
    const c = await pgClient();
    try {
      expect(await schemaVersion(c, fresh)).to.equal(0);
      await c.query(`CREATE SCHEMA "${empty}"`);
      expect(await schemaVersion(c, empty)).to.equal(0);
      const db = new PgDb(settingsFor(empty));
      try {
        await db.open();
      } finally {
        await db.close();
      }
      expect(await schemaVersion(c, empty)).to.equal(LATEST);
    } finally {
      await c.end();
      await dropSchema(empty);
    }
  });

  it('`nuvom migrate` in a project not on PostgreSQL says where the settings go when it cannot connect', async () => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG') && !k.startsWith('NUVOM_')) env[k] = v;
    env.PGPORT = '1'; // nothing listens there, whatever user and database libpq's defaults give
    const cli = path.join(REPO_ROOT, 'cli/main.ts');
    const r = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', tempProject(), 'migrate'], { cwd: REPO_ROOT, env, timeout: 30_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('this project is not on PostgreSQL (its backends are sqlite, sqlite, sqlite): set NUVOM_POSTGRES_URL');
  });

  it('with NUVOM_POSTGRES_MIGRATE=false an unmigrated schema is refused; `nuvom migrate` migrates it once', async () => {
    const schema = schemaName();
    const off = new PgDb(settingsFor(schema, { postgresMigrate: false }));
    try {
      await expectCode(off.open(), 'NUVOM_E_STORAGE_SCHEMA', /nuvom migrate/);
      const env = { ...process.env, NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema };
      const cli = path.join(REPO_ROOT, 'cli/main.ts');
      const cwd = tempProject();
      const first = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'migrate', '--json'], { cwd: REPO_ROOT, env });
      expect(JSON.parse(first.stdout)).to.include({ schema, before: 0, version: LATEST });
      // A burst run cannot claim from it: it ends with the error (it used to retry forever).
      const burst = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'runworker', '--burst'], { cwd: REPO_ROOT, env: { ...env, NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_POSTGRES_SCHEMA: `${schema}_off`, NUVOM_POSTGRES_MIGRATE: 'false' }, timeout: 30_000 })
        .then(() => null, (err: { code: number | null; stderr: string }) => err);
      expect(burst?.code, burst?.stderr).to.equal(1);
      expect(burst?.stderr).to.match(/^error: .*is at version 0, this nuvom needs \d+; run `nuvom migrate`.*\(NUVOM_E_STORAGE_SCHEMA\)$/m);
      const again = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'migrate', '--json'], { cwd: REPO_ROOT, env });
      expect(JSON.parse(again.stdout).applied).to.deep.equal([]);
      await off.open();
    } finally {
      await off.close();
      await dropSchema(schema);
    }
  });

  it('nuvom doctor checks the server and the schema without creating it, and skips the job checks it cannot run', async () => {
    const schema = schemaName();
    const cwd = tempProject();
    const cli = path.join(REPO_ROOT, 'cli/main.ts');
    const env = { ...process.env, NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_SCHEDULER_BACKEND: 'postgres', NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema };
    type Report = { ok: boolean; checks: Array<{ check: string; level: string; detail: string }> };
    const doctor = async (extra: Record<string, string> = {}) => {
      const r = await run(process.execPath, ['--import', 'tsx', cli, '--cwd', cwd, 'doctor', '--json'], { cwd: REPO_ROOT, env: { ...env, ...extra } })
        .then((x) => ({ code: 0, stdout: x.stdout }), (err: { code: number; stdout: string }) => err);
      const report = JSON.parse(r.stdout) as Report;
      return { code: r.code, by: (name: string) => report.checks.find((c) => c.check === name) };
    };
    const c = await pgClient();
    try {
      const down = await doctor({ NUVOM_POSTGRES_URL: 'postgres://postgres:secret@127.0.0.1:1/test' });
      expect(down.code).to.equal(1);
      expect(down.by('postgres-connection')).to.include({ level: 'FAIL' });
      expect(down.by('postgres-connection')?.detail).to.match(/127\.0\.0\.1:1.*refused/).and.not.contain('secret');
      expect(down.by('stuck-jobs')?.detail).to.match(/skipped/);
      const fresh = await doctor();
      expect(fresh.code).to.equal(0);
      expect(fresh.by('postgres-schema')).to.include({ level: 'warn' });
      expect(fresh.by('postgres-schema')?.detail).to.match(new RegExp(`schema ${schema} at .* holds no nuvom tables yet`));
      expect(fresh.by('stuck-jobs')?.detail).to.equal('no job storage yet');
      const made = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      expect(made.rowCount, 'doctor created the schema').to.equal(0);
      const app = await createClient({ cwd, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'postgres', resultBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } });
      try {
        await app.enqueue('add', [1, 2]);
      } finally {
        await app.close();
      }
      const ok = await doctor();
      expect(ok.code).to.equal(0);
      expect(ok.by('postgres-schema')).to.include({ level: 'ok' });
      expect(ok.by('postgres-leases')?.detail).to.match(/^1 ready, 0 delayed, 0 leased; no expired leases$/);
      expect(ok.by('orphaned-jobs')).to.include({ level: 'ok' });
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('a worker on PostgreSQL runs its job without loading Node\'s fetch (undici) for pg, and leaves no global behind', async () => {
    const schema = schemaName();
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/postgres/fixtures/pg-app.ts')], { cwd: REPO_ROOT, env: { ...process.env, PGT_CWD: tempProject(), PGT_URL: PG_URL, PGT_SCHEMA: schema } });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).to.deep.equal({ sum: 5, navigatorSame: true, undici: false });
    } finally {
      await dropSchema(schema);
    }
  });

  it('an application on SQLite never loads the pg package, nor msgpackr\'s native add-on (msgpackr/pack is used)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/postgres/fixtures/sqlite-app.ts')], { cwd: REPO_ROOT, env: { ...process.env, PGT_CWD: tempProject() } });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).to.deep.equal({ sum: 5, pgLoaded: false, msgpackrExtractLoaded: false });
  });
});
