/**
 * Connections to PostgreSQL for the queue, result store and schedule store: one pg.Pool per
 * (connection string, schema) per process, shared by every service on it and ended when the last one
 * lets go; one extra connection LISTENs for wake-ups (listener.ts), and a worker claims on one more
 * whose session is set once (claimQuery), and single statements run on a connection kept out of the
 * pool (kept.ts). `pg` is loaded lazily (driver.ts, on the first service built), so an application on
 * SQLite never loads it.
 * Errors: driver errors become NuvomErrors that say what to fix; a connection lost after the pool
 * has once worked (a server restart, pg_terminate_backend) is retried with back-off for up to
 * RECOVER_MS, so a worker rides over a restart instead of failing its writes.
 * Must never: retry a statement whose failure is not a lost connection, or log a password.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { NuvomError, isNuvomError, messageOf, type Logger } from '../../sdk/plugin.ts';
import { PLUGIN_NAME, pgTarget, type ConnectionSettings, type PgTarget } from './settings.ts';
import { Listener } from './listener.ts';
import { isConnectionLost, loadPg, named } from './driver.ts';
import { KeptConnection } from './kept.ts';
import { migrate } from './schema.ts';
import { checkSession, connectionConfig, endOrCut, pgError, RECOVER_MS, type SessionProbe } from './connect.ts';

export { connectionConfig, CONNECT_TIMEOUT_MS, IDLE_IN_TX_TIMEOUT_MS, pgError, RECOVER_MS } from './connect.ts';

/**
 * Runs `fn` on a client checked out of `pool`. A connection cut while the client is out but between
 * statements is emitted as an 'error' event, which would crash the process unheard: it is muted here,
 * and the next statement fails instead. After a lost connection the client is released broken; after
 * any other failure `onFail` runs first (a ROLLBACK).
 */
async function checkedOut<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, onFail?: (client: PoolClient) => Promise<unknown>): Promise<T> {
  const client = await pool.connect();
  const onError = (): void => undefined;
  client.on('error', onError);
  let broken: unknown;
  try {
    return await fn(client);
  } catch (err) {
    broken = isConnectionLost(err) ? err : undefined;
    if (!broken && onFail) await onFail(client).catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/** Something with pg's `query(text, values)`: a Pool, a PoolClient, a Client (the app's transaction). */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** One pool per (url, schema) per process, shared by the services on it. */
export class PgDb {
  readonly schema: string;
  /** The schema, quoted for SQL. */
  readonly s: string;
  /** The channel NOTIFY uses for "jobs may be claimable" (one per schema). */
  readonly jobsChannel: string;
  /** The channel NOTIFY uses for "jobs reached a final status" (payload: their ids, one per line; schema.ts v2). */
  readonly doneChannel: string;
  readonly target: PgTarget;
  private pool: Pool | null = null;
  /** One connection for claims, its session set up by the SETs given to claimQuery; made on the first claim. */
  private claimPool: Pool | null = null;
  /** Builds pools (pg loaded, int8 read as numbers); set once pg is loaded. */
  private maker: Promise<(max: number) => Pool> | null = null;
  /** Claim connections whose session is set up. */
  private readonly claimReady = new WeakSet<PoolClient>();
  private opened: Promise<void> | null = null;
  private everConnected = false;
  private closed = false;
  private listener: Listener | null = null;
  /** A connection kept for single statements (kept.ts); made with the pool. */
  private kept: KeptConnection | null = null;
  refs = 0;

  constructor(readonly settings: ConnectionSettings, readonly logger?: Logger) {
    this.schema = settings.postgresSchema;
    this.s = `"${settings.postgresSchema}"`;
    this.jobsChannel = `${settings.postgresSchema}_jobs`;
    this.doneChannel = `${settings.postgresSchema}_done`;
    this.target = pgTarget(settings);
  }

  /** Builds the pool, checks the connection and the schema version (migrating when allowed). Once. */
  open(): Promise<void> {
    this.opened ??= this.doOpen().catch((err) => {
      this.opened = null;
      throw err;
    });
    return this.opened;
  }

  /** The pool factory, once pg is loaded. */
  private poolMaker(): Promise<(max: number) => Pool> {
    this.maker ??= loadPg().then((pg) => {
      const types = new pg.TypeOverrides();
      types.setTypeParser(20, (v: string) => Number(v)); // int8: epoch ms and counts fit a double
      return (max: number) => {
        // The connect timeout goes to each connection only: as a pool option it would also fail a
        // statement that waits more than that for a free connection under load.
        const { connectionTimeoutMillis, ...config } = connectionConfig(this.settings);
        const Client = class extends pg.Client {
          constructor(o?: object) { super({ ...o, connectionTimeoutMillis } as ConstructorParameters<typeof pg.Client>[0]); }
        };
        const pool = new pg.Pool({ ...config, max, types, idleTimeoutMillis: 30_000, Client });
        // An idle connection cut by the server emits here; the pool drops it and opens another on demand.
        // Its idle_session_timeout (57P05, PostgreSQL 14+; a managed database often sets one)
        // ends idle connections by design: not worth a warning each time.
        pool.on('error', (err) => {
          const note = `a PostgreSQL connection was lost: ${messageOf(err)}; it is reopened on demand`;
          if ((err as { code?: string }).code === IDLE_SESSION_TIMEOUT) this.logger?.debug(note);
          else this.logger?.warn(note);
        });
        return pool;
      };
    }, (err: unknown) => {
      this.maker = null;
      throw err;
    });
    return this.maker;
  }

  private async doOpen(): Promise<void> {
    const makePool = await this.poolMaker();
    if (this.closed) throw this.closedError();
    this.pool = makePool(this.settings.postgresPoolSize);
    this.kept = new KeptConnection(this.pool, this.settings.postgresPoolSize);
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw pgError(err, 'connecting', this.target, this.everConnected);
    }
    const onError = (): void => undefined; // as in txOnce: a cut mid-migration fails the next statement instead
    client.on('error', onError);
    try {
      await checkSession(client, async () => new (await loadPg()).Client(connectionConfig(this.settings)) as unknown as SessionProbe, this.target)
        .catch((err: unknown) => { throw pgError(err, 'connecting', this.target, this.everConnected); });
      await migrate(client, this.schema, { apply: this.settings.postgresMigrate, target: this.target.shown, logger: this.logger });
    } finally {
      client.off('error', onError);
      client.release();
    }
    this.everConnected = true;
  }


  /**
   * Runs one statement on the pool. A lost connection is retried on a fresh one with back-off (up
   * to RECOVER_MS) once this pool has worked; before that (a wrong URL, no server) it fails at once.
   */
  async query<R extends QueryResultRow = QueryResultRow>(what: string, text: string, values?: unknown[]): Promise<QueryResult<R>> {
    await this.open();
    return this.recovering(what, () => this.single<R>(text, values));
  }

  /** One statement: on the kept connection when it is free, else through the pool. */
  private single<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    if (!this.kept) throw this.closedError();
    return this.kept.query<R>(text, values);
  }

  /**
   * Runs `fn` in one transaction (BEGIN ... COMMIT, ROLLBACK on a throw), retried whole on a lost connection.
   */
  async tx<T>(what: string, fn: (c: Queryable) => Promise<T>): Promise<T> {
    await this.open();
    return this.recovering(what, () => this.txOnce(fn));
  }

  /** One try of a transaction, errors as the driver gave them (for callers that retry themselves). */
  async txOnce<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    this.kept?.yieldIfShort();
    return checkedOut(this.pool!, async (client) => {
      await client.query('BEGIN');
      const out = await fn({ query: (t: string, v?: unknown[]) => client.query(named(t, v)) } as Queryable);
      await client.query('COMMIT');
      return out;
    }, (client) => client.query('ROLLBACK'));
  }

  /**
   * One statement on the claim connection: a pool of one whose every new connection first runs
   * `session` (SETs that hold for the whole session), so the statement is one round trip and stays
   * prepared. Retried on a lost connection like query(); a fresh connection runs `session` again.
   * The session must be set up the same way on every call.
   */
  async claimQuery<R extends QueryResultRow = QueryResultRow>(what: string, session: string, text: string, values: unknown[]): Promise<QueryResult<R>> {
    const opened = this.open();
    if (!this.claimPool) {
      opened.catch(() => undefined); // awaited below
      await this.openClaimPool(session);
    }
    await opened;
    const pool = this.claimPool ??= (await this.poolMaker())(1);
    return this.recovering(what, () => checkedOut(pool, (client) => (this.claimReady.has(client)
      ? client.query<R>(named(text, values))
      : this.claimSession(client, session).then(() => client.query<R>(named(text, values))))));
  }

  /**
   * Makes the claim pool, and starts its connection with its session set while open() still checks
   * the schema: the first claim then waits for no connect of its own (a worker's first jobs come one
   * round trip sooner). A failure here is not reported: the claim itself connects again and reports it.
   */
  private async openClaimPool(session: string): Promise<void> {
    const makePool = await this.poolMaker().catch(() => null);
    if (!makePool || this.claimPool || this.closed) return;
    const pool = this.claimPool = makePool(1);
    void checkedOut(pool, (client) => this.claimSession(client, session)).catch(() => undefined);
  }

  /** Sets up a claim connection's session, once per connection. */
  private async claimSession(client: PoolClient, session: string): Promise<void> {
    if (this.claimReady.has(client)) return;
    await client.query(session);
    this.claimReady.add(client);
  }

  /** One statement (on the kept connection, else the pool), errors as the driver gave them (after open()). */
  rawQuery<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    return this.single<R>(text, values);
  }

  /** rawQuery as a Queryable, for callers that retry themselves (after open()). */
  readonly direct: Queryable = { query: (t: string, v?: unknown[]) => this.rawQuery(t, v) } as Queryable;

  /** Calls `op` again while it fails with a lost connection, up to RECOVER_MS. `lostBefore` tells the op a retry happened. */
  async recovering<T>(what: string, op: (retry: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + RECOVER_MS;
    let wait = 50;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw this.closedError();
      try {
        return await op(attempt);
      } catch (err) {
        if (isNuvomError(err)) throw err;
        if (!this.everConnected || !isConnectionLost(err) || Date.now() + wait > deadline) throw pgError(err, what, this.target, this.everConnected);
        if (attempt === 0) this.logger?.warn(refusedForLimit(err)
          // 53300: the server (or the user's role) is at its connection limit; nothing was lost.
          ? `${what}: PostgreSQL refused a new connection (${messageOf(err)}); retrying for up to ${RECOVER_MS / 1000} s. Lower NUVOM_POSTGRES_POOL_SIZE (each process opens up to it, plus one to LISTEN and a worker one to claim), or raise the limit (max_connections, or the role's CONNECTION LIMIT)`
          : `${what}: the connection to PostgreSQL was lost (${messageOf(err)}); retrying for up to ${RECOVER_MS / 1000} s`);
        await delay(wait);
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  /** Calls `onNotify(payload)` for NOTIFYs on `channel`, and `onNotify(null)` after a reconnect (a notification may have been missed). */
  listen(channel: string, onNotify: (payload: string | null) => void): () => void {
    this.listener ??= new Listener(async () => new (await loadPg()).Client(connectionConfig(this.settings)), this.logger);
    return this.listener.add(channel, onNotify);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.close();
    await this.opened?.catch(() => undefined);
    this.kept?.close();
    // One bound for the whole close: requests still waiting are refused, statements still running are cut.
    const deadline = Date.now() + CLOSE_WAIT_MS;
    if (this.pool) await serveWaiting(this.pool, this.closedError(), deadline);
    if (this.pool) await endWithin(this.pool, deadline);
    if (this.claimPool) await serveWaiting(this.claimPool, this.closedError(), deadline);
    if (this.claimPool) await endWithin(this.claimPool, deadline);
  }

  /** The most connections the pool opens (NUVOM_POSTGRES_POOL_SIZE). */
  get poolSize(): number {
    return this.settings.postgresPoolSize;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  closedError(): NuvomError {
    return new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL connection pool is closed; resolve the service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

/** SQLSTATE of a session ended by the server's idle_session_timeout. */
const IDLE_SESSION_TIMEOUT = '57P05';

/** How long close() lets statements queued for a connection wait for one before it refuses them. */
const CLOSE_WAIT_MS = 10_000;

/**
 * Statements queued for a connection when close() comes (a burst of enqueues not yet awaited) are
 * served before the pool ends: pg-pool's end() would leave them unanswered for ever (their callers
 * hang). Past `deadline` (a server that stopped answering) they are refused with `refusal`.
 */
async function serveWaiting(pool: Pool, refusal: Error, deadline: number): Promise<void> {
  while (pool.waitingCount > 0 && Date.now() < deadline) await delay(5);
  // pg-pool's queue of waiting requests (PendingItem: a callback taking an error first).
  const waiting = (pool as unknown as { _pendingQueue?: Array<{ callback: (err: Error) => void }> })._pendingQueue;
  if (Array.isArray(waiting)) for (const item of waiting.splice(0)) item.callback(refusal);
}

/**
 * Ends `pool`, waiting until `deadline` for the statements still running on its connections; a
 * connection whose statement has not answered by then (a stalled network) is destroyed, which fails
 * that statement, so close() never waits for the OS to notice a dead peer.
 */
function endWithin(pool: Pool, deadline: number): Promise<void> {
  // pg-pool's clients (a private field of pg-pool 3), each with its socket.
  const clients = () => (pool as unknown as { _clients?: Array<{ connection?: { stream?: { destroy(): void } } }> })._clients ?? [];
  return endOrCut(pool.end().catch(() => undefined), Math.max(0, deadline - Date.now()), () => { for (const c of clients()) c.connection?.stream?.destroy(); });
}

const shared = new Map<string, PgDb>();

/** One service's hold on the shared pool of (url, schema); `release()` is idempotent. */
export interface PgLease {
  readonly db: PgDb;
  release(): Promise<void>;
}

export function acquireDb(settings: ConnectionSettings, logger?: Logger): PgLease {
  const key = `${JSON.stringify(settings.libpq ?? {})}\u0000${settings.postgresUrl}\u0000${settings.postgresSchema}\u0000${settings.postgresPoolSize}\u0000${settings.postgresMigrate}`;
  let db = shared.get(key);
  if (!db || db.isClosed) {
    db = new PgDb(settings, logger);
    shared.set(key, db);
  }
  db.refs++;
  const held = db;
  let released = false;
  return {
    db: held,
    async release() {
      if (released) return;
      released = true;
      if (--held.refs === 0) {
        if (shared.get(key) === held) shared.delete(key);
        await held.close();
      }
    },
  };
}

export type { PoolClient };

/**
 * Drops `settings.postgresSchema` with everything in it, on a connection of its own: the schema an
 * isolated kernel (`config.isolation`, `nuvom plugin test`) worked in. A failure is reported, not thrown.
 */
export async function dropIsolatedSchema(settings: ConnectionSettings, logger?: Logger): Promise<void> {
  const pg = await loadPg();
  const client = new pg.Client(connectionConfig(settings));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${settings.postgresSchema}" CASCADE`);
  } catch (err) {
    logger?.warn(`could not drop the test schema ${settings.postgresSchema}: ${messageOf(err)}; drop it by hand`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A connection refused because the server or the role is at its limit (SQLSTATE 53300), not one lost. */
function refusedForLimit(err: unknown): boolean {
  return (err as { code?: unknown })?.code === '53300';
}
