/**
 * Enqueue writes of the PostgreSQL queue (queue.ts) and job store: one INSERT ... SELECT FROM unnest()
 * of array parameters per batch, whatever its size (whole rows with their records when the job store
 * writes both), checked to insert every row (expect_rows) so a duplicate id refuses the whole batch.
 * Without `tx` a write lost with its connection is retried, and a retry that finds every job queued
 * counts as done (the lost try had committed); with `tx` it runs on the application's client and
 * that transaction decides.
 * Must never: enqueue part of a batch, or report a duplicate for a batch its own lost try wrote.
 */
import { NuvomError, duplicateJob, type QueuedJob } from '../../sdk/plugin.ts';
import { pgError, type PgDb, type Queryable } from './db.ts';
import { toBuf, writeRecords, type RecordRow } from './rows.ts';
import { PLUGIN_NAME } from './settings.ts';

export class PgEnqueue {
  /** The INSERT texts (queue rows only, with records), built once. */
  private readonly sql: [string?, string?] = [];

  constructor(private readonly db: PgDb) {}

  async jobs(jobs: QueuedJob[], tx?: unknown): Promise<void> {
    if (jobs.length === 0) return;
    checkRepeats(jobs);
    const params = jobParams(jobs);
    const sql = this.insertSql(false);
    if (tx !== undefined) return this.onAppTx(tx, 'enqueue', (c) => c.query(sql, params).then(() => undefined), jobs);
    await this.idempotent('enqueue', jobs, (c) => c.query(sql, params));
  }

  /**
   * Records and jobs as one write (JobStore.enqueue): a single INSERT of whole rows when the records
   * carry no attempts (what the dispatcher writes), else one transaction. With `tx` it runs on the
   * application's client, inside its transaction: the jobs exist if and only if that transaction commits.
   */
  async rows(jobs: QueuedJob[], rows: RecordRow[], tx?: unknown): Promise<void> {
    if (jobs.length === 0 && rows.length === 0) return;
    checkRepeats(jobs);
    const aligned = rows.length === jobs.length && rows.every((r, i) => r.id === jobs[i].id && r.incoming === '[]');
    const s = this.db.s;
    let write: (c: Queryable) => Promise<unknown>;
    if (aligned) {
      const params = [...jobParams(jobs), ...RECORD_INSERT_COLS.map((col) => rows.map((r, i) => (col === 'r_args' ? (toBuf(jobs[i].args).equals(r.args) ? null : r.args) : r[col as keyof RecordRow])))];
      const sql = this.insertSql(true);
      write = (c) => c.query(sql, params);
    } else {
      const params = jobParams(jobs);
      const sql = this.insertSql(false);
      write = async (c) => {
        await writeRecords(c, s, rows);
        if (jobs.length) await c.query(sql, params);
      };
    }
    if (tx !== undefined) return this.onAppTx(tx, 'enqueue', write, jobs);
    await this.idempotent('enqueue', jobs, write, !aligned);
  }

  /** INSERT of queue rows ($1..$9), with the record columns after them when `withRecords`; all or none. */
  private insertSql(withRecords: boolean): string {
    const cached = this.sql[withRecords ? 1 : 0];
    if (cached !== undefined) return cached;
    const s = this.db.s;
    const qCols = ['id', 'task_name', 'args', 'priority', 'run_at', 'q_attempts', 'created_at', 'options', 'meta'];
    const qTypes = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int8', 'text', 'text'];
    const rCols = withRecords ? RECORD_INSERT_COLS : [];
    const rTypes = withRecords ? RECORD_INSERT_TYPES : [];
    const all = [...qCols, ...rCols];
    const types = [...qTypes, ...rTypes];
    const unnest = `unnest(${all.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ')}) AS u(${all.join(', ')})`;
    const setQueue = `q_state = 'waiting', run_at = excluded.run_at, q_attempts = excluded.q_attempts, options = excluded.options, meta = excluded.meta,
                      worker_id = NULL, lease_expires_at = NULL, cancel_requested = false,
                      task_name = excluded.task_name, priority = excluded.priority, created_at = excluded.created_at`;
    // A row that holds only a record (written first) gets its queue part; its record keeps its own args.
    const keepRecordArgs = withRecords
      ? 'args = excluded.args, r_args = excluded.r_args'
      : 'args = excluded.args, r_args = CASE WHEN jobs.status IS NULL OR jobs.args = excluded.args THEN jobs.r_args ELSE COALESCE(jobs.r_args, jobs.args) END';
    const setRecord = withRecords ? `, ${rCols.filter((c) => c !== 'r_args').map((c) => `${c} = excluded.${c}`).join(', ')}` : '';
    return this.sql[withRecords ? 1 : 0] = `WITH ins AS (
      INSERT INTO ${s}.jobs (${all.join(', ')}, q_state)
      SELECT ${all.map((c) => `u.${c}`).join(', ')}, 'waiting' FROM ${unnest}
      ON CONFLICT (id) DO UPDATE SET ${setQueue}, ${keepRecordArgs}${setRecord}
        WHERE jobs.q_state IS NULL
      RETURNING 1)
    SELECT ${s}.expect_rows((SELECT count(*) FROM ins), ${'$' + (all.length + 1)}::int)`;
  }

  /**
   * Runs an enqueue (in a transaction when `inTx`), retried on a lost connection; a duplicate id is
   * NUVOM_E_DUPLICATE_JOB, except on a retry that finds every job queued: the lost try had committed.
   */
  private async idempotent(what: string, jobs: QueuedJob[], write: (c: Queryable) => Promise<unknown>, inTx = false): Promise<void> {
    const withCount = (c: Queryable): Queryable => ({ query: (t: string, v?: unknown[]) => c.query(t, v && t.includes('expect_rows') ? [...v, jobs.length] : v) } as Queryable);
    let retried = false;
    await this.db.open();
    try {
      await this.db.recovering(what, async (attempt) => {
        retried ||= attempt > 0;
        if (inTx) await this.db.txOnce((c) => write(withCount(c)));
        else await write(withCount({ query: (t: string, v?: unknown[]) => this.db.rawQuery(t, v) } as Queryable));
      });
    } catch (err) {
      if (isDuplicate(err)) {
        if (retried && await this.allQueued(jobs)) return;
        throw await this.duplicateError(jobs, err);
      }
      throw err;
    }
  }

  /** The application's client: its transaction decides. Its errors are mapped, never retried. */
  private async onAppTx(tx: unknown, what: string, write: (c: Queryable) => Promise<unknown>, jobs: QueuedJob[]): Promise<void> {
    if (!tx || typeof (tx as Queryable).query !== 'function') {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `the tx option must be a pg client (a pg.Client or a client from pool.connect()) inside the application's transaction, got ${tx === null ? 'null' : typeof tx}`, { plugin: PLUGIN_NAME });
    }
    const app = tx as Queryable;
    const c = { query: (t: string, v?: unknown[]) => app.query(t, v && t.includes('expect_rows') ? [...v, jobs.length] : v) } as Queryable;
    await this.db.open();
    try {
      await write(c);
    } catch (err) {
      if (isDuplicate(err)) throw await this.duplicateError(jobs, err);
      throw pgError(err, `${what} (in the application's transaction)`, this.db.target);
    }
  }

  private async allQueued(jobs: QueuedJob[]): Promise<boolean> {
    const { rows } = await this.db.query<{ n: number }>('enqueue', `SELECT count(*) AS n FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL`, [jobs.map((j) => j.id)]);
    return Number(rows[0].n) === jobs.length;
  }

  private async duplicateError(jobs: QueuedJob[], cause: unknown): Promise<NuvomError> {
    let ids: string[] = [];
    try {
      const { rows } = await this.db.query<{ id: string }>('enqueue', `SELECT id FROM ${this.db.s}.jobs WHERE id = ANY($1::text[]) AND q_state IS NOT NULL LIMIT 5`, [jobs.map((j) => j.id)]);
      ids = rows.map((r) => r.id);
    } catch { /* the message goes without the ids */ }
    if (ids.length) {
      const err = duplicateJob(ids[0], PLUGIN_NAME);
      (err as { cause?: unknown }).cause = cause;
      return err;
    }
    return new NuvomError('NUVOM_E_DUPLICATE_JOB', 'a job id of this batch is already in the queue; give the job a new id, or wait until it has left the queue (finished or cancelled) before queuing it again; nothing was enqueued', { plugin: PLUGIN_NAME, cause });
  }
}

const RECORD_INSERT_COLS = ['status', 'r_task_name', 'r_args', 'r_priority', 'r_created_at', 'attempts', 'max_retries', 'retries_left', 'tags',
  'started_at', 'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'r_worker_id'];
const RECORD_INSERT_TYPES = ['text', 'text', 'bytea', 'int', 'int8', 'int', 'int', 'int', 'text', 'int8', 'int8', 'int8', 'bytea', 'text', 'float8', 'text', 'text'];

function isDuplicate(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return (err as { code?: string }).code === '23505' || cause?.code === '23505' || (err as { details?: { pgCode?: string } }).details?.pgCode === '23505';
}

function checkRepeats(jobs: QueuedJob[]): void {
  const seen = new Set<string>();
  for (const j of jobs) {
    if (seen.has(j.id)) throw new NuvomError('NUVOM_E_DUPLICATE_JOB', `job ${j.id} appears twice in one enqueue batch; give each job its own id; nothing was enqueued`, { plugin: PLUGIN_NAME, details: { jobId: j.id } });
    seen.add(j.id);
  }
}

function jobParams(jobs: QueuedJob[]): unknown[][] {
  return [
    jobs.map((j) => j.id), jobs.map((j) => j.taskName), jobs.map((j) => toBuf(j.args)), jobs.map((j) => j.priority), jobs.map((j) => j.runAt),
    jobs.map((j) => j.attempts), jobs.map((j) => j.createdAt), jobs.map((j) => JSON.stringify(j.options)), jobs.map((j) => JSON.stringify(j.meta ?? {})),
  ];
}

