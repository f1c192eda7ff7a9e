/**
 * The in-process result store: a Map of records by id. Records are deep-copied (field by field, user
 * values by structuredClone) in and out, so callers can neither mutate stored state nor see later changes through old references.
 * Must never: keep a caller's object, or accept a value a durable store could not hold without saying so.
 */
import {
  FINAL_STATUSES, JOB_STATUSES, NuvomError, checkRecords, historyOf, listQuery, mergeHistory, type AttemptRecord, type JobError, type JobRecord, type JobStats, type JobStatus,
  type HeartbeatStore, type ListJobsFilter, type PurgeFilter, type ResultStore, type WorkerHeartbeat,
} from '../../sdk/plugin.ts';

/** A value as a durable store would give it back: primitives as they are, lists of primitives sliced, anything else structuredClone'd. */
function copyValue(value: unknown): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) return value;
  if (Array.isArray(value) && value.every(isPlainPrimitive) && Object.getPrototypeOf(value) === Array.prototype) return value.slice();
  return structuredClone(value);
}

function isPlainPrimitive(v: unknown): boolean {
  return v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol');
}

/**
 * A deep copy of a record, field by field (structuredClone of the whole record was the pool's biggest
 * cost per job on this backend): user values go through copyValue, the rest are strings and numbers.
 */
function copyRecord(r: JobRecord): JobRecord {
  return {
    id: r.id,
    taskName: r.taskName,
    args: copyValue(r.args) as unknown[],
    status: r.status,
    attempts: r.attempts,
    maxRetries: r.maxRetries,
    retriesLeft: r.retriesLeft,
    priority: r.priority,
    tags: copyValue(r.tags) as string[],
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    completedAt: r.completedAt,
    nextRunAt: r.nextRunAt,
    result: copyValue(r.result),
    error: r.error ? { name: r.error.name, message: r.error.message, stack: r.error.stack } : r.error,
    timeoutSecs: r.timeoutSecs,
    timeoutPolicy: r.timeoutPolicy,
    workerId: r.workerId,
    history: r.history ? copyHistory(r.history) : [],
  };
}

const copyHistory = (h: readonly AttemptRecord[]): AttemptRecord[] => h.map((a) => ({ ...a, error: a.error && { ...a.error } }));

function copyIn(record: JobRecord): JobRecord {
  try {
    return copyRecord(record);
  } catch (err) {
    throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `job record "${record.id}" holds a value that cannot be stored (${(err as Error).message}); results and arguments must be plain data`, { cause: err });
  }
}

function toMs(value: string | number, field: string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new NuvomError('NUVOM_E_USAGE', `listJobs ${field} must be an ISO-8601 string or epoch milliseconds, got ${JSON.stringify(value)}`);
  }
  return ms;
}

function statusSet(status: JobStatus | JobStatus[] | undefined, fallback: readonly JobStatus[] | null): Set<JobStatus> | null {
  if (status === undefined) return fallback ? new Set(fallback) : null;
  return new Set(Array.isArray(status) ? status : [status]);
}

/** Newest first by createdAt, then id (descending), as the contract's default order. */
function newestFirst(a: JobRecord, b: JobRecord): number {
  return Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export class MemoryResultStore implements ResultStore, HeartbeatStore {
  private readonly records = new Map<string, JobRecord>();
  /** Worker heartbeats (HeartbeatStore): only this process's workers, as every memory backend. */
  private readonly beats = new Map<string, WorkerHeartbeat>();

  async putHeartbeat(beat: WorkerHeartbeat): Promise<void> {
    this.beats.set(beat.workerId, { ...beat });
  }

  async removeHeartbeat(workerId: string): Promise<void> {
    this.beats.delete(workerId);
  }

  async listHeartbeats(): Promise<WorkerHeartbeat[]> {
    return [...this.beats.values()].map((b) => ({ ...b }));
  }

  async put(record: JobRecord): Promise<void> {
    await this.putMany([record]);
  }

  async putMany(records: JobRecord[]): Promise<void> {
    // All copied and checked before any is stored: all or none.
    checkRecords(records);
    const copies = records.map((r) => ({ history: historyOf(r.history, r.id, 'NUVOM_E_USAGE'), copy: copyIn(r) }));
    for (const { copy, history } of copies) {
      copy.history = mergeHistory(this.records.get(copy.id), history, copy);
      this.records.set(copy.id, copy);
    }
  }

  /** For the memory job store: throws as putMany would, writing nothing. */
  checkRecords(records: JobRecord[]): void {
    checkRecords(records);
    for (const r of records) { historyOf(r.history, r.id, 'NUVOM_E_USAGE'); copyIn(r); }
  }

  /** For the memory job store: the stored record itself (not a copy; never hand it out). */
  stored(id: string): JobRecord | undefined {
    return this.records.get(id);
  }

  async getFull(id: string): Promise<JobRecord | null> {
    const r = this.records.get(id);
    return r ? copyRecord(r) : null;
  }

  async getResult(id: string): Promise<unknown> {
    const r = this.records.get(id);
    return r && r.status === 'SUCCESS' ? structuredClone(r.result) : undefined;
  }

  async getError(id: string): Promise<JobError | null> {
    const r = this.records.get(id);
    return r && r.status === 'FAILED' && r.error ? structuredClone(r.error) : null;
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<JobRecord[]> {
    const q = listQuery(filter);
    const statuses = q.statuses ? new Set(q.statuses) : null;
    const { before, after, limit, offset } = q;
    const matches: JobRecord[] = [];
    for (const r of this.records.values()) {
      if (statuses && !statuses.has(r.status)) continue;
      if (q.task !== null && r.taskName !== q.task) continue;
      if (q.idPrefix !== null && !r.id.startsWith(q.idPrefix)) continue;
      const created = Date.parse(r.createdAt);
      if (before !== null && !(created < before)) continue;
      if (after !== null && !(created >= after)) continue;
      matches.push(r);
    }
    matches.sort(newestFirst);
    if (q.order === 'asc') matches.reverse();
    return matches.slice(offset, offset + limit).map(copyRecord);
  }

  async stats(since: number): Promise<JobStats> {
    const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const byTask: JobStats['byTask'] = {};
    let oldestPending: JobRecord | null = null;
    let completedSince = 0;
    for (const r of this.records.values()) {
      byStatus[r.status] += 1;
      const task = (byTask[r.taskName] ??= {});
      task[r.status] = (task[r.status] ?? 0) + 1;
      if (r.status === 'PENDING' && (!oldestPending || Date.parse(r.createdAt) < Date.parse(oldestPending.createdAt))) oldestPending = r;
      if ((r.status === 'SUCCESS' || r.status === 'FAILED') && r.completedAt !== null && Date.parse(r.completedAt) >= since) completedSince += 1;
    }
    return { byStatus, byTask, oldestPendingAt: oldestPending?.createdAt ?? null, completedSince };
  }

  async purge(filter: PurgeFilter): Promise<number> {
    const statuses = statusSet(filter.status, FINAL_STATUSES)!;
    let removed = 0;
    for (const [id, r] of this.records) {
      if (!statuses.has(r.status)) continue;
      if (Date.parse(r.completedAt ?? r.createdAt) < filter.olderThan) {
        this.records.delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    // Nothing to release; records stay readable until the store is garbage-collected.
  }
}
