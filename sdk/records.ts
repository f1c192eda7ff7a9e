/**
 * Building job records and queued jobs: one place that turns options + arguments into the shapes the
 * queue and the result store keep, shared by the dispatcher and the worker pool (through the SDK).
 */
import type { JobError, JobOptions, JobRecord, NuvomConfig, QueuedJob } from '../kernel/index.ts';
import type { TaskOptionsSnapshot } from './service-types.ts';

/*
 * The last few conversions, remembered: jobs of one map() share createdAt, and a worker stamps a
 * whole batch with one startedAt/completedAt, so most records repeat a recent millisecond, and
 * toISOString was the pool's biggest single cost per job (docs/benchmarks.md).
 */
const isoMs = [NaN, NaN, NaN, NaN];
const isoText = ['', '', '', ''];
let isoNext = 0;

export const iso = (ms: number | null | undefined): string | null => {
  if (ms == null) return null;
  for (let i = 0; i < 4; i++) if (isoMs[i] === ms) return isoText[i];
  const text = new Date(ms).toISOString();
  isoMs[isoNext] = ms;
  isoText[isoNext] = text;
  isoNext = (isoNext + 1) & 3;
  return text;
};

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
  };
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
