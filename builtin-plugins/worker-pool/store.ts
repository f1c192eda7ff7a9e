/**
 * Every storage call the worker pool makes, in one place: claims (with their RUNNING records) and
 * outcomes through the job store (kernel/contracts.ts `JobStore`: one transaction where one plugin
 * holds both the queue and the records, else `pairJobStore`'s two calls, records first), and the
 * queue's own calls (leases, cancel reads, counts). The rest of the pool speaks in these terms (claim,
 * give back, record successes / a retry / a failure). The storage observer hooks (`storageError`,
 * `storageRecovered`) are fired from here, told by the callers what failed or worked.
 * Must never: write an outcome without the queue change that ends the attempt (settle writes both),
 * or order the two otherwise than record first, queue second (a crash in between then redelivers,
 * never loses).
 */
import {
  attemptOf, messageOf, recordOf,
  type ClaimedJob, type HookBus, type JobRecord, type JobStore, type QueueCounts, type RenewResult, type StorageEvent,
} from '../../sdk/plugin.ts';
import { listened } from './outcomes.ts';

/** The deepest code in an error's cause chain that is not nuvom's own (SQLITE_FULL, ENOSPC), else nuvom's. */
export function rootCode(err: unknown): string | undefined {
  let code: string | undefined;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && (!code || !c.startsWith('NUVOM_E_'))) code = c;
  }
  return code;
}

/** The ids a settle wrote; a job store of a third party that resolves nothing is taken to have written them all (as before it was asked). */
function written(answer: string[] | undefined, ids: string[]): string[] {
  return Array.isArray(answer) ? answer : ids;
}

export class PoolStore {
  /** A storage call failed since the last write that worked (see failed()). */
  private failing = false;

  constructor(private readonly store: JobStore, private readonly workerId: string, private readonly bus: HookBus) {}

  private get queue() {
    return this.store.queue;
  }

  get watches(): boolean {
    return this.queue.subscribe !== undefined;
  }

  get readsCancels(): boolean {
    return this.queue.cancelRequested !== undefined;
  }

  subscribe(onChange: () => void): (() => void) | undefined {
    return this.queue.subscribe?.(onChange);
  }

  /** Claims up to `max` jobs; their records become RUNNING in the same transaction (JobStore.claim). */
  claim(max: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.store.claim({ max, workerId: this.workerId, leaseMs });
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
   * INTERRUPTED, listed from `ran` (when and where it started here; without it, the stored start, the
   * claim's); else it never started and its claim's attempt is taken back.
   */
  async giveBack(job: ClaimedJob, args: unknown[], started: boolean, ran?: { startedAt: number; threadId: number }): Promise<void> {
    const attempts = started ? job.attempts : Math.max(0, job.attempts - 1);
    const history = started ? [attemptOf(job.attempts, 'INTERRUPTED', ran?.startedAt ?? null, Date.now(), this.workerId, ran?.threadId ?? null)] : [];
    await this.store.results.put(recordOf(job, args, { status: 'PENDING', attempts, history }));
    if (started) await this.queue.retry(job.id, this.workerId, Date.now());
    else await this.queue.release(job.id, this.workerId);
  }

  /**
   * Jobs claimed ahead and never started, back to the queue as one settle (`release`: claimable at
   * once in their old place, the claim's attempt taken back, records PENDING). Resolves the ids given back.
   */
  async giveBackUnstarted(jobs: Array<{ job: ClaimedJob; args: unknown[] }>): Promise<string[]> {
    if (jobs.length === 0) return [];
    return this.store.settle(this.workerId, jobs.map(({ job, args }) => ({
      id: job.id, action: 'release' as const,
      record: recordOf(job, args, { status: 'PENDING', attempts: Math.max(0, job.attempts - 1), history: [] }),
    })));
  }

  /**
   * SUCCESS records and their acks: `ack` settlements, one transaction where one plugin holds both.
   * Resolves the ids written: one missing was no longer held by this worker (fencing), nothing of it written.
   */
  async succeeded(records: JobRecord[], ids: string[]): Promise<string[]> {
    return written(await this.store.settle(this.workerId, records.map((record, i) => ({ id: ids[i], action: 'ack' as const, record }))), ids);
  }

  /** A FAILED or CANCELLED record: a `fail` settlement, the job leaves the queue for good. False: not held any more, nothing written. */
  async ended(record: JobRecord): Promise<boolean> {
    return written(await this.store.settle(this.workerId, [{ id: record.id, action: 'fail', record }]), [record.id]).includes(record.id);
  }

  /** A RETRYING record: a `retry` settlement, the job waits in the queue until `runAt`. False: not held any more, nothing written. */
  async retrying(record: JobRecord, runAt: number): Promise<boolean> {
    return written(await this.store.settle(this.workerId, [{ id: record.id, action: 'retry', runAt, record }]), [record.id]).includes(record.id);
  }

  counts(): Promise<QueueCounts> {
    return this.queue.counts();
  }

  nextRunAt(): Promise<number | null> {
    return this.queue.nextRunAt();
  }

  /** Tells the storageError observers (doctor's last-error record) what failed, with its root code. */
  failed(op: StorageEvent['op'], err: unknown): void {
    this.failing = true;
    if (listened(this.bus.hooks.storageError)) this.bus.emit('storageError', { workerId: this.workerId, at: Date.now(), op, code: rootCode(err), message: messageOf(err) });
  }

  /** A write worked (a claim that took jobs, a committed outcome batch): storageRecovered, once after failures. */
  worked(op: StorageEvent['op']): void {
    if (!this.failing) return;
    this.failing = false;
    this.bus.emit('storageRecovered', { workerId: this.workerId, at: Date.now(), op });
  }
}
