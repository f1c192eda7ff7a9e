/**
 * The PostgreSQL result store: the record part of each `jobs` row (schema.ts), so a job's queue
 * entry and its record are one row. Also the optional ResultStoreInsights (the dashboard's chart and
 * run times), HeartbeatStore (table `heartbeats`) and a
 * wake-up for result() waiters in every process (LISTEN on `<schema>_done`, NOTIFYed when a record
 * reaches a final status: by the settle for its batch, else by a row trigger; schema.ts v2).
 * Records are indexed by status and by task (schema.ts v2: RUNNING ones apart), so a listing reads
 * each part it needs in index order and merges them.
 * Must never: return a half-decoded record; write part of a batch.
 */
import {
  FINAL_STATUSES, JOB_STATUSES, NuvomError, checkRecords, listQuery, type CompletionBucket, type HeartbeatStore, type JobError, type JobRecord, type JobStats, type JobStatus,
  type ListJobsFilter, type Logger, type PurgeFilter, type ResultStore, type ResultStoreInsights, type Serializer, type WorkerHeartbeat,
} from '../../sdk/plugin.ts';
import { acquireDb, type PgDb, type PgLease } from './db.ts';
import { RECORD_SELECT, RECORD_SELECT_NO_ARGS, toRecord, toRecordRow, writeRecords, type RecordRow } from './rows.ts';
import { PLUGIN_NAME, type ConnectionSettings } from './settings.ts';

export interface PgResultStoreOptions {
  settings: ConnectionSettings;
  serializer: Serializer;
  logger?: Logger;
}

export class PgResultStore implements ResultStore, ResultStoreInsights, HeartbeatStore {
  private readonly lease: PgLease;
  /** @internal */
  readonly db: PgDb;
  readonly serializer: Serializer;
  private closed = false;

  constructor(opts: PgResultStoreOptions) {
    this.serializer = opts.serializer;
    this.lease = acquireDb(opts.settings, opts.logger);
    this.db = this.lease.db;
  }

  /** For PgQueue's one-transaction writes: whether this (open) store writes through `db`. @internal */
  sharesDb(db: PgDb): boolean {
    return !this.closed && this.db === db;
  }

  /** Records as rows, encoded before any write (a value the serializer refuses throws here). @internal */
  rowsOf(records: JobRecord[]): RecordRow[] {
    this.live();
    return records.map((r) => toRecordRow(r, this.serializer));
  }

  async put(record: JobRecord): Promise<void> {
    await this.putMany([record]);
  }

  async putMany(records: JobRecord[]): Promise<void> {
    this.live();
    if (records.length === 0) return;
    checkRecords(records, PLUGIN_NAME);
    const rows = this.rowsOf(records);
    await this.db.tx('saving job records', (c) => writeRecords(c, this.db.s, rows));
  }

  async getFull(id: string): Promise<JobRecord | null> {
    this.live();
    const { rows } = await this.db.query<RecordRow>('reading a job record', `SELECT ${RECORD_SELECT} FROM ${this.db.s}.jobs WHERE id = $1 AND status IS NOT NULL`, [id]);
    return rows[0] ? toRecord(rows[0], this.serializer) : null;
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
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
    if (q.task !== null) where.push(`r_task_name = ${p(q.task)}`);
    // starts_with (PostgreSQL 11+): a filter over the rows the other conditions leave.
    if (q.idPrefix !== null) where.push(`starts_with(id, ${p(q.idPrefix)})`);
    if (q.before !== null) where.push(`r_created_at < ${p(q.before)}`);
    if (q.after !== null) where.push(`r_created_at >= ${p(q.after)}`);
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const order = `ORDER BY r_created_at ${dir}, id ${dir}`;
    const select = q.withArgs ? RECORD_SELECT : RECORD_SELECT_NO_ARGS;
    const part = (status: string) => `SELECT ${select} FROM ${this.db.s}.jobs WHERE ${[status, ...where].join(' AND ')} ${order}`;
    // Each part is read from an index whose predicate it spells out (statuses are checked names,
    // written as literals): with a task, jobs_task for every status but RUNNING; without, jobs_status
    // one status at a time, in order. RUNNING rows (schema.ts v2): the leased ones through jobs_lease
    // (the jobs in flight, sorted), the others from jobs_running.
    const statuses = q.statuses ?? JOB_STATUSES;
    const parts: string[] = [];
    if (q.task !== null) {
      const others = statuses.filter((x) => x !== 'RUNNING');
      if (others.length) parts.push(part(`status <> 'RUNNING'${others.length < JOB_STATUSES.length - 1 ? ` AND status IN (${others.map((x) => `'${x}'`).join(', ')})` : ''}`));
    } else {
      for (const x of new Set(statuses)) if (x !== 'RUNNING') parts.push(part(`status = '${x}'`));
    }
    if (statuses.includes('RUNNING')) {
      parts.push(part(`q_state = 'leased' AND status = 'RUNNING'`));
      parts.push(part(`status = 'RUNNING' AND q_state IS DISTINCT FROM 'leased'`));
    }
    let sql: string;
    if (parts.length === 1) sql = `${parts[0]} LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`;
    else {
      const upTo = p(q.limit + q.offset);
      sql = `SELECT * FROM (${parts.map((x) => `(${x} LIMIT ${upTo})`).join(' UNION ALL ')}) AS r ${order} LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`;
    }
    const { rows } = await this.db.query<RecordRow>('listing job records', sql, params);
    return rows.map((row) => toRecord(row, this.serializer));
  }

  /**
   * Calls in the same turn of the event loop share one pass over the records, each getting its own
   * completed-since count: the dashboard's overview asks for the last hour's and the last day's at
   * once (two passes, ~1.3 s each at 1,000,000 records, before).
   */
  async stats(since: number): Promise<JobStats> {
    this.live();
    return this.statsReads.call(since);
  }

  private readonly statsReads = new Coalesced<number, JobStats>((sinces) => this.readStats(sinces));

  private async readStats(sinces: number[]): Promise<JobStats[]> {
    const s = this.db.s;
    const windows = [...new Set(sinces)];
    // One pass over the records (each completed-since count rides on the GROUP BY as a filtered count;
    // a second scan of its own was ~half the call at 10,000 rows); the oldest PENDING comes from jobs_status.
    const done = windows.map((_, i) => `count(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED') AND completed_at >= $${i + 1})::int8 AS done${i}`);
    const { rows } = await this.db.query<Record<string, string | number | null>>('computing job stats',
      `SELECT r_task_name AS task, status, count(*)::int8 AS n, ${done.join(', ')}
       FROM ${s}.jobs WHERE status IS NOT NULL GROUP BY r_task_name, status
       UNION ALL SELECT NULL, NULL, (SELECT min(r_created_at) FROM ${s}.jobs WHERE status = 'PENDING' AND status <> 'RUNNING'), ${windows.map(() => '0').join(', ')}`, windows);
    const byStatus = Object.fromEntries(JOB_STATUSES.map((x) => [x, 0])) as Record<JobStatus, number>;
    const byTask: JobStats['byTask'] = {};
    let oldest: number | null = null;
    const completed = windows.map(() => 0);
    for (const r of rows) {
      // The last row: no task, its n is the oldest PENDING creation time (or NULL).
      if (r.task === null) { oldest = r.n === null ? null : Number(r.n); continue; }
      byStatus[r.status as JobStatus] += Number(r.n);
      for (let i = 0; i < windows.length; i++) completed[i] += Number(r[`done${i}`]);
      (byTask[r.task as string] ??= {})[r.status as JobStatus] = Number(r.n);
    }
    const oldestPendingAt = oldest === null ? null : new Date(oldest).toISOString();
    // Each caller gets objects of its own (the first the ones built here, the others copies).
    return sinces.map((since, i) => ({
      byStatus: i === 0 ? byStatus : { ...byStatus }, byTask: i === 0 ? byTask : structuredClone(byTask), oldestPendingAt,
      completedSince: completed[windows.findIndex((w) => Object.is(w, since))],
    }));
  }

  // The dashboard's chart and run times (ResultStoreInsights): counted here, so neither is cut to the
  // newest 5,000 records nor decodes them, as the listJobs fallback does (it took ~140 ms a call at 50,000 records).
  async completions(since: number, bucketMs: number): Promise<CompletionBucket[]> {
    this.live();
    if (!Number.isInteger(bucketMs) || bucketMs < MINUTE_MS || bucketMs % MINUTE_MS !== 0) {
      throw new NuvomError('NUVOM_E_USAGE', `completions bucketMs must be a whole number of minutes in ms (60000, 300000, ...), got ${JSON.stringify(bucketMs)}`, { plugin: PLUGIN_NAME });
    }
    return this.completionReads.call({ since, bucketMs });
  }

  /** Calls in the same turn of the event loop (the overview's hour and day) share one pass, counted per minute. */
  private readonly completionReads = new Coalesced<{ since: number; bucketMs: number }, CompletionBucket[]>((asked) => this.readCompletions(asked));

  private async readCompletions(asked: Array<{ since: number; bucketMs: number }>): Promise<CompletionBucket[][]> {
    // Every bucket starts on a whole minute (bucketMs is whole minutes, `from` a multiple of it), so
    // counts per minute from the earliest `from` add up exactly into each caller's buckets.
    const froms = asked.map((a) => Math.floor(a.since / a.bucketMs) * a.bucketMs);
    const first = Math.min(...froms);
    // No index on completed_at (one more index entry on every settle): a pass over the completed records, as stats() makes.
    const { rows } = await this.db.query<{ m: string; status: JobStatus; n: string }>('reading completions',
      `SELECT (completed_at - $1) / ${MINUTE_MS} AS m, status, count(*) AS n FROM ${this.db.s}.jobs
       WHERE status IN ('SUCCESS', 'FAILED') AND completed_at >= $1 GROUP BY 1, 2`, [first]);
    const now = Date.now();
    return asked.map(({ bucketMs }, i) => {
      const from = froms[i];
      const buckets: CompletionBucket[] = [];
      for (let at = from; at <= now; at += bucketMs) buckets.push({ at, success: 0, failed: 0 });
      for (const r of rows) {
        const minute = first + Number(r.m) * MINUTE_MS;
        if (minute < from) continue;
        const b = buckets[Math.floor((minute - from) / bucketMs)];
        if (b) b[r.status === 'SUCCESS' ? 'success' : 'failed'] += Number(r.n);
      }
      return buckets;
    });
  }

  async runTimes(perTask: number, maxTasks: number): Promise<Record<string, number[]>> {
    this.live();
    const s = this.db.s;
    // The tasks with most records (ties by name, in code point order), from the stats pass: the one a
    // stats() call made at the same time makes (the dashboard's overview asks for both), else one of its own.
    const { byTask } = await this.statsReads.call(0);
    const tasks = Object.entries(byTask).map(([task, counts]) => [task, Object.values(counts).reduce((a, b) => a + (b ?? 0), 0)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, Math.max(0, maxTasks)).map(([task]) => task);
    if (tasks.length === 0) return {};
    // Per task, its newest RUN_TIME_SCAN x perTask records through jobs_task (as the SQLite store bounds it).
    const { rows } = await this.db.query<{ task: string; ms: string }>('reading run times',
      `SELECT t.task, x.ms FROM unnest($1::text[]) AS t(task) CROSS JOIN LATERAL (
         SELECT completed_at - started_at AS ms FROM (
           SELECT status, started_at, completed_at FROM ${s}.jobs WHERE r_task_name = t.task AND status <> 'RUNNING' ORDER BY r_created_at DESC, id DESC LIMIT $2) n
         WHERE status IN ('SUCCESS', 'FAILED') AND started_at IS NOT NULL AND completed_at IS NOT NULL LIMIT $3) x`,
      [tasks, perTask * RUN_TIME_SCAN, perTask]);
    const out: Record<string, number[]> = {};
    for (const r of rows) (out[r.task] ??= []).push(Number(r.ms));
    return out;
  }

  async purge(filter: PurgeFilter): Promise<number> {
    this.live();
    const olderThan = msOf(filter.olderThan, 'purge olderThan');
    const statuses = filter.status === undefined ? FINAL_STATUSES : Array.isArray(filter.status) ? filter.status : [filter.status];
    if (statuses.length === 0) return 0;
    const { rows } = await this.db.query<{ n: number }>('purging job records', purgeStatement(this.db.s, statuses), [statuses, olderThan, olderThan + PURGE_CREATED_MARGIN_MS]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Calls `onDone(id)` when a job reaches a final status, in any process (NOTIFY), and `onDone(null)`
   * when notifications may have been missed (the LISTEN connection dropped): look again.
   */
  subscribeFinal(onDone: (id: string | null) => void): () => void {
    this.live();
    // A settle's NOTIFY carries its batch's ids, one a line (schema.ts v2); the row trigger's, one id.
    return this.db.listen(this.db.doneChannel, (payload) => {
      if (payload === null) { onDone(null); return; }
      for (const id of payload.split('\n')) onDone(id);
    });
  }

  async putHeartbeat(b: WorkerHeartbeat): Promise<void> {
    this.live();
    await this.db.query('writing a worker heartbeat',
      `INSERT INTO ${this.db.s}.heartbeats (worker_id, host, pid, threads, busy_threads, jobs_per_sec, started_at, last_beat_at, period_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, threads = excluded.threads, busy_threads = excluded.busy_threads,
         jobs_per_sec = excluded.jobs_per_sec, started_at = excluded.started_at, last_beat_at = excluded.last_beat_at, period_ms = excluded.period_ms`,
      [b.workerId, b.host, b.pid, b.threads, b.busyThreads, b.jobsPerSec, b.startedAt, b.lastBeatAt, b.periodMs]);
  }

  async removeHeartbeat(workerId: string): Promise<void> {
    this.live();
    await this.db.query('removing a worker heartbeat', `DELETE FROM ${this.db.s}.heartbeats WHERE worker_id = $1`, [workerId]);
  }

  async listHeartbeats(): Promise<WorkerHeartbeat[]> {
    this.live();
    const { rows } = await this.db.query<Record<string, number | string>>('listing worker heartbeats', `SELECT * FROM ${this.db.s}.heartbeats ORDER BY worker_id`);
    return rows.map((r) => ({
      workerId: r.worker_id as string, host: r.host as string, pid: Number(r.pid), threads: Number(r.threads), busyThreads: Number(r.busy_threads),
      jobsPerSec: Number(r.jobs_per_sec), startedAt: Number(r.started_at), lastBeatAt: Number(r.last_beat_at), periodMs: Number(r.period_ms),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lease.release();
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL result store is closed; resolve the resultStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

/**
 * A record completes after it is created, so one completed before the cut was created before it too:
 * bounding the creation time as well lets a purge read jobs_status from its oldest entries up to the
 * cut (a daily purge: about a day of records) instead of every record (1.4 s at 1,000,000 records,
 * when it deleted none). The margin leaves room for clocks that disagree between the host that
 * enqueued a job and the one that ran it.
 */
const PURGE_CREATED_MARGIN_MS = 86_400_000;

/**
 * purge(): $1 the statuses, $2 the cut (epoch ms), $3 the cut plus PURGE_CREATED_MARGIN_MS. A row
 * still queued keeps its queue part (only its record is cleared); those are found through the
 * queue's partial indexes. jobs_status leaves RUNNING records out: a purge that names RUNNING reads
 * the table.
 * @internal
 */
export function purgeStatement(s: string, statuses: readonly string[]): string {
  const indexed = statuses.includes('RUNNING') ? '' : ` AND status <> 'RUNNING'`;
  return `WITH gone AS (DELETE FROM ${s}.jobs WHERE status = ANY($1::text[])${indexed} AND r_created_at < $3 AND COALESCE(completed_at, r_created_at) < $2
                        AND q_state IS NULL RETURNING 1),
            kept AS (UPDATE ${s}.jobs SET status = NULL, result = NULL, error = NULL, history = NULL, r_args = NULL
                      WHERE status = ANY($1::text[]) AND COALESCE(completed_at, r_created_at) < $2 AND (q_state = 'waiting' OR q_state = 'leased') RETURNING 1)
       SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM kept) AS n`;
}

const MINUTE_MS = 60_000;

/**
 * Calls made in the same turn of the event loop share one `read` (run at setImmediate), which gets
 * every caller's argument and answers each, in order. A failed read fails each of those calls.
 */
class Coalesced<A, R> {
  private batch: { args: A[]; out: Promise<R[]> } | null = null;
  constructor(private readonly read: (args: A[]) => Promise<R[]>) {}

  call(arg: A): Promise<R> {
    let b = this.batch;
    if (b === null) {
      const args: A[] = [];
      const out = new Promise<R[]>((resolve, reject) => {
        setImmediate(() => {
          this.batch = null;
          this.read(args).then(resolve, reject);
        });
      });
      b = this.batch = { args, out };
    }
    const i = b.args.push(arg) - 1;
    return b.out.then((all) => all[i]);
  }
}
/** runTimes looks at this many times perTask of a task's newest records for perTask completed ones. */
const RUN_TIME_SCAN = 3;

function msOf(value: string | number, what: string): number {
  const t = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(t)) throw new NuvomError('NUVOM_E_USAGE', `listJobs/purge ${what} must be an ISO-8601 date string or epoch milliseconds, got ${JSON.stringify(value)}`, { plugin: PLUGIN_NAME });
  return t;
}
