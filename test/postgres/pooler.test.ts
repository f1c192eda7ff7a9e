/**
 * What nuvom does behind a connection pooler and under a managed database's role settings: PgBouncer
 * refusing a startup parameter, a pooler that does not keep a session (transaction mode: simulated,
 * so no PgBouncer is needed), and the server ending idle sessions (idle_session_timeout, real server).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { isNuvomError } from '../../sdk/index.ts';
import { checkSession, pgError, type SessionProbe } from '../../builtin-plugins/postgres/connect.ts';
import { PgDb } from '../../builtin-plugins/postgres/db.ts';
import { pgTarget } from '../../builtin-plugins/postgres/settings.ts';
import { memoryLogger, waitFor } from '../helpers/tmp.ts';
import { client as pgClient, dropSchema, PG_URL, requirePostgres, schemaName, settingsFor } from './helpers.ts';

const target = pgTarget({ postgresUrl: 'postgres://app:secret@db:6432/app', postgresSchema: 'nuvom', postgresPoolSize: 4, postgresMigrate: true });

/** A server error as pg gives it. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

function expectNuvom(err: unknown, code: string, text: RegExp): void {
  expect(isNuvomError(err), String(err)).to.equal(true);
  expect((err as { code: string }).code, (err as Error).message).to.equal(code);
  expect((err as Error).message).to.match(text);
  expect((err as Error).message).not.to.contain('secret');
}

describe('postgres: behind PgBouncer (errors simulated)', () => {
  it('a refused startup parameter names PgBouncer and its ignore_startup_parameters', () => {
    const err = pgError(serverError('08P01', 'unsupported startup parameter: idle_in_transaction_session_timeout'), 'connecting', target, false);
    expectNuvom(err, 'NUVOM_E_STORAGE_UNREACHABLE', /PgBouncer.*ignore_startup_parameters = extra_float_digits,idle_in_transaction_session_timeout.*pool_mode = session.*ALTER ROLE/);
    const options = pgError(serverError('08P01', 'unsupported startup parameter: options'), 'connecting', target, false);
    expectNuvom(options, 'NUVOM_E_STORAGE_UNREACHABLE', /PgBouncer does not pass `options`.*ALTER ROLE/);
  });

  it("nuvom's prepared statements met on another server session say the pooler does not keep a session", () => {
    for (const e of [
      serverError('42P05', 'prepared statement "nuvom_0" already exists'),
      serverError('26000', 'prepared statement "nuvom_3" does not exist'),
      serverError('08P01', 'bind message supplies 3 parameters, but prepared statement "nuvom_1" requires 20'),
    ]) {
      expectNuvom(pgError(e, 'enqueue', target), 'NUVOM_E_CONFIG', /pooler that does not keep a session \(PgBouncer with pool_mode = transaction.*set pool_mode = session.*NUVOM_POSTGRES_URL/);
    }
    // Another prepared statement's trouble (the application's own) is not blamed on a pooler.
    expect(pgError(serverError('26000', 'prepared statement "mine" does not exist'), 'enqueue', target).code).to.equal('NUVOM_E_STORAGE');
  });

  /** A connection through a pooler: every statement runs on the server session `route()` picks. */
  function pooled(session: { asked: boolean; route: (inTx: boolean) => number }) {
    const opened: SessionProbe[] = [];
    const own = {
      query: async (text: string) => (text.includes('current_setting')
        ? { rows: [{ pid: session.route(false), asked: session.asked }] }
        : { rows: [{ pid: session.route(false) }] }),
    };
    const other = async (): Promise<SessionProbe> => {
      let inTx = false;
      const probe: SessionProbe = {
        connect: async () => undefined,
        query: async (text: string) => {
          if (text === 'BEGIN') { inTx = true; return { rows: [] }; }
          return { rows: [{ pid: session.route(inTx) }] };
        },
        end: async () => undefined,
      };
      opened.push(probe);
      return probe;
    };
    return { own, other, opened };
  }

  it('refuses a pooler in transaction mode at connect (NUVOM_E_CONFIG), whichever session it gives out', async () => {
    // PgBouncer's transaction mode: the other connection's transaction gets the session just freed.
    const lifo = pooled({ asked: false, route: () => 101 });
    const err = await checkSession(lifo.own, lifo.other, target).then(() => null, (e: unknown) => e);
    expectNuvom(err, 'NUVOM_E_CONFIG', /pool_mode = transaction or statement: another connection's transaction ran in server session 101/);
    // Or it gets another, and this connection's next statement lands elsewhere.
    let n = 0;
    const moving = pooled({ asked: false, route: (inTx) => (inTx ? 202 : [101, 303][n++] ?? 303) });
    const err2 = await checkSession(moving.own, moving.other, target).then(() => null, (e: unknown) => e);
    expectNuvom(err2, 'NUVOM_E_CONFIG', /server sessions 101, then 303/);
  });

  it('lets a pooler in session mode through, and looks no further when the startup parameter arrived', async () => {
    const session = pooled({ asked: false, route: (inTx) => (inTx ? 202 : 101) });
    await checkSession(session.own, session.other, target);
    expect(session.opened).to.have.length(1);
    const direct = pooled({ asked: true, route: () => 101 });
    await checkSession(direct.own, direct.other, target);
    expect(direct.opened).to.have.length(0);
  });
});

describe('postgres: the server ends idle sessions (idle_session_timeout)', function () {
  this.timeout(20_000);
  requirePostgres();
  let schema: string;
  let db: PgDb | null = null;
  beforeEach(() => { schema = schemaName(); });
  afterEach(async () => {
    await db?.close();
    db = null;
    await dropSchema(schema);
  });

  it('reconnects without a warning after the server ends its idle sessions (idle_session_timeout)', async function () {
    const c = await pgClient();
    try {
      const v = Number((await c.query<{ v: string }>('SHOW server_version_num')).rows[0].v);
      if (v < 140000) {
        console.log(`    (skipped: idle_session_timeout needs PostgreSQL 14+, the server is ${v})`);
        this.skip();
      }
    } finally {
      await c.end();
    }
    const app = `nuvom_idle_${randomBytes(4).toString('hex')}`;
    const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c idle_session_timeout=300')}&application_name=${app}`;
    const { logger, lines } = memoryLogger();
    db = new PgDb(settingsFor(schema, { postgresUrl: url }), logger);
    // Two at once: one on the kept connection, one on a pool connection (left idle in the pool).
    const both = await Promise.all([db.query<{ n: number }>('probe', 'SELECT 1 AS n FROM pg_sleep(0.05)'), db.query<{ n: number }>('probe', 'SELECT 1 AS n')]);
    expect(both.map((r) => r.rows[0].n)).to.deep.equal([1, 1]);
    const sessions = async () => {
      const q = await pgClient();
      try {
        return Number((await q.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n);
      } finally {
        await q.end();
      }
    };
    // Every session of this pool, the kept connection's too, ended by the server.
    await waitFor(async () => (await sessions()) === 0, { what: 'the server to end the idle sessions' });
    expect((await db.query<{ n: number }>('probe', 'SELECT 2 AS n')).rows[0].n).to.equal(2);
    expect(lines.filter((l) => l.startsWith('warn ')), lines.join('\n')).to.deep.equal([]);
  });
});
