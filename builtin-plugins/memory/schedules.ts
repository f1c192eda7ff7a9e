/**
 * The in-process schedule store: a Map of entries by id, and a Map of holds (fires claimed but not
 * yet settled: the two-phase claim, so a failed enqueue is tried again rather than lost). claimDue
 * runs synchronously between awaits, so within one process no two callers can win one fire time;
 * entries are copied in and out.
 * Must never: call `advance` for an entry that is not due, or change any entry when an advance throws.
 */
import { NuvomError, type DueFire, type FirePlan, type ScheduleEntry, type ScheduleStore } from '../../sdk/plugin.ts';

function copy(entry: ScheduleEntry): ScheduleEntry {
  return { ...entry, args: new Uint8Array(entry.args), options: structuredClone(entry.options) };
}

interface Hold {
  entry: ScheduleEntry;
  fireAt: number;
  fireFor: number;
  until: number;
}

/** A bare next fire time means the old contract: a job for the claimed fire time. */
function planOf(out: number | null | FirePlan, fireAt: number): FirePlan {
  return out !== null && typeof out === 'object' ? out : { next: out, fire: fireAt };
}

export class MemoryScheduleStore implements ScheduleStore {
  private readonly entries = new Map<string, ScheduleEntry>();
  private readonly holds = new Map<string, Hold>();

  async add(entry: ScheduleEntry): Promise<void> {
    if (this.entries.has(entry.id)) {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `a schedule with id "${entry.id}" already exists; cancel it first or use a new id`, { details: { id: entry.id } });
    }
    this.entries.set(entry.id, copy(entry));
  }

  async upsert(entry: ScheduleEntry): Promise<void> {
    this.entries.set(entry.id, copy(entry));
  }

  async claimDue(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit = Infinity, opts: { holdMs?: number } = {}): Promise<DueFire[]> {
    const due = [...this.entries.values()]
      .filter((e) => e.status === 'ACTIVE' && e.nextRunAt !== null && e.nextRunAt <= now)
      .sort((a, b) => a.nextRunAt! - b.nextRunAt! || (a.id < b.id ? -1 : 1))
      .slice(0, Math.max(0, limit));
    // Every advance first, then every move: an advance that throws leaves all entries as they were.
    const plans = due.map((e) => {
      const plan = planOf(advance(copy(e)), e.nextRunAt!);
      if (plan.next !== null && !Number.isFinite(plan.next)) {
        throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `advance() for schedule "${e.id}" returned ${String(plan.next)}; it must return epoch milliseconds or null`);
      }
      return plan;
    });
    return due.map((e, i) => {
      const fireAt = e.nextRunAt!;
      const { next, fire } = plans[i];
      e.lastRunAt = fireAt;
      e.nextRunAt = next;
      if (next === null) e.status = 'DONE';
      const won: DueFire = { entry: copy(e), fireAt, fireFor: fire };
      if (opts.holdMs !== undefined && fire !== null) {
        won.hold = `${e.id}#${fireAt}`;
        this.holds.set(won.hold, { entry: copy(e), fireAt, fireFor: fire, until: now + opts.holdMs });
      }
      return won;
    });
  }

  async settle(holds: string[]): Promise<void> {
    for (const h of holds) this.holds.delete(h);
  }

  async reclaimHeld(now: number, holdMs: number, limit = Infinity): Promise<DueFire[]> {
    const out: DueFire[] = [];
    for (const [id, h] of this.holds) {
      if (out.length >= limit) break;
      if (h.until > now) continue;
      h.until = now + holdMs;
      out.push({ entry: copy(h.entry), fireAt: h.fireAt, fireFor: h.fireFor, hold: id });
    }
    return out;
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
