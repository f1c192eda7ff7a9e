/**
 * Worker heartbeats in SQLite (HeartbeatStore, contracts.ts): one row per live worker in its own
 * table beside the job records, created on first use with CREATE TABLE IF NOT EXISTS so that files
 * written before it need no migration and the schema version stays as it is.
 * Must never: touch the job tables, or keep a row of a worker that removed itself.
 */
import type { WorkerHeartbeat } from '../../sdk/plugin.ts';
import { guarded, withBusyRetry, type Db, type Statement } from './db.ts';

const CREATE = `CREATE TABLE IF NOT EXISTS nuvom_worker_heartbeats (
  worker_id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  threads INTEGER NOT NULL,
  busy_threads INTEGER NOT NULL,
  jobs_per_sec REAL NOT NULL,
  started_at INTEGER NOT NULL,
  last_beat_at INTEGER NOT NULL,
  period_ms INTEGER NOT NULL
)`;

const SQL = {
  put: `INSERT INTO nuvom_worker_heartbeats (worker_id, host, pid, threads, busy_threads, jobs_per_sec, started_at, last_beat_at, period_ms)
        VALUES (@workerId, @host, @pid, @threads, @busyThreads, @jobsPerSec, @startedAt, @lastBeatAt, @periodMs)
        ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, threads = excluded.threads,
          busy_threads = excluded.busy_threads, jobs_per_sec = excluded.jobs_per_sec, started_at = excluded.started_at,
          last_beat_at = excluded.last_beat_at, period_ms = excluded.period_ms`,
  remove: 'DELETE FROM nuvom_worker_heartbeats WHERE worker_id = ?',
  list: `SELECT worker_id AS workerId, host, pid, threads, busy_threads AS busyThreads, jobs_per_sec AS jobsPerSec,
           started_at AS startedAt, last_beat_at AS lastBeatAt, period_ms AS periodMs FROM nuvom_worker_heartbeats ORDER BY started_at, worker_id`,
} as const;

export class SqliteHeartbeats {
  private stmt: Record<keyof typeof SQL, Statement> | null = null;

  constructor(private readonly db: Db) {}

  async put(beat: WorkerHeartbeat): Promise<void> {
    const s = await this.statements();
    await withBusyRetry('writing a worker heartbeat', () => s.put.run({ ...beat }));
  }

  async remove(workerId: string): Promise<void> {
    const s = await this.statements();
    await withBusyRetry('removing a worker heartbeat', () => s.remove.run(workerId));
  }

  async list(): Promise<WorkerHeartbeat[]> {
    const s = await this.statements();
    return guarded('listing worker heartbeats', () => s.list.all() as WorkerHeartbeat[]);
  }

  /** The table is made on first use, not at open: a process that never touches heartbeats never writes it. */
  private async statements(): Promise<Record<keyof typeof SQL, Statement>> {
    if (!this.stmt) {
      await withBusyRetry('creating the worker heartbeat table', () => this.db.exec(CREATE));
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as Record<keyof typeof SQL, Statement>;
    }
    return this.stmt;
  }
}
