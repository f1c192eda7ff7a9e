/**
 * The combined job store contract: one backend holding queue entries and records, one transaction per batch.
 */
import type { ClaimedJob, ClaimOptions, Queue, QueuedJob } from './queue.ts';
import type { JobRecord, ResultStore } from './results.ts';

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

