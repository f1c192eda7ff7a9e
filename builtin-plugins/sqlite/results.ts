/**
 * The SQLite result store: one row per job holding the whole JobRecord (contracts.ts), the same shape
 * every backend returns. Arguments and results are user values, stored as BLOBs encoded by the
 * serializer service; the error is a JSON object, never flat columns (the original left a stale error
 * behind when a later attempt succeeded and its CLI crashed on the differing shapes).
 * Must never: return a half-decoded record; bytes that do not decode raise NUVOM_E_DESERIALIZE naming the job.
 */
import {
  FINAL_STATUSES, JOB_STATUSES, NuvomError, checkRecords, historyOf, listQuery, mergeHistory, messageOf, type AttemptRecord, type JobError, type JobRecord, type JobStats, type JobStatus,
  type CompletionBucket, type HeartbeatStore, type ResultStoreInsights, type ListJobsFilter, type Logger, type PurgeFilter, type ResultStore, type Serializer, type TimeoutPolicy, type WorkerHeartbeat,
} from '../../sdk/plugin.ts';
import { acquireDb, PLUGIN_NAME, storageError, withBusyRetry, type Db, type DbLease, type Statement, type Transaction } from './db.ts';
import { SqliteHeartbeats } from './heartbeats.ts';
import { COUNTS_SQL, MINUTE_MS, RUN_TIME_SCAN } from './counts.ts';
import { fromBlob, fromJson, toBlob, toIso, toIsoOrNull, toJson, toMs, toMsOrNull } from './codec.ts';

export interface SqliteResultStoreOptions {
  /** Absolute path of the database file. */
  path: string;
  serializer: Serializer;
  logger?: Logger;
}

/** @internal */
export interface ResultRow {
  id: string;
  task_name: string;
  args: Buffer | null;
  status: JobStatus;
  /** The record's attempts (the queue part of the row has its own `attempts`). */
  rec_attempts: number;
  max_retries: number;
  retries_left: number;
  priority: number;
  tags: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  next_run_at: number | null;
  result: Buffer | null;
  error: string | null;
  timeout_secs: number;
  timeout_policy: TimeoutPolicy;
  worker_id: string | null;
  /** Written: the attempts this write ended (JSON), merged into the stored ones (HISTORY_SET); read back: all of them. */
  history: string | null;
}

/** Records encoded for writing; args are encoded only when a row is inserted (see writeRows). @internal */
export type RecordRows = Array<{ row: ResultRow; record: JobRecord }>;

/*
 * The history is merged in SQL, so the store needs no read before its write. The CASE settles the
 * pool's writes without leaving SQLite (a claim's RUNNING write adds nothing; the end of a job's
 * first attempt is the whole history); the rest call this function, registered on the connection
 * (a PENDING write of a running job is a worker giving it back: its INTERRUPTED entry needs the start).
 * In an UPDATE (and an upsert's DO UPDATE) the bare column names are the row's values before it.
 */
/** @internal */
export const MERGE = 'nuvom_merge_history';
/** @internal */
export const HISTORY_SET = `CASE
    WHEN @history IS NULL AND (status <> 'RUNNING' OR @rec_attempts <= rec_attempts) THEN history
    WHEN history IS NULL AND (status <> 'RUNNING' OR (@rec_attempts <= rec_attempts AND @status <> 'PENDING')) THEN @history
    ELSE ${MERGE}(history, status, rec_attempts, started_at, worker_id, @history, @rec_attempts, @started_at) END`;

/** nuvom_merge_history(...): mergeHistory over the stored row and the write, as JSON (NULL for none). @internal */
export function mergeHistoryText(
  stored: string | null, status: JobStatus, attempts: number, startedAt: number | null, workerId: string | null,
  incoming: string | null, newAttempts: number, newStartedAt: number | null,
): string | null {
  let old: unknown = null;
  try { old = stored === null ? null : JSON.parse(stored); } catch { old = null; } // unreadable: the new attempts replace it
  const prev = { history: Array.isArray(old) ? (old as AttemptRecord[]) : null, status, attempts, startedAt: toIsoOrNull(startedAt), workerId };
  const merged = mergeHistory(prev, incoming === null ? null : (JSON.parse(incoming) as AttemptRecord[]), { attempts: newAttempts, startedAt: toIsoOrNull(newStartedAt) });
  return merged.length ? JSON.stringify(merged) : null;
}

const COLUMNS = [
  'id', 'task_name', 'args', 'status', 'rec_attempts', 'max_retries', 'retries_left', 'priority', 'tags', 'created_at',
  'started_at', 'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'worker_id', 'history',
] as const;

/*
 * The record part of nuvom_jobs (schema.ts): a row with status NULL holds no record (a job queued on
 * a split file, or through the queue alone) and is invisible here.
 */
const SQL = {
  // A record for a queued row keeps the queue's argument bytes (the queue's are the ones that run).
  upsert: `INSERT INTO nuvom_jobs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
           ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id' && c !== 'history' && c !== 'args').map((c) => `${c} = excluded.${c}`).join(', ')},
             args = CASE WHEN state IS NULL THEN excluded.args ELSE args END,
             history = ${HISTORY_SET}`,
  // The hot path: a job moving PENDING -> RUNNING -> SUCCESS changes only these columns. Touching
  // only them keeps SQLite from rewriting the task and created_at indexes (and the args blob) on
  // every transition. A record whose identity changed (a reused id) falls back to the full upsert.
  update: `UPDATE nuvom_jobs SET status = @status, rec_attempts = @rec_attempts, retries_left = @retries_left,
             started_at = @started_at, completed_at = @completed_at, next_run_at = @next_run_at, result = @result,
             error = @error, worker_id = @worker_id, history = ${HISTORY_SET}
           WHERE id = @id AND task_name = @task_name AND created_at = @created_at AND priority = @priority
             AND max_retries = @max_retries AND tags = @tags AND timeout_secs = @timeout_secs AND timeout_policy = @timeout_policy`,
  get: `SELECT * FROM nuvom_jobs WHERE id = @id AND status IS NOT NULL`,
  ...COUNTS_SQL,
  oldestPending: `SELECT MIN(created_at) FROM nuvom_jobs WHERE status = 'PENDING'`,
  // A purged record of a job still queued leaves the queue part; otherwise the row goes.
  purge: `DELETE FROM nuvom_jobs
           WHERE status IN (SELECT value FROM json_each(@statuses)) AND COALESCE(completed_at, created_at) < @olderThan AND state IS NULL`,
  purgeQueued: `UPDATE nuvom_jobs SET ${['status', 'rec_attempts', 'max_retries', 'retries_left', 'tags', 'started_at', 'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'worker_id', 'history'].map((c) => `${c} = NULL`).join(', ')}
           WHERE status IN (SELECT value FROM json_each(@statuses)) AND COALESCE(completed_at, created_at) < @olderThan AND state IS NOT NULL`,
} as const;

type Statements = { [K in keyof typeof SQL]: Statement };

export class SqliteResultStore implements ResultStore, HeartbeatStore, ResultStoreInsights {
  private readonly lease: DbLease;
  private readonly db: Db;
  private readonly stmt: Statements;
  private readonly serializer: Serializer;
  /** listJobs statements, one per filter shape, each prepared once. */
  private readonly listStatements = new Map<string, Statement>();
  private readonly putTx: Transaction<(rows: RecordRows) => void>;
  private readonly purgeTx: Transaction<(statuses: string, olderThan: number) => number>;
  private closed = false;
  private readonly beats: SqliteHeartbeats;

  constructor(opts: SqliteResultStoreOptions) {
    this.serializer = opts.serializer;
    this.lease = acquireDb(opts.path, 'results', opts.logger);
    this.db = this.lease.db;
    try {
      this.db.function(MERGE, { deterministic: true }, mergeHistoryText as (...args: unknown[]) => unknown);
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as Statements;
    } catch (err) {
      this.lease.release();
      throw storageError('preparing the result store statements', err);
    }
    for (const k of ['oldestPending', 'doneFrom', 'doneBetween', 'runTimes'] as const) this.stmt[k].pluck();
    this.putTx = this.db.transaction((rows: RecordRows) => this.writeRows(rows));
    this.purgeTx = this.db.transaction((statuses: string, olderThan: number) =>
      this.stmt.purge.run({ statuses, olderThan }).changes + this.stmt.purgeQueued.run({ statuses, olderThan }).changes);
    this.beats = new SqliteHeartbeats(this.db);
  }

  /** For the job store: the connection this store writes through. @internal */
  connection(): Db {
    this.live();
    return this.db;
  }

  /**
   * For the job store's one-transaction writes: the records as rows, encoded before any write (a value
   * the serializer refuses throws here, with nothing written).
   * @internal
   */
  rowsOf(records: JobRecord[]): RecordRows {
    this.live();
    checkRecords(records, PLUGIN_NAME);
    return records.map((record) => ({ row: this.toRow(record), record }));
  }

  /** Writes rows inside the caller's transaction (putTx, or one of the job store's). @internal */
  writeRows(rows: RecordRows): void {
    for (const { row, record } of rows) {
      if (this.stmt.update.run(row).changes > 0) continue;
      row.args = toBlob(this.serializer.encode(record.args));
      this.stmt.upsert.run(row);
    }
  }

  async put(record: JobRecord): Promise<void> {
    await this.putMany([record]);
  }

  async putMany(records: JobRecord[]): Promise<void> {
    this.live();
    if (records.length === 0) return;
    // Encode everything first: a value the serializer refuses leaves the store unchanged.
    const rows = this.rowsOf(records);
    await withBusyRetry('saving job records', () => this.putTx.immediate(rows));
  }

  async getFull(id: string): Promise<JobRecord | null> {
    this.live();
    const row = await withBusyRetry('reading a job record', () => this.stmt.get.get({ id }) as ResultRow | undefined);
    return row ? this.toRecord(row) : null;
  }

  async getResult(id: string): Promise<unknown> {
    const record = await this.getFull(id);
    return record?.status === 'SUCCESS' ? record.result : undefined;
  }

  async getError(id: string): Promise<JobError | null> {
    const record = await this.getFull(id);
    return record?.status === 'FAILED' ? record.error : null;
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<JobRecord[]> {
    this.live();
    const q = listQuery(filter, PLUGIN_NAME);
    if (q.statuses?.length === 0 || q.limit === 0) return [];
    const where: string[] = ['status IS NOT NULL'];
    const params: Record<string, unknown> = { limit: q.limit, offset: q.offset };
    if (q.statuses?.length === 1) {
      where.push('status = @status');
      params.status = q.statuses[0];
    } else if (q.statuses) {
      where.push('status IN (SELECT value FROM json_each(@statuses))');
      params.statuses = JSON.stringify(q.statuses);
    }
    if (q.task !== null) {
      where.push('task_name = @task');
      params.task = q.task;
    }
    if (q.idPrefix !== null) {
      // A range on the id's unique index, then an exact check (the range alone would admit nothing more, but says so plainly).
      where.push('id >= @prefix AND id < @prefixEnd AND substr(id, 1, length(@prefix)) = @prefix');
      params.prefix = q.idPrefix;
      params.prefixEnd = q.idPrefix.slice(0, -1) + String.fromCharCode(q.idPrefix.charCodeAt(q.idPrefix.length - 1) + 1);
    }
    const ranges: string[] = [];
    if (q.before !== null) {
      ranges.push('created_at < @before');
      params.before = q.before;
    }
    if (q.after !== null) {
      ranges.push('created_at >= @after');
      params.after = q.after;
    }
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const byStatus = q.task === null && q.idPrefix === null && (q.statuses === null || q.statuses.length > 1);
    const sql = byStatus ? mergedListing(q.statuses ?? JOB_STATUSES, ranges, dir, params)
      : `SELECT * FROM nuvom_jobs WHERE ${[...where, ...ranges].join(' AND ')} ORDER BY created_at ${dir}, id ${dir} LIMIT @limit OFFSET @offset`;
    const rows = await withBusyRetry('listing job records', () => {
      let stmt = this.listStatements.get(sql);
      if (!stmt) {
        stmt = this.db.prepare(sql);
        this.listStatements.set(sql, stmt);
      }
      return stmt.all(params) as ResultRow[];
    });
    return rows.map((row) => this.toRecord(row, q.withArgs));
  }

  /** From the counters that triggers keep (counts.ts): a few hundred rows read, however many records. */
  async stats(since: number): Promise<JobStats> {
    this.live();
    return withBusyRetry('computing job stats', () => this.db.transaction(() => {
      const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
      const byTask: JobStats['byTask'] = {};
      for (const { task_name: task, status, n } of this.stmt.byTaskStatus.all() as Array<{ task_name: string; status: JobStatus; n: number }>) {
        byStatus[status] = (byStatus[status] ?? 0) + n;
        (byTask[task] ??= {})[status] = n;
      }
      const oldest = this.stmt.oldestPending.get() as number | null;
      // Whole minutes from the counters, the part-minute before them from the completed_at index.
      const minute = Math.ceil(since / MINUTE_MS);
      const completedSince = (this.stmt.doneFrom.get({ minute }) as number) + (this.stmt.doneBetween.get({ since, until: minute * MINUTE_MS }) as number);
      return { byStatus, byTask, oldestPendingAt: toIsoOrNull(oldest), completedSince };
    })());
  }

  async completions(since: number, bucketMs: number): Promise<CompletionBucket[]> {
    this.live();
    if (!Number.isInteger(bucketMs) || bucketMs < MINUTE_MS || bucketMs % MINUTE_MS !== 0) {
      throw new NuvomError('NUVOM_E_USAGE', `completions bucketMs must be a whole number of minutes in ms (60000, 300000, ...), got ${JSON.stringify(bucketMs)}`, { plugin: PLUGIN_NAME });
    }
    const from = Math.floor(since / bucketMs) * bucketMs;
    const rows = await withBusyRetry('reading completions', () => this.stmt.doneBuckets.all({ minute: Math.floor(from / MINUTE_MS) }) as Array<{ minute: number; status: JobStatus; n: number }>);
    const buckets: CompletionBucket[] = [];
    for (let at = from; at <= Date.now(); at += bucketMs) buckets.push({ at, success: 0, failed: 0 });
    for (const { minute, status, n } of rows) {
      const b = buckets[Math.floor((minute * MINUTE_MS - from) / bucketMs)];
      if (b) b[status === 'SUCCESS' ? 'success' : 'failed'] += n;
    }
    return buckets;
  }

  async runTimes(perTask: number, maxTasks: number): Promise<Record<string, number[]>> {
    this.live();
    return withBusyRetry('reading run times', () => {
      const out: Record<string, number[]> = {};
      for (const { task_name: task } of this.stmt.tasks.all({ limit: maxTasks }) as Array<{ task_name: string }>) {
        const ms = this.stmt.runTimes.all({ task, limit: perTask, scan: perTask * RUN_TIME_SCAN }) as number[];
        if (ms.length) out[task] = ms;
      }
      return out;
    });
  }

  async purge(filter: PurgeFilter): Promise<number> {
    this.live();
    const olderThan = toMs(filter.olderThan, 'purge olderThan');
    const statuses = filter.status === undefined ? FINAL_STATUSES : Array.isArray(filter.status) ? filter.status : [filter.status];
    if (statuses.length === 0) return 0;
    return withBusyRetry('purging job records', () => this.purgeTx.immediate(JSON.stringify(statuses), olderThan));
  }

  async putHeartbeat(beat: WorkerHeartbeat): Promise<void> {
    this.live();
    await this.beats.put(beat);
  }

  async removeHeartbeat(workerId: string): Promise<void> {
    this.live();
    await this.beats.remove(workerId);
  }

  async listHeartbeats(): Promise<WorkerHeartbeat[]> {
    this.live();
    return this.beats.list();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lease.release();
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the SQLite result store is closed; resolve the resultStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }

  private toRow(r: JobRecord): ResultRow {
    return {
      id: r.id,
      task_name: r.taskName,
      args: null, // encoded only when the row is inserted (see putTx)
      status: r.status,
      rec_attempts: r.attempts,
      max_retries: r.maxRetries,
      retries_left: r.retriesLeft,
      priority: r.priority,
      tags: Array.isArray(r.tags) && r.tags.length === 0 ? '[]' : toJson(r.tags ?? [], `the tags of job ${r.id}`),
      created_at: toMs(r.createdAt, `createdAt of job ${r.id}`),
      started_at: toMsOrNull(r.startedAt, `startedAt of job ${r.id}`),
      completed_at: toMsOrNull(r.completedAt, `completedAt of job ${r.id}`),
      next_run_at: toMsOrNull(r.nextRunAt, `nextRunAt of job ${r.id}`),
      // NULL stands for "no result" (undefined); an explicit null result is encoded like any value.
      result: r.result === undefined ? null : toBlob(this.serializer.encode(r.result)),
      error: r.error ? toJson({ name: r.error.name, message: r.error.message, stack: r.error.stack ?? null }, `the error of job ${r.id}`) : null,
      timeout_secs: r.timeoutSecs,
      timeout_policy: r.timeoutPolicy,
      worker_id: r.workerId ?? null,
      // Merged with nothing: duplicates folded and the limit applied, so the SQL may store it as it is.
      history: r.history == null || (Array.isArray(r.history) && r.history.length === 0) ? null
        : historyText(mergeHistory(null, historyOf(r.history, r.id, 'NUVOM_E_USAGE', PLUGIN_NAME), r)),
    };
  }

  private toRecord(row: ResultRow, withArgs = true): JobRecord {
    // Left out for a listing that does not show them (ListJobsFilter.withArgs false).
    const args = withArgs ? this.decode(row.args as Buffer, 'arguments', row.id) : [];
    if (!Array.isArray(args)) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored arguments of job ${row.id} decoded to ${typeof args}, not a list`, { plugin: PLUGIN_NAME, details: { jobId: row.id } });
    }
    return {
      id: row.id,
      taskName: row.task_name,
      args,
      status: row.status,
      attempts: row.rec_attempts,
      maxRetries: row.max_retries,
      retriesLeft: row.retries_left,
      priority: row.priority,
      tags: fromJson(row.tags, 'tags', `job ${row.id}`) as string[],
      createdAt: toIso(row.created_at),
      startedAt: toIsoOrNull(row.started_at),
      completedAt: toIsoOrNull(row.completed_at),
      nextRunAt: toIsoOrNull(row.next_run_at),
      result: row.result === null ? undefined : this.decode(row.result, 'result', row.id),
      error: row.error === null ? null : toJobError(fromJson(row.error, 'error', `job ${row.id}`), row.id),
      timeoutSecs: row.timeout_secs,
      timeoutPolicy: row.timeout_policy,
      workerId: row.worker_id,
      history: row.history === null ? [] : historyOf(fromJson(row.history, 'history', `job ${row.id}`), row.id, 'NUVOM_E_DESERIALIZE', PLUGIN_NAME),
    };
  }

  private decode(blob: Buffer, what: string, id: string): unknown {
    try {
      return this.serializer.decode(fromBlob(blob));
    } catch (err) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored ${what} of job ${id} could not be decoded by the "${this.serializer.name}" serializer: ${messageOf(err)}; was it written with another serializationBackend?`, { plugin: PLUGIN_NAME, cause: err, details: { jobId: id } });
    }
  }
}

const historyText = (h: unknown[]): string | null => (h.length ? JSON.stringify(h) : null);

/*
 * A listing of several statuses (or all) in created order, without an index on created_at alone
 * (schema v4 dropped it: every enqueue wrote a page of it). Each status's newest (or oldest)
 * offset+limit entries come from the status index (status, created_at, id), already in order; SQLite
 * merges those runs, keeps the page, then reads just the page's rows. A first page of 50 reads at most
 * 6 x 50 index entries and 50 rows however many records there are. `statuses` were checked against
 * JOB_STATUSES (listQuery), so they are written into the SQL as literals; `ranges` are the created_at
 * bounds, with their parameters already in `params`.
 */
function mergedListing(statuses: readonly JobStatus[], ranges: string[], dir: 'ASC' | 'DESC', params: Record<string, unknown>): string {
  params.runLength = (params.limit as number) + (params.offset as number);
  const runs = [...new Set(statuses)].map((st) => `SELECT * FROM (SELECT seq, created_at, id FROM nuvom_jobs INDEXED BY nuvom_jobs_status
      WHERE status = '${st}'${ranges.map((r) => ` AND ${r}`).join('')} ORDER BY created_at ${dir}, id ${dir} LIMIT @runLength)`);
  return `SELECT j.* FROM (${runs.join(' UNION ALL ')} ORDER BY created_at ${dir}, id ${dir} LIMIT @limit OFFSET @offset) AS page
          JOIN nuvom_jobs AS j ON j.seq = page.seq ORDER BY page.created_at ${dir}, page.id ${dir}`;
}

function toJobError(value: unknown, id: string): JobError {
  const e = value as Partial<JobError> | null;
  if (!e || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.message !== 'string' || !(typeof e.stack === 'string' || e.stack === null)) {
    throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored error of job ${id} is not { name, message, stack }`, { plugin: PLUGIN_NAME, details: { jobId: id } });
  }
  return { name: e.name, message: e.message, stack: e.stack };
}
