/**
 * The PostgreSQL queue: the queue part (q_* columns) of each `jobs` row (schema.ts).
 *
 * Claim is one statement: the best waiting rows whose run_at has come (priority DESC, then insertion
 * order) and the rows whose lease ran out (a redelivery) are picked FOR UPDATE SKIP LOCKED and
 * leased in one statement (on the claim connection, whose session keeps the plan on the claim index: CLAIM_SESSION),
 * so claimers on many hosts never wait for each other nor share a row. "Holds" (ack, retry, release, renew) require worker_id to still name the worker, so a
 * worker that lost its lease to another writes nothing (fencing); the job store (job-store.ts) stores
 * outcomes only for jobs the worker holds.
 * Wake-ups: an INSERT trigger NOTIFYs `<schema>_jobs` at commit (also for jobs enqueued in the app's
 * own transaction); retry/release/cancel NOTIFY too. subscribe() LISTENs, and is also called after the
 * LISTEN connection comes back, so a missed notification costs at most the worker's poll.
 * Enqueue writes (one INSERT from unnest() per batch, retries, the app's transaction) are in enqueue.ts.
 * Must never: hand one job to two claimers while its lease holds; drop a job on a failed write.
 */
import {
  NuvomError, claimArgs, renewArgs, type CancelOutcome, type ClaimOptions, type ClaimedJob, type Clock, type JobOptions, type Logger,
  type Queue, type QueueCounts, type QueuedJob, type RenewResult,
} from '../../sdk/plugin.ts';
import { acquireDb, type PgDb, type PgLease } from './db.ts';
import { PgEnqueue } from './enqueue.ts';
import { removeQueued, toBytes, type RecordRow } from './rows.ts';
import { PLUGIN_NAME, type ConnectionSettings } from './settings.ts';

export interface PgQueueOptions {
  settings: ConnectionSettings;
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
  redelivered?: boolean;
}

const Q_COLS = 'id, task_name, args, priority, run_at, q_attempts, created_at, options, meta';

export class PgQueue implements Queue {
  private readonly lease: PgLease;
  /** @internal */
  readonly db: PgDb;
  private readonly clock: Clock;
  private readonly writes: PgEnqueue;
  private readonly unsubscribers = new Set<() => void>();
  /**
   * The queue's next run time as read by the last claim that came back short (its statement reads
   * it too), for the nextRunAt() that follows: a worker asks for it after each such claim, and on a
   * quiet queue that was one more round trip a job, sent while the job ran. Taken by that one call;
   * dropped by the next claim and by any notification (a job enqueued, retried, given back),
   * including one that arrives while the claim runs (`notified` counts them).
   */
  private peeked: { at: number | null } | null = null;
  private notified = 0;
  private closed = false;

  constructor(opts: PgQueueOptions) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.lease = acquireDb(opts.settings, opts.logger);
    this.db = this.lease.db;
    this.writes = new PgEnqueue(this.db);
  }

  async enqueue(job: QueuedJob): Promise<void> {
    await this.enqueueMany([job]);
  }

  async enqueueMany(jobs: QueuedJob[], opts: PgEnqueueOptions = {}): Promise<void> {
    this.live();
    await this.writes.jobs(jobs, opts.tx);
  }

  /**
   * Records and jobs as one write (JobStore.enqueue): a single INSERT of whole rows when the records
   * carry no attempts (what the dispatcher writes), else one transaction. With `tx` it runs on the
   * application's client, inside its transaction: the jobs exist if and only if that transaction commits.
   * @internal
   */
  async enqueueRows(jobs: QueuedJob[], rows: RecordRow[], tx?: unknown): Promise<void> {
    this.live();
    await this.writes.rows(jobs, rows, tx);
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
    const leaseExpiresAt = now + opts.leaseMs;
    this.peeked = null;
    const notified = this.notified;
    const { rows } = await this.db.claimQuery<QueueRow & { seq: number; next_at: string | null }>('claiming jobs', CLAIM_SESSION, claimStatement(this.db.s, running),
      [now, max, opts.workerId, leaseExpiresAt]);
    // Short: every job due now was taken (or is being taken by another claimer), so the next due is the first later one.
    if (rows.length > 0 && rows.length < max && notified === this.notified) this.peeked = { at: rows[0].next_at === null ? null : Number(rows[0].next_at) };
    rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    // The jobs of a batch mostly share their options and meta texts: each is parsed once, and each job gets its own copy.
    const texts = new Map<string, object>();
    return rows.map((row) => toJob(row, { workerId: opts.workerId, leaseExpiresAt, redelivered: row.redelivered === true }, texts));
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
    const { rows } = await this.db.query<{ n: number }>('counting jobs', qsizeStatement(this.db.s));
    return Number(rows[0].n);
  }

  async nextRunAt(): Promise<number | null> {
    this.live();
    const peeked = this.peeked;
    this.peeked = null;
    if (peeked) return peeked.at;
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
    const off = this.db.listen(this.db.jobsChannel, () => {
      this.peeked = null;
      this.notified++;
      onChange();
    });
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

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL queue is closed; resolve the queue service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

/**
 * The claim connection's session (db.claimQuery: its own connection, so no other statement plans
 * under it, and each claim stays one prepared statement, one round trip): sorts and bitmap scans off, so the waiting rows are always read in
 * jobs_claim's order and the scan stops at the LIMIT. Left to the statistics, the planner takes a
 * bitmap scan and a sort of every waiting row whenever they say few rows wait: a table never
 * analyzed yet, or last analyzed while empty, which is what a queue is after a drain and before a
 * burst. 10,000 waiting jobs: 4.6 ms a claim of 100 that way, 0.1 ms in index order. jit off: the
 * merge of both picks still sorts (a few rows), and the cost a disabled sort is given would pass
 * jit_above_cost: 0.4-0.8 s of JIT compilation a claim. Its commits do not wait for the WAL flush,
 * as ASYNC_COMMIT below. (As BEGIN plus SET LOCALs around each claim it cost three round trips.)
 * The generic plan always (PostgreSQL 12+): the plan above does not depend on the parameters, and
 * planning it again for each claim's values cost ~0.07 ms of a 0.39 ms claim on an idle queue here.
 * @internal
 */
export const CLAIM_SESSION = 'SET enable_sort = off; SET enable_bitmapscan = off; SET jit = off; SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan' as const;

/*
 * Joined into the renew statement: its own (autocommit) transaction commits without
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

/**
 * The claim statement ($1 now, $2 max, $3 worker, $4 lease expiry), run on the claim connection (CLAIM_SESSION).
 * Waiting rows and rows whose lease ran out, each picked from its own partial index; the best `max`
 * of both are leased. Rows locked but not chosen are let go when the transaction commits.
 * @internal
 */
export function claimStatement(s: string, running: boolean): string {
  return `WITH w AS (
         SELECT id, false AS redelivered, priority, seq FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at <= $1
          ORDER BY priority DESC, seq LIMIT $2 FOR UPDATE SKIP LOCKED),
       x AS (
         SELECT id, true AS redelivered, priority, seq FROM ${s}.jobs WHERE q_state = 'leased' AND lease_expires_at <= $1
          ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
       picked AS (SELECT * FROM w UNION ALL SELECT * FROM x ORDER BY priority DESC, seq LIMIT $2)
       UPDATE ${s}.jobs AS j SET q_state = 'leased', worker_id = $3, lease_expires_at = $4, q_attempts = j.q_attempts + 1${running ? RUNNING_SET : ''}
         FROM picked WHERE j.id = picked.id
       RETURNING j.id, j.task_name, j.args, j.priority, j.run_at, j.q_attempts, j.created_at, j.options, j.meta, j.seq, picked.redelivered,
         (SELECT min(n.run_at) FROM ${s}.jobs AS n WHERE n.q_state = 'waiting' AND n.run_at > $1) AS next_at`;
}

const DAMAGED_OPTIONS: JobOptions = Object.freeze({ maxRetries: 0, retryDelaySecs: 5, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] }) as JobOptions;

/**
 * `text` parsed as a JSON object, else `fallback()` with the damage noted. With `texts`, a text seen
 * before in the batch is parsed once: the job gets a copy (its own object, and its own tags array).
 */
function readObject<T>(text: string, what: string, id: string, fallback: () => T, damage: string[], texts?: Map<string, object>): T {
  const seen = texts?.get(text);
  if (seen !== undefined) return copyOf(seen) as T;
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      // Kept only when flat but for a tags list (options, meta as the dispatcher writes them): the copy is then whole.
      if (texts && isFlat(v as Record<string, unknown>)) {
        texts.set(text, v);
        return copyOf(v) as T;
      }
      return v as T;
    }
    damage.push(`the stored ${what} of job ${id} is not an object`);
  } catch (err) {
    damage.push(`the stored ${what} of job ${id} is not valid JSON: ${(err as Error).message}`);
  }
  return fallback();
}

/** Values that are primitives, or arrays of primitives (copied by copyOf). */
function isFlat(o: Record<string, unknown>): boolean {
  for (const k in o) {
    const v = o[k];
    if (v === null || typeof v !== 'object') continue;
    if (!Array.isArray(v)) return false;
    for (const x of v) if (x !== null && typeof x === 'object') return false;
  }
  return true;
}

function copyOf(o: object): object {
  const out: Record<string, unknown> = { ...o };
  for (const k in out) if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).slice();
  return out;
}

const damagedOptions = (): JobOptions => ({ ...DAMAGED_OPTIONS, tags: [] });
const emptyMeta = (): Record<string, unknown> => ({});

/** A stored row as a job; with `claim`, as the ClaimedJob it is, its claim fields set on the same object (no copy per row). */
function toJob(row: QueueRow): QueuedJob;
function toJob(row: QueueRow, claim: { workerId: string; leaseExpiresAt: number; redelivered: boolean }, texts: Map<string, object>): ClaimedJob;
function toJob(row: QueueRow, claim?: { workerId: string; leaseExpiresAt: number; redelivered: boolean }, texts?: Map<string, object>): QueuedJob | ClaimedJob {
  const damage: string[] = [];
  const options = readObject<JobOptions>(row.options, 'options', row.id, damagedOptions, damage, texts);
  const meta = readObject<Record<string, unknown>>(row.meta, 'meta', row.id, emptyMeta, damage, texts);
  const job: QueuedJob = {
    id: row.id, taskName: row.task_name, args: toBytes(row.args), priority: row.priority, runAt: Number(row.run_at),
    attempts: row.q_attempts, createdAt: Number(row.created_at), options, meta,
  };
  if (claim) {
    const claimed = job as ClaimedJob;
    claimed.workerId = claim.workerId;
    claimed.leaseExpiresAt = claim.leaseExpiresAt;
    claimed.redelivered = claim.redelivered;
  }
  if (damage.length) job.damaged = damage.join('; ');
  return job;
}

/** @internal */
export { isConnectionLost } from './driver.ts';

/**
 * qsize(): the waiting and the leased rows, each counted through its partial index (q_state is one
 * of the two or NULL): `WHERE q_state IS NOT NULL` matches no index and read every record of the
 * table (0.5-0.9 s at 1,000,000 records, most of them finished jobs out of the queue).
 * @internal
 */
export function qsizeStatement(s: string): string {
  return `SELECT (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'waiting') + (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'leased') AS n`;
}
