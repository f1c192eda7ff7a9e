/**
 * The PostgreSQL queue: the queue part (q_* columns) of each `jobs` row (schema.ts).
 *
 * Claim is one statement: the best waiting rows whose run_at has come (priority DESC, then insertion
 * order) and the rows whose lease ran out (a redelivery) are picked FOR UPDATE SKIP LOCKED and
 * leased in one statement, so claimers on many hosts never wait for each other nor share a row. "Holds" (ack, retry, release, renew) require worker_id to still name the worker, so a
 * worker that lost its lease to another writes nothing (fencing); the job store (job-store.ts) stores
 * outcomes only for jobs the worker holds.
 * Wake-ups: an INSERT trigger NOTIFYs `<schema>_jobs` at commit (also for jobs enqueued in the app's
 * own transaction); retry/release/cancel NOTIFY too. subscribe() LISTENs, and is also called after the
 * LISTEN connection comes back, so a missed notification costs at most the worker's poll.
 * Must never: hand one job to two claimers while its lease holds; drop a job on a failed write.
 */
import {
  NuvomError, claimArgs, duplicateJob, renewArgs, type CancelOutcome, type ClaimOptions, type ClaimedJob, type Clock, type JobOptions, type Logger,
  type Queue, type QueueCounts, type QueuedJob, type RenewResult,
} from '../../sdk/plugin.ts';
import { acquireDb, pgError, type PgDb, type PgLease, type Queryable } from './db.ts';
import { removeQueued, toBuf, toBytes, writeRecords, type RecordRow } from './rows.ts';
import { PLUGIN_NAME, type PostgresSettings } from './settings.ts';

export interface PgQueueOptions {
  settings: PostgresSettings;
  clock?: Clock;
  logger?: Logger;
}

/** Per-call options of the enqueue methods: `tx`, the application's own pg client inside its transaction. */
export interface PgEnqueueOptions {
  tx?: unknown;
}

interface QueueRow {
  id: string;
  task_name: string;
  args: Buffer;
  priority: number;
  run_at: number;
  q_attempts: number;
  created_at: number;
  options: string;
  meta: string;
  worker_id?: string;
  lease_expires_at?: number;
  redelivered?: boolean;
}

const Q_COLS = 'id, task_name, args, priority, run_at, q_attempts, created_at, options, meta';

export class PgQueue implements Queue {
  private readonly lease: PgLease;
  /** @internal */
  readonly db: PgDb;
  private readonly clock: Clock;
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;

  constructor(opts: PgQueueOptions) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.lease = acquireDb(opts.settings, opts.logger);
    this.db = this.lease.db;
  }

  async enqueue(job: QueuedJob): Promise<void> {
    await this.enqueueMany([job]);
  }

  async enqueueMany(jobs: QueuedJob[], opts: PgEnqueueOptions = {}): Promise<void> {
    this.live();
    if (jobs.length === 0) return;
    checkRepeats(jobs);
    const params = jobParams(jobs);
    const sql = this.insertSql(false);
    if (opts.tx !== undefined) return this.onAppTx(opts.tx, 'enqueue', (c) => c.query(sql, params).then(() => undefined), jobs);
    await this.idempotent('enqueue', jobs, (c) => c.query(sql, params));
  }

  /**
   * Records and jobs as one write (JobStore.enqueue): a single INSERT of whole rows when the records
   * carry no attempts (what the dispatcher writes), else one transaction. With `tx` it runs on the
   * application's client, inside its transaction: the jobs exist if and only if that transaction commits.
   * @internal
   */
  async enqueueRows(jobs: QueuedJob[], rows: RecordRow[], tx?: unknown): Promise<void> {
    this.live();
    if (jobs.length === 0 && rows.length === 0) return;
    checkRepeats(jobs);
    const aligned = rows.length === jobs.length && rows.every((r, i) => r.id === jobs[i].id && r.incoming === '[]');
    const s = this.db.s;
    let write: (c: Queryable) => Promise<unknown>;
    if (aligned) {
      const params = [...jobParams(jobs), ...RECORD_INSERT_COLS.map((col) => rows.map((r, i) => (col === 'r_args' ? (toBuf(jobs[i].args).equals(r.args) ? null : r.args) : r[col as keyof RecordRow])))];
      const sql = this.insertSql(true);
      write = (c) => c.query(sql, params);
    } else {
      const params = jobParams(jobs);
      const sql = this.insertSql(false);
      write = async (c) => {
        await writeRecords(c, s, rows);
        if (jobs.length) await c.query(sql, params);
      };
    }
    if (tx !== undefined) return this.onAppTx(tx, 'enqueue', write, jobs);
    await this.idempotent('enqueue', jobs, write, !aligned);
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    return this.claimWith(opts, false);
  }

  /**
   * The claim statement; with `running`, the claimed rows' records become RUNNING in the same UPDATE
   * (JobStore.claim): an overtaken RUNNING attempt is appended to the history as LOST, in SQL.
   */
  async claimWith(opts: ClaimOptions, running: boolean): Promise<ClaimedJob[]> {
    this.live();
    const { now, max } = claimArgs(opts, this.clock, PLUGIN_NAME);
    if (max === 0) return [];
    const s = this.db.s;
    // Waiting rows and rows whose lease ran out, each picked from its own partial index; the best
    // `max` of both are leased. Rows locked but not chosen are let go when the statement commits.
    const { rows } = await this.db.query<QueueRow & { seq: number }>('claiming jobs',
      `WITH w AS (
         SELECT id, false AS redelivered, priority, seq FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at <= $1
          ORDER BY priority DESC, seq LIMIT $2 FOR UPDATE SKIP LOCKED),
       x AS (
         SELECT id, true AS redelivered, priority, seq FROM ${s}.jobs WHERE q_state = 'leased' AND lease_expires_at <= $1
          ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
       picked AS (SELECT * FROM w UNION ALL SELECT * FROM x ORDER BY priority DESC, seq LIMIT $2)
       UPDATE ${s}.jobs AS j SET q_state = 'leased', worker_id = $3, lease_expires_at = $4, q_attempts = j.q_attempts + 1${running ? RUNNING_SET : ''}
         FROM picked, ${ASYNC_COMMIT} WHERE j.id = picked.id
       RETURNING j.id, j.task_name, j.args, j.priority, j.run_at, j.q_attempts, j.created_at, j.options, j.meta, j.seq, j.lease_expires_at, picked.redelivered`,
      [now, max, opts.workerId, now + opts.leaseMs]);
    rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    return rows.map((row) => ({ ...toJob(row), workerId: opts.workerId, leaseExpiresAt: row.lease_expires_at as number, redelivered: row.redelivered === true }));
  }

  async renew(ids: string[], workerId: string, leaseMs: number, now?: number): Promise<RenewResult> {
    this.live();
    renewArgs(ids, workerId, leaseMs, PLUGIN_NAME);
    if (ids.length === 0) return { held: [], cancelled: [] };
    const at = now ?? this.clock.now();
    const { rows } = await this.db.query<{ id: string; cancel_requested: boolean }>('renewing leases',
      `UPDATE ${this.db.s}.jobs SET q_state = 'leased', lease_expires_at = $3 FROM ${ASYNC_COMMIT}
        WHERE id = ANY($1::text[]) AND worker_id = $2 AND q_state = 'leased' RETURNING id, cancel_requested`,
      [[...new Set(ids)], workerId, at + leaseMs]);
    return { held: rows.map((r) => r.id), cancelled: rows.filter((r) => r.cancel_requested).map((r) => r.id) };
  }

  async ack(id: string, workerId: string): Promise<void> {
    await this.ackMany([id], workerId);
  }

  async ackMany(ids: string[], workerId: string): Promise<void> {
    this.live();
    if (ids.length === 0) return;
    await this.db.tx('ack', (c) => removeQueued(c, this.db.s, ids, workerId));
  }

  async retry(id: string, workerId: string, runAt: number): Promise<void> {
    this.live();
    await this.db.query('retry',
      `WITH u AS (UPDATE ${this.db.s}.jobs SET q_state = 'waiting', worker_id = NULL, lease_expires_at = NULL, run_at = $3
                   WHERE id = $1 AND worker_id = $2 AND q_state IS NOT NULL RETURNING 1)
       SELECT pg_notify($4, '') FROM u`, [id, workerId, runAt, this.db.jobsChannel]);
  }

  async release(id: string, workerId: string): Promise<void> {
    this.live();
    await this.db.query('release',
      `WITH u AS (UPDATE ${this.db.s}.jobs SET q_state = 'waiting', worker_id = NULL, lease_expires_at = NULL, q_attempts = GREATEST(q_attempts - 1, 0)
                   WHERE id = $1 AND worker_id = $2 AND q_state IS NOT NULL RETURNING 1)
       SELECT pg_notify($3, '') FROM u`, [id, workerId, this.db.jobsChannel]);
  }

  async fail(id: string, workerId: string): Promise<void> {
    await this.ackMany([id], workerId);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    this.live();
    const s = this.db.s;
    const now = this.clock.now();
    return this.db.tx('cancel', async (c) => {
      const { rows } = await c.query<{ q_state: string; lease_expires_at: number | null }>(`SELECT q_state, lease_expires_at FROM ${s}.jobs WHERE id = $1 AND q_state IS NOT NULL FOR UPDATE`, [id]);
      const row = rows[0];
      if (!row) return 'absent';
      if (row.q_state === 'leased' && row.lease_expires_at !== null && row.lease_expires_at > now) {
        await c.query(`UPDATE ${s}.jobs SET cancel_requested = true WHERE id = $1`, [id]);
        await c.query('SELECT pg_notify($1, \'\')', [this.db.jobsChannel]);
        return 'signalled';
      }
      await removeQueued(c, s, [id], null);
      return 'removed';
    });
  }

  async cancelRequested(ids: string[]): Promise<string[]> {
    this.live();
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<{ id: string }>('reading cancel requests',
      `SELECT id FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL AND cancel_requested`, [ids]);
    const set = new Set(rows.map((r) => r.id));
    return ids.filter((id) => set.has(id));
  }

  async get(id: string): Promise<QueuedJob | null> {
    this.live();
    const { rows } = await this.db.query<QueueRow>('reading a job', `SELECT ${Q_COLS} FROM ${this.db.s}.jobs WHERE id = $1 AND q_state IS NOT NULL`, [id]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  async counts(now?: number): Promise<QueueCounts> {
    this.live();
    const at = now ?? this.clock.now();
    const s = this.db.s;
    const { rows } = await this.db.query<QueueCounts>('counting jobs',
      `SELECT (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at <= $1)
            + (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'leased' AND lease_expires_at <= $1) AS ready,
              (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at > $1) AS delayed,
              (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'leased' AND lease_expires_at > $1) AS leased`, [at]);
    const r = rows[0];
    return { ready: Number(r.ready), delayed: Number(r.delayed), leased: Number(r.leased) };
  }

  async qsize(): Promise<number> {
    this.live();
    const { rows } = await this.db.query<{ n: number }>('counting jobs', `SELECT count(*) AS n FROM ${this.db.s}.jobs WHERE q_state IS NOT NULL`);
    return Number(rows[0].n);
  }

  async nextRunAt(): Promise<number | null> {
    this.live();
    const { rows } = await this.db.query<{ m: number | null }>('reading the next run time', `SELECT min(run_at) AS m FROM ${this.db.s}.jobs WHERE q_state = 'waiting'`);
    return rows[0].m === null ? null : Number(rows[0].m);
  }

  async clear(): Promise<void> {
    this.live();
    const s = this.db.s;
    await this.db.query('clearing the queue',
      `WITH gone AS (DELETE FROM ${s}.jobs WHERE q_state IS NOT NULL AND status IS NULL RETURNING 1)
       UPDATE ${s}.jobs SET q_state = NULL, worker_id = NULL, lease_expires_at = NULL, cancel_requested = false WHERE q_state IS NOT NULL AND status IS NOT NULL`);
  }

  subscribe(onChange: () => void): () => void {
    this.live();
    const off = this.db.listen(this.db.jobsChannel, () => onChange());
    const unsubscribe = () => {
      this.unsubscribers.delete(unsubscribe);
      off();
    };
    this.unsubscribers.add(unsubscribe);
    return unsubscribe;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of [...this.unsubscribers]) off();
    await this.lease.release();
  }

  /** INSERT of queue rows ($1..$9), with the record columns after them when `withRecords`; all or none. */
  private insertSql(withRecords: boolean): string {
    const s = this.db.s;
    const qCols = ['id', 'task_name', 'args', 'priority', 'run_at', 'q_attempts', 'created_at', 'options', 'meta'];
    const qTypes = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int8', 'text', 'text'];
    const rCols = withRecords ? RECORD_INSERT_COLS : [];
    const rTypes = withRecords ? RECORD_INSERT_TYPES : [];
    const all = [...qCols, ...rCols];
    const types = [...qTypes, ...rTypes];
    const unnest = `unnest(${all.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ')}) AS u(${all.join(', ')})`;
    const setQueue = `q_state = 'waiting', run_at = excluded.run_at, q_attempts = excluded.q_attempts, options = excluded.options, meta = excluded.meta,
                      worker_id = NULL, lease_expires_at = NULL, cancel_requested = false,
                      task_name = excluded.task_name, priority = excluded.priority, created_at = excluded.created_at`;
    // A row that holds only a record (written first) gets its queue part; its record keeps its own args.
    const keepRecordArgs = withRecords
      ? 'args = excluded.args, r_args = excluded.r_args'
      : 'args = excluded.args, r_args = CASE WHEN jobs.status IS NULL OR jobs.args = excluded.args THEN jobs.r_args ELSE COALESCE(jobs.r_args, jobs.args) END';
    const setRecord = withRecords ? `, ${rCols.filter((c) => c !== 'r_args').map((c) => `${c} = excluded.${c}`).join(', ')}` : '';
    return `WITH ins AS (
      INSERT INTO ${s}.jobs (${all.join(', ')}, q_state)
      SELECT ${all.map((c) => `u.${c}`).join(', ')}, 'waiting' FROM ${unnest}
      ON CONFLICT (id) DO UPDATE SET ${setQueue}, ${keepRecordArgs}${setRecord}
        WHERE jobs.q_state IS NULL
      RETURNING 1)
    SELECT ${s}.expect_rows((SELECT count(*) FROM ins), ${'$' + (all.length + 1)}::int)`;
  }

  /**
   * Runs an enqueue (in a transaction when `inTx`), retried on a lost connection; a duplicate id is
   * NUVOM_E_DUPLICATE_JOB, except on a retry that finds every job queued: the lost try had committed.
   */
  private async idempotent(what: string, jobs: QueuedJob[], write: (c: Queryable) => Promise<unknown>, inTx = false): Promise<void> {
    const withCount = (c: Queryable): Queryable => ({ query: (t: string, v?: unknown[]) => c.query(t, v && t.includes('expect_rows') ? [...v, jobs.length] : v) } as Queryable);
    let retried = false;
    await this.db.open();
    try {
      await this.db.recovering(what, async (attempt) => {
        retried ||= attempt > 0;
        if (inTx) await this.db.txOnce((c) => write(withCount(c)));
        else await write(withCount({ query: (t: string, v?: unknown[]) => this.db.rawQuery(t, v) } as Queryable));
      });
    } catch (err) {
      if (isDuplicate(err)) {
        if (retried && await this.allQueued(jobs)) return;
        throw await this.duplicateError(jobs, err);
      }
      throw err;
    }
  }

  /** The application's client: its transaction decides. Its errors are mapped, never retried. */
  private async onAppTx(tx: unknown, what: string, write: (c: Queryable) => Promise<unknown>, jobs: QueuedJob[]): Promise<void> {
    if (!tx || typeof (tx as Queryable).query !== 'function') {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `the tx option must be a pg client (a pg.Client or a client from pool.connect()) inside the application's transaction, got ${tx === null ? 'null' : typeof tx}`, { plugin: PLUGIN_NAME });
    }
    const app = tx as Queryable;
    const c = { query: (t: string, v?: unknown[]) => app.query(t, v && t.includes('expect_rows') ? [...v, jobs.length] : v) } as Queryable;
    await this.db.open();
    try {
      await write(c);
    } catch (err) {
      if (isDuplicate(err)) throw await this.duplicateError(jobs, err);
      throw pgError(err, `${what} (in the application's transaction)`, this.db.target);
    }
  }

  private async allQueued(jobs: QueuedJob[]): Promise<boolean> {
    const { rows } = await this.db.query<{ n: number }>('enqueue', `SELECT count(*) AS n FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL`, [jobs.map((j) => j.id)]);
    return Number(rows[0].n) === jobs.length;
  }

  private async duplicateError(jobs: QueuedJob[], cause: unknown): Promise<NuvomError> {
    let ids: string[] = [];
    try {
      const { rows } = await this.db.query<{ id: string }>('enqueue', `SELECT id FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL LIMIT 5`, [jobs.map((j) => j.id)]);
      ids = rows.map((r) => r.id);
    } catch { /* the message goes without the ids */ }
    if (ids.length) {
      const err = duplicateJob(ids[0], PLUGIN_NAME);
      (err as { cause?: unknown }).cause = cause;
      return err;
    }
    return new NuvomError('NUVOM_E_DUPLICATE_JOB', 'a job id of this batch is already in the queue; give the job a new id, or wait until it has left the queue (finished or cancelled) before queuing it again; nothing was enqueued', { plugin: PLUGIN_NAME, cause });
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL queue is closed; resolve the queue service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

/*
 * Joined into the claim and renew statements: their own (autocommit) transaction commits without
 * waiting for the WAL flush (synchronous_commit = off, this transaction only). Losing one to a server
 * crash is harmless: the job is simply claimable again, as after an expired lease, which at-least-once
 * delivery allows. Enqueues and outcomes keep the server's setting (durable at commit).
 */
const ASYNC_COMMIT = `(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit`;

const ISO = (ms: string) => `to_char(to_timestamp((${ms})::float8 / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/* The RUNNING record of a claim ($1 = now, $3 = worker), for rows that have a record (status NOT NULL). */
const RUNNING_SET = `,
  history = CASE WHEN j.status = 'RUNNING' AND j.q_attempts + 1 > j.attempts THEN (
      SELECT jsonb_agg(e ORDER BY i)::text FROM jsonb_array_elements(COALESCE(j.history, '[]')::jsonb || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempts, 'startedAt', CASE WHEN j.started_at IS NULL THEN NULL ELSE ${ISO('j.started_at')} END, 'endedAt', ${ISO('$1')},
        'outcome', 'LOST', 'error', NULL, 'workerId', j.r_worker_id, 'threadId', NULL))) WITH ORDINALITY AS t(e, i)
      WHERE i > jsonb_array_length(COALESCE(j.history, '[]')::jsonb) + 1 - 25)
    ELSE j.history END,
  status = CASE WHEN j.status IS NULL THEN NULL ELSE 'RUNNING' END,
  attempts = CASE WHEN j.status IS NULL THEN NULL ELSE j.q_attempts + 1 END,
  retries_left = CASE WHEN j.status IS NULL THEN NULL ELSE GREATEST(0, LEAST(j.max_retries, j.max_retries - GREATEST(0, j.q_attempts))) END,
  started_at = CASE WHEN j.status IS NULL THEN NULL ELSE $1::int8 END,
  completed_at = NULL, next_run_at = NULL, result = NULL, error = NULL,
  r_worker_id = CASE WHEN j.status IS NULL THEN NULL ELSE $3 END`;

const RECORD_INSERT_COLS = ['status', 'r_task_name', 'r_args', 'r_priority', 'r_created_at', 'attempts', 'max_retries', 'retries_left', 'tags',
  'started_at', 'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'r_worker_id'];
const RECORD_INSERT_TYPES = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int', 'int', 'text', 'int8', 'int8', 'int8', 'bytea', 'text', 'float8', 'text', 'text'];

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

function jobParams(jobs: QueuedJob[]): unknown[][] {
  return [
    jobs.map((j) => j.id), jobs.map((j) => j.taskName), jobs.map((j) => toBuf(j.args)), jobs.map((j) => j.priority), jobs.map((j) => j.runAt),
    jobs.map((j) => j.attempts), jobs.map((j) => j.createdAt), jobs.map((j) => JSON.stringify(j.options)), jobs.map((j) => JSON.stringify(j.meta ?? {})),
  ];
}

const DAMAGED_OPTIONS: JobOptions = Object.freeze({ maxRetries: 0, retryDelaySecs: 5, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] }) as JobOptions;

function readObject<T>(text: string, what: string, id: string, fallback: T, damage: string[]): T {
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as T;
    damage.push(`the stored ${what} of job ${id} is not an object`);
  } catch (err) {
    damage.push(`the stored ${what} of job ${id} is not valid JSON: ${(err as Error).message}`);
  }
  return fallback;
}

function toJob(row: QueueRow): QueuedJob {
  const damage: string[] = [];
  const options = readObject<JobOptions>(row.options, 'options', row.id, { ...DAMAGED_OPTIONS, tags: [] }, damage);
  const meta = readObject<Record<string, unknown>>(row.meta, 'meta', row.id, {}, damage);
  const job: QueuedJob = {
    id: row.id, taskName: row.task_name, args: toBytes(row.args), priority: row.priority, runAt: Number(row.run_at),
    attempts: row.q_attempts, createdAt: Number(row.created_at), options, meta,
  };
  if (damage.length) job.damaged = damage.join('; ');
  return job;
}

/** @internal */
export { isConnectionLost } from './db.ts';
