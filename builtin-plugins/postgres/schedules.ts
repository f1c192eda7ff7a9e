/**
 * The PostgreSQL schedule store (table `schedules`). claimDue locks the due ACTIVE entries FOR UPDATE
 * SKIP LOCKED in one transaction and moves each one's next_run_at with a compare-and-set on the old
 * value, so schedulers on many hosts each win a fire time at most once and never wait on each other.
 * Holds (two-phase claims, docs/decisions.md "Scheduler exactly once") are rows with status 'HELD' and
 * id `<entry id>#<fire ms>`, written in the claim's transaction, as in the SQLite store.
 * Must never: return a fire time it did not win, or commit a claim it does not return.
 */
import { NuvomError, messageOf, type DueFire, type FirePlan, type JobOptions, type Logger, type ScheduleEntry, type ScheduleStore } from '../../sdk/plugin.ts';
import { acquireDb, type PgDb, type PgLease } from './db.ts';
import { toBuf, toBytes } from './rows.ts';
import { PLUGIN_NAME, type PostgresSettings } from './settings.ts';

export interface PgScheduleStoreOptions {
  settings: PostgresSettings;
  logger?: Logger;
}

interface ScheduleRow {
  id: string;
  task_name: string;
  args: Buffer;
  priority: number;
  options: string;
  kind: ScheduleEntry['kind'];
  every_secs: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: ScheduleEntry['misfire'];
  next_run_at: number | null;
  last_run_at: number | null;
  status: ScheduleEntry['status'] | 'HELD';
  created_at: number;
}

const COLS = ['id', 'task_name', 'args', 'priority', 'options', 'kind', 'every_secs', 'cron', 'timezone', 'misfire', 'next_run_at', 'last_run_at', 'status', 'created_at'] as const;
const VALUES = COLS.map((_, i) => `$${i + 1}`).join(', ');
const DEFAULT_LIMIT = 100;

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
        const entry = toEntry(row);
        const fireAt = Number(row.next_run_at);
        let next: number | null;
        let fire: number | null;
        try {
          const out = advance(entry);
          ({ next, fire } = out !== null && typeof out === 'object' ? out : { next: out, fire: fireAt });
        } catch (err) {
          this.logger?.error(`schedule ${entry.id}: computing its next fire time failed, it stays due: ${messageOf(err)}`, { schedule: entry.id });
          continue;
        }
        if (next !== null && !Number.isFinite(next)) {
          this.logger?.error(`schedule ${entry.id}: advance returned ${String(next)}, not epoch ms or null; it stays due`, { schedule: entry.id });
          continue;
        }
        const status = next === null ? 'DONE' : 'ACTIVE';
        const moved = await c.query(`UPDATE ${s}.schedules SET next_run_at = $2, last_run_at = $3, status = $4 WHERE id = $1 AND status = 'ACTIVE' AND next_run_at = $3`, [entry.id, next, fireAt, status]);
        if (moved.rowCount !== 1) continue;
        const movedEntry: ScheduleEntry = { ...entry, nextRunAt: next, lastRunAt: fireAt, status };
        const fired: DueFire = { entry: movedEntry, fireAt, fireFor: fire };
        if (opts.holdMs !== undefined && fire !== null) {
          fired.hold = `${entry.id}#${fireAt}`;
          await c.query(`INSERT INTO ${s}.schedules (${COLS.join(', ')}) VALUES (${VALUES}) ON CONFLICT (id) DO NOTHING`,
            values({ ...toRow(movedEntry), id: fired.hold, next_run_at: now + opts.holdMs, last_run_at: fire, status: 'HELD' }));
        }
        won.push(fired);
      }
      return won;
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
    return rows.map((row) => {
      const cut = row.id.lastIndexOf('#');
      const entry = toEntry({ ...row, id: row.id.slice(0, cut), status: 'ACTIVE' });
      return { entry, fireAt: Number(row.id.slice(cut + 1)), fireFor: row.last_run_at === null ? null : Number(row.last_run_at), hold: row.id };
    });
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

  private live(): void {
    if (this.closed) throw new NuvomError('NUVOM_E_STORAGE', 'the PostgreSQL schedule store is closed; resolve the scheduleStore service again from a running kernel', { plugin: PLUGIN_NAME });
  }
}

function values(row: ScheduleRow): unknown[] {
  return COLS.map((c) => row[c]);
}

function toRow(e: ScheduleEntry): ScheduleRow {
  const options = JSON.stringify(e.options);
  if (options === undefined) throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `the options of schedule ${e.id} must be JSON-safe`, { plugin: PLUGIN_NAME });
  return {
    id: e.id, task_name: e.taskName, args: toBuf(e.args), priority: e.priority, options, kind: e.kind, every_secs: e.everySecs ?? null,
    cron: e.cron ?? null, timezone: e.timezone ?? null, misfire: e.misfire, next_run_at: e.nextRunAt ?? null, last_run_at: e.lastRunAt ?? null,
    status: e.status, created_at: e.createdAt,
  };
}

function toEntry(row: ScheduleRow): ScheduleEntry {
  let options: JobOptions;
  try { options = JSON.parse(row.options) as JobOptions; } catch (err) {
    throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored options of schedule ${row.id} are not valid JSON: ${messageOf(err)}`, { plugin: PLUGIN_NAME });
  }
  return {
    id: row.id,
    ...(row.id.startsWith('key:') ? { key: row.id.slice(4) } : {}),
    taskName: row.task_name, args: toBytes(row.args), priority: row.priority, options, kind: row.kind,
    everySecs: row.every_secs, cron: row.cron, timezone: row.timezone, misfire: row.misfire,
    nextRunAt: row.next_run_at === null ? null : Number(row.next_run_at), lastRunAt: row.last_run_at === null ? null : Number(row.last_run_at),
    status: row.status as ScheduleEntry['status'], createdAt: Number(row.created_at),
  };
}
