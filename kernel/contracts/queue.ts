/**
 * Jobs and the queue contract (glossary in ../contracts.ts). Types only, plus frozen lists of the enums.
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

