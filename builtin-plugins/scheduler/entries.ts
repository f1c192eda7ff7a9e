/**
 * Pure helpers of the scheduler: fire-time job ids, trigger keys, keeping a stored timeline on an
 * unchanged upsert, timelines that cannot fail, what a pass does with one due entry (planFire), and
 * the optional one-transaction store contract.
 * Must never: touch a store or the clock.
 */
import { NuvomError, iso, messageOf, type DueFire, type FirePlan, type ScheduleEntry, type ScheduleStore, type Trigger } from '../../sdk/plugin.ts';
import { timeline, type Timeline } from './trigger.ts';

export const KEY_RE = /^[\w.:-]{1,100}$/;

/**
 * Optional, beside a ScheduleStore whose plugin also provides the job store of the same backend name
 * (a "pair"): claims due entries and fires them in one transaction. `fire(tx, fire)` runs inside the
 * claim's transaction and enqueues through `tx` (JobStore.enqueueInTransaction); 'made' and 'none'
 * keep the claim, 'retry' (or a throw) undoes it, so the entry stays due; `skip` names entries not to
 * claim. null: not possible here (the scheduler then uses the two-phase holds). `claimed` counts the
 * rows looked at, so a pass knows whether more may be due.
 */
export interface TransactionalFires {
  claimDueInTransaction(now: number, advance: (entry: ScheduleEntry) => number | null | FirePlan, limit: number,
    fire: (tx: unknown, fire: DueFire) => Promise<'made' | 'none' | 'retry'>, skip?: ReadonlySet<string>): Promise<{ fires: DueFire[]; claimed: number } | null>;
}

export function firesInTransaction(store: ScheduleStore): (ScheduleStore & TransactionalFires) | null {
  return typeof (store as Partial<TransactionalFires>).claimDueInTransaction === 'function' ? store as ScheduleStore & TransactionalFires : null;
}

export const at = (ms: number | null): string => iso(ms) ?? 'never';

/** One id per fire time: a second enqueue of the same fire time is refused, and recovery finds it. */
export const jobIdOf = (scheduleId: string, fireFor: number): string => `${scheduleId}:${new Date(fireFor).toISOString()}`;

/** The trigger's key, checked, or null. */
export function keyOf(trigger: unknown, label: string): string | null {
  if (trigger === null || typeof trigger !== 'object' || !('key' in trigger) || trigger.key === undefined) return null;
  const key = trigger.key;
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: key must be 1-100 letters, digits, "_", "-", ".", ":", e.g. "hourly-add"; got ${JSON.stringify(key) ?? String(key)}`);
  }
  // The id is `key:<key>`, and cancel/find read "key:..." as an id: such a key could not be cancelled by key.
  if (key.startsWith('key:')) {
    throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: key ${JSON.stringify(key)} starts with "key:", which nuvom puts before every key to make the schedule's id; drop that prefix (the id will be ${JSON.stringify(key)})`);
  }
  return key;
}

/**
 * Upserting an unchanged trigger (a deploy calling schedule() at boot again) keeps the stored timeline,
 * so an hourly schedule redeployed every 20 minutes still fires; a changed trigger (or task) starts afresh.
 * `inSecs` is relative to the call, so it always starts afresh.
 */
export function keepTimeline(prior: ScheduleEntry | null, entry: ScheduleEntry, trigger: Trigger): Pick<ScheduleEntry, 'nextRunAt' | 'lastRunAt' | 'status' | 'createdAt'> | null {
  if (!prior || prior.status === 'CANCELLED' || 'inSecs' in trigger) return null;
  const same = prior.taskName === entry.taskName && prior.kind === entry.kind && prior.everySecs === entry.everySecs && prior.cron === entry.cron
    && prior.timezone === entry.timezone && prior.misfire === entry.misfire
    && (entry.kind !== 'once' || (prior.nextRunAt ?? prior.lastRunAt) === entry.nextRunAt);
  if (!same) return null;
  return { nextRunAt: prior.nextRunAt, lastRunAt: prior.lastRunAt, status: prior.status, createdAt: prior.createdAt };
}

/** The entry's timeline, or why it cannot be computed (a corrupt stored cron, say). */
export function timelineOf(entry: ScheduleEntry, fireAt: number, now: number): Timeline | string {
  try {
    return timeline(entry, fireAt, now);
  } catch (err) {
    return messageOf(err);
  }
}

/** What a pass decided for one claimed entry (computed inside claimDue, acted on once won). */
export interface Plan {
  /** The entry's next fire time (null: DONE). */
  next: number | null;
  /** The fire time the job stands for, or null: no job for this claim. */
  fireFor: number | null;
  /** The task is not in the registry: no job, reported once. */
  missing: boolean;
  /** With `missing`: the fire time that was due (a one-off's own time only at its first miss). */
  dueAt?: number;
  note: { level: 'info' | 'warn' | 'error'; text: string } | null;
}

/**
 * Decides, for one due entry, its next fire time and whether (and for which time) a job is made:
 * `known` whether its task is in the registry; misfire 'skip' runs a fire at most `graceMs` late.
 */
export function planFire(entry: ScheduleEntry, now: number, known: boolean, graceMs: number, missingRetryMs: number): Plan {
  const fireAt = entry.nextRunAt ?? now;
  if (!known) {
    // One-offs wait for the task to come back; recurring entries move on along their timeline.
    // A one-off's retry moves nextRunAt (the claim must), and the stores keep no other time for it, so
    // the job it makes once the task is back stands for that later time (docs/scheduling.md).
    if (entry.kind === 'once') return { next: now + missingRetryMs, fireFor: null, missing: true, note: null, dueAt: fireAt };
    const t = timelineOf(entry, fireAt, now);
    return { next: typeof t === 'string' ? null : t.next, fireFor: null, missing: true, note: null };
  }
  if (entry.kind === 'once') return { next: null, fireFor: fireAt, missing: false, note: null };
  const t = timelineOf(entry, fireAt, now);
  if (typeof t === 'string') {
    return { next: null, fireFor: fireAt, missing: false, note: { level: 'error', text: `its next fire time could not be computed (${t}); it runs this once and is now DONE` } };
  }
  // A capped walk (a frequent cron after a long outage) stopped counting: it knows a lower bound only.
  const count = (n: number) => (t.capped ? `more than ${n - 1}` : String(n));
  const span = t.passed > 1 ? `${count(t.passed)} fire times from ${at(fireAt)} to ${at(t.latest)}` : `the fire time ${at(fireAt)}`;
  let plan: Plan;
  if (entry.misfire === 'catchup') {
    plan = { next: t.next, fireFor: t.latest, missing: false, note: t.passed > 1 ? { level: 'warn', text: `missed ${span}; one job catches up (misfire 'catchup')` } : null };
  } else if (now - t.latest <= graceMs) {
    plan = { next: t.next, fireFor: t.latest, missing: false, note: t.passed > 1 ? { level: 'warn', text: `skipped ${count(t.passed - 1)} missed fire time(s) before ${at(t.latest)}, which runs (misfire 'skip')` } : null };
  } else {
    plan = { next: t.next, fireFor: null, missing: false, note: { level: 'warn', text: `skipped ${span}, ${Math.round((now - t.latest) / 1000)}s late (misfire 'skip'; 'catchup' would run it once); next at ${at(t.next)}` } };
  }
  if (t.next === null) {
    const last = 'the expression has no later fire time, so the schedule is now DONE';
    plan.note = plan.note ? { level: plan.note.level, text: `${plan.note.text}; ${last}` } : { level: 'info', text: last };
  }
  return plan;
}
