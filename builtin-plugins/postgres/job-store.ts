/**
 * The PostgreSQL job store (JobStore, kernel/contracts.ts), chosen when queueBackend and
 * resultBackend are both "postgres". Since a job's queue entry and record are one row, each step is
 * one statement or one short transaction: enqueue = one INSERT of whole rows; claim = one UPDATE that
 * leases and makes the records RUNNING; settle = one UPDATE that stores the records and applies
 * ack/fail/retry/release, fenced by worker_id (a job with stored history first locks its row to merge it). `enqueueInTransaction` writes
 * through the application's own pg client.
 * Must never: write a queue change without its record, or touch a job another worker holds.
 */
import { NuvomError, type ClaimOptions, type ClaimedJob, type JobRecord, type JobSettlement, type JobStore, type QueuedJob } from '../../sdk/plugin.ts';
import type { PgQueue } from './queue.ts';
import type { PgResultStore } from './results.ts';
import { settleRows, settleUnmerged } from './settle.ts';
import { PLUGIN_NAME } from './settings.ts';

export class PgJobStore implements JobStore {
  constructor(readonly queue: PgQueue, readonly results: PgResultStore) {
    if (queue.db !== results.db) {
      throw new NuvomError('NUVOM_E_SERVICE', 'the PostgreSQL job store needs its queue and result store on one database and schema', { plugin: PLUGIN_NAME });
    }
  }

  async enqueue(jobs: QueuedJob[], records: JobRecord[]): Promise<void> {
    await this.queue.enqueueRows(jobs, this.results.rowsOf(records));
  }

  async enqueueInTransaction(tx: unknown, jobs: QueuedJob[], records: JobRecord[]): Promise<void> {
    await this.queue.enqueueRows(jobs, this.results.rowsOf(records), tx);
  }

  claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    return this.queue.claimWith(opts, true);
  }

  async settle(workerId: string, outcomes: JobSettlement[]): Promise<string[]> {
    if (outcomes.length === 0) return [];
    const wrong = outcomes.find((o) => o.id !== o.record.id);
    if (wrong) throw new NuvomError('NUVOM_E_USAGE', `settle: the outcome of job ${wrong.id} carries the record of job ${wrong.record.id}`, { plugin: PLUGIN_NAME });
    const records = this.results.rowsOf(outcomes.map((o) => o.record));
    const rows = outcomes.map((o, i) => ({ row: records[i], action: o.action, runAt: o.action === 'retry' ? o.runAt : null }));
    const db = this.queue.db;
    await db.open();
    // First attempts' outcomes: one statement, no read (settleUnmerged); the rest merge their history.
    const first = await db.recovering('settling jobs', () => settleUnmerged(db.direct, db.s, workerId, rows));
    if (first.requeued) await db.query('settling jobs', 'SELECT pg_notify($1, \'\')', [db.jobsChannel]);
    if (first.rest.length === 0) return first.applied;
    const merged = await db.tx('settling jobs', async (c) => {
      const { applied, requeued } = await settleRows(c, db.s, workerId, first.rest);
      if (requeued) await c.query('SELECT pg_notify($1, \'\')', [db.jobsChannel]);
      return applied;
    });
    return [...first.applied, ...merged];
  }

  async close(): Promise<void> {
    // The queue and the result store are closed by their owners.
  }
}
