/**
 * The schedule row codec every SQL schedule store shares (SQLite, PostgreSQL): a ScheduleEntry as
 * one row of snake_case columns (args as bytes, options as JSON text, times as epoch ms), and the
 * two-phase holds kept in the same table: a row with status 'HELD', id `<entry id>#<fire time ms>`,
 * next_run_at = when the hold runs out, last_run_at = the fire time its job stands for.
 * Must never: hand back a Buffer where the contracts promise a Uint8Array (deep equality tells them
 * apart), read a driver's int8 text as a string, or name Node's Buffer in its types (the published
 * declarations compile without @types/node).
 */
import { NuvomError, type DueFire, type FirePlan, type JobOptions, type Logger, type ScheduleEntry } from '../../kernel/index.ts';

export interface ScheduleRow {
  id: string;
  task_name: string;
  /** The encoded arguments; a Buffer at run time (what SQLite and pg bind as a BLOB / bytea). */
  args: Uint8Array;
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

/** The columns of a schedule row, in table order (for INSERT column lists and positional values). */
export const SCHEDULE_COLUMNS = ['id', 'task_name', 'args', 'priority', 'options', 'kind', 'every_secs', 'cron', 'timezone', 'misfire',
  'next_run_at', 'last_run_at', 'status', 'created_at'] as const;

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const msOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function scheduleToRow(e: ScheduleEntry, plugin?: string): ScheduleRow {
  if (!(e.args instanceof Uint8Array)) {
    throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `the arguments of schedule ${e.id} must be encoded bytes (a Uint8Array), got ${typeof e.args}; encode them with the serializer service first`, { plugin });
  }
  let options: string | undefined;
  try {
    options = JSON.stringify(e.options);
  } catch (err) {
    throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `the options of schedule ${e.id} must be JSON-safe: ${message(err)}`, { plugin, cause: err });
  }
  if (options === undefined) throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `the options of schedule ${e.id} must be JSON-safe: not a JSON value`, { plugin });
  return {
    id: e.id, task_name: e.taskName, args: Buffer.from(e.args.buffer, e.args.byteOffset, e.args.byteLength), priority: e.priority, options,
    kind: e.kind, every_secs: e.everySecs ?? null, cron: e.cron ?? null, timezone: e.timezone ?? null, misfire: e.misfire,
    next_run_at: e.nextRunAt ?? null, last_run_at: e.lastRunAt ?? null, status: e.status, created_at: e.createdAt,
  };
}

export function scheduleFromRow(row: ScheduleRow, plugin?: string): ScheduleEntry {
  let options: JobOptions;
  try {
    options = JSON.parse(row.options) as JobOptions;
  } catch (err) {
    throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored options of schedule ${row.id} are not valid JSON: ${message(err)}`, { plugin, cause: err, details: { owner: `schedule ${row.id}` } });
  }
  return {
    id: row.id,
    ...(row.id.startsWith('key:') ? { key: row.id.slice(4) } : {}),
    taskName: row.task_name, args: new Uint8Array(row.args.buffer, row.args.byteOffset, row.args.byteLength), priority: row.priority, options,
    kind: row.kind, everySecs: row.every_secs === null ? null : Number(row.every_secs), cron: row.cron, timezone: row.timezone, misfire: row.misfire,
    nextRunAt: msOrNull(row.next_run_at), lastRunAt: msOrNull(row.last_run_at), status: row.status as ScheduleEntry['status'], createdAt: Number(row.created_at),
  };
}

/** The hold row of a fire claimed at `fireAt` for the job of `fireFor`, running out at `until`. */
export function holdRow(moved: ScheduleEntry, fireAt: number, fireFor: number, until: number, plugin?: string): ScheduleRow {
  return { ...scheduleToRow(moved, plugin), id: `${moved.id}#${fireAt}`, next_run_at: until, last_run_at: fireFor, status: 'HELD' };
}

/** A hold row read back as the fire it stands for (its entry ACTIVE, under the entry's own id). */
export function fireOfHold(row: ScheduleRow, plugin?: string): DueFire {
  const cut = row.id.lastIndexOf('#');
  const entry = scheduleFromRow({ ...row, id: row.id.slice(0, cut), status: 'ACTIVE' }, plugin);
  return { entry, fireAt: Number(row.id.slice(cut + 1)), fireFor: msOrNull(row.last_run_at), hold: row.id };
}

/** What a claim does with one due entry: its next fire time, the fire time its job stands for, its status. */
export interface ClaimStep {
  next: number | null;
  fire: number | null;
  status: 'ACTIVE' | 'DONE';
}

/**
 * Runs the scheduler's `advance` for a due entry claimed at `fireAt` (a bare number is the old
 * contract: a job for the claimed fire time). null: `advance` threw or gave no valid time; that is
 * logged and the entry stays due, so one bad entry never loses the fires already won.
 */
export function claimStep(entry: ScheduleEntry, fireAt: number, advance: (entry: ScheduleEntry) => number | null | FirePlan,
  logger?: Pick<Logger, 'error'>): ClaimStep | null {
  let next: number | null;
  let fire: number | null;
  try {
    const out = advance(entry);
    ({ next, fire } = out !== null && typeof out === 'object' ? out : { next: out, fire: fireAt });
  } catch (err) {
    logger?.error(`schedule ${entry.id}: computing its next fire time failed, it stays due: ${message(err)}`, { schedule: entry.id });
    return null;
  }
  if (next !== null && !Number.isFinite(next)) {
    logger?.error(`schedule ${entry.id}: advance returned ${String(next)}, not epoch ms or null; it stays due`, { schedule: entry.id });
    return null;
  }
  return { next, fire, status: next === null ? 'DONE' : 'ACTIVE' };
}
