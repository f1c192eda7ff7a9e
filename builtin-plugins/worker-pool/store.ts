/**
 * Every storage call the worker pool makes, in one place: the queue (claims, leases, acks) and the
 * result store (records), paired where an outcome needs both. The rest of the pool speaks in these
 * terms (mark running, give back, record successes / a retry / a failure), so that a storage pair
 * that writes a job's queue entry and record together replaces this file alone.
 * Must never: write an outcome without the queue call that ends the attempt, or order the two
 * otherwise than record first, queue second (a crash in between then redelivers, never loses).
 */
import {
  attemptOf, recordOf,
  type ClaimedJob, type JobRecord, type Queue, type QueueCounts, type RenewResult, type ResultStore,
} from '../../sdk/plugin.ts';

export class PoolStore {
  constructor(private readonly queue: Queue, private readonly results: ResultStore, private readonly workerId: string) {}

  get watches(): boolean {
    return this.queue.subscribe !== undefined;
  }

  get readsCancels(): boolean {
    return this.queue.cancelRequested !== undefined;
  }

  subscribe(onChange: () => void): (() => void) | undefined {
    return this.queue.subscribe?.(onChange);
  }

  claim(max: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.queue.claim({ max, workerId: this.workerId, leaseMs });
  }

  /** The claimed jobs about to run: their records say RUNNING (one batch). */
  markRunning(records: JobRecord[]): Promise<void> {
    return this.results.putMany(records);
  }

  renew(ids: string[], leaseMs: number): Promise<RenewResult> {
    return this.queue.renew(ids, this.workerId, leaseMs);
  }

  cancelRequested(ids: string[]): Promise<string[]> {
    return this.queue.cancelRequested!(ids);
  }

  /** A claimed job this worker never prepared (its claim's attempt is taken back). */
  release(id: string): Promise<void> {
    return this.queue.release(id, this.workerId);
  }

  /**
   * Back to the queue without a failure counted: `started`, the attempt ran (part of it) and ends
   * INTERRUPTED; else it never started and its claim's attempt is taken back.
   */
  async giveBack(job: ClaimedJob, args: unknown[], started: boolean): Promise<void> {
    const attempts = started ? job.attempts : Math.max(0, job.attempts - 1);
    const history = started ? [attemptOf(job.attempts, 'INTERRUPTED', null, Date.now(), this.workerId)] : [];
    await this.results.put(recordOf(job, args, { status: 'PENDING', attempts, history }));
    if (started) await this.queue.retry(job.id, this.workerId, Date.now());
    else await this.queue.release(job.id, this.workerId);
  }

  /** SUCCESS records and their acks: one transaction where the backends allow it, else records first. */
  async succeeded(records: JobRecord[], ids: string[]): Promise<void> {
    const { queue, results } = this;
    if (queue.ackWithRecords && await queue.ackWithRecords(ids, this.workerId, records, results)) return;
    await results.putMany(records);
    await queue.ackMany(ids, this.workerId);
  }

  /** A FAILED or CANCELLED record: the job leaves the queue for good. */
  async ended(record: JobRecord): Promise<void> {
    await this.results.put(record);
    await this.queue.fail(record.id, this.workerId);
  }

  /** A RETRYING record: the job waits in the queue until `runAt`. */
  async retrying(record: JobRecord, runAt: number): Promise<void> {
    await this.results.put(record);
    await this.queue.retry(record.id, this.workerId, runAt);
  }

  counts(): Promise<QueueCounts> {
    return this.queue.counts();
  }

  nextRunAt(): Promise<number | null> {
    return this.queue.nextRunAt();
  }
}
