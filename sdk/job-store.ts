/**
 * The job store the dispatcher and the worker pool write through (kernel/contracts.ts `JobStore`):
 * the `jobStore` a plugin provides when the configuration chooses that plugin for both the queue and
 * the result store, else `pairJobStore`, the generic path over any queue and any result store (file
 * queue + SQLite results, a third-party queue with the memory store, ...).
 * Must never: assume a backend; write a queue entry before its record (a worker that claims at once
 * must find the record written before its own RUNNING write).
 */
import { NuvomError, isNuvomError, messageOf, type ClaimOptions, type ClaimedJob, type JobRecord, type JobSettlement, type JobStore, type Queue, type QueuedJob, type ResultStore, type Serializer, type Services } from '../kernel/index.ts';
import { errorOf, recordOf } from './records.ts';

/**
 * The job store for these services: the plugin's own when `queueBackend` and `resultBackend` name the
 * same implementation and it provides a `jobStore` under that name, else the generic pair.
 */
export function jobStoreOf(s: Services): JobStore {
  const name = s.config.queueBackend;
  if (name === s.config.resultBackend && s.kernelInfo.services().jobStore?.available.includes(name)) return s.jobStore;
  return pairJobStore(s.queue, s.resultStore, s.serializer);
}

/**
 * The generic job store over a separate queue and result store: two calls per step, records first.
 * Not one transaction: a crash between the calls leaves a record ahead of its queue entry (a PENDING
 * record whose job was never queued, shown as such), never a queue entry without its record. Settle
 * is fenced by the queue's calls only (ack, fail, retry and release of a job another worker holds do
 * nothing), so callers check their lease before settling (the worker pool does).
 */
export function pairJobStore(queue: Queue, results: ResultStore, serializer: Serializer): JobStore {
  return new PairJobStore(queue, results, serializer);
}

class PairJobStore implements JobStore {
  constructor(readonly queue: Queue, readonly results: ResultStore, private readonly serializer: Serializer) {}

  async enqueue(jobs: QueuedJob[], records: JobRecord[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.results.putMany(records);
    try {
      if (jobs.length === 1) await this.queue.enqueue(jobs[0]);
      else await this.queue.enqueueMany(jobs);
    } catch (err) {
      // The records went in first: say on them that the enqueue failed (a duplicate id keeps the
      // record of the job already queued, which this batch must not overwrite).
      const now = new Date().toISOString();
      const error = errorOf(err);
      const own = isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB') ? records.filter((r) => r.id !== (err as NuvomError).details?.jobId) : records;
      await this.results.putMany(own.map((r) => ({ ...r, status: 'FAILED' as const, completedAt: now, error: { ...error, message: `enqueue failed: ${error.message}` } })))
        .catch(() => undefined);
      throw err;
    }
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    const jobs = await this.queue.claim(opts);
    if (jobs.length === 0) return jobs;
    const now = opts.now ?? Date.now();
    try {
      await this.results.putMany(jobs.map((job) => recordOf(job, this.argsOf(job), { status: 'RUNNING', attempts: job.attempts, startedAt: now, workerId: opts.workerId })));
    } catch (err) {
      // The claim is committed: give every job back, its attempt taken back, so a failed RUNNING
      // write does not leave them to expire and come back with an attempt spent.
      await Promise.all(jobs.map((j) => this.queue.release(j.id, opts.workerId).catch(() => undefined)));
      throw new NuvomError('NUVOM_E_STORAGE', `${messageOf(err)} (after claiming ${jobs.length} job(s): given back to the queue, no attempt spent)`, { cause: err });
    }
    return jobs;
  }

  async settle(workerId: string, outcomes: JobSettlement[]): Promise<string[]> {
    if (outcomes.length === 0) return [];
    await this.results.putMany(outcomes.map((o) => o.record));
    const acks = outcomes.filter((o) => o.action === 'ack').map((o) => o.id);
    if (acks.length) await this.queue.ackMany(acks, workerId);
    for (const o of outcomes) {
      if (o.action === 'fail') await this.queue.fail(o.id, workerId);
      else if (o.action === 'retry') await this.queue.retry(o.id, workerId, o.runAt);
      else if (o.action === 'release') await this.queue.release(o.id, workerId);
    }
    return outcomes.map((o) => o.id);
  }

  async close(): Promise<void> {
    // The queue and the result store belong to the container, which closes them.
  }

  /** The job's arguments for its record; [] when they cannot be decoded (the worker fails such a job). */
  private argsOf(job: ClaimedJob): unknown[] {
    if (job.damaged) return [];
    try {
      const v = this.serializer.decode(job.args);
      return Array.isArray(v) ? v : [];
    } catch {
      return [];
    }
  }
}
