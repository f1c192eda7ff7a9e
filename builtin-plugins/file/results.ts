/**
 * The file result store: the JobRecord contract over an append-only JSON-lines log (results-log.ts).
 * Filters, order, stats and purge run over the in-memory index; only the records a call returns are
 * read from disk. Several processes may share the directory: each catches up with the others'
 * appends before it answers.
 * Must never: return a record in another shape than contracts.ts JobRecord, or a half-decoded one.
 */
import {
  FINAL_STATUSES, JOB_STATUSES, NuvomError, checkRecords, historyOf, listQuery, mergeHistory, type JobError, type StoredAttempts, type JobRecord, type JobStats, type JobStatus,
  type HeartbeatStore, type ListJobsFilter, type Logger, type PurgeFilter, type ResultStore, type Serializer, type WorkerHeartbeat,
} from '../../sdk/plugin.ts';
import path from 'node:path';
import { PLUGIN_NAME, storageError } from './fsutil.ts';
import { FileHeartbeats } from './heartbeats.ts';
import { decodeRecord, encodeLine } from './results-codec.ts';
import { ResultLog, type LogEntry } from './results-log.ts';

export class FileResultStore implements ResultStore, HeartbeatStore {
  private readonly log: ResultLog;
  private readonly beats: FileHeartbeats;
  private closed = false;

  constructor(dir: string, private readonly serializer: Serializer, logger: Logger) {
    this.log = new ResultLog(dir, logger);
    this.beats = new FileHeartbeats(path.join(dir, 'workers'), logger);
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

  get file(): string {
    return this.log.file;
  }

  async put(record: JobRecord): Promise<void> {
    await this.putMany([record]);
  }

  async putMany(records: JobRecord[]): Promise<void> {
    this.live();
    if (records.length === 0) return;
    checkRecords(records, PLUGIN_NAME);
    // Encode everything first: a value the serializer refuses leaves the store unchanged. Each line
    // holds the whole record, so the stored history is read back to merge the new attempts into it.
    const text = await this.io('appending job records', () => {
      this.log.sync();
      const written = new Map<string, StoredAttempts>();
      return records.map((r) => {
        const incoming = historyOf(r.history, r.id, 'NUVOM_E_USAGE', PLUGIN_NAME);
        const history = mergeHistory(written.get(r.id) ?? this.stored(r.id), incoming, r);
        written.set(r.id, { ...r, history });
        return encodeLine({ ...r, history }, this.serializer);
      }).join('');
    });
    await this.io('appending job records', () => this.log.append(text));
  }

  async getFull(id: string): Promise<JobRecord | null> {
    this.live();
    return this.io('reading a job record', () => {
      this.log.sync();
      const entry = this.log.entries.get(id);
      return entry ? this.decode(entry) : null;
    });
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
    const { statuses, limit, offset, order } = q;
    const before = q.before ?? undefined;
    const after = q.after ?? undefined;
    if (limit === 0 || statuses?.length === 0) return [];
    return this.io('listing job records', () => {
      this.log.sync();
      const matches: LogEntry[] = [];
      for (const e of this.log.entries.values()) {
        if (statuses && !statuses.includes(e.status)) continue;
        if (q.task !== null && e.taskName !== q.task) continue;
        if (q.idPrefix !== null && !e.id.startsWith(q.idPrefix)) continue;
        if (before !== undefined && !(e.createdAtMs < before)) continue;
        if (after !== undefined && !(e.createdAtMs >= after)) continue;
        matches.push(e);
      }
      const sign = order === 'asc' ? 1 : -1;
      matches.sort((a, b) => sign * (a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      return matches.slice(offset, offset + limit).map((e) => this.decode(e));
    });
  }

  async stats(since: number): Promise<JobStats> {
    this.live();
    await this.io('reading job records', () => this.log.sync());
    const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const byTask: JobStats['byTask'] = {};
    let oldest: LogEntry | null = null;
    let completedSince = 0;
    for (const e of this.log.entries.values()) {
      byStatus[e.status] += 1;
      const task = (byTask[e.taskName] ??= {});
      task[e.status] = (task[e.status] ?? 0) + 1;
      if (e.status === 'PENDING' && (oldest === null || e.createdAtMs < oldest.createdAtMs)) oldest = e;
      if ((e.status === 'SUCCESS' || e.status === 'FAILED') && e.completedAtMs !== null && e.completedAtMs >= since) completedSince += 1;
    }
    return { byStatus, byTask, oldestPendingAt: oldest ? oldest.createdAt : null, completedSince };
  }

  async purge(filter: PurgeFilter): Promise<number> {
    this.live();
    const olderThan = toMs(filter.olderThan, 'purge olderThan');
    const statuses = statusList(filter.status, 'purge status') ?? FINAL_STATUSES;
    if (statuses.length === 0) return 0;
    return this.io('purging job records', () => this.log.rewrite((e) => statuses.includes(e.status) && (e.completedAtMs ?? e.createdAtMs) < olderThan));
  }

  /** Rewrites the log keeping only the latest line of each record (also done automatically). */
  async compact(): Promise<void> {
    this.live();
    await this.io('compacting job records', () => this.log.rewrite(() => false, true));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log.close();
  }

  /** Filesystem failures become NUVOM_E_STORAGE naming the step; nuvom's own errors pass through. */
  private async io<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof NuvomError) throw err;
      throw storageError(`${what} in ${this.log.file}`, err);
    }
  }

  /** What the log holds of a record's attempts, or null; an unreadable old line has none to keep. */
  private stored(id: string): StoredAttempts | null {
    const entry = this.log.entries.get(id);
    if (!entry) return null;
    try {
      const rec = this.log.read(entry).rec as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      return {
        history: historyOf(rec.history, id, 'NUVOM_E_DESERIALIZE', PLUGIN_NAME), status: entry.status,
        attempts: typeof rec.attempts === 'number' ? rec.attempts : 0, startedAt: str(rec.startedAt), workerId: str(rec.workerId),
      };
    } catch {
      return null;
    }
  }

  private decode(entry: LogEntry): JobRecord {
    return decodeRecord(this.log.read(entry), this.serializer);
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the file result store is closed; resolve the resultStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

function usage(message: string): NuvomError {
  return new NuvomError('NUVOM_E_USAGE', message, { plugin: PLUGIN_NAME });
}

function statusList(status: JobStatus | JobStatus[] | undefined, what: string): readonly JobStatus[] | undefined {
  if (status === undefined) return undefined;
  const list = Array.isArray(status) ? status : [status];
  for (const s of list) if (!JOB_STATUSES.includes(s)) throw usage(`${what} ${JSON.stringify(s)} is not one of ${JOB_STATUSES.join(', ')}`);
  return list;
}

function toMs(value: string | number, what: string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw usage(`${what} must be epoch milliseconds or an ISO-8601 string, got ${JSON.stringify(value)}`);
  return ms;
}
