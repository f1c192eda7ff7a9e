/**
 * Schedules and the schedule store contract. Types only.
 */
import type { JobOptions, QueuedJob } from './queue.ts';

/** What happens to fire times missed while no scheduler ran (docs/scheduling.md). */
export type MisfirePolicy = 'skip' | 'catchup';

/**
 * One of exactly these shapes (api.md "Scheduling"); recurring ones may set a misfire policy. Any of
 * them may carry a `key`: scheduling again with the same key replaces the one stored schedule
 * (docs/scheduling.md "Keys") instead of adding another. Each shape says `?: never` for the others'
 * keys, so `{ inSecs: 5, misfire: 'catchup' }` or `{ inSecs: 5, everySecs: 5 }` does not compile
 * (a plain union would accept a literal that fits one member and adds another's key).
 */
export type Trigger = (
  | { at: Date | string | number; inSecs?: never; everySecs?: never; cron?: never; timezone?: never; misfire?: never }
  | { inSecs: number; at?: never; everySecs?: never; cron?: never; timezone?: never; misfire?: never }
  | { everySecs: number; misfire?: MisfirePolicy; at?: never; inSecs?: never; cron?: never; timezone?: never }
  | { cron: string; timezone?: string; misfire?: MisfirePolicy; at?: never; inSecs?: never; everySecs?: never }
) & { key?: string };

export interface ScheduleEntry {
  /** A UUID, or `key:<key>` for a keyed schedule (the key is kept in the id, so stores need no column). */
  id: string;
  /** The schedule's key (from the id), or null/absent for an unkeyed one. */
  key?: string | null;
  taskName: string;
  /** Encoded by the serializer service, as QueuedJob.args. */
  args: Uint8Array;
  priority: number;
  options: JobOptions;
  kind: 'once' | 'interval' | 'cron';
  everySecs: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: MisfirePolicy;
  /** Epoch ms of the next fire time; null once a one-off has fired. */
  nextRunAt: number | null;
  lastRunAt: number | null;
  status: 'ACTIVE' | 'DONE' | 'CANCELLED';
  createdAt: number;
}

export interface DueFire {
  entry: ScheduleEntry;
  /** The fire time this caller won; no other caller gets it. */
  fireAt: number;
  /** The fire time the caller's job stands for (FirePlan.fire), when advance returned a plan. */
  fireFor?: number | null;
  /**
   * Two-phase stores: the id of the hold that keeps this fire until `settle([hold])`. A hold not
   * settled within holdMs (its scheduler died between claim and enqueue) is handed out again by
   * `reclaimHeld`, so the fire time is not lost.
   */
  hold?: string;
}

/** What `advance` may return instead of a bare next fire time: the next one, and whether a job is made. */
export interface FirePlan {
  /** The entry's next fire time (null: the entry is DONE). */
  next: number | null;
  /** The fire time a job is made for (held until settled), or null: no job for this claim, nothing held. */
  fire: number | null;
}

export interface ScheduleStore {
  add(entry: ScheduleEntry): Promise<void>;
  /**
   * Atomically claims entries with nextRunAt <= now. For each, `advance(entry)` returns the entry's
   * next fire time (or null: the entry is DONE), and the store moves nextRunAt in the same step
   * (compare-and-set on the old value), so two schedulers never both win one fire time.
   */
  claimDue(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit?: number, opts?: { holdMs?: number }): Promise<DueFire[]>;
  /**
   * Optional (two-phase claim): with `opts.holdMs`, claimDue also keeps, in the same step, a hold for
   * each fire whose plan makes a job; the caller settles it once the job is enqueued.
   */
  settle?(holds: string[]): Promise<void>;
  /** Optional: holds whose time ran out (their scheduler died), each taken over until now + holdMs. */
  reclaimHeld?(now: number, holdMs: number, limit?: number): Promise<DueFire[]>;
  /** Optional: adds the entry, or replaces the one with its id (keyed schedules). */
  upsert?(entry: ScheduleEntry): Promise<void>;
  get(id: string): Promise<ScheduleEntry | null>;
  list(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]>;
  /** true when an ACTIVE entry was cancelled. */
  cancel(id: string): Promise<boolean>;
  close(): Promise<void>;
}

