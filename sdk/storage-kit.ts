/**
 * The storage kit: what every queue and result store must check and say the same way, shared by the
 * memory, file, SQLite (and PostgreSQL) backends and exported through nuvom/plugin for third-party
 * ones: one message per error code, the claim and lease argument guards, listJobs filter
 * normalisation, the record check before a write, and the change-listener fan-out. The conformance
 * kit's invalid-input cases hold every backend to these rules.
 * Must never: touch storage; every function here is pure or owns only its listeners (processAlive
 * reads /proc).
 */
import { readFileSync } from 'node:fs';
import { JOB_STATUSES, NuvomError, type ClaimOptions, type Clock, type JobRecord, type JobStatus, type ListJobsFilter, type Logger } from '../kernel/index.ts';

/** NUVOM_E_DUPLICATE_JOB, in the one wording every backend uses. */
export function duplicateJob(id: string, plugin?: string, status?: string): NuvomError {
  return new NuvomError('NUVOM_E_DUPLICATE_JOB', `job id ${JSON.stringify(id)} is already in the queue${status ? ` (${status})` : ''}; give the job a new id, or wait until it has left the queue (finished or cancelled) before queuing it again; nothing was enqueued`, { plugin, details: { jobId: id } });
}

function usage(message: string, plugin?: string): NuvomError {
  return new NuvomError('NUVOM_E_USAGE', message, { plugin });
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

/** A worker id, as claim, renew, ack, retry, release and fail take it: a non-empty string. */
export function checkWorkerId(what: string, workerId: unknown, plugin?: string): asserts workerId is string {
  if (typeof workerId !== 'string' || workerId === '') throw usage(`${what}: workerId must be a non-empty string, got ${show(workerId)}`, plugin);
}

/** A lease length in ms: a finite number > 0. */
export function checkLeaseMs(what: string, leaseMs: unknown, plugin?: string): asserts leaseMs is number {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw usage(`${what}: leaseMs must be a number of milliseconds > 0, got ${show(leaseMs)}; set visibilityTimeoutSecs`, plugin);
  }
}

/**
 * Checks a claim's options and resolves them: `max` a whole number >= 0 (0 claims nothing), a
 * worker id, a lease > 0, `now` (when given) a finite epoch ms; `now` defaults to the clock.
 */
export function claimArgs(opts: ClaimOptions, clock?: Clock, plugin?: string): { now: number; max: number } {
  if (!opts || typeof opts !== 'object') throw usage(`claim needs { max, workerId, leaseMs }, got ${show(opts)}`, plugin);
  if (typeof opts.max !== 'number' || !Number.isInteger(opts.max) || opts.max < 0) throw usage(`claim: max must be a whole number >= 0, got ${show(opts.max)}`, plugin);
  checkWorkerId('claim', opts.workerId, plugin);
  checkLeaseMs('claim', opts.leaseMs, plugin);
  if (opts.now !== undefined && (typeof opts.now !== 'number' || !Number.isFinite(opts.now))) throw usage(`claim: now must be epoch milliseconds, got ${show(opts.now)}`, plugin);
  return { now: opts.now ?? (clock ? clock.now() : Date.now()), max: opts.max };
}

/** Checks renew's arguments (ids a list of strings, a worker id, a lease > 0). */
export function renewArgs(ids: unknown, workerId: unknown, leaseMs: unknown, plugin?: string): void {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw usage(`renew: ids must be a list of job ids, got ${show(ids)}`, plugin);
  checkWorkerId('renew', workerId, plugin);
  checkLeaseMs('renew', leaseMs, plugin);
}

/** A listJobs filter checked and resolved; every backend lists from this. */
export interface ListQuery {
  /** null: any status. An empty list matches nothing. */
  statuses: JobStatus[] | null;
  task: string | null;
  /** Only ids that start with this (ListJobsFilter.idPrefix). */
  idPrefix: string | null;
  /** Epoch ms: created strictly before / at or after. */
  before: number | null;
  after: number | null;
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
  /** ListJobsFilter.withArgs: false leaves the arguments out. */
  withArgs: boolean;
}

function timeOf(value: unknown, field: string, plugin?: string): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw usage(`listJobs ${field} must be an ISO-8601 date string or epoch milliseconds, got ${show(value)}`, plugin);
  return ms;
}

/**
 * Checks a listJobs filter and resolves its defaults (limit 50, offset 0, newest first). Unknown
 * statuses, a non-string task, bad dates, a limit or offset that is not a whole number >= 0 and an
 * order other than asc/desc are NUVOM_E_USAGE naming the field.
 */
export function listQuery(filter: ListJobsFilter | undefined, plugin?: string): ListQuery {
  const f = filter ?? {};
  if (typeof f !== 'object' || Array.isArray(f)) throw usage(`listJobs takes a filter object such as { status: 'FAILED', limit: 20 }, got ${show(filter)}`, plugin);
  let statuses: JobStatus[] | null = null;
  if (f.status !== undefined) {
    statuses = Array.isArray(f.status) ? [...f.status] : [f.status];
    for (const s of statuses) {
      if (!JOB_STATUSES.includes(s)) throw usage(`listJobs status ${show(s)} is not one of ${JOB_STATUSES.join(', ')}`, plugin);
    }
  }
  if (f.task !== undefined && typeof f.task !== 'string') throw usage(`listJobs task must be a task name (a string), got ${show(f.task)}`, plugin);
  if (f.idPrefix !== undefined && (typeof f.idPrefix !== 'string' || f.idPrefix === '')) throw usage(`listJobs idPrefix must be a non-empty string, got ${show(f.idPrefix)}; leave it out to list every id`, plugin);
  const limit = f.limit ?? 50;
  const offset = f.offset ?? 0;
  for (const [name, value] of [['limit', limit], ['offset', offset]] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw usage(`listJobs ${name} must be a whole number >= 0, got ${show(value)}`, plugin);
  }
  const order = f.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw usage(`listJobs order must be "asc" or "desc", got ${show(order)}`, plugin);
  if (f.withArgs !== undefined && typeof f.withArgs !== 'boolean') throw usage(`listJobs withArgs must be true or false, got ${show(f.withArgs)}`, plugin);
  return {
    statuses,
    task: f.task ?? null,
    idPrefix: f.idPrefix ?? null,
    before: f.createdBefore === undefined ? null : timeOf(f.createdBefore, 'createdBefore', plugin),
    after: f.createdAfter === undefined ? null : timeOf(f.createdAfter, 'createdAfter', plugin),
    limit,
    offset,
    order,
    withArgs: f.withArgs ?? true,
  };
}

/** The last timestamp found valid: records of one batch share their times, and Date.parse is dear per record. */
let lastIso = '';
const isoOrNull = (v: unknown): boolean => {
  if (v === null || v === undefined) return true;
  if (typeof v !== 'string') return false;
  if (v === lastIso) return true;
  if (!Number.isFinite(Date.parse(v))) return false;
  lastIso = v;
  return true;
};

function badField(r: JobRecord, plugin: string | undefined, field: string, want: string, got: unknown): NuvomError {
  return usage(`job record ${show(r.id)}: ${field} must be ${want}, got ${show(got)}; nothing was written`, plugin);
}

/**
 * Checks records before any is written (put, putMany, a job store's batches): an id and a task name,
 * a known status, whole attempts, ISO timestamps. NUVOM_E_USAGE naming the job and the field;
 * the caller writes nothing of the batch then.
 */
export function checkRecords(records: readonly JobRecord[], plugin?: string): void {
  if (!Array.isArray(records)) throw usage(`expected a list of job records, got ${show(records)}`, plugin);
  for (const r of records) {
    if (!r || typeof r !== 'object') throw usage(`a job record must be an object, got ${show(r)}`, plugin);
    // No function made per record (the bundle names each closure made: see jobs.ts's newJobId).
    if (typeof r.id !== 'string' || r.id === '') throw badField(r, plugin, 'id', 'a non-empty string', r.id);
    if (typeof r.taskName !== 'string' || r.taskName === '') throw badField(r, plugin, 'taskName', 'a non-empty string', r.taskName);
    if (!JOB_STATUSES.includes(r.status)) throw badField(r, plugin, 'status', `one of ${JOB_STATUSES.join(', ')}`, r.status);
    if (!Number.isInteger(r.attempts) || r.attempts < 0) throw badField(r, plugin, 'attempts', 'a whole number >= 0', r.attempts);
    if (typeof r.createdAt !== 'string' || !isoOrNull(r.createdAt)) throw badField(r, plugin, 'createdAt', 'an ISO-8601 date string', r.createdAt);
    for (const field of ['startedAt', 'completedAt', 'nextRunAt'] as const) {
      if (!isoOrNull(r[field])) throw badField(r, plugin, field, 'an ISO-8601 date string or null', r[field]);
    }
  }
}

/**
 * The fan-out behind Queue.subscribe: listeners called once per burst of `notify()` calls (on the
 * next turn of the event loop), each isolated (one that throws is logged, the others still run).
 */
export class ChangeListeners {
  private readonly listeners = new Set<() => void>();
  private pending = false;

  constructor(
    private readonly logger?: Pick<Logger, 'warn'>,
    private readonly label = 'queue',
    /** When the burst is delivered: after the current job (microtask) or on the next turn (immediate). */
    private readonly timing: 'microtask' | 'immediate' = 'immediate',
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Adds a listener; returns its unsubscribe (idempotent). */
  add(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => { this.listeners.delete(onChange); };
  }

  /** Calls every listener once, soon (coalesced). */
  notify(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    if (this.timing === 'microtask') queueMicrotask(() => this.deliver());
    else setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.pending = false;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.logger?.warn(`a ${this.label} subscriber threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

/**
 * Whether process `pid` of this host still runs (a lock's or a worker's owner): signal 0 reaches it
 * (EPERM: it runs, as another user), and on Linux it is not a zombie, which signal 0 still reaches
 * after a SIGKILL until its parent reaps it (a worker started in the background by a shell that
 * never waits, under an init that never reaps).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux), or it ended just now: signal 0 said it ran
  }
}
