/**
 * The SQLite plugin's job store (JobStore, kernel/contracts.ts), used when the queue and the result
 * store are on one file: each batch is one transaction on the shared connection.
 * Must never: write a queue change without its record, or a record without its queue change.
 */
import { recordOf, type ClaimOptions, type ClaimedJob, type JobRecord, type JobSettlement, type JobStore, type QueuedJob } from '../../sdk/plugin.ts';
import type { SqliteQueue } from './queue.ts';
import type { SqliteResultStore } from './results.ts';

export class SqliteJobStore implements JobStore {
  constructor(readonly queue: SqliteQueue, readonly results: SqliteResultStore) {}

  async enqueue(jobs: QueuedJob[], records: JobRecord[]): Promise<void> {
    await this.queue.enqueueWithRecords(jobs, records, this.results);
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    const jobs = await this.queue.claim(opts);
    const now = opts.now ?? Date.now();
    if (jobs.length) await this.results.putMany(jobs.map((job) => recordOf(job, [], { status: 'RUNNING', attempts: job.attempts, startedAt: now, workerId: opts.workerId })));
    return jobs;
  }

  async settle(workerId: string, outcomes: JobSettlement[]): Promise<string[]> {
    const acks = outcomes.filter((o) => o.action === 'ack');
    if (acks.length) await this.queue.ackWithRecords(acks.map((o) => o.id), workerId, acks.map((o) => o.record), this.results);
    for (const o of outcomes) {
      if (o.action === 'ack') continue;
      await this.results.put(o.record);
      if (o.action === 'fail') await this.queue.fail(o.id, workerId);
      else if (o.action === 'retry') await this.queue.retry(o.id, workerId, o.runAt);
      else await this.queue.release(o.id, workerId);
    }
    return outcomes.map((o) => o.id);
  }

  async close(): Promise<void> {
    // The queue and the result store are closed by their owners.
  }
}
