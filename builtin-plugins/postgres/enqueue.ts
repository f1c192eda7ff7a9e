/**
 * Enqueue writes of the PostgreSQL queue (queue.ts) and job store: one INSERT per batch (whole rows
 * with their records when the job store writes both), checked to insert every row (expect_rows) so a
 * duplicate id refuses the whole batch. A batch of one is a VALUES row (a delay()); a larger one
 * selects FROM unnest() of the columns its rows do not share (a map(): ids and arguments). Outside a
 * transaction a batch tries a plain INSERT before the upsert (ON CONFLICT's speculative insertion and
 * the expect_rows CTE cost ~2.5 µs of server CPU per row, and a delay() ~15 µs a call; an id already in
 * the table fails it whole, 23505, and takes the upsert's second trip); so does a delay() whose id the
 * dispatcher made (idGenerated: no other job holds it). A delay() with a caller-chosen id goes as the
 * upsert at once: met again (an idempotency key), it fails no statement, so the server logs no ERROR.
 * Without `tx` a write lost with its connection is retried, unless the lost try had committed: its
 * rows are there with the batch's ids and creation times (a worker may have finished them already);
 * with `tx` it runs on the application's client and that transaction decides.
 * Must never: enqueue part of a batch, or report a duplicate for a batch its own lost try wrote.
 */
import { NuvomError, duplicateJob, idGenerated, messageOf, type QueuedJob } from '../../sdk/plugin.ts';
import { pgError, type PgDb, type Queryable } from './db.ts';
import { compact, type Column } from './batch-params.ts';
import { toBuf, writeRecords, type RecordRow } from './rows.ts';
import { NO_SUCH_RELATION } from './schema.ts';
import { PLUGIN_NAME } from './settings.ts';

export class PgEnqueue {
  /** The INSERT texts by (queue rows only | with records) and shape, built once each. */
  private readonly sql = new Map<string, string>();

  constructor(private readonly db: PgDb) {}

  async jobs(jobs: QueuedJob[], tx?: unknown): Promise<void> {
    if (jobs.length === 0) return;
    checkRepeats(jobs);
    if (jobs.length > MAX_ROWS_PER_STATEMENT) {
      const insert = this.chunked(jobs, null);
      if (tx !== undefined) return this.onAppTx(tx, 'enqueue', insert, jobs);
      return this.idempotent('enqueue', jobs, insert, true);
    }
    const insert = this.insert(jobs, null, tx !== undefined);
    if (tx !== undefined) return this.onAppTx(tx, 'enqueue', (c) => insert(c).then(() => undefined), jobs);
    await this.idempotent('enqueue', jobs, insert);
  }

  /**
   * A batch larger than MAX_ROWS_PER_STATEMENT as one INSERT (upsert, counted) per slice, run in one
   * transaction by the caller: all or none as one statement would be, and no statement long enough to
   * meet a server's statement_timeout (100,000 jobs were one 2.8 s statement).
   */
  private chunked(jobs: QueuedJob[], rows: RecordRow[] | null): (c: Queryable) => Promise<void> {
    const parts: Array<(c: Queryable) => Promise<unknown>> = [];
    for (let i = 0; i < jobs.length; i += MAX_ROWS_PER_STATEMENT) {
      const end = Math.min(jobs.length, i + MAX_ROWS_PER_STATEMENT);
      parts.push(this.insert(jobs.slice(i, end), rows ? rows.slice(i, end) : null, true));
    }
    return async (c) => {
      for (const part of parts) await part(c);
    };
  }

  /**
   * Records and jobs as one write (JobStore.enqueue): a single INSERT of whole rows when the records
   * carry no attempts (what the dispatcher writes), else one transaction. With `tx` it runs on the
   * application's client, inside its transaction: the jobs exist if and only if that transaction commits.
   */
  async rows(jobs: QueuedJob[], rows: RecordRow[], tx?: unknown): Promise<void> {
    if (jobs.length === 0 && rows.length === 0) return;
    checkRepeats(jobs);
    const aligned = rows.length === jobs.length && rows.every((r, i) => r.id === jobs[i].id && r.incoming === '[]');
    const s = this.db.s;
    let write: (c: Queryable) => Promise<unknown>;
    if (aligned && jobs.length > MAX_ROWS_PER_STATEMENT) {
      const insert = this.chunked(jobs, rows);
      if (tx !== undefined) return this.onAppTx(tx, 'enqueue', insert, jobs);
      return this.idempotent('enqueue', jobs, insert, true);
    }
    if (aligned) {
      write = this.insert(jobs, rows, tx !== undefined);
    } else {
      const insert = jobs.length ? this.insert(jobs, null, true) : null;
      write = async (c) => {
        await writeRecords(c, s, rows);
        if (insert) await insert(c);
      };
    }
    if (tx !== undefined) return this.onAppTx(tx, 'enqueue', write, jobs);
    await this.idempotent('enqueue', jobs, write, !aligned);
  }

  /**
   * The INSERT of `jobs` (with `rows`, their records, when given), all or none. Outside a transaction
   * it first goes as a plain INSERT (see the top of this file) and, when an id is already in the
   * table, as the upsert (a batch of one checked by its row count, a larger one by expect_rows), which
   * requeues a finished job's id and refuses a queued one (expect_rows). `inTx`: the upsert at once,
   * with expect_rows, so a duplicate aborts the transaction it runs in (the application's too).
   */
  private insert(jobs: QueuedJob[], rows: RecordRow[] | null, inTx: boolean): (c: Queryable) => Promise<unknown> {
    const withRecords = rows !== null;
    if (jobs.length === 1) {
      const params = oneRow(jobs[0], rows ? rows[0] : null);
      if (inTx) {
        const counted = this.insertSql(withRecords, ONE_COUNTED);
        return (c) => c.query(counted, [...params, 1]);
      }
      const sql = this.insertSql(withRecords, ONE);
      const plain = idGenerated(jobs[0]) ? this.insertSql(withRecords, ONE, true) : null;
      return async (c) => {
        if (plain !== null) {
          // A fresh id skips the upsert's speculative insertion; one already there (a lost answer's
          // own row: see idempotent) fails it, 23505, and takes the upsert's trip.
          try {
            await c.query(plain, params);
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== '23505') throw err;
          }
        }
        const { rowCount } = await c.query(sql, params);
        // ON CONFLICT ... WHERE found the id queued: nothing was written (as expect_rows would have raised).
        if (rowCount !== 1) throw Object.assign(new Error(`nuvom: job ${jobs[0].id} already queued`), { code: '23505' });
      };
    }
    const cols = rows ? [...queueColumns(jobs), ...recordColumns(jobs, rows)] : queueColumns(jobs);
    let { shape, params } = compact(jobs.length, cols);
    // Past MAX_SHAPES statements (a batch seldom varies in more than its ids and arguments) a new shape
    // goes with every column as an array.
    if (this.sql.size >= MAX_SHAPES && !this.sql.has(sqlKey(withRecords, shape, false))) {
      shape = 'a'.repeat(cols.length);
      params = cols.map((col) => Array.from({ length: jobs.length }, (_, i) => col(i)));
    }
    const upsert = this.insertSql(withRecords, shape);
    // The upsert checks its own row count (expect_rows, its last parameter).
    const counted = [...params, jobs.length];
    if (inTx) return (c) => c.query(upsert, counted);
    const plain = this.insertSql(withRecords, shape, true);
    return async (c) => {
      try {
        await c.query(plain, params);
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        await c.query(upsert, counted);
      }
    };
  }

  /**
   * INSERT of queue rows ($1..$9), with the record columns after them when `withRecords`; all or none.
   * `shape` (see compact): one VALUES row, or per column an array to unnest or one value for every row.
   */
  private insertSql(withRecords: boolean, shape: string, plain = false): string {
    const key = sqlKey(withRecords, shape, plain);
    const cached = this.sql.get(key);
    if (cached !== undefined) return cached;
    const s = this.db.s;
    const qCols = ['id', 'task_name', 'args', 'priority', 'run_at', 'q_attempts', 'created_at', 'options', 'meta'];
    const qTypes = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int8', 'text', 'text'];
    const rCols = withRecords ? RECORD_INSERT_COLS : [];
    const rTypes = withRecords ? RECORD_INSERT_TYPES : [];
    const all = [...qCols, ...rCols];
    const types = [...qTypes, ...rTypes];
    let source: string;
    if (shape === ONE || shape === ONE_COUNTED) {
      source = `VALUES (${all.map((_, i) => `$${i + 1}::${types[i]}`).join(', ')}, 'waiting')`;
    } else {
      const arrays = all.map((c, i) => [c, i] as const).filter(([, i]) => shape[i] === 'a');
      source = `SELECT ${all.map((c, i) => (shape[i] === 'a' ? `u.${c}` : `$${i + 1}::${types[i]}`)).join(', ')}, 'waiting'
        FROM unnest(${arrays.map(([, i]) => `$${i + 1}::${types[i]}[]`).join(', ')}) AS u(${arrays.map(([c]) => c).join(', ')})`;
    }
    const setQueue = `q_state = 'waiting', run_at = excluded.run_at, q_attempts = excluded.q_attempts, options = excluded.options, meta = excluded.meta,
                      worker_id = NULL, lease_expires_at = NULL, cancel_requested = false,
                      task_name = excluded.task_name, priority = excluded.priority, created_at = excluded.created_at`;
    // A row that holds only a record (written first) gets its queue part; its record keeps its own args.
    const keepRecordArgs = withRecords
      ? 'args = excluded.args, r_args = excluded.r_args'
      : 'args = excluded.args, r_args = CASE WHEN jobs.status IS NULL OR jobs.args = excluded.args THEN jobs.r_args ELSE COALESCE(jobs.r_args, jobs.args) END';
    const setRecord = withRecords ? `, ${rCols.filter((c) => c !== 'r_args').map((c) => `${c} = excluded.${c}`).join(', ')}` : '';
    const into = `INSERT INTO ${s}.jobs (${all.join(', ')}, q_state)
      ${source}`;
    if (plain) {
      this.sql.set(key, into);
      return into;
    }
    const insert = `${into}
      ON CONFLICT (id) DO UPDATE SET ${setQueue}, ${keepRecordArgs}${setRecord}
        WHERE jobs.q_state IS NULL`;
    const sql = shape === ONE ? insert : `WITH ins AS (${insert} RETURNING 1)
    SELECT ${s}.expect_rows((SELECT count(*) FROM ins), ${'$' + (all.length + 1)}::int)`;
    this.sql.set(key, sql);
    return sql;
  }

  /**
   * Runs an enqueue (in a transaction when `inTx`), retried on a lost connection; a duplicate id is
   * NUVOM_E_DUPLICATE_JOB, except on a retry that finds every job queued: the lost try had committed.
   */
  private async idempotent(what: string, jobs: QueuedJob[], write: (c: Queryable) => Promise<unknown>, inTx = false): Promise<void> {
    let retried = false;
    await this.db.open();
    try {
      await this.db.recovering(what, async (attempt) => {
        // A try lost with its connection may have committed (only its answer was lost): then its rows
        // are there, with this batch's ids and creation times, and writing again would queue a job a
        // fast worker has finished meanwhile a second time (an upsert requeues a finished id), or
        // refuse the batch as a duplicate of itself.
        if (attempt > 0) {
          retried = true;
          if (await this.landed(jobs)) return;
        }
        if (inTx) await this.db.txOnce((c) => write(c));
        else await write(this.db.direct);
      });
    } catch (err) {
      if (isDuplicate(err)) {
        if (retried && await this.landed(jobs)) return;
        throw await this.duplicateError(jobs, err);
      }
      throw err;
    }
  }

  /**
   * Whether this batch's write has committed: a row holds one of its ids with that job's creation time
   * (the write is all or none, so one is enough; an id reused after its job finished gets the new
   * creation time only from this write). Runs inside the caller's `recovering`.
   */
  private async landed(jobs: QueuedJob[]): Promise<boolean> {
    const { rows } = await this.db.direct.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.db.s}.jobs AS j JOIN unnest($1::text[], $2::int8[]) AS b(id, created_at) ON j.id = b.id AND j.created_at = b.created_at`,
      [jobs.map((j) => j.id), jobs.map((j) => j.createdAt)],
    );
    return Number(rows[0].n) > 0;
  }

  /** The application's client: its transaction decides. Its errors are mapped, never retried. */
  private async onAppTx(tx: unknown, what: string, write: (c: Queryable) => Promise<unknown>, jobs: QueuedJob[]): Promise<void> {
    if (!tx || typeof (tx as Queryable).query !== 'function') {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `the tx option must be a pg client (a pg.Client or a client from pool.connect()) inside the application's transaction, got ${tx === null ? 'null' : typeof tx}`, { plugin: PLUGIN_NAME });
    }
    // A pg.Pool has query() too, but each call takes any of its connections: outside the application's transaction.
    if (typeof (tx as { connect?: unknown }).connect === 'function' && typeof (tx as { totalCount?: unknown }).totalCount === 'number') {
      throw new NuvomError('NUVOM_E_TASK_INVALID', 'the tx option got a pg.Pool: its query() runs on any of its connections, outside your transaction, so the job would not follow it; pass the transaction\'s own client (const c = await pool.connect(); await c.query(\'BEGIN\'); ... { tx: c }); nothing was enqueued', { plugin: PLUGIN_NAME });
    }
    const state = clientState(tx);
    if (state) throw new NuvomError('NUVOM_E_TASK_INVALID', `the tx option got a pg client that ${state}; nothing was enqueued`, { plugin: PLUGIN_NAME });
    const app = tx as Queryable;
    const c = app;
    await this.db.open();
    try {
      await write(c);
    } catch (err) {
      if (isDuplicate(err)) {
        // PostgreSQL aborts the transaction a statement fails in: the application's own work is lost
        // unless it rolls back to a savepoint it set before the enqueue; the message says so. (The
        // lookup naming the id runs on nuvom's pool, which sees only committed jobs.)
        const dup = await this.duplicateError(jobs, err);
        throw new NuvomError('NUVOM_E_DUPLICATE_JOB', `${dup.message.replace(/^\[plugin "[^"]*"\] /, '')}; PostgreSQL has aborted your transaction (roll it back, or set a SAVEPOINT before the enqueue and roll back to it to go on)`, { plugin: PLUGIN_NAME, details: dup.details, cause: err });
      }
      // The application's transaction had already failed (an earlier statement in it): PostgreSQL
      // refuses every statement until a ROLLBACK, the enqueue's too; say so, not a bare 25P02.
      if ((err as { code?: string }).code === '25P02') {
        throw new NuvomError('NUVOM_E_STORAGE', `${what} (in the application's transaction): the transaction is aborted, an earlier statement in it failed, so PostgreSQL runs no other statement in it; roll it back (or back to a SAVEPOINT set before the failure) and enqueue in a new one; nothing was enqueued`, { plugin: PLUGIN_NAME, cause: err, details: { pgCode: '25P02' } });
      }
      // nuvom's schema is migrated where NUVOM_POSTGRES_URL points (db.open above): a missing table
      // here means the application's client is connected to another database.
      if (NO_SUCH_RELATION.has((err as { code?: string }).code ?? '')) {
        throw new NuvomError('NUVOM_E_STORAGE_SCHEMA', `${what} (in the application's transaction): ${messageOf(err)} in the database the application's client is connected to; the tx client must connect to the database nuvom uses (${this.db.target.shown}), where schema ${this.db.schema} is`, { plugin: PLUGIN_NAME, cause: err });
      }
      throw pgError(err, `${what} (in the application's transaction)`, this.db.target);
    }
  }

  private async duplicateError(jobs: QueuedJob[], cause: unknown): Promise<NuvomError> {
    let ids: string[] = [];
    try {
      const { rows } = await this.db.query<{ id: string }>('enqueue', `SELECT id FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL LIMIT 5`, [jobs.map((j) => j.id)]);
      ids = rows.map((r) => r.id);
    } catch { /* the message goes without the ids */ }
    // Not among the committed jobs: queued by the application's own transaction (uncommitted, so only
    // it sees the row). A batch of one names its id all the same.
    if (!ids.length && jobs.length === 1) ids = [jobs[0].id];
    if (ids.length) {
      const err = duplicateJob(ids[0], PLUGIN_NAME);
      (err as { cause?: unknown }).cause = cause;
      return err;
    }
    return new NuvomError('NUVOM_E_DUPLICATE_JOB', 'a job id of this batch is already in the queue; give the job a new id, or wait until it has left the queue (finished or cancelled) before queuing it again; nothing was enqueued', { plugin: PLUGIN_NAME, cause });
  }
}

const RECORD_INSERT_COLS = ['status', 'r_task_name', 'r_args', 'r_priority', 'r_created_at', 'attempts', 'max_retries', 'retries_left', 'tags',
  'started_at', 'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'r_worker_id'];
const RECORD_INSERT_TYPES = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int', 'int', 'text', 'int8', 'int8', 'int8', 'bytea', 'text', 'float8', 'text', 'text'];

/**
 * Why a node-postgres client cannot run the enqueue, from its own flags (null when it can, or when
 * `tx` is another kind of client). A client never connected queues its queries until connect(), which
 * never comes: the enqueue waited forever. A closed one failed as a connection "lost and not regained
 * within 30 s", which it was not.
 */
function clientState(tx: unknown): string | null {
  const c = tx as { _connected?: unknown; _connecting?: unknown; _ending?: unknown };
  if (typeof c._connected !== 'boolean' || typeof c._connecting !== 'boolean' || typeof c._ending !== 'boolean') return null;
  if (c._ending) return 'was closed (client.end()): pass an open client inside your transaction (await client.connect(); await client.query(\'BEGIN\'))';
  if (!c._connected && !c._connecting) return 'is not connected: await client.connect() and client.query(\'BEGIN\') before enqueue({ tx: client })';
  return null;
}

function isDuplicate(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return (err as { code?: string }).code === '23505' || cause?.code === '23505' || (err as { details?: { pgCode?: string } }).details?.pgCode === '23505';
}

function checkRepeats(jobs: QueuedJob[]): void {
  const seen = new Set<string>();
  for (const j of jobs) {
    if (seen.has(j.id)) throw new NuvomError('NUVOM_E_DUPLICATE_JOB', `job ${j.id} appears twice in one enqueue batch; give each job its own id; nothing was enqueued`, { plugin: PLUGIN_NAME, details: { jobId: j.id } });
    seen.add(j.id);
  }
}

/**
 * The shapes of a batch of one: a VALUES row, its count checked by the caller (ONE: an autocommit
 * statement without the CTE and expect_rows, ~25 µs less per delay(), client and server) or in the
 * statement (ONE_COUNTED: inside a transaction, which a duplicate must abort).
 */
const ONE = '1';
const ONE_COUNTED = '1c';
/** The most jobs one INSERT writes; a larger batch is several statements in one transaction (see chunked). */
export const MAX_ROWS_PER_STATEMENT = 10_000;
/** The most statement texts kept (each is a prepared statement on every connection). */
const MAX_SHAPES = 32;

const sqlKey = (withRecords: boolean, shape: string, plain: boolean): string => `${withRecords ? 'r' : 'q'}${plain ? 'p' : 'u'}${shape}`;

/** The queue columns of a batch, in insertSql's order. */
function queueColumns(jobs: QueuedJob[]): Column[] {
  const options = jsonOf();
  const meta = jsonOf();
  return [
    (i) => jobs[i].id, (i) => jobs[i].taskName, (i) => toBuf(jobs[i].args), (i) => jobs[i].priority, (i) => jobs[i].runAt,
    (i) => jobs[i].attempts, (i) => jobs[i].createdAt, (i) => options(jobs[i].options), (i) => meta(jobs[i].meta ?? {}),
  ];
}

/**
 * The parameters of one job's row (a delay()), in insertSql's order: what queueColumns and
 * recordColumns give for row 0, without a closure per column.
 */
function oneRow(job: QueuedJob, row: RecordRow | null): unknown[] {
  const args = toBuf(job.args);
  const q: unknown[] = [job.id, job.taskName, args, job.priority, job.runAt, job.attempts, job.createdAt, JSON.stringify(job.options), JSON.stringify(job.meta ?? {})];
  if (row === null) return q;
  q.push(row.status, row.r_task_name, row.args === job.args || args.equals(row.args) ? null : row.args, row.r_priority, row.r_created_at, row.attempts,
    row.max_retries, row.retries_left, row.tags, row.started_at, row.completed_at, row.next_run_at, row.result, row.error, row.timeout_secs,
    row.timeout_policy, row.r_worker_id);
  return q;
}

/** The record columns of a batch; r_args only when the record's arguments differ from the queued ones. */
function recordColumns(jobs: QueuedJob[], rows: RecordRow[]): Column[] {
  return RECORD_INSERT_COLS.map((col): Column => (col === 'r_args'
    ? (i) => (rows[i].args === jobs[i].args || toBuf(jobs[i].args).equals(rows[i].args) ? null : rows[i].args)
    : (i) => rows[i][col as keyof RecordRow]));
}

/**
 * JSON.stringify for a batch's options (or meta): the jobs of a map() hold equal, not identical,
 * objects, so the last text is reused while the next object has the same keys, in the same order,
 * with identical values (arrays compared element by element). Anything else is stringified.
 */
function jsonOf(): (v: object) => string {
  let last: Record<string, unknown> | undefined;
  let text = '';
  return (v) => {
    if (last !== undefined && (v === last || sameFields(v as Record<string, unknown>, last))) return text;
    last = v as Record<string, unknown>;
    text = JSON.stringify(v);
    return text;
  };
}

function sameFields(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return false;
    const x = a[ka[i]];
    const y = b[ka[i]];
    if (x === y) continue;
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}
