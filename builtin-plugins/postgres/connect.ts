/**
 * How the PostgreSQL plugin connects and what its errors say: every connection's options (the URL or
 * libpq's PG* variables, keepalive, timeouts, a name telling its process), how long a lost connection
 * is retried, and driver errors as NuvomErrors that say what to fix. db.ts re-exports them.
 * Must never: name the server with its password (PgTarget.shown is masked).
 */
import { NuvomError, isNuvomError, messageOf, withTimeout } from '../../sdk/plugin.ts';
import { PLUGIN_NAME, type ConnectionSettings, type PgTarget } from './settings.ts';
import { isConnectionLost } from './driver.ts';
import { NO_SUCH_RELATION } from './schema.ts';

/**
 * A server that accepts the TCP connection and never answers (a stalled network, a hung proxy) is
 * given up on after this long, as a refused one is (the callers retry within RECOVER_MS).
 */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * The server ends one of nuvom's own sessions left idle inside a transaction this long (its client
 * stalled or gone without a FIN): its row locks (a schedule's fire, a claim) are released for the
 * other processes instead of waiting for the server's TCP keepalive (two hours by default). nuvom's
 * transactions send their statements back to back; the application's own transaction is not touched.
 */
export const IDLE_IN_TX_TIMEOUT_MS = 60_000;

/** What every connection of this plugin connects with: the URL (else libpq's PG* variables) and a name telling its process. */
export function connectionConfig(settings: ConnectionSettings, name = `nuvom:${process.pid}`): Record<string, string | number | boolean | undefined> {
  const v = settings.libpq ?? {};
  // Given explicitly, so that variables from .env count too; an unset one pg reads from process.env.
  const parts = settings.postgresUrl
    ? { connectionString: settings.postgresUrl }
    : { host: v.PGHOST, port: v.PGPORT, database: v.PGDATABASE, user: v.PGUSER, password: v.PGPASSWORD };
  return {
    ...parts, options: v.PGOPTIONS, application_name: name,
    // TCP keepalive: a peer gone without a FIN (a cut network, a dead host) is noticed by the OS.
    keepAlive: true, keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TX_TIMEOUT_MS,
  };
}

/** How long a lost connection is retried before the operation fails (a server restart takes a few seconds). */
export const RECOVER_MS = 30_000;

/** A driver error as a NuvomError saying what to fix; `what` is the operation ("claiming jobs"). */
export function pgError(err: unknown, what: string, target: PgTarget, connected = true): NuvomError {
  if (isNuvomError(err)) return err;
  const e = err as { code?: string; message?: string };
  const code = e?.code;
  const m = messageOf(err);
  const opts = { plugin: PLUGIN_NAME, cause: err, details: { pgCode: code } };
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: PostgreSQL at ${target.shown} refused or did not answer the connection (${code}); is the server running, and is ${target.server} right?`, opts);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: the host of ${target.shown} could not be resolved (${code}); fix the host in ${target.host}`, opts);
  }
  if (code === '3D000') {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: ${m} at ${target.shown}; create it (createdb <name>) or fix the database in ${target.database}`, opts);
  }
  if (code === '28P01' || code === '28000') {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: PostgreSQL at ${target.shown} refused the login: ${m}; fix the user or password in ${target.login} (or pg_hba.conf)`, opts);
  }
  if (code === '42501') {
    return new NuvomError('NUVOM_E_STORAGE_PERMISSION', `${what}: permission denied at ${target.shown}: ${m}; grant the user USAGE and CREATE on the schema (or run \`nuvom migrate\` as its owner) and SELECT/INSERT/UPDATE/DELETE on its tables`, opts);
  }
  if (code !== undefined && NO_SUCH_RELATION.has(code)) {
    // Checked at open: the tables went since (DROP SCHEMA), or a migration was rolled back by hand.
    return new NuvomError('NUVOM_E_STORAGE_SCHEMA', `${what}: ${m} at ${target.shown}: nuvom's tables are gone from the schema (dropped while this process ran?); run \`nuvom migrate\` to create them again (the process carries on once they exist)`, opts);
  }
  if (code === '25006') {
    return new NuvomError('NUVOM_E_STORAGE_PERMISSION', `${what}: ${m} at ${target.shown}: the connection is read-only (a standby or replica, or default_transaction_read_only for the user); point ${target.server} at the primary, or use a user that may write`, opts);
  }
  if (code === '57014') {
    return new NuvomError('NUVOM_E_STORAGE', `${what}: ${m} at ${target.shown}; the server's statement_timeout for this user or database is shorter than the statement took (a big batch: split the map() into smaller ones, or raise statement_timeout for nuvom's user)`, opts);
  }
  const param = /unsupported startup parameter: *(\S+)/i.exec(m)?.[1];
  if (param !== undefined) return startupParameterRefused(what, param, target, opts);
  if (PREPARED_LOST.has(code ?? '') && /prepared statement "nuvom_/.test(m)) {
    // nuvom's named statements, prepared on one server session, met on another (or someone else's there).
    return sessionlessPooler(what, target, m, err);
  }
  if (/does not support SSL/i.test(m)) {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: ${m} (${target.shown}); node-postgres treats sslmode=prefer and require alike: remove sslmode from the URL, or set sslmode=disable, for a server without SSL`, opts);
  }
  if (/timeout expired/i.test(m) && !connected) {
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: PostgreSQL at ${target.shown} did not answer the connection within ${CONNECT_TIMEOUT_MS / 1000} s (${m}); is the server running and reachable, and is ${target.server} right?`, opts);
  }
  if (isConnectionLost(err)) {
    // Never connected: the server (or something in between) closed the connection before it was ready.
    if (!connected) return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: PostgreSQL at ${target.shown} closed the connection before it was ready (${m}); is ${target.server} the server's address, and does nothing in between (a proxy, a firewall) cut it?`, opts);
    return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: the connection to PostgreSQL at ${target.shown} was lost and not regained within ${RECOVER_MS / 1000} s: ${m}`, opts);
  }
  return new NuvomError('NUVOM_E_STORAGE', `${what}: PostgreSQL error${code ? ` ${code}` : ''}: ${m}`, opts);
}

/** 42P05 already exists, 26000 does not exist, 08P01 a Bind that does not fit the statement of that name. */
const PREPARED_LOST = new Set(['42P05', '26000', '08P01']);

/** A pooler (PgBouncer) refused a startup parameter nuvom's connections send: which setting to change. */
function startupParameterRefused(what: string, param: string, target: PgTarget, opts: { plugin: string; cause: unknown; details: Record<string, unknown> }): NuvomError {
  const fix = param === 'options'
    ? `PgBouncer does not pass \`options\` (PGOPTIONS, or options= in ${target.server}): remove it, and set those settings for nuvom's user instead (ALTER ROLE <user> SET <name> = <value>)`
    : `add it to PgBouncer's ignore_startup_parameters (ignore_startup_parameters = extra_float_digits,idle_in_transaction_session_timeout) and use pool_mode = session; the server then does not get nuvom's ${IDLE_IN_TX_TIMEOUT_MS / 1000} s idle_in_transaction_session_timeout, so set it for nuvom's user (ALTER ROLE <user> SET idle_in_transaction_session_timeout = '${IDLE_IN_TX_TIMEOUT_MS / 1000}s')`;
  return new NuvomError('NUVOM_E_STORAGE_UNREACHABLE', `${what}: the connection to ${target.shown} was refused by a connection pooler in front of PostgreSQL (PgBouncer): unsupported startup parameter ${param}; ${fix}`, opts);
}

/**
 * The connection goes through a pooler that runs its statements on any server session (PgBouncer's
 * pool_mode = transaction or statement): nuvom's named statements, LISTEN and the claim connection's
 * settings need a session of their own. `seen` says how it showed.
 */
export function sessionlessPooler(what: string, target: PgTarget, seen: string, cause?: unknown): NuvomError {
  return new NuvomError('NUVOM_E_CONFIG', `${what}: the connection to ${target.shown} goes through a pooler that does not keep a session (PgBouncer with pool_mode = transaction or statement: ${seen}); nuvom needs a server session per connection (its prepared statements, LISTEN, the claim connection's settings): set pool_mode = session for this database in PgBouncer, or point ${target.server} at PostgreSQL itself`, { plugin: PLUGIN_NAME, cause, details: { pgCode: (cause as { code?: string } | undefined)?.code } });
}

/** The parts of a pg.Client checkSession uses. */
export interface SessionProbe {
  connect(): Promise<unknown>;
  query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<unknown>;
}

/**
 * Refuses (NUVOM_E_CONFIG) a connection whose statements do not all run in one server session: a
 * pooler in transaction or statement mode (PgBouncer), which would run nuvom's prepared statements on
 * sessions that do not have them, or that have another process's under the same name. Looked for only
 * when the session does not have the idle_in_transaction_session_timeout nuvom asked for at connect
 * (a pooler dropped the startup parameter: PgBouncer's ignore_startup_parameters); then a second
 * connection (`other`) opens a transaction, which a transaction pooler gives the session `own` just
 * used, and `own` is asked for its session again. Any failure of the second connection but a pooler's
 * refusal is ignored (the check is a courtesy; the statements' own errors say the same, pgError).
 */
export async function checkSession(own: { query(text: string): Promise<{ rows: Array<Record<string, unknown>> }> }, other: () => Promise<SessionProbe>, target: PgTarget, what = 'connecting'): Promise<void> {
  const first = await own.query(`SELECT pg_backend_pid() AS pid, current_setting('idle_in_transaction_session_timeout')::interval = interval '${IDLE_IN_TX_TIMEOUT_MS} ms' AS asked`);
  const { pid, asked } = first.rows[0] as { pid: number; asked: boolean };
  if (asked) return;
  let probe: SessionProbe | null = null;
  try {
    probe = await other();
    await probe.connect();
    await probe.query('BEGIN');
    const theirs = Number((await probe.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const again = Number((await own.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    if (theirs === Number(pid) || again !== Number(pid)) {
      throw sessionlessPooler(what, target, theirs === Number(pid)
        ? `another connection's transaction ran in server session ${pid}, which this connection had just used`
        : `one connection's statements ran in server sessions ${pid}, then ${again}`);
    }
  } catch (err) {
    if (isNuvomError(err)) throw err;
    if (/pooling mode/i.test(messageOf(err))) throw sessionlessPooler(what, target, messageOf(err), err);
  } finally {
    if (probe) await probe.end().catch(() => undefined);
  }
}

/**
 * Awaits `ending` (a pool's or a client's end(), which waits for the server to close each socket) at
 * most `ms`; past it (a stalled network: no FIN will come), `cut()` destroys the sockets and the end
 * is awaited then. `ending` must not reject.
 */
export async function endOrCut(ending: Promise<unknown>, ms: number, cut: () => void): Promise<void> {
  await withTimeout(() => ending, ms, () => new Error('late')).catch(() => {
    cut();
    return ending;
  });
}
