/**
 * The in-process schedule store: a Map of entries by id. claimDue runs synchronously between awaits,
 * so within one process no two callers can win one fire time; entries are copied in and out.
 * Must never: call `advance` for an entry that is not due, or change any entry when an advance throws.
 */
import { NuvomError, type DueFire, type ScheduleEntry, type ScheduleStore } from '../../sdk/plugin.ts';

function copy(entry: ScheduleEntry): ScheduleEntry {
  return { ...entry, args: new Uint8Array(entry.args), options: structuredClone(entry.options) };
}

export class MemoryScheduleStore implements ScheduleStore {
  private readonly entries = new Map<string, ScheduleEntry>();

  async add(entry: ScheduleEntry): Promise<void> {
    if (this.entries.has(entry.id)) {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `a schedule with id "${entry.id}" already exists; cancel it first or use a new id`, { details: { id: entry.id } });
    }
    this.entries.set(entry.id, copy(entry));
  }

  async claimDue(now: number, advance: (entry: ScheduleEntry) => number | null, limit = Infinity): Promise<DueFire[]> {
    const due = [...this.entries.values()]
      .filter((e) => e.status === 'ACTIVE' && e.nextRunAt !== null && e.nextRunAt <= now)
      .sort((a, b) => a.nextRunAt! - b.nextRunAt! || (a.id < b.id ? -1 : 1))
      .slice(0, Math.max(0, limit));
    // Every advance first, then every move: an advance that throws leaves all entries as they were.
    const nexts = due.map((e) => {
      const next = advance(copy(e));
      if (next !== null && !Number.isFinite(next)) {
        throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `advance() for schedule "${e.id}" returned ${String(next)}; it must return epoch milliseconds or null`);
      }
      return next;
    });
    return due.map((e, i) => {
      const fireAt = e.nextRunAt!;
      const next = nexts[i];
      e.lastRunAt = fireAt;
      e.nextRunAt = next;
      if (next === null) e.status = 'DONE';
      return { entry: copy(e), fireAt };
    });
  }

  async get(id: string): Promise<ScheduleEntry | null> {
    const e = this.entries.get(id);
    return e ? copy(e) : null;
  }

  async list(opts: { includeFinished?: boolean } = {}): Promise<ScheduleEntry[]> {
    return [...this.entries.values()]
      .filter((e) => opts.includeFinished || e.status === 'ACTIVE')
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
      .map(copy);
  }

  async cancel(id: string): Promise<boolean> {
    const e = this.entries.get(id);
    if (!e || e.status !== 'ACTIVE') return false;
    e.status = 'CANCELLED';
    e.nextRunAt = null;
    return true;
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}
