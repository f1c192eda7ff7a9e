/**
 * Building job records and queued jobs: one place that turns options + arguments into the shapes the
 * queue and the result store keep, shared by the dispatcher and the worker pool (through the SDK).
 */
import { ATTEMPT_OUTCOMES, NuvomError, type AttemptOutcome, type AttemptRecord, type JobError, type JobOptions, type JobRecord, type NuvomConfig, type QueuedJob } from '../kernel/index.ts';
import type { TaskOptionsSnapshot } from './service-types.ts';

/*
 * The last few conversions, remembered: jobs of one map() share createdAt, and a worker stamps a
 * whole batch with one startedAt/completedAt, so most records repeat a recent millisecond, and
 * toISOString was the pool's biggest single cost per job (docs/benchmarks.md).
 */
const isoMs = [NaN, NaN, NaN, NaN];
const isoText = ['', '', '', ''];
let isoNext = 0;

/** The latest run time a job or a schedule may have: a record shows it as an ISO date, which has four-digit years up to 9999. */
export const LATEST_RUN_AT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const iso = (ms: number | null | undefined): string | null => {
  if (ms == null) return null;
  for (let i = 0; i < 4; i++) if (isoMs[i] === ms) return isoText[i];
  const text = new Date(ms).toISOString();
  isoMs[isoNext] = ms;
  isoText[isoNext] = text;
  isoNext = (isoNext + 1) & 3;
  return text;
};

/**
 * A stored time as ISO-8601 (null stays null), or undefined when no Date can hold it (a row an older
 * nuvom stored): for listings, which show such a row as invalid rather than fail on it.
 */
export const storedIso = (ms: number | null | undefined): string | null | undefined =>
  (ms == null ? null : typeof ms === 'number' && !Number.isNaN(new Date(ms).getTime()) ? iso(ms) : undefined);

/*
 * The encoded arguments a list stands for: the bytes a claimed job came with, on the list the worker
 * pool decoded from them (claimer.ts), or the bytes the dispatcher just encoded, on the copy of the
 * call's list its record holds (jobs.ts). A store writing that record then neither encodes the list
 * again nor compares two encodings. A symbol-keyed property of the list: JSON,
 * structured clone (the copy a worker thread gets) and serializers leave it out. (A WeakMap cost
 * ~2 us a job in set() and in the collector's ephemeron work.)
 */
const ARGS_BYTES: unique symbol = Symbol('nuvom.argsBytes');

/** Remembers that `args` encode to `bytes` (decoded from them, or just encoded to them; see argsBytesOf). */
export function rememberArgsBytes(args: unknown[], bytes: Uint8Array): void {
  (args as unknown[] & { [ARGS_BYTES]?: Uint8Array })[ARGS_BYTES] = bytes;
}

/** Jobs whose id the dispatcher made (markIdGenerated). A WeakSet: a copy of the job ({ ...job }) is not one. */
const generatedIds = new WeakSet<object>();

/**
 * Marks a job enqueued alone (a delay()) whose id the dispatcher just made (a fresh UUID version 7,
 * no caller-chosen id): no other job can hold it, so a store may skip what guards a duplicate
 * (PostgreSQL: a plain INSERT before the upsert, which fails on the server only for an id already
 * there). The jobs of a larger batch are not marked.
 */
export function markIdGenerated(job: object): void {
  generatedIds.add(job);
}

/** Whether markIdGenerated marked this very object (an enqueue hook's copy is not marked). */
export function idGenerated(job: object): boolean {
  return generatedIds.has(job);
}

/** The bytes `args` encode to, when rememberArgsBytes said so; else undefined (encode the list). */
export function argsBytesOf(args: unknown): Uint8Array | undefined {
  return Array.isArray(args) ? (args as unknown[] & { [ARGS_BYTES]?: Uint8Array })[ARGS_BYTES] : undefined;
}

/** Task options + per-call overrides + configuration defaults -> the options fixed on the job. */
export function jobOptions(task: TaskOptionsSnapshot, call: Partial<TaskOptionsSnapshot>, config: NuvomConfig): JobOptions {
  const pick = <K extends keyof TaskOptionsSnapshot>(k: K) => (call[k] !== undefined ? call[k] : task[k]);
  return {
    maxRetries: pick('retries') ?? 0,
    retryDelaySecs: pick('retryDelaySecs') ?? 5,
    backoff: pick('backoff') ?? 'fixed',
    timeoutSecs: pick('timeoutSecs') ?? config.jobTimeoutSecs,
    timeoutPolicy: pick('timeoutPolicy') ?? config.timeoutPolicy,
    storeResult: pick('storeResult') ?? true,
    tags: [...(pick('tags') ?? [])],
  };
}

export interface RecordState {
  status: JobRecord['status'];
  attempts: number;
  startedAt?: number | null;
  completedAt?: number | null;
  nextRunAt?: number | null;
  result?: unknown;
  error?: JobError | null;
  workerId?: string | null;
  /** The attempts this write knows of (usually the one just run); the store merges them (mergeHistory). */
  history?: AttemptRecord[];
}

/** The user-visible record of a queued job in a given state. */
export function recordOf(job: QueuedJob, args: unknown[], s: RecordState): JobRecord {
  const failuresLeft = job.options.maxRetries - Math.max(0, s.attempts - (s.status === 'RUNNING' || s.status === 'SUCCESS' ? 1 : 0));
  return {
    id: job.id,
    taskName: job.taskName,
    args,
    status: s.status,
    attempts: s.attempts,
    maxRetries: job.options.maxRetries,
    retriesLeft: Math.max(0, Math.min(job.options.maxRetries, failuresLeft)),
    priority: job.priority,
    tags: [...job.options.tags],
    createdAt: iso(job.createdAt)!,
    startedAt: iso(s.startedAt),
    completedAt: iso(s.completedAt),
    nextRunAt: iso(s.nextRunAt),
    result: s.result === undefined ? null : s.result,
    error: s.error ?? null,
    timeoutSecs: job.options.timeoutSecs,
    timeoutPolicy: job.options.timeoutPolicy,
    workerId: s.workerId ?? null,
    history: s.history ?? [],
  };
}

/** How many attempts a record keeps: the last 25 (docs/decisions.md). */
export const HISTORY_LIMIT = 25;

/**
 * The most bytes a job's encoded arguments, or its result, may take: 64 MiB. Past ~256 MB a value
 * cannot be stored in PostgreSQL and read back by node-postgres (a bytea travels as hex text, twice
 * its size, against V8's longest string): one such result failed the whole batch of outcomes it was
 * written with, and a stored one ended every process that read it. One limit for every backend.
 */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024;

/** Why `bytes` cannot be stored (too big), else null. `what`: "arguments" or "result". */
export function valueTooBig(bytes: Uint8Array, what: string): string | null {
  if (bytes.byteLength <= MAX_VALUE_BYTES) return null;
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  return `the ${what} ${what === 'arguments' ? 'take' : 'takes'} ${mb(bytes.byteLength)} MiB encoded, over the ${mb(MAX_VALUE_BYTES)} MiB a job's ${what} may take; store big data elsewhere (a file, object storage, a table) and pass or return its key`;
}
/** Lines of an error's stack an attempt keeps (the record's own `error` keeps the whole stack). */
export const HISTORY_STACK_LINES = 10;

/** One attempt as the history keeps it: timestamps as ISO strings, the stack cut to its first lines. */
export function attemptOf(
  attempt: number, outcome: AttemptOutcome, startedAt: number | null, endedAt: number | null,
  workerId: string | null, threadId: number | null = null, error: JobError | null = null,
): AttemptRecord {
  return { attempt, startedAt: iso(startedAt), endedAt: iso(endedAt), outcome, error: error && shortError(error), workerId, threadId };
}

function shortError(e: JobError): JobError {
  if (!e.stack) return { name: e.name, message: e.message, stack: null };
  let cut = -1;
  for (let i = 0, n = 0; i < HISTORY_STACK_LINES; i++) {
    cut = e.stack.indexOf('\n', cut + 1);
    if (cut < 0) break;
    n++;
  }
  return { name: e.name, message: e.message, stack: cut < 0 ? e.stack : e.stack.slice(0, cut) };
}

/** What a store holds of a record before a write: its history and the attempt it may be running. */
export interface StoredAttempts {
  history?: readonly AttemptRecord[] | null;
  status: JobRecord['status'];
  attempts: number;
  startedAt: string | null;
  workerId: string | null;
}

/**
 * The history a store keeps after a write of `record` carrying `incoming` (the attempts the writer
 * ended), given what it held before (`prev`, null for a new record), so no writer reads first:
 * - a stored RUNNING attempt that the write overtakes (more attempts) without sending its end never
 *   ended: it is appended as LOST (its start and worker from `prev`, ended when the new one started);
 *   one whose claim was taken back (fewer attempts) leaves no entry;
 * - an entry replaces the stored entry with the same attempt and startedAt, else it is appended; an
 *   INTERRUPTED entry without a start for the attempt that was running takes its start;
 * - the last HISTORY_LIMIT entries are kept.
 * Must never: drop an ended attempt other than by the limit.
 */
export function mergeHistory(
  prev: StoredAttempts | null | undefined, incoming: readonly AttemptRecord[] | null | undefined,
  record: { attempts: number; startedAt: string | null },
): AttemptRecord[] {
  const out = prev?.history ? prev.history.slice() : [];
  const open = prev?.status === 'RUNNING' ? prev : null;
  if (open && record.attempts > open.attempts && !incoming?.some((e) => e.attempt === open.attempts)) {
    out.push({ attempt: open.attempts, startedAt: open.startedAt, endedAt: record.startedAt, outcome: 'LOST', error: null, workerId: open.workerId, threadId: null });
  }
  if (incoming) {
    for (let e of incoming) {
      // A worker giving a job back mid-run knows the attempt, not when its thread started it.
      if (open && e.outcome === 'INTERRUPTED' && e.startedAt === null && e.attempt === open.attempts) e = { ...e, startedAt: open.startedAt };
      let same = -1;
      for (let i = out.length - 1; i >= 0; i--) if (out[i].attempt === e.attempt && out[i].startedAt === e.startedAt) { same = i; break; }
      if (same >= 0) out[same] = e;
      else out.push(e);
    }
  }
  return out.length > HISTORY_LIMIT ? out.slice(-HISTORY_LIMIT) : out;
}

/*
 * The last two timestamps found valid: a batch's attempts share their times, and Date.parse is dear
 * per job. Two, since each attempt brings two (its start and its end), checked one after the other.
 */
let lastIso = '';
let lastIso2 = '';
const isoOrNull = (v: unknown): v is string | null => {
  if (v === null) return true;
  if (typeof v !== 'string') return false;
  if (v === lastIso || v === lastIso2) return true;
  if (Number.isNaN(Date.parse(v))) return false;
  lastIso2 = lastIso;
  lastIso = v;
  return true;
};

/**
 * A history given to a store (or read back from one) checked and copied: a list of AttemptRecord.
 * `code` is NUVOM_E_USAGE for a caller's record, NUVOM_E_DESERIALIZE for stored bytes.
 */
export function historyOf(value: unknown, jobId: string, code: 'NUVOM_E_USAGE' | 'NUVOM_E_DESERIALIZE', plugin?: string): AttemptRecord[] {
  if (value === undefined || value === null) return [];
  const bad = (why: string) => new NuvomError(code, `the ${code === 'NUVOM_E_USAGE' ? '' : 'stored '}history of job ${jobId} ${why}; each attempt is { attempt, startedAt, endedAt, outcome, error, workerId, threadId } (docs/tasks.md "Attempt history")`, { plugin, details: { jobId } });
  if (!Array.isArray(value)) return ((): never => { throw bad(`is ${typeof value}, not a list`); })();
  return value.map((v: unknown, i): AttemptRecord => {
    const a = v as Partial<AttemptRecord> | null;
    if (!a || typeof a !== 'object') throw bad(`has entry ${i} that is not an object`);
    if (!Number.isInteger(a.attempt) || (a.attempt as number) < 0) throw bad(`has entry ${i} whose attempt is not a whole number`);
    if (!ATTEMPT_OUTCOMES.includes(a.outcome as AttemptOutcome)) throw bad(`has entry ${i} whose outcome ${JSON.stringify(a.outcome)} is not one of ${ATTEMPT_OUTCOMES.join(', ')}`);
    if (!isoOrNull(a.startedAt) || !isoOrNull(a.endedAt)) throw bad(`has entry ${i} whose startedAt or endedAt is not an ISO-8601 string or null`);
    const e = a.error as Partial<JobError> | null | undefined;
    if (e != null && (typeof e !== 'object' || typeof e.name !== 'string' || typeof e.message !== 'string')) throw bad(`has entry ${i} whose error is not { name, message, stack }`);
    return {
      attempt: a.attempt as number,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
      outcome: a.outcome as AttemptOutcome,
      error: e == null ? null : { name: e.name!, message: e.message!, stack: typeof e.stack === 'string' ? e.stack : null },
      workerId: typeof a.workerId === 'string' ? a.workerId : null,
      threadId: typeof a.threadId === 'number' ? a.threadId : null,
    };
  });
}

/** An Error (or anything thrown) as the record keeps it. */
export function errorOf(err: unknown): JobError {
  if (err instanceof Error) return { name: err.name || 'Error', message: err.message, stack: err.stack ?? null };
  if (err && typeof err === 'object' && typeof (err as JobError).message === 'string') {
    const e = err as Partial<JobError>;
    return { name: e.name ?? 'Error', message: e.message!, stack: e.stack ?? null };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err), stack: null };
}

/** The stored error as a throwable Error again (name, message and stack kept). */
export function toError(e: JobError, jobId: string): Error & { code: string; jobId: string } {
  const err = new Error(e.message) as Error & { code: string; jobId: string };
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  err.code = 'NUVOM_E_JOB_FAILED';
  err.jobId = jobId;
  return err;
}

/**
 * `ListJobsFilter.idPrefix`, checked for a result store: undefined when absent, else a non-empty
 * string (NUVOM_E_USAGE otherwise, since an empty prefix would match every record).
 */
export function idPrefixOf(filter: { idPrefix?: unknown }): string | undefined {
  const p = filter.idPrefix;
  if (p === undefined) return undefined;
  if (typeof p !== 'string' || p === '') {
    throw new NuvomError('NUVOM_E_USAGE', `listJobs idPrefix must be a non-empty string, got ${JSON.stringify(p)}; leave it out to list every id`);
  }
  return p;
}
