/**
 * The contracts every plugin implements or consumes. Types only: no behaviour lives here.
 *
 * Glossary
 * - task:    a named function plus options (retries, timeout, ...); the template for jobs.
 * - job:     one invocation of a task with its arguments; identified by `id`.
 * - queue:   delivers jobs to workers, at least once. A claimed job is held under a lease.
 * - lease:   a worker's claim on a job until `leaseExpiresAt`; renewed by the worker's main thread.
 *            A job whose lease expires is delivered again (redelivery), with `attempts` counting up.
 * - attempt: one run of a job. `attempts` counts the runs started (claims), including redeliveries.
 * - history: the record's bounded list of its attempts (AttemptRecord), oldest first; a retried
 *            (re-run) job keeps the attempts of its earlier runs there.
 * - record:  the job's user-visible state (api.md "Job record"), kept by the result store.
 *
 * Every storage method returns a Promise, even where SQLite is synchronous underneath, so that a
 * network backend (PostgreSQL, Redis) fits the same contract.
 */

export type JobStatus = 'PENDING' | 'RUNNING' | 'RETRYING' | 'SUCCESS' | 'FAILED' | 'CANCELLED';
export const JOB_STATUSES: readonly JobStatus[] = Object.freeze([
  'PENDING', 'RUNNING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELLED',
]);
export const FINAL_STATUSES: readonly JobStatus[] = Object.freeze(['SUCCESS', 'FAILED', 'CANCELLED']);

export type TimeoutPolicy = 'retry' | 'fail' | 'ignore';
export type Backoff = 'fixed' | 'exponential';

export interface JobError {
  name: string;
  message: string;
  stack: string | null;
}

/** The per-job execution options, fixed at enqueue time from the task's options and the call's. */
export interface JobOptions {
  maxRetries: number;
  retryDelaySecs: number;
  backoff: Backoff;
  timeoutSecs: number;
  timeoutPolicy: TimeoutPolicy;
  storeResult: boolean;
  tags: string[];
}

/**
 * A job as the queue holds it. `args` are already encoded by the serializer service, so a queue
 * backend never needs to understand user values; it stores the bytes as they are.
 */
export interface QueuedJob {
  id: string;
  taskName: string;
  args: Uint8Array;
  priority: number;
  /** Epoch milliseconds at which the job becomes claimable. */
  runAt: number;
  /** Attempts started so far (0 for a new job). A claim increments it. */
  attempts: number;
  /** Epoch milliseconds. */
  createdAt: number;
  options: JobOptions;
  /** Free-form metadata that `enqueue` hook taps may add; must be JSON-safe. */
  meta: Record<string, unknown>;
  /**
   * Set by a backend on a job read back whose stored fields could not be decoded (the reason); the
   * undecodable fields hold safe defaults. A worker fails such a job for good with this reason
   * instead of running it or stopping.
   */
  damaged?: string;
}

/** A job handed to a worker by `claim`: `attempts` already counts this attempt. */
export interface ClaimedJob extends QueuedJob {
  workerId: string;
  leaseExpiresAt: number;
  /**
   * True when this claim is a redelivery: the job's previous lease expired without an ack, retry,
   * release or fail (its worker died, hung or lost the lease). Optional for backends written before
   * it; the worker pool emits `jobRedelivered` when it is set.
   */
  redelivered?: boolean;
}

export interface ClaimOptions {
  /** Claim at most this many jobs (popBatch). */
  max: number;
  workerId: string;
  leaseMs: number;
  /** Epoch ms; defaults to Date.now(). Tests pass a controlled clock. */
  now?: number;
}

export interface RenewResult {
  /** Ids whose lease this worker still holds (renewed). */
  held: string[];
  /** Ids whose cancellation was requested while running: the worker aborts their signal. */
  cancelled: string[];
}

export type CancelOutcome = 'removed' | 'signalled' | 'absent';

export interface QueueCounts {
  /** Claimable now. */
  ready: number;
  /** Waiting for `runAt` (delayed or retry back-off). */
  delayed: number;
  /** Claimed under a lease. */
  leased: number;
}

export interface Queue {
  /** Adds one job. An id already in the queue is refused with NUVOM_E_DUPLICATE_JOB. */
  enqueue(job: QueuedJob): Promise<void>;
  /** Adds all jobs or none (one transaction where the backend allows). */
  enqueueMany(jobs: QueuedJob[]): Promise<void>;
  /**
   * Atomically claims up to `max` claimable jobs (runAt <= now, no live lease), highest priority
   * first, then oldest first; a job whose lease has expired is claimable again. Never hands one job
   * to two claimers while its lease holds.
   */
  claim(opts: ClaimOptions): Promise<ClaimedJob[]>;
  /** Extends the leases this worker holds. */
  renew(ids: string[], workerId: string, leaseMs: number, now?: number): Promise<RenewResult>;
  /** The attempt succeeded: the job leaves the queue. A lost lease makes this a no-op. */
  ack(id: string, workerId: string): Promise<void>;
  /** Acks several jobs in one go (one transaction where the backend allows). */
  ackMany(ids: string[], workerId: string): Promise<void>;
  /** The attempt failed and will be retried: the lease is dropped and the job waits until runAt. */
  retry(id: string, workerId: string, runAt: number): Promise<void>;
  /**
   * Gives back a job this worker claimed but never started (claimed ahead, then a shutdown): it is
   * claimable again at once, in its old place, and the claim's attempt is taken back. A lost lease
   * makes this a no-op.
   */
  release(id: string, workerId: string): Promise<void>;
  /** The job has failed for good (or was cancelled while running): it leaves the queue, never redelivered. */
  fail(id: string, workerId: string): Promise<void>;
  /** Removes a waiting job, or flags a claimed one so its worker aborts it (seen through renew). */
  cancel(id: string): Promise<CancelOutcome>;
  /**
   * Optional, read-only: which of these ids (jobs the caller holds) have a cancel request pending,
   * as `renew` reports them but without extending anything. Workers call it on change notifications
   * and every half second while they run jobs, so a cancel reaches a running job within about a
   * second; without it they learn of cancels from lease renewals. `cancel` returning 'signalled'
   * should also fire `subscribe`'s onChange.
   */
  cancelRequested?(ids: string[]): Promise<string[]>;
  /** The job as queued, or null when it is not in the queue. */
  get(id: string): Promise<QueuedJob | null>;
  counts(now?: number): Promise<QueueCounts>;
  /** Jobs waiting or leased (the original's qsize). */
  qsize(): Promise<number>;
  /** Epoch ms of the earliest runAt among unclaimed jobs, or null when none waits. */
  nextRunAt(): Promise<number | null>;
  clear(): Promise<void>;
  /**
   * Optional: calls `onChange` (coalesced, no payload) when jobs may have become claimable, including
   * when another process wrote; lets workers wake without tight polling. Returns an unsubscribe.
   */
  subscribe?(onChange: () => void): () => void;
  close(): Promise<void>;
}

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

/**
 * How a claimed job leaves its worker, with the record that says so (JobStore.settle):
 * - ack:     the attempt succeeded (record SUCCESS); the job leaves the queue;
 * - fail:    it failed for good or was cancelled while running (record FAILED or CANCELLED); it leaves
 *            the queue and is never delivered again;
 * - retry:   it runs again at `runAt` (record RETRYING, or PENDING for an attempt cut short by a
 *            shutdown); the lease is dropped;
 * - release: it was claimed but never started; it is claimable again at once, in its old place, and the
 *            claim's attempt is taken back (record PENDING).
 */
export type JobSettlement =
  | { id: string; action: 'ack'; record: JobRecord }
  | { id: string; action: 'fail'; record: JobRecord }
  | { id: string; action: 'retry'; runAt: number; record: JobRecord }
  | { id: string; action: 'release'; record: JobRecord };

export const SETTLE_ACTIONS: readonly JobSettlement['action'][] = Object.freeze(['ack', 'fail', 'retry', 'release']);

/**
 * A combined job store: one backend holding both a job's queue entry and its record, so that each
 * batch the dispatcher and the worker pool write is one transaction (docs/plugins.md "A job store").
 * A plugin provides it under the `jobStore` token with the same name as its queue and result store;
 * it is used when the configuration chooses that name for both `queueBackend` and `resultBackend`.
 * Otherwise (or when the plugin provides none) nuvom pairs the chosen queue and result store with
 * `pairJobStore` (nuvom/plugin): records first, then the queue, two calls.
 *
 * Fencing: `settle` applies an outcome only while `workerId` still holds the job (no other worker has
 * claimed it since, as `Queue.ack` decides); for a job it no longer holds it writes neither the queue
 * nor the record. Errors leave everything as it was (all or none per call).
 */
export interface JobStore {
  /** The queue and result store this store writes through (the same data, seen per contract). */
  readonly queue: Queue;
  readonly results: ResultStore;
  /**
   * Writes the PENDING records and queues the jobs (records[i] belongs to jobs[i]) as one transaction:
   * a job id already queued, or a record that cannot be stored, refuses the whole batch
   * (NUVOM_E_DUPLICATE_JOB, ...) with nothing written. A record whose job finished earlier (the same
   * id run again) is replaced, its history kept, as ResultStore.put does.
   */
  enqueue(jobs: QueuedJob[], records: JobRecord[]): Promise<void>;
  /**
   * Optional: `enqueue` written through `tx`, the application's own database client inside its open
   * transaction (`enqueue({ tx })`, `inTransaction()`), so the jobs exist iff that transaction
   * commits. Without it, an enqueue with a tx is refused (NUVOM_E_UNSUPPORTED).
   */
  enqueueInTransaction?(tx: unknown, jobs: QueuedJob[], records: JobRecord[]): Promise<void>;
  /**
   * Queue.claim, and in the same transaction each claimed job's record becomes RUNNING: status
   * RUNNING, attempts = the claim's, startedAt = the claim time, workerId, nextRunAt null (history
   * merged as ResultStore.put merges an empty one, so an overtaken RUNNING attempt turns LOST).
   */
  claim(opts: ClaimOptions): Promise<ClaimedJob[]>;
  /**
   * Applies a batch of outcomes of jobs `workerId` claimed, each with its record, as one transaction
   * (fenced: see above). Resolves the ids it applied; an id missing from the answer was not held by
   * `workerId`, and nothing of it was written.
   */
  settle(workerId: string, outcomes: JobSettlement[]): Promise<string[]>;
  /** Lets go of what the store itself opened (its queue and result store are closed by their owners). */
  close(): Promise<void>;
}

/** Encodes user values (arguments, results). Must throw NUVOM_E_UNSERIALIZABLE naming the path of a bad value. */
export interface Serializer {
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A source of time. The real one reads Date.now(); tests pass a controllable one. */
export interface Clock {
  now(): number;
}

/** What happens to fire times missed while no scheduler ran (docs/scheduling.md). */
export type MisfirePolicy = 'skip' | 'catchup';

/**
 * One of exactly these shapes (api.md "Scheduling"); recurring ones may set a misfire policy. Any of
 * them may carry a `key`: scheduling again with the same key replaces the one stored schedule
 * (docs/scheduling.md "Keys") instead of adding another.
 */
export type Trigger = (
  | { at: Date | string | number }
  | { inSecs: number }
  | { everySecs: number; misfire?: MisfirePolicy }
  | { cron: string; timezone?: string; misfire?: MisfirePolicy }
) & { key?: string };

export interface ScheduleEntry {
  /** A UUID, or `key:<key>` for a keyed schedule (the key is kept in the id, so stores need no column). */
  id: string;
  /** The schedule's key (from the id), or null/absent for an unkeyed one. */
  key?: string | null;
  taskName: string;
  /** Encoded by the serializer service, as QueuedJob.args. */
  args: Uint8Array;
  priority: number;
  options: JobOptions;
  kind: 'once' | 'interval' | 'cron';
  everySecs: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: MisfirePolicy;
  /** Epoch ms of the next fire time; null once a one-off has fired. */
  nextRunAt: number | null;
  lastRunAt: number | null;
  status: 'ACTIVE' | 'DONE' | 'CANCELLED';
  createdAt: number;
}

export interface DueFire {
  entry: ScheduleEntry;
  /** The fire time this caller won; no other caller gets it. */
  fireAt: number;
  /** The fire time the caller's job stands for (FirePlan.fire), when advance returned a plan. */
  fireFor?: number | null;
  /**
   * Two-phase stores: the id of the hold that keeps this fire until `settle([hold])`. A hold not
   * settled within holdMs (its scheduler died between claim and enqueue) is handed out again by
   * `reclaimHeld`, so the fire time is not lost.
   */
  hold?: string;
}

/** What `advance` may return instead of a bare next fire time: the next one, and whether a job is made. */
export interface FirePlan {
  /** The entry's next fire time (null: the entry is DONE). */
  next: number | null;
  /** The fire time a job is made for (held until settled), or null: no job for this claim, nothing held. */
  fire: number | null;
}

export interface ScheduleStore {
  add(entry: ScheduleEntry): Promise<void>;
  /**
   * Atomically claims entries with nextRunAt <= now. For each, `advance(entry)` returns the entry's
   * next fire time (or null: the entry is DONE), and the store moves nextRunAt in the same step
   * (compare-and-set on the old value), so two schedulers never both win one fire time.
   */
  claimDue(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit?: number, opts?: { holdMs?: number }): Promise<DueFire[]>;
  /**
   * Optional (two-phase claim): with `opts.holdMs`, claimDue also keeps, in the same step, a hold for
   * each fire whose plan makes a job; the caller settles it once the job is enqueued.
   */
  settle?(holds: string[]): Promise<void>;
  /** Optional: holds whose time ran out (their scheduler died), each taken over until now + holdMs. */
  reclaimHeld?(now: number, holdMs: number, limit?: number): Promise<DueFire[]>;
  /** Optional: adds the entry, or replaces the one with its id (keyed schedules). */
  upsert?(entry: ScheduleEntry): Promise<void>;
  get(id: string): Promise<ScheduleEntry | null>;
  list(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]>;
  /** true when an ACTIVE entry was cancelled. */
  cancel(id: string): Promise<boolean>;
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
 * Optional, beside a ResultStore (the built-in SQLite store implements it from maintained counters):
 * what a dashboard's overview needs, without reading every record. A store without it is read
 * through `listJobs` over a bounded number of its newest records instead (docs/dashboard.md).
 * `completions` returns one bucket per `bucketMs` (a multiple of 60,000) from `since` (rounded down
 * to a bucket) to now, empty buckets included; `runTimes` gives, per task, completedAt - startedAt in
 * ms of at most `perTask` SUCCESS or FAILED records among its newest ones (the SQLite store looks
 * at the newest 3 x perTask, so the work stays bounded), for at most `maxTasks` tasks.
 */
export interface ResultStoreInsights {
  completions(since: number, bucketMs: number): Promise<CompletionBucket[]>;
  runTimes(perTask: number, maxTasks: number): Promise<Record<string, number[]>>;
}
