/**
 * The PostgreSQL schedule store (table `schedules`). claimDue locks the due ACTIVE entries FOR UPDATE
 * SKIP LOCKED in one transaction and moves each one's next_run_at with a compare-and-set on the old
 * value, so schedulers on many hosts each win a fire time at most once and never wait on each other.
 * Holds (two-phase claims, docs/decisions.md "Scheduler exactly once") are rows with status 'HELD' and
 * id `<entry id>#<fire ms>`, written in the claim's transaction, as in the SQLite store.
 * Must never: return a fire time it did not win, or commit a claim it does not return.
 */
import {
  NuvomError, claimStep, fireOfHold, holdRow, messageOf, scheduleFromRow, scheduleToRow, SCHEDULE_COLUMNS,
  type DueFire, type FirePlan, type Logger, type ScheduleEntry, type ScheduleRow, type ScheduleStore,
} from '../../sdk/plugin.ts';
import { acquireDb, type PgDb, type PgLease } from './db.ts';
import { PLUGIN_NAME, type ConnectionSettings } from './settings.ts';

export interface PgScheduleStoreOptions {
  settings: ConnectionSettings;
  logger?: Logger;
}

const COLS = SCHEDULE_COLUMNS;
const VALUES = COLS.map((_, i) => `$${i + 1}`).join(', ');
const DEFAULT_LIMIT = 100;
/** The compare-and-set that wins a fire time: $1 id, $2 next fire time, $3 the fire time claimed, $4 status. */
const MOVE_SQL = (s: string): string => `UPDATE ${s}.schedules SET next_run_at = $2, last_run_at = $3, status = $4 WHERE id = $1 AND status = 'ACTIVE' AND next_run_at = $3`;

export class PgScheduleStore implements ScheduleStore {
  private readonly lease: PgLease;
  private readonly db: PgDb;
  private readonly logger: Logger | undefined;
  private closed = false;

  constructor(opts: PgScheduleStoreOptions) {
    this.logger = opts.logger;
    this.lease = acquireDb(opts.settings, opts.logger);
    this.db = this.lease.db;
  }

  async add(entry: ScheduleEntry): Promise<void> {
    this.live();
    const { rowCount } = await this.db.query('adding a schedule', `INSERT INTO ${this.db.s}.schedules (${COLS.join(', ')}) VALUES (${VALUES}) ON CONFLICT (id) DO NOTHING`, values(toRow(entry)));
    if (rowCount !== 1) {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `a schedule with id ${entry.id} already exists; cancel it or use a new id`, { plugin: PLUGIN_NAME, details: { scheduleId: entry.id } });
    }
  }

  async upsert(entry: ScheduleEntry): Promise<void> {
    this.live();
    await this.db.query('storing a schedule',
      `INSERT INTO ${this.db.s}.schedules (${COLS.join(', ')}) VALUES (${VALUES})
       ON CONFLICT (id) DO UPDATE SET ${COLS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ')}`, values(toRow(entry)));
  }

  async claimDue(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit = DEFAULT_LIMIT, opts: { holdMs?: number } = {}): Promise<DueFire[]> {
    this.live();
    const max = Math.floor(limit);
    if (!(max >= 1)) return [];
    const s = this.db.s;
    return this.db.tx('claiming due schedules', async (c) => {
      const { rows } = await c.query<ScheduleRow>(`SELECT * FROM ${s}.schedules WHERE status = 'ACTIVE' AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, [now, max]);
      const won: DueFire[] = [];
      for (const row of rows) {
        const plan = this.planOf(row, advance);
        if (!plan) continue;
        const { entry, fireAt, next, fire, status } = plan;
        const moved = await c.query(MOVE_SQL(s), [entry.id, next, fireAt, status]);
        if (moved.rowCount !== 1) continue;
        const movedEntry: ScheduleEntry = { ...entry, nextRunAt: next, lastRunAt: fireAt, status };
        const fired: DueFire = { entry: movedEntry, fireAt, fireFor: fire };
        if (opts.holdMs !== undefined && fire !== null) {
          const hold = holdRow(movedEntry, fireAt, fire, now + opts.holdMs, PLUGIN_NAME);
          fired.hold = hold.id;
          await c.query(`INSERT INTO ${s}.schedules (${COLS.join(', ')}) VALUES (${VALUES}) ON CONFLICT (id) DO NOTHING`, values(hold));
        }
        won.push(fired);
      }
      return won;
    });
  }

  /**
   * Claims due entries and fires them in one transaction (the scheduler's one-transaction path, used
   * when the job store is this plugin's, on this database): for each won entry `fire(tx, fire)` runs
   * inside the claim's transaction, `tx` being the client the job store writes through
   * (enqueueInTransaction). 'made' keeps the move and the job; 'none' keeps the move, undoing anything
   * the callback wrote; 'retry' (or a throw) undoes both, so the entry stays due. A scheduler killed
   * mid-fire leaves an open transaction the server rolls back: nothing claimed, nothing enqueued.
   * Entries in `skip` are not claimed (a pass retries a failing fire once, not in a loop).
   * Returns null with a pool of one connection: the enqueue reads on a second one while the
   * transaction holds the first, so the scheduler keeps its two-phase holds there.
   */
  async claimDueInTransaction(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit: number,
    fire: (tx: unknown, fire: DueFire) => Promise<'made' | 'none' | 'retry'>, skip: ReadonlySet<string> = new Set()): Promise<{ fires: DueFire[]; claimed: number } | null> {
    this.live();
    if (this.db.poolSize < 2) return null;
    const max = Math.floor(limit);
    if (!(max >= 1)) return { fires: [], claimed: 0 };
    const s = this.db.s;
    return this.db.tx('firing due schedules', async (c) => {
      const { rows } = await c.query<ScheduleRow>(`SELECT * FROM ${s}.schedules WHERE status = 'ACTIVE' AND next_run_at <= $1 AND NOT (id = ANY($3::text[]))
        ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, [now, max, [...skip]]);
      const won: DueFire[] = [];
      for (const row of rows) {
        const plan = this.planOf(row, advance);
        if (!plan) continue;
        const { entry, fireAt, next, fire: fireFor, status } = plan;
        await c.query('SAVEPOINT nuvom_claim');
        const moved = await c.query(MOVE_SQL(s), [entry.id, next, fireAt, status]);
        if (moved.rowCount !== 1) {
          await c.query('RELEASE SAVEPOINT nuvom_claim');
          continue;
        }
        const fired: DueFire = { entry: { ...entry, nextRunAt: next, lastRunAt: fireAt, status }, fireAt, fireFor };
        await c.query('SAVEPOINT nuvom_fire');
        let outcome: 'made' | 'none' | 'retry';
        try {
          outcome = await fire(c, fired);
        } catch (err) {
          this.logger?.error(`schedule ${entry.id}: firing ${new Date(fireAt).toISOString()} failed, it stays due: ${messageOf(err)}`, { schedule: entry.id });
          outcome = 'retry';
        }
        if (outcome === 'retry') {
          await c.query('ROLLBACK TO SAVEPOINT nuvom_claim');
        } else {
          if (outcome === 'none') await c.query('ROLLBACK TO SAVEPOINT nuvom_fire');
          won.push(fired);
        }
        await c.query('RELEASE SAVEPOINT nuvom_claim');
      }
      return { fires: won, claimed: rows.length };
    });
  }

  async settle(holds: string[]): Promise<void> {
    this.live();
    if (holds.length === 0) return;
    await this.db.query('settling schedule holds', `DELETE FROM ${this.db.s}.schedules WHERE id = ANY($1::text[]) AND status = 'HELD'`, [holds]);
  }

  async reclaimHeld(now: number, holdMs: number, limit = DEFAULT_LIMIT): Promise<DueFire[]> {
    this.live();
    const max = Math.floor(limit);
    if (!(max >= 1)) return [];
    const s = this.db.s;
    const { rows } = await this.db.query<ScheduleRow>('reclaiming schedule holds',
      `UPDATE ${s}.schedules SET next_run_at = $2 WHERE id IN (
         SELECT id FROM ${s}.schedules WHERE status = 'HELD' AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`, [now, now + holdMs, max]);
    return rows.map((row) => fireOfHold(row, PLUGIN_NAME));
  }

  async get(id: string): Promise<ScheduleEntry | null> {
    this.live();
    const { rows } = await this.db.query<ScheduleRow>('reading a schedule', `SELECT * FROM ${this.db.s}.schedules WHERE id = $1 AND status <> 'HELD'`, [id]);
    return rows[0] ? toEntry(rows[0]) : null;
  }

  async list(opts: { includeFinished?: boolean } = {}): Promise<ScheduleEntry[]> {
    this.live();
    const where = opts.includeFinished ? `status <> 'HELD'` : `status = 'ACTIVE'`;
    const { rows } = await this.db.query<ScheduleRow>('listing schedules', `SELECT * FROM ${this.db.s}.schedules WHERE ${where} ORDER BY next_run_at IS NULL, next_run_at, created_at, id`);
    return rows.map(toEntry);
  }

  async cancel(id: string): Promise<boolean> {
    this.live();
    const { rowCount } = await this.db.query('cancelling a schedule', `UPDATE ${this.db.s}.schedules SET status = 'CANCELLED', next_run_at = NULL WHERE id = $1 AND status = 'ACTIVE'`, [id]);
    return rowCount === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lease.release();
  }

  /** The entry of a locked due row and what `advance` decided for it; null (logged) when it stays due. */
  private planOf(row: ScheduleRow, advance: (entry: ScheduleEntry) => number | null | FirePlan) {
    const entry = toEntry(row);
    const fireAt = Number(row.next_run_at);
    const step = claimStep(entry, fireAt, advance, this.logger);
    return step && { entry, fireAt, ...step };
  }

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL schedule store is closed; resolve the scheduleStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

function values(row: ScheduleRow): unknown[] {
  return COLS.map((c) => row[c]);
}

const toRow = (e: ScheduleEntry): ScheduleRow => scheduleToRow(e, PLUGIN_NAME);
const toEntry = (row: ScheduleRow): ScheduleEntry => scheduleFromRow(row, PLUGIN_NAME);
