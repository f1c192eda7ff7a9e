/**
 * The SQLite queue: durable, safe for several worker processes on one host.
 *
 * Claim is one BEGIN IMMEDIATE transaction (the write lock is taken before anything is read), so two
 * claimers never see the same free row: the original's select-then-update handed one job to several
 * processes. Inside it, `waiting` rows whose run_at has come and `leased` rows whose lease ran out move
 * to `ready`, then the best `ready` rows (priority DESC, then insertion order) are leased in one
 * UPDATE ... RETURNING. ack/fail always delete (a finished job is never delivered again, unlike the
 * original, which re-ran failed jobs every 10 s forever).
 *
 * "Holds" (ack, fail, retry, renew): worker_id still names the worker, i.e. nobody has claimed the job
 * since. A worker whose lease ran out but was not yet re-claimed may still ack or renew it; that saves
 * a needless second run and keeps at-least-once delivery.
 * Must never: hand one job to two claimers while its lease holds; drop a job on a failed write.
 */
import {
  NuvomError, claimArgs, duplicateJob, messageOf, renewArgs, type CancelOutcome, type ClaimOptions, type ClaimedJob, type Clock, type JobOptions, type Logger,
  type Queue, type QueueCounts, type QueuedJob, type RenewResult,
} from '../../sdk/plugin.ts';
import { acquireDb, PLUGIN_NAME, storageError, withBusyRetry, type Db, type DbLease, type Statement, type Transaction } from './db.ts';
import { fromBlob, fromJson, toBlob, toJson } from './codec.ts';

export interface SqliteQueueOptions {
  /** Absolute path of the database file. */
  path: string;
  clock?: Clock;
  logger?: Logger;
}

/** @internal */
export interface QueueRow {
  seq: number;
  id: string;
  task_name: string;
  args: Buffer;
  priority: number;
  run_at: number;
  attempts: number;
  created_at: number;
  options: string;
  meta: string;
  lease_expires_at?: number | null;
}

/** What a claim transaction returns: the leased rows, and which of them are redeliveries. @internal */
export interface ClaimedRows {
  rows: QueueRow[];
  redelivered: Set<number>;
}

/** @internal */
export const SQL = {
  // A row with no queue part (its job finished, the record kept) takes the job again, at the back of
  // the line; one still queued refuses it (no change: a duplicate).
  insert: `INSERT INTO nuvom_jobs (id, task_name, args, priority, run_at, attempts, created_at, options, meta, state)
           VALUES (@id, @taskName, @args, @priority, @runAt, @attempts, @createdAt, @options, @meta, @state)
           ON CONFLICT (id) DO UPDATE SET task_name = excluded.task_name, args = excluded.args, priority = excluded.priority,
             run_at = excluded.run_at, attempts = excluded.attempts, created_at = excluded.created_at, options = excluded.options,
             meta = excluded.meta, state = excluded.state, lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0,
             seq = (SELECT MAX(seq) + 1 FROM nuvom_jobs)
           WHERE state IS NULL`,
  // Read outside the write lock, so idle pollers do not queue up for it. INDEXED BY pins the partial
  // indexes: without statistics the planner might take another index and sort every ready row.
  anyClaimable: `SELECT EXISTS (SELECT 1 FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready' AND run_at <= @now)
                     OR EXISTS (SELECT 1 FROM nuvom_jobs INDEXED BY nuvom_jobs_waiting WHERE state = 'waiting' AND run_at <= @now)
                     OR EXISTS (SELECT 1 FROM nuvom_jobs INDEXED BY nuvom_jobs_lease
                                 WHERE state = 'leased' AND lease_expires_at <= @now)`,
  promoteDue: `UPDATE nuvom_jobs INDEXED BY nuvom_jobs_waiting SET state = 'ready' WHERE state = 'waiting' AND run_at <= @now`,
  // lease_owner is kept so the previous holder may still ack until someone else claims the job.
  reclaimExpired: `UPDATE nuvom_jobs INDEXED BY nuvom_jobs_lease SET state = 'ready' WHERE state = 'leased' AND lease_expires_at <= @now`,
  // The rows `claim` takes next (the same subquery, in the same transaction), and whether each was
  // claimed before: reclaimExpired keeps lease_owner, while retry and release clear it.
  claimPreview: `SELECT seq, lease_owner IS NOT NULL AS redelivered FROM nuvom_jobs INDEXED BY nuvom_jobs_claim
                  WHERE state = 'ready' AND run_at <= @now ORDER BY priority DESC, seq LIMIT @max`,
  claim: `UPDATE nuvom_jobs
             SET state = 'leased', lease_owner = @workerId, lease_expires_at = @leaseExpiresAt, attempts = attempts + 1
           WHERE seq IN (SELECT seq FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready' AND run_at <= @now
                          ORDER BY priority DESC, seq LIMIT @max)
       RETURNING seq, id, task_name, args, priority, run_at, attempts, created_at, options, meta, lease_expires_at`,
  renew: `UPDATE nuvom_jobs SET state = 'leased', lease_expires_at = @leaseExpiresAt
           WHERE id = @id AND lease_owner = @workerId AND state IN ('leased', 'ready')
       RETURNING cancel_requested`,
  // Leaving the queue: the row goes when it holds no record, else only its queue part.
  removeBare: `DELETE FROM nuvom_jobs WHERE id = @id AND lease_owner = @workerId AND status IS NULL`,
  remove: `UPDATE nuvom_jobs SET state = NULL, lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
           WHERE id = @id AND lease_owner = @workerId AND state IS NOT NULL`,
  retry: `UPDATE nuvom_jobs SET state = @state, lease_owner = NULL, lease_expires_at = NULL, run_at = @runAt
           WHERE id = @id AND lease_owner = @workerId AND state IS NOT NULL`,
  release: `UPDATE nuvom_jobs SET state = 'ready', lease_owner = NULL, lease_expires_at = NULL, attempts = MAX(attempts - 1, 0)
           WHERE id = @id AND lease_owner = @workerId AND state IN ('leased', 'ready')`,
  cancelLookup: `SELECT state, lease_expires_at FROM nuvom_jobs WHERE id = @id AND state IS NOT NULL`,
  requestCancel: `UPDATE nuvom_jobs SET cancel_requested = 1 WHERE id = @id`,
  cancelFlag: `SELECT cancel_requested FROM nuvom_jobs WHERE id = @id AND state IS NOT NULL`,
  deleteBareById: `DELETE FROM nuvom_jobs WHERE id = @id AND status IS NULL`,
  dequeueById: `UPDATE nuvom_jobs SET state = NULL, lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0 WHERE id = @id`,
  get: `SELECT seq, id, task_name, args, priority, run_at, attempts, created_at, options, meta FROM nuvom_jobs WHERE id = @id AND state IS NOT NULL`,
  counts: `SELECT
             (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready' AND run_at <= @now)
           + (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_waiting WHERE state = 'waiting' AND run_at <= @now)
           + (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_lease WHERE state = 'leased' AND lease_expires_at <= @now) AS ready,
             (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready' AND run_at > @now)
           + (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_waiting WHERE state = 'waiting' AND run_at > @now) AS delayed,
             (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_lease WHERE state = 'leased' AND lease_expires_at > @now) AS leased`,
  qsize: `SELECT (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready')
               + (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_waiting WHERE state = 'waiting')
               + (SELECT COUNT(*) FROM nuvom_jobs INDEXED BY nuvom_jobs_lease WHERE state = 'leased')`,
  nextRunAt: `SELECT MIN(m) FROM (SELECT MIN(run_at) AS m FROM nuvom_jobs INDEXED BY nuvom_jobs_waiting WHERE state = 'waiting'
                                  UNION ALL SELECT MIN(run_at) FROM nuvom_jobs INDEXED BY nuvom_jobs_claim WHERE state = 'ready')`,
  clearBare: `DELETE FROM nuvom_jobs WHERE state IS NOT NULL AND status IS NULL`,
  clear: `UPDATE nuvom_jobs SET state = NULL, lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0 WHERE state IS NOT NULL`,
} as const;

type Statements = { [K in keyof typeof SQL]: Statement };

export class SqliteQueue implements Queue {
  private readonly lease: DbLease;
  private readonly db: Db;
  private readonly stmt: Statements;
  private readonly clock: Clock;
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;

  private readonly insertTx: Transaction<(jobs: QueuedJob[], now: number) => void>;
  /** The claim's transaction; the job store runs it inside its own (a savepoint there). @internal */
  readonly claimTx: Transaction<(now: number, workerId: string, leaseExpiresAt: number, max: number) => ClaimedRows>;
  private readonly clearTx: Transaction<() => void>;
  private readonly renewTx: Transaction<(ids: string[], workerId: string, leaseExpiresAt: number) => RenewResult>;
  private readonly removeTx: Transaction<(ids: string[], workerId: string) => void>;
  private readonly cancelTx: Transaction<(id: string, now: number) => CancelOutcome>;

  constructor(opts: SqliteQueueOptions) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.lease = acquireDb(opts.path, 'queue', opts.logger);
    this.db = this.lease.db;
    try {
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as Statements;
    } catch (err) {
      this.lease.release();
      throw storageError('preparing the queue statements', err);
    }
    this.stmt.anyClaimable.pluck();
    this.stmt.qsize.pluck();
    this.stmt.nextRunAt.pluck();
    this.stmt.cancelFlag.pluck();
    this.stmt.renew.pluck();

    const insert = (jobs: QueuedJob[], now: number) => {
      for (const job of jobs) {
        // No change: the id is queued already (the upsert takes over only a row with no queue part).
        if (this.stmt.insert.run(toParams(job, now)).changes === 0) throw duplicateJob(job.id, PLUGIN_NAME);
      }
    };
    const remove = (ids: string[], workerId: string) => {
      for (const id of ids) {
        if (this.stmt.removeBare.run({ id, workerId }).changes === 0) this.stmt.remove.run({ id, workerId });
      }
    };
    this.insertTx = this.db.transaction(insert);
    this.clearTx = this.db.transaction(() => { this.stmt.clearBare.run(); this.stmt.clear.run(); });
    this.claimTx = this.db.transaction((now: number, workerId: string, leaseExpiresAt: number, max: number) => {
      this.stmt.promoteDue.run({ now });
      this.stmt.reclaimExpired.run({ now });
      // Any process's earlier claim may have reclaimed rows it did not take, so always look.
      const redelivered = new Set<number>();
      for (const p of this.stmt.claimPreview.all({ now, max }) as Array<{ seq: number; redelivered: number }>) {
        if (p.redelivered) redelivered.add(p.seq);
      }
      return { rows: this.stmt.claim.all({ now, workerId, leaseExpiresAt, max }) as QueueRow[], redelivered };
    });
    this.renewTx = this.db.transaction((ids: string[], workerId: string, leaseExpiresAt: number) => {
      const result: RenewResult = { held: [], cancelled: [] };
      for (const id of new Set(ids)) {
        const flag = this.stmt.renew.get({ id, workerId, leaseExpiresAt }) as number | undefined;
        if (flag === undefined) continue;
        result.held.push(id);
        if (flag === 1) result.cancelled.push(id);
      }
      return result;
    });
    this.removeTx = this.db.transaction(remove);
    this.cancelTx = this.db.transaction((id: string, now: number): CancelOutcome => {
      const row = this.stmt.cancelLookup.get({ id }) as { state: string; lease_expires_at: number | null } | undefined;
      if (!row) return 'absent';
      if (row.state === 'leased' && row.lease_expires_at !== null && row.lease_expires_at > now) {
        this.stmt.requestCancel.run({ id });
        return 'signalled';
      }
      if (this.stmt.deleteBareById.run({ id }).changes === 0) this.stmt.dequeueById.run({ id });
      return 'removed';
    });
  }

  async enqueue(job: QueuedJob): Promise<void> {
    await this.enqueueMany([job]);
  }

  async enqueueMany(jobs: QueuedJob[]): Promise<void> {
    this.live();
    if (jobs.length === 0) return;
    await withBusyRetry('enqueue', () => this.insertTx.immediate(jobs, this.clock.now()));
    this.lease.shared.notifier.notifyLocal();
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    this.live();
    const { now, max } = claimArgs(opts, this.clock, PLUGIN_NAME);
    if (max === 0) return [];
    const claimed = await withBusyRetry('claim', () => {
      if (!this.anyClaimable(now)) return { rows: [] as QueueRow[], redelivered: new Set<number>() };
      return this.claimTx.immediate(now, opts.workerId, now + opts.leaseMs, max);
    });
    return claimedJobs(claimed, opts.workerId);
  }

  /** For the job store: the connection this queue writes through. @internal */
  connection(): Db {
    this.live();
    return this.db;
  }

  /** For the job store: this queue's clock. */
  now(): number {
    return this.clock.now();
  }

  /** For the job store: wakes this process's subscribers (others see the commit through the notifier). */
  notifyLocal(): void {
    this.lease.shared.notifier.notifyLocal();
  }

  /** Read outside the write lock: whether a claim at `now` could take anything. */
  anyClaimable(now: number): boolean {
    return Boolean(this.stmt.anyClaimable.get({ now }));
  }

  async renew(ids: string[], workerId: string, leaseMs: number, now?: number): Promise<RenewResult> {
    this.live();
    renewArgs(ids, workerId, leaseMs, PLUGIN_NAME);
    if (ids.length === 0) return { held: [], cancelled: [] };
    const at = now ?? this.clock.now();
    return withBusyRetry('renew', () => this.renewTx.immediate(ids, workerId, at + leaseMs));
  }

  async ack(id: string, workerId: string): Promise<void> {
    await this.ackMany([id], workerId);
  }

  async ackMany(ids: string[], workerId: string): Promise<void> {
    this.live();
    if (ids.length === 0) return;
    await withBusyRetry('ack', () => this.removeTx.immediate(ids, workerId));
  }

  async retry(id: string, workerId: string, runAt: number): Promise<void> {
    this.live();
    const state = runAt <= this.clock.now() ? 'ready' : 'waiting';
    const changes = await withBusyRetry('retry', () => this.stmt.retry.run({ id, workerId, runAt, state }).changes);
    if (changes > 0) this.lease.shared.notifier.notifyLocal();
  }

  async release(id: string, workerId: string): Promise<void> {
    this.live();
    const changes = await withBusyRetry('release', () => this.stmt.release.run({ id, workerId }).changes);
    if (changes > 0) this.lease.shared.notifier.notifyLocal();
  }

  async fail(id: string, workerId: string): Promise<void> {
    this.live();
    await withBusyRetry('fail', () => this.removeTx.immediate([id], workerId));
  }

  async cancel(id: string): Promise<CancelOutcome> {
    this.live();
    const outcome = await withBusyRetry('cancel', () => this.cancelTx.immediate(id, this.clock.now()));
    // Wakes a worker of this process holding the job (others see the commit through the notifier).
    if (outcome === 'signalled') this.lease.shared.notifier.notifyLocal();
    return outcome;
  }

  /** Read-only: no transaction, so it never waits for a writer in WAL mode. */
  async cancelRequested(ids: string[]): Promise<string[]> {
    this.live();
    return ids.filter((id) => this.stmt.cancelFlag.get({ id }) === 1);
  }

  async get(id: string): Promise<QueuedJob | null> {
    this.live();
    const row = await withBusyRetry('get', () => this.stmt.get.get({ id }) as QueueRow | undefined);
    return row ? toJob(row) : null;
  }

  async counts(now?: number): Promise<QueueCounts> {
    this.live();
    const at = now ?? this.clock.now();
    return withBusyRetry('counts', () => this.stmt.counts.get({ now: at }) as QueueCounts);
  }

  async qsize(): Promise<number> {
    this.live();
    return withBusyRetry('qsize', () => this.stmt.qsize.get() as number);
  }

  async nextRunAt(): Promise<number | null> {
    this.live();
    return withBusyRetry('nextRunAt', () => (this.stmt.nextRunAt.get() as number | null) ?? null);
  }

  async clear(): Promise<void> {
    this.live();
    await withBusyRetry('clear', () => this.clearTx.immediate());
  }

  /** See watch.ts for how other processes' writes are noticed. */
  subscribe(onChange: () => void): () => void {
    this.live();
    const off = this.lease.shared.notifier.subscribe(onChange);
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
    this.lease.release();
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the SQLite queue is closed; resolve the queue service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

/** @internal */
export function toParams(job: QueuedJob, now: number) {
  return {
    id: job.id,
    taskName: job.taskName,
    args: toBlob(job.args),
    priority: job.priority,
    runAt: job.runAt,
    attempts: job.attempts,
    createdAt: job.createdAt,
    options: optionsText(job),
    meta: metaText(job),
    state: job.runAt <= now ? 'ready' : 'waiting',
  };
}

let lastOptions: JobOptions | null = null;
let lastOptionsText = '';

/**
 * A job's options as JSON. The jobs of one map() carry equal options: the text of the last one is
 * kept and reused while the next ones match it field by field (cheaper than JSON.stringify).
 */
export function optionsText(job: QueuedJob): string {
  const o = job.options;
  const p = lastOptions;
  if (p !== null && o !== null && typeof o === 'object' && sameOptions(o, p)) return lastOptionsText;
  const text = toJson(o, `the options of job ${job.id}`);
  lastOptions = o && typeof o === 'object' && Object.keys(o).length === 7 && Array.isArray(o.tags) ? { ...o, tags: [...o.tags] } : null;
  lastOptionsText = text;
  return text;
}

function sameOptions(o: JobOptions, p: JobOptions): boolean {
  if (o.maxRetries !== p.maxRetries || o.retryDelaySecs !== p.retryDelaySecs || o.backoff !== p.backoff || o.timeoutSecs !== p.timeoutSecs
    || o.timeoutPolicy !== p.timeoutPolicy || o.storeResult !== p.storeResult || !Array.isArray(o.tags) || o.tags.length !== p.tags.length) return false;
  for (let i = 0; i < o.tags.length; i++) if (o.tags[i] !== p.tags[i]) return false;
  // Same fields, and no others (a third party's extra option must reach the text).
  let n = 0;
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) n++;
  return n === 7;
}

/** A job's meta as JSON; most jobs carry none. */
export function metaText(job: QueuedJob): string {
  const m = job.meta;
  if (m === undefined || m === null) return '{}';
  for (const k in m) if (Object.prototype.hasOwnProperty.call(m, k)) return toJson(m, `the meta of job ${job.id}`);
  return Object.getPrototypeOf(m) === Object.prototype ? '{}' : toJson(m, `the meta of job ${job.id}`);
}

/** Options for a row whose stored options cannot be read: run never, fail once (see `damaged`). */
const DAMAGED_OPTIONS: JobOptions = Object.freeze({ maxRetries: 0, retryDelaySecs: 5, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'fail', storeResult: true, tags: [] }) as JobOptions;

/** A stored JSON column, or the fallback and the reason when it is not valid JSON of an object. */
function readObject<T>(text: string, what: string, id: string, fallback: T, damage: string[]): T {
  try {
    const v = fromJson(text, what, `job ${id}`);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as T;
    damage.push(`the stored ${what} of job ${id} is not an object`);
  } catch (err) {
    damage.push(messageOf(err));
  }
  return fallback;
}

/** Claimed rows as jobs, highest priority first, then oldest (RETURNING does not promise an order). @internal */
export function claimedJobs({ rows, redelivered }: ClaimedRows, workerId: string): ClaimedJob[] {
  rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
  return rows.map((row) => ({ ...toJob(row), workerId, leaseExpiresAt: row.lease_expires_at as number, redelivered: redelivered.has(row.seq) }));
}

function toJob(row: QueueRow): QueuedJob {
  const damage: string[] = [];
  const options = readObject<JobOptions>(row.options, 'options', row.id, { ...DAMAGED_OPTIONS, tags: [] }, damage);
  const meta = readObject<Record<string, unknown>>(row.meta, 'meta', row.id, {}, damage);
  const job: QueuedJob = {
    id: row.id,
    taskName: row.task_name,
    args: fromBlob(row.args),
    priority: row.priority,
    runAt: row.run_at,
    attempts: row.attempts,
    createdAt: row.created_at,
    options,
    meta,
  };
  if (damage.length) job.damaged = damage.join('; ');
  return job;
}
