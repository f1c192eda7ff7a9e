/**
 * The memory plugin's job store (JobStore, kernel/contracts.ts): its queue and result store written
 * together. Their methods change state synchronously before their first await, so calling them one
 * after another without awaiting in between is one step no other caller can interleave with: the
 * in-process equivalent of a transaction.
 * Must never: await between the checks of a batch and its writes.
 */
import { recordOf, type ClaimOptions, type ClaimedJob, type JobRecord, type JobSettlement, type JobStore, type QueuedJob, type Serializer } from '../../sdk/plugin.ts';
import type { MemoryQueue } from './queue.ts';
import type { MemoryResultStore } from './results.ts';

export class MemoryJobStore implements JobStore {
  constructor(readonly queue: MemoryQueue, readonly results: MemoryResultStore, private readonly serializer?: Serializer) {}

  async enqueue(jobs: QueuedJob[], records: JobRecord[]): Promise<void> {
    if (jobs.length === 0) return;
    this.queue.checkNew(jobs);
    this.results.checkRecords(records);
    const written = [this.results.putMany(records), this.queue.enqueueMany(jobs)];
    await Promise.all(written);
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    // Only the holder writes a leased job's record, so the RUNNING write may follow the claim's await.
    const jobs = await this.queue.claim(opts);
    const now = opts.now ?? Date.now();
    if (jobs.length) {
      await this.results.putMany(jobs.map((job) => {
        const prev = this.results.stored(job.id);
        const running = { status: 'RUNNING' as const, attempts: job.attempts, startedAt: now, workerId: opts.workerId };
        return recordOf(job, prev ? prev.args : this.argsOf(job), running);
      }));
    }
    return jobs;
  }

  async settle(workerId: string, outcomes: JobSettlement[]): Promise<string[]> {
    const held = outcomes.filter((o) => this.queue.holds(o.id, workerId));
    if (held.length === 0) return [];
    this.results.checkRecords(held.map((o) => o.record));
    const written: Promise<void>[] = [this.results.putMany(held.map((o) => o.record))];
    for (const o of held) {
      if (o.action === 'ack') written.push(this.queue.ack(o.id, workerId));
      else if (o.action === 'fail') written.push(this.queue.fail(o.id, workerId));
      else if (o.action === 'retry') written.push(this.queue.retry(o.id, workerId, o.runAt));
      else written.push(this.queue.release(o.id, workerId));
    }
    await Promise.all(written);
    return held.map((o) => o.id);
  }

  async close(): Promise<void> {
    // The queue and the result store are closed by their owners.
  }

  /** The record keeps the arguments as the caller gave them; the memory queue holds them encoded. */
  private argsOf(job: ClaimedJob): unknown[] {
    if (!this.serializer) return [];
    try {
      const v = this.serializer.decode(job.args);
      return Array.isArray(v) ? v : [];
    } catch {
      return [];
    }
  }
}
