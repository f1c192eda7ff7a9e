/**
 * Records and the result store contract, with its optional heartbeat and insight companions. Types only.
 */
import type { JobError, JobOptions, JobStatus, QueueCounts, TimeoutPolicy } from './queue.ts';

/**
 * How one attempt ended. RETRIED: it threw and the job will run again; FAILED: it threw and the job
 * failed for good; TIMED_OUT: it ran past timeoutSecs (the record's status says whether a retry
 * follows); CRASHED: its thread died under it; CANCELLED: cancelled while running; INTERRUPTED: the
 * worker stopped mid-run and gave the job back; LOST: it never reported an end (its worker was
 * killed, hung or lost the lease) and the job was delivered again. The attempt running now is not in
 * the history: it is the record itself (status RUNNING, attempts, startedAt, workerId).
 */
export type AttemptOutcome =
  | 'SUCCESS' | 'RETRIED' | 'FAILED' | 'TIMED_OUT' | 'CRASHED' | 'CANCELLED' | 'INTERRUPTED' | 'LOST';
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = Object.freeze([
  'SUCCESS', 'RETRIED', 'FAILED', 'TIMED_OUT', 'CRASHED', 'CANCELLED', 'INTERRUPTED', 'LOST',
]);

/** One attempt of a job, as `JobRecord.history` keeps it. Timestamps are ISO-8601 UTC strings. */
export interface AttemptRecord {
  /** The record's `attempts` while it ran (1 for a run's first attempt; a re-run counts from 1 again). */
  attempt: number;
  /** When it started (null when it was claimed but never started). */
  startedAt: string | null;
  /** When it ended; for a LOST attempt, when the next one started (null when not known). */
  endedAt: string | null;
  outcome: AttemptOutcome;
  /** The attempt's error; its stack cut to the first HISTORY_STACK_LINES lines (the record's own error keeps all). */
  error: JobError | null;
  /** The worker that ran it. */
  workerId: string | null;
  /** The worker thread that ran it, when known. */
  threadId: number | null;
}

/** The user-visible record of a job (api.md). Timestamps are ISO-8601 UTC strings. */
export interface JobRecord {
  id: string;
  taskName: string;
  args: unknown[];
  status: JobStatus;
  attempts: number;
  maxRetries: number;
  retriesLeft: number;
  priority: number;
  tags: string[];
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  nextRunAt: string | null;
  result: unknown;
  error: JobError | null;
  timeoutSecs: number;
  timeoutPolicy: TimeoutPolicy;
  workerId: string | null;
  /**
   * The job's last HISTORY_LIMIT (25) attempts, oldest first. Optional for records built before it;
   * the built-in stores always return it. `put` merges it into the stored history instead of
   * replacing it (see ResultStore.put), so a writer sends only the attempts it ended.
   */
  history?: AttemptRecord[];
}

export interface ListJobsFilter {
  status?: JobStatus | JobStatus[];
  task?: string;
  /**
   * Only records whose id starts with this (case-sensitive; a non-empty string). Optional for a
   * third-party store: the CLI resolves job ids by unique prefix through it, and says the store
   * cannot when it is ignored (see docs/plugins.md).
   */
  idPrefix?: string;
  /** ISO string or epoch ms: only records created before this time. */
  createdBefore?: string | number;
  /** ISO string or epoch ms: only records created at or after this time. */
  createdAfter?: string | number;
  /** Default 50. */
  limit?: number;
  offset?: number;
  /** Default 'desc' (newest first, by createdAt then id). */
  order?: 'asc' | 'desc';
  /**
   * false: the store may leave each record's arguments out (`args: []`), for a listing that does not
   * show them (`nuvom history recent`): a job's arguments may be up to 64 MiB. Default true; a store
   * may ignore it.
   */
  withArgs?: boolean;
}

export interface PurgeFilter {
  /** Epoch ms: records completed (or created, when never completed) before this time. */
  olderThan: number;
  /** Default: the final statuses only (SUCCESS, FAILED, CANCELLED). */
  status?: JobStatus | JobStatus[];
}

export interface JobStats {
  byStatus: Record<JobStatus, number>;
  byTask: Record<string, Partial<Record<JobStatus, number>>>;
  /** createdAt of the oldest PENDING record, or null. */
  oldestPendingAt: string | null;
  /** Records completed (SUCCESS or FAILED) at or after `since`. */
  completedSince: number;
}

export interface ResultStore {
  /**
   * Inserts or replaces the whole record (upsert by id), except `history`, which is merged into the
   * stored one by the rules of `mergeHistory` (nuvom/plugin): an entry replaces the stored entry of
   * its attempt, a new one is appended, a stored RUNNING attempt that a later one overtakes without
   * an end becomes LOST, the last HISTORY_LIMIT are kept. An absent or empty `history` adds nothing.
   */
  put(record: JobRecord): Promise<void>;
  /** All or none, one transaction where the backend allows. */
  putMany(records: JobRecord[]): Promise<void>;
  /** The full record, or null. */
  getFull(id: string): Promise<JobRecord | null>;
  /** The stored result of a SUCCESS job (undefined when absent or not SUCCESS). */
  getResult(id: string): Promise<unknown>;
  /** The stored error of a FAILED job, or null. */
  getError(id: string): Promise<JobError | null>;
  listJobs(filter?: ListJobsFilter): Promise<JobRecord[]>;
  stats(since: number): Promise<JobStats>;
  /** Deletes matching records; returns how many. */
  purge(filter: PurgeFilter): Promise<number>;
  /**
   * Optional: calls `onDone(id)` when a record reaches a final status, written by any process, and
   * `onDone(null)` when such news may have been missed (look again). Lets `result()` wake at once
   * instead of on its next poll. Returns an unsubscribe.
   */
  subscribeFinal?(onDone: (id: string | null) => void): () => void;
  close(): Promise<void>;
}


/** One worker's last heartbeat (`nuvom workers`, the dashboard's workers page). Times are epoch ms. */
export interface WorkerHeartbeat {
  /** The pool's id: `<host>:<pid>:<random>`. */
  workerId: string;
  host: string;
  pid: number;
  threads: number;
  /** Threads running a job at the last beat. */
  busyThreads: number;
  /** Jobs ended (succeeded or failed) per second since the previous beat. */
  jobsPerSec: number;
  startedAt: number;
  lastBeatAt: number;
  /** How often this worker beats, in ms: a reader counts it stale after 3 periods without a beat. */
  periodMs: number;
}

/**
 * Optional, beside a ResultStore (the built-in memory, SQLite and file stores implement it): where
 * workers write their heartbeats so that other processes can list them. A backend without it simply
 * has no workers to show. `putHeartbeat` replaces the worker's row; `removeHeartbeat` of an absent
 * worker is a no-op; `listHeartbeats` returns every row, stale ones included (the reader decides).
 */
export interface HeartbeatStore {
  putHeartbeat(beat: WorkerHeartbeat): Promise<void>;
  removeHeartbeat(workerId: string): Promise<void>;
  listHeartbeats(): Promise<WorkerHeartbeat[]>;
}


/** SUCCESS and FAILED completions in one time bucket (`at`: the bucket's start, epoch ms). */
export interface CompletionBucket {
  at: number;
  success: number;
  failed: number;
}

/**
 * Optional, beside a ResultStore (the built-in SQLite store implements it from maintained counters, the PostgreSQL one by queries):
 * what a dashboard's overview needs, without reading every record. A store without it is read
 * through `listJobs` over a bounded number of its newest records instead (docs/dashboard.md).
 * `completions` returns one bucket per `bucketMs` (a multiple of 60,000) from `since` (rounded down
 * to a bucket) to now, empty buckets included; `runTimes` gives, per task, completedAt - startedAt in
 * ms of at most `perTask` SUCCESS or FAILED records among its newest ones (the SQLite and PostgreSQL
 * stores look at the newest 3 x perTask, so the work stays bounded), for at most `maxTasks` tasks.
 */
export interface ResultStoreInsights {
  completions(since: number, bucketMs: number): Promise<CompletionBucket[]>;
  runTimes(perTask: number, maxTasks: number): Promise<Record<string, number[]>>;
}
