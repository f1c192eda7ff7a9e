/**
 * The SQLite schedule store. claimDue takes the write lock (BEGIN IMMEDIATE), reads the due ACTIVE
 * entries, and moves each one's next_run_at with a compare-and-set on the old value, returning only
 * the entries whose update changed a row: several schedulers on one file (processes or connections)
 * each win a given fire time at most once, and claiming plus rescheduling is one step, so a crash
 * cannot leave an entry half-dispatched (both were broken in the original).
 * Two-phase claims need no new column: a hold (a fire claimed, its job not yet enqueued) is a row of
 * the same table with status 'HELD', id `<entry id>#<fire time ms>`, next_run_at = when the hold runs
 * out and last_run_at = the fire time its job stands for; it is written in the claim's transaction
 * and deleted by settle(). list() and get() never show holds.
 * Must never: return a fire time it did not win, or commit a claim it does not return.
 */
import {
  NuvomError, claimStep, fireOfHold, holdRow, scheduleFromRow, scheduleToRow,
  type DueFire, type FirePlan, type Logger, type ScheduleEntry, type ScheduleRow, type ScheduleStore,
} from '../../sdk/plugin.ts';
import { acquireDb, isUniqueViolation, PLUGIN_NAME, storageError, withBusyRetry, type Db, type DbLease, type Statement, type Transaction } from './db.ts';

export interface SqliteScheduleStoreOptions {
  /** Absolute path of the database file. */
  path: string;
  logger?: Logger;
}

type ClaimArgs = [now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit: number, holdMs: number | undefined];

const DEFAULT_LIMIT = 100;

const SQL = {
  insert: `INSERT INTO nuvom_schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire,
                                        next_run_at, last_run_at, status, created_at)
           VALUES (@id, @task_name, @args, @priority, @options, @kind, @every_secs, @cron, @timezone, @misfire,
                   @next_run_at, @last_run_at, @status, @created_at)`,
  due: `SELECT * FROM nuvom_schedules WHERE status = 'ACTIVE' AND next_run_at <= @now ORDER BY next_run_at, id LIMIT @limit`,
  advance: `UPDATE nuvom_schedules SET next_run_at = @next, last_run_at = @lastRunAt, status = @status
             WHERE id = @id AND status = 'ACTIVE' AND next_run_at = @fireAt`,
  upsert: `INSERT INTO nuvom_schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire,
                                        next_run_at, last_run_at, status, created_at)
           VALUES (@id, @task_name, @args, @priority, @options, @kind, @every_secs, @cron, @timezone, @misfire,
                   @next_run_at, @last_run_at, @status, @created_at)
           ON CONFLICT (id) DO UPDATE SET task_name = excluded.task_name, args = excluded.args, priority = excluded.priority,
             options = excluded.options, kind = excluded.kind, every_secs = excluded.every_secs, cron = excluded.cron,
             timezone = excluded.timezone, misfire = excluded.misfire, next_run_at = excluded.next_run_at,
             last_run_at = excluded.last_run_at, status = excluded.status, created_at = excluded.created_at`,
  hold: `INSERT OR IGNORE INTO nuvom_schedules (id, task_name, args, priority, options, kind, every_secs, cron, timezone, misfire,
                                        next_run_at, last_run_at, status, created_at)
           VALUES (@id, @task_name, @args, @priority, @options, @kind, @every_secs, @cron, @timezone, @misfire,
                   @next_run_at, @last_run_at, @status, @created_at)`,
  expiredHolds: `SELECT * FROM nuvom_schedules WHERE status = 'HELD' AND next_run_at <= @now ORDER BY next_run_at, id LIMIT @limit`,
  takeHold: `UPDATE nuvom_schedules SET next_run_at = @until WHERE id = @id AND status = 'HELD' AND next_run_at = @was`,
  settle: `DELETE FROM nuvom_schedules WHERE id = @id AND status = 'HELD'`,
  get: `SELECT * FROM nuvom_schedules WHERE id = @id AND status != 'HELD'`,
  listActive: `SELECT * FROM nuvom_schedules WHERE status = 'ACTIVE' ORDER BY next_run_at IS NULL, next_run_at, created_at, id`,
  listAll: `SELECT * FROM nuvom_schedules WHERE status != 'HELD' ORDER BY next_run_at IS NULL, next_run_at, created_at, id`,
  cancel: `UPDATE nuvom_schedules SET status = 'CANCELLED', next_run_at = NULL WHERE id = @id AND status = 'ACTIVE'`,
} as const;

type Statements = { [K in keyof typeof SQL]: Statement };

export class SqliteScheduleStore implements ScheduleStore {
  private readonly lease: DbLease;
  private readonly db: Db;
  private readonly stmt: Statements;
  private readonly logger: Logger | undefined;
  private readonly claimTx: Transaction<(...a: ClaimArgs) => DueFire[]>;
  private readonly reclaimTx: Transaction<(now: number, holdMs: number, limit: number) => DueFire[]>;
  private readonly settleTx: Transaction<(holds: string[]) => void>;
  private closed = false;

  constructor(opts: SqliteScheduleStoreOptions) {
    this.logger = opts.logger;
    this.lease = acquireDb(opts.path, 'schedules', opts.logger);
    this.db = this.lease.db;
    try {
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as Statements;
    } catch (err) {
      this.lease.release();
      throw storageError('preparing the schedule store statements', err);
    }
    this.claimTx = this.db.transaction((...[now, advance, limit, holdMs]: ClaimArgs) => {
      const won: DueFire[] = [];
      for (const row of this.stmt.due.all({ now, limit }) as ScheduleRow[]) {
        const entry = toEntry(row);
        const fireAt = row.next_run_at as number;
        const step = claimStep(entry, fireAt, advance, this.logger);
        if (!step) continue;
        const { next, fire, status } = step;
        const { changes } = this.stmt.advance.run({ id: entry.id, fireAt, next, lastRunAt: fireAt, status });
        if (changes !== 1) continue;
        const moved: ScheduleEntry = { ...entry, nextRunAt: next, lastRunAt: fireAt, status };
        const fired: DueFire = { entry: moved, fireAt, fireFor: fire };
        if (holdMs !== undefined && fire !== null) {
          // The hold commits with the claim: a crash after this transaction leaves it to be reclaimed.
          const hold = holdRow(moved, fireAt, fire, now + holdMs, PLUGIN_NAME);
          fired.hold = hold.id;
          this.stmt.hold.run(hold);
        }
        won.push(fired);
      }
      return won;
    });
    this.reclaimTx = this.db.transaction((now: number, holdMs: number, limit: number) => {
      const out: DueFire[] = [];
      for (const row of this.stmt.expiredHolds.all({ now, limit }) as ScheduleRow[]) {
        if (this.stmt.takeHold.run({ id: row.id, was: row.next_run_at, until: now + holdMs }).changes !== 1) continue;
        out.push(fireOfHold(row, PLUGIN_NAME));
      }
      return out;
    });
    this.settleTx = this.db.transaction((holds: string[]) => {
      for (const id of holds) this.stmt.settle.run({ id });
    });
  }

  async add(entry: ScheduleEntry): Promise<void> {
    this.live();
    const row = toRow(entry);
    await withBusyRetry('adding a schedule', () => {
      try {
        this.stmt.insert.run(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `a schedule with id ${entry.id} already exists; cancel it or use a new id`, { plugin: PLUGIN_NAME, details: { scheduleId: entry.id } });
        }
        throw err;
      }
    });
  }

  async claimDue(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit = DEFAULT_LIMIT, opts: { holdMs?: number } = {}): Promise<DueFire[]> {
    this.live();
    const max = Math.floor(limit);
    if (!(max >= 1)) return [];
    return withBusyRetry('claiming due schedules', () => this.claimTx.immediate(now, advance, max, opts.holdMs));
  }

  async upsert(entry: ScheduleEntry): Promise<void> {
    this.live();
    const row = toRow(entry);
    await withBusyRetry('storing a schedule', () => this.stmt.upsert.run(row));
  }

  async settle(holds: string[]): Promise<void> {
    this.live();
    if (holds.length === 0) return;
    await withBusyRetry('settling schedule holds', () => this.settleTx.immediate(holds));
  }

  async reclaimHeld(now: number, holdMs: number, limit = DEFAULT_LIMIT): Promise<DueFire[]> {
    this.live();
    const max = Math.floor(limit);
    if (!(max >= 1)) return [];
    return withBusyRetry('reclaiming schedule holds', () => this.reclaimTx.immediate(now, holdMs, max));
  }

  async get(id: string): Promise<ScheduleEntry | null> {
    this.live();
    const row = await withBusyRetry('reading a schedule', () => this.stmt.get.get({ id }) as ScheduleRow | undefined);
    return row ? toEntry(row) : null;
  }

  async list(opts: { includeFinished?: boolean } = {}): Promise<ScheduleEntry[]> {
    this.live();
    const stmt = opts.includeFinished ? this.stmt.listAll : this.stmt.listActive;
    const rows = await withBusyRetry('listing schedules', () => stmt.all() as ScheduleRow[]);
    return rows.map(toEntry);
  }

  async cancel(id: string): Promise<boolean> {
    this.live();
    return withBusyRetry('cancelling a schedule', () => this.stmt.cancel.run({ id }).changes === 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lease.release();
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the SQLite schedule store is closed; resolve the scheduleStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

const toRow = (e: ScheduleEntry): ScheduleRow => scheduleToRow(e, PLUGIN_NAME);
const toEntry = (row: ScheduleRow): ScheduleEntry => scheduleFromRow(row, PLUGIN_NAME);
